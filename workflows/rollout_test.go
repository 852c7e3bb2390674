package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// A mixed fleet: the canary, two other internal instances, four trials, six customers.
func mixedFleet() map[string]spec.InstanceType {
	return map[string]spec.InstanceType{
		"rctest": spec.Internal, "demo": spec.Internal, "research": spec.Internal,
		"t1": spec.Trial, "t2": spec.Trial, "t3": spec.Trial, "t4": spec.Trial,
		"c1": spec.Production, "c2": spec.Production, "c3": spec.Production, "c4": spec.Production, "c5": spec.Production, "c6": spec.Production,
	}
}

func TestRolloutGoodReleaseUpgradesEveryoneInOrder(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	h.run(h.input(nil), 72*time.Hour)
	st := h.result()
	if st.Phase != PhaseDone {
		t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
	}
	// Wave after wave; within a wave, the instances asked together are asked at once (local
	// activities in one workflow task), so their order among themselves is not defined.
	want := []string{"rctest", "demo", "research", "t1", "t2", "t3", "t4", "c1", "c2", "c3", "c4", "c5", "c6"}
	waveOf := map[string]int{}
	for i, w := range st.Waves {
		for _, in := range w.Instances {
			waveOf[in.Slug] = i
		}
	}
	got := h.order()
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("upgraded %v, want each of %v once", got, want)
	}
	for i := 1; i < len(got); i++ {
		if waveOf[got[i]] < waveOf[got[i-1]] {
			t.Fatalf("upgrade order %v: %s (wave %d) after %s (wave %d)", got, got[i], waveOf[got[i]], got[i-1], waveOf[got[i-1]])
		}
	}
	var names []string
	for _, w := range st.Waves {
		names = append(names, w.Name)
	}
	if want := []string{"canary", "internal", "trials 10%", "trials 40%", "trials 100%", "customers 10%", "customers 40%", "customers 100%"}; !slices.Equal(names, want) {
		t.Fatalf("waves %v, want %v", names, want)
	}
	for i := 1; i < len(st.Waves); i++ {
		if gap := st.Waves[i].StartedAt.Sub(st.Waves[i-1].EndedAt); gap < 30*time.Minute {
			t.Errorf("wave %q started %s after %q ended; want the 30m bake", st.Waves[i].Name, gap, st.Waves[i-1].Name)
		}
	}
	if h.maxRunning > 2 {
		t.Errorf("%d upgrades ran at once; concurrency is 2", h.maxRunning)
	}
	body := inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody")
	last := body[len(body)-1].Body
	if strings.Count(last, "✅ upgraded") != 13 || strings.Contains(last, "- [ ]") {
		t.Fatalf("the final checklist is not fully ticked:\n%s", last)
	}
	if !strings.Contains(h.f.allComments(), "all 13 instance(s) upgraded to 5.10.0") {
		t.Fatalf("no summary comment:\n%s", h.f.allComments())
	}
}

// ---- helpers for the rollout tests below ----

// ctlAnswer is a control's answer: err nil once accepted.
type ctlAnswer struct {
	sent bool
	err  error
}

// ctl sends a control at a test time and records the validator's answer.
func (h *rolloutHarness) ctl(at time.Duration, c RolloutControl) *ctlAnswer {
	a := &ctlAnswer{}
	h.env.RegisterDelayedCallback(func() {
		a.sent = true
		h.env.UpdateWorkflow(UpdateRolloutControl, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { a.err = err },
			OnAccept:   func() {},
			OnComplete: func(any, error) {},
		}, c)
	}, at)
	return a
}

// wantAccepted and wantRejected check control answers after the run.
func wantAccepted(t *testing.T, what string, a *ctlAnswer) {
	t.Helper()
	if !a.sent || a.err != nil {
		t.Errorf("%s: sent %v, rejected %v; want it accepted", what, a.sent, a.err)
	}
}

func wantRejected(t *testing.T, what string, a *ctlAnswer, msg string) {
	t.Helper()
	if !a.sent || a.err == nil || !strings.Contains(a.err.Error(), msg) {
		t.Errorf("%s: sent %v, answer %v; want a rejection containing %q", what, a.sent, a.err, msg)
	}
}

// at queries the rollout at a test time.
func (h *rolloutHarness) at(at time.Duration, check func(RolloutState)) {
	h.env.RegisterDelayedCallback(func() { check(h.state()) }, at)
}

// phaseChange is when the rollout's phase changed, as sampled every minute.
type phaseChange struct {
	At    time.Time
	Phase RolloutPhase
}

// watchPhases samples the phase every minute until limit.
func (h *rolloutHarness) watchPhases(limit time.Duration) *[]phaseChange {
	var out []phaseChange
	end := srStart.Add(limit)
	var sample func()
	sample = func() {
		if h.env.IsWorkflowCompleted() || !h.env.Now().Before(end) {
			return
		}
		st := h.state()
		if len(out) == 0 || out[len(out)-1].Phase != st.Phase {
			out = append(out, phaseChange{h.env.Now(), st.Phase})
		}
		h.env.RegisterDelayedCallback(sample, time.Minute)
	}
	h.env.RegisterDelayedCallback(sample, time.Minute)
	return &out
}

// report sends an upgrade report at a test time, as an upgrade (or a decision on it) would.
func (h *rolloutHarness) report(at time.Duration, rep UpgradeReport) {
	h.env.RegisterDelayedCallback(func() {
		rep.WorkflowID, rep.At = UpgradeWorkflowID(rep.Slug, rolloutIssue, 1), h.env.Now()
		h.env.SignalWorkflow(SignalUpgradeReport, rep)
	}, at)
}

func (h *rolloutHarness) asked(slug string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	at, ok := h.askedAt[slug]
	return at, ok
}

func instanceOf(t *testing.T, st RolloutState, slug string) RolloutInstance {
	t.Helper()
	for _, w := range st.Waves {
		for _, in := range w.Instances {
			if in.Slug == slug {
				return in
			}
		}
	}
	t.Fatalf("%s is not in the rollout", slug)
	return RolloutInstance{}
}

func waveByName(t *testing.T, st RolloutState, name string) Wave {
	t.Helper()
	for _, w := range st.Waves {
		if w.Name == name {
			return w
		}
	}
	t.Fatalf("no wave %q in %v", name, waveNames(st.Waves))
	return Wave{}
}

var parkedSoak = UpgradeReport{Status: UpgradeParked, Step: "soak", Error: "soak: 2 of 3 probes failed"}

