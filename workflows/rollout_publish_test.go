package workflows

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// requestSchedule is every upgrade request as "<test time since start> <slug>", in time order.
func (h *rolloutHarness) requestSchedule() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	idx := make([]int, len(h.requested))
	for i := range idx {
		idx[i] = i
	}
	// The requests of one moment run at once: among themselves they are listed by slug.
	slices.SortFunc(idx, func(a, b int) int {
		if c := h.requestedAt[a].Compare(h.requestedAt[b]); c != 0 {
			return c
		}
		return strings.Compare(h.requested[a], h.requested[b])
	})
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = h.requestedAt[j].Sub(srStart).String() + " " + h.requested[j]
	}
	return out
}

// rateLimitGitHub makes every edit of the tracking issue (its body, its comments) slow and then
// answered with GitHub's secondary rate limit, which asks to wait a minute, until heal (test time):
// each call holds for 50 s of the test clock, as a slow GitHub does, within the call's minute.
func (h *rolloutHarness) rateLimitGitHub(heal time.Duration) {
	limited := activities.Transient(activities.ErrRateLimited, "edit the tracking issue: GitHub secondary rate limit (HTTP 403)", nil, time.Minute)
	var healed bool
	for _, name := range []string{"EditIssueBody", "UpsertComment"} {
		h.f.mu.Lock()
		h.f.fails[name] = limited
		h.f.mu.Unlock()
		h.env.OnActivity(name, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
			h.mu.Lock()
			defer h.mu.Unlock()
			if name == "EditIssueBody" {
				h.edits++
				h.maxEdits = max(h.maxEdits, h.edits)
			}
			if healed {
				return 0
			}
			return 50 * time.Second
		}).Return(h.f.fns[name])
	}
	h.f.onCall = func(name string, _ any) {
		if name == "EditIssueBody" {
			h.mu.Lock()
			h.edits--
			h.mu.Unlock()
		}
	}
	h.env.RegisterDelayedCallback(func() {
		h.mu.Lock()
		healed = true
		h.mu.Unlock()
		h.f.heal("EditIssueBody")
		h.f.heal("UpsertComment")
	}, heal)
}

// While GitHub rate-limits every edit of the tracking issue for hours, the rollout asks for each
// upgrade exactly when it does with GitHub answering (the edits run in the background); once
// GitHub answers again, the issue shows the final state (issue 17).
func TestRolloutGoesOnWhileGitHubRateLimitsItsEdits(t *testing.T) {
	healthy := newRolloutHarness(t)
	healthy.fleet("5.9.0", mixedFleet())
	healthy.run(healthy.input(nil), 72*time.Hour)
	if st := healthy.result(); st.Phase != PhaseDone {
		t.Fatalf("healthy run: phase %s (%s)", st.Phase, st.Reason)
	}
	want := healthy.requestSchedule()

	const outage = 4 * time.Hour
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	h.rateLimitGitHub(outage)
	h.run(h.input(nil), 72*time.Hour)
	st := h.result()
	if st.Phase != PhaseDone {
		t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
	}
	got := h.requestSchedule()
	if !slices.Equal(got, want) {
		t.Fatalf("with GitHub rate-limited for %s, the upgrades were asked for at\n%v\nwith GitHub answering, at\n%v", outage, got, want)
	}
	var during int
	for _, at := range h.requestedAt {
		if at.Before(srStart.Add(outage)) {
			during++
		}
	}
	if during < 5 || !st.EndedAt.After(srStart.Add(outage)) {
		t.Fatalf("%d upgrades asked for during the outage, the rollout ended %s after its start: the test must span both", during, st.EndedAt.Sub(srStart))
	}

	// One edit of the checklist at a time: the states in between were never queued.
	if h.maxEdits != 1 {
		t.Fatalf("%d edits of the checklist were in flight at once", h.maxEdits)
	}
	// Once GitHub answers, the last edits show the final state.
	bodies := inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody")
	if last := bodies[len(bodies)-1].Body; strings.Count(last, "✅ upgraded") != 13 || strings.Contains(last, "- [ ]") {
		t.Fatalf("the last checklist is not the final state:\n%s", last)
	}
	if s := h.f.comment("<!-- lifecycle:status:"); !strings.Contains(s, string(PhaseDone)) {
		t.Fatalf("the status comment is not the final state:\n%s", s)
	}
	if !strings.Contains(h.f.comment("<!-- lifecycle:summary:"), "all 13 instance(s) upgraded to 5.10.0") {
		t.Fatalf("no summary comment:\n%s", h.f.allComments())
	}
}

// slowGitHub makes every edit of the tracking issue take 50 s of the test clock (and succeed),
// counting the edits begun and ended.
func (h *rolloutHarness) slowGitHub() (begun, ended *int) {
	begun, ended = new(int), new(int)
	for _, name := range []string{"EditIssueBody", "UpsertComment"} {
		h.env.OnActivity(name, mock.Anything, mock.Anything).AfterFn(func() time.Duration {
			h.mu.Lock()
			*begun++
			h.mu.Unlock()
			return 50 * time.Second
		}).Return(h.f.fns[name])
	}
	h.f.onCall = func(name string, _ any) {
		if name == "EditIssueBody" || name == "UpsertComment" {
			h.mu.Lock()
			*ended++
			h.mu.Unlock()
		}
	}
	return begun, ended
}

// A continue-as-new waits for the edits in flight: none is cut off with the run, and the status
// comment's ID the publisher learnt is carried to the next run.
func TestRolloutContinuesAsNewAfterItsEditsInFlight(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	begun, ended := h.slowGitHub()
	in := h.input(func(r *RolloutRequest) { r.Settings.RolloutHistory = 200 })
	// Continue as new while the canary's report is being published (it arrives at 20 min, and
	// its edits take until 21:40): a report for no instance of the rollout wakes the loop at 20:20.
	h.env.RegisterDelayedCallback(func() { h.env.SetCurrentHistoryLength(200) }, 20*time.Minute+10*time.Second)
	h.report(20*time.Minute+20*time.Second, UpgradeReport{Slug: "not-in-this-rollout", Status: UpgradeRunning})
	h.run(in, 72*time.Hour)
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want a continue-as-new, got %v", err)
	}
	var next RolloutInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if *begun == 0 || *begun != *ended {
		t.Fatalf("%d edits of the tracking issue begun, %d ended: the run continued as new with edits in flight", *begun, *ended)
	}
	if at := h.env.Now().Sub(srStart); at < 21*time.Minute+40*time.Second {
		t.Fatalf("continued as new at %s, before the edits begun at 20 min ended", at)
	}
	if next.State == nil || next.State.CommentID == 0 {
		t.Fatalf("the status comment's ID was not carried: %+v", next.State)
	}
}
