package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// GitHub tries each webhook delivery once and never redelivers a failed one by itself, so a
// delivery the starter could not take (Temporal unreachable: it answers 5xx at once) would be lost.
// The redelivery sweeper is a Temporal Schedule, made by the worker at start, that runs
// RedeliverWebhooks every few minutes: it reads the webhook's recent deliveries and asks GitHub to
// redeliver each event whose latest delivery failed. Being a workflow, each sweep is durable and
// shows in the Web UI with what it found and redelivered (its result and details).

// RedeliveryScheduleID names the sweeper's Schedule (and prefixes its runs' workflow IDs).
const RedeliveryScheduleID = "webhook-redelivery"

// DefaultRedeliveryInterval is how often the sweeper runs; DefaultRedeliveryWindow how far back it
// reads: all GitHub keeps (activities: deliveries "from the past 3 days").
const (
	DefaultRedeliveryInterval = 5 * time.Minute
	DefaultRedeliveryWindow   = 72 * time.Hour
	// redeliveryMaxDeliveries: an event still failing after this many deliveries (the first and
	// its redeliveries) is left to on-call, listed in the sweep's result.
	redeliveryMaxDeliveries = 5
)

// RedeliveryInput is one sweep: the hooks to read and how far back.
type RedeliveryInput struct {
	Hooks    []activities.Hook `json:"hooks"`
	Window   time.Duration     `json:"window"`
	Revision int               `json:"revision,omitempty"`
}

// RedeliveryResult is what the sweep found and did, per hook; Errors names the hooks that could not
// be read (the next sweep tries again).
type RedeliveryResult struct {
	Hooks  []activities.SweepResult `json:"hooks"`
	Errors []string                 `json:"errors,omitempty"`
}

// RedeliverWebhooks sweeps each hook once (workflow type "RedeliverWebhooks").
func RedeliverWebhooks(ctx workflow.Context, in RedeliveryInput) (RedeliveryResult, error) {
	ctx = withRevision(ctx, in.Revision)
	var res RedeliveryResult
	window := in.Window
	if window <= 0 || window > DefaultRedeliveryWindow {
		window = DefaultRedeliveryWindow
	}
	since := workflow.Now(ctx).Add(-window)
	redelivered, gaveUp := 0, 0
	for _, h := range in.Hooks {
		out, err := execute[activities.SweepResult](ctx, GitHubCall, "Redeliver failed deliveries of webhook "+h.String(),
			(*activities.GitHub).SweepWebhookDeliveries, activities.SweepInput{Hook: h, Since: since, MaxDeliveries: redeliveryMaxDeliveries})
		if err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %s", h, errorMessage(err)))
			continue
		}
		res.Hooks = append(res.Hooks, out)
		redelivered += len(out.Redelivered)
		gaveUp += len(out.GaveUp)
	}
	summary := fmt.Sprintf("Swept %d webhook(s) since %s: %d event(s) redelivered, %d given up, %d hook(s) unreadable.",
		len(in.Hooks), since.UTC().Format(time.RFC3339), redelivered, gaveUp, len(res.Errors))
	workflow.SetCurrentDetails(ctx, summary)
	workflow.GetLogger(ctx).Info("webhook redelivery sweep", "redelivered", redelivered, "gaveUp", gaveUp, "errors", len(res.Errors))
	return res, nil
}

// EnsureRedeliverySchedule creates the sweeper's Schedule, or brings an existing one to this
// configuration (hooks, interval, window): every worker calls it at start, so it is idempotent.
func EnsureRedeliverySchedule(ctx context.Context, c client.Client, hooks []activities.Hook, every, window time.Duration) error {
	if len(hooks) == 0 {
		return errors.New("no webhook to sweep")
	}
	names := make([]string, len(hooks))
	for i, h := range hooks {
		names[i] = h.String()
	}
	in := RedeliveryInput{Hooks: hooks, Window: window, Revision: CurrentRevision}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID: RedeliveryScheduleID, Workflow: WorkflowRedeliverWebhooks, Args: []any{in}, TaskQueue: TaskQueue,
		// A sweep is quick; one that hangs must not hold back the next (the overlap policy skips).
		WorkflowExecutionTimeout: max(every, 2*time.Minute),
		StaticSummary:            "webhook redelivery sweep: " + strings.Join(names, ", "),
		StaticDetails: fmt.Sprintf("Reads the last %s of deliveries of %s and asks GitHub to redeliver each event whose latest delivery failed (docs/operating.md).",
			window, strings.Join(names, ", ")),
	}
	return ensureSchedule(ctx, c, RedeliveryScheduleID, spec, action, "created by the worker at start (LIFECYCLE_REDELIVERY_HOOKS)")
}
