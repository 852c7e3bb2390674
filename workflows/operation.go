package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/metrics"
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
	// DefaultGitHubWritesPerHour and DefaultGitHubWritesPerChange are the config changes' GitHub
	// write budget (the worker's github-writes queue) and what one change spends on average: GitHub
	// allows a token 500 content-creating requests an hour, 100 are left to comments and issue
	// edits. A pull request costs 6 writes; changes that reach a worker together share one
	// (activities/configbatch.go), so a rollout's batch of 5 costs 6 / 5 writes a change, and a
	// change alone 6, which the 100 writes of headroom absorb.
	DefaultGitHubWritesPerHour   = 400
	DefaultGitHubWritesPerChange = 2
)

// DefaultRolloutWaves are the cumulative percentages of each group's rollout waves ("Follow
// 10%, 40%, 100% in each group respectively").
var DefaultRolloutWaves = []int{10, 40, 100}

// DefaultTrialReminders are the days before expiry at which a trial's issue is reminded.
var DefaultTrialReminders = []int{7, 1}

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
	// batch and batchSize, while set, put the next config change in a rollout's batch
	// (UpgradeRequest.Batch): its pull request is shared with the batch's others.
	batch     string
	batchSize int
	// pr is the upgrade's version bump; reportedPark the parked step last reported to the rollout.
	pr           activities.ChangeResult
	reportedPark string
	// asyncComments: the status comment is posted by a coroutine (asyncCommentsChange), so a slow
	// or rate-limited GitHub does not hold up the next step. posting: the coroutine is posting;
	// statusDirty: the progress moved since the last body was rendered; statusFailed: the last
	// post failed.
	asyncComments, posting, statusDirty, statusFailed bool
}

// asyncCommentsChange is the workflow.GetVersion change ID of the background status comments of
// operations (issue 17); runs from before it post the comment inline, between steps. Only an
// operation that comments on an issue reads it: a rollout's upgrades report to the rollout and
// pay no marker.
const asyncCommentsChange = "async-comments"

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
	r.ReviewRecheck = o.settings.ReviewRecheck
	workflow.GetMetricsHandler(ctx).WithTags(o.tags).Counter(metrics.OperationsStarted).Inc(1)
	if !in.Request.inRollout() {
		// A rollout's upgrades share the rollout's SLA clock.
		o.startSLA(ctx)
	}
	if in.Request.Requester == systemActor && in.Request.Suspend != nil {
		// Nobody asked on the issue: say why the instance started it (a trial's expiry).
		r.SetFact("Started automatically", in.Request.Suspend.Reason)
	}
	if in.Request.Issue != nil && !in.Request.inRollout() {
		o.asyncComments = workflow.GetVersion(ctx, asyncCommentsChange, workflow.DefaultVersion, 1) == 1
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
	o.settleComments(ctx)
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
	if o.in.Request.Issue == nil {
		return
	}
	if !o.asyncComments {
		o.postStatus(ctx, p)
		return
	}
	o.statusDirty = true
	if o.posting {
		return // the coroutine posts the latest progress once its post in flight ends
	}
	o.posting = true
	// Disconnected: a step that cancels the context it published with (a grace period's timer)
	// does not cut the post short.
	bg, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(bg, func(ctx workflow.Context) {
		for o.statusDirty {
			o.statusDirty = false
			o.postStatus(ctx, o.runner.Progress()) // rendered now: the states in between are skipped
		}
		o.posting = false
	})
}

// settleComments, at the operation's end, waits for the status comment in flight, then posts the
// final progress if that post did not carry it, so the last state lands on the issue.
func (o *operation) settleComments(ctx workflow.Context) {
	if !o.asyncComments {
		return
	}
	if err := workflow.Await(ctx, func() bool { return !o.posting }); err != nil {
		return
	}
	if o.statusDirty || o.statusFailed {
		o.statusDirty = false
		o.postStatus(ctx, o.runner.Progress())
	}
}

// postStatus creates or edits the status comment. A failure is logged: the next publish, or the
// operation's end, tries again.
func (o *operation) postStatus(ctx workflow.Context, p Progress) {
	is := o.in.Request.Issue
	body := RenderProgress(p, o.settings.RunURL(o.id))
	c, err := executeLocal[activities.CommentResult](ctx, GitHubCall, "Update the status comment on the issue", localGitHub.UpsertComment,
		activities.UpsertCommentInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Marker: o.marker("status"), Body: body, CommentID: o.commentID})
	o.statusFailed = err != nil
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
		Title: slug + ": " + title, Body: o.prBody(), Labels: labels, Batch: o.batch, BatchSize: o.batchSize,
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
