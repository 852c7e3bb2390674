package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Facts the teardown shows on its status comment.
const (
	tdFactWaiting    = "Waiting for"
	tdFactApprovedBy = "Approved by"
	tdFactDeletion   = "Deletion starts"
	tdFactCancelled  = "Cancelled by"
)

// tdWho is "@login" or "@login: reason": the audit trail of a decision.
func tdWho(a Approval) string {
	if r := strings.TrimSpace(a.Reason); r != "" {
		return "@" + tdLogin(a.By) + ": " + r
	}
	return "@" + tdLogin(a.By)
}

// teardownGate is the teardown's human gate: the approval by a second authorised person, and the
// cancellation that is possible until the grace period ends. The Update handlers write it; the
// approval and grace steps read it.
type teardownGate struct {
	requester string
	team      string // org/team
	// pending is an approval received but not yet checked against the team.
	pending *Approval
	// approved is the checked approval.
	approved *Approval
	// cancel is an accepted cancellation.
	cancel *Approval
	// graceEnd is when the grace period ends (zero until the approval).
	graceEnd time.Time
	// destructive is set when the grace period is over: from then on nothing can cancel.
	destructive bool
}

// tdLogin normalises a GitHub login ("@Bob" and "bob" are the same person).
func tdLogin(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "@") }

func (g *teardownGate) validateApprove(_ workflow.Context, a Approval) error {
	by := tdLogin(a.By)
	switch {
	case by == "":
		return errors.New("say who approves: set \"by\" to your GitHub login")
	case g.cancel != nil:
		return fmt.Errorf("the teardown was cancelled by @%s; nothing to approve", tdLogin(g.cancel.By))
	case g.approved != nil:
		return fmt.Errorf("the teardown is already approved by @%s", tdLogin(g.approved.By))
	case strings.EqualFold(by, tdLogin(g.requester)):
		return fmt.Errorf("the requester cannot approve their own teardown; ask another member of %s", g.team)
	case g.pending != nil:
		return fmt.Errorf("an approval by @%s is being checked; wait for it", tdLogin(g.pending.By))
	}
	return nil
}

func (g *teardownGate) validateCancel(_ workflow.Context, a Approval) error {
	switch {
	case tdLogin(a.By) == "":
		return errors.New("say who cancels: set \"by\" to your GitHub login")
	case strings.TrimSpace(a.Reason) == "":
		// As for a skip: the issue is the audit trail of why an approved deletion did not happen.
		return errors.New("a cancel needs a reason: reply `/cancel <reason>`")
	case g.destructive:
		return errors.New("too late: deletion has started (the grace period is over); a teardown cannot be stopped once it deletes")
	case g.cancel != nil:
		return fmt.Errorf("the teardown is already cancelled by @%s", tdLogin(g.cancel.By))
	}
	return nil
}

// register installs the approve and cancel Updates. It runs before anything else in the
// workflow, so both are accepted from the first workflow task on.
func (g *teardownGate) register(ctx workflow.Context) error {
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove,
		func(ctx workflow.Context, a Approval) (string, error) {
			a.By = tdLogin(a.By)
			g.pending = &a
			return fmt.Sprintf("approval by @%s received; checking that @%s is in %s", a.By, a.By, g.team), nil
		},
		workflow.UpdateHandlerOptions{Validator: g.validateApprove})
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel,
		func(ctx workflow.Context, a Approval) (string, error) {
			// The validator saw the gate open; the grace step may have closed it since (same
			// workflow task). Deletion wins then, and the sender is told so.
			if g.destructive {
				return "", errors.New("too late: deletion has started (the grace period is over)")
			}
			a.By = tdLogin(a.By)
			g.cancel = &a
			return fmt.Sprintf("teardown cancelled by @%s; nothing will be deleted", a.By), nil
		},
		workflow.UpdateHandlerOptions{Validator: g.validateCancel})
}

// cancelled ends the operation for an accepted cancellation.
func (g *teardownGate) cancelled(o *operation) error {
	o.cancelReason = "cancelled by " + tdWho(*g.cancel)
	// The status comment must not go on announcing a deletion that will not happen.
	delete(o.runner.p.Facts, tdFactWaiting)
	delete(o.runner.p.Facts, tdFactDeletion)
	o.runner.SetFact(tdFactCancelled, tdWho(*g.cancel)+" (nothing was deleted)")
	return ErrCancelled
}

