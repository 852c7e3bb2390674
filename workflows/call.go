package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// execute runs one activity with the options of its kind and a summary for the Web UI's event
// list ("Create the GKE cluster"), and decodes its result.
func execute[T any](ctx workflow.Context, kind ActivityKind, summary string, activity, input any) (T, error) {
	var out T
	err := workflow.ExecuteActivity(withActivity(ctx, kind, summary), activity, input).Get(ctx, &out)
	return out, withAttempts(err, ActivityOptions(kind))
}

// executeLocal runs a quick call (a config read, a probe, a comment, a request to another
// workflow) as a local activity: it runs in the worker that runs the workflow task, with no round trip through
// the task queue, and costs one marker in history instead of three activity events and a
// workflow task. Only for calls of seconds: a long call belongs in execute, where it heartbeats.
func executeLocal[T any](ctx workflow.Context, kind ActivityKind, summary string, activity, input any) (T, error) {
	return executeLocalAsync[T](ctx, kind, summary, activity, input)(ctx)
}

// The activities run as local activities, named by method values on nil pointers rather than
// method expressions: a worker finds the registered activity by its name either way, and the
// replayer, which registers no activities, can still check a call's arguments against the method
// value, so recorded histories with local activities replay (a method expression takes the
// receiver as an extra argument, and the replayer refused the call).
var (
	localGitHub     *activities.GitHub
	localConfigRepo *activities.ConfigRepo
	localLifecycle  *Lifecycle
	localUptime     *activities.Uptime
)

// executeLocalAsync starts executeLocal's call and returns a function that waits for its result,
// so a workflow can run several at once.
func executeLocalAsync[T any](ctx workflow.Context, kind ActivityKind, summary string, activity, input any) func(workflow.Context) (T, error) {
	opts := activityOptions(ctx, kind)
	var f workflow.Future
	if revision(ctx) < RevisionLocalActivities {
		f = workflow.ExecuteActivity(withActivity(ctx, kind, summary), activity, input)
	} else {
		f = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: opts.StartToCloseTimeout, RetryPolicy: opts.RetryPolicy, Summary: summary}), activity, input)
	}
	return func(ctx workflow.Context) (T, error) {
		var out T
		err := f.Get(ctx, &out)
		return out, withAttempts(err, opts)
	}
}

// attemptsError carries how many attempts the retry policy allowed, so a parked step can say
// "failed after 10 attempts" rather than only "after its retry limit".
type attemptsError struct {
	error
	max int32
}

func (e attemptsError) Unwrap() error { return e.error }

func withAttempts(err error, opts workflow.ActivityOptions) error {
	if err == nil || opts.RetryPolicy == nil || opts.RetryPolicy.MaximumAttempts <= 0 {
		return err
	}
	return attemptsError{error: err, max: opts.RetryPolicy.MaximumAttempts}
}

func withActivity(ctx workflow.Context, kind ActivityKind, summary string) workflow.Context {
	opts := activityOptions(ctx, kind)
	opts.Summary = summary
	return workflow.WithActivityOptions(ctx, opts)
}

type settingsKey struct{}

type revisionKey struct{}

