package workflows

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// upEnv is an operation environment for Upgrade (ID UpgradeWorkflowID("acme", #42)) with acme
// at 5.9.0; it counts the timers the workflow schedules.
func upEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeCloud, *int) {
	t.Helper()
	env, f := srEnv(t, forms.OpUpgrade)
	timers := new(int)
	env.SetOnTimerScheduledListener(func(string, time.Duration) { *timers++ })
	return env, f, timers
}

func upInput(s Settings, mut func(*UpgradeRequest)) OperationInput {
	in := srInput(forms.OpUpgrade, s)
	in.Request.Upgrade = &UpgradeRequest{Version: "5.10.0"}
	if mut != nil {
		mut(in.Request.Upgrade)
	}
	return in
}

func setAcme(f *fakeCloud, mut func(*spec.Config)) {
	c := activeConfig("acme", spec.Production, "5.9.0")
	mut(c)
	f.putConfig(c)
}

// failHealthySoakAt makes the uptime soak at version fail (not the wait for /__version).
func failHealthySoakAt(f *fakeCloud, version string) {
	f.soakErr = func(in activities.SoakInput) error {
		if !in.VersionOnly && in.ExpectedVersion == version {
			return temporal.NewNonRetryableApplicationError("soak: 2 of 3 probes failed (502 on /healthz)", "SoakFailed", nil)
		}
		return nil
	}
}

func TestUpgradeStepsInOrder(t *testing.T) {
	env, f, timers := upEnv(t)
	env.ExecuteWorkflow(Upgrade, upInput(Settings{SoakProbes: 5}, nil))
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	srExpectNames(t, f,
		"ReadInstanceConfig", "Probe", // pre-checks: the version declared, health
		"BackupSQL", "BackupGKE", // backups before any change
		"ReadInstanceConfig", "ChangeInstanceConfig", // the bump
		"Soak", "Soak") // /__version, then the uptime soak
	all := f.names(true)
	if i := slices.Index(all, "GetRelease"); i < 0 || i > slices.Index(all, "ReadInstanceConfig") {
		t.Fatalf("an upgrade asked for alone must check the release first: %v", all)
	}
	if rel := inputsOf[activities.ReleaseInput](f, "GetRelease")[0]; rel.Owner != "sourcegraph" || rel.Repo != "sourcegraph" || rel.Tag != "5.10.0" {
		t.Fatalf("release lookup %+v", rel)
	}

	ch := inputsOf[activities.ChangeConfigInput](f, "ChangeInstanceConfig")[0]
	if ch.Config.Spec.SourcegraphVersion != "5.10.0" || !slices.Equal(ch.Labels, []string{UpgradeLabel}) ||
		!strings.Contains(ch.Body, "sourcegraph/customer#42") || !strings.Contains(ch.Title, "upgrade to 5.10.0") {
		t.Fatalf("version bump %+v", ch)
	}
	// Nothing but the version changes.
	want := activeConfig("acme", spec.Production, "5.10.0")
	if got := ch.Config.Spec; got.ReleaseChannel != want.Spec.ReleaseChannel || got.Suspended || !got.Debug.EnableAlerting || got.Size != want.Spec.Size {
		t.Fatalf("the bump changed more than the version: %+v", got)
	}
	soaks := inputsOf[activities.SoakInput](f, "Soak")
	if v := soaks[0]; !v.VersionOnly || v.Consecutive != 1 || v.ExpectedVersion != "5.10.0" || v.Timeout != DefaultVersionTimeout || v.Host != "acme.sourcegraphcloud.com" {
		t.Fatalf("version wait %+v", v)
	}
	if s := soaks[1]; s.VersionOnly || s.Consecutive != 5 || s.ExpectedVersion != "5.10.0" {
		t.Fatalf("uptime soak %+v", s)
	}
	sqlIn := inputsOf[activities.BackupSQLInput](f, "BackupSQL")[0]
	gkeIn := inputsOf[activities.BackupGKEInput](f, "BackupGKE")[0]
	if !strings.HasPrefix(sqlIn.Key, "pre-upgrade-") || !strings.HasPrefix(gkeIn.Name, "pre-upgrade-5-10-0-") {
		t.Fatalf("backups %+v %+v", sqlIn, gkeIn)
	}

	if res.Instance.Version != "5.10.0" || f.config("acme").Spec.SourcegraphVersion != "5.10.0" {
		t.Fatalf("result version %s, config %s", res.Instance.Version, f.config("acme").Spec.SourcegraphVersion)
	}
	if b := res.Backups; b == nil || b.SQLBackupRunID == 0 || !strings.HasSuffix(b.GKEBackup, "/backups/"+gkeIn.Name) || !b.TakenAt.Equal(srStart) {
		t.Fatalf("backups %+v", res.Backups)
	}
	p := res.Progress
	if p.Facts["Target version"] != "5.10.0" || p.Facts["From version"] != "5.9.0" || p.Facts["Pre-upgrade Backup for GKE backup"] != res.Backups.GKEBackup {
		t.Fatalf("facts %v", p.Facts)
	}
	status := f.comment("<!-- lifecycle:status:upgrade/acme/sourcegraph/customer/42")
	if !strings.Contains(status, "upgrade `acme`: succeeded") || strings.Count(status, "- [x]") != 4 || strings.Contains(status, "- [ ]") {
		t.Fatalf("status comment:\n%s", status)
	}
	if p.SLA == nil || p.SLA.Kind != "upgrade-patch" || *timers == 0 {
		t.Fatalf("an upgrade asked for alone keeps its own SLA clock: %+v, %d timers", p.SLA, *timers)
	}
}

func TestUpgradeSkipsAndRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(f *fakeCloud)
		up     func(*UpgradeRequest)
		reason string
	}{
		{"already at the target", func(f *fakeCloud) { setAcme(f, func(c *spec.Config) { c.Spec.SourcegraphVersion = "5.10.0" }) }, nil,
			"already at 5.10.0"},
		{"pause channel", func(f *fakeCloud) { setAcme(f, func(c *spec.Config) { c.Spec.ReleaseChannel = spec.Pause }) }, nil,
			`release channel "pause" is not upgraded`},
		{"insiders channel", func(f *fakeCloud) { setAcme(f, func(c *spec.Config) { c.Spec.ReleaseChannel = spec.Insiders }) }, nil,
			`release channel "insiders" is not upgraded`},
		{"newer than the target", func(f *fakeCloud) { setAcme(f, func(c *spec.Config) { c.Spec.SourcegraphVersion = "5.11.0" }) }, nil,
			"runs 5.11.0, newer than 5.10.0"},
		{"suspended", func(f *fakeCloud) { setAcme(f, func(c *spec.Config) { c.Spec.Suspended = true }) }, nil,
			"suspended"},
		{"unhealthy", func(f *fakeCloud) { f.unhealthy = "GET /healthz: 503" }, nil,
			"acme.sourcegraphcloud.com is not healthy before the upgrade (GET /healthz: 503)"},
		{"unknown release", func(f *fakeCloud) {
			f.mu.Lock()
			f.fails["GetRelease"] = activities.Permanent(activities.ErrNotFound, "release v5.10.0 does not exist in sourcegraph/sourcegraph", "check the version",
				errors.New("GET http://127.0.0.1:8090/api/v3/repos/sourcegraph/sourcegraph/releases/tags/v5.10.0: 404 Not Found []"))
			f.mu.Unlock()
		}, nil, "version 5.10.0 has no release in sourcegraph/sourcegraph: check the version"},
		{"GitHub down", func(f *fakeCloud) { f.fail("GetRelease") }, nil,
			"could not confirm that release 5.10.0 exists: GitHub did not answer; ask again once GitHub answers"},
		{"not a version", nil, func(u *UpgradeRequest) { u.Version = "latest" }, "latest"},
		{"no config.yaml", func(f *fakeCloud) { f.mu.Lock(); delete(f.configs, "acme"); f.mu.Unlock() }, nil,
			"has no config.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, f, _ := upEnv(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			before := f.config("acme")
			env.ExecuteWorkflow(Upgrade, upInput(Settings{}, tc.up))
			res := srResult(t, env)
			if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, tc.reason) {
				t.Fatalf("result %s %q, want rejected with %q", res.Outcome, res.Reason, tc.reason)
			}
			noChain(t, "the rejection", res.Reason)
			for _, n := range f.names(false) {
				if n != "ReadInstanceConfig" && n != "Probe" {
					t.Fatalf("a refused upgrade must change nothing; it ran %v", f.names(false))
				}
			}
			if f.config("acme") != before {
				t.Fatal("config.yaml changed")
			}
			if res.Instance.Version != "5.9.0" || res.Backups != nil {
				t.Fatalf("result %+v", res)
			}
			if c := f.comment("<!-- lifecycle:status:"); !strings.Contains(c, "rejected: ") || !strings.Contains(c, oneLine(tc.reason)) {
				t.Fatalf("status comment %q", c)
			}
		})
	}
}

