package workflows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// rolloutHarness runs FleetUpgrade on the time-skipping environment. The instances' entity
// workflows and upgrades are played by the harness: the fake Request activity accepts (or
// refuses) each upgrade, and a ticking callback sends each accepted upgrade's reports back as
// signals, after upgradeTime, with the outcome the test chose for its slug.
type rolloutHarness struct {
	t   testing.TB
	env *testsuite.TestWorkflowEnvironment
	f   *fakeCloud

	mu sync.Mutex
	// requested: slugs in the order their upgrade was asked for, with the (simulated) time.
	requested []string
	// requestedAt is the test clock at each request (the same index as requested).
	requestedAt []time.Time
	// batchOf and busyAt, the same index as requested: the request's batch ("key|size") and how
	// many upgrades were running when it was made.
	batchOf []string
	busyAt  []int
	askedAt map[string]time.Time
	// outcome: slug → the report sequence its upgrade sends (default: succeeded).
	outcome map[string][]UpgradeReport
	// refuse: slug → the entity's rejection; gone: slug → the tombstone's answer (torn down).
	refuse, gone map[string]string
	// delivered: how many reports of each slug were sent.
	delivered map[string]int
	// inFlight samples: the most upgrades running at once.
	// attempts: slug → the Attempt of each request; updateIDs in request order.
	attempts            map[string][]int
	updateIDs           []string
	running, maxRunning int
	upgradeTime         time.Duration
	stopTicks           bool
	// edits, maxEdits: the checklist edits in flight, and the most at once (rateLimitGitHub).
	edits, maxEdits int
}

var rolloutIssue = IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 500}

func newRolloutHarness(t testing.TB) *rolloutHarness {
	t.Helper()
	env, f := newOpEnv(t)
	env.SetStartTime(srStart)
	h := &rolloutHarness{t: t, env: env, f: f, askedAt: map[string]time.Time{}, outcome: map[string][]UpgradeReport{},
		refuse: map[string]string{}, gone: map[string]string{}, delivered: map[string]int{}, attempts: map[string][]int{}, upgradeTime: 20 * time.Minute}
	env.RegisterActivityWithOptions(func(ctx context.Context, in Ask) (AskResult, error) {
		req := in.Request
		h.mu.Lock()
		defer h.mu.Unlock()
		if why := h.gone[req.Slug]; why != "" {
			return AskResult{Rejected: why, Gone: true}, nil
		}
		if why := h.refuse[req.Slug]; why != "" {
			return AskResult{Rejected: why}, nil
		}
		h.requested = append(h.requested, req.Slug)
		h.requestedAt = append(h.requestedAt, h.env.Now())
		h.batchOf = append(h.batchOf, fmt.Sprintf("%s|%d", req.Upgrade.Batch, req.Upgrade.BatchSize))
		h.busyAt = append(h.busyAt, h.running)
		h.attempts[req.Slug] = append(h.attempts[req.Slug], req.Attempt)
		h.updateIDs = append(h.updateIDs, in.UpdateID)
		if req.Attempt > 1 {
			h.delivered[req.Slug] = 0 // a new attempt sends its own reports
		}
		// The test environment's clock, not the activity's StartedTime (which it sets from the
		// wall clock).
		h.askedAt[req.Slug] = h.env.Now()
		h.running++
		h.maxRunning = max(h.maxRunning, h.running)
		return AskResult{Accepted: RequestAccepted{WorkflowID: UpgradeWorkflowID(req.Slug, *req.Issue, req.Attempt)}}, nil
	}, activity.RegisterOptions{Name: "Request"})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: RolloutWorkflowID(rolloutIssue)})
	return h
}

// fleet seeds the config repo: slug → type, all at from, stable.
func (h *rolloutHarness) fleet(from string, types map[string]spec.InstanceType) {
	for _, slug := range sortedTypeKeys(types) {
		h.f.putConfig(activeConfig(slug, types[slug], from))
	}
}

