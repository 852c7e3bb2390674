package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
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

// Markers of the rollout's texts on the tracking issue.
const (
	rolloutSection = "<!-- lifecycle:rollout -->"
	// rolloutBodyLimit keeps the checklist under GitHub's 65,536-character issue body limit.
	rolloutBodyLimit = 60_000
)

// FleetUpgrade rolls a release out to the fleet (ID RolloutWorkflowID of its tracking issue):
// it checks the release, plans the waves and posts them, then upgrades the canary, the other
// internal instances and the waves of trials and customers, each instance through its entity
// workflow (so it never races another operation on the instance), at most Concurrency at a time,
// with a bake time between waves and each instance's maintenance window honoured. Failures past
// the threshold halt it at the end of the wave; a failed canary halts it before anyone else.
// Operators pause, resume, abort and approve it by Update (or slash command); the tracking issue's
// body carries the live checklist. It continues as new, carrying its state, before its history
// grows large, so a fleet of thousands stays well inside Temporal's limits.
func FleetUpgrade(ctx workflow.Context, in RolloutInput) (RolloutState, error) {
	ctx = withRevision(withSettings(ctx, in.Request.Settings), in.Revision)
	r := &rollout{req: in.Request, s: in.Request.Settings.WithDefaults(), id: workflow.GetInfo(ctx).WorkflowExecution.ID, rev: in.Revision}
	r.concurrency = in.Request.Upgrade.Concurrency
	if r.concurrency < forms.MinConcurrency || r.concurrency > forms.MaxConcurrency {
		r.concurrency = forms.DefaultConcurrency
	}
	fresh := in.State == nil
	if fresh {
		r.st = RolloutState{Version: strings.TrimPrefix(in.Request.Upgrade.Version, "v"), Phase: PhasePlanning, StartedAt: workflow.Now(ctx)}
	} else {
		r.st = *in.State
	}
	r.st.Runs++
	r.index()
	r.total = r.st.instances()
	if err := workflow.SetQueryHandler(ctx, QueryRollout, func() (RolloutState, error) { return r.st, nil }); err != nil {
		return r.st, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRolloutControl, r.control,
		workflow.UpdateHandlerOptions{Validator: r.validateControl}); err != nil {
		return r.st, err
	}
	r.reports = workflow.GetSignalChannel(ctx, SignalUpgradeReport)
	// Versioned: runs from before batches keep refilling each free slot at once.
	r.batches = workflow.GetVersion(ctx, "batch-fill", workflow.DefaultVersion, 1) == 1
	// Read once per run: a run continued as new reads it again, so it takes the background path
	// even if its first run did not.
	r.async = workflow.GetVersion(ctx, asyncPublishChange, workflow.DefaultVersion, 1) == 1
	if r.async && !fresh {
		// Reports drained at the last run's end may not have reached the issue yet.
		r.dirty = true
	}
	if fresh {
		if done := r.plan(ctx); done {
			return r.st, nil
		}
	}
	if sv := r.st.SLA; sv != nil && r.st.EndedAt.IsZero() {
		r.stopSLA = armSLA(ctx, sv, r.slaWarning, r.slaBreach)
	}
	return r.run(ctx)
}

// rollout is the workflow's state and handlers.
type rollout struct {
	// cause is the error chain behind a rejection, for the run's details only.
	cause string
	// rev is the run's revision: Update handlers get the workflow's root context, without it.
	rev         int
	req         RolloutRequest
	s           Settings
	id          string
	concurrency int
	st          RolloutState
	reports     workflow.ReceiveChannel
	// where maps a slug to its wave and position (lookups only, never iterated).
	where map[string][2]int
	// dirty: the tracking issue is behind the state; published: when it was last edited.
	dirty     bool
	published time.Time
	// changed wakes the main loop after a control.
	changed bool
	// total is the number of instances in the waves, counting compacted ones.
	total int
	// notified remembers one-off comments already posted in this run (approval asked, halted).
	notified map[string]bool
	stopSLA  workflow.CancelFunc
	// timerAt is when the pending wake-up timer fires (zero: none); woken is set when one fires.
	timerAt time.Time
	woken   bool
	// carriedBytes is the state's size as last measured, at history size carriedAt.
	carriedBytes, carriedAt int
	// batches: upgrades are asked in batches, the next once the last has settled, so their
	// version bumps share one config pull request (GitHub's write budget).
	batches bool
	// async: the tracking issue's edits and comments run in coroutines (asyncPublishChange), so a
	// slow or rate-limited GitHub never holds up the main loop. publishing: the publisher (the
	// checklist and status comment) is editing; writes counts the background GitHub writes in
	// flight (the publisher and one-off comments), which the run's end and continue-as-new wait
	// for; markedAt and marked are when the Web UI's details were last set, and the search
	// attributes last upserted.
	async      bool
	publishing bool
	writes     int
	markedAt   time.Time
	marked     string
	// backoff spaces the edits while GitHub keeps failing them (zero once one lands).
	backoff time.Duration
}

