package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Create provisions a new dedicated instance. It validates the request
// before it changes anything (version exists, slug and domain are free), writes the
// instance's config.yaml (the merge is the deploy, GitOps), creates the project, cluster, database,
// backup plan and DNS, waits until the instance serves the version and stays up, and only then
// turns alerting on and hands the instance off. Every cloud call is an Ensure on
// a deterministic name, so a retried step finds what an earlier attempt made; an abort undoes the
// completed steps in reverse.
func Create(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	inst := in.Instance
	slug := inst.Slug
	form := in.Request.Create
	if inst.Domain == "" {
		inst.Domain = spec.DefaultDomain(slug)
	}
	host := inst.Domain
	version := createVersion(in)
	// The project ID is chosen after the pre-checks (random-project-id); until then it is the
	// slug's, which runs from before that change keep.
	project := spec.ProjectID(slug)
	labels := map[string]string{"instance-type": string(inst.Type), "slug": slug}
	var allowlist []string
	var telemetry bool
	if form != nil {
		allowlist, telemetry = form.IPAllowlist, form.UserLevelTelemetry
	}
	shownVersion := version
	if shownVersion == "" {
		shownVersion = "not set"
	}

	var o *operation
	var trialExpiresAt time.Time
	var monitoring []string // the probes' egress ranges SetAllowlist added to the customer's
	alertingOn := false
	steps := []Step{
		{
			Name: "config", Title: fmt.Sprintf("Write config.yaml to the config repo (version %s)", shownVersion),
			Run: func(ctx workflow.Context) error {
				cfg := createConfig(inst, project, version, allowlist, telemetry)
				res, err := execute[activities.ChangeResult](ctx, ConfigChange, "Write config.yaml for "+slug+" (pull request + merge)",
					(*activities.ConfigRepo).ChangeInstanceConfig, activities.ChangeConfigInput{
						Slug: slug, Config: cfg, ChangeID: o.id + "/config", Create: true,
						Title: slug + ": create instance", Body: o.prBody(), Labels: []string{"mi-lifecycle"},
					})
				if err == nil && res.PRURL != "" {
					o.runner.SetFact("PR: create instance", res.PRURL)
				}
				return err
			},
			Undo: func(ctx workflow.Context) error {
				res, err := execute[activities.ChangeResult](ctx, ConfigChange, "Remove config.yaml of "+slug+" (create aborted)",
					(*activities.ConfigRepo).DeleteInstanceConfig, activities.DeleteConfigInput{
						Slug: slug, ChangeID: o.id + "/undo-config",
						Title: slug + ": remove config.yaml (create aborted)", Body: o.prBody(), Labels: []string{"mi-lifecycle"},
					})
				if err == nil && res.PRURL != "" {
					o.runner.SetFact("PR: remove config.yaml", res.PRURL)
				}
				return err
			},
		},
		{
			Name: "project", Title: "Create the GCP project",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.ProjectResult](ctx, CloudOperation, "Create GCP project "+project,
					(*activities.Projects).EnsureProject, activities.EnsureProjectInput{
						ProjectID: project, DisplayName: createDisplayName(slug), Labels: labels,
					})
				if err == nil {
					o.runner.SetFact("GCP project", project)
				}
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := execute[activities.DeleteProjectResult](ctx, CloudOperation, "Delete GCP project "+project,
					(*activities.Projects).DeleteProject, activities.DeleteProjectInput{ProjectID: project})
				return err
			},
		},
		{
			Name: "cluster", Title: "Create the GKE cluster and node pool",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.ClusterResult](ctx, CloudOperation,
					fmt.Sprintf("Create GKE cluster %s (%s node pool) in %s", spec.ClusterName, inst.Size, inst.Region),
					(*activities.GKE).EnsureCluster, activities.EnsureClusterInput{
						Project: project, Region: inst.Region, Cluster: spec.ClusterName, NodePool: spec.NodePoolName,
						Size: inst.Size, Labels: labels,
					})
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := execute[activities.DeleteClusterResult](ctx, CloudOperation, "Delete GKE cluster "+spec.ClusterName,
					(*activities.GKE).DeleteCluster, activities.DeleteClusterInput{Project: project, Region: inst.Region, Cluster: spec.ClusterName})
				return err
			},
		},
		{
			Name: "database", Title: "Create the Cloud SQL instance (deletion protection, daily backups, PITR 7 days)",
			Run: func(ctx workflow.Context) error {
				res, err := execute[activities.EnsureSQLInstanceOutput](ctx, CloudOperation,
					fmt.Sprintf("Create Cloud SQL instance %s (%s)", spec.SQLInstanceName, inst.Size),
					(*activities.CloudSQL).EnsureSQLInstance, activities.EnsureSQLInstanceInput{
						Project: project, Region: inst.Region, Size: inst.Size, Instance: spec.SQLInstanceName,
					})
				if err == nil && res.ConnectionName != "" {
					o.runner.SetFact("Cloud SQL", res.ConnectionName)
				}
				return err
			},
			// Deletion protection is lifted only here, by an operator's abort of this very create.
			Undo: func(ctx workflow.Context) error {
				if _, err := execute[activities.DisableSQLDeletionProtectionOutput](ctx, CloudOperation,
					"Lift deletion protection of Cloud SQL instance "+spec.SQLInstanceName+" (create aborted)",
					(*activities.CloudSQL).DisableSQLDeletionProtection, activities.DisableSQLDeletionProtectionInput{
						Project: project, Instance: spec.SQLInstanceName,
					}); err != nil {
					return err
				}
				_, err := execute[activities.DeleteSQLInstanceOutput](ctx, CloudOperation, "Delete Cloud SQL instance "+spec.SQLInstanceName,
					(*activities.CloudSQL).DeleteSQLInstance, activities.DeleteSQLInstanceInput{Project: project, Instance: spec.SQLInstanceName})
				return err
			},
		},
		{
			Name: "backup-plan", Title: "Create the Backup for GKE plan (daily, 90 days)",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.BackupPlanResult](ctx, CloudOperation, "Create Backup for GKE plan "+spec.BackupPlanName,
					(*activities.GKEBackup).EnsureBackupPlan, activities.EnsureBackupPlanInput{
						Project: project, Region: inst.Region, Cluster: spec.ClusterName, Plan: spec.BackupPlanName, Labels: labels,
					})
				return err
			},
			// A plan with backups cannot be deleted: its backups go first.
			Undo: func(ctx workflow.Context) error {
				ref := activities.DeleteGKEBackupsInput{Project: project, Region: inst.Region, Plan: spec.BackupPlanName}
				if _, err := execute[activities.DeleteGKEBackupsResult](ctx, CloudOperation, "Delete the backups of plan "+spec.BackupPlanName,
					(*activities.GKEBackup).DeleteGKEBackups, ref); err != nil {
					return err
				}
				_, err := execute[activities.DeleteBackupPlanResult](ctx, CloudOperation, "Delete Backup for GKE plan "+spec.BackupPlanName,
					(*activities.GKEBackup).DeleteBackupPlan, activities.DeleteBackupPlanInput(ref))
				return err
			},
		},
		{
			// Before the health checks, not after them as the request lists it: the probes go
			// through the public hostname, so the record must exist first.
			Name: "dns", Title: "Cloudflare DNS (proxied) and IP allowlist",
			Run: func(ctx workflow.Context) error {
				if _, err := execute[activities.EnsureDNSOutput](ctx, CloudCall,
					fmt.Sprintf("Point %s at %s (proxied)", host, spec.IngressHostFor(project)),
					(*activities.Cloudflare).EnsureDNS, activities.EnsureDNSInput{Host: host, Target: spec.IngressHostFor(project), Proxied: true}); err != nil {
					return err
				}
				what := fmt.Sprintf("Allow %d IP ranges to reach %s", len(allowlist), host)
				if len(allowlist) == 0 {
					what = "No IP allowlist for " + host + " (open to everyone)"
				}
				out, err := execute[activities.SetAllowlistOutput](ctx, CloudCall, what,
					(*activities.Cloudflare).SetAllowlist, activities.SetAllowlistInput{Host: host, CIDRs: allowlist})
				if monitoring = out.Monitoring; len(monitoring) > 0 {
					o.runner.SetFact(factMonitoring, strings.Join(monitoring, ", "))
				}
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := execute[activities.DeleteDNSOutput](ctx, CloudCall, "Remove the DNS record and allowlist of "+host,
					(*activities.Cloudflare).DeleteDNS, activities.DeleteDNSInput{Host: host})
				return err
			},
		},
		{
			Name: "healthy", Title: fmt.Sprintf("Wait until the instance serves %s", shownVersion),
			Run: func(ctx workflow.Context) error {
				return soak(ctx, o.settings, fmt.Sprintf("Wait until %s serves %s", host, version), activities.SoakInput{
					Host: host, ExpectedVersion: version, Consecutive: 1, Interval: o.settings.SoakInterval, Timeout: o.settings.SoakTimeout,
				})
			},
		},
		{
			Name: "soak", Title: fmt.Sprintf("Uptime soak: %d healthy probes", in.Request.Settings.WithDefaults().SoakProbes),
			Run: func(ctx workflow.Context) error {
				s := o.settings
				return soak(ctx, s, fmt.Sprintf("Uptime soak: %d healthy probes of %s, %s apart", s.SoakProbes, host, s.SoakInterval),
					activities.SoakInput{Host: host, ExpectedVersion: version, Consecutive: s.SoakProbes, Interval: s.SoakInterval, Timeout: s.SoakTimeout})
			},
		},
		{
			Name: "alerting", Title: "Turn alerting on (last, so creation raises no false pages)",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "alerting-on", "turn alerting on", setAlerting(true))
				alertingOn = err == nil
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "alerting-off", "turn alerting off (create aborted)", setAlerting(false))
				return err
			},
		},
		{
			Name: "handoff", Title: "Hand off to the requester",
			Run: func(ctx workflow.Context) error {
				if inst.Type == spec.Trial {
					trialExpiresAt = workflow.Now(ctx).Add(time.Duration(o.settings.TrialDays) * 24 * time.Hour)
					o.runner.SetFact("Trial expires", formatTime(trialExpiresAt))
				}
				return o.comment(ctx, "handoff", createHandoff(inst, version, form, monitoring, alertingOn, trialExpiresAt, o.settings.TrialReminders, workflow.Now(ctx)))
			},
		},
	}

	steps = withProjectBootstrap(ctx, steps, &project)

	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	o.in.Instance.Domain = host
	o.in.Instance.Version = version
	if reason, cause := createValidate(ctx, inst, form, version); reason != "" {
		if cause != nil {
			o.runner.noteCause(ctx, "the pre-checks", cause)
		}
		return o.reject(ctx, reason), nil
	}
	o.runner.SetFact("Sourcegraph version", version)
	if workflow.GetVersion(ctx, "random-project-id", workflow.DefaultVersion, 1) >= 1 {
		// A GCP project ID is never free again once used, even by a deleted and purged project, so
		// each create chooses its own, once: a SideEffect records it in history and every replay
		// and retry of a step uses the same one. config.yaml records it for every later operation.
		project = createProjectID(ctx, slug)
		o.in.Instance.ProjectID = project
	}

	res, err := o.run(ctx, steps)
	if err != nil {
		return res, err
	}
	if res.Outcome == OutcomeSucceeded {
		res.TrialExpiresAt = trialExpiresAt
	}
	return res, nil
}

