package workflows

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/metrics"
	"github.com/sourcegraph/lifecycle/internal/sla"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// SLABreachedLabel marks an issue whose request missed its resolution deadline.
const SLABreachedLabel = "sla/breached"

// Defaults of Settings.
const (
	DefaultTrialDays       = 30
	DefaultTeardownGrace   = 72 * time.Hour
	DefaultSoakProbes      = 3
	DefaultSoakInterval    = 10 * time.Second
	DefaultSoakTimeout     = 15 * time.Minute
	DefaultBackupRetention = 90 * 24 * time.Hour
	DefaultApproverTeam    = "sourcegraph/cloud"
	DefaultReleaseRepo     = "sourcegraph/sourcegraph"
	DefaultCanary          = "rctest"
	DefaultRolloutBake     = time.Hour
	DefaultRolloutRefresh  = 10 * time.Second
	// DefaultRolloutHistory keeps every run of a rollout under 10 % of Temporal's 51,200-event
	// history limit, whatever the fleet's size (make bench: the 10,000-instance run).
	DefaultRolloutHistory  = 4_000
	DefaultUpgradeEstimate = 30 * time.Minute
	DefaultVersionTimeout  = 30 * time.Minute
)

// DefaultRolloutWaves are the cumulative percentages of each group's rollout waves ("Follow
// 10%, 40%, 100% in each group respectively").
var DefaultRolloutWaves = []int{10, 40, 100}

// DefaultTrialReminders are the days before expiry at which a trial's issue is reminded.
var DefaultTrialReminders = []int{7, 1}

// WithDefaults fills every unset field with its default.
func (s Settings) WithDefaults() Settings {
	if s.TrialDays <= 0 {
		s.TrialDays = DefaultTrialDays
	}
	if s.TrialReminders == nil {
		s.TrialReminders = DefaultTrialReminders
	}
	if s.TeardownGrace <= 0 {
		s.TeardownGrace = DefaultTeardownGrace
	}
	if s.SoakProbes <= 0 {
		s.SoakProbes = DefaultSoakProbes
	}
	if s.SoakInterval <= 0 {
		s.SoakInterval = DefaultSoakInterval
	}
	if s.SoakTimeout <= 0 {
		s.SoakTimeout = DefaultSoakTimeout
	}
	if s.ApproverTeam == "" {
		s.ApproverTeam = DefaultApproverTeam
	}
	if s.BackupRetention <= 0 {
		s.BackupRetention = DefaultBackupRetention
	}
	if s.ReleaseRepo == "" {
		s.ReleaseRepo = DefaultReleaseRepo
	}
	if s.Canary == "" {
		s.Canary = DefaultCanary
	}
	if len(s.RolloutWaves) == 0 {
		s.RolloutWaves = DefaultRolloutWaves
	}
	if s.RolloutBake <= 0 {
		s.RolloutBake = DefaultRolloutBake
	}
	if s.RolloutFailures < 0 {
		s.RolloutFailures = 0
	}
	if s.RolloutRefresh <= 0 {
		s.RolloutRefresh = DefaultRolloutRefresh
	}
	if s.RolloutHistory <= 0 {
		s.RolloutHistory = DefaultRolloutHistory
	}
	if s.UpgradeEstimate <= 0 {
		s.UpgradeEstimate = DefaultUpgradeEstimate
	}
	if s.VersionTimeout <= 0 {
		s.VersionTimeout = DefaultVersionTimeout
	}
	return s
}

// RunURL links a workflow's page in the Web UI ("" without a Web UI prefix).
func (s Settings) RunURL(workflowID string) string {
	if s.WebUI == "" {
		return ""
	}
	return strings.TrimRight(s.WebUI, "/") + "/" + url.PathEscape(workflowID)
}

// slaKind is the SLA row of a request.
func slaKind(req OperationRequest, inst Instance) sla.Kind {
	switch req.Operation {
	case forms.OpCreate:
		if inst.Type == spec.Trial {
			return sla.Trial
		}
		return sla.NewInstance
	case forms.OpSuspend:
		return sla.Suspend
	case forms.OpResume:
		return sla.Resume
	case forms.OpTeardown:
		return sla.Teardown
	case forms.OpUpdateAllowlist:
		return sla.AllowlistUpdate
	case forms.OpUpgrade:
		return sla.UpgradePatch
	}
	return sla.SmallOp
}