// customerFleet: the canary and ten customers, so the customer waves are 1, 3 and 6 instances.
func customerFleet() map[string]spec.InstanceType {
	m := map[string]spec.InstanceType{"rctest": spec.Internal}
	for i := 1; i <= 10; i++ {
		m[fmt.Sprintf("c%02d", i)] = spec.Production
	}
	return m
}

// ---- tests ----

// Upgrades are asked in batches: the next batch once every upgrade of the last has settled (a
// slow one holds its batch-mates' slots), and each request names its batch and its size, so the
// batch's version bumps share one config pull request.
func TestRolloutAsksInBatches(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	// c1 takes twice as long as the others.
	h.outcome["c1"] = []UpgradeReport{{Status: UpgradeRunning}, {Status: UpgradeSucceeded, PR: 7}}
	h.run(h.input(nil), 72*time.Hour)
	if st := h.result(); st.Phase != PhaseDone {
		t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
	}
	groups := map[time.Time][]int{}
	for i := range h.requested {
		groups[h.requestedAt[i]] = append(groups[h.requestedAt[i]], i)
	}
	pairs := 0
	for at, g := range groups {
		busy := h.busyAt[g[0]]
		for _, i := range g {
			busy = min(busy, h.busyAt[i])
			if h.batchOf[i] != h.batchOf[g[0]] {
				t.Errorf("at %s: %s asked in batch %q, %s in %q", at, h.requested[i], h.batchOf[i], h.requested[g[0]], h.batchOf[g[0]])
			}
		}
		if busy != 0 {
			t.Errorf("at %s: %v asked while %d upgrade(s) of the last batch still ran", at, g, busy)
		}
		if len(g) > 1 {
			pairs++
		}
		if strings.HasPrefix(h.batchOf[g[0]], "|") {
			t.Errorf("at %s: a batch of %d has no name: %q", at, len(g), h.batchOf[g[0]])
		}
		if want := fmt.Sprintf("|%d", len(g)); !strings.HasSuffix(h.batchOf[g[0]], want) {
			t.Errorf("at %s: batch %q, want size %s", at, h.batchOf[g[0]], want)
		}
	}
	if pairs == 0 {
		t.Fatalf("no batch of more than one upgrade: %v", h.batchOf)
	}
}

func TestRolloutCanaryFailureHaltsBeforeAnyoneElse(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	h.outcome["rctest"] = []UpgradeReport{parkedSoak}
	var halted RolloutState
	var orderWhileHalted []string
	h.at(2*time.Hour, func(st RolloutState) { halted, orderWhileHalted = st, h.order() })
	abort := h.ctl(3*time.Hour, RolloutControl{Action: ControlAbort, By: "bob", Reason: "5.10.0 breaks the soak"})
	h.run(h.input(nil), 24*time.Hour)
	st := h.result()

	if halted.Phase != PhaseHalted || !strings.Contains(halted.Reason, "canary") || !strings.Contains(halted.Reason, "`rctest` (parked)") {
		t.Fatalf("after the canary parked: phase %s, reason %q", halted.Phase, halted.Reason)
	}
	if !slices.Equal(orderWhileHalted, []string{"rctest"}) {
		t.Fatalf("requested while halted: %v, want only the canary", orderWhileHalted)
	}
	if c := h.f.comment("<!-- lifecycle:halted:"); !strings.Contains(c, "canary failed") {
		t.Errorf("halt comment %q", c)
	}
	wantAccepted(t, "abort", abort)
	if st.Phase != PhaseAborted || !strings.Contains(st.Reason, "aborted by @bob") || !st.EndedAt.Equal(srStart.Add(3*time.Hour)) {
		t.Fatalf("final phase %s, reason %q, ended %s", st.Phase, st.Reason, st.EndedAt)
	}
	if got := h.order(); !slices.Equal(got, []string{"rctest"}) {
		t.Fatalf("requested %v, want only the canary", got)
	}
	for _, w := range st.Waves[1:] {
		if !w.StartedAt.IsZero() {
			t.Errorf("wave %q started", w.Name)
		}
	}
	if instanceOf(t, st, "rctest").Status != UpgradeParked {
		t.Errorf("canary %+v", instanceOf(t, st, "rctest"))
	}
	if s := h.f.comment("<!-- lifecycle:summary:"); !strings.Contains(s, "aborted") || !strings.Contains(s, "`rctest`: parked") {
		t.Errorf("summary %q", s)
	}
}

func TestRolloutHaltsAtTheEndOfTheWaveThenGoesOnWhenTheFailureClears(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", customerFleet())
	h.outcome["c02"] = []UpgradeReport{parkedSoak}
	phases := h.watchPhases(72 * time.Hour)
	var halted RolloutState
	var orderWhileHalted []string
	h.at(4*time.Hour, func(st RolloutState) { halted, orderWhileHalted = st, h.order() })
	// A /skip of c02's soak ends its upgrade as succeeded, and it reports so.
	h.report(5*time.Hour, UpgradeReport{Slug: "c02", Status: UpgradeSucceeded, From: "5.9.0", To: "5.10.0"})
	// A late report of an upgrade that has ended (the entity's failure notice after the upgrade's
	// own report, say) changes nothing.
	h.report(5*time.Hour+10*time.Minute, UpgradeReport{Slug: "c04", Status: UpgradeFailed, Error: "late"})
	h.run(h.input(nil), 72*time.Hour)
	st := h.result()

	if want := []string{"canary", "customers 10%", "customers 40%", "customers 100%"}; !slices.Equal(waveNames(st.Waves), want) {
		t.Fatalf("waves %v", waveNames(st.Waves))
	}
	if halted.Phase != PhaseHalted || halted.Wave != 2 || !strings.Contains(halted.Reason, "`c02` (parked)") || !strings.Contains(halted.Reason, "threshold 0") {
		t.Fatalf("at 4h: phase %s, wave %d, reason %q", halted.Phase, halted.Wave, halted.Reason)
	}
	if strings.Contains(halted.Reason, "canary") {
		t.Errorf("a customer's failure is not the canary's: %q", halted.Reason)
	}
	// The rest of c02's wave was still upgraded, after c02 had parked.
	c02At, _ := h.asked("c02")
	c04At, ok := h.asked("c04")
	if !ok || c04At.Before(c02At.Add(h.upgradeTime)) {
		t.Fatalf("c04 asked at %v; c02 (asked %v) parked at %v: the wave must go on past the failure", c04At, c02At, c02At.Add(h.upgradeTime))
	}
	c04 := instanceOf(t, halted, "c04")
	if c04.Status != UpgradeSucceeded || instanceOf(t, halted, "c03").Status != UpgradeSucceeded {
		t.Fatalf("c03/c04 while halted: %+v", halted.Waves[2].Instances)
	}
	// ... and the halt came only once the wave had settled, never before, and not the next wave.
	var haltedAt time.Time
	for _, p := range *phases {
		if p.Phase == PhaseHalted {
			haltedAt = p.At
			break
		}
	}
	if haltedAt.IsZero() || haltedAt.Before(c04.EndedAt) {
		t.Fatalf("halted at %v, before the wave's last upgrade ended (%v); phases %v", haltedAt, c04.EndedAt, *phases)
	}
	if next := halted.Waves[3]; !next.StartedAt.IsZero() {
		t.Fatalf("the next wave started at %v", next.StartedAt)
	}
	for _, slug := range orderWhileHalted {
		if n, _ := strconv.Atoi(strings.TrimPrefix(slug, "c")); strings.HasPrefix(slug, "c") && n > 4 {
			t.Fatalf("%s requested while halted (order %v)", slug, orderWhileHalted)
		}
	}

	// The failure cleared: the rollout went on by itself.
	if st.Phase != PhaseDone || st.Reason != "all 11 instance(s) upgraded to 5.10.0" {
		t.Fatalf("final phase %s: %s", st.Phase, st.Reason)
	}
	if len(h.order()) != 11 {
		t.Fatalf("requested %v", h.order())
	}
	c05At, _ := h.asked("c05")
	if c05At.Before(srStart.Add(5*time.Hour + 30*time.Minute)) {
		t.Fatalf("c05 asked at %v, before c02's success at 5h plus the 30m bake", c05At)
	}
	if in := instanceOf(t, st, "c02"); in.Status != UpgradeSucceeded || in.Error != "" || in.Accepted {
		t.Fatalf("c02 %+v", in)
	}
}

