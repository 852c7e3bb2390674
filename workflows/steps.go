package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/metrics"
)

// The operator's controls on a parked step (docs/design.md invariant 5), sent as a Temporal Update from
// the CLI, the Web UI or a slash command on the issue.
const (
	UpdateDecide  = "decide"
	QueryProgress = "progress"
)

// Decision actions.
const (
	ActionRetry = "retry"
	ActionSkip  = "skip"
	ActionAbort = "abort"
	// ActionRestore aborts like ActionAbort and also restores the data from the operation's
	// pre-change backups while undoing (an upgrade's rollback; offered only where
	// Runner.RestoreOffered says so).
	ActionRestore = "restore"
)

// Decision is an operator's answer to a parked step.
type Decision struct {
	Step   string `json:"step"`
	Action string `json:"action"` // retry | skip | abort
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"` // required for skip
}

// StepState is where a step is.
type StepState string

const (
	StepPending     StepState = "pending"
	StepRunning     StepState = "running"
	StepDone        StepState = "done"
	StepSkipped     StepState = "skipped"
	StepParked      StepState = "parked"
	StepCompensated StepState = "compensated" // undone by an abort
	StepNotRun      StepState = "not-run"     // never reached because of an abort
)

// StepStatus is one row of the progress checklist.
type StepStatus struct {
	Name      string    `json:"name"`
	Title     string    `json:"title"`
	State     StepState `json:"state"`
	Runs      int       `json:"runs"` // times the step was started (1 + operator retries)
	Error     string    `json:"error,omitempty"`
	Note      string    `json:"note,omitempty"` // e.g. skip reason and who decided
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
}

// Parked describes the step waiting for a decision.
type Parked struct {
	Step      string    `json:"step"`
	Title     string    `json:"title"`
	Error     string    `json:"error"`
	ErrorType string    `json:"errorType,omitempty"`
	Retries   string    `json:"retries"` // what Temporal already tried, e.g. "10 attempts (retry limit reached)"
	Since     time.Time `json:"since"`
	Aborting  bool      `json:"aborting,omitempty"` // parked while compensating: abort is no longer offered
	// Restore is set when a restore from backups is offered besides the abort.
	Restore bool `json:"restore,omitempty"`
	// Review is the config pull request waiting for an approving review (NeedsReview): the step
	// is re-run every Runner.ReviewRecheck and goes on by itself once it merges.
	Review string `json:"review,omitempty"`
}

// Progress is what the progress query returns and the status comment shows.
type Progress struct {
	Operation string       `json:"operation"`
	Slug      string       `json:"slug"`
	Issue     *IssueRef    `json:"issue,omitempty"`
	State     string       `json:"state"` // running | parked | aborting | succeeded | aborted | cancelled | rejected: <reason>
	Steps     []StepStatus `json:"steps"`
	Parked    *Parked      `json:"parked,omitempty"`
	Decisions []Decision   `json:"decisions,omitempty"`
	// EarlierDecisions counts the decisions dropped from Decisions, which keeps the last
	// maxDecisions: a step retried for days must not grow the query's answer without bound.
	EarlierDecisions int `json:"earlierDecisions,omitempty"`
	// Facts worth keeping on record: backup IDs, PR links, versions.
	Facts map[string]string `json:"facts,omitempty"`
	// SLA is the request's SLA clock; nil for runs without one.
	SLA *SLAView `json:"sla,omitempty"`
}

// SLAView is where a request stands against its SLA.
type SLAView struct {
	Kind string `json:"kind"`
	// Start is when the resolution clock started (the agreement, if any); Aware when the response
	// clock did (the issue's filing; zero in runs before it was kept apart: Start).
	Start        time.Time `json:"start"`
	Aware        time.Time `json:"aware,omitzero"`
	Response     time.Time `json:"response,omitzero"`
	Resolution   time.Time `json:"resolution,omitzero"`
	Warn         time.Time `json:"warn,omitzero"`
	RespondedAt  time.Time `json:"respondedAt,omitzero"`
	ResponseLate bool      `json:"responseLate,omitempty"`
	ResolvedAt   time.Time `json:"resolvedAt,omitzero"`
	Warned       bool      `json:"warned,omitempty"`
	Breached     bool      `json:"breached,omitempty"`
}

