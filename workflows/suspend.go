package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
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
	host := srHost(inst)
	ref := srRefs(inst)
	shape, shapeErr := activities.NodePoolFor(inst.Size)

	var o *operation
	var backups *BackupRecord
	steps := []Step{
		{
			Name: "alerting-off", Title: "Turn alerting off (first, so the suspension pages no one)",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "alerting-off", "turn alerting off", srSetAlerting(false))
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "undo-alerting-off", "turn alerting back on", srSetAlerting(true))
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
			Run: func(ctx workflow.Context) error { return srResize(ctx, ref, 0) },
			Undo: func(ctx workflow.Context) error {
				return srResize(ctx, ref, shape.NodeCount)
			},
		},
		{
			Name: "stop-sql", Title: "Stop Cloud SQL (activation policy NEVER)",
			Run:  func(ctx workflow.Context) error { return srSQLActivation(ctx, ref, "NEVER") },
			Undo: func(ctx workflow.Context) error { return srSQLActivation(ctx, ref, "ALWAYS") },
		},
		{
			Name: "holding-page", Title: "Point the hostname at the holding page",
			Run:  func(ctx workflow.Context) error { return srHoldingPage(ctx, host, true) },
			Undo: func(ctx workflow.Context) error { return srHoldingPage(ctx, host, false) },
		},
		{
			Name: "record", Title: "Mark the instance suspended in config.yaml",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "suspended", "mark suspended", srSetSuspended(true, nil))
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "undo-suspended", "mark active again (suspend aborted)", srSetSuspended(false, nil))
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

// srRefs are the instance's cloud resources, all derived from the slug (spec/names.go).
type srRef struct {
	Project, Region string
}

func srRefs(inst Instance) srRef {
	return srRef{Project: spec.ProjectID(inst.Slug), Region: inst.Region}
}

// srHost is the instance's hostname.
func srHost(inst Instance) string {
	if inst.Domain != "" {
		return inst.Domain
	}
	return spec.DefaultDomain(inst.Slug)
}

func srSetAlerting(on bool) func(*spec.Config) error {
	return func(c *spec.Config) error {
		c.Spec.Debug.EnableAlerting = on
		return nil
	}
}

// srSetSuspended sets spec.suspended; seen (if not nil) receives the config as read, before the change.
func srSetSuspended(suspended bool, seen func(*spec.Config)) func(*spec.Config) error {
	return func(c *spec.Config) error {
		if seen != nil {
			seen(c)
		}
		c.Spec.Suspended = suspended
		return nil
	}
}

func srResize(ctx workflow.Context, ref srRef, nodes int32) error {
	_, err := execute[activities.ResizeNodePoolResult](ctx, CloudOperation, fmt.Sprintf("Resize the node pool to %d nodes", nodes),
		(*activities.GKE).ResizeNodePool, activities.ResizeNodePoolInput{
			Project: ref.Project, Region: ref.Region, Cluster: spec.ClusterName, NodePool: spec.NodePoolName, NodeCount: nodes,
		})
	return err
}

func srSQLActivation(ctx workflow.Context, ref srRef, policy string) error {
	what := "Start Cloud SQL (activation policy ALWAYS)"
	if policy == "NEVER" {
		what = "Stop Cloud SQL (activation policy NEVER)"
	}
	_, err := execute[activities.SetSQLActivationOutput](ctx, CloudOperation, what, (*activities.CloudSQL).SetSQLActivation,
		activities.SetSQLActivationInput{Project: ref.Project, Instance: spec.SQLInstanceName, Policy: policy})
	return err
}

func srHoldingPage(ctx workflow.Context, host string, on bool) error {
	what := "Turn the holding page off for " + host
	if on {
		what = "Turn the holding page on for " + host
	}
	_, err := execute[activities.SetHoldingPageOutput](ctx, CloudCall, what, (*activities.Cloudflare).SetHoldingPage,
		activities.SetHoldingPageInput{Host: host, On: on})
	return err
}

// takeBackups (suspend, resume catch-up, teardown) takes the on-demand Cloud SQL and Backup for GKE backups, named deterministically
// from the workflow ID (and tag, e.g. the target version), so a retried step finds the backups it
// already took. It records both as facts and returns the record, built on prev (the record of an
// earlier attempt of the same step: its TakenAt is kept, the earliest and so safest time).
func takeBackups(ctx workflow.Context, o *operation, ref srRef, prefix, tag, sqlFact, gkeFact string, prev *BackupRecord) (*BackupRecord, error) {
	rec := &BackupRecord{TakenAt: workflow.Now(ctx)}
	if prev != nil && !prev.TakenAt.IsZero() {
		rec.TakenAt = prev.TakenAt
	}
	key := prefix + "-" + o.id
	if tag != "" {
		key += "/" + tag
	}
	sql, err := execute[activities.BackupSQLOutput](ctx, Backup, "On-demand Cloud SQL backup", (*activities.CloudSQL).BackupSQL,
		activities.BackupSQLInput{Project: ref.Project, Instance: spec.SQLInstanceName, Key: key})
	if err != nil {
		return prev, err
	}
	rec.SQLBackupRunID = sql.BackupRunID
	o.runner.SetFact(sqlFact, fmt.Sprint(sql.BackupRunID))
	gke, err := execute[activities.BackupGKEResult](ctx, Backup, "On-demand Backup for GKE backup", (*activities.GKEBackup).BackupGKE,
		activities.BackupGKEInput{Project: ref.Project, Region: ref.Region, Plan: spec.BackupPlanName, Name: BackupName(prefix, tag, o.id)})
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
