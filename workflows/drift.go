package workflows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Allowlist drift: someone edits or deletes a WAF rule in the Cloudflare dashboard, and the
// instance is open to everyone (or closed to its customer) while config.yaml says otherwise. A
// Temporal Schedule, made by the worker at start, runs CheckAllowlistDrift: it reads every
// instance's config.yaml, compares the allowlists with Cloudflare (CheckAllowlists, one read of
// each zone's rules) and keeps ONE GitHub issue listing what differs. `/reconcile` on that issue
// (approver team) or `mi reconcile` (on-call) runs ReconcileAllowlists, which puts config.yaml's
// allowlist back and checks again.

// DriftScheduleID names the check's Schedule (and prefixes its runs' workflow IDs).
const DriftScheduleID = "allowlist-drift"

// DriftLabel marks the drift issue: the check finds the open one by it, and the starter serves
// `/reconcile` only on an issue carrying it.
const DriftLabel = "allowlist-drift"

// DriftIssueTitle is the drift issue's title.
const DriftIssueTitle = "Allowlist drift in Cloudflare"

// DefaultDriftInterval is how often the check runs; DefaultDriftRepo where its issue lives
// (config.DriftRepo reads LIFECYCLE_DRIFT_REPO).
const (
	DefaultDriftInterval = time.Hour
	DefaultDriftRepo     = config.DefaultDriftRepo
	// driftDetailMax is how many hostnames the issue lists in detail; the rest are counted. With
	// the cells' range lists cut short, the body stays well under GitHub's 65,536 characters.
	driftDetailMax = 100
	// driftBodyBudget leaves room under GitHub's limit for the header and the footer.
	driftBodyBudget = 60000
	driftCellRanges = 8
)

// ReconcileWorkflowID names a reconcile after what asked for it ("comment-123", "mi-<id>"): the
// same comment delivered twice starts it once.
func ReconcileWorkflowID(key string) string { return "allowlist-reconcile/" + key }

// DriftInput is one check: the repository of the drift issue.
type DriftInput struct {
	Repo     string `json:"repo"` // owner/name
	Revision int    `json:"revision,omitempty"`
}

// DriftResult is what a check found: how many hostnames it compared, those that differ (all of
// them, for the Web UI), the instances whose config.yaml could not be read, and the issue.
type DriftResult struct {
	Checked    int                         `json:"checked"`
	Drift      []activities.AllowlistDrift `json:"drift,omitempty"`
	Unreadable []string                    `json:"unreadable,omitempty"`
	Issue      activities.DriftIssueResult `json:"issue"`
}

// CheckAllowlistDrift runs one check and reports it on the drift issue (workflow type
// "CheckAllowlistDrift").
func CheckAllowlistDrift(ctx workflow.Context, in DriftInput) (DriftResult, error) {
	ctx = withRevision(ctx, in.Revision)
	return checkAndReport(ctx, in.Repo, "")
}

// driftWant is config.yaml's view: each active instance's hostname → its customer ranges, the
// hostname's instance, and the instances whose config.yaml cannot be read.
type driftWant struct {
	want       map[string][]string
	slugOf     map[string]string
	unreadable []string
}

func readWant(ctx workflow.Context) (driftWant, error) {
	fleet, err := listFleet(ctx, "Read every instance's config.yaml")
	if err != nil {
		return driftWant{}, err
	}
	w := driftWant{want: map[string][]string{}, slugOf: map[string]string{}}
	for _, e := range fleet {
		if e.Error != "" {
			w.unreadable = append(w.unreadable, e.Slug)
			continue
		}
		host := strings.ToLower(soHost(Instance{Slug: e.Slug, Domain: e.Domain}))
		w.want[host] = slices.Clone(e.IPAllowlist)
		w.slugOf[host] = e.Slug
	}
	return w, nil
}

// check compares config.yaml with Cloudflare. A rule for a hostname config.yaml does not list is
// drift, unless an unreadable config.yaml may be the one listing it (its default hostname).
func check(ctx workflow.Context, w driftWant) ([]activities.AllowlistDrift, error) {
	out, err := execute[activities.CheckAllowlistsOutput](ctx, CloudCall, fmt.Sprintf("Compare the allowlists of %d hostnames with Cloudflare", len(w.want)),
		(*activities.Cloudflare).CheckAllowlists, activities.CheckAllowlistsInput{Want: w.want})
	if err != nil {
		return nil, err
	}
	var drift []activities.AllowlistDrift
	for _, d := range out.Drift {
		if _, listed := w.want[d.Host]; !listed && slices.ContainsFunc(w.unreadable, func(s string) bool { return spec.DefaultDomain(s) == d.Host }) {
			continue
		}
		drift = append(drift, d)
	}
	return drift, nil
}

