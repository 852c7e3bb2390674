package gkebackup_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	gkebackupclient "cloud.google.com/go/gkebackup/apiv1"
	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	rm "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/gke"
	"github.com/sourcegraph/lifecycle/sim/gkebackup"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

const (
	project  = "proj-bfg-test"
	parent   = "projects/" + project + "/locations/us-central1"
	cluster  = parent + "/clusters/c1"
	planName = parent + "/backupPlans/daily"
)

// setup starts a simulator with all three gRPC parts, an ACTIVE project and a RUNNING cluster, and
// returns it with a Backup for GKE client. Operations complete at once until a test changes timings.
func setup(t *testing.T) (*sim.Sim, *gkebackupclient.BackupForGKEClient) {
	t.Helper()
	ctx := context.Background()
	s, err := sim.Start(sim.Config{}, gke.New, gkebackup.New, resourcemanager.New)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	opts := []option.ClientOption{
		option.WithEndpoint(s.GRPCAddr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}

	pc, err := rm.NewProjectsClient(ctx, opts...)
	mustOK(t, err, "NewProjectsClient")
	defer pc.Close()
	pop, err := pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: project, Parent: "folders/123"}})
	mustOK(t, err, "CreateProject")
	_, err = pop.Wait(ctx)
	mustOK(t, err, "CreateProject wait")

	cm, err := container.NewClusterManagerClient(ctx, opts...)
	mustOK(t, err, "NewClusterManagerClient")
	defer cm.Close()
	op, err := cm.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1",
		NodePools: []*containerpb.NodePool{{Name: "default-pool", InitialNodeCount: 1}}}})
	mustOK(t, err, "CreateCluster")
	for deadline := time.Now().Add(5 * time.Second); op.Status != containerpb.Operation_DONE; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("cluster creation did not finish")
		}
		op, err = cm.GetOperation(ctx, &containerpb.GetOperationRequest{Name: parent + "/operations/" + op.Name})
		mustOK(t, err, "GetOperation")
	}

	bc, err := gkebackupclient.NewBackupForGKEClient(ctx, opts...)
	mustOK(t, err, "NewBackupForGKEClient")
	t.Cleanup(func() { bc.Close() })
	return s, bc
}

func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCode(t *testing.T, err error, want codes.Code, what string) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: got code %v (%v), want %v", what, got, err, want)
	}
}

func createPlan(t *testing.T, bc *gkebackupclient.BackupForGKEClient) *gkebackuppb.BackupPlan {
	t.Helper()
	ctx := context.Background()
	op, err := bc.CreateBackupPlan(ctx, &gkebackuppb.CreateBackupPlanRequest{
		Parent:       parent,
		BackupPlanId: "daily",
		BackupPlan: &gkebackuppb.BackupPlan{
			Cluster:         cluster,
			RetentionPolicy: &gkebackuppb.BackupPlan_RetentionPolicy{BackupRetainDays: 90},
			BackupSchedule:  &gkebackuppb.BackupPlan_Schedule{CronSchedule: "0 3 * * *"},
			BackupConfig: &gkebackuppb.BackupPlan_BackupConfig{
				BackupScope:       &gkebackuppb.BackupPlan_BackupConfig_AllNamespaces{AllNamespaces: true},
				IncludeVolumeData: true, IncludeSecrets: true,
			},
		},
	})
	mustOK(t, err, "CreateBackupPlan")
	meta, err := op.Metadata()
	mustOK(t, err, "CreateBackupPlan metadata")
	if meta.GetTarget() != planName || meta.GetVerb() != "create" || !strings.HasPrefix(op.Name(), parent+"/operations/") {
		t.Errorf("operation %q metadata: target %q verb %q", op.Name(), meta.GetTarget(), meta.GetVerb())
	}
	bp, err := op.Wait(ctx)
	mustOK(t, err, "CreateBackupPlan wait")
	return bp
}