// createVersion is the version to create: the form's, else the latest tested one.
func createVersion(in OperationInput) string {
	if f := in.Request.Create; f != nil && f.Version != "" {
		return f.Version
	}
	if in.Instance.Version != "" {
		return in.Instance.Version
	}
	return in.Request.Settings.LatestVersion
}

// createValidate checks the request before anything is changed (docs/design.md invariant 9). It
// returns the rejection reason, naming the field and the fix, or "" when the request can go ahead,
// and the error behind the reason, if a call failed (for the log and the run's details).
func createValidate(ctx workflow.Context, inst Instance, form *forms.NewInstance, version string) (string, error) {
	if form == nil {
		return "the request carries no new-instance form; file the request with the new-instance issue template", nil
	}
	if version == "" {
		return (&spec.FieldError{Field: forms.FieldVersion,
			Fix: "the form leaves it empty and no latest tested version is configured (LIFECYCLE_LATEST_VERSION); fill in the version"}).Error(), nil
	}
	// The starter validated the form already; these run again because a wrong region or domain
	// cannot be fixed after creation.
	for _, err := range []error{
		spec.ValidateNewSlug(forms.FieldSlug, inst.Slug), // the slug goes into the project ID
		spec.ValidateVersion(forms.FieldVersion, version),
		spec.ValidateDomain(forms.FieldDomain, inst.Domain),
		spec.ValidateRegion(forms.FieldRegion, inst.Region),
		spec.ValidateSize(forms.FieldSize, inst.Size),
		spec.ValidateInstanceType(forms.FieldType, inst.Type),
		allowlistError(ctx, forms.FieldAllowlist, form.IPAllowlist),
	} {
		if err != nil {
			return err.Error(), nil
		}
	}

	// The release must exist. Any other failure (GitHub unreachable after the activity's retries)
	// also rejects, with the error: this runs before the step runner, so there is no step to park,
	// and filing the request again is a cheap fix for a rare outage.
	_, err := getRelease(ctx, "Check that Sourcegraph release "+version+" exists", version)
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &app) && app.Type() == activities.ErrNotFound:
		repo := requestSettings(ctx).ReleaseRepo
		return (&spec.FieldError{Field: forms.FieldVersion, Value: version,
			Fix: "has no release in " + repo + "; choose a released version (https://github.com/" + repo + "/releases), written without the `v`"}).Error(), err
	case err != nil:
		return fmt.Sprintf("%s `%s`: could not confirm the release exists: %s. File the request again once GitHub answers",
			forms.FieldVersion, version, failureText("GitHub", err)), err
	}

	// Slug and domain must be free across the fleet.
	fleet, err := listFleet(ctx, "List the fleet: are the slug and domain free?")
	if err != nil {
		return fmt.Sprintf("could not list the fleet to check that slug `%s` and domain `%s` are free: %s. File the request again once it answers",
			inst.Slug, inst.Domain, failureText("the config repo", err)), err
	}
	for _, e := range fleet {
		if e.Slug == inst.Slug {
			return (&spec.FieldError{Field: forms.FieldSlug, Value: inst.Slug,
				Fix: "already has a config.yaml in the config repo (the instance exists); choose another slug"}).Error(), nil
		}
	}
	for _, e := range fleet {
		if e.Domain != "" && strings.EqualFold(e.Domain, inst.Domain) {
			return (&spec.FieldError{Field: forms.FieldDomain, Value: inst.Domain,
				Fix: fmt.Sprintf("is already used by instance `%s`; choose another domain", e.Slug)}).Error(), nil
		}
	}
	return "", nil
}