// asyncPublishChange is the workflow.GetVersion change ID of the background edits of the tracking
// issue (issue 17); runs from before it edit the issue inline, between the rollout's steps.
const asyncPublishChange = "async-publish"

func (r *rollout) index() {
	r.where = map[string][2]int{}
	for i, w := range r.st.Waves {
		for j, in := range w.Instances {
			r.where[in.Slug] = [2]int{i, j}
		}
	}
	if r.notified == nil {
		r.notified = map[string]bool{}
	}
}

// rolloutFullList is the fleet size up to which finished waves keep every instance in the state
// (and on the checklist). Above it, a finished wave keeps only its exceptions and a count of the
// upgraded, so the state continue-as-new carries stays small for a fleet of 10,000.
const rolloutFullList = 300

// compact drops the upgraded instances of finished waves from the state of a large fleet.
func (r *rollout) compact() {
	if r.total <= rolloutFullList {
		return
	}
	changed := false
	for i := range r.st.Waves {
		w := &r.st.Waves[i]
		if w.EndedAt.IsZero() {
			continue
		}
		kept := w.Instances[:0]
		for _, in := range w.Instances {
			if in.Status == UpgradeSucceeded {
				w.Upgraded++
				changed = true
				continue
			}
			kept = append(kept, in)
		}
		w.Instances = kept
	}
	if changed {
		r.index()
	}
}

// ---- plan ----

// plan checks the release, plans the waves and posts them. It reports whether the rollout has
// already ended (rejected, nothing to do, or a dry run).
func (r *rollout) plan(ctx workflow.Context) bool {
	r.publish(ctx) // the response: the request is being planned
	target := r.st.Version
	if err := spec.ValidateVersion("version", target); err != nil {
		return r.reject(ctx, err.Error())
	}
	rel, why, cause := publishedRelease(ctx, "Look up release "+target, target)
	if why != "" {
		if cause != nil {
			r.cause = logCause(ctx, "the release lookup", cause)
		}
		return r.reject(ctx, why)
	}
	r.st.Release = rel.URL
	fleet, err := listFleet(ctx, "List the fleet in the config repo")
	if err != nil {
		r.cause = logCause(ctx, "listing the fleet", err)
		return r.reject(ctx, "could not list the fleet: "+failureText("the config repo", err)+"; file the tracking issue again once it answers")
	}
	if v := fleetVersion(fleet); v != "" && spec.CompareVersions(target, v) < 0 {
		return r.reject(ctx, fmt.Sprintf("%s is older than %s, which customer instances already run: a rollout only moves forward", target, v))
	}
	r.st.Waves, r.st.Left = PlanRollout(fleet, target, r.s, r.req.Upgrade.RequireApproval)
	r.index()
	r.total = r.st.instances()
	now := workflow.Now(ctx)
	end := estimateWaves(r.st.Waves, now, r.s, r.concurrency)
	r.startSLA(ctx, rel)
	r.comment(ctx, "plan", r.renderPlan(end))
	if len(r.st.Waves) == 0 {
		r.st.Phase, r.st.Reason, r.st.EndedAt = PhaseDone, "nothing to upgrade: every instance is at "+target+" or left out", now
		r.finishSLA(ctx)
		r.publishFinal(ctx)
		return true
	}
	if r.req.Upgrade.DryRun {
		r.st.Phase, r.st.Reason, r.st.EndedAt = PhasePlanned, "dry run: nothing was upgraded", now
		r.publishFinal(ctx)
		return true
	}
	r.st.Phase = PhaseRunning
	r.publish(ctx)
	return false
}

func (r *rollout) reject(ctx workflow.Context, why string) bool {
	r.st.Phase, r.st.Reason, r.st.EndedAt = PhaseRejected, why, workflow.Now(ctx)
	r.publishFinal(ctx)
	return true
}

// startSLA: the upgrade SLA counts from the release ("within 1 week after patch",
// "within 10 working days after latest release").
func (r *rollout) startSLA(ctx workflow.Context, rel activities.ReleaseResult) {
	kind := sla.UpgradePatch
	if v := strings.Split(r.st.Version, "."); len(v) == 3 && v[2] == "0" {
		kind = sla.UpgradeMonthly
	}
	start := rel.PublishedAt
	if start.IsZero() {
		start = r.req.RequestedAt
	}
	d, err := computeDeadlines(ctx, r.s.SLA, kind, start, time.Time{})
	if err != nil {
		workflow.GetLogger(ctx).Error("SLA not tracked: the SLA policy is invalid", "error", err)
		return
	}
	r.st.SLA = &SLAView{Kind: string(kind), Start: d.Start, Response: d.Response, Resolution: d.Resolution, Warn: d.Warn, RespondedAt: workflow.Now(ctx)}
}

// ---- run ----