// Revisions number the changes to how workflows make their calls. A workflow takes the revision it
// was started with from its input's Revision field (set by whoever starts it: the starter, mi, the
// instance workflow, the rollout, continue-as-new), publishes it as the LifecycleRevision search
// attribute, and keeps it for its whole run, so a run started before a change replays the calls it
// made, and `ExecutionStatus = 'Running' AND (LifecycleRevision < N OR LifecycleRevision IS NULL)`
// lists the runs that still need the code of revisions below N (runs started before the attribute
// existed have none).
// It costs no history event, unlike workflow.GetVersion's marker and search attribute, which every
// one of a fleet's upgrades would pay. An input without the field is a run started before the
// field existed: revision 0, the oldest path, which is what those runs took.
const (
	// RevisionLocalActivities: quick calls (config reads, probes, comments and tracking-issue
	// edits, a rollout's requests) are local activities, a rollout asks for a wave's upgrades all
	// at once and keeps one wake-up timer, and the fleet is listed a page at a time (issue 8).
	RevisionLocalActivities = 1
	// RevisionHistoryBudget: a rollout's byte cap counts the state its continue-as-new carries,
	// which lands in the run's last event (issue 8).
	RevisionHistoryBudget = 2
	// RevisionCorrectness (issue 19): an abort also undoes the step that failed (it may have
	// done half its work); the instance workflow says on the issue why it suspends an expired
	// trial; a run's decisions and a rollout's controls keep only their last entries.
	RevisionCorrectness = 3
	// RevisionLeanHistory (issue 21): an upgrade waits for its new version and soaks in one
	// activity, and takes its two backups at once without a version marker; the instance
	// workflow upserts its search attributes once per workflow task.
	RevisionLeanHistory = 4
	// CurrentRevision is what new workflows are started with.
	CurrentRevision = RevisionLeanHistory
	// OldestRevision is the oldest revision whose code is kept: runs started with it may still
	// be open. The replay test needs a recorded history of every revision from here to
	// CurrentRevision; raise it to N (and delete the code paths below N) once no open run has
	// `LifecycleRevision < N OR LifecycleRevision IS NULL`.
	OldestRevision = 0
)

// withOperation makes an operation's settings and revision reach every call below ctx.
func withOperation(ctx workflow.Context, in OperationInput) workflow.Context {
	return withRevision(withSettings(ctx, in.Request.Settings), in.Revision)
}

// withRevision puts the run's revision (its input's Revision) on ctx; every workflow calls it
// first.
func withRevision(ctx workflow.Context, rev int) workflow.Context {
	return workflow.WithValue(ctx, revisionKey{}, rev)
}

// revision is the run's revision. A context without one is a bug (a workflow that did not call
// withRevision), not the oldest path: it panics, which fails the workflow task and shows in the
// worker's log, rather than silently taking old code.
func revision(ctx workflow.Context) int {
	rev, ok := ctx.Value(revisionKey{}).(int)
	if !ok {
		panic("workflows: the run's revision is not on ctx: call withRevision with the input's Revision at the workflow's start")
	}
	return rev
}

// withSettings makes the request's settings reach every activity call below ctx.
func withSettings(ctx workflow.Context, s Settings) workflow.Context {
	return workflow.WithValue(ctx, settingsKey{}, s)
}

// activityOptions are the kind's options, with Settings.ActivityTimeout (when set) capping the
// timeouts that decide how soon an attempt lost with its worker is retried: a test stack that
// kills its worker recovers in seconds instead of minutes.
func activityOptions(ctx workflow.Context, kind ActivityKind) workflow.ActivityOptions {
	opts := ActivityOptions(kind)
	s, _ := ctx.Value(settingsKey{}).(Settings)
	if kind == ConfigChange && s.GitHubWritesQueue != "" {
		opts.TaskQueue = s.GitHubWritesQueue
	}
	if d := s.ActivityTimeout; d > 0 {
		opts.StartToCloseTimeout = min(opts.StartToCloseTimeout, d)
		if opts.HeartbeatTimeout > 0 {
			opts.HeartbeatTimeout = min(opts.HeartbeatTimeout, d)
		}
	}
	return opts
}

