package workflows

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// stepSchedule runs a frontend reload and returns its cloud calls as "<test time> <activity>",
// leaving out GitHub's, with the fake cloud; outage, when set, makes GitHub hold each status
// comment for 50 s of the test clock and then refuse it with a secondary rate limit, until then.
func stepSchedule(t *testing.T, outage time.Duration) ([]string, *fakeCloud, OperationResult) {
	env, f := tdEnv(t)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	var mu sync.Mutex
	var calls []string
	record := func(name string) {
		mu.Lock()
		calls = append(calls, env.Now().Sub(start).String()+" "+name)
		mu.Unlock()
	}
	f.onCall = func(name string, _ any) {
		if !githubActivity(name) {
			record(name)
		}
	}
	// The soak takes 15 minutes of the test clock, as three probes of a slow rollout of pods do.
	env.OnActivity("Soak", mock.Anything, mock.Anything).After(15 * time.Minute).Return(
		func(_ context.Context, in activities.SoakInput) (activities.SoakResult, error) {
			record("Soak")
			return activities.SoakResult{}, nil
		})
	if outage > 0 {
		limited := activities.Transient(activities.ErrRateLimited, "update the status comment: GitHub secondary rate limit (HTTP 403)", nil, time.Minute)
		healed := false
		f.mu.Lock()
		f.fails["UpsertComment"] = limited
		f.mu.Unlock()
		env.OnActivity("UpsertComment", mock.Anything, mock.Anything).AfterFn(func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			if healed {
				return 0
			}
			return 50 * time.Second
		}).Return(f.fns["UpsertComment"])
		env.RegisterDelayedCallback(func() {
			mu.Lock()
			healed = true
			mu.Unlock()
			f.heal("UpsertComment")
		}, outage)
	}
	in := tdRequest(forms.OpReloadFrontend, spec.Production)
	in.Request.Reload = &forms.ReloadFrontend{Slug: "acme"}
	in.Revision = CurrentRevision
	env.ExecuteWorkflow("ReloadFrontend", in)
	return calls, f, tdResult(t, env)
}

// An operation's steps do not wait for its status comment: with GitHub holding and refusing every
// edit of it, each step runs when it does with GitHub answering, and the comment shows the final
// progress once GitHub answers again (issue 17).
func TestOperationGoesOnWhileGitHubRateLimitsItsStatusComment(t *testing.T) {
	want, _, res := stepSchedule(t, 0)
	if res.Outcome != OutcomeSucceeded || len(want) != 3 {
		t.Fatalf("healthy run: outcome %s, calls %v", res.Outcome, want)
	}
	// GitHub answers again during the soak: the comment's last edits can land.
	got, f, res := stepSchedule(t, 10*time.Minute)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("with GitHub rate-limited, the steps ran at\n%v\nwith GitHub answering, at\n%v", got, want)
	}
	if s := f.comment("<!-- lifecycle:status:"); !strings.Contains(s, "`acme`: succeeded") {
		t.Fatalf("the status comment does not show the final progress:\n%s", s)
	}
}
