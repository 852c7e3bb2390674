package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// UpgradeLabel marks upgrade pull requests (reviewed with `gh pr list --label mi-upgrade`).
const UpgradeLabel = "mi-upgrade"

// Upgrade moves one instance to a release: pre-checks, on-demand Cloud SQL
// and Backup for GKE backups (invariant 6), the version bump in config.yaml through a pull request
// that links the issue, a bounded wait until /__version reports the target, then the uptime soak.
// A failing step parks. Abort is the rollback: the version is reverted in the config repo and the
// old version must serve again; restore is the same rollback plus a restore of the pre-upgrade
// backups, for when a migration damaged the data.
//
// Asked for by a fleet rollout (UpgradeRequest.Rollout), it reports to the rollout instead of
// commenting on the tracking issue, and the rollout's SLA clock is the one that counts.
func Upgrade(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	inst := in.Instance
	host, ref := instanceHost(inst), instanceRefs(inst)
	up := in.Request.Upgrade
	if up == nil {
		return OperationResult{}, errors.New("an upgrade request needs its upgrade details (version)")
	}
	target := strings.TrimPrefix(up.Version, "v")
	var o *operation
	// from is the version config.yaml declared before the bump: the rollback's target.
	var from string
	var backups *BackupRecord
	var bumped bool

	steps := []Step{
		{
			Name: "backup", Title: "Pre-upgrade backups: Cloud SQL on-demand and Backup for GKE",
			Run: func(ctx workflow.Context) error {
				rec, err := takeBackups(ctx, o, ref, "pre-upgrade", target, "Pre-upgrade Cloud SQL backup", "Pre-upgrade Backup for GKE backup", backups)
				backups = rec
				return err
			},
		},
		{
			Name: "bump", Title: "Bump the version to " + target + " in config.yaml (pull request linked to the issue)",
			Run: func(ctx workflow.Context) error {
				o.batch, o.batchSize = up.Batch, up.BatchSize
				defer func() { o.batch, o.batchSize = "", 0 }()
				res, err := o.changeConfig(ctx, "upgrade", "upgrade to "+target, func(c *spec.Config) error {
					c.Spec.SourcegraphVersion = target
					return nil
				})
				if err == nil {
					bumped = true
					o.pr = res
				}
				return err
			},
			Undo: func(ctx workflow.Context) error {
				if _, err := o.changeConfig(ctx, "rollback", "roll back to "+from, func(c *spec.Config) error {
					c.Spec.SourcegraphVersion = from
					return nil
				}); err != nil {
					return err
				}
				bumped = false
				if o.runner.Restoring() {
					if err := restoreBackups(ctx, o, ref, backups); err != nil {
						return err
					}
				}
				return soakFor(ctx, o.settings, host, from)
			},
		},
	}
	if revision(ctx) >= RevisionLeanHistory {
		// One activity waits for the version and soaks: one round trip and six events fewer.
		s := in.Request.Settings.WithDefaults()
		steps = append(steps, Step{
			Name: "soak", Title: fmt.Sprintf("Wait until %s reports %s on /__version (up to %s), then %d healthy probes", host, target, s.VersionTimeout, s.SoakProbes),
			Run: func(ctx workflow.Context) error { return versionThenSoak(ctx, o.settings, host, target) },
		})
	} else {
		steps = append(steps, Step{
			Name: "version", Title: "Wait until " + host + " reports " + target + " on /__version",
			Run: func(ctx workflow.Context) error {
				s := o.settings
				return soak(ctx, s, fmt.Sprintf("Wait until %s reports %s (up to %s)", host, target, s.VersionTimeout),
					activities.SoakInput{Host: host, ExpectedVersion: target, Consecutive: 1, Interval: s.SoakInterval, Timeout: s.VersionTimeout, VersionOnly: true})
			},
		}, Step{
			Name: "soak", Title: fmt.Sprintf("Uptime soak: %d healthy probes at %s", in.Request.Settings.WithDefaults().SoakProbes, target),
			Run: func(ctx workflow.Context) error { return soakFor(ctx, o.settings, host, target) },
		})
	}

	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	o.prLabels = []string{UpgradeLabel}
	// The restore is offered once there is something to restore from.
	o.runner.RestoreOffered = func() bool { return backups != nil && backups.SQLBackupRunID != 0 && backups.GKEBackup != "" && bumped }
	o.runner.SetFact("Target version", target)

	skip, reject, err := upgradeChecks(ctx, o, up, target, host, &from)
	if err != nil {
		return OperationResult{}, err
	}
	if skip != "" || reject != "" {
		status, why := UpgradeSkipped, skip
		if reject != "" {
			status, why = UpgradeRejected, reject
		}
		res := o.reject(ctx, why)
		o.report(ctx, UpgradeReport{Status: status, From: from, To: target, Reason: why})
		return res, nil
	}
	o.runner.SetFact("From version", from)

	res, err := o.run(ctx, steps)
	if err != nil {
		// The instance workflow tells the rollout of a failed (or cancelled, or terminated) upgrade.
		return res, err
	}
	res.Backups = backups
	rep := UpgradeReport{From: from, To: target, Backups: backups, PR: o.pr.PRNumber, PRURL: o.pr.PRURL}
	switch res.Outcome {
	case OutcomeSucceeded:
		rep.Status = UpgradeSucceeded
	default:
		rep.Status, rep.Reason = UpgradeRolledBack, "aborted by an operator: "+from+" serves again"
		if o.runner.Restoring() {
			rep.Reason += ", restored from the pre-upgrade backups"
		}
	}
	// The record follows config.yaml: the target once the bump was merged and not rolled back.
	res.Instance.Version = from
	if bumped {
		res.Instance.Version = target
	}
	o.report(ctx, rep)
	return res, nil
}