func TestUpgradeForceOverridesThePauseChannel(t *testing.T) {
	env, f, _ := upEnv(t)
	setAcme(f, func(c *spec.Config) { c.Spec.ReleaseChannel = spec.Pause })
	env.ExecuteWorkflow(Upgrade, upInput(Settings{}, func(u *UpgradeRequest) { u.Force = true }))
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded || res.Instance.Version != "5.10.0" {
		t.Fatalf("result %s %q %+v", res.Outcome, res.Reason, res.Instance)
	}
	if c := f.config("acme"); c.Spec.SourcegraphVersion != "5.10.0" || c.Spec.ReleaseChannel != spec.Pause {
		t.Fatalf("config %+v", c.Spec)
	}
	// Force overrides the channel, not the release check.
	if n := f.callsOf("GetRelease"); n != 1 {
		t.Fatalf("a forced upgrade looked the release up %d times, want once", n)
	}
}

func TestUpgradeRollbackOnAbort(t *testing.T) {
	env, f, _ := upEnv(t)
	failHealthySoakAt(f, "5.10.0")
	var parked Progress
	env.RegisterDelayedCallback(func() { parked = progress(t, env) }, time.Hour)
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "soak", Action: ActionAbort, By: "carol", Reason: "5.10.0 is unhealthy"}, &rejected)
	env.ExecuteWorkflow(Upgrade, upInput(Settings{}, nil))
	res := srResult(t, env)
	if rejected != nil {
		t.Fatalf("abort rejected: %v", rejected)
	}
	if pk := parked.Parked; pk == nil || pk.Step != "soak" || !pk.Restore || !strings.Contains(pk.Error, "2 of 3 probes failed") {
		t.Fatalf("the soak must park with a restore offered: %+v", parked.Parked)
	}
	if !strings.Contains(RenderProgress(parked, ""), "`/restore`") {
		t.Fatal("the parked checklist must offer /restore")
	}
	srExpectNames(t, f,
		"ReadInstanceConfig", "Probe", "BackupSQL", "BackupGKE", "ReadInstanceConfig", "ChangeInstanceConfig", "Soak", "Soak",
		// the rollback: the old version back in config.yaml, then it must serve healthily again
		"ReadInstanceConfig", "ChangeInstanceConfig", "Soak")
	changes := inputsOf[activities.ChangeConfigInput](f, "ChangeInstanceConfig")
	if back := changes[1]; back.Config.Spec.SourcegraphVersion != "5.9.0" || !strings.Contains(back.Title, "roll back to 5.9.0") ||
		!slices.Equal(back.Labels, []string{UpgradeLabel}) || back.ChangeID == changes[0].ChangeID {
		t.Fatalf("rollback change %+v", back)
	}
	soaks := inputsOf[activities.SoakInput](f, "Soak")
	if last := soaks[len(soaks)-1]; last.ExpectedVersion != "5.9.0" || last.VersionOnly || last.Consecutive != DefaultSoakProbes {
		t.Fatalf("the rollback must soak 5.9.0: %+v", last)
	}
	if res.Outcome != OutcomeAborted || res.Instance.Version != "5.9.0" || f.config("acme").Spec.SourcegraphVersion != "5.9.0" {
		t.Fatalf("result %s, version %s, config %s", res.Outcome, res.Instance.Version, f.config("acme").Spec.SourcegraphVersion)
	}
	if res.Backups == nil || res.Backups.SQLBackupRunID == 0 {
		t.Fatalf("the backups stay on record: %+v", res.Backups)
	}
	states := []StepState{}
	for _, s := range res.Progress.Steps {
		states = append(states, s.State)
	}
	if want := []StepState{StepDone, StepCompensated, StepDone, StepNotRun}; !slices.Equal(states, want) {
		t.Fatalf("steps %v, want %v", states, want)
	}
	if n := res.Progress.Steps[3].Note; !strings.Contains(n, "aborted by @carol") || strings.Contains(n, "restore") {
		t.Fatalf("note %q", n)
	}
	if _, ok := res.Progress.Facts["Restored Cloud SQL from"]; ok {
		t.Fatal("an abort must not restore")
	}
}