// run drives the waves until the rollout ends or continues as new.
func (r *rollout) run(ctx workflow.Context) (RolloutState, error) {
	for {
		// Reset before anything can yield: a control that arrives while step or refresh waits for
		// an activity must still wake the Await below.
		r.changed = false
		r.drain(ctx)
		if r.st.Aborted != nil {
			return r.end(ctx, PhaseAborted, fmt.Sprintf("aborted by @%s: %s", r.st.Aborted.By, orDash(r.st.Aborted.Reason)))
		}
		if r.st.Wave >= len(r.st.Waves) {
			return r.end(ctx, PhaseDone, r.summaryLine())
		}
		wake := r.step(ctx)
		if next := r.refresh(ctx); !next.IsZero() && (wake.IsZero() || next.Before(wake)) {
			wake = next
		}
		if r.continueAsNew(ctx) {
			// The edits in flight land before the state is carried (with the status comment's
			// ID they may set); the next run publishes what they missed.
			if err := r.settleWrites(ctx); err != nil {
				return r.st, err
			}
			r.drain(ctx)
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return r.st, err
			}
			r.drain(ctx)
			if r.stopSLA != nil {
				r.stopSLA()
			}
			return r.st, workflow.NewContinueAsNewError(ctx, FleetUpgrade, RolloutInput{Request: r.req, State: &r.st, Revision: CurrentRevision})
		}
		if err := r.wait(ctx, wake); err != nil {
			return r.st, err
		}
	}
}

// step moves the current wave on as far as it can now, and returns when to look again (zero:
// only on a report or a control).
func (r *rollout) step(ctx workflow.Context) time.Time {
	now := workflow.Now(ctx)
	w := &r.st.Waves[r.st.Wave]
	set := func(p RolloutPhase, why string) {
		if r.st.Phase != p || r.st.Reason != why {
			r.st.Phase, r.st.Reason, r.dirty = p, why, true
		}
	}
	switch {
	case r.st.Paused != nil:
		set(PhasePaused, fmt.Sprintf("paused by @%s: %s; the upgrades in flight finish, no new one starts", r.st.Paused.By, orDash(r.st.Paused.Reason)))
		return time.Time{}
	case w.StartedAt.IsZero() && now.Before(r.st.BakeUntil):
		set(PhaseBaking, fmt.Sprintf("baking until %s before wave %q", formatTime(r.st.BakeUntil), w.Name))
		return r.st.BakeUntil
	case w.StartedAt.IsZero() && w.Gate && r.st.Approved == nil:
		set(PhaseApproval, fmt.Sprintf("wave %q is the first with customers: it waits for `/approve` from a member of %s", w.Name, r.s.ApproverTeam))
		if r.once("approval-" + w.Name) {
			r.comment(ctx, "approval", fmt.Sprintf("### ✋ Approval needed\n\nThe next wave, **%s** (%d instances), is the first with customer instances. "+
				"A member of %s replies `/approve` to start it, or `/abort` to stop the rollout.\n", w.Name, len(w.Instances), r.s.ApproverTeam))
		}
		return time.Time{}
	}
	if w.StartedAt.IsZero() {
		w.StartedAt, r.dirty = now, true
		workflow.GetLogger(ctx).Info("wave started", "wave", w.Name, "instances", len(w.Instances))
	}
	wake := r.fill(ctx, w)
	if !r.settled(w) {
		if r.running() == 0 && !wake.IsZero() {
			set(PhaseWaiting, fmt.Sprintf("wave %q waits for maintenance windows (next opens %s)", w.Name, formatTime(wake)))
		} else {
			set(PhaseRunning, fmt.Sprintf("wave %q (%d of %d waves)", w.Name, r.st.Wave+1, len(r.st.Waves)))
		}
		return wake
	}
	if failed := r.failures(w); len(failed) > r.s.RolloutFailures {
		why := fmt.Sprintf("%d failed in wave %q (threshold %d): %s. Decide on each failed upgrade (`/retry <slug>`, `/skip <slug> <reason>`, `/rollback <slug>`): "+
			"the rollout goes on by itself once they succeed. `/resume` goes on past them, `/abort` stops here",
			len(failed), w.Name, r.s.RolloutFailures, strings.Join(failed, ", "))
		if w.Name == "canary" {
			why = "the canary failed, so no other instance was touched. " + why
		}
		set(PhaseHalted, why)
		if r.once("halted-" + w.Name) {
			r.comment(ctx, "halted", "### 🛑 Rollout halted\n\n"+why+".\n")
			workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"operation": string(forms.OpUpgradeFleet)}).Counter(metrics.RolloutHalts).Inc(1)
		}
		return time.Time{}
	}
	w.EndedAt, r.dirty = now, true
	r.st.Wave++
	r.compact()
	if r.st.Wave < len(r.st.Waves) {
		r.st.BakeUntil = now.Add(r.s.RolloutBake)
	}
	workflow.GetLogger(ctx).Info("wave done", "wave", w.Name)
	return now // look again at once: the next wave
}