func TestRolloutToleratesFailuresUpToTheThreshold(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", customerFleet())
	h.outcome["c02"] = []UpgradeReport{parkedSoak}
	phases := h.watchPhases(72 * time.Hour)
	h.run(h.input(func(r *RolloutRequest) { r.Settings.RolloutFailures = 1 }), 72*time.Hour)
	st := h.result()
	for _, p := range *phases {
		if p.Phase == PhaseHalted {
			t.Fatalf("halted at %v with one failure and a threshold of 1", p.At)
		}
	}
	if st.Phase != PhaseDone || st.Reason != "10 instance(s) upgraded to 5.10.0, 1 not (see the checklist)" {
		t.Fatalf("final phase %s: %s", st.Phase, st.Reason)
	}
	if len(h.order()) != 11 {
		t.Fatalf("requested %v", h.order())
	}
	if in := instanceOf(t, st, "c02"); in.Status != UpgradeParked || in.Accepted {
		t.Fatalf("c02 %+v", in)
	}

	// Two failures in one wave pass a threshold of 1.
	h = newRolloutHarness(t)
	h.fleet("5.9.0", customerFleet())
	h.outcome["c05"] = []UpgradeReport{parkedSoak}
	h.outcome["c08"] = []UpgradeReport{{Status: UpgradeRolledBack, Reason: "aborted by an operator: 5.9.0 serves again"}}
	var halted RolloutState
	h.at(10*time.Hour, func(st RolloutState) { halted = st })
	h.control(11*time.Hour, RolloutControl{Action: ControlAbort, By: "bob"}, false)
	h.run(h.input(func(r *RolloutRequest) { r.Settings.RolloutFailures = 1 }), 24*time.Hour)
	h.result()
	if halted.Phase != PhaseHalted || !strings.Contains(halted.Reason, "2 failed") || !strings.Contains(halted.Reason, "`c08` (rolled-back)") {
		t.Fatalf("two failures: phase %s, reason %q", halted.Phase, halted.Reason)
	}
}

func TestRolloutResumePastFailures(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", customerFleet())
	h.outcome["c02"] = []UpgradeReport{parkedSoak}
	var halted RolloutState
	h.at(3*time.Hour+30*time.Minute, func(st RolloutState) { halted = st })
	resume := h.ctl(4*time.Hour, RolloutControl{Action: ControlResume, By: "bob", Reason: "c02 is a known flake"})
	h.run(h.input(nil), 72*time.Hour)
	st := h.result()

	if halted.Phase != PhaseHalted {
		t.Fatalf("not halted before the resume: %s", halted.Phase)
	}
	wantAccepted(t, "resume", resume)
	if st.Phase != PhaseDone || st.Reason != "10 instance(s) upgraded to 5.10.0, 1 not (see the checklist)" {
		t.Fatalf("final phase %s: %s", st.Phase, st.Reason)
	}
	if in := instanceOf(t, st, "c02"); !in.Accepted || in.Status != UpgradeParked {
		t.Fatalf("c02 %+v: want parked and accepted", in)
	}
	for _, w := range st.Waves {
		for _, in := range w.Instances {
			if in.Accepted && in.Slug != "c02" {
				t.Errorf("%s accepted too", in.Slug)
			}
		}
	}
	if c05At, _ := h.asked("c05"); c05At.Before(srStart.Add(4*time.Hour + 30*time.Minute)) {
		t.Fatalf("c05 asked at %v, before the resume plus the bake", c05At)
	}
	if len(h.order()) != 11 {
		t.Fatalf("requested %v", h.order())
	}
	sum := h.f.comment("<!-- lifecycle:summary:")
	if !strings.Contains(sum, "Needs a follow-up:") || !strings.Contains(sum, "- `c02`: parked — soak: 2 of 3 probes failed") {
		t.Fatalf("summary must list c02 for follow-up:\n%s", sum)
	}
	if strings.Contains(sum, "`c03`") {
		t.Fatalf("summary lists an upgraded instance:\n%s", sum)
	}
}

