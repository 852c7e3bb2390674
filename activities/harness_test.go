package activities

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// startSim runs the whole simulator in-process with short operation durations.
func startSim(t *testing.T) *sim.Sim {
	t.Helper()
	ms := sim.Duration(50 * time.Millisecond)
	s, err := stack.Start(sim.Config{Timings: sim.Timings{GKEOperation: ms, SQLOperation: ms, BackupOperation: ms, ProjectOperation: ms, Rollout: ms}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// cloudConfig points every client at the simulator.
func cloudConfig(s *sim.Sim) config.Cloud {
	return config.Cloud{
		GCPGRPCEndpoint: s.GRPCAddr(), GCPInsecure: true,
		SQLAdminEndpoint: s.URL() + "/", CloudBillingEndpoint: s.URL() + "/", ServiceUsageEndpoint: s.URL() + "/",
		ComputeEndpoint: s.URL() + "/compute/v1/",
		ProjectParent:   "folders/123", BillingAccount: "billingAccounts/0A1B2C-3D4E5F-000000",
		CloudflareAPIURL: s.URL() + "/client/v4", CloudflareToken: "test-token",
		ProbeURL:   s.URL(),
		ConfigRepo: "sourcegraph/cloud", ConfigEnv: "prod",
	}
}

// skipHelpers registers structs as the worker does: methods such as Close are not activities.
var skipHelpers = activity.RegisterOptions{SkipInvalidStructFunctions: true}

// activityEnv is Temporal's activity test environment with acts registered.
func activityEnv(acts ...any) *testsuite.TestActivityEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	for _, a := range acts {
		env.RegisterActivityWithOptions(a, skipHelpers)
	}
	return env
}

// runWithRetries executes one activity inside a workflow with a retry policy, on Temporal's test
// workflow environment, so transient errors are retried exactly as production retries them
// (including NextRetryDelay from Retry-After). out receives the result.
func runWithRetries(t *testing.T, act any, activityFn any, in any, out any) error {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivityWithOptions(act, skipHelpers)
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute,
			HeartbeatTimeout:    30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Millisecond, BackoffCoefficient: 1, MaximumAttempts: 5},
		})
		return workflow.ExecuteActivity(ctx, activityFn, in).Get(ctx, out)
	}, workflow.RegisterOptions{Name: "retryHarness"})
	env.ExecuteWorkflow("retryHarness")
	if !env.IsWorkflowCompleted() {
		t.Fatal("harness workflow did not complete")
	}
	return env.GetWorkflowError()
}

// appError unwraps the typed error an activity returned and checks its type and retryability.
func appError(t *testing.T, err error, wantType string, wantNonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		t.Fatalf("want a temporal.ApplicationError of type %s, got %T: %v", wantType, err, err)
	}
	if ae.Type() != wantType || ae.NonRetryable() != wantNonRetryable {
		t.Fatalf("want type %s nonRetryable=%v, got type %s nonRetryable=%v: %v", wantType, wantNonRetryable, ae.Type(), ae.NonRetryable(), ae)
	}
	return ae
}

// addFault installs a fault rule and returns a reader of how often it has fired (-1 once the rule is
// gone).
func addFault(t *testing.T, s *sim.Sim, f sim.Fault) func() int {
	t.Helper()
	added, err := s.AddFault(f)
	if err != nil {
		t.Fatal(err)
	}
	return func() int {
		for _, r := range s.Faults() {
			if r.ID == added.ID {
				return r.Fired
			}
		}
		return -1
	}
}

// countCalls installs a rule that only adds a nanosecond of latency, so how often it fired is how
// often the method was called (match: optional substring of the request).
func countCalls(t *testing.T, s *sim.Sim, api, method, match string) func() int {
	t.Helper()
	return addFault(t, s, sim.Fault{API: api, Method: method, Match: match, Latency: sim.Duration(time.Nanosecond)})
}

// ledger returns the simulator's counts for one resource key.
func ledger(s *sim.Sim, key string) sim.Counts { return s.Ledger()[key] }