// fill asks for upgrades of the wave's pending instances while fewer than the concurrency are in
// flight; in batches (r.batches), only once none is. It returns the earliest maintenance window
// opening among the instances that must wait.
func (r *rollout) fill(ctx workflow.Context, w *Wave) time.Time {
	var wake time.Time
	if r.batches && r.running() > 0 {
		return wake // a report wakes the loop
	}
	// Earlier waves come first: an instance there is pending again only after a /retry.
	var queue []*RolloutInstance
	for i := 0; i <= r.st.Wave && i < len(r.st.Waves); i++ {
		for j := range r.st.Waves[i].Instances {
			if r.st.Waves[i].Instances[j].Status == UpgradePending {
				queue = append(queue, &r.st.Waves[i].Instances[j])
			}
		}
	}
	var ask []*RolloutInstance
	for _, in := range queue {
		if r.running()+len(ask) >= r.concurrency {
			break
		}
		now := workflow.Now(ctx)
		if win := in.Window; win != nil {
			if next := win.Next(now); next.After(now) {
				if wake.IsZero() || next.Before(wake) {
					wake = next
				}
				continue
			}
		}
		ask = append(ask, in)
	}
	r.requestAll(ctx, ask)
	return wake
}

// requestAll asks for the instances' upgrades, all at once (local activities in one workflow
// task); a rollout of an earlier revision asked one after the other, and replays so.
func (r *rollout) requestAll(ctx workflow.Context, ask []*RolloutInstance) {
	if revision(ctx) < RevisionLocalActivities {
		for _, in := range ask {
			res, err := r.request(ctx, in, "", 0)(ctx)
			r.settle(ctx, in, res, err)
		}
		return
	}
	waits := make([]func(workflow.Context) (AskResult, error), len(ask))
	batch, size := "", 0
	if r.batches && len(ask) > 0 {
		batch, size = fmt.Sprintf("%s/%s/%d", r.id, ask[0].Slug, max(ask[0].Attempt, 1)), len(ask)
	}
	for i, in := range ask {
		waits[i] = r.request(ctx, in, batch, size)
	}
	for i, in := range ask {
		res, err := waits[i](ctx)
		r.settle(ctx, in, res, err)
	}
}

// request asks the instance's entity workflow for the upgrade (AskInstance, as the starter and mi
// do); an instance with no entity yet (made before this service) is adopted from its config.yaml,
// a torn-down one is not. batch and size name the batch it is asked in ("": none). The returned
// function waits for the answer.
func (r *rollout) request(ctx workflow.Context, in *RolloutInstance, batch string, size int) func(workflow.Context) (AskResult, error) {
	issue := r.req.Issue
	req := OperationRequest{Operation: forms.OpUpgrade, Slug: in.Slug, Issue: &issue, Requester: r.req.Requester,
		RequestedAt: r.req.RequestedAt, Settings: r.req.Settings,
		Upgrade: &UpgradeRequest{Version: r.st.Version, Rollout: r.id, Batch: batch, BatchSize: size}}
	in.Attempt = max(in.Attempt, 1)
	req.Attempt = in.Attempt
	wait := executeLocalAsync[AskResult](ctx, CloudCall, "Ask "+in.Slug+" for the upgrade to "+r.st.Version, localLifecycle.Request,
		Ask{Request: req, UpdateID: fmt.Sprintf("%s/%s/%d", r.id, in.Slug, in.Attempt), Via: "rollout " + r.id})
	r.dirty = true
	// Only the plan needed them; the state stays smaller without.
	in.Domain, in.Region, in.Size = "", "", ""
	return wait
}

// settle records the instance workflow's answer to a request.
func (r *rollout) settle(ctx workflow.Context, in *RolloutInstance, res AskResult, err error) {
	switch {
	case err != nil:
		workflow.GetLogger(ctx).Warn("could not ask the instance workflow for its upgrade", "instance", in.Slug, "err", err)
		in.Status, in.Error, in.EndedAt = UpgradeRejected, "could not ask the instance workflow (Temporal did not answer; the error is in the worker's log): `/retry "+in.Slug+"` asks again", workflow.Now(ctx)
	case res.Gone:
		// Torn down since the plan was made: nothing to upgrade, and it is not brought back.
		in.Status, in.Error, in.EndedAt = UpgradeSkipped, "gone: "+res.Rejected, workflow.Now(ctx)
	case res.Rejected != "" && !res.Duplicate:
		in.Status, in.Error, in.EndedAt = UpgradeRejected, res.Rejected, workflow.Now(ctx)
	default:
		in.Status = UpgradeRunning
	}
}