// Teardown deletes an instance and all its data. Nothing is touched until a second
// authorised person approved it and a grace period passed in which anyone can cancel it. Then, in
// this order: alerting and deletion protection off first, Cloud SQL deletion protection lifted, the
// Backup for GKE backups and plan removed (they block the project's deletion), the cluster,
// database, DNS and allowlist deleted, the project
// deleted (recoverable for 30 days), config.yaml removed through a pull request that links the
// issue, and the issue closed directly after (SOC2/CI-41).
//
// It takes no final backups (honest-teardown): the customer accepted permanent deletion, and
// backups taken here went with the instance minutes later (the Backup for GKE ones with the plan,
// the Cloud SQL ones with the instance), while a suspended instance cannot be backed up at all (no
// nodes, a stopped database). What does remain is said on the issue: the project, restorable for
// 30 days from its deletion time, and config.yaml in the config repo's history. Runs from before
// that change keep their final-backups step.
//
// It never calls EnsureSQLInstance: that would turn Cloud SQL's deletion protection back on.
func Teardown(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	inst := in.Instance
	slug := inst.Slug
	project := instanceProject(inst)
	region := inst.Region
	host := inst.Domain
	if host == "" {
		host = spec.DefaultDomain(slug)
	}
	settings := in.Request.Settings.WithDefaults()
	org, team, teamOK := strings.Cut(settings.ApproverTeam, "/")
	teamOK = teamOK && org != "" && team != "" && !strings.Contains(team, "/")

	gate := &teardownGate{requester: in.Request.Requester, team: settings.ApproverTeam}
	if err := gate.register(ctx); err != nil {
		return OperationResult{}, err
	}
	honest := workflow.GetVersion(ctx, "honest-teardown", workflow.DefaultVersion, 1) >= 1

	var o *operation
	var backups *BackupRecord
	var configPR string
	var projectDeleted time.Time // when GCP recorded the project's deletion
	steps := []Step{
		{
			Name: "approval", Title: "Approval by a second authorised person",
			Run: func(ctx workflow.Context) error { return tdAwaitApproval(ctx, o, gate, org, team) },
		},
		{
			Name: "grace", Title: fmt.Sprintf("Grace period (%s), cancellable", tdHours(settings.TeardownGrace)),
			Run: func(ctx workflow.Context) error { return tdGrace(ctx, o, gate, settings.TeardownGrace) },
		},
		// From here on the steps delete. Only this first one, a config change, can be undone: a
		// deleted cluster, database, DNS record or project cannot be put back by an abort (the
		// project alone can be restored by hand within 30 days).
		{
			Name: "alerting-off", Title: "Turn alerting and deletion protection off in config.yaml",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "protections-off", "turn alerting and deletion protection off", tdSetProtections(false))
				return err
			},
			Undo: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "undo-protections-off", "turn alerting and deletion protection back on (teardown aborted)", tdSetProtections(true))
				return err
			},
		},
		{
			Name: "final-backups", Title: "Final backups (recorded)",
			Run: func(ctx workflow.Context) error {
				rec, err := takeBackups(ctx, o, instanceRef{Project: project, Region: region}, "teardown", "", "Final Cloud SQL backup", "Final Backup for GKE backup", backups)
				backups = rec
				return err
			},
		},
		{
			Name: "sql-protection-off", Title: "Turn Cloud SQL deletion protection off",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.DisableSQLDeletionProtectionOutput](ctx, CloudOperation, "Turn Cloud SQL deletion protection off",
					(*activities.CloudSQL).DisableSQLDeletionProtection,
					activities.DisableSQLDeletionProtectionInput{Project: project, Instance: spec.SQLInstanceName})
				return err
			},
		},
		{
			Name: "delete-backups", Title: "Delete the Backup for GKE backups and plan",
			Run: func(ctx workflow.Context) error {
				if _, err := execute[activities.DeleteGKEBackupsResult](ctx, CloudOperation, "Delete the Backup for GKE backups",
					(*activities.GKEBackup).DeleteGKEBackups,
					activities.DeleteGKEBackupsInput{Project: project, Region: region, Plan: spec.BackupPlanName}); err != nil {
					return err
				}
				_, err := execute[activities.DeleteBackupPlanResult](ctx, CloudOperation, "Delete the Backup for GKE plan",
					(*activities.GKEBackup).DeleteBackupPlan,
					activities.DeleteBackupPlanInput{Project: project, Region: region, Plan: spec.BackupPlanName})
				return err
			},
		},
		{
			Name: "delete-cluster", Title: "Delete the GKE cluster",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.DeleteClusterResult](ctx, CloudOperation, "Delete the GKE cluster", (*activities.GKE).DeleteCluster,
					activities.DeleteClusterInput{Project: project, Region: region, Cluster: spec.ClusterName})
				return err
			},
		},
		{
			Name: "delete-sql", Title: "Delete the Cloud SQL instance",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.DeleteSQLInstanceOutput](ctx, CloudOperation, "Delete the Cloud SQL instance", (*activities.CloudSQL).DeleteSQLInstance,
					activities.DeleteSQLInstanceInput{Project: project, Instance: spec.SQLInstanceName})
				return err
			},
		},
		{
			Name: "delete-dns", Title: "Delete DNS and the allowlist in Cloudflare",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.DeleteDNSOutput](ctx, CloudCall, "Delete DNS and the allowlist for "+host, (*activities.Cloudflare).DeleteDNS,
					activities.DeleteDNSInput{Host: host})
				return err
			},
		},
		{
			Name: "delete-project", Title: "Delete the GCP project (recoverable for 30 days)",
			Run: func(ctx workflow.Context) error {
				res, err := execute[activities.DeleteProjectResult](ctx, CloudOperation, "Delete the GCP project "+project, (*activities.Projects).DeleteProject,
					activities.DeleteProjectInput{ProjectID: project})
				if err == nil {
					projectDeleted = workflow.Now(ctx)
					if honest && !res.DeleteTime.IsZero() {
						projectDeleted = res.DeleteTime // GCP's clock: the 30 days run from there
					}
					o.runner.SetFact("Project deleted", fmt.Sprintf("`%s`, recoverable until %s", project, formatTime(projectDeleted.Add(projectUndeleteWindow))))
				}
				return err
			},
		},
		{
			Name: "delete-config", Title: "Remove config.yaml from the config repo (pull request)",
			Run: func(ctx workflow.Context) error {
				res, err := execute[activities.ChangeResult](ctx, ConfigChange, "Remove config.yaml from the config repo", (*activities.ConfigRepo).DeleteInstanceConfig,
					activities.DeleteConfigInput{Slug: slug, ChangeID: o.id + "/delete", Title: slug + ": delete instance", Body: o.prBody(),
						Labels: []string{"mi-lifecycle"}})
				if err != nil {
					return err
				}
				configPR = res.PRURL
				if res.PRURL != "" {
					o.runner.SetFact("PR: delete instance", res.PRURL)
				}
				return nil
			},
		},
		{
			Name: "close-issue", Title: "Close the issue (audit trail)",
			Run: func(ctx workflow.Context) error {
				is := in.Request.Issue
				if is == nil {
					return nil
				}
				summary := tdSummary(slug, project, host, gate, backups, configPR, workflow.Now(ctx))
				if honest {
					summary = tdHonestSummary(slug, project, host, gate, configPR, projectDeleted)
				}
				if err := o.comment(ctx, "summary", summary); err != nil {
					return err
				}
				_, err := execute[activities.IssueStateResult](ctx, GitHubCall, "Close the teardown issue", (*activities.GitHub).SetIssueState,
					activities.IssueStateInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, State: "closed", StateReason: "completed"})
				return err
			},
		},
	}

	if honest {
		steps = slices.DeleteFunc(steps, func(s Step) bool { return s.Name == "final-backups" })
	}
	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	if !teamOK {
		return o.reject(ctx, fmt.Sprintf("the approverTeam setting %q is not org/team (e.g. %s): no one could approve this teardown", settings.ApproverTeam, DefaultApproverTeam)), nil
	}
	if in.Request.Teardown != nil && !in.Request.Teardown.Acknowledged {
		return o.reject(ctx, "the request does not acknowledge that the data will be permanently deleted"), nil
	}
	res, err := o.run(ctx, steps)
	if err != nil {
		return res, err
	}
	res.Backups = backups
	return res, nil
}

