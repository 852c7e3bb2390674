package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Resume brings a suspended instance back (the reverse of Suspend): Cloud SQL starts,
// the node pool scales back to its tier, the hostname points at the instance again and
// config.yaml records it as active. Alerting comes back on only after an uptime soak has shown
// the instance healthy (no false pages), and last the version catches up with the fleet,
// behind fresh on-demand backups (docs/design.md invariant 6).
func Resume(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	inst := in.Instance
	slug := inst.Slug
	host := instanceHost(inst)
	ref := instanceRefs(inst)
	shape, shapeErr := activities.NodePoolFor(inst.Size)

	var o *operation
	// channel is the instance's release channel, as the "record" step read it from config.yaml.
	var channel spec.ReleaseChannel
	// The catch-up's decision, kept across retries of the step so a retry cannot pick another
	// target (say, after the fleet moved) halfway through an upgrade.
	var target string
	var targetDecided bool
	var upgradeBackups *BackupRecord
	var newVersion string

	steps := []Step{
		{
			Name: "start-sql", Title: "Start Cloud SQL (activation policy ALWAYS)",
			Run:  func(ctx workflow.Context) error { return setSQLActivation(ctx, ref, "ALWAYS") },
			Undo: func(ctx workflow.Context) error { return setSQLActivation(ctx, ref, "NEVER") },
		},
		{
			Name: "scale-up", Title: fmt.Sprintf("Scale the node pool back to %d nodes", shape.NodeCount),
			Run:  func(ctx workflow.Context) error { return resizeNodePool(ctx, ref, shape.NodeCount) },
			Undo: func(ctx workflow.Context) error { return resizeNodePool(ctx, ref, 0) },
		},
		{
			Name: "holding-page-off", Title: "Point the hostname back at the instance",
			Run: func(ctx workflow.Context) error {
				if err := setHoldingPage(ctx, host, false); err != nil {
					return err
				}
				_, err := execute[activities.EnsureDNSOutput](ctx, CloudCall, "Point "+host+" at the instance's ingress", (*activities.Cloudflare).EnsureDNS,
					activities.EnsureDNSInput{Host: host, Target: instanceIngress(inst), Proxied: true})
				return err
			},
			// The DNS record is the instance's own either way (suspend never changed it), so turning
			// the holding page back on is the whole undo.
			Undo: func(ctx workflow.Context) error { return setHoldingPage(ctx, host, true) },
		},
		{
			Name: "record", Title: "Mark the instance active in config.yaml",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "resumed", "mark active (resumed)", setSuspended(false, func(c *spec.Config) {
					channel = c.Spec.ReleaseChannel
				}))
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "undo-resumed", "mark suspended again (resume aborted)", setSuspended(true, nil))
				return err
			},
		},
		{
			Name: "soak", Title: fmt.Sprintf("Uptime soak: %d healthy probes at %s", in.Request.Settings.WithDefaults().SoakProbes, inst.Version),
			Run: func(ctx workflow.Context) error { return soakFor(ctx, o.settings, host, inst.Version) },
		},
		{
			Name: "alerting-on", Title: "Turn alerting back on",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "alerting-on", "turn alerting back on", setAlerting(true))
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "undo-alerting-on", "turn alerting off again (resume aborted)", setAlerting(false))
				return err
			},
		},
		{
			Name: "catch-up", Title: "Catch the version up with the fleet",
			// No undo: a downgrade is not a safe undo (migrations may have run). Rolling back means a
			// restore from the pre-upgrade backups recorded below, a human decision.
			Run: func(ctx workflow.Context) error {
				current := inst.Version
				if channel == spec.Pause || channel == spec.Insiders {
					o.runner.SetFact("Version", fmt.Sprintf("stays at %s: release channel %q is not upgraded automatically", current, channel))
					return nil
				}
				if !targetDecided {
					t, why, err := srCatchUpTarget(ctx, o.settings)
					if err != nil {
						return err
					}
					if why != "" {
						o.runner.SetFact("Version", fmt.Sprintf("stays at %s: %s", current, why))
						return nil
					}
					target, targetDecided = t, true
				}
				if target == "" || spec.CompareVersions(target, current) <= 0 {
					o.runner.SetFact("Version", "already at "+current)
					return nil
				}
				// Backups before anything risky (invariant 6).
				rec, err := takeBackups(ctx, o, ref, "pre-upgrade", target, "Pre-upgrade Cloud SQL backup", "Pre-upgrade Backup for GKE backup", upgradeBackups)
				upgradeBackups = rec
				if err != nil {
					return err
				}
				if _, err := o.changeConfig(ctx, "catch-up", "upgrade to "+target, func(c *spec.Config) error {
					c.Spec.SourcegraphVersion = target
					return nil
				}); err != nil {
					return err
				}
				newVersion = target
				o.runner.SetFact("Version", fmt.Sprintf("caught up from %s to %s", current, target))
				return soakFor(ctx, o.settings, host, target)
			},
		},
	}

	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	if shapeErr != nil {
		return o.reject(ctx, fmt.Sprintf("cannot resume %s: %v", slug, shapeErr)), nil
	}
	if b := in.Backups; b != nil && !b.TakenAt.IsZero() {
		if expiry := b.TakenAt.Add(o.settings.BackupRetention); workflow.Now(ctx).After(expiry) {
			workflow.GetLogger(ctx).Warn("resuming after the on-demand backups' retention", "takenAt", b.TakenAt, "expiry", expiry)
			o.runner.SetFact("Backup retention", "the suspension's on-demand backups may have expired on "+formatTime(expiry))
			o.comment(ctx, "retention", fmt.Sprintf("### ⚠️ Backup retention passed\n\n"+
				"`%s` was suspended with on-demand backups taken %s (Cloud SQL backup run `%d`, Backup for GKE backup `%s`). "+
				"Backup for GKE keeps backups %d days, so they may have expired on %s, and Cloud SQL keeps its daily backups only 7 days. "+
				"The resume goes ahead; if it needs a restore, check which backups still exist first.\n",
				slug, formatTime(b.TakenAt), b.SQLBackupRunID, b.GKEBackup, int(o.settings.BackupRetention.Hours()/24), formatTime(expiry)))
		}
	}
	res, err := o.run(ctx, steps)
	if err != nil {
		return res, err
	}
	if newVersion != "" {
		// The config declares the new version even if a later part of the step was skipped or the
		// operation aborted (the catch-up has no undo), so the record follows the config.
		res.Instance.Version = newVersion
	}
	res.Backups = upgradeBackups
	return res, nil
}

// srCatchUpTarget is the version a resumed instance catches up to: the latest tested version from
// the settings, or else the newest version running on the fleet's active, stable customer
// instances. why explains a refusal to pick one (the step then records it and does nothing).
func srCatchUpTarget(ctx workflow.Context, s Settings) (target, why string, err error) {
	if v := s.LatestVersion; v != "" {
		if verr := spec.ValidateVersion("latestVersion", v); verr != nil {
			return "", "the latestVersion setting is not a valid version: " + verr.Error(), nil
		}
		return v, "", nil
	}
	fleet, err := listFleet(ctx, "List the fleet in the config repo")
	if err != nil {
		return "", "", err
	}
	return fleetVersion(fleet), "", nil
}
