package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gkebackup "cloud.google.com/go/gkebackup/apiv1"
	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/sourcegraph/lifecycle/internal/config"
)

// The Backup for GKE plan every instance gets (docs/design.md: daily, 90 days). No delete lock, so a
// teardown can delete the backups once a human approved it.
const (
	GKEBackupCron       = "0 3 * * *" // daily, 03:00 UTC
	GKEBackupRetainDays = 90
)

// GKEBackup manages Backup for GKE: the instance's backup plan, on-demand backups and restores.
type GKEBackup struct {
	client *gkebackup.BackupForGKEClient
	// PollInterval is how often operations are polled (DefaultPollInterval when zero).
	PollInterval time.Duration
}

// NewGKEBackup connects to Backup for GKE (or the simulator, per config.Cloud) with Application
// Default Credentials.
func NewGKEBackup(ctx context.Context, c config.Cloud) (*GKEBackup, error) {
	cl, err := gkebackup.NewBackupForGKEClient(ctx, GCPOptions(c)...)
	if err != nil {
		return nil, fmt.Errorf("Backup for GKE client: %w", err)
	}
	return &GKEBackup{client: cl}, nil
}

// Close releases the client's connections.
// Close releases the client (no return value, so it is not an activity).
func (b *GKEBackup) Close() { b.client.Close() }

func gkeBackupLocation(project, region string) string {
	return "projects/" + project + "/locations/" + region
}

func gkeBackupPlanName(project, region, plan string) string {
	return gkeBackupLocation(project, region) + "/backupPlans/" + plan
}