// wait sleeps until a report or a control arrives, or until wake. A timer outlives the wake-up
// that did not need it: each report wakes the loop, and starting a new timer for the same moment
// every time would add two events per report to a history that must stay small (issue 8).
// Rollouts of earlier revisions replay their one-timer-per-wait.
func (r *rollout) wait(ctx workflow.Context, wake time.Time) error {
	ready := func() bool { return r.reports.Len() > 0 || r.changed }
	if revision(ctx) < RevisionLocalActivities {
		return awaitUntil(ctx, wake, ready)
	}
	if !wake.IsZero() && (r.timerAt.IsZero() || wake.Before(r.timerAt)) {
		at := wake
		r.timerAt = at
		t := workflow.NewTimer(ctx, max(at.Sub(workflow.Now(ctx)), time.Millisecond))
		workflow.Go(ctx, func(ctx workflow.Context) {
			_ = t.Get(ctx, nil)
			if r.timerAt.Equal(at) {
				r.timerAt = time.Time{}
			}
			r.woken = true
		})
	}
	r.woken = false
	return workflow.Await(ctx, func() bool { return ready() || r.woken })
}

// drain applies the reports that have arrived.
func (r *rollout) drain(ctx workflow.Context) {
	for {
		var rep UpgradeReport
		if !r.reports.ReceiveAsync(&rep) {
			return
		}
		r.apply(rep)
	}
}

func (r *rollout) apply(rep UpgradeReport) {
	pos, ok := r.where[rep.Slug]
	if !ok {
		return
	}
	in := &r.st.Waves[pos[0]].Instances[pos[1]]
	if in.Status.done() || (rep.WorkflowID != "" && rep.WorkflowID != UpgradeWorkflowID(in.Slug, r.req.Issue, in.Attempt)) {
		return // a late report of an ended upgrade, or of an earlier attempt, changes nothing
	}
	r.dirty = true
	in.Status, in.Step, in.Error = rep.Status, rep.Step, rep.Error
	if rep.Reason != "" {
		in.Error = rep.Reason
	}
	if rep.PR != 0 {
		in.PR, in.PRURL = rep.PR, rep.PRURL
	}
	if rep.Backups != nil {
		in.Backups = rep.Backups
	}
	if rep.Status.done() {
		in.EndedAt = rep.At
		if rep.Status == UpgradeSucceeded {
			in.Error, in.Step = "", ""
		}
	}
}

func (r *rollout) inFlight(w *Wave) int {
	n := 0
	for _, in := range w.Instances {
		if in.Status == UpgradeRunning {
			n++
		}
	}
	return n
}

// running counts the upgrades in flight in the current and earlier waves (retried ones).
func (r *rollout) running() int {
	n := 0
	for i := 0; i <= r.st.Wave && i < len(r.st.Waves); i++ {
		n += r.inFlight(&r.st.Waves[i])
	}
	return n
}

// settled: nothing of the wave is pending or running (parked ones wait for people).
func (r *rollout) settled(w *Wave) bool {
	for _, in := range w.Instances {
		if in.Status == UpgradePending || in.Status == UpgradeRunning {
			return false
		}
	}
	return true
}

// failures lists the wave's failed instances an operator has not resumed past.
func (r *rollout) failures(w *Wave) []string {
	var out []string
	for _, in := range w.Instances {
		if in.Status.failed() && !in.Accepted {
			out = append(out, fmt.Sprintf("%s (%s)", r.name(in), in.Status))
		}
	}
	return out
}

// continueAsNew: the history has grown past the setting or the byte budget (or Temporal suggests it).
func (r *rollout) continueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	size := info.GetCurrentHistorySize()
	switch rev := revision(ctx); {
	case rev >= RevisionHistoryBudget:
		if overBudget(size, r.carried(size), info.GetCurrentHistoryLength()) {
			return true
		}
	case rev >= RevisionLocalActivities && size >= rolloutHistoryBytes:
		return true
	}
	return info.GetCurrentHistoryLength() >= r.s.RolloutHistory || info.GetContinueAsNewSuggested()
}

// rolloutHistoryBytes caps a rollout run's history in bytes, the state it carries on included,
// leaving 1 MB of the 5 MB that is 10 % of Temporal's 50 MB for the events of the run's last
// task. At 10,000 instances a run of 4,000 events reached 5.2 MB: the carried state (1.2 MB),
// the reports and the fleet listing, so the length alone does not keep it small; and with the
// cap checked against the history so far, runs still ended at 3.9 to 5.5 MB, the state landing
// on top.
const rolloutHistoryBytes = 4 << 20

// minRunEvents keeps a run whose carried state alone nears the budget (a fleet of tens of
// thousands) from continuing as new before it has done anything.
const minRunEvents = 500

// overBudget: a run of size bytes that would end with carried more.
func overBudget(size, carried, events int) bool {
	return events >= minRunEvents && size+carried >= rolloutHistoryBytes
}

// carried estimates what continuing as new would write: the state as JSON (the codec adds a few
// bytes). Marshalling a 10,000-instance state takes milliseconds, so it is measured from half the
// budget on, and again after every 256 KB of history as instances finish and waves compact.
func (r *rollout) carried(size int) int {
	if size < rolloutHistoryBytes/2 {
		return 0
	}
	if r.carriedAt == 0 || size-r.carriedAt >= 256<<10 {
		b, err := json.Marshal(r.st) //workflowcheck:ignore (deterministic: struct fields in order, map keys sorted)
		if err != nil {
			return 0
		}
		r.carriedBytes, r.carriedAt = len(b), size
	}
	return r.carriedBytes
}