// String is the SLA line of the status comment.
func (v SLAView) String() string {
	var b strings.Builder
	b.WriteString("SLA (" + v.Kind + "): ")
	if !v.Response.IsZero() {
		b.WriteString("respond by " + formatTime(v.Response))
		if v.ResponseLate {
			b.WriteString(" (late)")
		}
		b.WriteString("; ")
	}
	if v.Resolution.IsZero() {
		b.WriteString("no resolution deadline")
		return b.String()
	}
	b.WriteString("resolve by " + formatTime(v.Resolution))
	switch {
	case v.Breached:
		b.WriteString(" — **breached**")
	case !v.ResolvedAt.IsZero():
		b.WriteString(" — met")
	case v.Warned:
		b.WriteString(" — ⏰ due soon")
	}
	return b.String()
}

// Step is one named unit of an operation. Run executes its activities; Undo reverses it when the
// operation is aborted (nil: nothing to undo).
type Step struct {
	Name  string
	Title string
	Run   func(ctx workflow.Context) error
	Undo  func(ctx workflow.Context) error
}

// ErrAborted is returned by Runner.Run when an operator aborted the operation; the compensations
// have run by then.
var ErrAborted = errors.New("aborted by operator")

// ErrCancelled is returned by a step's Run to end the operation before it changed anything (a
// teardown cancelled in its grace period): the runner neither parks nor compensates, marks the
// remaining steps not run and returns it.
var ErrCancelled = errors.New("cancelled")

// Runner runs an operation's steps, parks failures and applies operator decisions. It owns the
// progress query and the decide Update of the workflow it runs in.
type Runner struct {
	p       Progress
	pending *Decision
	// Notify publishes progress (the status comment); nil for runs without an issue.
	Notify func(ctx workflow.Context, p Progress)
	// Metrics tag values.
	metricsTags map[string]string
	// RestoreOffered, when set, says whether ActionRestore may be chosen now (an upgrade once its
	// pre-upgrade backups exist). restoring is set once it was chosen.
	RestoreOffered func() bool
	restoring      bool
	// cause is the error chain behind a rejection, for the run's details only (noteCause).
	cause string
	// ReviewRecheck is how often a step parked for a pull request review runs again by itself
	// (DefaultReviewRecheck when 0).
	ReviewRecheck time.Duration
}

// DefaultReviewRecheck paces the re-runs of a step parked for a review: each costs a handful of
// history events and one GitHub write (the refused merge).
const DefaultReviewRecheck = 5 * time.Minute

// actionResolved is park's answer when the parked step succeeded on a re-run of its own.
const actionResolved = "resolved"

// Restoring reports whether the operation is being aborted with a restore from backups.
func (r *Runner) Restoring() bool { return r.restoring }

// NewRunner registers the progress query and the decide Update on the workflow.
func NewRunner(ctx workflow.Context, operation, slug string, issue *IssueRef, steps []Step) (*Runner, error) {
	r := &Runner{p: Progress{Operation: operation, Slug: slug, Issue: issue, State: "running", Facts: map[string]string{}},
		metricsTags: map[string]string{"operation": operation}}
	for _, s := range steps {
		r.p.Steps = append(r.p.Steps, StepStatus{Name: s.Name, Title: s.Title, State: StepPending})
	}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return r.p, nil }); err != nil {
		return nil, err
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide,
		func(ctx workflow.Context, d Decision) (string, error) {
			d.Action = strings.ToLower(d.Action)
			r.pending = &d
			return fmt.Sprintf("%s accepted for step %q", d.Action, d.Step), nil
		},
		workflow.UpdateHandlerOptions{Validator: r.validate})
	return r, err
}