// operation is what every operation workflow shares: the step runner with its progress query and
// decide Update, the one status comment on the issue, the SLA clock, and the operation metrics.
type operation struct {
	in       OperationInput
	settings Settings
	id       string
	runner   *Runner
	// commentID is the status comment, once posted (a hint that saves listing the comments).
	commentID int64
	stopSLA   workflow.CancelFunc
	tags      map[string]string
	// cancelReason is set by a step before it returns ErrCancelled.
	cancelReason string
	// prLabels label the operation's config pull requests (default mi-lifecycle).
	prLabels []string
	// pr is the upgrade's version bump; reportedPark the parked step last reported to the rollout.
	pr           activities.ChangeResult
	reportedPark string
}

// beginOperation sets up an operation workflow: the runner over steps, the first status comment
// (the SLA's response), and the SLA timers.
func beginOperation(ctx workflow.Context, in OperationInput, steps []Step) (*operation, error) {
	info := workflow.GetInfo(ctx)
	o := &operation{in: in, settings: in.Request.Settings.WithDefaults(), id: info.WorkflowExecution.ID,
		tags: map[string]string{"operation": string(in.Request.Operation)}}
	r, err := NewRunner(ctx, string(in.Request.Operation), in.Instance.Slug, in.Request.Issue, steps)
	if err != nil {
		return nil, err
	}
	o.runner = r
	r.Notify = o.notify
	workflow.GetMetricsHandler(ctx).WithTags(o.tags).Counter(metrics.OperationsStarted).Inc(1)
	if !in.Request.inRollout() {
		// A rollout's upgrades share the rollout's SLA clock.
		o.startSLA(ctx)
	}
	if in.Request.Requester == systemActor && in.Request.Suspend != nil {
		// Nobody asked on the issue: say why the instance started it (a trial's expiry).
		r.SetFact("Started automatically", in.Request.Suspend.Reason)
	}
	r.publish(ctx) // the first status comment: the response
	return o, nil
}

// run runs the steps and ends the operation.
func (o *operation) run(ctx workflow.Context, steps []Step) (OperationResult, error) {
	err := o.runner.Run(ctx, steps)
	switch {
	case errors.Is(err, ErrAborted):
		return o.end(ctx, OutcomeAborted, "aborted by an operator; completed steps were undone"), nil
	case errors.Is(err, ErrCancelled):
		return o.end(ctx, OutcomeCancelled, o.cancelReason), nil
	case err != nil:
		o.end(ctx, OutcomeFailed, err.Error())
		return OperationResult{}, err
	}
	return o.end(ctx, OutcomeSucceeded, ""), nil
}

// reject ends an operation that refused its request before changing anything.
func (o *operation) reject(ctx workflow.Context, reason string) OperationResult {
	for i := range o.runner.p.Steps {
		o.runner.p.Steps[i].State = StepNotRun
	}
	o.runner.p.State = "rejected: " + reason
	o.runner.publish(ctx)
	return o.end(ctx, OutcomeRejected, reason)
}

// end stops the SLA clock and counts the outcome.
func (o *operation) end(ctx workflow.Context, outcome Outcome, reason string) OperationResult {
	if o.stopSLA != nil {
		o.stopSLA()
	}
	if sv := o.runner.p.SLA; sv != nil && outcome == OutcomeSucceeded {
		sv.ResolvedAt = workflow.Now(ctx)
		if !sv.Resolution.IsZero() && sv.ResolvedAt.After(sv.Resolution) {
			sv.Breached = true
		}
		o.runner.publish(ctx)
	}
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"operation": string(o.in.Request.Operation), "outcome": string(outcome)}).
		Counter(metrics.OperationsCompleted).Inc(1)
	return OperationResult{Outcome: outcome, Reason: reason, Instance: o.in.Instance, Progress: o.runner.Progress()}
}

// notify edits the operation's one status comment. A failure to reach GitHub is logged, never
// fatal: the Web UI still shows the progress, and the next publish tries again.
func (o *operation) notify(ctx workflow.Context, p Progress) {
	if o.in.Request.inRollout() {
		// The rollout keeps the tracking issue; one status comment per instance would drown it.
		o.reportProgress(ctx, p)
		return
	}
	is := o.in.Request.Issue
	if is == nil {
		return
	}
	body := RenderProgress(p, o.settings.RunURL(o.id))
	c, err := executeLocal[activities.CommentResult](ctx, GitHubCall, "Update the status comment on the issue", localGitHub.UpsertComment,
		activities.UpsertCommentInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Marker: o.marker("status"), Body: body, CommentID: o.commentID})
	if err != nil {
		workflow.GetLogger(ctx).Warn("could not update the status comment", "issue", is.String(), "error", err)
		return
	}
	o.commentID = c.ID
}