func TestUpgradeRestoreFromBackups(t *testing.T) {
	env, f, _ := upEnv(t)
	failHealthySoakAt(f, "5.10.0")
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "soak", Action: ActionRestore, By: "carol", Reason: "the migration broke the data"}, &rejected)
	env.ExecuteWorkflow(Upgrade, upInput(Settings{}, nil))
	res := srResult(t, env)
	if rejected != nil {
		t.Fatalf("restore rejected: %v", rejected)
	}
	srExpectNames(t, f,
		"ReadInstanceConfig", "Probe", "BackupSQL", "BackupGKE", "ReadInstanceConfig", "ChangeInstanceConfig", "Soak", "Soak",
		// revert, restore the data, then the old version must serve
		"ReadInstanceConfig", "ChangeInstanceConfig", "RestoreSQL", "RestoreGKE", "Soak")
	b := res.Backups
	if b == nil {
		t.Fatal("no backups recorded")
	}
	if sql := inputsOf[activities.RestoreSQLInput](f, "RestoreSQL")[0]; sql.BackupRunID != b.SQLBackupRunID || sql.Project != spec.ProjectID("acme") || sql.Instance != spec.SQLInstanceName {
		t.Fatalf("SQL restore %+v, backups %+v", sql, b)
	}
	if gke := inputsOf[activities.RestoreGKEInput](f, "RestoreGKE")[0]; gke.Backup != b.GKEBackup || gke.Plan != spec.BackupPlanName || gke.Region != "us-central1" || gke.Name == "" {
		t.Fatalf("GKE restore %+v, backups %+v", gke, b)
	}
	if soaks := inputsOf[activities.SoakInput](f, "Soak"); soaks[len(soaks)-1].ExpectedVersion != "5.9.0" {
		t.Fatalf("last soak %+v", soaks[len(soaks)-1])
	}
	if res.Outcome != OutcomeAborted || res.Instance.Version != "5.9.0" || f.config("acme").Spec.SourcegraphVersion != "5.9.0" {
		t.Fatalf("result %s, version %s", res.Outcome, res.Instance.Version)
	}
	if n := res.Progress.Steps[3].Note; !strings.Contains(n, "restore from backups by @carol: the migration broke the data") {
		t.Fatalf("note %q", n)
	}
	if res.Progress.Facts["Restored Backup for GKE from"] != b.GKEBackup || res.Progress.Facts["Restored Cloud SQL from"] == "" {
		t.Fatalf("facts %v", res.Progress.Facts)
	}
}

func TestUpgradeRestoreNotOfferedBeforeBackups(t *testing.T) {
	env, f, _ := upEnv(t)
	f.fail("BackupSQL")
	var parked Progress
	env.RegisterDelayedCallback(func() { parked = progress(t, env) }, time.Hour)
	var restoreRejected, abortRejected error
	decide(env, 2*time.Hour, Decision{Step: "backup", Action: ActionRestore, By: "carol"}, &restoreRejected)
	decide(env, 3*time.Hour, Decision{Step: "backup", Action: ActionAbort, By: "carol"}, &abortRejected)
	env.ExecuteWorkflow(Upgrade, upInput(Settings{}, nil))
	res := srResult(t, env)
	if parked.Parked == nil || parked.Parked.Step != "backup" || parked.Parked.Restore {
		t.Fatalf("parked %+v", parked.Parked)
	}
	if restoreRejected == nil || !strings.Contains(restoreRejected.Error(), "restore from backups is not offered") {
		t.Fatalf("restore at the backup step: %v", restoreRejected)
	}
	if abortRejected != nil {
		t.Fatalf("abort rejected: %v", abortRejected)
	}
	if res.Outcome != OutcomeAborted || res.Instance.Version != "5.9.0" {
		t.Fatalf("result %s %+v", res.Outcome, res.Instance)
	}
	// Both backups start at once: the GKE one was taken though the SQL one failed; nothing to undo.
	srExpectNames(t, f, "ReadInstanceConfig", "Probe", "BackupSQL", "BackupGKE")
}

