package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/metrics"
	"github.com/sourcegraph/lifecycle/internal/sla"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The SLA clocks of an operation: its kind, its deadlines and the warning and breach timers.

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