// tdAwaitApproval waits for an approval by a member of the approver team other than the
// requester. A non-member's approval is refused on the issue and the wait goes on.
func tdAwaitApproval(ctx workflow.Context, o *operation, g *teardownGate, org, team string) error {
	for {
		if g.cancel != nil {
			return g.cancelled(o)
		}
		if g.pending == nil {
			o.runner.SetFact(tdFactWaiting, fmt.Sprintf("approval: a member of %s other than @%s replies `/approve`", g.team, tdLogin(g.requester)))
			o.runner.publish(ctx)
			if err := workflow.Await(ctx, func() bool { return g.pending != nil || g.cancel != nil }); err != nil {
				return err
			}
			continue
		}
		a := *g.pending
		member, err := execute[bool](ctx, GitHubCall, fmt.Sprintf("Check that @%s is in %s", a.By, g.team), (*activities.GitHub).IsTeamMember,
			activities.TeamMemberInput{Org: org, Team: team, User: a.By})
		if err != nil {
			// The approval stays pending: a retry of the step checks it again.
			return err
		}
		g.pending = nil
		if !member {
			o.comment(ctx, "approval-refused", fmt.Sprintf("### ✋ Approval refused\n\n@%s is not in %s, so their approval does not count. "+
				"A teardown needs the approval of a member of %s other than the requester (@%s); the teardown is still waiting for one.\n",
				a.By, g.team, g.team, tdLogin(g.requester)))
			continue
		}
		g.approved = &a
		delete(o.runner.p.Facts, tdFactWaiting)
		o.runner.SetFact(tdFactApprovedBy, tdWho(a))
		return nil
	}
}