func TestRolloutPauseLetsInFlightUpgradesFinish(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	pauseAt, resumeAt := 5*time.Hour+55*time.Minute, 8*time.Hour
	pause := h.ctl(pauseAt, RolloutControl{Action: ControlPause, By: "bob", Reason: "incident elsewhere"})
	resume := h.ctl(resumeAt, RolloutControl{Action: ControlResume, By: "carol"})
	var paused RolloutState
	h.at(7*time.Hour, func(st RolloutState) { paused = st })
	h.run(h.input(nil), 72*time.Hour)
	st := h.result()
	wantAccepted(t, "pause", pause)
	wantAccepted(t, "resume", resume)

	if paused.Phase != PhasePaused || !strings.Contains(paused.Reason, "paused by @bob: incident elsewhere") {
		t.Fatalf("at 7h: %s (%s)", paused.Phase, paused.Reason)
	}
	p, r := srStart.Add(pauseAt), srStart.Add(resumeAt)
	var finishedWhilePaused, pendingWhilePaused, afterResume int
	for _, slug := range h.order() {
		at, _ := h.asked(slug)
		in := instanceOf(t, paused, slug)
		switch {
		case !at.Before(p) && at.Before(r):
			t.Errorf("%s requested at %v, while paused", slug, at)
		case at.Before(p) && in.EndedAt.After(p):
			// in flight when paused: it finished
			if in.Status != UpgradeSucceeded || !in.EndedAt.Before(r) {
				t.Errorf("%s was in flight at the pause: %+v", slug, in)
			}
			finishedWhilePaused++
		case !at.Before(r):
			afterResume++
		}
	}
	for _, in := range paused.Waves[paused.Wave].Instances {
		if in.Status == UpgradePending {
			pendingWhilePaused++
		}
	}
	if finishedWhilePaused == 0 || pendingWhilePaused == 0 || afterResume == 0 {
		t.Fatalf("the pause must catch upgrades in flight and pending ones: %d finished while paused, %d pending, %d asked after the resume",
			finishedWhilePaused, pendingWhilePaused, afterResume)
	}
	if st.Phase != PhaseDone || len(h.order()) != 13 {
		t.Fatalf("final %s (%s), requested %v", st.Phase, st.Reason, h.order())
	}
	if st.Paused != nil || len(st.Controls) != 2 || st.Controls[0].By != "bob" || !st.Controls[0].At.Equal(p) {
		t.Fatalf("controls %+v paused %+v", st.Controls, st.Paused)
	}
}

func TestRolloutApprovalGateAndControlValidation(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	early := h.ctl(30*time.Minute, RolloutControl{Action: ControlResume, By: "bob"})
	pause := h.ctl(55*time.Minute, RolloutControl{Action: ControlPause, By: "bob"})
	pauseAgain := h.ctl(56*time.Minute, RolloutControl{Action: ControlPause, By: "carol"})
	unknown := h.ctl(57*time.Minute, RolloutControl{Action: "frobnicate", By: "bob"})
	nobody := h.ctl(58*time.Minute, RolloutControl{Action: ControlPause, By: "  "})
	resume := h.ctl(59*time.Minute, RolloutControl{Action: ControlResume, By: "bob"})
	var waiting RolloutState
	var orderWaiting []string
	h.at(5*time.Hour, func(st RolloutState) { waiting, orderWaiting = st, h.order() })
	self := h.ctl(5*time.Hour+time.Minute, RolloutControl{Action: ControlApprove, By: "alice"})
	selfAgain := h.ctl(5*time.Hour+2*time.Minute, RolloutControl{Action: ControlApprove, By: "@Alice"})
	approve := h.ctl(6*time.Hour, RolloutControl{Action: ControlApprove, By: "bob", Reason: "canary and trials are fine"})
	twice := h.ctl(6*time.Hour+time.Minute, RolloutControl{Action: ControlApprove, By: "carol"})
	h.run(h.input(func(r *RolloutRequest) { r.Upgrade.RequireApproval = true }), 72*time.Hour)
	st := h.result()

	wantRejected(t, "resume while running", early, "neither paused nor halted")
	wantAccepted(t, "pause", pause)
	wantRejected(t, "second pause", pauseAgain, "already paused (by @bob)")
	wantRejected(t, "unknown action", unknown, `action "frobnicate" is not one of`)
	wantRejected(t, "control without a login", nobody, "say who decides")
	wantAccepted(t, "resume", resume)
	wantRejected(t, "approval by the requester", self, "approval needs a second person")
	wantRejected(t, "approval by the requester, spelled differently", selfAgain, "approval needs a second person")
	wantAccepted(t, "approval by bob", approve)
	wantRejected(t, "second approval", twice, "already approved by @bob")

	if waiting.Phase != PhaseApproval || !strings.Contains(waiting.Reason, "customers 10%") || !strings.Contains(waiting.Reason, "/approve") {
		t.Fatalf("before the first customer wave: %s (%s)", waiting.Phase, waiting.Reason)
	}
	if w := waveByName(t, waiting, "customers 10%"); !w.Gate || !w.StartedAt.IsZero() {
		t.Fatalf("gated wave %+v", w)
	}
	for _, slug := range orderWaiting {
		if strings.HasPrefix(slug, "c") {
			t.Fatalf("%s requested before the approval (%v)", slug, orderWaiting)
		}
	}
	if len(orderWaiting) != 7 {
		t.Fatalf("internal instances and trials must be done before the gate: %v", orderWaiting)
	}
	if c := h.f.comment("<!-- lifecycle:approval:"); !strings.Contains(c, "Approval needed") || !strings.Contains(c, "`/approve`") || !strings.Contains(c, "customers 10%") {
		t.Fatalf("approval comment %q", c)
	}
	if st.Phase != PhaseDone || len(h.order()) != 13 {
		t.Fatalf("final %s (%s), requested %v", st.Phase, st.Reason, h.order())
	}
	if c1At, _ := h.asked("c1"); c1At.Before(srStart.Add(6 * time.Hour)) {
		t.Fatalf("c1 asked at %v, before the approval", c1At)
	}
	if st.Approved == nil || st.Approved.By != "bob" {
		t.Fatalf("approved %+v", st.Approved)
	}
	var actions []string
	for _, c := range st.Controls {
		actions = append(actions, c.Action+":"+c.By)
	}
	if want := []string{"pause:bob", "resume:bob", "approve:bob"}; !slices.Equal(actions, want) {
		t.Fatalf("controls %v, want %v (rejected ones never enter the state)", actions, want)
	}
}