func (r *rollout) end(ctx workflow.Context, p RolloutPhase, why string) (RolloutState, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return r.st, err
	}
	r.drain(ctx)
	r.st.Phase, r.st.Reason, r.st.EndedAt = p, why, workflow.Now(ctx)
	if p == PhaseDone {
		r.finishSLA(ctx)
	}
	if r.stopSLA != nil {
		r.stopSLA()
	}
	r.publishFinal(ctx)
	r.commentNow(ctx, "summary", r.renderSummary())
	return r.st, nil
}

func (r *rollout) finishSLA(ctx workflow.Context) {
	if sv := r.st.SLA; sv != nil {
		sv.ResolvedAt = workflow.Now(ctx)
		if !sv.Resolution.IsZero() && sv.ResolvedAt.After(sv.Resolution) {
			sv.Breached = true
		}
	}
}

// ---- controls ----

func (r *rollout) validateControl(ctx workflow.Context, c RolloutControl) error {
	if strings.TrimSpace(c.By) == "" {
		return errors.New("say who decides: set \"by\" to your GitHub login")
	}
	if !r.st.EndedAt.IsZero() || r.st.Phase == PhasePlanning {
		return fmt.Errorf("the rollout is %s: there is nothing to %s", r.st.Phase, c.Action)
	}
	switch c.Action {
	case ControlPause:
		if r.st.Paused != nil {
			return fmt.Errorf("the rollout is already paused (by @%s)", r.st.Paused.By)
		}
	case ControlResume:
		if r.st.Paused == nil && r.st.Phase != PhaseHalted {
			return fmt.Errorf("the rollout is %s, neither paused nor halted: there is nothing to resume", r.st.Phase)
		}
	case ControlApprove:
		if r.st.Approved != nil {
			return fmt.Errorf("the customer waves were already approved by @%s", r.st.Approved.By)
		}
		gated := false
		for _, w := range r.st.Waves {
			gated = gated || w.Gate
		}
		if !gated {
			return errors.New("this rollout has no approval gate (the form did not ask for one)")
		}
		// GitHub logins are case-insensitive, and "@alice" is alice (as the teardown gate has it).
		if strings.EqualFold(tdLogin(c.By), tdLogin(r.req.Requester)) {
			return fmt.Errorf("@%s filed the tracking issue: approval needs a second person", tdLogin(c.By))
		}
	case ControlAbort:
	case ControlRetry, ControlSkip:
		pos, ok := r.where[c.Slug]
		if !ok {
			return fmt.Errorf("`%s` is not an instance of this rollout (or was upgraded already)", c.Slug)
		}
		if pos[0] > r.st.Wave {
			return fmt.Errorf("`%s` is in wave %q, which has not started", c.Slug, r.st.Waves[pos[0]].Name)
		}
		in := r.st.Waves[pos[0]].Instances[pos[1]]
		switch {
		case in.Status == UpgradeParked:
			return fmt.Errorf("the upgrade of `%s` is parked: decide on it instead (`/retry %s`, `/skip %s <reason>` reach its parked step)", c.Slug, c.Slug, c.Slug)
		case c.Action == ControlRetry && !in.Status.failed():
			return fmt.Errorf("the upgrade of `%s` is %s: only a refused, rolled-back or failed one is asked for again", c.Slug, in.Status)
		case c.Action == ControlSkip && in.Status != UpgradePending && !in.Status.failed():
			return fmt.Errorf("the upgrade of `%s` is %s: only a pending, refused, rolled-back or failed one can be left out", c.Slug, in.Status)
		case c.Action == ControlSkip && strings.TrimSpace(c.Reason) == "":
			return fmt.Errorf("say why `%s` is left out: `/skip %s <reason>`", c.Slug, c.Slug)
		}
	default:
		return fmt.Errorf("action %q is not one of pause, resume, abort, approve, retry, skip", c.Action)
	}
	return nil
}