// reportLog captures the reports an upgrade signals to its rollout.
type reportLog struct {
	mu   sync.Mutex
	reps []UpgradeReport
}

func (l *reportLog) statuses() []UpgradeStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []UpgradeStatus
	for _, r := range l.reps {
		out = append(out, r.Status)
	}
	return out
}

func (l *reportLog) all() []UpgradeReport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reps)
}

const testRollout = "upgrade-fleet/x"

func captureReports(env *testsuite.TestWorkflowEnvironment) *reportLog {
	l := &reportLog{}
	env.OnSignalExternalWorkflow(mock.Anything, testRollout, "", SignalUpgradeReport, mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.reps = append(l.reps, args.Get(4).(UpgradeReport))
	})
	return l
}

func TestUpgradeInARolloutReportsInsteadOfCommenting(t *testing.T) {
	env, f, timers := upEnv(t)
	reports := captureReports(env)
	f.fail("Soak") // the wait for /__version fails until healed
	var parkedReports []UpgradeStatus
	env.RegisterDelayedCallback(func() { parkedReports = reports.statuses(); f.heal("Soak") }, time.Hour)
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "version", Action: ActionRetry, By: "bob"}, &rejected)
	env.ExecuteWorkflow(Upgrade, upInput(Settings{}, func(u *UpgradeRequest) { u.Rollout = testRollout }))
	res := srResult(t, env)
	if rejected != nil {
		t.Fatalf("retry rejected: %v", rejected)
	}
	if res.Outcome != OutcomeSucceeded || res.Instance.Version != "5.10.0" {
		t.Fatalf("result %s %q", res.Outcome, res.Reason)
	}
	if !slices.Equal(parkedReports, []UpgradeStatus{UpgradeParked}) {
		t.Fatalf("while parked the rollout was told %v", parkedReports)
	}
	if got := reports.statuses(); !slices.Equal(got, []UpgradeStatus{UpgradeParked, UpgradeRunning, UpgradeSucceeded}) {
		t.Fatalf("reports %v, want parked, running, succeeded", got)
	}
	reps := reports.all()
	if p := reps[0]; p.Step != "version" || !strings.Contains(p.Error, "Soak failed (injected)") {
		t.Fatalf("parked report %+v", p)
	}
	for _, r := range reps {
		if r.Slug != "acme" || r.WorkflowID != UpgradeWorkflowID("acme", IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 42}, 1) || r.At.IsZero() {
			t.Fatalf("report %+v", r)
		}
	}
	done := reps[2]
	if done.From != "5.9.0" || done.To != "5.10.0" || done.Backups == nil || done.Backups.GKEBackup != res.Backups.GKEBackup ||
		done.PR == 0 || !strings.HasPrefix(done.PRURL, "https://github.com/sourcegraph/cloud/pull/") {
		t.Fatalf("final report %+v", done)
	}
	// The rollout keeps the tracking issue and the SLA clock.
	if n := len(inputsOf[activities.UpsertCommentInput](f, "UpsertComment")); n != 0 {
		t.Fatalf("%d comments on the tracking issue, want none (the rollout reports there)", n)
	}
	if slices.Contains(f.names(true), "GetRelease") {
		t.Fatal("the rollout already checked the release")
	}
	if res.Progress.SLA != nil || *timers != 0 {
		t.Fatalf("SLA %+v, %d timers: a rollout's upgrade has no SLA clock of its own", res.Progress.SLA, *timers)
	}
}