// createProjectID chooses the new instance's project ID, src-<slug>-<6 random letters or digits>.
func createProjectID(ctx workflow.Context, slug string) string {
	var suffix string
	enc := workflow.SideEffect(ctx, func(workflow.Context) any { return spec.RandomProjectSuffix() })
	if err := enc.Get(&suffix); err != nil || suffix == "" {
		// Cannot happen (a string recorded by this very code); the slug's ID is the old behaviour.
		return spec.ProjectID(slug)
	}
	return spec.NewProjectID(slug, suffix)
}

// createConfig is the new instance's config.yaml. Alerting stays off until the instance has
// proved healthy; deletion protection is on from the start. Its status names the project.
func createConfig(inst Instance, project, version string, allowlist []string, telemetry bool) *spec.Config {
	return &spec.Config{
		APIVersion: spec.APIVersion, Kind: spec.Kind,
		Metadata: spec.Metadata{Name: inst.Slug, Labels: map[string]string{"instance-type": string(inst.Type)}},
		Spec: spec.Spec{
			SourcegraphVersion: version,
			ReleaseChannel:     spec.Stable,
			Domain:             spec.Domain{PrimaryDNSName: inst.Domain},
			Infrastructure:     spec.Infrastructure{GCP: spec.GCP{Region: inst.Region}},
			Size:               inst.Size,
			IPAllowlist:        allowlist,
			UserLevelTelemetry: telemetry,
			Debug:              spec.Debug{EnableAlerting: false, EnableDeletionProtection: true},
		},
		Status: spec.StatusForProject(project, inst.Region),
	}
}