// marker identifies one of this workflow's comments on the issue.
func (o *operation) marker(kind string) string {
	return fmt.Sprintf("<!-- lifecycle:%s:%s -->", kind, o.id)
}

// comment posts (or refreshes) a one-off comment of this workflow, e.g. the hand-off or an SLA
// warning; the marker keeps a retried activity from posting twice. The error is logged and
// returned: a step whose point is the comment (the hand-off) returns it and parks.
func (o *operation) comment(ctx workflow.Context, kind, body string) error {
	is := o.in.Request.Issue
	if is == nil {
		return nil
	}
	_, err := executeLocal[activities.CommentResult](ctx, GitHubCall, "Comment on the issue: "+kind, localGitHub.UpsertComment,
		activities.UpsertCommentInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Marker: o.marker(kind), Body: body})
	if err != nil {
		workflow.GetLogger(ctx).Warn("could not comment on the issue", "kind", kind, "error", err)
	}
	return err
}

// startSLA computes the request's deadlines and arms the warning and breach timers
// (docs/design.md invariant 8). They live in history, so they survive worker restarts; the operation's
// end cancels them.
func (o *operation) startSLA(ctx workflow.Context) {
	req := o.in.Request
	start := req.RequestedAt
	if start.IsZero() {
		start = workflow.Now(ctx)
	}
	kind := slaKind(req, o.in.Instance)
	// The response counts from the filing, the resolution from the agreement (AgreedAt, when the
	// form gave one); requests sent before AgreedAt existed carried the agreement in RequestedAt.
	d, err := computeDeadlines(ctx, req.Settings.SLA, kind, start, req.AgreedAt)
	if err != nil {
		workflow.GetLogger(ctx).Error("SLA not tracked: the SLA policy is invalid", "error", err)
		o.runner.SetFact("SLA", "not tracked: "+err.Error())
		return
	}
	now := workflow.Now(ctx)
	sv := &SLAView{Kind: string(kind), Start: d.Start, Aware: d.Aware, Response: d.Response, Resolution: d.Resolution, Warn: d.Warn, RespondedAt: now}
	sv.ResponseLate = !d.Response.IsZero() && now.After(d.Response)
	o.runner.p.SLA = sv
	o.stopSLA = armSLA(ctx, sv, o.slaWarning, o.slaBreach)
}

// computeDeadlines builds the SLA policy and its deadlines once, recorded in history (building
// the policy may read the tz database).
func computeDeadlines(ctx workflow.Context, cfg sla.Config, kind sla.Kind, aware, agreed time.Time) (sla.Deadlines, error) {
	var c slaComputed
	err := workflow.SideEffect(ctx, func(workflow.Context) any {
		p, err := cfg.Policy()
		if err != nil {
			return slaComputed{Err: err.Error()}
		}
		d, err := p.DeadlinesOf(kind, aware, agreed)
		if err != nil {
			return slaComputed{Err: err.Error()}
		}
		return slaComputed{Deadlines: d}
	}).Get(&c)
	if err == nil && c.Err != "" {
		err = errors.New(c.Err)
	}
	return c.Deadlines, err
}

// armSLA publishes the deadline as search attributes and runs the warning and breach timers in a
// coroutine; the returned func stops them (nil when there is no resolution deadline). Already
// passed deadlines (a rollout continued as new after its warning) do not fire again.
func armSLA(ctx workflow.Context, sv *SLAView, warn, breach func(workflow.Context)) workflow.CancelFunc {
	if sv.Resolution.IsZero() {
		return nil
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, SASLADeadline.ValueSet(sv.Resolution), SASLABreached.ValueSet(sv.Breached))
	tctx, cancel := workflow.WithCancel(ctx)
	workflow.Go(tctx, func(tctx workflow.Context) {
		// Blocking calls must use this coroutine's context; a disconnected one lets a warning or
		// breach notice in flight finish even if the operation ends meanwhile.
		act, _ := workflow.NewDisconnectedContext(tctx)
		if !sv.Warned && !sv.Breached && sleepUntil(tctx, sv.Warn) {
			warn(act)
		}
		if !sv.Breached && sleepUntil(tctx, sv.Resolution) {
			breach(act)
		}
	})
	return cancel
}