// checkAndReport checks and keeps the drift issue: opened or edited with the drift, closed with a
// comment when there is none. note, if set, opens the closing comment (a reconcile's result).
func checkAndReport(ctx workflow.Context, repo, note string) (DriftResult, error) {
	var res DriftResult
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("drift issue repository %q is not owner/name", repo), "InvalidArgument", nil)
	}
	w, err := readWant(ctx)
	if err != nil {
		return res, err
	}
	res.Checked, res.Unreadable = len(w.want), w.unreadable
	if res.Drift, err = check(ctx, w); err != nil {
		return res, err
	}
	in := activities.DriftIssueInput{Owner: owner, Repo: name, Label: DriftLabel, Title: DriftIssueTitle}
	if len(res.Drift) > 0 {
		in.Body = driftBody(res.Drift, w)
	} else {
		in.CloseComment = strings.TrimSpace(note + "\n\nNo drift any more: every active instance's allowlist in Cloudflare matches its config.yaml. Closing.")
	}
	res.Issue, err = execute[activities.DriftIssueResult](ctx, GitHubCall, "Report allowlist drift on the drift issue",
		(*activities.GitHub).EnsureDriftIssue, in)
	summary := fmt.Sprintf("Checked %d hostnames: %d drift, %d config.yaml unreadable; issue %s", res.Checked, len(res.Drift), len(res.Unreadable), res.Issue.Action)
	if res.Issue.Number != 0 {
		summary += fmt.Sprintf(" (#%d)", res.Issue.Number)
	}
	workflow.SetCurrentDetails(ctx, summary)
	workflow.GetLogger(ctx).Info("allowlist drift check", "checked", res.Checked, "drift", len(res.Drift), "issue", res.Issue.Action)
	return res, err
}

// driftBody is the issue's report: a row per hostname (the first driftDetailMax, within the body
// budget), a count of the rest, and how to fix it.
func driftBody(drift []activities.AllowlistDrift, w driftWant) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("The scheduled allowlist check (Schedule `%s`) found %d hostname(s) whose Cloudflare allowlist differs from config.yaml.\n\n", DriftScheduleID, len(drift)))
	b.WriteString("| Instance | Hostname | What differs | Details |\n|---|---|---|---|\n")
	shown := 0
	for _, d := range drift {
		slug := w.slugOf[d.Host]
		if slug == "" {
			slug = "(none in config.yaml)"
		}
		row := fmt.Sprintf("| `%s` | `%s` | %s | %s |\n", slug, d.Host, d.Reason, driftDetails(d))
		if shown >= driftDetailMax || b.Len()+len(row) > driftBodyBudget {
			break
		}
		b.WriteString(row)
		shown++
	}
	if rest := len(drift) - shown; rest > 0 {
		b.WriteString(fmt.Sprintf("\n…and %d more hostname(s), listed in the result of the latest `%s` run in the Temporal Web UI.\n", rest, WorkflowCheckAllowlistDrift))
	}
	if len(w.unreadable) > 0 {
		b.WriteString(fmt.Sprintf("\n%d instance(s) have a config.yaml that cannot be read, so their allowlists were not checked: %s.\n", len(w.unreadable), shortList(w.unreadable, 20)))
	}
	b.WriteString("\n**To fix**, once you know the change in Cloudflare was not wanted: a member of the approver team comments `/reconcile` on this issue, " +
		"or on-call runs `mi reconcile`. Both put config.yaml's allowlist (plus the monitoring ranges) back on every hostname listed, and check again; " +
		"the issue closes when nothing differs. If the change in Cloudflare was wanted, change the instance's allowlist through an update-allowlist request instead.\n")
	return b.String()
}

// driftDetails says what the clause lacks and has too many of.
func driftDetails(d activities.AllowlistDrift) string {
	var missing, extra []string
	for _, c := range d.Want {
		if !slices.Contains(d.Have, c) {
			missing = append(missing, c)
		}
	}
	for _, c := range d.Have {
		if !slices.Contains(d.Want, c) {
			extra = append(extra, c)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+shortList(missing, driftCellRanges))
	}
	if len(extra) > 0 {
		parts = append(parts, "not in config.yaml "+shortList(extra, driftCellRanges))
	}
	if len(parts) == 0 {
		return "ranges as wanted"
	}
	return strings.Join(parts, "; ")
}

func shortList(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:n], ", "), len(xs)-n)
}

// ReconcileInput asks for config.yaml's allowlists back in Cloudflare. Issue, if set, is the drift
// issue the request came from: the result is commented there.
type ReconcileInput struct {
	Repo     string `json:"repo"`
	Issue    int    `json:"issue,omitempty"`
	By       string `json:"by"` // "@alice (/reconcile)", "mi, by @carol"
	Revision int    `json:"revision,omitempty"`
}