// validate rejects a decision before it enters history.
func (r *Runner) validate(ctx workflow.Context, d Decision) error {
	pk := r.p.Parked
	switch {
	case pk == nil:
		return fmt.Errorf("no step is parked; nothing to decide (the operation is %s)", r.p.State)
	case d.Step != pk.Step:
		return fmt.Errorf("step %q is not parked; the parked step is %q", d.Step, pk.Step)
	case strings.TrimSpace(d.By) == "":
		return errors.New("say who decides: set \"by\" to your GitHub login")
	case r.pending != nil:
		return fmt.Errorf("a %s decision by %s is already being applied", r.pending.Action, r.pending.By)
	}
	switch strings.ToLower(d.Action) {
	case ActionRetry:
	case ActionSkip:
		if strings.TrimSpace(d.Reason) == "" {
			return errors.New("a skip needs a reason, e.g. `/skip DNS was created by hand`")
		}
	case ActionAbort:
		if pk.Aborting {
			return errors.New("the operation is already aborting; choose retry or skip for this compensation step")
		}
	case ActionRestore:
		if !pk.Restore {
			return errors.New("a restore from backups is not offered for this step; choose retry, skip or abort")
		}
	default:
		return fmt.Errorf("action %q is not one of retry, skip, abort", d.Action)
	}
	return nil
}

// Progress returns the current progress.
func (r *Runner) Progress() Progress { return r.p }

// SetFact records a fact (backup ID, PR URL) shown in progress and the status comment.
func (r *Runner) SetFact(key, value string) { r.p.Facts[key] = value }

// Run executes the steps in order. It returns nil when all ran or were skipped, ErrAborted after an
// operator abort (with compensations run), or the workflow's cancellation error.
func (r *Runner) Run(ctx workflow.Context, steps []Step) error {
	for i, s := range steps {
		action, err := r.runStep(ctx, i, s.Run, false)
		if errors.Is(err, ErrCancelled) {
			for j := i; j < len(steps); j++ {
				r.p.Steps[j].State = StepNotRun
			}
			r.p.State = "cancelled"
			r.publish(ctx)
			return err
		}
		if err != nil {
			return err
		}
		if action == ActionAbort {
			return r.abort(ctx, steps, i)
		}
	}
	r.p.State = "succeeded"
	r.publish(ctx)
	return nil
}

// runStep runs one step until it succeeds or an operator skips or aborts it. It returns the
// deciding action ("" for success).
func (r *Runner) runStep(ctx workflow.Context, i int, run func(workflow.Context) error, compensating bool) (string, error) {
	st := &r.p.Steps[i]
	for {
		st.State, st.Runs, st.Error = StepRunning, st.Runs+1, ""
		st.StartedAt = workflow.Now(ctx)
		r.details(ctx)
		err := run(ctx)
		st.EndedAt = workflow.Now(ctx)
		if err == nil {
			if compensating {
				st.State = StepCompensated
			} else {
				st.State = StepDone
			}
			workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"operation": r.p.Operation, "step": st.Name}).
				Timer(metrics.StepDuration).Record(st.EndedAt.Sub(st.StartedAt))
			r.publish(ctx)
			return "", nil
		}
		if temporal.IsCanceledError(err) || ctx.Err() != nil || errors.Is(err, ErrCancelled) {
			return "", err
		}
		d, err := r.park(ctx, st, err, compensating, run)
		if err != nil {
			return "", err
		}
		switch d.Action {
		case actionResolved:
			st.State, st.EndedAt = StepDone, workflow.Now(ctx)
			if compensating {
				st.State = StepCompensated
			}
			r.publish(ctx)
			return "", nil
		case ActionRetry:
			continue
		case ActionSkip:
			st.State, st.Note = StepSkipped, fmt.Sprintf("skipped by @%s: %s", d.By, d.Reason)
			r.publish(ctx)
			return ActionSkip, nil
		case ActionAbort, ActionRestore:
			st.Note = "aborted by @" + d.By
			if d.Action == ActionRestore {
				r.restoring, st.Note = true, "aborted with a restore from backups by @"+d.By
			}
			if d.Reason != "" {
				st.Note += ": " + d.Reason
			}
			return ActionAbort, nil
		}
	}
}