// sleepUntil waits for a durable timer to t; false if the wait was cancelled.
func sleepUntil(ctx workflow.Context, t time.Time) bool {
	if d := t.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: "SLA " + t.Format(time.RFC3339)}).Get(ctx, nil); err != nil {
			return false
		}
	}
	return ctx.Err() == nil
}

func (o *operation) slaWarning(ctx workflow.Context) {
	sv := o.runner.p.SLA
	sv.Warned = true
	workflow.GetMetricsHandler(ctx).WithTags(o.tags).Counter(metrics.SLAWarnings).Inc(1)
	o.comment(ctx, "sla-warning", fmt.Sprintf("### ⏰ SLA warning\n\n80%% of this %s request's resolution window has passed: it is due **%s**. The operation is %s.\n",
		sv.Kind, formatTime(sv.Resolution), o.runner.p.State))
	o.runner.publish(ctx)
}

func (o *operation) slaBreach(ctx workflow.Context) {
	sv := o.runner.p.SLA
	sv.Breached = true
	workflow.GetMetricsHandler(ctx).WithTags(o.tags).Counter(metrics.SLABreaches).Inc(1)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SASLABreached.ValueSet(true))
	if is := o.in.Request.Issue; is != nil {
		if _, err := execute[activities.LabelsResult](ctx, GitHubCall, "Label the issue "+SLABreachedLabel, (*activities.GitHub).AddLabels,
			activities.LabelsInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Labels: []string{SLABreachedLabel}}); err != nil {
			workflow.GetLogger(ctx).Warn("could not label the SLA breach", "error", err)
		}
	}
	o.comment(ctx, "sla-breach", fmt.Sprintf("### 🚨 SLA breached\n\nThis %s request was due **%s** and is not resolved. The operation is %s.\n",
		sv.Kind, formatTime(sv.Resolution), o.runner.p.State))
	o.runner.publish(ctx)
}

type slaComputed struct {
	Deadlines sla.Deadlines `json:"deadlines"`
	Err       string        `json:"err,omitempty"`
}

// formatTime is how times read on issues: in UTC, to the minute.
func formatTime(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006 15:04 MST") }

// changeConfig is a read-modify-write of the instance's config.yaml, merged through a pull request
// that links the issue. name makes the change's branch unique within the
// operation, and the same name on a retry finds the same branch and pull request.
func (o *operation) changeConfig(ctx workflow.Context, name, title string, mutate func(*spec.Config) error) (activities.ChangeResult, error) {
	slug := o.in.Instance.Slug
	rc, err := executeLocal[activities.ReadConfigResult](ctx, CloudCall, "Read config.yaml from the config repo", localConfigRepo.ReadInstanceConfig,
		activities.ReadConfigInput{Slug: slug})
	if err != nil {
		return activities.ChangeResult{}, err
	}
	if !rc.Found {
		return activities.ChangeResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s has no config.yaml in the config repo (%s): restore it through a pull request, then retry", slug, rc.Path), activities.ErrNotFound, nil)
	}
	if err := mutate(rc.Config); err != nil {
		return activities.ChangeResult{}, temporal.NewNonRetryableApplicationError(err.Error(), activities.ErrInvalidArgument, nil)
	}
	labels := o.prLabels
	if len(labels) == 0 {
		labels = []string{"mi-lifecycle"}
	}
	res, err := execute[activities.ChangeResult](ctx, ConfigChange, title, (*activities.ConfigRepo).ChangeInstanceConfig, activities.ChangeConfigInput{
		Slug: slug, Config: rc.Config, ChangeID: o.id + "/" + name, BaseSHA: rc.SHA,
		Title: slug + ": " + title, Body: o.prBody(), Labels: labels,
	})
	if err == nil && res.PRURL != "" {
		o.runner.SetFact("PR: "+title, res.PRURL)
	}
	return res, err
}

// prBody links a pull request to its request and run (the SOC2 audit trail).
func (o *operation) prBody() string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("%s of `%s`", o.in.Request.Operation, o.in.Instance.Slug))
	if is := o.in.Request.Issue; is != nil {
		b.WriteString(", requested by @" + o.in.Request.Requester + " in " + is.String())
	}
	b.WriteString(".\n\nWorkflow: `" + o.id + "`")
	if u := o.settings.RunURL(o.id); u != "" {
		b.WriteString(" (" + u + ")")
	}
	b.WriteString("\n")
	return b.String()
}