func TestBackupPlanAndBackupLifecycle(t *testing.T) {
	s, bc := setup(t)
	ctx := context.Background()

	_, err := bc.CreateBackupPlan(ctx, &gkebackuppb.CreateBackupPlanRequest{Parent: parent, BackupPlanId: "orphan",
		BackupPlan: &gkebackuppb.BackupPlan{Cluster: parent + "/clusters/missing"}})
	wantCode(t, err, codes.FailedPrecondition, "CreateBackupPlan for a missing cluster")
	_, err = bc.CreateBackupPlan(ctx, &gkebackuppb.CreateBackupPlanRequest{Parent: parent, BackupPlan: &gkebackuppb.BackupPlan{Cluster: cluster}})
	wantCode(t, err, codes.InvalidArgument, "CreateBackupPlan without an ID")

	bp := createPlan(t, bc)
	if bp.State != gkebackuppb.BackupPlan_READY || bp.RetentionPolicy.GetBackupRetainDays() != 90 || bp.BackupSchedule.GetCronSchedule() != "0 3 * * *" || bp.Etag == "" {
		t.Fatalf("created plan: %v", bp)
	}
	_, err = bc.CreateBackupPlan(ctx, &gkebackuppb.CreateBackupPlanRequest{Parent: parent, BackupPlanId: "daily", BackupPlan: &gkebackuppb.BackupPlan{Cluster: cluster}})
	wantCode(t, err, codes.AlreadyExists, "duplicate CreateBackupPlan")
	plans := bc.ListBackupPlans(ctx, &gkebackuppb.ListBackupPlansRequest{Parent: parent})
	if got, err := plans.Next(); err != nil || got.Name != planName {
		t.Fatalf("ListBackupPlans: %v %v", got, err)
	}

	// Update with a mask: only the named fields change, and the etag rotates. A stale etag is refused.
	uop, err := bc.UpdateBackupPlan(ctx, &gkebackuppb.UpdateBackupPlanRequest{
		BackupPlan: &gkebackuppb.BackupPlan{Name: planName, Description: "nightly", RetentionPolicy: &gkebackuppb.BackupPlan_RetentionPolicy{BackupRetainDays: 30}, BackupSchedule: &gkebackuppb.BackupPlan_Schedule{CronSchedule: "ignored"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description", "retention_policy.backup_retain_days"}},
	})
	mustOK(t, err, "UpdateBackupPlan")
	updated, err := uop.Wait(ctx)
	mustOK(t, err, "UpdateBackupPlan wait")
	if updated.Description != "nightly" || updated.RetentionPolicy.GetBackupRetainDays() != 30 || updated.BackupSchedule.GetCronSchedule() != "0 3 * * *" || updated.Etag == bp.Etag {
		t.Errorf("updated plan: %v (old etag %q)", updated, bp.Etag)
	}
	_, err = bc.UpdateBackupPlan(ctx, &gkebackuppb.UpdateBackupPlanRequest{BackupPlan: &gkebackuppb.BackupPlan{Name: planName, Etag: bp.Etag, Description: "x"}})
	wantCode(t, err, codes.Aborted, "UpdateBackupPlan with a stale etag")

	// An on-demand backup that takes a while: CREATING → IN_PROGRESS → SUCCEEDED.
	s.SetTimings(sim.Timings{BackupOperation: sim.Duration(400 * time.Millisecond)})
	bop, err := bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "b1"})
	mustOK(t, err, "CreateBackup")
	backupName := planName + "/backups/b1"
	var seen []gkebackuppb.Backup_State
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		b, err := bc.GetBackup(ctx, &gkebackuppb.GetBackupRequest{Name: backupName})
		mustOK(t, err, "GetBackup")
		if len(seen) == 0 || seen[len(seen)-1] != b.State {
			seen = append(seen, b.State)
		}
		if b.State == gkebackuppb.Backup_SUCCEEDED || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Equal(seen, []gkebackuppb.Backup_State{gkebackuppb.Backup_CREATING, gkebackuppb.Backup_IN_PROGRESS, gkebackuppb.Backup_SUCCEEDED}) {
		t.Errorf("backup states seen = %v", seen)
	}
	// An activity retried after a crash rebuilds the operation from its name.
	b, err := bc.CreateBackupOperation(bop.Name()).Wait(ctx)
	mustOK(t, err, "rebuilt CreateBackupOperation wait")
	if b.Name != backupName || b.State != gkebackuppb.Backup_SUCCEEDED || !b.Manual || b.RetainDays != 30 || b.ClusterMetadata.GetCluster() != cluster || !b.ContainsVolumeData {
		t.Errorf("backup: %v", b)
	}

	// Wait also polls an operation that is not done yet.
	bop2, err := bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "b2"})
	mustOK(t, err, "CreateBackup b2")
	if bop2.Done() {
		t.Error("a 400ms backup operation is done at once")
	}
	b2, err := bop2.Wait(ctx)
	mustOK(t, err, "CreateBackup b2 wait")
	if b2.State != gkebackuppb.Backup_SUCCEEDED {
		t.Errorf("b2 state %v", b2.State)
	}
	s.SetTimings(sim.Timings{})

	_, err = bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "b1"})
	wantCode(t, err, codes.AlreadyExists, "duplicate CreateBackup")
	for filter, want := range map[string]int{"": 2, `state = "SUCCEEDED"`: 2, "state = FAILED": 0, "state != FAILED AND manual = true": 2} {
		it := bc.ListBackups(ctx, &gkebackuppb.ListBackupsRequest{Parent: planName, Filter: filter, PageSize: 1})
		n := 0
		for _, err := it.Next(); err == nil; _, err = it.Next() {
			n++
		}
		if n != want {
			t.Errorf("ListBackups(filter %q) = %d backups, want %d", filter, n, want)
		}
	}

	_, err = bc.DeleteBackupPlan(ctx, &gkebackuppb.DeleteBackupPlanRequest{Name: planName})
	wantCode(t, err, codes.FailedPrecondition, "DeleteBackupPlan with backups")

	for _, name := range []string{backupName, planName + "/backups/b2"} {
		dop, err := bc.DeleteBackup(ctx, &gkebackuppb.DeleteBackupRequest{Name: name, Force: true})
		mustOK(t, err, "DeleteBackup")
		mustOK(t, dop.Wait(ctx), "DeleteBackup wait")
		_, err = bc.GetBackup(ctx, &gkebackuppb.GetBackupRequest{Name: name})
		wantCode(t, err, codes.NotFound, "GetBackup after delete")
	}
	dop, err := bc.DeleteBackupPlan(ctx, &gkebackuppb.DeleteBackupPlanRequest{Name: planName})
	mustOK(t, err, "DeleteBackupPlan")
	mustOK(t, dop.Wait(ctx), "DeleteBackupPlan wait")
	_, err = bc.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: planName})
	wantCode(t, err, codes.NotFound, "GetBackupPlan after delete")

	if _, err := json.Marshal(s.Snapshot()); err != nil {
		t.Errorf("snapshot does not marshal: %v", err)
	}
	ledger := s.Ledger()
	if got := ledger["gkebackup/"+planName]; got != (sim.Counts{Created: 1, Mutated: 1, Deleted: 1}) {
		t.Errorf("ledger for plan = %+v", got)
	}
	if got := ledger["gkebackup/"+backupName]; got != (sim.Counts{Created: 1, Deleted: 1}) {
		t.Errorf("ledger for backup = %+v", got)
	}
}