// tdGrace announces the grace period and waits it out on a durable timer, unless someone cancels.
// A re-run (after a park) keeps the first end time.
func tdGrace(ctx workflow.Context, o *operation, g *teardownGate, grace time.Duration) error {
	if g.cancel != nil {
		return g.cancelled(o)
	}
	if g.graceEnd.IsZero() {
		// Nothing is deleted before the grace period has been announced on the issue: a failed
		// announcement parks the step, and a retry announces (and starts) the period afresh.
		end := workflow.Now(ctx).Add(grace)
		by := "an authorised approver"
		if g.approved != nil {
			by = tdWho(*g.approved)
		}
		if err := o.comment(ctx, "grace", fmt.Sprintf("### ⏳ Teardown of `%s` approved by %s\n\n"+
			"**All data of this instance will be permanently deleted from %s** (after a %s grace period).\n\n"+
			"To stop it, reply `/cancel <reason>` on this issue before then. Once deletion has started it can no longer be cancelled.\n",
			o.in.Instance.Slug, by, formatTime(end), tdHours(grace))); err != nil {
			return err
		}
		g.graceEnd = end
		o.runner.SetFact(tdFactDeletion, formatTime(g.graceEnd)+" (reply `/cancel <reason>` before then to stop it)")
		o.runner.publish(ctx)
	}
	if d := g.graceEnd.Sub(workflow.Now(ctx)); d > 0 {
		if _, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{Timeout: d,
			TimerOptions: workflow.TimerOptions{Summary: "Teardown grace period until " + g.graceEnd.UTC().Format(time.RFC3339)}},
			func() bool { return g.cancel != nil }); err != nil {
			return err
		}
	}
	if g.cancel != nil {
		return g.cancelled(o)
	}
	// Checked and set without yielding: no cancel can slip in between.
	g.destructive = true
	o.runner.SetFact(tdFactDeletion, formatTime(g.graceEnd)+" (grace period over: no longer cancellable)")
	return nil
}

// tdHours renders the grace period as on the checklist, e.g. "72 h".
func tdHours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d h", int(d/time.Hour))
	}
	return d.String()
}

func tdSetProtections(on bool) func(*spec.Config) error {
	return func(c *spec.Config) error {
		c.Spec.Debug.EnableAlerting = on
		c.Spec.Debug.EnableDeletionProtection = on
		return nil
	}
}

// projectUndeleteWindow is how long a deleted GCP project stays restorable (DELETE_REQUESTED)
// before GCP purges it.
const projectUndeleteWindow = 30 * 24 * time.Hour

