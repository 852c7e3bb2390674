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
)

func cloneRestorePlan(rp *gkebackuppb.RestorePlan) *gkebackuppb.RestorePlan {
	return proto.Clone(rp).(*gkebackuppb.RestorePlan)
}

func cloneRestore(r *gkebackuppb.Restore) *gkebackuppb.Restore {
	return proto.Clone(r).(*gkebackuppb.Restore)
}

// CreateRestorePlan ties a backup plan to a target cluster. It is CLUSTER_PENDING until the
// operation completes, then READY (FAILED under a failOperation fault).
func (p *Part) CreateRestorePlan(ctx context.Context, req *gkebackuppb.CreateRestorePlanRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	if _, err := p.parseName("parent", req.GetParent(), "projects", "locations"); err != nil {
		return nil, err
	}
	if err := validID("restore_plan_id", req.GetRestorePlanId()); err != nil {
		return nil, err
	}
	in := req.GetRestorePlan()
	switch {
	case in == nil:
		return nil, status.Error(codes.InvalidArgument, "Field restore_plan is required.")
	case in.GetBackupPlan() == "":
		return nil, status.Error(codes.InvalidArgument, "Field restore_plan.backup_plan is required.")
	case in.GetCluster() == "":
		return nil, status.Error(codes.InvalidArgument, "Field restore_plan.cluster is required.")
	case in.GetRestoreConfig() == nil:
		return nil, status.Error(codes.InvalidArgument, "Field restore_plan.restore_config is required.")
	}
	name := req.GetParent() + "/restorePlans/" + req.GetRestorePlanId()
	if _, exists := p.restorePlans[name]; exists {
		return nil, alreadyExists("RestorePlan", name)
	}
	if _, ok := p.plans[in.GetBackupPlan()]; !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "BackupPlan %q (restore_plan.backup_plan) does not exist.", in.GetBackupPlan())
	}
	if err := p.checkCluster("restore_plan.cluster", in.GetCluster()); err != nil {
		return nil, err
	}

	rp := cloneRestorePlan(in)
	rp.Name, rp.Uid = name, p.uid()
	rp.CreateTime, rp.UpdateTime = p.now(), p.now()
	rp.State, rp.StateReason, rp.Etag = gkebackuppb.RestorePlan_CLUSTER_PENDING, "", p.etag()
	p.restorePlans[name] = rp
	p.s.Created(Name, name)

	return p.startOp(ctx, req.GetParent(), name, "create", func(failure string) (proto.Message, error) {
		if p.restorePlans[name] != rp {
			return nil, status.Errorf(codes.Aborted, "RestorePlan %q was deleted while being created.", name)
		}
		rp.Etag, rp.UpdateTime = p.etag(), p.now()
		if failure != "" {
			rp.State, rp.StateReason = gkebackuppb.RestorePlan_FAILED, failure
			return nil, opFailed(failure)
		}
		rp.State = gkebackuppb.RestorePlan_READY
		return cloneRestorePlan(rp), nil
	}), nil
}

func (p *Part) restorePlan(name string) (*gkebackuppb.RestorePlan, error) {
	if _, err := p.parseName("name", name, "projects", "locations", "restorePlans"); err != nil {
		return nil, err
	}
	rp, ok := p.restorePlans[name]
	if !ok {
		return nil, notFound("RestorePlan", name)
	}
	return rp, nil
}

func (p *Part) GetRestorePlan(_ context.Context, req *gkebackuppb.GetRestorePlanRequest) (*gkebackuppb.RestorePlan, error) {
	defer p.s.Lock()()
	rp, err := p.restorePlan(req.GetName())
	if err != nil {
		return nil, err
	}
	return cloneRestorePlan(rp), nil
}

func (p *Part) ListRestorePlans(_ context.Context, req *gkebackuppb.ListRestorePlansRequest) (*gkebackuppb.ListRestorePlansResponse, error) {
	defer p.s.Lock()()
	if _, err := p.parseName("parent", req.GetParent(), "projects", "locations"); err != nil {
		return nil, err
	}
	page, next, err := list(p.restorePlans, req.GetParent(), req)
	if err != nil {
		return nil, err
	}
	return &gkebackuppb.ListRestorePlansResponse{RestorePlans: page, NextPageToken: next}, nil
}