func TestUpgradeInARolloutReportsSkipsAndRollbacks(t *testing.T) {
	t.Run("skipped", func(t *testing.T) {
		env, f, _ := upEnv(t)
		reports := captureReports(env)
		setAcme(f, func(c *spec.Config) { c.Spec.SourcegraphVersion = "5.10.0" })
		env.ExecuteWorkflow(Upgrade, upInput(Settings{}, func(u *UpgradeRequest) { u.Rollout = testRollout }))
		if res := srResult(t, env); res.Outcome != OutcomeRejected {
			t.Fatalf("outcome %s", res.Outcome)
		}
		reps := reports.all()
		if len(reps) != 1 || reps[0].Status != UpgradeSkipped || reps[0].Reason != "already at 5.10.0" || reps[0].From != "5.10.0" {
			t.Fatalf("reports %+v", reps)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		env, f, _ := upEnv(t)
		reports := captureReports(env)
		f.unhealthy = "GET /healthz: 503"
		env.ExecuteWorkflow(Upgrade, upInput(Settings{}, func(u *UpgradeRequest) { u.Rollout = testRollout }))
		srResult(t, env)
		if reps := reports.all(); len(reps) != 1 || reps[0].Status != UpgradeRejected || !strings.Contains(reps[0].Reason, "not healthy") {
			t.Fatalf("reports %+v", reps)
		}
	})
	t.Run("restored", func(t *testing.T) {
		env, f, _ := upEnv(t)
		reports := captureReports(env)
		failHealthySoakAt(f, "5.10.0")
		var rejected error
		decide(env, time.Hour, Decision{Step: "soak", Action: ActionRestore, By: "carol"}, &rejected)
		env.ExecuteWorkflow(Upgrade, upInput(Settings{}, func(u *UpgradeRequest) { u.Rollout = testRollout }))
		srResult(t, env)
		reps := reports.all()
		last := reps[len(reps)-1]
		if rejected != nil || reps[0].Status != UpgradeParked || reps[0].Step != "soak" || last.Status != UpgradeRolledBack ||
			!strings.Contains(last.Reason, "5.9.0 serves again, restored from the pre-upgrade backups") {
			t.Fatalf("reports %+v (decision %v)", reps, rejected)
		}
	})
}

// The Cloud SQL and Backup for GKE backups run at once (each takes minutes in a real cloud): the
// GKE backup starts while the SQL backup is still running.
func TestUpgradeTakesBothBackupsAtOnce(t *testing.T) {
	env, f, _ := upEnv(t)
	gkeStarted := make(chan struct{})
	var overlapped atomic.Bool
	f.onCall = func(name string, _ any) {
		switch name {
		case "BackupGKE":
			close(gkeStarted)
		case "BackupSQL":
			select {
			case <-gkeStarted:
				overlapped.Store(true)
			case <-time.After(5 * time.Second):
			}
		}
	}
	env.ExecuteWorkflow(Upgrade, upInput(Settings{}, nil))
	if res := srResult(t, env); res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s", res.Outcome)
	}
	if !overlapped.Load() {
		t.Fatal("the GKE backup did not start while the SQL backup ran: the backups were taken one after the other")
	}
}

// From RevisionLeanHistory one Soak call waits for /__version and soaks; a failure there parks
// the "soak" step, and a retry runs the call again.
func TestUpgradeAtLeanRevisionWaitsAndSoaksInOneCall(t *testing.T) {
	env, f, _ := upEnv(t)
	reports := captureReports(env)
	f.fail("Soak")
	env.RegisterDelayedCallback(func() { f.heal("Soak") }, time.Hour)
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "soak", Action: ActionRetry, By: "bob"}, &rejected)
	in := upInput(Settings{}, func(u *UpgradeRequest) { u.Rollout = testRollout })
	in.Revision = RevisionLeanHistory
	env.ExecuteWorkflow(Upgrade, in)
	res := srResult(t, env)
	if rejected != nil || res.Outcome != OutcomeSucceeded || res.Instance.Version != "5.10.0" {
		t.Fatalf("result %s %q, retry %v", res.Outcome, res.Reason, rejected)
	}
	srExpectNames(t, f,
		"ReadInstanceConfig", "Probe",
		"BackupSQL", "BackupGKE",
		"ReadInstanceConfig", "ChangeInstanceConfig",
		"Soak", "Soak") // the combined wait and soak: failed once, then retried
	for _, s := range inputsOf[activities.SoakInput](f, "Soak") {
		if s.VersionOnly || s.VersionTimeout != DefaultVersionTimeout || s.Timeout != DefaultSoakTimeout || s.Consecutive != DefaultSoakProbes || s.ExpectedVersion != "5.10.0" {
			t.Fatalf("combined soak %+v", s)
		}
	}
	if p := reports.all()[0]; p.Status != UpgradeParked || p.Step != "soak" {
		t.Fatalf("parked report %+v", p)
	}
}
