package gkebackup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sourcegraph/lifecycle/sim/gke"
)

func cloneBackup(b *gkebackuppb.Backup) *gkebackuppb.Backup {
	return proto.Clone(b).(*gkebackuppb.Backup)
}

// days adds n days to a timestamp.
func days(t *timestamppb.Timestamp, n int32) *timestamppb.Timestamp {
	return timestamppb.New(t.AsTime().Add(time.Duration(n) * 24 * time.Hour))
}

// CreateBackup takes an on-demand backup of the plan's cluster: CREATING, IN_PROGRESS after a third
// of Timings.BackupOperation, SUCCEEDED when the operation completes, or FAILED (and the operation
// in error) under a failOperation fault or if the cluster disappeared meanwhile. Retention and delete
// lock come from the plan unless the request sets them.
func (p *Part) CreateBackup(ctx context.Context, req *gkebackuppb.CreateBackupRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	bp, err := p.plan(req.GetParent())
	if err != nil {
		return nil, err
	}
	id := req.GetBackupId()
	if id == "" {
		// The ID is optional; the service then picks one.
		id = fmt.Sprintf("backup-%s-%d", p.s.Now().UTC().Format("20060102150405"), p.s.NextID())
	}
	if err := validID("backup_id", id); err != nil {
		return nil, err
	}
	name := bp.Name + "/backups/" + id
	if _, exists := p.backups[name]; exists {
		return nil, alreadyExists("Backup", name)
	}
	if bp.State != gkebackuppb.BackupPlan_READY {
		return nil, status.Errorf(codes.FailedPrecondition, "BackupPlan %q is %s; backups can only be taken with a READY plan.", bp.Name, bp.State)
	}
	if err := p.checkCluster("backup_plan.cluster", bp.Cluster); err != nil {
		return nil, err
	}

	b := &gkebackuppb.Backup{}
	if in := req.GetBackup(); in != nil {
		b = cloneBackup(in)
	}
	b.Name, b.Uid, b.Manual = name, p.uid(), true
	b.CreateTime, b.UpdateTime = p.now(), p.now()
	b.State, b.StateReason, b.CompleteTime = gkebackuppb.Backup_CREATING, "", nil
	if rp := bp.RetentionPolicy; rp != nil {
		if b.RetainDays == 0 {
			b.RetainDays = rp.BackupRetainDays
		}
		if b.DeleteLockDays == 0 {
			b.DeleteLockDays = rp.BackupDeleteLockDays
		}
	}
	if b.RetainDays != 0 && b.RetainDays < b.DeleteLockDays {
		return nil, status.Errorf(codes.InvalidArgument, "backup.retain_days (%d) must be 0 or at least delete_lock_days (%d).", b.RetainDays, b.DeleteLockDays)
	}
	b.RetainExpireTime, b.DeleteLockExpireTime = nil, nil
	if b.RetainDays > 0 {
		b.RetainExpireTime = days(b.CreateTime, b.RetainDays)
	}
	if b.DeleteLockDays > 0 {
		b.DeleteLockExpireTime = days(b.CreateTime, b.DeleteLockDays)
	}
	b.ClusterMetadata = &gkebackuppb.Backup_ClusterMetadata{Cluster: bp.Cluster}
	cfg := bp.GetBackupConfig()
	switch scope := cfg.GetBackupScope().(type) {
	case *gkebackuppb.BackupPlan_BackupConfig_SelectedNamespaces:
		b.BackupScope = &gkebackuppb.Backup_SelectedNamespaces{SelectedNamespaces: scope.SelectedNamespaces}
	case *gkebackuppb.BackupPlan_BackupConfig_SelectedApplications:
		b.BackupScope = &gkebackuppb.Backup_SelectedApplications{SelectedApplications: scope.SelectedApplications}
	default:
		b.BackupScope = &gkebackuppb.Backup_AllNamespaces{AllNamespaces: true}
	}
	b.ContainsVolumeData, b.ContainsSecrets, b.PermissiveMode = cfg.GetIncludeVolumeData(), cfg.GetIncludeSecrets(), cfg.GetPermissiveMode()
	b.EncryptionKey = cfg.GetEncryptionKey()
	b.Etag = p.etag()
	p.backups[name] = b
	p.s.Created(Name, name)

	p.afterFraction(3, func() {
		if p.backups[name] == b && b.State == gkebackuppb.Backup_CREATING {
			b.State, b.Etag, b.UpdateTime = gkebackuppb.Backup_IN_PROGRESS, p.etag(), p.now()
		}
	})
	return p.startOp(ctx, location(name), name, "create", func(failure string) (proto.Message, error) {
		if p.backups[name] != b {
			return nil, status.Errorf(codes.Aborted, "Backup %q was deleted while being created.", name)
		}
		if failure == "" {
			if err := p.checkCluster("backup_plan.cluster", bp.Cluster); err != nil {
				failure = "The cluster went away during the backup: " + status.Convert(err).Message()
			} else if !p.clusterHasNodes(bp.Cluster) {
				failure = "The cluster has no nodes to run the backup agent on; scale a node pool up, then back up."
			}
		}
		now := p.now()
		b.Etag, b.UpdateTime, b.CompleteTime = p.etag(), now, now
		if failure != "" {
			b.State, b.StateReason = gkebackuppb.Backup_FAILED, failure
			return nil, opFailed(failure)
		}
		// Plausible contents, so callers that report sizes have something to show.
		b.State, b.ResourceCount, b.PodCount, b.SizeBytes, b.ConfigBackupSizeBytes = gkebackuppb.Backup_SUCCEEDED, 214, 37, 48<<20, 2<<20
		if b.ContainsVolumeData {
			b.VolumeCount = 3
		}
		if p.plans[bp.Name] == bp {
			bp.LastSuccessfulBackupTime = now
		}
		return cloneBackup(b), nil
	}), nil
}

