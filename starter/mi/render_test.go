package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

func TestRenderList(t *testing.T) {
	var b bytes.Buffer
	renderList(&b, []listRow{
		{Slug: "acme", Type: "production", State: "upgrading", Version: "5.9.0", Operation: "upgrade", Parked: "upgrade"},
		{Slug: "globex", Type: "trial", State: "active", Version: "?", Failed: true},
		{Slug: "initech", Type: "internal", State: "suspended", Version: "5.10.0"},
	}, listOptions{})
	want := `SLUG     TYPE        STATE      VERSION  OPERATION  ATTENTION
acme     production  upgrading  5.9.0    upgrade    parked (upgrade)
globex   trial       active     ?        -          op failed
initech  internal    suspended  5.10.0   -          -
3 instance(s).
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	renderList(&b, nil, listOptions{State: "suspended", Attention: true})
	if got := b.String(); got != "No running instance workflow matches the filter (state suspended, needs attention).\n" {
		t.Errorf("empty list: %q", got)
	}
}

func parkedRecord() (workflows.InstanceRecord, workflows.Progress) {
	issue := &workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 42}
	rec := workflows.InstanceRecord{
		Instance: workflows.Instance{Slug: "acme", Type: "trial", Domain: "acme.sourcegraphcloud.com", Region: "us-central1", Size: "small", Version: "5.10.0",
			Issue: &workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 7}},
		State:   workflows.StateSuspending,
		Trial:   &workflows.TrialClock{ExpiresAt: testNow.Add(12 * 24 * time.Hour), Reminded: []int{}},
		Current: &workflows.OperationRef{Operation: forms.OpSuspend, WorkflowID: "suspend/acme/sourcegraph/customer/42", Issue: issue, Requester: "alice", StartedAt: testNow.Add(-time.Hour)},
		History: []workflows.OperationRef{{Operation: forms.OpCreate, WorkflowID: "create/acme/sourcegraph/customer/7", Issue: &workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 7},
			Requester: "alice", StartedAt: testNow.Add(-72 * time.Hour), EndedAt: testNow.Add(-71 * time.Hour), Outcome: workflows.OutcomeSucceeded}},
		Backups: &workflows.BackupRecord{SQLBackupRunID: 1234, GKEBackup: "pre-suspend-1", TakenAt: testNow.Add(-30 * 24 * time.Hour)},
	}
	p := workflows.Progress{Operation: "suspend", Slug: "acme", Issue: issue, State: "parked",
		Steps: []workflows.StepStatus{
			{Name: "alerting-off", Title: "Turn alerting off", State: workflows.StepDone},
			{Name: "backups", Title: "On-demand backups", State: workflows.StepParked, Error: "backups.create denied (injected)"},
			{Name: "scale-down", Title: "Scale the node pool to zero", State: workflows.StepPending},
		},
		Parked: &workflows.Parked{Step: "backups", Title: "On-demand backups", Error: "backups.create denied (injected)", Retries: "a non-retryable error", Since: testNow.Add(-10 * time.Minute)},
		SLA:    &workflows.SLAView{Kind: "suspend", Start: testNow.Add(-time.Hour), Resolution: testNow.Add(10 * 24 * time.Hour)},
	}
	return rec, p
}

func TestRenderStatusParked(t *testing.T) {
	rec, p := parkedRecord()
	var b bytes.Buffer
	renderStatus(&b, rec, &p, nil, func(id string) string { return "http://ui/" + id }, testNow)
	out := b.String()
	wantContains(t, "status", out,
		"Instance acme: suspending\n",
		"  instance    trial, acme.sourcegraphcloud.com, us-central1, small\n",
		"  version     5.10.0\n",
		"  created on  sourcegraph/customer#7\n",
		"  trial       expires 2026-03-22 12:00 UTC (in 12 days)\n",
		"  backups     Cloud SQL run 1234, Backup for GKE pre-suspend-1, taken 2026-02-08 12:00 UTC (30 days ago)\n",
		"  workflow    instance/acme  http://ui/instance/acme\n",
		"Running: suspend (suspend/acme/sourcegraph/customer/42), requested by @alice on sourcegraph/customer#42",
		"- [x] Turn alerting off\n",
		"- [ ] On-demand backups ⚠️ parked\n",
		"\n  Needs attention: step *On-demand backups* failed after a non-retryable error:\n  `backups.create denied (injected)`\n\n",
		"SLA (suspend): resolve by",
		`Parked on step "backups" since 2026-03-10 11:50 UTC. Decide with one of:`,
		"  mi decide acme retry ",
		`  mi decide acme skip -reason "..."`,
		"  mi decide acme abort ",
		"Recent operations (newest first):\n  2026-03-07 13:00 UTC  create  succeeded  sourcegraph/customer#7  @alice  create/acme/sourcegraph/customer/7\n",
	)
	if strings.Contains(out, "**") || strings.Contains(out, "[!WARNING]") || strings.Contains(out, "restore") {
		t.Errorf("markdown left in, or a restore offered that is not:\n%s", out)
	}

	// An upgrade parked after its backups offers rollback and restore.
	p.Operation, p.Parked.Restore = "upgrade", true
	b.Reset()
	renderProgress(&b, p)
	wantContains(t, "upgrade progress", b.String(), "mi decide acme rollback ", "mi decide acme restore ")

	// Idle, progress unavailable, and no instance.
	b.Reset()
	renderStatus(&b, workflows.InstanceRecord{Instance: workflows.Instance{Slug: "acme"}}, nil, nil, func(string) string { return "" }, testNow)
	wantContains(t, "empty record", b.String(), "Instance acme: no instance", "none on record", "No operation is running.")
	b.Reset()
	renderStatus(&b, rec, nil, errors.New("query timed out"), func(string) string { return "" }, testNow)
	wantContains(t, "progress error", b.String(), "progress unavailable: query timed out")
}

func rolloutFixture() workflows.RolloutState {
	t0 := testNow.Add(-3 * time.Hour)
	return workflows.RolloutState{
		Version: "5.10.0", Phase: workflows.PhaseHalted, Reason: `wave "customers 10%" ended with 2 failure(s)`,
		StartedAt: t0, Wave: 2,
		Waves: []workflows.Wave{
			{Name: "canary", Instances: []workflows.RolloutInstance{{Slug: "rctest", Type: "internal", Status: workflows.UpgradeSucceeded}}, StartedAt: t0, EndedAt: t0.Add(time.Hour)},
			{Name: "internal", Upgraded: 3, StartedAt: t0.Add(time.Hour), EndedAt: t0.Add(2 * time.Hour)},
			{Name: "customers 10%", StartedAt: t0.Add(2 * time.Hour), Instances: []workflows.RolloutInstance{
				{Slug: "acme", Type: "production", Status: workflows.UpgradeParked, Step: "version", Error: "acme.sourcegraphcloud.com still reports 5.9.0", Backups: &workflows.BackupRecord{SQLBackupRunID: 1}},
				{Slug: "globex", Type: "production", Status: workflows.UpgradeRolledBack, Step: "soak", Error: "2 of 3 probes failed"},
				{Slug: "hooli", Type: "production", Status: workflows.UpgradeRunning},
				{Slug: "initech", Type: "production", Status: workflows.UpgradeSkipped},
			}},
			{Name: "customers 100%", Gate: true, Instances: []workflows.RolloutInstance{{Slug: "umbrella", Type: "production", Status: workflows.UpgradePending}}},
		},
		Left:   []workflows.LeftOut{{Slug: "fu-paused", Reason: "release channel pause"}},
		Paused: &workflows.RolloutControl{Action: "pause", By: "carol", Reason: "error rate", At: t0.Add(150 * time.Minute)},
		SLA:    &workflows.SLAView{Kind: "upgrade-monthly", Resolution: testNow.Add(9 * 24 * time.Hour)},
	}
}

func TestRenderRollout(t *testing.T) {
	var b bytes.Buffer
	renderRollout(&b, "upgrade-fleet/sourcegraph/customer/76", "76", rolloutFixture(), "http://ui/r", testNow)
	out := b.String()
	wantContains(t, "rollout", out,
		"Rollout upgrade-fleet/sourcegraph/customer/76: upgrade to 5.10.0, halted\n",
		`  reason    wave "customers 10%" ended with 2 failure(s)`,
		"  paused    by @carol at 2026-03-10 11:30 UTC: error rate\n",
		"  SLA       upgrade-monthly: resolve by",
		"  #  WAVE            INSTANCES  UPGRADED  UPGRADING  PARKED  FAILED  SKIPPED  PENDING  STATE\n"+
			"  1  canary          1          1         0          0       0       0        0        done\n"+
			"  2  internal        3          3         0          0       0       0        0        done\n"+
			"  3  customers 10%   4          0         1          1       1       1        0        current\n"+
			"  4  customers 100%  1          0         0          0       0       0        1        waits for approve\n",
		"Parked upgrades (1), decided on the instance:\n  acme (production) parked at step \"version\": acme.sourcegraphcloud.com still reports 5.9.0\n",
		"      mi decide acme rollback ",
		"      mi decide acme restore ",
		"Refused, rolled back or failed (1):\n  globex (production) rolled-back at step \"soak\": 2 of 3 probes failed\n",
		"      mi rollout 76 retry globex ",
		`      mi rollout 76 skip globex -reason "..."`,
		"Left out by the plan (1):\n  fu-paused: release channel pause\n",
		"Controls: mi rollout 76 resume|abort|approve [-reason R]\n",
	)
	// An ended rollout offers no controls.
	st := rolloutFixture()
	st.Phase, st.EndedAt, st.Paused = workflows.PhaseAborted, testNow, nil
	b.Reset()
	renderRollout(&b, "upgrade-fleet/sourcegraph/customer/76", "76", st, "", testNow)
	if strings.Contains(b.String(), "Controls:") || strings.Contains(b.String(), "mi rollout 76 retry") {
		t.Errorf("an ended rollout offers controls:\n%s", b.String())
	}
}

// A reminder that was not posted is not reported as sent.
func TestRenderStatusSaysWhichRemindersWereSent(t *testing.T) {
	rec, _ := parkedRecord()
	rec.Trial.Reminded, rec.Trial.Skipped = []int{1}, []int{7}
	var b bytes.Buffer
	renderStatus(&b, rec, nil, nil, func(id string) string { return "http://ui/" + id }, testNow)
	wantContains(t, "status", b.String(), "; reminders sent at 1 day(s) before; not sent at 7 day(s) before")
}
