package main

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
	"github.com/sourcegraph/lifecycle/workflows"
)

// TestRegisterEverything builds every client against the simulator and registers all workflows and
// activities on Temporal's registry: a duplicate activity name (e.g. two structs with the same
// method) panics here, and registered activities resolve by name.
func TestRegisterEverything(t *testing.T) {
	s, err := stack.Start(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cloud := config.Cloud{GCPGRPCEndpoint: s.GRPCAddr(), GCPInsecure: true, SQLAdminEndpoint: s.URL() + "/",
		CloudBillingEndpoint: s.URL() + "/", ServiceUsageEndpoint: s.URL() + "/", ComputeEndpoint: s.URL() + "/compute/v1/",
		CloudflareAPIURL: s.URL() + "/client/v4", CloudflareToken: "t", ProbeURL: s.URL(), ConfigRepo: "sourcegraph/cloud", ConfigEnv: "prod"}
	c, err := activities.NewSet(context.Background(), config.GitHub{Token: "bot-token", APIURL: s.URL() + "/"}, cloud)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	asker := workflows.NewLifecycle(nil) // registration only: no Update is sent

	var ts testsuite.WorkflowTestSuite
	register(ts.NewTestWorkflowEnvironment(), c, asker)
	aenv := ts.NewTestActivityEnvironment()
	register(activitiesOnly{aenv}, c, asker)
	// Registered by method name: the simulator answers the probe of an unknown host as data.
	v, err := aenv.ExecuteActivity("Probe", activities.ProbeInput{Host: "nobody.sourcegraphcloud.com"})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.ProbeResult
	if err := v.Get(&res); err != nil || res.Healthy {
		t.Fatalf("probe of an unknown instance: %+v %v", res, err)
	}
	if _, err := aenv.ExecuteActivity("Close"); err == nil || !strings.Contains(err.Error(), "unable to find activityType=Close") {
		t.Fatalf("Close must not be an activity, got %v", err)
	}
}

func TestMissingCredentialsFailAtStart(t *testing.T) {
	_, err := activities.NewSet(context.Background(), config.GitHub{}, config.Cloud{CloudflareToken: "t"})
	if err == nil || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Fatalf("want a GITHUB_TOKEN error, got %v", err)
	}
	_, err = activities.NewSet(context.Background(), config.GitHub{Token: "x"}, config.Cloud{})
	if err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("want a CLOUDFLARE_API_TOKEN error, got %v", err)
	}
	// Against the real Resource Manager the project's parent and billing account are required.
	_, err = activities.NewSet(context.Background(), config.GitHub{Token: "x"}, config.Cloud{CloudflareToken: "t"})
	if err == nil || !strings.Contains(err.Error(), config.EnvProjectParent) {
		t.Fatalf("want a %s error, got %v", config.EnvProjectParent, err)
	}
	_, err = activities.NewSet(context.Background(), config.GitHub{Token: "x"}, config.Cloud{CloudflareToken: "t", ProjectParent: "folders/1"})
	if err == nil || !strings.Contains(err.Error(), config.EnvBillingAccount) {
		t.Fatalf("want a %s error, got %v", config.EnvBillingAccount, err)
	}
}

// activitiesOnly lets the activity test environment stand in for a worker's registry.
type activitiesOnly struct {
	*testsuite.TestActivityEnvironment
}

func (activitiesOnly) RegisterWorkflowWithOptions(any, workflow.RegisterOptions) {}