// park records the failure, tells people, and waits for a decision. A step parked for a pull
// request review (activities.ErrNeedsReview) is also re-run every ReviewRecheck: once the pull
// request is approved and merges, park returns actionResolved without anyone deciding.
func (r *Runner) park(ctx workflow.Context, st *StepStatus, cause error, compensating bool, run func(workflow.Context) error) (Decision, error) {
	st.State, st.Error = StepParked, errorMessage(cause)
	retries := retriesText(cause)
	if st.Runs > 1 {
		retries += fmt.Sprintf(", on run %d of the step (%d operator retries)", st.Runs, st.Runs-1)
	}
	pk := &Parked{Step: st.Name, Title: st.Title, Error: st.Error, ErrorType: errorType(cause), Retries: retries,
		Since: workflow.Now(ctx), Aborting: compensating}
	pk.Restore = !compensating && r.RestoreOffered != nil && r.RestoreOffered()
	// Versioned (and only taken on a NeedsReview, which runs before this change never saw).
	recheck := errorType(cause) == activities.ErrNeedsReview &&
		workflow.GetVersion(ctx, "github-writes", workflow.DefaultVersion, 1) == 1
	if recheck {
		pk.Review = reviewURL(cause)
	}
	r.p.Parked, r.p.State = pk, "parked"
	if compensating {
		r.p.State = "aborting"
	}
	// Versioned: runs parked before this change replay without the reason in their upsert.
	withReason := workflow.GetVersion(ctx, "attention-reason", workflow.DefaultVersion, 1) == 1
	if withReason {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SANeedsAttention.ValueSet(true), SAAttentionReason.ValueSet(attentionReason(r.p.Operation, pk)))
	} else {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SANeedsAttention.ValueSet(true))
	}
	workflow.GetLogger(ctx).Warn("step parked: waiting for an operator decision", "step", st.Name, "error", st.Error)
	r.publish(ctx)

	decided := func() bool { return r.pending != nil }
	resolved := false
	for recheck {
		ok, err := workflow.AwaitWithTimeout(ctx, r.reviewRecheck(), decided)
		if err != nil {
			return Decision{}, err
		}
		if ok {
			break
		}
		rerr := run(ctx)
		if rerr == nil {
			// Approved and merged. A decision that came in meanwhile is moot: the step is done.
			resolved, r.pending = true, nil
			break
		}
		if temporal.IsCanceledError(rerr) || ctx.Err() != nil {
			return Decision{}, rerr
		}
		if errorType(rerr) != activities.ErrNeedsReview && r.pending == nil {
			// Something else stops it now: run the step again, so it parks on that.
			r.pending = &Decision{Action: ActionRetry, Step: st.Name, By: "lifecycle", Reason: "the pull request's state changed: " + clip(errorMessage(rerr), 200)}
		}
		if r.pending != nil {
			break
		}
	}
	if !recheck {
		if err := workflow.Await(ctx, decided); err != nil {
			return Decision{}, err
		}
	}
	d := Decision{Action: actionResolved, Step: st.Name}
	if !resolved {
		d = *r.pending
		r.p.Decisions = append(r.p.Decisions, d)
		if revision(ctx) >= RevisionCorrectness {
			r.p.Decisions, r.p.EarlierDecisions = capLog(r.p.Decisions, r.p.EarlierDecisions, maxDecisions)
		}
	}
	r.pending, r.p.Parked = nil, nil
	r.p.State = "running"
	if compensating {
		r.p.State = "aborting"
	}
	if withReason {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SANeedsAttention.ValueSet(false), SAAttentionReason.ValueSet(""))
	} else {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SANeedsAttention.ValueSet(false))
	}
	// Versioned: runs parked before this change replay without the extra status comment edit.
	if d.Action == ActionRetry && workflow.GetVersion(ctx, "publish-on-retry", workflow.DefaultVersion, 1) == 1 {
		// Say at once that the step runs again (a retried soak can take minutes), on the issue and
		// to a rollout waiting on this operation.
		st.State = StepRunning
		r.publish(ctx)
	}
	return d, nil
}