// DeleteRestorePlan refuses while the plan has restores, unless force is set: then they go too.
func (p *Part) DeleteRestorePlan(ctx context.Context, req *gkebackuppb.DeleteRestorePlanRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	rp, err := p.restorePlan(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkEtag("RestorePlan", rp.Name, req.GetEtag(), rp.Etag); err != nil {
		return nil, err
	}
	if rp.State == gkebackuppb.RestorePlan_DELETING {
		return nil, status.Errorf(codes.FailedPrecondition, "RestorePlan %q is already being deleted.", rp.Name)
	}
	children := withPrefix(p.restores, rp.Name+"/restores/")
	if len(children) > 0 && !req.GetForce() {
		return nil, status.Errorf(codes.FailedPrecondition, "RestorePlan %q still has %d restore(s); delete them first or set force.", rp.Name, len(children))
	}
	prev := rp.State
	rp.State, rp.Etag, rp.UpdateTime = gkebackuppb.RestorePlan_DELETING, p.etag(), p.now()
	p.s.Deleted(Name, rp.Name)
	for _, c := range children {
		p.restores[c].State = gkebackuppb.Restore_DELETING
		p.s.Deleted(Name, c)
	}

	name := rp.Name
	return p.startOp(ctx, location(name), name, "delete", func(failure string) (proto.Message, error) {
		if p.restorePlans[name] != rp {
			return &emptypb.Empty{}, nil
		}
		if failure != "" {
			rp.State, rp.StateReason, rp.Etag = prev, failure, p.etag()
			return nil, opFailed(failure)
		}
		for _, c := range withPrefix(p.restores, name+"/restores/") {
			delete(p.restores, c)
		}
		delete(p.restorePlans, name)
		return &emptypb.Empty{}, nil
	}), nil
}

// CreateRestore restores a SUCCEEDED backup of the restore plan's backup plan into the restore plan's
// cluster: CREATING, IN_PROGRESS after a third of Timings.BackupOperation, SUCCEEDED when the
// operation completes (FAILED under a failOperation fault).
func (p *Part) CreateRestore(ctx context.Context, req *gkebackuppb.CreateRestoreRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	rp, err := p.restorePlan(req.GetParent())
	if err != nil {
		return nil, err
	}
	if err := validID("restore_id", req.GetRestoreId()); err != nil {
		return nil, err
	}
	in := req.GetRestore()
	if in == nil || in.GetBackup() == "" {
		return nil, status.Error(codes.InvalidArgument, "Field restore.backup is required.")
	}
	name := rp.Name + "/restores/" + req.GetRestoreId()
	if _, exists := p.restores[name]; exists {
		return nil, alreadyExists("Restore", name)
	}
	if rp.State != gkebackuppb.RestorePlan_READY {
		return nil, status.Errorf(codes.FailedPrecondition, "RestorePlan %q is %s; restores need a READY plan.", rp.Name, rp.State)
	}
	if !strings.HasPrefix(in.GetBackup(), rp.BackupPlan+"/backups/") {
		return nil, status.Errorf(codes.InvalidArgument, "Backup %q does not belong to the restore plan's backup plan %q.", in.GetBackup(), rp.BackupPlan)
	}
	b, ok := p.backups[in.GetBackup()]
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "Backup %q (restore.backup) does not exist.", in.GetBackup())
	}
	if b.State != gkebackuppb.Backup_SUCCEEDED {
		return nil, status.Errorf(codes.FailedPrecondition, "Backup %q is %s; only SUCCEEDED backups can be restored.", b.Name, b.State)
	}
	if err := p.checkCluster("restore_plan.cluster", rp.Cluster); err != nil {
		return nil, err
	}

	r := cloneRestore(in)
	r.Name, r.Uid = name, p.uid()
	r.CreateTime, r.UpdateTime = p.now(), p.now()
	r.Cluster, r.RestoreConfig = rp.Cluster, rp.RestoreConfig
	r.State, r.StateReason, r.CompleteTime, r.Etag = gkebackuppb.Restore_CREATING, "", nil, p.etag()
	p.restores[name] = r
	p.s.Created(Name, name)

	p.afterFraction(3, func() {
		if p.restores[name] == r && r.State == gkebackuppb.Restore_CREATING {
			r.State, r.Etag, r.UpdateTime = gkebackuppb.Restore_IN_PROGRESS, p.etag(), p.now()
		}
	})
	resources := b.ResourceCount
	return p.startOp(ctx, location(name), name, "create", func(failure string) (proto.Message, error) {
		if p.restores[name] != r {
			return nil, status.Errorf(codes.Aborted, "Restore %q was deleted while running.", name)
		}
		now := p.now()
		r.Etag, r.UpdateTime, r.CompleteTime = p.etag(), now, now
		if failure != "" {
			r.State, r.StateReason = gkebackuppb.Restore_FAILED, failure
			return nil, opFailed(failure)
		}
		r.State, r.ResourcesRestoredCount = gkebackuppb.Restore_SUCCEEDED, resources
		return cloneRestore(r), nil
	}), nil
}

func (p *Part) GetRestore(_ context.Context, req *gkebackuppb.GetRestoreRequest) (*gkebackuppb.Restore, error) {
	defer p.s.Lock()()
	if _, err := p.parseName("name", req.GetName(), "projects", "locations", "restorePlans", "restores"); err != nil {
		return nil, err
	}
	r, ok := p.restores[req.GetName()]
	if !ok {
		return nil, notFound("Restore", req.GetName())
	}
	return cloneRestore(r), nil
}

// ListRestores lists a restore plan's restores ("-" as the plan lists the whole location's).
func (p *Part) ListRestores(_ context.Context, req *gkebackuppb.ListRestoresRequest) (*gkebackuppb.ListRestoresResponse, error) {
	defer p.s.Lock()()
	if _, err := p.parseName("parent", req.GetParent(), "projects", "locations", "restorePlans"); err != nil {
		return nil, err
	}
	if _, ok := p.restorePlans[req.GetParent()]; !ok && !hasWildcard(req.GetParent()) {
		return nil, notFound("RestorePlan", req.GetParent())
	}
	page, next, err := list(p.restores, req.GetParent(), req)
	if err != nil {
		return nil, err
	}
	return &gkebackuppb.ListRestoresResponse{Restores: page, NextPageToken: next}, nil
}