func TestRolloutRefusedRequestCountsAsAFailure(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	busy := "`upgrade` cannot start: `suspend` is running for `t3`"
	h.refuse["t3"] = busy
	var halted RolloutState
	var orderHalted []string
	h.at(6*time.Hour, func(st RolloutState) { halted, orderHalted = st, h.order() })
	h.control(7*time.Hour, RolloutControl{Action: ControlAbort, By: "bob", Reason: "t3 is busy"}, false)
	h.run(h.input(nil), 24*time.Hour)
	st := h.result()

	if halted.Phase != PhaseHalted || !strings.Contains(halted.Reason, "`t3` (rejected)") || halted.Waves[halted.Wave].Name != "trials 100%" {
		t.Fatalf("phase %s, wave %d, reason %q", halted.Phase, halted.Wave, halted.Reason)
	}
	t3 := instanceOf(t, halted, "t3")
	if t3.Status != UpgradeRejected || t3.Error != busy || t3.EndedAt.IsZero() {
		t.Fatalf("t3 %+v", t3)
	}
	if t4 := instanceOf(t, halted, "t4"); t4.Status != UpgradeSucceeded {
		t.Fatalf("the rest of the wave must still be upgraded: t4 %+v", t4)
	}
	want := []string{"rctest", "demo", "research", "t1", "t2", "t4"}
	if !slices.Equal(orderHalted, want) || !slices.Equal(h.order(), want) {
		t.Fatalf("requested %v (then %v), want %v", orderHalted, h.order(), want)
	}
	if st.Phase != PhaseAborted {
		t.Fatalf("final %s", st.Phase)
	}
	// The checklist shows the refusal.
	body := inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody")
	if last := body[len(body)-1].Body; !strings.Contains(last, "- [ ] `t3` ❌ not started: "+oneLine(busy)) {
		t.Fatalf("checklist:\n%s", last)
	}
}

func TestRolloutDryRunAndRejections(t *testing.T) {
	t.Run("dry run", func(t *testing.T) {
		h := newRolloutHarness(t)
		h.fleet("5.9.0", mixedFleet())
		h.run(h.input(func(r *RolloutRequest) { r.Upgrade.DryRun = true }), time.Hour)
		st := h.result()
		if st.Phase != PhasePlanned || !strings.Contains(st.Reason, "dry run") || len(st.Waves) != 8 {
			t.Fatalf("phase %s (%s), %d waves", st.Phase, st.Reason, len(st.Waves))
		}
		if len(h.order()) != 0 {
			t.Fatalf("a dry run requested %v", h.order())
		}
		plan := h.f.comment("<!-- lifecycle:plan:")
		if !strings.Contains(plan, "Rollout plan: 5.10.0") || !strings.Contains(plan, "**canary**: 1 instance(s)") ||
			!strings.Contains(plan, "**customers 100%**: 3 instance(s)") || !strings.Contains(plan, "This is a dry run") {
			t.Fatalf("plan comment:\n%s", plan)
		}
		body := inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody")
		if len(body) == 0 || body[len(body)-1].Section != rolloutSection || strings.Count(body[len(body)-1].Body, "- [ ]") != 13 {
			t.Fatalf("checklist %+v", body)
		}
	})
	t.Run("unknown release", func(t *testing.T) {
		h := newRolloutHarness(t)
		h.fleet("5.9.0", mixedFleet())
		h.f.mu.Lock()
		h.f.fails["GetRelease"] = activities.Permanent(activities.ErrNotFound, "release v5.10.0 does not exist in sourcegraph/sourcegraph", "check the version",
			errors.New("GET http://127.0.0.1:8090/api/v3/repos/sourcegraph/sourcegraph/releases/tags/v5.10.0: 404 Not Found []"))
		h.f.mu.Unlock()
		h.run(h.input(nil), time.Hour)
		st := h.result()
		// A short reason and what to do; the error chain stays off the issue.
		if st.Phase != PhaseRejected || !strings.Contains(st.Reason, "version 5.10.0 has no release in sourcegraph/sourcegraph: check the version") || len(st.Waves) != 0 {
			t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
		}
		if len(h.order()) != 0 || slices.Contains(h.f.names(false), "ListFleet") {
			t.Fatalf("requested %v; activities %v", h.order(), h.f.names(false))
		}
		c := h.f.comment("<!-- lifecycle:status:")
		if !strings.Contains(c, "rejected") || !strings.Contains(c, "has no release in sourcegraph/sourcegraph") {
			t.Fatalf("status comment %q", c)
		}
		noChain(t, "the status comment", c)
		noChain(t, "the rollout's reason", st.Reason)
	})
	t.Run("downgrade", func(t *testing.T) {
		h := newRolloutHarness(t)
		h.fleet("5.11.0", mixedFleet())
		h.run(h.input(nil), time.Hour)
		st := h.result()
		if st.Phase != PhaseRejected || !strings.Contains(st.Reason, "5.10.0 is older than 5.11.0") {
			t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
		}
		if len(h.order()) != 0 {
			t.Fatalf("requested %v", h.order())
		}
	})
}

func TestRolloutContinuesAsNewCarryingItsState(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	in := h.input(func(r *RolloutRequest) { r.Settings.RolloutHistory = 200 })
	// The test environment does not count history events: play the history's growth.
	h.env.RegisterDelayedCallback(func() { h.env.SetCurrentHistoryLength(199) }, time.Hour)
	var before RolloutState
	h.at(5*time.Hour+40*time.Minute, func(st RolloutState) { before = st })
	h.env.RegisterDelayedCallback(func() { h.env.SetCurrentHistoryLength(200) }, 5*time.Hour+45*time.Minute)
	h.run(in, 72*time.Hour)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("the first run did not end")
	}
	// One event short of the limit, the rollout went on; at the limit it continued as new.
	if before.Phase == "" || !before.EndedAt.IsZero() || before.Runs != 1 || h.env.Now().Before(srStart.Add(5*time.Hour+45*time.Minute)) {
		t.Fatalf("continued as new at %v; state before the limit: %s, runs %d", h.env.Now(), before.Phase, before.Runs)
	}
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want a continue-as-new, got %v", err)
	}
	if can.WorkflowType == nil || can.WorkflowType.Name != "FleetUpgrade" {
		t.Fatalf("continues as %+v", can.WorkflowType)
	}
	var next RolloutInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	carried := next.State
	if carried == nil || next.Request.Settings.RolloutHistory != 200 || next.Request.Requester != "alice" {
		t.Fatalf("continue-as-new input %+v", next)
	}
	if carried.Runs != 1 || carried.Version != "5.10.0" || len(carried.Waves) != 8 || !carried.EndedAt.IsZero() ||
		carried.Phase != PhaseRunning || carried.SLA == nil || !carried.SLA.Breached {
		t.Fatalf("carried state: runs %d, version %s, %d waves, phase %s, SLA %+v", carried.Runs, carried.Version, len(carried.Waves), carried.Phase, carried.SLA)
	}
	run1 := h.order()
	var inFlight, upgraded []string
	for i, w := range carried.Waves {
		for _, in := range w.Instances {
			switch in.Status {
			case UpgradeRunning:
				inFlight = append(inFlight, in.Slug)
			case UpgradeSucceeded:
				upgraded = append(upgraded, in.Slug)
				if in.PR != 7 || in.EndedAt.IsZero() {
					t.Errorf("%s carried as %+v", in.Slug, in)
				}
			case UpgradePending:
				if slices.Contains(run1, in.Slug) {
					t.Errorf("%s was requested but is carried as pending", in.Slug)
				}
			default:
				t.Errorf("%s carried as %s", in.Slug, in.Status)
			}
		}
		switch {
		case i < carried.Wave && (w.StartedAt.IsZero() || w.EndedAt.IsZero()):
			t.Errorf("finished wave %q carried as %+v", w.Name, w)
		case i > carried.Wave && !w.StartedAt.IsZero():
			t.Errorf("future wave %q carried as started", w.Name)
		}
	}
	t.Logf("continued as new at %v: in flight %v, upgraded %v", h.env.Now(), inFlight, upgraded)
	if len(inFlight) == 0 || len(upgraded) == 0 || len(inFlight)+len(upgraded) != len(run1) {
		t.Fatalf("carried %d in flight %v and %d upgraded; run 1 requested %v", len(inFlight), inFlight, len(upgraded), run1)
	}

	// The next run: the upgrades in flight report to it; it asks only for the rest.
	h2 := newRolloutHarness(t)
	h2.fleet("5.9.0", mixedFleet())
	h2.env.SetStartTime(h.env.Now())
	for _, slug := range inFlight {
		at, _ := h.asked(slug)
		h2.requested, h2.requestedAt, h2.askedAt[slug] = append(h2.requested, slug), append(h2.requestedAt, at), at
		h2.running++
	}
	h2.run(next, 72*time.Hour)
	st := h2.result()
	if st.Phase != PhaseDone || st.Runs != 2 || st.Reason != "all 13 instance(s) upgraded to 5.10.0" {
		t.Fatalf("second run: phase %s (%s), runs %d", st.Phase, st.Reason, st.Runs)
	}
	run2 := h2.order()[len(inFlight):]
	for _, slug := range run2 {
		if slices.Contains(run1, slug) {
			t.Errorf("%s requested again after continuing as new", slug)
		}
	}
	if len(run1)+len(run2) != 13 {
		t.Fatalf("run 1 requested %v, run 2 %v", run1, run2)
	}
	if c := h2.f.comment("<!-- lifecycle:sla-breach:"); c != "" {
		t.Errorf("the second run announced the SLA breach again: %q", c)
	}
}