// backup finds a backup by full name, or NOT_FOUND.
func (p *Part) backup(name string) (*gkebackuppb.Backup, error) {
	if _, err := p.parseName("name", name, "projects", "locations", "backupPlans", "backups"); err != nil {
		return nil, err
	}
	b, ok := p.backups[name]
	if !ok {
		return nil, notFound("Backup", name)
	}
	return b, nil
}

func (p *Part) GetBackup(_ context.Context, req *gkebackuppb.GetBackupRequest) (*gkebackuppb.Backup, error) {
	defer p.s.Lock()()
	b, err := p.backup(req.GetName())
	if err != nil {
		return nil, err
	}
	return cloneBackup(b), nil
}

// ListBackups lists a plan's backups ("-" as the plan lists the whole location's).
func (p *Part) ListBackups(_ context.Context, req *gkebackuppb.ListBackupsRequest) (*gkebackuppb.ListBackupsResponse, error) {
	defer p.s.Lock()()
	if _, err := p.parseName("parent", req.GetParent(), "projects", "locations", "backupPlans"); err != nil {
		return nil, err
	}
	if _, ok := p.plans[req.GetParent()]; !ok && !hasWildcard(req.GetParent()) {
		return nil, notFound("BackupPlan", req.GetParent())
	}
	page, next, err := list(p.backups, req.GetParent(), req)
	if err != nil {
		return nil, err
	}
	return &gkebackuppb.ListBackupsResponse{Backups: page, NextPageToken: next}, nil
}

// DeleteBackup refuses while the backup is being taken or is delete-locked, and, without force,
// when it holds volume backups (DeleteBackupRequest.force in google/cloud/gkebackup/v1/gkebackup.proto:
// "Otherwise, the request will only succeed if the Backup has no VolumeBackups"; the code and
// wording of the refusal are the simulator's).
func (p *Part) DeleteBackup(ctx context.Context, req *gkebackuppb.DeleteBackupRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	b, err := p.backup(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := checkEtag("Backup", b.Name, req.GetEtag(), b.Etag); err != nil {
		return nil, err
	}
	switch b.State {
	case gkebackuppb.Backup_CREATING, gkebackuppb.Backup_IN_PROGRESS:
		return nil, status.Errorf(codes.FailedPrecondition, "Backup %q is %s; it can be deleted once it has finished.", b.Name, b.State)
	case gkebackuppb.Backup_DELETING:
		return nil, status.Errorf(codes.FailedPrecondition, "Backup %q is already being deleted.", b.Name)
	}
	if lock := b.DeleteLockExpireTime; lock != nil && lock.AsTime().After(p.s.Now()) {
		return nil, status.Errorf(codes.FailedPrecondition, "Backup %q is locked against deletion until %s.", b.Name, lock.AsTime().UTC().Format(time.RFC3339))
	}
	if b.VolumeCount > 0 && !req.GetForce() {
		return nil, status.Errorf(codes.FailedPrecondition, "Backup %q has %d volume backup(s); set force to delete them with it.", b.Name, b.VolumeCount)
	}
	prev := b.State
	b.State, b.Etag, b.UpdateTime = gkebackuppb.Backup_DELETING, p.etag(), p.now()
	p.s.Deleted(Name, b.Name)

	name := b.Name
	return p.startOp(ctx, location(name), name, "delete", func(failure string) (proto.Message, error) {
		if p.backups[name] != b {
			return &emptypb.Empty{}, nil
		}
		if failure != "" {
			b.State, b.StateReason, b.Etag = prev, failure, p.etag()
			return nil, opFailed(failure)
		}
		delete(p.backups, name)
		return &emptypb.Empty{}, nil
	}), nil
}

// clusterHasNodes reports whether the cluster has a running node pool with nodes (the gke part's
// Serving). Without a gke part every cluster has nodes. Lock held.
func (p *Part) clusterHasNodes(cluster string) bool {
	ids, ok := splitName(cluster, "projects", "locations", "clusters")
	g, _ := p.s.Part(gke.Name).(*gke.Part)
	return !ok || g == nil || g.Serving(ids[0], ids[1], ids[2])
}

func hasWildcard(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if seg == "-" {
			return true
		}
	}
	return false
}