// EnsureBackupPlanInput is the instance's backup plan: Plan is spec.BackupPlanName, Cluster the
// cluster ID in the same project and region.
type EnsureBackupPlanInput struct {
	Project string            `json:"project"`
	Region  string            `json:"region"`
	Cluster string            `json:"cluster"`
	Plan    string            `json:"plan"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// BackupPlanResult is the plan as the workflows see it.
type BackupPlanResult struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	CronSchedule string `json:"cronSchedule"`
	RetainDays   int32  `json:"retainDays"`
	Updated      bool   `json:"updated,omitempty"` // the plan existed with other settings and was brought in line
}

// gkeBackupPlanSpec is the policy every instance's plan follows.
func gkeBackupPlanSpec(cluster string, labels map[string]string) *gkebackuppb.BackupPlan {
	return &gkebackuppb.BackupPlan{
		Cluster:         cluster,
		Description:     "Daily backup of the Sourcegraph dedicated instance (managed by the lifecycle service)",
		Labels:          labels,
		RetentionPolicy: &gkebackuppb.BackupPlan_RetentionPolicy{BackupRetainDays: GKEBackupRetainDays},
		BackupSchedule:  &gkebackuppb.BackupPlan_Schedule{CronSchedule: GKEBackupCron},
		BackupConfig: &gkebackuppb.BackupPlan_BackupConfig{
			BackupScope:       &gkebackuppb.BackupPlan_BackupConfig_AllNamespaces{AllNamespaces: true},
			IncludeVolumeData: true,
			IncludeSecrets:    true,
		},
	}
}

// gkeBackupPlanDrift lists the update_mask paths where an existing plan differs from the policy.
func gkeBackupPlanDrift(got, want *gkebackuppb.BackupPlan) []string {
	var paths []string
	if got.GetBackupSchedule().GetCronSchedule() != want.GetBackupSchedule().GetCronSchedule() || got.GetBackupSchedule().GetPaused() {
		paths = append(paths, "backup_schedule")
	}
	if got.GetRetentionPolicy().GetBackupRetainDays() != want.GetRetentionPolicy().GetBackupRetainDays() {
		paths = append(paths, "retention_policy")
	}
	gc, wc := got.GetBackupConfig(), want.GetBackupConfig()
	if gc.GetAllNamespaces() != wc.GetAllNamespaces() || gc.GetIncludeVolumeData() != wc.GetIncludeVolumeData() || gc.GetIncludeSecrets() != wc.GetIncludeSecrets() {
		paths = append(paths, "backup_config")
	}
	return paths
}

// EnsureBackupPlan creates the plan, or accepts the existing one. A plan whose schedule, retention
// or scope drifted from the policy is updated in place (those are our policy, and an update keeps
// its backups), while a plan for another cluster is a conflict: the cluster is immutable.
func (b *GKEBackup) EnsureBackupPlan(ctx context.Context, in EnsureBackupPlanInput) (BackupPlanResult, error) {
	name := gkeBackupPlanName(in.Project, in.Region, in.Plan)
	cluster := gkeBackupLocation(in.Project, in.Region) + "/clusters/" + in.Cluster
	what := "ensure Backup for GKE plan " + name
	want := gkeBackupPlanSpec(cluster, in.Labels)
	if err := b.resumeOp(ctx, what); err != nil {
		return BackupPlanResult{}, err
	}
	updated := false
	for round := 0; round < 5; round++ {
		bp, err := b.client.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: name})
		if status.Code(err) == codes.NotFound {
			op, err := b.client.CreateBackupPlan(ctx, &gkebackuppb.CreateBackupPlanRequest{
				Parent: gkeBackupLocation(in.Project, in.Region), BackupPlanId: in.Plan, BackupPlan: want,
			})
			if status.Code(err) == codes.AlreadyExists {
				continue
			}
			if err != nil {
				return BackupPlanResult{}, gkeBackupClassify("create Backup for GKE plan "+name, err)
			}
			if err := waitLongRunning(ctx, b.PollInterval, "create Backup for GKE plan "+name, op,
				func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeBackupPlanFix); err != nil && !errors.Is(err, errLROGone) {
				return BackupPlanResult{}, err
			}
			continue
		}
		if err != nil {
			return BackupPlanResult{}, gkeBackupClassify(what, err)
		}
		if bp.GetCluster() != cluster {
			return BackupPlanResult{}, Permanent(ErrConflict,
				fmt.Sprintf("%s: the plan exists for cluster %s, not %s", what, bp.GetCluster(), cluster),
				"a plan's cluster cannot change: delete that plan (after its backups) if it is stale, or check the instance's project and region", nil)
		}
		switch bp.GetState() {
		case gkebackuppb.BackupPlan_CLUSTER_PENDING, gkebackuppb.BackupPlan_PROVISIONING:
			if err := b.waitPlanState(ctx, name, what); err != nil {
				return BackupPlanResult{}, err
			}
			continue
		case gkebackuppb.BackupPlan_DELETING:
			return BackupPlanResult{}, Transient(ErrBusy, what+": the plan is being deleted; retrying recreates it once it is gone", nil, 0)
		case gkebackuppb.BackupPlan_FAILED:
			return BackupPlanResult{}, Permanent(ErrPrecondition, fmt.Sprintf("%s: the plan is FAILED: %s", what, bp.GetStateReason()), gkeBackupPlanFix, nil)
		case gkebackuppb.BackupPlan_DEACTIVATED:
			return BackupPlanResult{}, Permanent(ErrConflict, what+": the plan is DEACTIVATED and cannot take backups; a deactivated plan cannot be reactivated",
				"delete its backups and the plan (DeleteGKEBackups, DeleteBackupPlan) if losing them is acceptable, then retry; or keep it and create the plan under another name", nil)
		}
		if paths := gkeBackupPlanDrift(bp, want); len(paths) > 0 && round < 4 {
			upd := gkeBackupPlanSpec(cluster, in.Labels)
			upd.Name, upd.Etag = name, bp.GetEtag()
			op, err := b.client.UpdateBackupPlan(ctx, &gkebackuppb.UpdateBackupPlanRequest{BackupPlan: upd, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
			if status.Code(err) == codes.Aborted {
				continue // etag moved: read again
			}
			if err != nil {
				return BackupPlanResult{}, gkeBackupClassify("update Backup for GKE plan "+name, err)
			}
			if err := waitLongRunning(ctx, b.PollInterval, "update Backup for GKE plan "+name, op,
				func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeBackupPlanFix); err != nil && !errors.Is(err, errLROGone) {
				return BackupPlanResult{}, err
			}
			updated = true
			continue
		}
		return BackupPlanResult{
			Name: name, State: bp.GetState().String(), CronSchedule: bp.GetBackupSchedule().GetCronSchedule(),
			RetainDays: bp.GetRetentionPolicy().GetBackupRetainDays(), Updated: updated,
		}, nil
	}
	return BackupPlanResult{}, Transient(ErrBusy, what+": the plan kept changing while being ensured; retrying", nil, 0)
}

const gkeBackupPlanFix = "read the message (the cluster must exist and the Backup for GKE add-on be enabled), fix the cause, delete a FAILED plan (DeleteBackupPlan), then retry the step"

// waitPlanState waits until a plan being provisioned settles (an earlier attempt's operation).
func (b *GKEBackup) waitPlanState(ctx context.Context, name, what string) error {
	return pollUntil(ctx, b.PollInterval, lroProgress{}, func() (bool, error) {
		bp, err := b.client.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: name})
		if err != nil {
			return false, gkeBackupClassify(what, err)
		}
		s := bp.GetState()
		return s != gkebackuppb.BackupPlan_CLUSTER_PENDING && s != gkebackuppb.BackupPlan_PROVISIONING, nil
	})
}

// BackupGKEInput names an on-demand backup. Name is the backup ID and must be deterministic (for
// example "pre-upgrade-5-10-0", or derived from the workflow run), so a retried or re-run activity
// finds the backup it already started instead of taking another.
type BackupGKEInput struct {
	Project string `json:"project"`
	Region  string `json:"region"`
	Plan    string `json:"plan"`
	Name    string `json:"name"`
}

// BackupGKEResult is the finished backup; Name is its full resource name, the ID workflows record
// for rollback.
type BackupGKEResult struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	CompleteTime string `json:"completeTime,omitempty"`
	SizeBytes    int64  `json:"sizeBytes,omitempty"`
}

func gkeBackupResult(bk *gkebackuppb.Backup) BackupGKEResult {
	r := BackupGKEResult{Name: bk.GetName(), State: bk.GetState().String(), SizeBytes: bk.GetSizeBytes()}
	if t := bk.GetCompleteTime(); t != nil {
		r.CompleteTime = t.AsTime().UTC().Format(time.RFC3339)
	}
	return r
}

// BackupGKE takes an on-demand backup with the plan's settings and waits until it has SUCCEEDED.
func (b *GKEBackup) BackupGKE(ctx context.Context, in BackupGKEInput) (BackupGKEResult, error) {
	plan := gkeBackupPlanName(in.Project, in.Region, in.Plan)
	name := plan + "/backups/" + in.Name
	what := "back up GKE cluster as " + name
	if in.Name == "" {
		return BackupGKEResult{}, Permanent(ErrInvalidArgument, "back up GKE cluster with plan "+plan+": no backup name given",
			"pass a deterministic backup name (e.g. pre-upgrade-<version>); without one a retry would take a second backup", nil)
	}
	if d, ok := resumeDetails[lroProgress](ctx); ok && d.Operation != "" {
		op := b.client.CreateBackupOperation(d.Operation)
		if err := waitLongRunning(ctx, b.PollInterval, what, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeBackupFix); err != nil && !errors.Is(err, errLROGone) {
			return BackupGKEResult{}, err
		}
	}
	for round := 0; round < 3; round++ {
		bk, err := b.client.GetBackup(ctx, &gkebackuppb.GetBackupRequest{Name: name})
		if status.Code(err) == codes.NotFound {
			op, err := b.client.CreateBackup(ctx, &gkebackuppb.CreateBackupRequest{
				Parent: plan, BackupId: in.Name,
				Backup: &gkebackuppb.Backup{Description: "On-demand backup taken by the lifecycle service"},
			})
			if status.Code(err) == codes.AlreadyExists {
				continue
			}
			if err != nil {
				return BackupGKEResult{}, gkeBackupClassify("create Backup for GKE backup "+name, err)
			}
			if err := waitLongRunning(ctx, b.PollInterval, what, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeBackupFix); err != nil && !errors.Is(err, errLROGone) {
				return BackupGKEResult{}, err
			}
			continue
		}
		if err != nil {
			return BackupGKEResult{}, gkeBackupClassify(what, err)
		}
		switch bk.GetState() {
		case gkebackuppb.Backup_SUCCEEDED:
			return gkeBackupResult(bk), nil
		case gkebackuppb.Backup_FAILED:
			return BackupGKEResult{}, Permanent(ErrOperationFailed, fmt.Sprintf("%s: the backup FAILED: %s", what, bk.GetStateReason()), gkeBackupFix, nil)
		case gkebackuppb.Backup_DELETING:
			return BackupGKEResult{}, Transient(ErrBusy, what+": a backup with this name is being deleted; retrying takes it again once it is gone", nil, 0)
		}
		// CREATING or IN_PROGRESS, started by an earlier attempt whose operation we lost: wait for it.
		if err := pollUntil(ctx, b.PollInterval, lroProgress{}, func() (bool, error) {
			bk, err := b.client.GetBackup(ctx, &gkebackuppb.GetBackupRequest{Name: name})
			if err != nil {
				return false, gkeBackupClassify(what, err)
			}
			s := bk.GetState()
			return s != gkebackuppb.Backup_CREATING && s != gkebackuppb.Backup_IN_PROGRESS, nil
		}); err != nil {
			return BackupGKEResult{}, err
		}
	}
	return BackupGKEResult{}, Transient(ErrBusy, what+": the backup kept changing state; retrying", nil, 0)
}

const gkeBackupFix = "read the message (the cluster must be running and the plan READY), fix the cause; to try again, delete the failed backup or pass another backup name, then retry the step"

// DeleteGKEBackupsInput names the plan whose backups go.
type DeleteGKEBackupsInput struct {
	Project string `json:"project"`
	Region  string `json:"region"`
	Plan    string `json:"plan"`
}

// DeleteGKEBackupsResult lists the backups this call deleted.
type DeleteGKEBackupsResult struct {
	Deleted []string `json:"deleted,omitempty"`
}

// gkeBackupDeleteProgress is DeleteGKEBackups' heartbeat: the delete operations it started. A
// retry does not need them (it sees DELETING backups and waits for them), they show progress.
type gkeBackupDeleteProgress struct {
	Operations []string `json:"operations,omitempty"`
}

// DeleteGKEBackups deletes every backup of the plan, in parallel, and waits until none is left.
// A plan that is gone has no backups: success. Backups being taken are waited for first.
func (b *GKEBackup) DeleteGKEBackups(ctx context.Context, in DeleteGKEBackupsInput) (DeleteGKEBackupsResult, error) {
	plan := gkeBackupPlanName(in.Project, in.Region, in.Plan)
	what := "delete the backups of Backup for GKE plan " + plan
	var res DeleteGKEBackupsResult
	progress := &gkeBackupDeleteProgress{}
	started := map[string]*gkebackup.DeleteBackupOperation{}
	err := pollUntil(ctx, b.PollInterval, progress, func() (bool, error) {
		var left int
		it := b.client.ListBackups(ctx, &gkebackuppb.ListBackupsRequest{Parent: plan})
		for {
			bk, err := it.Next()
			if errors.Is(err, iterator.Done) {
				break
			}
			if gcpNotFound(err) {
				return true, nil
			}
			if err != nil {
				return false, gkeBackupClassify(what, err)
			}
			left++
			switch bk.GetState() {
			case gkebackuppb.Backup_DELETING, gkebackuppb.Backup_CREATING, gkebackuppb.Backup_IN_PROGRESS:
				continue // wait: gone soon, or deletable once finished
			}
			if op := started[bk.GetName()]; op != nil {
				// We deleted it, yet it is back in a final state: the delete failed.
				if err := op.Poll(ctx); err != nil && op.Done() {
					return false, Permanent(ErrOperationFailed, fmt.Sprintf("%s: deleting %s failed: %s", what, bk.GetName(), lroMessage(err)), gkeBackupDeleteFix, err)
				}
				continue
			}
			// force: the plan backs up volume data, and without it only backups without volume
			// backups can be deleted.
			op, err := b.client.DeleteBackup(ctx, &gkebackuppb.DeleteBackupRequest{Name: bk.GetName(), Force: true})
			if gcpNotFound(err) {
				left--
				continue
			}
			if err != nil {
				return false, gkeBackupClassify("delete Backup for GKE backup "+bk.GetName(), err)
			}
			started[bk.GetName()] = op
			progress.Operations = append(progress.Operations, op.Name())
			res.Deleted = append(res.Deleted, bk.GetName())
			heartbeat(ctx, progress)
		}
		return left == 0, nil
	})
	return res, err
}

const gkeBackupDeleteFix = "read the message; a delete-locked backup can only be deleted after its lock expires. Fix the cause, then retry the step"

// DeleteBackupPlanInput names the plan to delete.
type DeleteBackupPlanInput struct {
	Project string `json:"project"`
	Region  string `json:"region"`
	Plan    string `json:"plan"`
}

// DeleteBackupPlanResult says whether this call deleted it or it was already gone.
type DeleteBackupPlanResult struct {
	Name        string `json:"name"`
	AlreadyGone bool   `json:"alreadyGone"`
}

// DeleteBackupPlan deletes the plan (its backups must be gone: DeleteGKEBackups) and waits until
// it is gone. The instance's restore plan, which a rollback creates and which uses this plan, goes
// first. A plan already gone is success.
func (b *GKEBackup) DeleteBackupPlan(ctx context.Context, in DeleteBackupPlanInput) (DeleteBackupPlanResult, error) {
	name := gkeBackupPlanName(in.Project, in.Region, in.Plan)
	what := "delete Backup for GKE plan " + name
	res := DeleteBackupPlanResult{Name: name}
	if err := b.resumeOp(ctx, what); err != nil {
		return res, err
	}
	rpName := gkeBackupLocation(in.Project, in.Region) + "/restorePlans/" + gkeRestorePlanID(in.Plan)
	if err := b.deleteRestorePlan(ctx, rpName, what+": delete its restore plan "+rpName); err != nil {
		return res, err
	}
	bp, err := b.client.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: name})
	if gcpNotFound(err) {
		res.AlreadyGone = true
		return res, nil
	}
	if err != nil {
		return res, gkeBackupClassify(what, err)
	}
	if bp.GetState() != gkebackuppb.BackupPlan_DELETING {
		op, err := b.client.DeleteBackupPlan(ctx, &gkebackuppb.DeleteBackupPlanRequest{Name: name})
		if gcpNotFound(err) {
			return res, nil
		}
		if status.Code(err) == codes.FailedPrecondition && strings.Contains(status.Convert(err).Message(), "still has") {
			return res, Permanent(ErrPrecondition, what+": "+status.Convert(err).Message(), "delete the plan's backups first (DeleteGKEBackups), then retry", err)
		}
		if err != nil {
			return res, gkeBackupClassify(what, err)
		}
		if err := waitLongRunning(ctx, b.PollInterval, what, op, func(ctx context.Context) error { return op.Poll(ctx) }, gkeBackupPlanFix); err != nil && !errors.Is(err, errLROGone) {
			return res, err
		}
	}
	return res, pollUntil(ctx, b.PollInterval, lroProgress{}, func() (bool, error) {
		_, err := b.client.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: name})
		if gcpNotFound(err) {
			return true, nil
		}
		return false, gkeBackupClassify(what, err)
	})
}

// deleteRestorePlan deletes the restore plan with its restores and waits until it is gone; one
// that is gone already is success.
func (b *GKEBackup) deleteRestorePlan(ctx context.Context, rpName, what string) error {
	return pollUntil(ctx, b.PollInterval, lroProgress{}, func() (bool, error) {
		rp, err := b.client.GetRestorePlan(ctx, &gkebackuppb.GetRestorePlanRequest{Name: rpName})
		if gcpNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, gkeBackupClassify(what, err)
		}
		if rp.GetState() == gkebackuppb.RestorePlan_DELETING {
			return false, nil
		}
		if _, err := b.client.DeleteRestorePlan(ctx, &gkebackuppb.DeleteRestorePlanRequest{Name: rpName, Force: true}); err != nil && !gcpNotFound(err) {
			return false, gkeBackupClassify(what, err)
		}
		return false, nil
	})
}

// RestoreGKEInput restores a backup of the plan into the plan's cluster. Backup is the backup's
// full name (as BackupGKE returns it) or its ID in the plan; Name is the restore ID and must be
// deterministic (e.g. derived from the workflow run) so a retry finds the restore it started.
type RestoreGKEInput struct {
	Project string `json:"project"`
	Region  string `json:"region"`
	Plan    string `json:"plan"`
	Backup  string `json:"backup"`
	Name    string `json:"name"`
}

// RestoreGKEResult is the finished restore.
type RestoreGKEResult struct {
	Name              string `json:"name"`
	State             string `json:"state"`
	ResourcesRestored int32  `json:"resourcesRestored"`
}

// gkeRestoreProgress is RestoreGKE's heartbeat: which of its two operations is running.
type gkeRestoreProgress struct {
	Step      string `json:"step"` // "restorePlan" or "restore"
	Operation string `json:"operation"`
}

// gkeRestorePlanID is the restore plan every instance gets for its backup plan: restores go back
// into the same cluster.
func gkeRestorePlanID(plan string) string {
	id := plan + "-restore"
	if len(id) > 63 {
		id = id[len(id)-63:]
	}
	return id
}

// gkeRestoreConfig replaces what is in the namespaces with what the backup has, volumes included,
// and keeps cluster-scoped resources that exist (the cluster's own add-ons).
func gkeRestoreConfig() *gkebackuppb.RestoreConfig {
	return &gkebackuppb.RestoreConfig{
		VolumeDataRestorePolicy:        gkebackuppb.RestoreConfig_RESTORE_VOLUME_DATA_FROM_BACKUP,
		ClusterResourceConflictPolicy:  gkebackuppb.RestoreConfig_USE_EXISTING_VERSION,
		NamespacedResourceRestoreMode:  gkebackuppb.RestoreConfig_DELETE_AND_RESTORE,
		ClusterResourceRestoreScope:    &gkebackuppb.RestoreConfig_ClusterResourceRestoreScope{AllGroupKinds: true},
		NamespacedResourceRestoreScope: &gkebackuppb.RestoreConfig_AllNamespaces{AllNamespaces: true},
	}
}

// RestoreGKE restores a named backup into the instance's cluster through the instance's restore
// plan (ensured here) and waits until the restore has SUCCEEDED.
func (b *GKEBackup) RestoreGKE(ctx context.Context, in RestoreGKEInput) (RestoreGKEResult, error) {
	loc := gkeBackupLocation(in.Project, in.Region)
	plan := gkeBackupPlanName(in.Project, in.Region, in.Plan)
	backup := in.Backup
	if !strings.Contains(backup, "/") {
		backup = plan + "/backups/" + backup
	}
	rpName := loc + "/restorePlans/" + gkeRestorePlanID(in.Plan)
	name := rpName + "/restores/" + in.Name
	what := fmt.Sprintf("restore GKE backup %s as %s", backup, name)
	if in.Name == "" || in.Backup == "" {
		return RestoreGKEResult{}, Permanent(ErrInvalidArgument, what+": the backup and a restore name are required",
			"pass the backup recorded by BackupGKE and a deterministic restore name (e.g. from the workflow run)", nil)
	}
	if d, ok := resumeDetails[gkeRestoreProgress](ctx); ok && d.Operation != "" {
		var err error
		switch d.Step {
		case "restorePlan":
			op := b.client.CreateRestorePlanOperation(d.Operation)
			err = waitLongRunning(ctx, b.PollInterval, "create restore plan "+rpName, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeBackupPlanFix)
		case "restore":
			op := b.client.CreateRestoreOperation(d.Operation)
			err = waitLongRunning(ctx, b.PollInterval, what, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeRestoreFix)
		}
		if err != nil && !errors.Is(err, errLROGone) {
			return RestoreGKEResult{}, err
		}
	}
	if err := b.ensureRestorePlan(ctx, in, plan, rpName); err != nil {
		return RestoreGKEResult{}, err
	}
	for round := 0; round < 3; round++ {
		r, err := b.client.GetRestore(ctx, &gkebackuppb.GetRestoreRequest{Name: name})
		if status.Code(err) == codes.NotFound {
			op, err := b.client.CreateRestore(ctx, &gkebackuppb.CreateRestoreRequest{
				Parent: rpName, RestoreId: in.Name,
				Restore: &gkebackuppb.Restore{Backup: backup, Description: "Restore run by the lifecycle service"},
			})
			if status.Code(err) == codes.AlreadyExists {
				continue
			}
			if err != nil {
				return RestoreGKEResult{}, gkeBackupClassify(what, err)
			}
			if err := waitLongRunning(ctx, b.PollInterval, what, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeRestoreFix,
				gkeRestoreProgress{Step: "restore", Operation: op.Name()}); err != nil && !errors.Is(err, errLROGone) {
				return RestoreGKEResult{}, err
			}
			continue
		}
		if err != nil {
			return RestoreGKEResult{}, gkeBackupClassify(what, err)
		}
		if r.GetBackup() != backup {
			return RestoreGKEResult{}, Permanent(ErrConflict, fmt.Sprintf("%s: restore %s already exists for backup %s", what, name, r.GetBackup()),
				"restore names must be unique per restore: pass another restore name", nil)
		}
		switch r.GetState() {
		case gkebackuppb.Restore_SUCCEEDED:
			return RestoreGKEResult{Name: name, State: r.GetState().String(), ResourcesRestored: r.GetResourcesRestoredCount()}, nil
		case gkebackuppb.Restore_FAILED:
			return RestoreGKEResult{}, Permanent(ErrOperationFailed, fmt.Sprintf("%s: the restore FAILED: %s", what, r.GetStateReason()), gkeRestoreFix, nil)
		case gkebackuppb.Restore_DELETING:
			return RestoreGKEResult{}, Permanent(ErrConflict, what+": a restore with this name is being deleted", "pass another restore name", nil)
		}
		// Still running, started by an earlier attempt whose operation we lost: wait for it.
		if err := pollUntil(ctx, b.PollInterval, gkeRestoreProgress{}, func() (bool, error) {
			r, err := b.client.GetRestore(ctx, &gkebackuppb.GetRestoreRequest{Name: name})
			if err != nil {
				return false, gkeBackupClassify(what, err)
			}
			s := r.GetState()
			return s == gkebackuppb.Restore_SUCCEEDED || s == gkebackuppb.Restore_FAILED || s == gkebackuppb.Restore_DELETING, nil
		}); err != nil {
			return RestoreGKEResult{}, err
		}
	}
	return RestoreGKEResult{}, Transient(ErrBusy, what+": the restore kept changing state; retrying", nil, 0)
}

const gkeRestoreFix = "read the message (the cluster must be running and the backup SUCCEEDED), fix the cause, then retry the step with another restore name"

// ensureRestorePlan creates the instance's restore plan (backup plan → its own cluster) or accepts
// the existing one if it points at the same backup plan and cluster.
func (b *GKEBackup) ensureRestorePlan(ctx context.Context, in RestoreGKEInput, plan, rpName string) error {
	what := "ensure Backup for GKE restore plan " + rpName
	for round := 0; round < 3; round++ {
		rp, err := b.client.GetRestorePlan(ctx, &gkebackuppb.GetRestorePlanRequest{Name: rpName})
		if status.Code(err) == codes.NotFound {
			bp, err := b.client.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: plan})
			if err != nil {
				return gkeBackupClassify(what+": read backup plan "+plan, err)
			}
			op, err := b.client.CreateRestorePlan(ctx, &gkebackuppb.CreateRestorePlanRequest{
				Parent: gkeBackupLocation(in.Project, in.Region), RestorePlanId: gkeRestorePlanID(in.Plan),
				RestorePlan: &gkebackuppb.RestorePlan{
					BackupPlan: plan, Cluster: bp.GetCluster(), RestoreConfig: gkeRestoreConfig(),
					Description: "Restores the instance's backups into its own cluster (managed by the lifecycle service)",
				},
			})
			if status.Code(err) == codes.AlreadyExists {
				continue
			}
			if err != nil {
				return gkeBackupClassify("create Backup for GKE restore plan "+rpName, err)
			}
			if err := waitLongRunning(ctx, b.PollInterval, "create restore plan "+rpName, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, gkeBackupPlanFix,
				gkeRestoreProgress{Step: "restorePlan", Operation: op.Name()}); err != nil && !errors.Is(err, errLROGone) {
				return err
			}
			continue
		}
		if err != nil {
			return gkeBackupClassify(what, err)
		}
		if rp.GetBackupPlan() != plan {
			return Permanent(ErrConflict, fmt.Sprintf("%s: it exists for backup plan %s, not %s", what, rp.GetBackupPlan(), plan),
				"delete the stale restore plan, then retry", nil)
		}
		switch rp.GetState() {
		case gkebackuppb.RestorePlan_READY:
			return nil
		case gkebackuppb.RestorePlan_FAILED:
			return Permanent(ErrPrecondition, fmt.Sprintf("%s: the restore plan is FAILED: %s", what, rp.GetStateReason()), "delete the restore plan, fix the cause, then retry", nil)
		case gkebackuppb.RestorePlan_DELETING:
			return Transient(ErrBusy, what+": the restore plan is being deleted; retrying recreates it", nil, 0)
		}
		if err := pollUntil(ctx, b.PollInterval, gkeRestoreProgress{}, func() (bool, error) {
			rp, err := b.client.GetRestorePlan(ctx, &gkebackuppb.GetRestorePlanRequest{Name: rpName})
			if err != nil {
				return false, gkeBackupClassify(what, err)
			}
			return rp.GetState() != gkebackuppb.RestorePlan_CLUSTER_PENDING && rp.GetState() != gkebackuppb.RestorePlan_STATE_UNSPECIFIED, nil
		}); err != nil {
			return err
		}
	}
	return Transient(ErrBusy, what+": the restore plan kept changing state; retrying", nil, 0)
}

// resumeOp waits for the google.longrunning operation a previous attempt recorded in its heartbeat.
// Any typed wrapper polls any operation when the response is not decoded, so the plan's create,
// update and delete operations share this.
func (b *GKEBackup) resumeOp(ctx context.Context, what string) error {
	d, ok := resumeDetails[lroProgress](ctx)
	if !ok || d.Operation == "" {
		return nil
	}
	op := b.client.DeleteBackupPlanOperation(d.Operation) // Poll decodes no response
	err := waitLongRunning(ctx, b.PollInterval, what, op, func(ctx context.Context) error { return op.Poll(ctx) }, gkeBackupPlanFix)
	if errors.Is(err, errLROGone) {
		return nil
	}
	return err
}

// gkeBackupClassify is classify, plus the one Backup for GKE refusal with its own fix: a backup
// locked against deletion.
func gkeBackupClassify(what string, err error) error {
	if status.Code(err) == codes.FailedPrecondition && strings.Contains(status.Convert(err).Message(), "locked") {
		return Permanent(ErrDeletionProtected, what+": "+status.Convert(err).Message(),
			"the backup is delete-locked by its plan's retention policy: wait until the lock expires, then retry", err)
	}
	return classify(what, err)
}

// lroProgress is the heartbeat detail of activities waiting on a google.longrunning operation
// (Resource Manager, Backup for GKE): its full name, so a retry polls it instead of mutating again.
type lroProgress struct {
	Operation string `json:"operation"`
}

// lroOp is what every typed GAPIC operation wrapper has.
type lroOp interface {
	Done() bool
	Name() string
}

// errLROGone: the service no longer knows the operation; the caller re-reads the resource instead.
var errLROGone = errors.New("long-running operation not found")

// waitLongRunning polls a google.longrunning operation through its typed wrapper until done,
// heartbeating its name (or details, when given). The wrappers' Wait backs off up to a minute
// between polls; this polls every interval and stays cancellable. A failed operation is
// Permanent(ErrOperationFailed) naming it; a failed poll is classified (usually transient).
func waitLongRunning(ctx context.Context, interval time.Duration, what string, op lroOp, poll func(context.Context) error, fix string, details ...any) error {
	var d any = lroProgress{Operation: op.Name()}
	if len(details) > 0 {
		d = details[0]
	}
	heartbeat(ctx, d) // first, so a crash right after the mutation still leaves the name behind
	return pollUntil(ctx, interval, d, func() (bool, error) {
		err := poll(ctx)
		switch {
		case err != nil && op.Done():
			return true, Permanent(ErrOperationFailed, fmt.Sprintf("%s: operation %s failed: %s", what, op.Name(), lroMessage(err)), fix, err)
		case status.Code(err) == codes.NotFound:
			return false, errLROGone
		case err != nil:
			return false, classify("poll operation "+op.Name()+" ("+what+")", err)
		}
		return op.Done(), nil
	})
}

// lroMessage is the message of an operation's error status, without the gRPC wrapping.
func lroMessage(err error) string {
	var ae *apierror.APIError
	if errors.As(err, &ae) && ae.GRPCStatus() != nil {
		return fmt.Sprintf("%s: %s", ae.GRPCStatus().Code(), ae.GRPCStatus().Message())
	}
	return err.Error()
}