// The byte budget counts the state a continue-as-new carries (revision 2): a run 1 KB under the
// budget goes on only if the state would fit in that kilobyte. A run started at revision 1 keeps
// the old rule, and a run too young to have done anything does not continue as new at all.
func TestRolloutHistoryBudgetCountsTheCarriedState(t *testing.T) {
	for _, tc := range []struct {
		name     string
		revision int
		events   int
		want     bool
	}{
		{"revision 2", RevisionHistoryBudget, minRunEvents, true},
		{"revision 1", RevisionLocalActivities, minRunEvents, false},
		{"a young run", RevisionHistoryBudget, minRunEvents - 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRolloutHarness(t)
			h.fleet("5.9.0", mixedFleet())
			in := h.input(nil)
			in.Revision = tc.revision
			// The test environment does not count history bytes: play the history's growth.
			h.env.RegisterDelayedCallback(func() {
				h.env.SetCurrentHistoryLength(tc.events)
				h.env.SetCurrentHistorySize(rolloutHistoryBytes - 1<<10)
			}, time.Hour)
			h.run(in, 72*time.Hour)
			if !h.env.IsWorkflowCompleted() {
				t.Fatal("the run did not end")
			}
			var can *workflow.ContinueAsNewError
			err := h.env.GetWorkflowError()
			if got := errors.As(err, &can); got != tc.want {
				t.Fatalf("continued as new: %v, want %v (%v)", got, tc.want, err)
			}
			if !tc.want && h.result().Phase != PhaseDone {
				t.Fatalf("the run ended %s", h.result().Phase)
			}
		})
	}
}

func TestRolloutWaitsForMaintenanceWindows(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	// t1 (the 10 % trial wave, which starts Monday 10:40) may only be upgraded Monday 14:00–16:00.
	win := &spec.MaintenanceWindow{Days: []string{"mon"}, StartHour: 14, Hours: 2}
	c := h.f.config("t1")
	c.Spec.MaintenanceWindow = win
	h.f.putConfig(c)
	// c1 has an accounts link: the tracking issue names it by that.
	link := "https://github.com/sourcegraph/accounts/issues/4242"
	c = h.f.config("c1")
	c.Metadata.Labels[activities.AccountLabel] = link
	h.f.putConfig(c)
	var waiting RolloutState
	h.at(12*time.Hour-9*time.Hour, func(st RolloutState) { waiting = st }) // Monday 12:00
	h.run(h.input(nil), 72*time.Hour)
	st := h.result()

	if waiting.Phase != PhaseWaiting || !strings.Contains(waiting.Reason, "maintenance windows") || !strings.Contains(waiting.Reason, "14:00") {
		t.Fatalf("at 12:00: %s (%s)", waiting.Phase, waiting.Reason)
	}
	if w := waiting.Waves[waiting.Wave]; w.Name != "trials 10%" || w.StartedAt.IsZero() || w.Instances[0].Status != UpgradePending {
		t.Fatalf("waiting wave %+v", w)
	}
	at, ok := h.asked("t1")
	if !ok || !win.Contains(at) || !at.Equal(time.Date(2026, 12, 7, 14, 0, 0, 0, time.UTC)) {
		t.Fatalf("t1 asked at %v, want when its window opens", at)
	}
	if in := instanceOf(t, st, "t1"); in.Window == nil || in.Window.StartHour != 14 {
		t.Fatalf("t1's window not planned: %+v", in)
	}
	if e := waveByName(t, st, "trials 10%").Expected; e.Before(time.Date(2026, 12, 7, 14, 30, 0, 0, time.UTC)) {
		t.Fatalf("the plan expected the window's wave done at %v", e)
	}
	if st.Phase != PhaseDone || len(h.order()) != 13 {
		t.Fatalf("final %s (%s), requested %v", st.Phase, st.Reason, h.order())
	}
	if in := instanceOf(t, st, "c1"); in.Account != link {
		t.Fatalf("c1 planned as %+v", in)
	}
	body := inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody")
	last := body[len(body)-1].Body
	if !strings.Contains(last, "- [x] "+link+" ✅ upgraded") || strings.Contains(last, "`c1`") || !strings.Contains(last, "- [x] `c2` ✅ upgraded") {
		t.Fatalf("checklist must name c1 by its account:\n%s", last)
	}
	if s := h.f.comment("<!-- lifecycle:summary:"); strings.Contains(s, "c1") {
		t.Fatalf("summary names c1:\n%s", s)
	}
}

