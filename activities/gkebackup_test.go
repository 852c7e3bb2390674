package activities

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
)

// gkeBackupFixture starts the simulator with the instance's project and cluster in place and
// returns Backup for GKE activities polling fast.
func gkeBackupFixture(t *testing.T, clusters ...string) (*sim.Sim, *GKEBackup, spec.GCPStatus) {
	t.Helper()
	s, g, st := gkeFixtureAt(t, "acme", "europe-west3")
	ctx := context.Background()
	for _, c := range append([]string{st.Cluster}, clusters...) {
		if _, err := g.EnsureCluster(ctx, EnsureClusterInput{Project: st.ProjectID, Region: st.Region, Cluster: c, NodePool: st.NodePool, Size: spec.Small}); err != nil {
			t.Fatalf("EnsureCluster %s: %v", c, err)
		}
	}
	b, err := NewGKEBackup(ctx, cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.PollInterval = 10 * time.Millisecond
	return s, b, st
}

func gkeBackupPlanInput(st spec.GCPStatus) EnsureBackupPlanInput {
	return EnsureBackupPlanInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, Plan: st.BackupPlan}
}

func gkeBackupPlanKey(st spec.GCPStatus) string {
	return "gkebackup/" + gkeBackupPlanName(st.ProjectID, st.Region, st.BackupPlan)
}

func gkeBackupMustPlan(t *testing.T, b *GKEBackup, st spec.GCPStatus) {
	t.Helper()
	if _, err := activityEnv(b).ExecuteActivity(b.EnsureBackupPlan, gkeBackupPlanInput(st)); err != nil {
		t.Fatalf("EnsureBackupPlan: %v", err)
	}
}