func (r *Runner) reviewRecheck() time.Duration {
	if r.ReviewRecheck > 0 {
		return r.ReviewRecheck
	}
	return DefaultReviewRecheck
}

// reviewURL is the pull request a NeedsReview error names (its detail).
func reviewURL(err error) string {
	var app *temporal.ApplicationError
	var u string
	if errors.As(err, &app) && app.HasDetails() && app.Details(&u) == nil {
		return u
	}
	return ""
}

// attentionReason is the parked step in a line for the Web UI's list: operation, step, the error's
// type and what to do. The error's message stays out: it may name customer data, and search
// attributes are not encrypted.
func attentionReason(operation string, pk *Parked) string {
	if pk.Review != "" { // a link to our own pull request names no customer data
		return clip(fmt.Sprintf("%s: step %s needs a review: %s (goes on by itself once approved)", operation, pk.Step, pk.Review), attentionReasonMax)
	}
	what := "step " + pk.Step
	if pk.Aborting {
		what = "undo of step " + pk.Step
	}
	typ := pk.ErrorType
	if typ == "" {
		typ = "error"
	}
	do := "/retry, /skip <reason> or /abort"
	if pk.Aborting {
		do = "/retry or /skip <reason>"
	}
	return clip(fmt.Sprintf("%s: %s parked (%s); %s on the issue", operation, what, typ, do), attentionReasonMax)
}

// attentionReasonMax keeps AttentionReason well under Temporal's size limit of a search
// attribute's value (2 KB by default); the issue and the Web UI's details have the rest.
const attentionReasonMax = 300

// clip shortens s to at most n bytes, on a rune boundary, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// abort undoes the completed steps in reverse order, starting with the step that failed: it may
// have done half its work (a DNS record made, the allowlist not), and undos accept "already gone".
// A failing compensation parks too (retry or skip only): an abort never silently leaves a
// half-made instance. Runs before RevisionCorrectness left the failed step as it was.
func (r *Runner) abort(ctx workflow.Context, steps []Step, failed int) error {
	r.p.State = "aborting"
	for j := failed + 1; j < len(steps); j++ {
		r.p.Steps[j].State = StepNotRun
	}
	r.p.Steps[failed].State = StepNotRun
	r.publish(ctx)
	if steps[failed].Undo != nil && revision(ctx) >= RevisionCorrectness {
		if _, err := r.runStep(ctx, failed, steps[failed].Undo, true); err != nil {
			return err
		}
	}
	for j := failed - 1; j >= 0; j-- {
		if steps[j].Undo == nil || r.p.Steps[j].State != StepDone {
			continue
		}
		if _, err := r.runStep(ctx, j, steps[j].Undo, true); err != nil {
			return err
		}
	}
	r.p.State = "aborted"
	r.publish(ctx)
	return ErrAborted
}

// details shows the checklist in the Web UI (cheap: no history events).
func (r *Runner) details(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, RenderProgress(r.p, "")+causeDetails(r.cause))
}

// publish refreshes the Web UI details and the status comment.
func (r *Runner) publish(ctx workflow.Context) {
	r.details(ctx)
	if r.Notify != nil {
		r.Notify(ctx, r.p)
	}
}