func TestRolloutControlDuringAnActivityIsNotLost(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	h.outcome["rctest"] = []UpgradeReport{parkedSoak}
	// The abort arrives while the rollout posts its halt comment (it waits for that activity).
	var sent bool
	var answer error
	h.f.onCall = func(name string, in any) {
		if name != "UpsertComment" || !strings.Contains(in.(activities.UpsertCommentInput).Marker, "lifecycle:halted:") || sent {
			return
		}
		sent = true
		done := make(chan struct{})
		h.env.UpdateWorkflow(UpdateRolloutControl, "abort-during-comment", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { answer = err; close(done) },
			OnAccept:   func() {},
			OnComplete: func(_ any, err error) { answer = err; close(done) },
		}, RolloutControl{Action: ControlAbort, By: "bob", Reason: "stop"})
		<-done
	}
	h.run(h.input(nil), 24*time.Hour)
	if !sent || answer != nil {
		t.Fatalf("abort sent %v, answer %v", sent, answer)
	}
	st := h.result()
	asked, _ := h.asked("rctest")
	parkedAt := asked.Add(h.upgradeTime)
	if st.Phase != PhaseAborted || !st.EndedAt.Equal(parkedAt) {
		t.Fatalf("phase %s, ended %v; the canary parked at %v: the abort must end the rollout at once", st.Phase, st.EndedAt, parkedAt)
	}
}

// A refused request (the instance was busy) is asked for again by the rollout's /retry, as a new
// attempt with its own Update and workflow ID; another is left out by /skip.
func TestRolloutRetryAndSkipInstances(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", map[string]spec.InstanceType{"rctest": spec.Internal, "t1": spec.Trial, "t2": spec.Trial, "c1": spec.Production})
	h.refuse["t1"] = "`upgrade` cannot start: `resume` is running for `t1`"
	h.refuse["c1"] = "`upgrade` cannot start: `teardown` is running for `c1`"
	var halted RolloutState
	h.at(2*time.Hour, func(st RolloutState) { halted = st })
	early := h.ctl(2*time.Hour, RolloutControl{Action: ControlRetry, Slug: "c1", By: "carol"})
	done := h.ctl(2*time.Hour, RolloutControl{Action: ControlRetry, Slug: "rctest", By: "carol"})
	noReason := h.ctl(2*time.Hour, RolloutControl{Action: ControlSkip, Slug: "t1", By: "carol"})
	unknown := h.ctl(2*time.Hour, RolloutControl{Action: ControlRetry, Slug: "nobody", By: "carol"})
	h.env.RegisterDelayedCallback(func() {
		h.mu.Lock()
		delete(h.refuse, "t1") // the resume finished
		h.mu.Unlock()
	}, 2*time.Hour)
	retry := h.ctl(2*time.Hour+time.Minute, RolloutControl{Action: ControlRetry, Slug: "t1", By: "carol"})
	skip := h.ctl(6*time.Hour, RolloutControl{Action: ControlSkip, Slug: "c1", By: "carol", Reason: "being torn down"})
	h.run(h.input(nil), 24*time.Hour)
	st := h.result()

	if halted.Phase != PhaseHalted || statusIn(halted, "t1").Status != UpgradeRejected {
		t.Fatalf("at 2h: phase %s, t1 %+v; want halted on the refused t1", halted.Phase, statusIn(halted, "t1"))
	}
	wantRejected(t, "retry of an instance in a wave not started", early, "has not started")
	wantRejected(t, "retry of an upgraded instance", done, "only a refused, rolled-back or failed one")
	wantRejected(t, "skip without a reason", noReason, "say why")
	wantRejected(t, "retry of an unknown instance", unknown, "not an instance of this rollout")
	wantAccepted(t, "retry t1", retry)
	wantAccepted(t, "skip c1", skip)
	if st.Phase != PhaseDone {
		t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
	}
	if got := h.attempts["t1"]; !slices.Equal(got, []int{2}) {
		t.Fatalf("t1's accepted requests had attempts %v, want one, the second attempt", got)
	}
	if t1 := statusIn(st, "t1"); t1.Status != UpgradeSucceeded || t1.Attempt != 2 {
		t.Fatalf("t1: %+v", t1)
	}
	if c1 := statusIn(st, "c1"); c1.Status != UpgradeSkipped || !strings.Contains(c1.Error, "left out by @carol: being torn down") {
		t.Fatalf("c1: %+v", c1)
	}
	for i, id := range h.updateIDs {
		if slices.Index(h.updateIDs, id) != i {
			t.Fatalf("update ID %s sent twice: %v", id, h.updateIDs)
		}
	}
}

// A fleet above rolloutFullList keeps only the exceptions of finished waves in its state, so
// what continue-as-new carries stays small.
func TestRolloutCompactsLargeFleets(t *testing.T) {
	h := newRolloutHarness(t)
	h.upgradeTime = 2 * time.Minute
	types := map[string]spec.InstanceType{"rctest": spec.Internal}
	for i := range 400 {
		types[fmt.Sprintf("c%03d", i)] = spec.Production
	}
	h.fleet("5.9.0", types)
	h.outcome["c399"] = []UpgradeReport{{Status: UpgradeRolledBack, Reason: "rolled back by carol"}}
	var mid RolloutState
	h.at(30*time.Hour, func(st RolloutState) { mid = st })
	h.ctl(60*time.Hour, RolloutControl{Action: ControlResume, By: "carol"})
	h.run(h.input(func(r *RolloutRequest) { r.Upgrade.Concurrency = 5 }), 100*time.Hour)
	st := h.result()
	if st.Phase != PhaseDone {
		t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
	}
	upgraded, kept := 0, 0
	for _, w := range st.Waves {
		upgraded += w.Upgraded
		kept += len(w.Instances)
	}
	if upgraded != 400 || kept != 1 || statusIn(st, "c399").Status != UpgradeRolledBack {
		t.Fatalf("upgraded %d, kept %d (want 400 counted and only the rolled-back c399 kept)", upgraded, kept)
	}
	if b, _ := json.Marshal(st); len(b) > 20_000 {
		t.Fatalf("the final state is %d bytes; compaction should keep it small", len(b))
	}
	if mid.Waves == nil || len(mid.Waves[0].Instances) != 0 || mid.Waves[0].Upgraded != 1 {
		t.Fatalf("the canary wave was not compacted mid-rollout: %+v", mid.Waves)
	}
	body := inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody")
	last := body[len(body)-1].Body
	if !strings.Contains(last, "upgraded") || strings.Contains(last, "c001") || len(last) > rolloutBodyLimit {
		t.Fatalf("the checklist of a large fleet should count, not list, the upgraded (%d chars):\n%.2000s", len(last), last)
	}
	if !strings.Contains(h.f.allComments(), "400 instance(s) upgraded to 5.10.0, 1 not") {
		t.Fatalf("summary:\n%.3000s", h.f.allComments())
	}
}