func gkeBackupTake(t *testing.T, b *GKEBackup, st spec.GCPStatus, name string) BackupGKEResult {
	t.Helper()
	v, err := activityEnv(b).ExecuteActivity(b.BackupGKE, BackupGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan, Name: name})
	if err != nil {
		t.Fatalf("BackupGKE %s: %v", name, err)
	}
	var r BackupGKEResult
	if err := v.Get(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGKEBackupEnsurePlanTwiceCreatesOnce(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	env := activityEnv(b)
	for i := 0; i < 2; i++ {
		v, err := env.ExecuteActivity(b.EnsureBackupPlan, gkeBackupPlanInput(st))
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var r BackupPlanResult
		if err := v.Get(&r); err != nil {
			t.Fatal(err)
		}
		if r.State != "READY" || r.CronSchedule != GKEBackupCron || r.RetainDays != 90 || r.Updated {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	if c := ledger(s, gkeBackupPlanKey(st)); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("ledger %+v, want created once, never updated", c)
	}
	bp, err := b.client.GetBackupPlan(context.Background(), &gkebackuppb.GetBackupPlanRequest{Name: gkeBackupPlanName(st.ProjectID, st.Region, st.BackupPlan)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := bp.GetBackupConfig(); !cfg.GetAllNamespaces() || !cfg.GetIncludeVolumeData() || !cfg.GetIncludeSecrets() {
		t.Fatalf("backup config %v", cfg)
	}
}

// A plan whose policy drifted (someone edited it) is brought back in line, once.
func TestGKEBackupEnsurePlanFixesDrift(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	gkeBackupMustPlan(t, b, st)
	ctx := context.Background()
	name := gkeBackupPlanName(st.ProjectID, st.Region, st.BackupPlan)
	op, err := b.client.UpdateBackupPlan(ctx, &gkebackuppb.UpdateBackupPlanRequest{
		BackupPlan: &gkebackuppb.BackupPlan{Name: name, RetentionPolicy: &gkebackuppb.BackupPlan_RetentionPolicy{BackupRetainDays: 7},
			BackupSchedule: &gkebackuppb.BackupPlan_Schedule{CronSchedule: "0 */6 * * *"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"retention_policy", "backup_schedule"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// op.Wait backs off for a second; poll quickly instead.
	if err := waitLongRunning(ctx, 10*time.Millisecond, "drift the plan", op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, ""); err != nil {
		t.Fatal(err)
	}
	env := activityEnv(b)
	for i, wantUpdated := range []bool{true, false} {
		v, err := env.ExecuteActivity(b.EnsureBackupPlan, gkeBackupPlanInput(st))
		if err != nil {
			t.Fatal(err)
		}
		var r BackupPlanResult
		if err := v.Get(&r); err != nil || r.Updated != wantUpdated || r.CronSchedule != GKEBackupCron || r.RetainDays != 90 {
			t.Fatalf("run %d: %+v, %v", i, r, err)
		}
	}
	if c := ledger(s, gkeBackupPlanKey(st)); c.Created != 1 || c.Mutated != 2 {
		t.Fatalf("ledger %+v, want the drift and our one fix", c)
	}
}

func TestGKEBackupEnsurePlanOtherClusterIsConflict(t *testing.T) {
	_, b, st := gkeBackupFixture(t, "other")
	in := gkeBackupPlanInput(st)
	in.Cluster = "other"
	env := activityEnv(b)
	if _, err := env.ExecuteActivity(b.EnsureBackupPlan, in); err != nil {
		t.Fatal(err)
	}
	_, err := env.ExecuteActivity(b.EnsureBackupPlan, gkeBackupPlanInput(st))
	ae := appError(t, err, ErrConflict, true)
	if !strings.Contains(ae.Error(), "clusters/other") || !strings.Contains(ae.Error(), "What to do") {
		t.Fatalf("message %q", ae.Error())
	}
}

func TestGKEBackupTwiceTakesOneBackup(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	gkeBackupMustPlan(t, b, st)
	first := gkeBackupTake(t, b, st, "pre-upgrade-5-10-0")
	second := gkeBackupTake(t, b, st, "pre-upgrade-5-10-0")
	want := gkeBackupPlanName(st.ProjectID, st.Region, st.BackupPlan) + "/backups/pre-upgrade-5-10-0"
	if first.Name != want || first.State != "SUCCEEDED" || second != first {
		t.Fatalf("first %+v, second %+v; want %s SUCCEEDED twice", first, second, want)
	}
	if c := ledger(s, "gkebackup/"+want); c.Created != 1 {
		t.Fatalf("ledger %+v, want one backup", c)
	}
	_, err := activityEnv(b).ExecuteActivity(b.BackupGKE, BackupGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan})
	appError(t, err, ErrInvalidArgument, true)
}

func TestGKEBackupTransientErrorsAreRetried(t *testing.T) {
	for _, f := range []sim.Fault{
		{API: "gkebackup", Method: "CreateBackup", Code: "UNAVAILABLE", Count: 2},
		{API: "gkebackup", Method: "CreateBackup", Code: "RESOURCE_EXHAUSTED", RetryAfter: sim.Duration(20 * time.Millisecond), Count: 2},
	} {
		t.Run(f.Code, func(t *testing.T) {
			s, b, st := gkeBackupFixture(t)
			gkeBackupMustPlan(t, b, st)
			fired := addFault(t, s, f)
			var r BackupGKEResult
			in := BackupGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan, Name: "nightly-check"}
			if err := runWithRetries(t, b, b.BackupGKE, in, &r); err != nil {
				t.Fatal(err)
			}
			if r.State != "SUCCEEDED" {
				t.Fatalf("result %+v", r)
			}
			if n := fired(); n != 2 {
				t.Fatalf("fault fired %d times, want 2", n)
			}
			if c := ledger(s, "gkebackup/"+r.Name); c.Created != 1 {
				t.Fatalf("ledger %+v", c)
			}
		})
	}
}

func TestGKEBackupPermanentErrors(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	gkeBackupMustPlan(t, b, st)
	env := activityEnv(b)
	in := BackupGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan, Name: "denied"}

	addFault(t, s, sim.Fault{API: "gkebackup", Method: "CreateBackup", Code: "PERMISSION_DENIED", Message: "Permission 'gkebackup.backups.create' denied.", Count: 1})
	_, err := env.ExecuteActivity(b.BackupGKE, in)
	ae := appError(t, err, ErrPermissionDenied, true)
	if !strings.Contains(ae.Error(), "gkebackup.backups.create") || !strings.Contains(ae.Error(), "roles") {
		t.Fatalf("message %q", ae.Error())
	}

	// The operation fails: non-retryable, and a re-run does not take a second backup under the name.
	addFault(t, s, sim.Fault{API: "gkebackup", Method: "CreateBackup", FailOperation: true, Message: "Volume snapshot quota exceeded.", Count: 1})
	in.Name = "failing"
	_, err = env.ExecuteActivity(b.BackupGKE, in)
	ae = appError(t, err, ErrOperationFailed, true)
	if !strings.Contains(ae.Error(), "/operations/operation-") || !strings.Contains(ae.Error(), "Volume snapshot quota exceeded") || !strings.Contains(ae.Error(), "another backup name") {
		t.Fatalf("message %q", ae.Error())
	}
	_, err = env.ExecuteActivity(b.BackupGKE, in)
	ae = appError(t, err, ErrOperationFailed, true)
	if !strings.Contains(ae.Error(), "FAILED") {
		t.Fatalf("message %q", ae.Error())
	}
	if c := ledger(s, "gkebackup/"+gkeBackupPlanName(st.ProjectID, st.Region, st.BackupPlan)+"/backups/failing"); c.Created != 1 {
		t.Fatalf("ledger %+v, want one attempt", c)
	}
}

// gkeBackupHeartbeats records the first operation an activity heartbeats.
type gkeBackupHeartbeats struct {
	mu sync.Mutex
	op string
}

func (h *gkeBackupHeartbeats) listen(_ *activity.Info, d converter.EncodedValues) {
	var p lroProgress
	if d.HasValues() && d.Get(&p) == nil && p.Operation != "" {
		h.mu.Lock()
		if h.op == "" {
			h.op = p.Operation
		}
		h.mu.Unlock()
	}
}

func (h *gkeBackupHeartbeats) get() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.op
}

func TestGKEBackupResumesFromHeartbeat(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	gkeBackupMustPlan(t, b, st)
	s.SetTimings(sim.Timings{BackupOperation: sim.Duration(300 * time.Millisecond)})
	creates := addFault(t, s, sim.Fault{API: "gkebackup", Method: "CreateBackup", Latency: sim.Duration(time.Nanosecond)})
	addFault(t, s, sim.Fault{API: "longrunning", Method: "GetOperation", Code: "INTERNAL", Count: 1})
	in := BackupGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan, Name: "pre-suspend"}

	var hb gkeBackupHeartbeats
	env := activityEnv(b)
	env.SetOnActivityHeartbeatListener(hb.listen)
	_, err := env.ExecuteActivity(b.BackupGKE, in)
	appError(t, err, ErrTransient, false)
	op := hb.get()
	if !strings.Contains(op, "/operations/") {
		t.Fatalf("heartbeat operation %q", op)
	}

	polls := addFault(t, s, sim.Fault{API: "longrunning", Method: "GetOperation", Match: op, Latency: sim.Duration(time.Nanosecond)})
	env2 := activityEnv(b)
	env2.SetHeartbeatDetails(lroProgress{Operation: op})
	v, err := env2.ExecuteActivity(b.BackupGKE, in)
	if err != nil {
		t.Fatal(err)
	}
	var r BackupGKEResult
	if err := v.Get(&r); err != nil || r.State != "SUCCEEDED" {
		t.Fatalf("%+v, %v", r, err)
	}
	if n := creates(); n != 1 {
		t.Fatalf("CreateBackup called %d times, want 1", n)
	}
	if polls() == 0 {
		t.Fatalf("the resumed attempt did not poll %s", op)
	}
}

func TestGKEBackupDeleteBackupsAndPlan(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	gkeBackupMustPlan(t, b, st)
	one := gkeBackupTake(t, b, st, "one")
	two := gkeBackupTake(t, b, st, "two")
	env := activityEnv(b)
	planIn := DeleteBackupPlanInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan}

	// The plan cannot go while it has backups; the message says what to run first.
	_, err := env.ExecuteActivity(b.DeleteBackupPlan, planIn)
	ae := appError(t, err, ErrPrecondition, true)
	if !strings.Contains(ae.Error(), "DeleteGKEBackups") {
		t.Fatalf("message %q", ae.Error())
	}

	in := DeleteGKEBackupsInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan}
	for i, want := range []int{2, 0} {
		v, err := env.ExecuteActivity(b.DeleteGKEBackups, in)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var r DeleteGKEBackupsResult
		if err := v.Get(&r); err != nil || len(r.Deleted) != want {
			t.Fatalf("run %d: %+v, %v; want %d deleted", i, r, err, want)
		}
	}
	for _, name := range []string{one.Name, two.Name} {
		if c := ledger(s, "gkebackup/"+name); c.Created != 1 || c.Deleted != 1 {
			t.Fatalf("%s ledger %+v", name, c)
		}
	}
	for i, wantGone := range []bool{false, true} {
		v, err := env.ExecuteActivity(b.DeleteBackupPlan, planIn)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var r DeleteBackupPlanResult
		if err := v.Get(&r); err != nil || r.AlreadyGone != wantGone {
			t.Fatalf("run %d: %+v, %v", i, r, err)
		}
	}
	if c := ledger(s, gkeBackupPlanKey(st)); c.Created != 1 || c.Deleted != 1 {
		t.Fatalf("plan ledger %+v", c)
	}
	// Backups of a plan that is gone: nothing to do.
	if _, err := env.ExecuteActivity(b.DeleteGKEBackups, in); err != nil {
		t.Fatal(err)
	}
}

// An upgrade's rollback leaves the instance's restore plan, which uses the backup plan: teardown
// deletes it first, since the backup plan cannot go from under it.
func TestGKEBackupDeletePlanDeletesItsRestorePlanFirst(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	gkeBackupMustPlan(t, b, st)
	bk := gkeBackupTake(t, b, st, "pre-upgrade")
	env := activityEnv(b)
	if _, err := env.ExecuteActivity(b.RestoreGKE, RestoreGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan, Backup: bk.Name, Name: "rollback"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ExecuteActivity(b.DeleteGKEBackups, DeleteGKEBackupsInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ExecuteActivity(b.DeleteBackupPlan, DeleteBackupPlanInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan}); err != nil {
		t.Fatal(err)
	}
	rp := "gkebackup/" + gkeBackupLocation(st.ProjectID, st.Region) + "/restorePlans/" + gkeRestorePlanID(st.BackupPlan)
	if c := ledger(s, rp); c.Created != 1 || c.Deleted != 1 {
		t.Fatalf("restore plan ledger %+v", c)
	}
	if c := ledger(s, gkeBackupPlanKey(st)); c.Deleted != 1 {
		t.Fatalf("plan ledger %+v", c)
	}
}

func TestGKEBackupRestoreTwiceRestoresOnce(t *testing.T) {
	s, b, st := gkeBackupFixture(t)
	gkeBackupMustPlan(t, b, st)
	bk := gkeBackupTake(t, b, st, "pre-upgrade-5-10-0")
	env := activityEnv(b)
	in := RestoreGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan, Backup: bk.Name, Name: "rollback-5-10-0"}
	var first RestoreGKEResult
	for i := 0; i < 2; i++ {
		v, err := env.ExecuteActivity(b.RestoreGKE, in)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var r RestoreGKEResult
		if err := v.Get(&r); err != nil || r.State != "SUCCEEDED" || r.ResourcesRestored == 0 {
			t.Fatalf("run %d: %+v, %v", i, r, err)
		}
		if i == 0 {
			first = r
		} else if r != first {
			t.Fatalf("second run %+v, first %+v", r, first)
		}
	}
	loc := gkeBackupLocation(st.ProjectID, st.Region)
	rp := loc + "/restorePlans/" + gkeRestorePlanID(st.BackupPlan)
	if c := ledger(s, "gkebackup/"+rp); c.Created != 1 {
		t.Fatalf("restore plan ledger %+v", c)
	}
	if c := ledger(s, "gkebackup/"+first.Name); c.Created != 1 || first.Name != rp+"/restores/rollback-5-10-0" {
		t.Fatalf("restore %s ledger %+v", first.Name, c)
	}
	// The same restore name for another backup is a conflict, not a second restore.
	other := gkeBackupTake(t, b, st, "other")
	in.Backup = "other" // an ID within the plan works too
	_, err := env.ExecuteActivity(b.RestoreGKE, in)
	ae := appError(t, err, ErrConflict, true)
	if !strings.Contains(ae.Error(), "another restore name") || !strings.Contains(ae.Error(), other.Name) {
		t.Fatalf("message %q", ae.Error())
	}
}