// ReconcileResult lists the hostnames repaired and those that could not be, and the check after.
type ReconcileResult struct {
	Repaired []string    `json:"repaired,omitempty"`
	Failed   []string    `json:"failed,omitempty"`
	Skipped  []string    `json:"skipped,omitempty"`
	After    DriftResult `json:"after"`
}

// ReconcileAllowlists repairs every drifted hostname with SetAllowlist and checks again (workflow
// type "ReconcileAllowlists"). It reads the drift afresh rather than trusting the issue, which may
// be an hour old. A clause of a hostname config.yaml does not list is removed, unless some
// config.yaml cannot be read (it may be that instance's): those are left and named.
func ReconcileAllowlists(ctx workflow.Context, in ReconcileInput) (ReconcileResult, error) {
	ctx = withRevision(ctx, in.Revision)
	var res ReconcileResult
	w, err := readWant(ctx)
	if err != nil {
		return res, err
	}
	drift, err := check(ctx, w)
	if err != nil {
		return res, err
	}
	for _, d := range drift {
		want, listed := w.want[d.Host]
		if !listed && len(w.unreadable) > 0 {
			res.Skipped = append(res.Skipped, d.Host)
			continue
		}
		_, err := execute[activities.SetAllowlistOutput](ctx, CloudCall, fmt.Sprintf("Put config.yaml's allowlist back on %s (%d ranges)", d.Host, len(want)),
			(*activities.Cloudflare).SetAllowlist, activities.SetAllowlistInput{Host: d.Host, CIDRs: want})
		if err != nil {
			res.Failed = append(res.Failed, fmt.Sprintf("%s: %s", d.Host, errorMessage(err)))
			continue
		}
		res.Repaired = append(res.Repaired, d.Host)
	}
	text := reconcileText(in.By, drift, res)
	owner, name, _ := strings.Cut(in.Repo, "/")
	if in.Issue != 0 {
		marker := fmt.Sprintf("<!-- lifecycle:reconcile:%s -->", workflow.GetInfo(ctx).WorkflowExecution.ID)
		if _, err := execute[activities.CommentResult](ctx, GitHubCall, "Comment the reconcile's result on the drift issue", (*activities.GitHub).UpsertComment,
			activities.UpsertCommentInput{Owner: owner, Repo: name, Number: in.Issue, Marker: marker, Body: text}); err != nil {
			workflow.GetLogger(ctx).Warn("could not comment the reconcile's result", "err", err)
		}
		text = ""
	}
	// Without an issue (mi reconcile) the result opens the closing comment, if the check closes it.
	res.After, err = checkAndReport(ctx, in.Repo, text)
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Repaired %d, failed %d, skipped %d; drift after: %d", len(res.Repaired), len(res.Failed), len(res.Skipped), len(res.After.Drift)))
	return res, err
}

func reconcileText(by string, drift []activities.AllowlistDrift, res ReconcileResult) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("Reconcile asked by %s: %d hostname(s) drifted, %d repaired", by, len(drift), len(res.Repaired)))
	if len(res.Repaired) > 0 {
		b.WriteString(fmt.Sprintf(" (%s)", shortList(res.Repaired, 20)))
	}
	b.WriteString(".")
	if len(res.Failed) > 0 {
		b.WriteString(fmt.Sprintf("\n\nCould not repair %d: %s. The check below still lists them; retry with `/reconcile`, or see the activity's error in the Web UI.", len(res.Failed), shortList(res.Failed, 10)))
	}
	if len(res.Skipped) > 0 {
		b.WriteString(fmt.Sprintf("\n\nLeft %d rule(s) of hostnames config.yaml does not list, because some config.yaml cannot be read (it may list them): %s. Fix the unreadable config.yaml, then `/reconcile` again.",
			len(res.Skipped), shortList(res.Skipped, 10)))
	}
	return b.String()
}

// EnsureDriftSchedule creates the drift check's Schedule, or brings an existing one to this
// configuration: every worker calls it at start, so it is idempotent.
func EnsureDriftSchedule(ctx context.Context, c client.Client, repo string, every time.Duration) error {
	in := DriftInput{Repo: repo, Revision: CurrentRevision}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID: DriftScheduleID, Workflow: WorkflowCheckAllowlistDrift, Args: []any{in}, TaskQueue: TaskQueue,
		// A check that hangs must not hold back the next (the overlap policy skips).
		WorkflowExecutionTimeout: max(every, 10*time.Minute),
		StaticSummary:            "allowlist drift check, issue in " + repo,
		StaticDetails: fmt.Sprintf("Compares every active instance's allowlist in config.yaml with Cloudflare's WAF rules and keeps one issue labelled %s in %s (docs/operating.md).",
			DriftLabel, repo),
	}
	return ensureSchedule(ctx, c, DriftScheduleID, spec, action, "created by the worker at start (LIFECYCLE_DRIFT_INTERVAL, LIFECYCLE_DRIFT_REPO)")
}