func (r *rollout) control(ctx workflow.Context, c RolloutControl) (string, error) {
	ctx = withRevision(ctx, r.rev)
	c.At = workflow.Now(ctx)
	r.st.Controls = append(r.st.Controls, c)
	if revision(ctx) >= RevisionCorrectness {
		r.st.Controls, r.st.EarlierControls = capLog(r.st.Controls, r.st.EarlierControls, maxControls)
	}
	r.changed, r.dirty = true, true
	switch c.Action {
	case ControlPause:
		r.st.Paused = &c
		return "rollout paused: the upgrades in flight finish, no new one starts", nil
	case ControlResume:
		r.st.Paused = nil
		if r.st.Phase == PhaseHalted && r.st.Wave < len(r.st.Waves) {
			w := &r.st.Waves[r.st.Wave]
			for i := range w.Instances {
				if w.Instances[i].Status.failed() {
					w.Instances[i].Accepted = true
				}
			}
			return fmt.Sprintf("rollout resumed past the failures of wave %q", w.Name), nil
		}
		return "rollout resumed", nil
	case ControlApprove:
		r.st.Approved = &c
		return "customer waves approved", nil
	case ControlRetry, ControlSkip:
		pos := r.where[c.Slug]
		in := &r.st.Waves[pos[0]].Instances[pos[1]]
		if c.Action == ControlRetry {
			in.Status, in.Error, in.Step, in.Accepted, in.EndedAt = UpgradePending, "", "", false, time.Time{}
			in.Attempt++ // a new attempt: its own Update and workflow ID
			return fmt.Sprintf("`%s` will be asked for its upgrade again", c.Slug), nil
		}
		in.Status, in.Error, in.EndedAt = UpgradeSkipped, fmt.Sprintf("left out by @%s: %s", c.By, c.Reason), c.At
		return fmt.Sprintf("`%s` is left out of the rollout", c.Slug), nil
	}
	r.st.Aborted = &c
	return "rollout aborted: no new upgrade starts; the ones in flight finish on their own", nil
}

// ---- the tracking issue ----

// refresh edits the tracking issue when the state moved and the last edit is old enough; it
// returns when the next edit is due (zero: nothing pending).
func (r *rollout) refresh(ctx workflow.Context) time.Time {
	if !r.dirty {
		return time.Time{}
	}
	now := workflow.Now(ctx)
	if r.publishing {
		// GitHub is slow: the Web UI and the search attributes go on without it, and the
		// publisher's end wakes the loop for the next edit.
		if !now.Before(r.markedAt.Add(r.s.RolloutRefresh)) {
			r.mark(ctx)
		}
		return time.Time{}
	}
	if due := r.published.Add(max(r.s.RolloutRefresh, r.backoff)); now.Before(due) {
		return due
	}
	r.publish(ctx)
	return time.Time{}
}

// publish brings the tracking issue up to the state: inline (runs from before
// asyncPublishChange), or by the background publisher, which a publish in flight leaves to render
// the latest state once it ends.
func (r *rollout) publish(ctx workflow.Context) {
	if !r.async {
		r.publishNow(ctx)
		return
	}
	r.dirty = true
	r.mark(ctx)
	if r.publishing {
		return
	}
	r.publishing = true
	r.background(ctx, func(ctx workflow.Context) {
		r.edit(ctx)
		// The next edit is due RolloutRefresh after this one ended, not began: a rate-limited
		// GitHub is not asked again at once.
		r.publishing, r.published = false, workflow.Now(ctx)
		if r.dirty {
			r.changed = true // the state moved during the edit: wake the main loop
		}
	})
}

// edited: after a failure a refresh edits again, a minute later and doubling up to
// maxEditBackoff while GitHub keeps failing (a secondary rate limit asks for a minute at least),
// so an outage costs a few events an hour. Runs from before asyncPublishChange edited again only
// once the state moved, and replay so.
func (r *rollout) edited(failed bool) {
	switch {
	case !r.async:
	case failed:
		r.dirty = true
		r.backoff = min(max(2*r.backoff, time.Minute), maxEditBackoff)
	default:
		r.backoff = 0
	}
}

// maxEditBackoff bounds how long the issue can lag behind the state once GitHub answers again.
const maxEditBackoff = 10 * time.Minute

// publishFinal publishes the state a run ends with, after the background writes in flight, so
// none of them lands over it.
func (r *rollout) publishFinal(ctx workflow.Context) {
	_ = r.settleWrites(ctx)
	r.publishNow(ctx)
}

// settleWrites waits for the background GitHub writes in flight.
func (r *rollout) settleWrites(ctx workflow.Context) error {
	if !r.async {
		return nil
	}
	return workflow.Await(ctx, func() bool { return r.writes == 0 })
}

// background runs a GitHub write in a coroutine, counted in writes.
func (r *rollout) background(ctx workflow.Context, write func(workflow.Context)) {
	r.writes++
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { r.writes-- }()
		write(ctx)
	})
}

// publishNow edits the checklist in the issue body and the status comment, and the Web UI's
// details. Failures to reach GitHub are logged: the next refresh tries again.
func (r *rollout) publishNow(ctx workflow.Context) {
	r.dirty, r.published = false, workflow.Now(ctx)
	r.mark(ctx)
	r.edit(ctx)
}