// RenderProgress is the markdown checklist shared by the Web UI and the status comment.
func RenderProgress(p Progress, runURL string) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("### %s `%s`: %s\n\n", p.Operation, p.Slug, p.State))
	for _, s := range p.Steps {
		box, mark := " ", ""
		switch s.State {
		case StepDone:
			box = "x"
		case StepSkipped:
			box, mark = "x", " ⏭️"
		case StepRunning:
			mark = " ⏳"
		case StepParked:
			mark = " ⚠️ **parked**"
		case StepCompensated:
			mark = " ↩️ undone"
		case StepNotRun:
			mark = " ✖️ not run"
		}
		b.WriteString(fmt.Sprintf("- [%s] %s%s", box, s.Title, mark))
		if s.Note != "" {
			b.WriteString(fmt.Sprintf(" (%s)", s.Note))
		}
		b.WriteByte('\n')
	}
	if strings.HasPrefix(p.State, "rejected") && p.Issue != nil {
		// The starter takes an edited form of a rejected request as its next attempt.
		b.WriteString("\nNothing was changed. To fix the request, edit the form in this issue's description: a changed form is checked again and, if it passes, starts. Or file a new issue.\n")
	}
	if pk := p.Parked; pk != nil {
		b.WriteString(fmt.Sprintf("\n> [!WARNING]\n> **Needs attention:** step *%s* failed after %s:\n> `%s`\n>\n", pk.Title, pk.Retries, oneLine(pk.Error)))
		if pk.Aborting {
			b.WriteString("> The operation is being aborted. Reply `/retry` to try this compensation again, or `/skip <reason>` if you undid it by hand.\n")
		} else if pk.Restore {
			b.WriteString("> Reply `/retry`, `/skip <reason>`, `/rollback` (undo the upgrade) or `/restore` (undo it and restore the pre-upgrade backups) on this issue.\n")
		} else {
			b.WriteString(fmt.Sprintf("> Reply `/retry`, `/skip <reason>` or `/abort` on this issue, or use `mi decide %s retry|skip|abort`.\n", p.Slug))
		}
	}
	if len(p.Facts) > 0 {
		b.WriteString("\n")
		for _, k := range sortedKeys(p.Facts) {
			b.WriteString(fmt.Sprintf("- %s: %s\n", k, p.Facts[k]))
		}
	}
	if p.SLA != nil {
		b.WriteString("\n" + p.SLA.String() + "\n")
	}
	if runURL != "" {
		b.WriteString(fmt.Sprintf("\nRun: %s\n", runURL))
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return strings.ReplaceAll(s, "`", "'")
}

// errorMessage unwraps Temporal's activity error to the application error's message.
func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Error()
	}
	return err.Error()
}

func errorType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}

// retriesText says why Temporal stopped retrying.
func retriesText(err error) string {
	limit := func() string {
		var a attemptsError
		if errors.As(err, &a) {
			return fmt.Sprintf("%d attempts (its retry limit)", a.max)
		}
		return "its retry limit"
	}
	var act *temporal.ActivityError
	if errors.As(err, &act) {
		switch act.RetryState() {
		case enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED:
			return limit()
		case enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE:
			return "a non-retryable error"
		case enumspb.RETRY_STATE_TIMEOUT:
			return "its timeout"
		case enumspb.RETRY_STATE_UNSPECIFIED:
			// Some paths (the test environment among them) leave the state unset; a retryable
			// application error that reached the workflow still means the attempts ran out.
			var app *temporal.ApplicationError
			if errors.As(err, &app) && !app.NonRetryable() {
				return limit()
			}
		}
	}
	return "an error"
}

// Caps of the logs that grow with retries (from RevisionCorrectness).
const (
	maxDecisions = 50
	maxControls  = 100
)

// capLog keeps the last limit entries of a log that grows with retries, counting the dropped ones
// in earlier.
func capLog[T any](log []T, earlier, limit int) ([]T, int) {
	if n := len(log); n > limit {
		return slices.Clone(log[n-limit:]), earlier + n - limit
	}
	return log, earlier
}

// sortedKeys gives maps a deterministic order (workflow code must not depend on map order).
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	// Map order does not leak: the keys are sorted below.
	//workflowcheck:ignore
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