func sortedTypeKeys(m map[string]spec.InstanceType) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tick delivers the reports of upgrades that have run upgradeTime, every minute of test time.
func (h *rolloutHarness) tick() {
	h.mu.Lock()
	type send struct {
		rep UpgradeReport
	}
	var out []send
	now := h.env.Now()
	seen := map[string]bool{}
	for _, slug := range h.requested {
		if seen[slug] {
			continue // asked again (a retry): one report stream per slug
		}
		seen[slug] = true
		seq := h.outcome[slug]
		if len(seq) == 0 {
			seq = []UpgradeReport{{Status: UpgradeSucceeded, PR: 7, PRURL: "https://github.com/sourcegraph/cloud/pull/7"}}
		}
		i := h.delivered[slug]
		if i >= len(seq) || now.Sub(h.askedAt[slug]) < time.Duration(i+1)*h.upgradeTime {
			continue
		}
		rep := seq[i]
		rep.Slug, rep.At = slug, now
		h.delivered[slug] = i + 1
		if rep.Status.done() {
			h.running--
		}
		out = append(out, send{rep})
	}
	stop := h.stopTicks
	h.mu.Unlock()
	for _, s := range out {
		h.env.SignalWorkflow(SignalUpgradeReport, s.rep)
	}
	if !stop {
		h.env.RegisterDelayedCallback(h.tick, time.Minute)
	}
}

func (h *rolloutHarness) input(mut func(*RolloutRequest)) RolloutInput {
	req := RolloutRequest{Issue: rolloutIssue, Requester: "alice", RequestedAt: srStart,
		Settings: Settings{RolloutBake: 30 * time.Minute, RolloutRefresh: time.Second},
		Upgrade:  forms.UpgradeTracking{Version: "5.10.0", Concurrency: 2}}
	if mut != nil {
		mut(&req)
	}
	return RolloutInput{Request: req, Revision: CurrentRevision}
}

// run executes the rollout, stopping the ticks after limit of test time.
func (h *rolloutHarness) run(in RolloutInput, limit time.Duration) {
	h.env.RegisterDelayedCallback(h.tick, time.Minute)
	h.env.RegisterDelayedCallback(func() {
		h.mu.Lock()
		h.stopTicks = true
		h.mu.Unlock()
	}, limit)
	h.env.ExecuteWorkflow(FleetUpgrade, in)
}

// control sends a rollout control at a test time.
func (h *rolloutHarness) control(at time.Duration, c RolloutControl, wantErr bool) {
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateRolloutControl, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) {
				if !wantErr {
					h.t.Errorf("%s rejected: %v", c.Action, err)
				}
			},
			OnAccept: func() {
				if wantErr {
					h.t.Errorf("%s by %s accepted, want a rejection", c.Action, c.By)
				}
			},
			OnComplete: func(any, error) {},
		}, c)
	}, at)
}

func (h *rolloutHarness) state() RolloutState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryRollout)
	if err != nil {
		h.t.Fatal(err)
	}
	var st RolloutState
	if err := v.Get(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *rolloutHarness) result() RolloutState {
	h.t.Helper()
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("rollout did not complete")
	}
	var st RolloutState
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

// order is the slugs in the order they were asked for. Requests the rollout sends at once (local
// activities of one workflow task, at one moment of the test clock) run concurrently, so among
// themselves they are listed by slug, as the plan orders them.
func (h *rolloutHarness) order() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	idx := make([]int, len(h.requested))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := h.requestedAt[a].Compare(h.requestedAt[b]); c != 0 {
			return c
		}
		return strings.Compare(h.requested[a], h.requested[b])
	})
	out := make([]string, len(idx))
	for i, j := range idx {
		out[i] = h.requested[j]
	}
	return out
}

// lastBodyLen is the length of the checklist the rollout last wrote to the tracking issue.
func (h *rolloutHarness) lastBodyLen() int {
	bodies := inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody")
	if len(bodies) == 0 {
		return 0
	}
	return len(bodies[len(bodies)-1].Body)
}
