package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Backups taken before a risky step (suspend, resume's catch-up, teardown, upgrade) and their
// restore: named from the workflow ID so a retried step finds what it already took.

// takeBackups (suspend, resume catch-up, teardown, upgrade) takes the on-demand Cloud SQL and
// Backup for GKE backups, named deterministically from the workflow ID (and tag, e.g. the target version), so a retried step finds the backups it
// already took. It records both as facts and returns the record, built on prev (the record of an
// earlier attempt of the same step: its TakenAt is kept, the earliest and so safest time).
func takeBackups(ctx workflow.Context, o *operation, ref instanceRef, prefix, tag, sqlFact, gkeFact string, prev *BackupRecord) (*BackupRecord, error) {
	rec := &BackupRecord{TakenAt: workflow.Now(ctx)}
	if prev != nil && !prev.TakenAt.IsZero() {
		rec.TakenAt = prev.TakenAt
	}
	key := prefix + "-" + o.id
	if tag != "" {
		key += "/" + tag
	}
	sqlIn := activities.BackupSQLInput{Project: ref.Project, Instance: spec.SQLInstanceName, Key: key}
	gkeIn := activities.BackupGKEInput{Project: ref.Project, Region: ref.Region, Plan: spec.BackupPlanName, Name: BackupName(prefix, tag, o.id)}
	// The two backups are independent, and each takes minutes in a real cloud: from this version on
	// they run at once. Runs recorded before replay them one after the other; from
	// RevisionLeanHistory the revision says so without the version marker's two events.
	if revision(ctx) >= RevisionLeanHistory || workflow.GetVersion(ctx, "parallel-backups", workflow.DefaultVersion, 1) == 1 {
		sqlF := workflow.ExecuteActivity(withActivity(ctx, Backup, "On-demand Cloud SQL backup"), (*activities.CloudSQL).BackupSQL, sqlIn)
		gkeF := workflow.ExecuteActivity(withActivity(ctx, Backup, "On-demand Backup for GKE backup"), (*activities.GKEBackup).BackupGKE, gkeIn)
		var sql activities.BackupSQLOutput
		var gke activities.BackupGKEResult
		sqlErr, gkeErr := withAttempts(sqlF.Get(ctx, &sql), ActivityOptions(Backup)), withAttempts(gkeF.Get(ctx, &gke), ActivityOptions(Backup))
		// Whatever was taken stays on record, even if the step is skipped from here.
		if sqlErr == nil {
			rec.SQLBackupRunID = sql.BackupRunID
			o.runner.SetFact(sqlFact, fmt.Sprint(sql.BackupRunID))
		}
		if gkeErr == nil {
			rec.GKEBackup = gke.Name
			o.runner.SetFact(gkeFact, gke.Name)
		}
		if sqlErr != nil {
			return rec, sqlErr
		}
		return rec, gkeErr
	}
	sql, err := execute[activities.BackupSQLOutput](ctx, Backup, "On-demand Cloud SQL backup", (*activities.CloudSQL).BackupSQL, sqlIn)
	if err != nil {
		return prev, err
	}
	rec.SQLBackupRunID = sql.BackupRunID
	o.runner.SetFact(sqlFact, fmt.Sprint(sql.BackupRunID))
	gke, err := execute[activities.BackupGKEResult](ctx, Backup, "On-demand Backup for GKE backup", (*activities.GKEBackup).BackupGKE, gkeIn)
	if err != nil {
		// The SQL backup exists: keep it on record even if the step is skipped from here.
		return rec, err
	}
	rec.GKEBackup = gke.Name
	o.runner.SetFact(gkeFact, gke.Name)
	return rec, nil
}

// BackupName is a Backup for GKE backup ID: a letter first, then lowercase letters, digits and
// hyphens, at most 63 characters, not ending in a hyphen. It is prefix, the sanitized tag, and a
// short hash of the workflow ID, so it is the same on every retry and unique per operation.
func BackupName(prefix, tag, workflowID string) string {
	sum := sha256.Sum256([]byte(workflowID))
	hash := hex.EncodeToString(sum[:])[:12]
	var b strings.Builder
	for _, r := range strings.ToLower(prefix + "-" + tag) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if s := b.String(); s != "" && !strings.HasSuffix(s, "-") {
				b.WriteByte('-')
			}
		}
	}
	head := strings.Trim(b.String(), "-")
	if max := 63 - len(hash) - 1; len(head) > max {
		head = strings.TrimRight(head[:max], "-")
	}
	if head == "" || head[0] < 'a' || head[0] > 'z' {
		head = "b" + head
		if len(head) > 63-len(hash)-1 {
			head = head[:63-len(hash)-1]
		}
		head = strings.TrimRight(head, "-")
	}
	return head + "-" + hash
}

// restoreBackups overwrites the data with the pre-upgrade backups: Cloud SQL from
// its on-demand backup run, then the cluster's workloads and disks from Backup for GKE.
func restoreBackups(ctx workflow.Context, o *operation, ref instanceRef, b *BackupRecord) error {
	if b == nil || b.SQLBackupRunID == 0 || b.GKEBackup == "" {
		return errors.New("no pre-upgrade backups are recorded to restore from: skip this step if the data is fine")
	}
	if _, err := execute[activities.RestoreSQLOutput](ctx, Backup, fmt.Sprintf("Restore Cloud SQL from backup run %d", b.SQLBackupRunID),
		(*activities.CloudSQL).RestoreSQL, activities.RestoreSQLInput{Project: ref.Project, Instance: spec.SQLInstanceName, BackupRunID: b.SQLBackupRunID}); err != nil {
		return err
	}
	o.runner.SetFact("Restored Cloud SQL from", fmt.Sprint(b.SQLBackupRunID))
	if _, err := execute[activities.RestoreGKEResult](ctx, Backup, "Restore the cluster from "+b.GKEBackup, (*activities.GKEBackup).RestoreGKE,
		activities.RestoreGKEInput{Project: ref.Project, Region: ref.Region, Plan: spec.BackupPlanName, Backup: b.GKEBackup,
			Name: BackupName("restore", "", o.id)}); err != nil {
		return err
	}
	o.runner.SetFact("Restored Backup for GKE from", b.GKEBackup)
	return nil
}
