package gkebackup

import (
	"context"
	"strings"

	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sourcegraph/lifecycle/sim"
)

// planUpdatable are the BackupPlan fields UpdateBackupPlan may change; the rest are output-only or
// immutable (cluster above all) and are ignored, as the API documents.
var planUpdatable = map[string]bool{
	"description": true, "retention_policy": true, "labels": true, "backup_schedule": true,
	"deactivated": true, "backup_config": true,
}

func clonePlan(bp *gkebackuppb.BackupPlan) *gkebackuppb.BackupPlan {
	return proto.Clone(bp).(*gkebackuppb.BackupPlan)
}

// validRetention checks the retention policy the way the API does: the delete lock is 0-90 days and
// backups are retained at least as long as they are locked (0 retain days: no automatic deletion).
func validRetention(rp *gkebackuppb.BackupPlan_RetentionPolicy) error {
	if rp == nil {
		return nil
	}
	lock, retain := rp.GetBackupDeleteLockDays(), rp.GetBackupRetainDays()
	if lock < 0 || lock > 90 {
		return status.Errorf(codes.InvalidArgument, "retention_policy.backup_delete_lock_days must be between 0 and 90, got %d.", lock)
	}
	if retain < 0 || (retain != 0 && retain < lock) {
		return status.Errorf(codes.InvalidArgument, "retention_policy.backup_retain_days (%d) must be 0 or at least backup_delete_lock_days (%d).", retain, lock)
	}
	return nil
}

// CreateBackupPlan accepts a plan for an existing cluster as PROVISIONING; it is READY (or
// DEACTIVATED if created so) when the operation completes, FAILED under a failOperation fault.
// retention_policy and backup_schedule are kept as given (the schedule never fires in the simulator).
func (p *Part) CreateBackupPlan(ctx context.Context, req *gkebackuppb.CreateBackupPlanRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	if _, err := p.parseName("parent", req.GetParent(), "projects", "locations"); err != nil {
		return nil, err
	}
	bp, err := p.newPlan(req.GetParent(), req.GetBackupPlanId(), req.GetBackupPlan(), p.now())
	if err != nil {
		return nil, err
	}
	name := bp.Name
	p.plans[name] = bp
	p.s.Created(Name, name)

	return p.startOp(ctx, req.GetParent(), name, "create", func(failure string) (proto.Message, error) {
		if p.plans[name] != bp {
			return nil, status.Errorf(codes.Aborted, "BackupPlan %q was deleted while being created.", name)
		}
		bp.Etag, bp.UpdateTime = p.etag(), p.now()
		if failure != "" {
			bp.State, bp.StateReason = gkebackuppb.BackupPlan_FAILED, failure
			return nil, opFailed(failure)
		}
		bp.State = gkebackuppb.BackupPlan_READY
		if bp.Deactivated {
			bp.State = gkebackuppb.BackupPlan_DEACTIVATED
		}
		return clonePlan(bp), nil
	}), nil
}

// newPlan validates a requested plan under parent (already checked) and builds it PROVISIONING,
// created at now. Lock held.
func (p *Part) newPlan(parent, id string, in *gkebackuppb.BackupPlan, now *timestamppb.Timestamp) (*gkebackuppb.BackupPlan, error) {
	if err := validID("backup_plan_id", id); err != nil {
		return nil, err
	}
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Field backup_plan is required.")
	}
	if in.GetCluster() == "" {
		return nil, status.Error(codes.InvalidArgument, "Field backup_plan.cluster is required.")
	}
	name := parent + "/backupPlans/" + id
	if _, exists := p.plans[name]; exists {
		return nil, alreadyExists("BackupPlan", name)
	}
	if err := p.checkCluster("backup_plan.cluster", in.GetCluster()); err != nil {
		return nil, err
	}
	if err := validRetention(in.GetRetentionPolicy()); err != nil {
		return nil, err
	}
	bp := clonePlan(in)
	bp.Name, bp.Uid = name, p.uid()
	bp.CreateTime, bp.UpdateTime = now, timestamppb.New(now.AsTime())
	bp.State, bp.StateReason = gkebackuppb.BackupPlan_PROVISIONING, ""
	bp.Etag = p.etag()
	bp.ProtectedPodCount, bp.LastSuccessfulBackupTime = 0, nil
	return bp, nil
}

// plan finds a plan by full name (validating the name and project), or NOT_FOUND.
func (p *Part) plan(name string) (*gkebackuppb.BackupPlan, error) {
	if _, err := p.parseName("name", name, "projects", "locations", "backupPlans"); err != nil {
		return nil, err
	}
	bp, ok := p.plans[name]
	if !ok {
		return nil, notFound("BackupPlan", name)
	}
	return bp, nil
}