func TestFailuresAndFaults(t *testing.T) {
	s, bc := setup(t)
	ctx := context.Background()
	createPlan(t, bc)

	// failOperation: the operation ends in error and the backup is FAILED.
	_, err := s.AddFault(sim.Fault{API: "gkebackup", Method: "CreateBackup", FailOperation: true, Message: "backup agent unreachable", Count: 1})
	mustOK(t, err, "AddFault")
	op, err := bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "broken"})
	mustOK(t, err, "CreateBackup")
	_, err = op.Wait(ctx)
	wantCode(t, err, codes.FailedPrecondition, "Wait on a failed backup")
	if !strings.Contains(err.Error(), "backup agent unreachable") {
		t.Errorf("failed operation error = %v", err)
	}
	b, err := bc.GetBackup(ctx, &gkebackuppb.GetBackupRequest{Name: planName + "/backups/broken"})
	mustOK(t, err, "GetBackup")
	if b.State != gkebackuppb.Backup_FAILED || b.StateReason != "backup agent unreachable" {
		t.Errorf("failed backup: %v %q", b.State, b.StateReason)
	}

	// 429 with RetryInfo on a mutation: returned as is.
	_, err = s.AddFault(sim.Fault{API: "gkebackup", Method: "CreateBackup", Code: "RESOURCE_EXHAUSTED", RetryAfter: sim.Duration(5 * time.Second), Count: 1})
	mustOK(t, err, "AddFault")
	_, err = bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "later"})
	wantCode(t, err, codes.ResourceExhausted, "CreateBackup under quota fault")
	if ae, ok := apierror.FromError(err); !ok || ae.Details().RetryInfo.GetRetryDelay().AsDuration() != 5*time.Second || ae.Reason() != "RATE_LIMIT_EXCEEDED" {
		t.Errorf("quota error details: %v", err)
	}

	// UNAVAILABLE on a read is retried by the client (backoff starts at 1s for this API).
	_, err = s.AddFault(sim.Fault{API: "gkebackup", Method: "GetBackupPlan", Code: "UNAVAILABLE", Count: 1})
	mustOK(t, err, "AddFault")
	_, err = bc.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: planName})
	mustOK(t, err, "GetBackupPlan after one UNAVAILABLE")

	// Unknown projects are refused; unknown resources are NOT_FOUND.
	_, err = bc.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: "projects/missing-project/locations/us-central1/backupPlans/daily"})
	wantCode(t, err, codes.PermissionDenied, "GetBackupPlan in a missing project")
	_, err = bc.GetBackup(ctx, &gkebackuppb.GetBackupRequest{Name: planName + "/backups/nope"})
	wantCode(t, err, codes.NotFound, "GetBackup unknown")
	_, err = bc.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: "backupPlans/daily"})
	wantCode(t, err, codes.InvalidArgument, "GetBackupPlan with a malformed name")
}

