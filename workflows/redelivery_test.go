package workflows

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// A sweep reads each hook once from the window's start and reports per hook what it redelivered;
// a hook that cannot be read is named in Errors and does not stop the others.
func TestRedeliverWebhooksReportsEachHook(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RedeliverWebhooks, workflow.RegisterOptions{Name: WorkflowRedeliverWebhooks})
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	var sinces []time.Time
	env.RegisterActivityWithOptions(func(_ context.Context, in activities.SweepInput) (activities.SweepResult, error) {
		sinces = append(sinces, in.Since)
		if in.Hook.Repo == "broken" {
			return activities.SweepResult{}, temporal.NewNonRetryableApplicationError("HTTP 404: Not Found", "NotFound", nil)
		}
		return activities.SweepResult{Hook: in.Hook.String(), Listed: 3, Events: 2,
			Redelivered: []activities.DeliveryNote{{GUID: "g1", ID: 7, Event: "issues", Action: "opened", StatusCode: 503, Deliveries: 1}}}, nil
	}, activity.RegisterOptions{Name: "SweepWebhookDeliveries"})
	hooks := []activities.Hook{{Owner: "sourcegraph", Repo: "customer", ID: 1}, {Owner: "sourcegraph", Repo: "broken", ID: 2}}
	env.ExecuteWorkflow(RedeliverWebhooks, RedeliveryInput{Hooks: hooks, Window: time.Hour, Revision: CurrentRevision})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res RedeliveryResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Hooks) != 1 || len(res.Hooks[0].Redelivered) != 1 || res.Hooks[0].Hook != "sourcegraph/customer:1" {
		t.Fatalf("result hooks = %+v", res.Hooks)
	}
	if len(res.Errors) != 1 || res.Errors[0][:len("sourcegraph/broken:2")] != "sourcegraph/broken:2" {
		t.Fatalf("errors = %q", res.Errors)
	}
	if len(sinces) != 2 || !sinces[0].Equal(start.Add(-time.Hour)) {
		t.Fatalf("read since %v, want %v", sinces, start.Add(-time.Hour))
	}
}