func (p *Part) GetBackupPlan(_ context.Context, req *gkebackuppb.GetBackupPlanRequest) (*gkebackuppb.BackupPlan, error) {
	defer p.s.Lock()()
	bp, err := p.plan(req.GetName())
	if err != nil {
		return nil, err
	}
	return clonePlan(bp), nil
}

func (p *Part) ListBackupPlans(_ context.Context, req *gkebackuppb.ListBackupPlansRequest) (*gkebackuppb.ListBackupPlansResponse, error) {
	defer p.s.Lock()()
	if _, err := p.parseName("parent", req.GetParent(), "projects", "locations"); err != nil {
		return nil, err
	}
	page, next, err := list(p.plans, req.GetParent(), req)
	if err != nil {
		return nil, err
	}
	return &gkebackuppb.ListBackupPlansResponse{BackupPlans: page, NextPageToken: next}, nil
}

// UpdateBackupPlan applies the update_mask (all updatable fields when empty) at once and rotates the
// etag; the operation completes with the updated plan. A plan that was deactivated stays so.
func (p *Part) UpdateBackupPlan(ctx context.Context, req *gkebackuppb.UpdateBackupPlanRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	in := req.GetBackupPlan()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Field backup_plan is required.")
	}
	bp, err := p.plan(in.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkEtag("BackupPlan", bp.Name, in.GetEtag(), bp.Etag); err != nil {
		return nil, err
	}
	if bp.State != gkebackuppb.BackupPlan_READY && bp.State != gkebackuppb.BackupPlan_DEACTIVATED {
		return nil, status.Errorf(codes.FailedPrecondition, "BackupPlan %q is %s; it can be updated once it is READY.", bp.Name, bp.State)
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		for f := range planUpdatable {
			paths = append(paths, f)
		}
	}
	next := clonePlan(bp)
	if err := applyMask(next, clonePlan(in), paths, planUpdatable); err != nil {
		return nil, err
	}
	if err := validRetention(next.GetRetentionPolicy()); err != nil {
		return nil, err
	}
	if bp.Deactivated && !next.Deactivated {
		return nil, status.Errorf(codes.InvalidArgument, "BackupPlan %q is deactivated; a deactivated plan cannot be reactivated.", bp.Name)
	}
	proto.Reset(bp)
	proto.Merge(bp, next)
	if bp.Deactivated {
		bp.State = gkebackuppb.BackupPlan_DEACTIVATED
	}
	bp.Etag, bp.UpdateTime = p.etag(), p.now()
	p.s.Mutated(Name, bp.Name)

	name := bp.Name
	return p.startOp(ctx, location(name), name, "update", func(failure string) (proto.Message, error) {
		if failure != "" {
			return nil, opFailed(failure)
		}
		if cur, ok := p.plans[name]; ok {
			return clonePlan(cur), nil
		}
		return nil, notFound("BackupPlan", name)
	}), nil
}

// DeleteBackupPlan refuses while the plan still has backups (the API has no force flag here: delete
// the backups first). The plan is DELETING until the operation completes, then NOT_FOUND.
func (p *Part) DeleteBackupPlan(ctx context.Context, req *gkebackuppb.DeleteBackupPlanRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	bp, err := p.plan(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkEtag("BackupPlan", bp.Name, req.GetEtag(), bp.Etag); err != nil {
		return nil, err
	}
	if bp.State == gkebackuppb.BackupPlan_DELETING {
		return nil, status.Errorf(codes.FailedPrecondition, "BackupPlan %q is already being deleted.", bp.Name)
	}
	if n := len(withPrefix(p.backups, bp.Name+"/backups/")); n > 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "BackupPlan %q still has %d backup(s); delete them before deleting the plan.", bp.Name, n)
	}
	// A restore plan names its backup plan; the plan cannot go from under it.
	for _, rpName := range sim.SortedKeys(p.restorePlans) {
		if p.restorePlans[rpName].BackupPlan == bp.Name {
			return nil, status.Errorf(codes.FailedPrecondition, "BackupPlan %q is used by RestorePlan %q; delete the restore plan first.", bp.Name, rpName)
		}
	}
	prev := bp.State
	bp.State, bp.Etag, bp.UpdateTime = gkebackuppb.BackupPlan_DELETING, p.etag(), p.now()
	p.s.Deleted(Name, bp.Name)

	name := bp.Name
	return p.startOp(ctx, location(name), name, "delete", func(failure string) (proto.Message, error) {
		if p.plans[name] != bp {
			return &emptypb.Empty{}, nil
		}
		if failure != "" {
			bp.State, bp.StateReason, bp.Etag = prev, failure, p.etag()
			return nil, opFailed(failure)
		}
		delete(p.plans, name)
		return &emptypb.Empty{}, nil
	}), nil
}

// location returns "projects/P/locations/L" of a resource name: where its operations are named.
func location(name string) string {
	parts := strings.SplitN(name, "/", 5)
	if len(parts) < 4 {
		return name
	}
	return strings.Join(parts[:4], "/")
}