// soak waits until the instance serves its version healthily, Consecutive probes in a row (1: wait
// until it is up). The activity's own timeouts grow with the soak's settings, so a long soak is
// never cut short by the default Soak options.
func soak(ctx workflow.Context, s Settings, summary string, in activities.SoakInput) error {
	opts := ActivityOptions(Soak)
	opts.Summary = summary
	if d := in.VersionTimeout + s.SoakTimeout + 5*time.Minute; d > opts.StartToCloseTimeout {
		opts.StartToCloseTimeout = d
	}
	if d := s.SoakInterval + 30*time.Second; d > opts.HeartbeatTimeout {
		opts.HeartbeatTimeout = d
	}
	if d := s.ActivityTimeout; d > 0 {
		// The soak heartbeats every probe: a lost attempt shows within a heartbeat timeout.
		opts.HeartbeatTimeout = min(opts.HeartbeatTimeout, max(d, s.SoakInterval+5*time.Second))
	}
	return withAttempts(workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), (*activities.Uptime).Soak, in).Get(ctx, nil), opts)
}

// versionThenSoak waits up to VersionTimeout until host reports version, then soaks: one
// activity for what were two, from RevisionLeanHistory.
func versionThenSoak(ctx workflow.Context, s Settings, host, version string) error {
	return soak(ctx, s, fmt.Sprintf("Wait until %s reports %s (up to %s), then %d healthy probes %s apart", host, version, s.VersionTimeout, s.SoakProbes, s.SoakInterval),
		activities.SoakInput{Host: host, ExpectedVersion: version, Consecutive: s.SoakProbes, Interval: s.SoakInterval, Timeout: s.SoakTimeout, VersionTimeout: s.VersionTimeout})
}

// soakFor is the uptime soak of the settings: SoakProbes healthy probes at version.
func soakFor(ctx workflow.Context, s Settings, host, version string) error {
	return soak(ctx, s, fmt.Sprintf("Uptime soak: %d healthy probes of %s at %s, %s apart", s.SoakProbes, host, version, s.SoakInterval),
		activities.SoakInput{Host: host, ExpectedVersion: version, Consecutive: s.SoakProbes, Interval: s.SoakInterval, Timeout: s.SoakTimeout})
}

// awaitUntil waits until ready holds or, if wake is set, until wake (a durable timer).
func awaitUntil(ctx workflow.Context, wake time.Time, ready func() bool) error {
	if wake.IsZero() {
		return workflow.Await(ctx, ready)
	}
	_, err := workflow.AwaitWithTimeout(ctx, max(wake.Sub(workflow.Now(ctx)), time.Millisecond), ready)
	return err
}

// requestSettings are the settings withSettings put on ctx, with the defaults filled in.
func requestSettings(ctx workflow.Context) Settings {
	s, _ := ctx.Value(settingsKey{}).(Settings)
	return s.WithDefaults()
}

// getRelease looks a version up in the release repository of the request's settings
// (LIFECYCLE_RELEASE_REPO).
func getRelease(ctx workflow.Context, summary, version string) (activities.ReleaseResult, error) {
	owner, repo, _ := strings.Cut(requestSettings(ctx).ReleaseRepo, "/")
	return execute[activities.ReleaseResult](ctx, GitHubCall, summary, (*activities.GitHub).GetRelease,
		activities.ReleaseInput{Owner: owner, Repo: repo, Tag: version})
}

// publishedRelease is the release of version if it is published; otherwise why not (unknown,
// unreachable, or still a draft), for a rejection, and the error behind it, for the log and the
// run's details.
func publishedRelease(ctx workflow.Context, summary, version string) (activities.ReleaseResult, string, error) {
	rel, err := getRelease(ctx, summary, version)
	repo := requestSettings(ctx).ReleaseRepo
	switch {
	case errorType(err) == activities.ErrNotFound:
		return rel, fmt.Sprintf("version %s has no release in %s: check the version (written without the `v`, see https://github.com/%s/releases), "+
			"or ask again once the release is published", version, repo, repo), err
	case err != nil:
		return rel, fmt.Sprintf("could not confirm that release %s exists: %s; ask again once GitHub answers", version, failureText("GitHub", err)), err
	case rel.Draft:
		return rel, fmt.Sprintf("release %s of %s is still a draft: publish it first", rel.Tag, repo), nil
	}
	return rel, "", nil
}
