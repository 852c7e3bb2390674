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

// executeVoid runs an activity that returns only an error.
func executeVoid(ctx workflow.Context, kind ActivityKind, summary string, activity, input any) error {
	err := workflow.ExecuteActivity(withActivity(ctx, kind, summary), activity, input).Get(ctx, nil)
	return withAttempts(err, ActivityOptions(kind))
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
	if d := s.SoakTimeout + 5*time.Minute; d > opts.StartToCloseTimeout {
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

// soakFor is the uptime soak of the settings: SoakProbes healthy probes at version.
func soakFor(ctx workflow.Context, s Settings, host, version string) error {
	return soak(ctx, s, fmt.Sprintf("Uptime soak: %d healthy probes of %s at %s, %s apart", s.SoakProbes, host, version, s.SoakInterval),
		activities.SoakInput{Host: host, ExpectedVersion: version, Consecutive: s.SoakProbes, Interval: s.SoakInterval, Timeout: s.SoakTimeout})
}

// listFleet reads every instance's config.yaml from the config repo.
func listFleet(ctx workflow.Context, summary string) ([]activities.FleetEntry, error) {
	var fleet []activities.FleetEntry
	err := workflow.ExecuteActivity(withActivity(ctx, CloudCall, summary), (*activities.ConfigRepo).ListFleet).Get(ctx, &fleet)
	return fleet, withAttempts(err, ActivityOptions(CloudCall))
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
// unreachable, or still a draft), for a rejection.
func publishedRelease(ctx workflow.Context, summary, version string) (activities.ReleaseResult, string) {
	rel, err := getRelease(ctx, summary, version)
	switch {
	case err != nil:
		return rel, errorMessage(err)
	case rel.Draft:
		return rel, fmt.Sprintf("release %s of %s is still a draft: publish it first", rel.Tag, requestSettings(ctx).ReleaseRepo)
	}
	return rel, ""
}