func TestRestore(t *testing.T) {
	_, bc := setup(t)
	ctx := context.Background()
	createPlan(t, bc)
	bop, err := bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "b1"})
	mustOK(t, err, "CreateBackup")
	backup, err := bop.Wait(ctx)
	mustOK(t, err, "CreateBackup wait")

	rpName := parent + "/restorePlans/rp"
	rpReq := &gkebackuppb.CreateRestorePlanRequest{Parent: parent, RestorePlanId: "rp", RestorePlan: &gkebackuppb.RestorePlan{
		BackupPlan: planName, Cluster: cluster,
	}}
	_, err = bc.CreateRestorePlan(ctx, rpReq)
	wantCode(t, err, codes.InvalidArgument, "CreateRestorePlan without restore_config")
	rpReq.RestorePlan.RestoreConfig = &gkebackuppb.RestoreConfig{
		NamespacedResourceRestoreScope: &gkebackuppb.RestoreConfig_AllNamespaces{AllNamespaces: true},
		VolumeDataRestorePolicy:        gkebackuppb.RestoreConfig_RESTORE_VOLUME_DATA_FROM_BACKUP,
	}
	rpop, err := bc.CreateRestorePlan(ctx, rpReq)
	mustOK(t, err, "CreateRestorePlan")
	rp, err := rpop.Wait(ctx)
	mustOK(t, err, "CreateRestorePlan wait")
	if rp.Name != rpName || rp.State != gkebackuppb.RestorePlan_READY {
		t.Fatalf("restore plan: %v", rp)
	}

	rop, err := bc.CreateRestore(ctx, &gkebackuppb.CreateRestoreRequest{Parent: rpName, RestoreId: "r1", Restore: &gkebackuppb.Restore{Backup: backup.Name}})
	mustOK(t, err, "CreateRestore")
	r, err := rop.Wait(ctx)
	mustOK(t, err, "CreateRestore wait")
	if r.State != gkebackuppb.Restore_SUCCEEDED || r.Cluster != cluster || r.ResourcesRestoredCount == 0 {
		t.Errorf("restore: %v", r)
	}
	it := bc.ListRestores(ctx, &gkebackuppb.ListRestoresRequest{Parent: rpName})
	if got, err := it.Next(); err != nil || got.Name != rpName+"/restores/r1" {
		t.Errorf("ListRestores: %v %v", got, err)
	}

	_, err = bc.DeleteRestorePlan(ctx, &gkebackuppb.DeleteRestorePlanRequest{Name: rpName})
	wantCode(t, err, codes.FailedPrecondition, "DeleteRestorePlan with restores, no force")
	dop, err := bc.DeleteRestorePlan(ctx, &gkebackuppb.DeleteRestorePlanRequest{Name: rpName, Force: true})
	mustOK(t, err, "DeleteRestorePlan force")
	mustOK(t, dop.Wait(ctx), "DeleteRestorePlan wait")
	_, err = bc.GetRestore(ctx, &gkebackuppb.GetRestoreRequest{Name: rpName + "/restores/r1"})
	wantCode(t, err, codes.NotFound, "GetRestore after cascading delete")
	_, err = bc.GetRestorePlan(ctx, &gkebackuppb.GetRestorePlanRequest{Name: rpName})
	wantCode(t, err, codes.NotFound, "GetRestorePlan after delete")
}