// tdHonestSummary is the comment left on the issue before it is closed: what went for good, and what
// remains, where, until when and how to bring it back. deleted is when GCP recorded the project's
// deletion (zero if that step was skipped).
func tdHonestSummary(slug, project, host string, g *teardownGate, pr string, deleted time.Time) string {
	var s strings.Builder
	s.WriteString(fmt.Sprintf("### 🗑️ `%s` has been torn down\n\n", slug))
	if g.approved != nil {
		s.WriteString(fmt.Sprintf("Approved by %s; the grace period ended %s.\n\n", tdWho(*g.approved), formatTime(g.graceEnd)))
	}
	s.WriteString("**Deleted for good**, with no copy kept (the request accepted permanent deletion):\n\n")
	s.WriteString(fmt.Sprintf("- the GKE cluster `%s`, and the Backup for GKE plan `%s` with all its backups\n", spec.ClusterName, spec.BackupPlanName))
	s.WriteString(fmt.Sprintf("- the Cloud SQL instance `%s` with all its backups\n", spec.SQLInstanceName))
	s.WriteString(fmt.Sprintf("- the DNS record and allowlist of `%s` in Cloudflare\n", host))
	s.WriteString("\n**What remains:**\n\n")
	if deleted.IsZero() {
		s.WriteString(fmt.Sprintf("- the GCP project `%s`: its deletion step was skipped, so it was not deleted here; check it in the console\n", project))
	} else {
		s.WriteString(fmt.Sprintf("- the GCP project `%s`, empty, in DELETE_REQUESTED since %s, until **%s**; then GCP purges it and its ID can never be used again. "+
			"Until then `gcloud projects undelete %s` restores the project (not the cluster, database or backups deleted above)\n",
			project, formatTime(deleted), formatTime(deleted.Add(projectUndeleteWindow)), project))
	}
	if pr != "" {
		s.WriteString(fmt.Sprintf("- `config.yaml`, removed from the config repo in %s, stays in its history: reverting that pull request restores it\n", pr))
	} else {
		s.WriteString("- nothing in the config repo: `config.yaml` was already gone\n")
	}
	s.WriteString("\nA new instance may use this slug again: it gets a new project ID.\n")
	s.WriteString("\nClosing this issue as completed.\n")
	return s.String()
}

// tdSummary is the closing comment of runs from before honest-teardown, which took final backups.
func tdSummary(slug, project, host string, g *teardownGate, b *BackupRecord, pr string, now time.Time) string {
	var s strings.Builder
	s.WriteString(fmt.Sprintf("### 🗑️ `%s` has been torn down\n\n", slug))
	if g.approved != nil {
		s.WriteString(fmt.Sprintf("Approved by %s; the grace period ended %s.\n\n", tdWho(*g.approved), formatTime(g.graceEnd)))
	}
	s.WriteString("Deleted:\n\n")
	s.WriteString(fmt.Sprintf("- the Backup for GKE backups and plan `%s`\n", spec.BackupPlanName))
	s.WriteString(fmt.Sprintf("- the GKE cluster `%s`\n", spec.ClusterName))
	s.WriteString(fmt.Sprintf("- the Cloud SQL instance `%s` and its backups\n", spec.SQLInstanceName))
	s.WriteString(fmt.Sprintf("- the DNS record and allowlist of `%s` in Cloudflare\n", host))
	s.WriteString(fmt.Sprintf("- the GCP project `%s` (it can be restored until %s, then GCP purges it)\n", project, formatTime(now.Add(30*24*time.Hour))))
	if pr != "" {
		s.WriteString(fmt.Sprintf("- `config.yaml`, removed from the config repo in %s\n", pr))
	} else {
		s.WriteString("- `config.yaml` (it was already gone from the config repo)\n")
	}
	if b != nil && (b.SQLBackupRunID != 0 || b.GKEBackup != "") {
		s.WriteString(fmt.Sprintf("\nFinal backups taken %s, recorded for the audit trail:\n\n", formatTime(b.TakenAt)))
		if b.SQLBackupRunID != 0 {
			s.WriteString(fmt.Sprintf("- Cloud SQL backup run `%d`\n", b.SQLBackupRunID))
		}
		if b.GKEBackup != "" {
			s.WriteString(fmt.Sprintf("- Backup for GKE backup `%s`\n", b.GKEBackup))
		}
	}
	s.WriteString("\nClosing this issue as completed.\n")
	return s.String()
}
