package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// Suspend pauses an instance while keeping its data: alerting goes off
// first so the suspension pages no one, on-demand backups are taken while everything still
// runs, then the node pool scales to zero, Cloud SQL stops, the hostname shows the holding page
// and config.yaml records the suspension. The project, Cloud SQL data, backups, DNS record and
// allowlist all stay, so Resume can bring the instance back.
func Suspend(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	inst := in.Instance
	slug := inst.Slug
	host := instanceHost(inst)
	ref := instanceRefs(inst)
	shape, shapeErr := activities.NodePoolFor(inst.Size)

	var o *operation
	var backups *BackupRecord
	steps := []Step{
		{
			Name: "alerting-off", Title: "Turn alerting off (first, so the suspension pages no one)",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "alerting-off", "turn alerting off", setAlerting(false))
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "undo-alerting-off", "turn alerting back on", setAlerting(true))
				return err
			},
		},
		{
			Name: "backups", Title: "On-demand backups: Cloud SQL and Backup for GKE",
			// No undo: backups are kept, whatever happens to the suspension.
			Run: func(ctx workflow.Context) error {
				rec, err := takeBackups(ctx, o, ref, "suspend", "", "Cloud SQL backup", "Backup for GKE backup", backups)
				backups = rec
				return err
			},
		},
		{
			Name: "scale-down", Title: "Scale the node pool to zero",
			Run: func(ctx workflow.Context) error { return resizeNodePool(ctx, ref, 0) },
			Undo: func(ctx workflow.Context) error {
				return resizeNodePool(ctx, ref, shape.NodeCount)
			},
		},
		{
			Name: "stop-sql", Title: "Stop Cloud SQL (activation policy NEVER)",
			Run:  func(ctx workflow.Context) error { return setSQLActivation(ctx, ref, "NEVER") },
			Undo: func(ctx workflow.Context) error { return setSQLActivation(ctx, ref, "ALWAYS") },
		},
		{
			Name: "holding-page", Title: "Point the hostname at the holding page",
			Run:  func(ctx workflow.Context) error { return setHoldingPage(ctx, host, true) },
			Undo: func(ctx workflow.Context) error { return setHoldingPage(ctx, host, false) },
		},
		{
			Name: "record", Title: "Mark the instance suspended in config.yaml",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "suspended", "mark suspended", setSuspended(true, nil))
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "undo-suspended", "mark active again (suspend aborted)", setSuspended(false, nil))
				return err
			},
		},
	}

	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	if shapeErr != nil {
		// Without the tier's node count an abort could not scale the pool back up.
		return o.reject(ctx, fmt.Sprintf("cannot suspend %s: %v", slug, shapeErr)), nil
	}
	res, err := o.run(ctx, steps)
	if err != nil {
		return res, err
	}
	res.Backups = backups
	if res.Outcome == OutcomeSucceeded {
		o.comment(ctx, "retention", srRetentionNotice(slug, backups, o.settings.BackupRetention))
	}
	return res, nil
}

// srRetentionNotice is the comment a finished suspension leaves: which backups it took and until
// when a resume can count on them.
func srRetentionNotice(slug string, b *BackupRecord, retention time.Duration) string {
	days := int(retention / (24 * time.Hour))
	if b == nil || b.SQLBackupRunID == 0 || b.GKEBackup == "" {
		return fmt.Sprintf("### ⚠️ `%s` is suspended without a full set of on-demand backups\n\n"+
			"The backup step was skipped or incomplete (see the status comment). Only the scheduled backups cover this instance: "+
			"Backup for GKE keeps its daily backups %d days, Cloud SQL its daily backups 7 days. Take on-demand backups by hand if the suspension may last.\n",
			slug, days)
	}
	return fmt.Sprintf("### 💤 `%s` is suspended\n\n"+
		"On-demand backups taken before the suspension (%s):\n\n- Cloud SQL backup run: `%d`\n- Backup for GKE backup: `%s`\n\n"+
		"Backup for GKE keeps backups %d days and Cloud SQL keeps its daily backups 7 days, so **resume before %s** "+
		"to be sure these backups still exist.\n",
		slug, formatTime(b.TakenAt), b.SQLBackupRunID, b.GKEBackup, days, formatTime(b.TakenAt.Add(retention)))
}