// A backup holding volume data is deleted only with force (DeleteBackupRequest.force: "Otherwise,
// the request will only succeed if the Backup has no VolumeBackups").
func TestDeleteBackupWithVolumeDataNeedsForce(t *testing.T) {
	_, bc := setup(t)
	ctx := context.Background()
	createPlan(t, bc) // includes volume data
	bop, err := bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "b1"})
	mustOK(t, err, "CreateBackup")
	b, err := bop.Wait(ctx)
	mustOK(t, err, "CreateBackup wait")
	if !b.ContainsVolumeData || b.VolumeCount == 0 {
		t.Fatalf("backup holds no volume data: %v", b)
	}
	_, err = bc.DeleteBackup(ctx, &gkebackuppb.DeleteBackupRequest{Name: b.Name})
	wantCode(t, err, codes.FailedPrecondition, "DeleteBackup with volume backups, no force")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "force") {
		t.Errorf("message %q does not name force", msg)
	}
	dop, err := bc.DeleteBackup(ctx, &gkebackuppb.DeleteBackupRequest{Name: b.Name, Force: true})
	mustOK(t, err, "DeleteBackup force")
	mustOK(t, dop.Wait(ctx), "DeleteBackup wait")
}

// A backup plan cannot be deleted while a restore plan uses it.
func TestDeleteBackupPlanUsedByRestorePlan(t *testing.T) {
	_, bc := setup(t)
	ctx := context.Background()
	createPlan(t, bc)
	rpName := parent + "/restorePlans/rp"
	rpop, err := bc.CreateRestorePlan(ctx, &gkebackuppb.CreateRestorePlanRequest{Parent: parent, RestorePlanId: "rp", RestorePlan: &gkebackuppb.RestorePlan{
		BackupPlan: planName, Cluster: cluster,
		RestoreConfig: &gkebackuppb.RestoreConfig{NamespacedResourceRestoreScope: &gkebackuppb.RestoreConfig_AllNamespaces{AllNamespaces: true}},
	}})
	mustOK(t, err, "CreateRestorePlan")
	_, err = rpop.Wait(ctx)
	mustOK(t, err, "CreateRestorePlan wait")

	_, err = bc.DeleteBackupPlan(ctx, &gkebackuppb.DeleteBackupPlanRequest{Name: planName})
	wantCode(t, err, codes.FailedPrecondition, "DeleteBackupPlan used by a restore plan")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, rpName) {
		t.Errorf("message %q does not name the restore plan", msg)
	}
	dop, err := bc.DeleteRestorePlan(ctx, &gkebackuppb.DeleteRestorePlanRequest{Name: rpName})
	mustOK(t, err, "DeleteRestorePlan")
	mustOK(t, dop.Wait(ctx), "DeleteRestorePlan wait")
	pop, err := bc.DeleteBackupPlan(ctx, &gkebackuppb.DeleteBackupPlanRequest{Name: planName})
	mustOK(t, err, "DeleteBackupPlan after its restore plan")
	mustOK(t, pop.Wait(ctx), "DeleteBackupPlan wait")
}

// The backup agent runs on the cluster's nodes: with the option on, a backup of a cluster whose
// node pools are at zero (a suspended instance) fails.
func TestBackupOfClusterWithoutNodesFails(t *testing.T) {
	s, bc := setup(t)
	ctx := context.Background()
	createPlan(t, bc)
	cm, err := container.NewClusterManagerClient(ctx, option.WithEndpoint(s.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	mustOK(t, err, "NewClusterManagerClient")
	defer cm.Close()
	op, err := cm.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: cluster + "/nodePools/default-pool", NodeCount: 0})
	mustOK(t, err, "SetNodePoolSize 0")
	for deadline := time.Now().Add(5 * time.Second); op.Status != containerpb.Operation_DONE; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("resize did not finish")
		}
		op, err = cm.GetOperation(ctx, &containerpb.GetOperationRequest{Name: parent + "/operations/" + op.Name})
		mustOK(t, err, "GetOperation")
	}

	// Always, on every stack: the agent that takes the backup runs on the nodes.
	bop, err := bc.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{Parent: planName, BackupId: "on"})
	mustOK(t, err, "CreateBackup of a cluster without nodes")
	if _, err = bop.Wait(ctx); err == nil {
		t.Fatal("backup of a cluster without nodes succeeded")
	}
	b, err := bc.GetBackup(ctx, &gkebackuppb.GetBackupRequest{Name: planName + "/backups/on"})
	mustOK(t, err, "GetBackup")
	if b.State != gkebackuppb.Backup_FAILED || !strings.Contains(b.StateReason, "no nodes") {
		t.Fatalf("backup %v %q", b.State, b.StateReason)
	}
}