// statusIn finds an instance in the rollout's waves.
func statusIn(st RolloutState, slug string) RolloutInstance {
	for _, w := range st.Waves {
		for _, in := range w.Instances {
			if in.Slug == slug {
				return in
			}
		}
	}
	return RolloutInstance{}
}

// An instance torn down after the plan was made is not brought back: its entity's tombstone
// refuses the request (Gone), the rollout marks it gone and goes on without halting.
func TestRolloutLeavesATornDownInstanceGone(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	h.gone["t3"] = "instance `t3` was torn down on 2026-12-08 (sourcegraph/customer#9); file a new-instance request to create it again"
	h.run(h.input(nil), 72*time.Hour)
	st := h.result()
	if st.Phase != PhaseDone {
		t.Fatalf("phase %s (%s): a gone instance must not halt the rollout", st.Phase, st.Reason)
	}
	t3 := instanceOf(t, st, "t3")
	if t3.Status != UpgradeSkipped || !strings.HasPrefix(t3.Error, "gone: instance `t3` was torn down") {
		t.Fatalf("t3 %+v, want skipped as gone", t3)
	}
	if slices.Contains(h.order(), "t3") {
		t.Fatalf("t3 was upgraded: %v", h.order())
	}
}

// GitHub refuses issue bodies and comments over 65,536 characters. At 10,000 instances the
// tracking issue's checklist and every comment must stay under it, at every edit: detail for the
// wave in progress and the exceptions, counts for the rest.
func TestRolloutOf10000StaysUnderGitHubsBodyLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10,000-instance rollout")
	}
	const limit = 65536
	h := newRolloutHarness(t)
	h.upgradeTime = time.Minute
	types := map[string]spec.InstanceType{"rctest": spec.Internal}
	for i := range 10000 {
		typ := spec.Production
		if i%4 == 0 {
			typ = spec.Trial
		}
		types[fmt.Sprintf("customer-%05d", i)] = typ
	}
	h.fleet("5.9.0", types)
	h.outcome["customer-09999"] = []UpgradeReport{{Status: UpgradeRolledBack, Reason: "rolled back by carol"}}
	h.ctl(29*24*time.Hour, RolloutControl{Action: ControlResume, By: "carol"})
	h.run(h.input(func(r *RolloutRequest) { r.Upgrade.Concurrency = 5 }), 30*24*time.Hour)
	if st := h.result(); st.Phase != PhaseDone {
		t.Fatalf("phase %s (%s)", st.Phase, st.Reason)
	}
	longest := 0
	for _, in := range inputsOf[activities.EditIssueBodyInput](h.f, "EditIssueBody") {
		longest = max(longest, utf8.RuneCountInString(in.Body))
	}
	if longest == 0 || longest > limit {
		t.Errorf("the longest checklist edit is %d characters; GitHub refuses more than %d", longest, limit)
	}
	for _, c := range inputsOf[activities.CommentInput](h.f, "Comment") {
		if n := utf8.RuneCountInString(c.Body); n > limit {
			t.Errorf("a comment of %d characters", n)
		}
	}
	for _, c := range inputsOf[activities.UpsertCommentInput](h.f, "UpsertComment") {
		if n := utf8.RuneCountInString(c.Body); n > limit {
			t.Errorf("a status comment of %d characters", n)
		}
	}
	t.Logf("longest checklist: %d characters", longest)
}

// A rollout that waits for a human says why in the AttentionReason search attribute (the Web UI
// list's column), and clears it once it goes on.
func TestRolloutAttentionReasonWhileAwaitingApproval(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	var mu sync.Mutex
	var reasons []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		if v, ok := sa.GetKeyword(SAAttentionReason); ok {
			mu.Lock()
			if len(reasons) == 0 || reasons[len(reasons)-1] != v {
				reasons = append(reasons, v)
			}
			mu.Unlock()
		}
	}).Return(nil)
	h.ctl(6*time.Hour, RolloutControl{Action: ControlApprove, By: "bob", Reason: "canary and trials are fine"})
	h.run(h.input(func(r *RolloutRequest) { r.Upgrade.RequireApproval = true }), 72*time.Hour)
	h.result()
	var approval bool
	for i, r := range reasons {
		if strings.Contains(r, string(PhaseApproval)) && strings.Contains(r, "/approve") {
			approval = true
			if i+1 >= len(reasons) || reasons[i+1] != "" {
				t.Errorf("the reason was not cleared after the approval: %q", reasons)
			}
		}
	}
	if !approval {
		t.Errorf("AttentionReason values %q: none names the approval gate and /approve", reasons)
	}
}

// A rollout's control log keeps its last maxControls entries and counts the rest: pausing and
// resuming (or retrying an instance) for weeks must not grow the state continue-as-new carries.
func TestRolloutControlLogIsCapped(t *testing.T) {
	h := newRolloutHarness(t)
	h.fleet("5.9.0", mixedFleet())
	// Paused from the start, then resumed and paused again: maxControls+10 controls in all.
	n := maxControls + 10
	var answers []*ctlAnswer
	for i := range n {
		action := ControlPause
		if i%2 == 1 {
			action = ControlResume
		}
		answers = append(answers, h.ctl(time.Minute+time.Duration(i)*time.Second, RolloutControl{Action: action, By: "bob", Reason: fmt.Sprint(i)}))
	}
	var st RolloutState
	h.at(time.Hour, func(s RolloutState) { st = s })
	h.env.RegisterDelayedCallback(func() { h.env.CancelWorkflow() }, 2*time.Hour)
	h.run(h.input(nil), 2*time.Hour)
	for i, a := range answers {
		wantAccepted(t, fmt.Sprint("control ", i), a)
	}
	if len(st.Controls) != maxControls || st.EarlierControls != n-maxControls {
		t.Fatalf("%d controls kept, %d counted as earlier; want %d and %d", len(st.Controls), st.EarlierControls, maxControls, n-maxControls)
	}
	if last := st.Controls[maxControls-1]; last.Reason != fmt.Sprint(n-1) {
		t.Fatalf("the newest control is %+v, want the last one sent", last)
	}
}
