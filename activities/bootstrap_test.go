package activities

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// A project fresh from CreateProject is unusable until billing is linked and its APIs enabled:
// GKE, Backup for GKE and Cloud SQL answer SERVICE_DISABLED, which the activities report as
// ServiceDisabled (not retried by the activity's policy: the workflow waits it out) naming the API;
// enabling without billing is refused as a precondition; both Bootstrap activities are
// idempotent.
func TestBootstrapMakesANewProjectUsable(t *testing.T) {
	s := startSim(t)
	ctx := context.Background()
	cc := cloudConfig(s)
	p, err := NewProjects(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.PollInterval = 10 * time.Millisecond
	g, err := NewGKE(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	g.PollInterval = 10 * time.Millisecond
	bk, err := NewGKEBackup(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bk.Close)
	sql, err := NewCloudSQL(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBootstrap(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	b.PollInterval = 10 * time.Millisecond
	env := activityEnv(p, g, bk, sql, b)
	project := spec.ProjectID("boot")

	if _, err := env.ExecuteActivity(p.EnsureProject, EnsureProjectInput{ProjectID: project}); err != nil {
		t.Fatalf("EnsureProject (with GCP_PROJECT_PARENT): %v", err)
	}
	disabled := func(act any, in any, service string) {
		t.Helper()
		_, err := env.ExecuteActivity(act, in)
		ae := appError(t, err, ErrServiceDisabled, true)
		var d ServiceDisabledDetails
		if err := ae.Details(&d); err != nil || d.Service != service || !strings.HasPrefix(d.Project, "projects/1") {
			t.Fatalf("details %+v (%v), want %s in projects/<number>", d, err, service)
		}
		if !strings.Contains(ae.Error(), service+" is not enabled in "+d.Project) {
			t.Fatalf("message %q does not name the API and the project", ae.Error())
		}
	}
	cluster := EnsureClusterInput{Project: project, Region: "us-central1", Cluster: spec.ClusterName, NodePool: spec.NodePoolName, Size: spec.Small}
	disabled(g.EnsureCluster, cluster, "container.googleapis.com")
	disabled(sql.EnsureSQLInstance, EnsureSQLInstanceInput{Project: project, Region: "us-central1", Size: spec.Small}, "sqladmin.googleapis.com")
	disabled(bk.EnsureBackupPlan, EnsureBackupPlanInput{Project: project, Region: "us-central1", Cluster: spec.ClusterName, Plan: spec.BackupPlanName}, "gkebackup.googleapis.com")

	_, err = env.ExecuteActivity(b.EnableServices, EnableServicesInput{ProjectID: project})
	if ae := appError(t, err, ErrPrecondition, true); !strings.Contains(ae.Error(), "Billing account for project") || !strings.Contains(ae.Error(), "billing step") {
		t.Fatalf("enabling without billing: %v", ae)
	}

	for i, wantLinked := range []bool{true, false} {
		v, err := env.ExecuteActivity(b.EnsureBilling, EnsureBillingInput{ProjectID: project})
		if err != nil {
			t.Fatal(err)
		}
		var res BillingResult
		if err := v.Get(&res); err != nil || res.Linked != wantLinked || res.BillingAccount != cc.BillingAccount {
			t.Fatalf("EnsureBilling #%d: %+v %v", i+1, res, err)
		}
	}
	for i, want := range []int{len(ProjectServices), 0} {
		v, err := env.ExecuteActivity(b.EnableServices, EnableServicesInput{ProjectID: project})
		if err != nil {
			t.Fatal(err)
		}
		var res EnableServicesResult
		if err := v.Get(&res); err != nil || len(res.Enabled) != want {
			t.Fatalf("EnableServices #%d: %+v %v, want %d enabled", i+1, res, err, want)
		}
	}
	// startSim has no propagation delay: the APIs answer at once.
	if _, err := env.ExecuteActivity(g.EnsureCluster, cluster); err != nil {
		t.Fatalf("EnsureCluster after the bootstrap: %v", err)
	}
	if _, err := env.ExecuteActivity(sql.EnsureSQLInstance, EnsureSQLInstanceInput{Project: project, Region: "us-central1", Size: spec.Small}); err != nil {
		t.Fatalf("EnsureSQLInstance after the bootstrap: %v", err)
	}
}

// Without a billing account configured the billing step parks at once, naming the variable.
func TestEnsureBillingNeedsAnAccount(t *testing.T) {
	s := startSim(t)
	cc := cloudConfig(s)
	cc.BillingAccount = ""
	b, err := NewBootstrap(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = activityEnv(b).ExecuteActivity(b.EnsureBilling, EnsureBillingInput{ProjectID: spec.ProjectID("boot")})
	if ae := appError(t, err, ErrInvalidArgument, true); !strings.Contains(ae.Error(), "GCP_BILLING_ACCOUNT") {
		t.Fatalf("%v", ae)
	}
}