// upgradeChecks are the pre-checks (nothing changes yet). skip names why there is nothing to do
// (already there, a channel the fleet leaves alone); reject why the upgrade must not start. from
// is set to the version config.yaml declares.
func upgradeChecks(ctx workflow.Context, o *operation, up *UpgradeRequest, target, host string, from *string) (skip, reject string, err error) {
	if verr := spec.ValidateVersion("version", target); verr != nil {
		return "", verr.Error(), nil
	}
	if up.Rollout == "" {
		// Alone, the version was not checked by a rollout: it must be a published release.
		if _, why, cause := publishedRelease(ctx, "Look up release "+target, target); why != "" {
			if cause != nil {
				o.runner.noteCause(ctx, "the release lookup", cause)
			}
			return "", why, nil
		}
	}
	rc, err := executeLocal[activities.ReadConfigResult](ctx, CloudCall, "Read config.yaml from the config repo", localConfigRepo.ReadInstanceConfig,
		activities.ReadConfigInput{Slug: o.in.Instance.Slug})
	switch {
	case err != nil:
		o.runner.noteCause(ctx, "reading config.yaml", err)
		return "", "could not read config.yaml: " + failureText("the config repo", err) + "; ask again once it answers", nil
	case !rc.Found:
		return "", fmt.Sprintf("`%s` has no config.yaml in the config repo (%s)", o.in.Instance.Slug, rc.Path), nil
	}
	*from = rc.Config.Spec.SourcegraphVersion
	if ch := rc.Config.Spec.ReleaseChannel; (ch == spec.Pause || ch == spec.Insiders) && !up.Force {
		return fmt.Sprintf("release channel %q is not upgraded by a rollout (force it on-call if needed)", ch), "", nil
	}
	if rc.Config.Spec.Suspended {
		return "suspended: it catches up with the fleet when it is resumed", "", nil
	}
	switch c := spec.CompareVersions(target, *from); {
	case c == 0:
		return "already at " + target, "", nil
	case c < 0:
		return fmt.Sprintf("runs %s, newer than %s", *from, target), "", nil
	}
	p, err := executeLocal[activities.ProbeResult](ctx, Probe, "Health check before the upgrade", localUptime.Probe, activities.ProbeInput{Host: host})
	if err != nil {
		o.runner.noteCause(ctx, "the health check", err)
		return "", "could not check that " + host + " is healthy before the upgrade (the probe failed); ask again once it answers", nil
	}
	if !p.Healthy {
		return "", fmt.Sprintf("%s is not healthy before the upgrade (%s); an upgrade now would hide the cause. Fix it, then ask again", host, orDash(p.Error)), nil
	}
	o.runner.SetFact("Health before", "healthy at "+orDash(p.Version))
	return "", "", nil
}

// report tells the rollout that asked for this upgrade where it stands (no-op when asked alone).
// A rollout that has ended just misses the report; the upgrade goes on.
func (o *operation) report(ctx workflow.Context, r UpgradeReport) {
	up := o.in.Request.Upgrade
	if up == nil || up.Rollout == "" {
		return
	}
	r.Slug, r.WorkflowID, r.At = o.in.Instance.Slug, o.id, workflow.Now(ctx)
	if err := workflow.SignalExternalWorkflow(ctx, up.Rollout, "", SignalUpgradeReport, r).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not report to the rollout", "rollout", up.Rollout, "error", err)
	}
}

// reportProgress turns the runner's progress into reports: parked, and running again once a
// decision sent it on.
func (o *operation) reportProgress(ctx workflow.Context, p Progress) {
	switch {
	case p.Parked != nil && o.reportedPark != p.Parked.Step:
		o.reportedPark = p.Parked.Step
		o.report(ctx, UpgradeReport{Status: UpgradeParked, Step: p.Parked.Step, Error: p.Parked.Error})
	case p.Parked == nil && o.reportedPark != "":
		o.reportedPark = ""
		o.report(ctx, UpgradeReport{Status: UpgradeRunning})
	}
}