// createDisplayName is the project's display name: GCP allows 4–30 letters, digits, spaces,
// hyphens, quotes and exclamation marks.
func createDisplayName(slug string) string {
	n := "Sourcegraph " + slug
	if len(n) > 30 {
		n = strings.TrimRight(n[:30], "- ")
	}
	return n
}

// factMonitoring names the ranges an allowlist admits besides the customer's: the uptime probes'
// egress, without which the WAF would refuse the probes.
const factMonitoring = "IP ranges added to the allowlist for monitoring"

// createHandoff is the comment that hands the instance to the requester.
// It promises only the reminders that will come: those whose time is still ahead (the instance
// workflow skips the others). monitoring are the ranges the allowlist admits for the probes.
func createHandoff(inst Instance, version string, form *forms.NewInstance, monitoring []string, alertingOn bool, trialExpiresAt time.Time, reminders []int, now time.Time) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("### ✅ `%s` is ready\n\n", inst.Slug))
	b.WriteString(fmt.Sprintf("- URL: https://%s\n", inst.Domain))
	b.WriteString(fmt.Sprintf("- Sourcegraph version: %s\n", version))
	b.WriteString(fmt.Sprintf("- Size: %s, region: %s\n", inst.Size, inst.Region))
	b.WriteString(fmt.Sprintf("- Type: %s\n", inst.Type))
	if form != nil && len(form.IPAllowlist) > 0 {
		b.WriteString(fmt.Sprintf("- IP allowlist: %s\n", strings.Join(form.IPAllowlist, ", ")))
		if len(monitoring) > 0 {
			b.WriteString(fmt.Sprintf("- Added for monitoring: %s (the uptime probes' egress; Sourcegraph's health checks come from there)\n", strings.Join(monitoring, ", ")))
		}
	}
	if alertingOn {
		b.WriteString("\nThe instance is provisioned and alerting is on. ")
	} else {
		b.WriteString("\nThe instance is provisioned. ⚠️ Alerting is **not** on (its step was skipped): turn it on before the customer relies on it. ")
	}
	if form != nil && form.AdminEmail != "" {
		b.WriteString(fmt.Sprintf("The customer admin (%s) gets the set-password email; the link expires in 24 hours.\n", form.AdminEmail))
	} else {
		b.WriteString("\n")
	}
	if !trialExpiresAt.IsZero() {
		b.WriteString(fmt.Sprintf("\n**Trial:** it expires **%s**.", formatTime(trialExpiresAt)))
		var days []string
		for _, d := range reminders {
			if trialExpiresAt.Add(-time.Duration(d) * 24 * time.Hour).After(now) {
				days = append(days, fmt.Sprint(d))
			}
		}
		switch {
		case len(days) == 1:
			b.WriteString(fmt.Sprintf(" A reminder comes on this issue %s day(s) before.", days[0]))
		case len(days) > 1:
			b.WriteString(fmt.Sprintf(" Reminders come on this issue %s day(s) before.", strings.Join(days, " and ")))
		case len(reminders) > 0:
			b.WriteString(" The trial is too short for a reminder: none will come.")
		}
		b.WriteString(" Extend it or convert it to paid with the lifecycle issue forms before then; otherwise it is suspended at expiry.\n")
	}
	return b.String()
}