// mark sets the Web UI's details and the search attributes, which need no GitHub. Background runs
// upsert the attributes only when they change: no history event per refresh.
func (r *rollout) mark(ctx workflow.Context) {
	r.markedAt = workflow.Now(ctx)
	workflow.SetCurrentDetails(ctx, r.renderStatus("")+causeDetails(r.cause))
	is := r.req.Issue
	attention := r.st.Phase == PhaseHalted || r.st.Phase == PhaseApproval
	sas := []temporal.SearchAttributeUpdate{SAOperation.ValueSet(string(forms.OpUpgradeFleet)), SAIssue.ValueSet(is.String()),
		SANeedsAttention.ValueSet(attention), SARevision.ValueSet(int64(revision(ctx)))}
	reason := ""
	// Versioned: runs from before this change replay without the reason in their upserts.
	if workflow.GetVersion(ctx, "attention-reason", workflow.DefaultVersion, 1) == 1 {
		if attention {
			reason = clip(fmt.Sprintf("%s %s: %s", forms.OpUpgradeFleet, r.st.Phase, r.st.Reason), attentionReasonMax)
		}
		sas = append(sas, SAAttentionReason.ValueSet(reason))
	}
	if r.async {
		key := fmt.Sprintf("%t|%s", attention, reason)
		if key == r.marked {
			return
		}
		r.marked = key
	}
	_ = workflow.UpsertTypedSearchAttributes(ctx, sas...)
}

// edit writes the checklist and the status comment, each rendered when it is sent: a background
// edit that waited for GitHub sends the latest state, never the one it was asked for.
func (r *rollout) edit(ctx workflow.Context) {
	r.dirty = false
	is := r.req.Issue
	failed := false
	if len(r.st.Waves) > 0 {
		if _, err := executeLocal[activities.EditIssueBodyResult](ctx, GitHubCall, "Tick the checklist on the tracking issue", localGitHub.EditIssueBody,
			activities.EditIssueBodyInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Section: rolloutSection, Body: r.renderChecklist()}); err != nil {
			workflow.GetLogger(ctx).Warn("could not edit the tracking issue's checklist", "error", err)
			failed = true
		}
	}
	c, err := executeLocal[activities.CommentResult](ctx, GitHubCall, "Update the status comment on the tracking issue", localGitHub.UpsertComment,
		activities.UpsertCommentInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Marker: r.marker("status"),
			Body: r.renderStatus(r.s.RunURL(r.id)), CommentID: r.st.CommentID})
	if err != nil {
		workflow.GetLogger(ctx).Warn("could not update the status comment", "error", err)
		failed = true
	} else {
		r.st.CommentID = c.ID
	}
	r.edited(failed)
}

func (r *rollout) marker(kind string) string {
	return fmt.Sprintf("<!-- lifecycle:%s:%s -->", kind, r.id)
}

// comment posts a one-off comment (the plan, a halt, an SLA notice), once per kind and run: in
// the background when async.
func (r *rollout) comment(ctx workflow.Context, kind, body string) {
	if r.async {
		r.background(ctx, func(ctx workflow.Context) { r.commentNow(ctx, kind, body) })
		return
	}
	r.commentNow(ctx, kind, body)
}

func (r *rollout) commentNow(ctx workflow.Context, kind, body string) {
	is := r.req.Issue
	if _, err := executeLocal[activities.CommentResult](ctx, GitHubCall, "Comment on the tracking issue: "+kind, localGitHub.UpsertComment,
		activities.UpsertCommentInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Marker: r.marker(kind), Body: body}); err != nil {
		workflow.GetLogger(ctx).Warn("could not comment on the tracking issue", "kind", kind, "error", err)
	}
}

// once reports whether key is new in this run.
func (r *rollout) once(key string) bool {
	if r.notified[key] {
		return false
	}
	r.notified[key] = true
	return true
}

func (r *rollout) slaWarning(ctx workflow.Context) {
	r.st.SLA.Warned = true
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"operation": string(forms.OpUpgradeFleet)}).Counter(metrics.SLAWarnings).Inc(1)
	r.comment(ctx, "sla-warning", fmt.Sprintf("### ⏰ SLA warning\n\n80%% of the upgrade window has passed: the fleet must be on %s by **%s**. The rollout is %s.\n",
		r.st.Version, formatTime(r.st.SLA.Resolution), r.st.Phase))
	r.dirty, r.changed = true, true
}

func (r *rollout) slaBreach(ctx workflow.Context) {
	r.st.SLA.Breached = true
	workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"operation": string(forms.OpUpgradeFleet)}).Counter(metrics.SLABreaches).Inc(1)
	_ = workflow.UpsertTypedSearchAttributes(ctx, SASLABreached.ValueSet(true))
	is := r.req.Issue
	if _, err := execute[activities.LabelsResult](ctx, GitHubCall, "Label the issue "+SLABreachedLabel, (*activities.GitHub).AddLabels,
		activities.LabelsInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Labels: []string{SLABreachedLabel}}); err != nil {
		workflow.GetLogger(ctx).Warn("could not label the SLA breach", "error", err)
	}
	r.comment(ctx, "sla-breach", fmt.Sprintf("### 🚨 SLA breached\n\nThe fleet was due on %s by **%s**. The rollout is %s.\n",
		r.st.Version, formatTime(r.st.SLA.Resolution), r.st.Phase))
	r.dirty, r.changed = true, true
}
