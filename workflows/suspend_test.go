package workflows

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

var srStart = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) // a Monday

// srEnv is an operation test environment with Suspend and Resume registered and acme's config
// seeded as a running small production instance at 5.9.0.
func srEnv(t *testing.T, op forms.Operation) (*testsuite.TestWorkflowEnvironment, *fakeCloud) {
	t.Helper()
	env, f := newOpEnv(t)
	env.SetStartTime(srStart)
	have := map[string]bool{}
	for _, w := range Workflows() {
		have[w.Name] = true
	}
	for name, fn := range map[string]any{"Suspend": Suspend, "Resume": Resume} {
		if !have[name] {
			env.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
		}
	}
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: OperationWorkflowID(op, "acme", "sourcegraph/customer/42")})
	f.putConfig(activeConfig("acme", spec.Production, "5.9.0"))
	return env, f
}

func srInput(op forms.Operation, s Settings) OperationInput {
	return OperationInput{
		Request: OperationRequest{Operation: op, Slug: "acme", Issue: &IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 42},
			Requester: "alice", RequestedAt: srStart, Settings: s},
		Instance: Instance{Slug: "acme", Type: spec.Production, Domain: "acme.sourcegraphcloud.com", Region: "us-central1", Size: spec.Small, Version: "5.9.0"},
	}
}

// srSuspended puts the fakes in the state a finished suspend leaves.
func srSuspended(f *fakeCloud) {
	c := activeConfig("acme", spec.Production, "5.9.0")
	c.Spec.Suspended, c.Spec.Debug.EnableAlerting = true, false
	f.putConfig(c)
	f.sqlState, f.poolSize, f.holding, f.dns = "NEVER", 0, true, true
}

func srResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) OperationResult {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var res OperationResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func srExpectNames(t *testing.T, f *fakeCloud, want ...string) {
	t.Helper()
	if got := f.names(false); !slices.Equal(got, want) {
		t.Fatalf("activities:\n got %v\nwant %v", got, want)
	}
}

var srGKEBackupID = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

func TestSuspendStepsInOrder(t *testing.T) {
	env, f := srEnv(t, forms.OpSuspend)
	f.sqlState, f.poolSize = "ALWAYS", 2
	env.ExecuteWorkflow(Suspend, srInput(forms.OpSuspend, Settings{}))
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	srExpectNames(t, f,
		"ReadInstanceConfig", "ChangeInstanceConfig", // alerting off
		"BackupSQL", "BackupGKE",
		"ResizeNodePool", "SetSQLActivation", "SetHoldingPage",
		"ReadInstanceConfig", "ChangeInstanceConfig") // suspended: true

	// Alerting off is the first mutation, before any backup, and changes nothing else.
	changes := inputsOf[activities.ChangeConfigInput](f, "ChangeInstanceConfig")
	if first := changes[0].Config; first.Spec.Debug.EnableAlerting || first.Spec.Suspended {
		t.Fatalf("the first change must turn alerting off and only that: %+v", first.Spec)
	}
	c := f.config("acme")
	if !c.Spec.Suspended || c.Spec.Debug.EnableAlerting {
		t.Fatalf("config must end suspended with alerting off: %+v", c.Spec)
	}
	if !f.holding || f.sqlState != "NEVER" || f.poolSize != 0 {
		t.Fatalf("cloud state: holding %v, sql %s, pool %d", f.holding, f.sqlState, f.poolSize)
	}
	if r := inputsOf[activities.ResizeNodePoolInput](f, "ResizeNodePool")[0]; r.Project != spec.ProjectID("acme") || r.Cluster != spec.ClusterName ||
		r.NodePool != spec.NodePoolName || r.Region != "us-central1" || r.NodeCount != 0 {
		t.Fatalf("resize %+v", r)
	}
	if h := inputsOf[activities.SetHoldingPageInput](f, "SetHoldingPage")[0]; h.Host != "acme.sourcegraphcloud.com" || !h.On {
		t.Fatalf("holding page %+v", h)
	}

	// Backups: deterministic names, recorded in the result, the facts and the comments.
	sqlIn := inputsOf[activities.BackupSQLInput](f, "BackupSQL")[0]
	gkeIn := inputsOf[activities.BackupGKEInput](f, "BackupGKE")[0]
	if !strings.HasPrefix(sqlIn.Key, "suspend-") || sqlIn.Project != spec.ProjectID("acme") {
		t.Fatalf("SQL backup %+v", sqlIn)
	}
	if !strings.HasPrefix(gkeIn.Name, "suspend-") || !srGKEBackupID.MatchString(gkeIn.Name) || gkeIn.Plan != spec.BackupPlanName {
		t.Fatalf("GKE backup %+v", gkeIn)
	}
	b := res.Backups
	if b == nil || b.SQLBackupRunID == 0 || !strings.HasSuffix(b.GKEBackup, "/backups/"+gkeIn.Name) || !b.TakenAt.Equal(srStart) {
		t.Fatalf("result backups %+v", b)
	}
	p := progress(t, env)
	if p.Facts["Cloud SQL backup"] != strconv.FormatInt(b.SQLBackupRunID, 10) || p.Facts["Backup for GKE backup"] != b.GKEBackup {
		t.Fatalf("facts %v", p.Facts)
	}
	status := f.comment("<!-- lifecycle:status:")
	if !strings.Contains(status, "Cloud SQL backup: "+strconv.FormatInt(b.SQLBackupRunID, 10)) || !strings.Contains(status, "Backup for GKE backup: "+b.GKEBackup) {
		t.Fatalf("status comment must list the backups:\n%s", status)
	}
	ret := f.comment("<!-- lifecycle:retention:")
	if !strings.Contains(ret, b.GKEBackup) || !strings.Contains(ret, "90 days") || !strings.Contains(ret, "7 days") ||
		!strings.Contains(ret, "resume before "+formatTime(srStart.Add(90*24*time.Hour))) {
		t.Fatalf("retention comment:\n%s", ret)
	}
}

func TestSuspendParkThenAbortUndoesInReverse(t *testing.T) {
	env, f := srEnv(t, forms.OpSuspend)
	f.sqlState, f.poolSize = "ALWAYS", 2
	f.fail("SetSQLActivation")
	var parked Progress
	env.RegisterDelayedCallback(func() { parked = progress(t, env) }, time.Hour)
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "stop-sql", Action: ActionAbort, By: "carol", Reason: "customer changed their mind"}, &rejected)
	env.ExecuteWorkflow(Suspend, srInput(forms.OpSuspend, Settings{}))
	res := srResult(t, env)
	if rejected != nil {
		t.Fatalf("abort rejected: %v", rejected)
	}
	if parked.Parked == nil || parked.Parked.Step != "stop-sql" || !strings.Contains(parked.Parked.Error, "SetSQLActivation failed") {
		t.Fatalf("stop-sql must park: %+v", parked)
	}
	if res.Outcome != OutcomeAborted {
		t.Fatalf("outcome %s", res.Outcome)
	}
	srExpectNames(t, f,
		"ReadInstanceConfig", "ChangeInstanceConfig", "BackupSQL", "BackupGKE", "ResizeNodePool", "SetSQLActivation",
		// compensations, in reverse: the pool back to the small tier's 2 nodes, then alerting back on
		"ResizeNodePool", "ReadInstanceConfig", "ChangeInstanceConfig")
	resizes := inputsOf[activities.ResizeNodePoolInput](f, "ResizeNodePool")
	if resizes[1].NodeCount != 2 || f.poolSize != 2 {
		t.Fatalf("undo must resize to 2 nodes: %+v", resizes)
	}
	c := f.config("acme")
	if !c.Spec.Debug.EnableAlerting || c.Spec.Suspended {
		t.Fatalf("config after abort: %+v", c.Spec)
	}
	p := progress(t, env)
	want := []StepState{StepCompensated, StepDone, StepCompensated, StepNotRun, StepNotRun, StepNotRun}
	for i, s := range p.Steps {
		if s.State != want[i] {
			t.Fatalf("step %s is %s, want %s", s.Name, s.State, want[i])
		}
	}
	// Backups are kept even though the suspension was aborted.
	if res.Backups == nil || res.Backups.GKEBackup == "" {
		t.Fatalf("backups %+v", res.Backups)
	}
	if f.comment("<!-- lifecycle:retention:") != "" {
		t.Fatal("an aborted suspension must not post the retention notice")
	}
}

func TestSuspendRejectsAnUnknownSize(t *testing.T) {
	env, f := srEnv(t, forms.OpSuspend)
	in := srInput(forms.OpSuspend, Settings{})
	in.Instance.Size = "huge"
	env.ExecuteWorkflow(Suspend, in)
	res := srResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "huge") {
		t.Fatalf("result %+v", res)
	}
	srExpectNames(t, f) // nothing touched
}

func TestResumeStepsInOrderWithoutCatchUp(t *testing.T) {
	env, f := srEnv(t, forms.OpResume)
	srSuspended(f)
	in := srInput(forms.OpResume, Settings{LatestVersion: "5.9.0"})
	// Suspended 100 days ago: the on-demand backups may be gone; resume warns and goes on.
	in.Backups = &BackupRecord{SQLBackupRunID: 7, GKEBackup: "projects/src-acme/locations/us-central1/backupPlans/sourcegraph-daily/backups/suspend-1",
		TakenAt: srStart.Add(-100 * 24 * time.Hour)}
	env.ExecuteWorkflow(Resume, in)
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	srExpectNames(t, f,
		"SetSQLActivation", "ResizeNodePool", "SetHoldingPage", "EnsureDNS",
		"ReadInstanceConfig", "ChangeInstanceConfig", // suspended: false
		"Soak",
		"ReadInstanceConfig", "ChangeInstanceConfig") // alerting on; no catch-up
	if f.sqlState != "ALWAYS" || f.poolSize != 2 || f.holding || !f.dns {
		t.Fatalf("cloud state: sql %s, pool %d, holding %v, dns %v", f.sqlState, f.poolSize, f.holding, f.dns)
	}
	if d := inputsOf[activities.EnsureDNSInput](f, "EnsureDNS")[0]; d.Host != "acme.sourcegraphcloud.com" || d.Target != spec.IngressHost("acme") || !d.Proxied {
		t.Fatalf("DNS %+v", d)
	}
	s := inputsOf[activities.SoakInput](f, "Soak")[0]
	if s.ExpectedVersion != "5.9.0" || s.Consecutive != DefaultSoakProbes || s.Interval != DefaultSoakInterval || s.Timeout != DefaultSoakTimeout {
		t.Fatalf("soak %+v", s)
	}
	// Alerting comes back only after the soak, in its own change.
	changes := inputsOf[activities.ChangeConfigInput](f, "ChangeInstanceConfig")
	if changes[0].Config.Spec.Suspended || changes[0].Config.Spec.Debug.EnableAlerting {
		t.Fatalf("the record step must only clear suspended: %+v", changes[0].Config.Spec)
	}
	c := f.config("acme")
	if c.Spec.Suspended || !c.Spec.Debug.EnableAlerting || c.Spec.SourcegraphVersion != "5.9.0" {
		t.Fatalf("config %+v", c.Spec)
	}
	if res.Instance.Version != "5.9.0" || res.Backups != nil {
		t.Fatalf("result %+v", res)
	}
	p := progress(t, env)
	if !strings.Contains(p.Facts["Version"], "already at 5.9.0") {
		t.Fatalf("facts %v", p.Facts)
	}
	if w := f.comment("<!-- lifecycle:retention:"); !strings.Contains(w, "may have expired") {
		t.Fatalf("want a retention warning, got %q", w)
	}
}

func TestResumeCatchesUpToLatestVersionBehindBackups(t *testing.T) {
	env, f := srEnv(t, forms.OpResume)
	srSuspended(f)
	env.ExecuteWorkflow(Resume, srInput(forms.OpResume, Settings{LatestVersion: "5.10.0"}))
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	srExpectNames(t, f,
		"SetSQLActivation", "ResizeNodePool", "SetHoldingPage", "EnsureDNS",
		"ReadInstanceConfig", "ChangeInstanceConfig", "Soak", "ReadInstanceConfig", "ChangeInstanceConfig",
		// catch-up: backups first, then the version change, then a soak at the new version
		"BackupSQL", "BackupGKE", "ReadInstanceConfig", "ChangeInstanceConfig", "Soak")
	changes := inputsOf[activities.ChangeConfigInput](f, "ChangeInstanceConfig")
	for i, c := range changes {
		want := "5.9.0"
		if i == len(changes)-1 {
			want = "5.10.0"
		}
		if c.Config.Spec.SourcegraphVersion != want {
			t.Fatalf("change %d (%s) sets version %s, want %s", i, c.Title, c.Config.Spec.SourcegraphVersion, want)
		}
	}
	if last := changes[len(changes)-1]; !strings.Contains(last.Title, "upgrade to 5.10.0") {
		t.Fatalf("upgrade PR title %q", last.Title)
	}
	soaks := inputsOf[activities.SoakInput](f, "Soak")
	if soaks[1].ExpectedVersion != "5.10.0" || soaks[1].Consecutive != DefaultSoakProbes {
		t.Fatalf("catch-up soak %+v", soaks[1])
	}
	gke := inputsOf[activities.BackupGKEInput](f, "BackupGKE")[0]
	if !strings.HasPrefix(gke.Name, "pre-upgrade-5-10-0-") || !srGKEBackupID.MatchString(gke.Name) {
		t.Fatalf("GKE backup name %q", gke.Name)
	}
	if sql := inputsOf[activities.BackupSQLInput](f, "BackupSQL")[0]; !strings.HasPrefix(sql.Key, "pre-upgrade-") {
		t.Fatalf("SQL backup key %q", sql.Key)
	}
	if c := f.config("acme"); c.Spec.SourcegraphVersion != "5.10.0" || c.Spec.Suspended || !c.Spec.Debug.EnableAlerting {
		t.Fatalf("config %+v", c.Spec)
	}
	if res.Instance.Version != "5.10.0" || res.Backups == nil || res.Backups.SQLBackupRunID == 0 || !strings.HasSuffix(res.Backups.GKEBackup, gke.Name) {
		t.Fatalf("result instance %+v backups %+v", res.Instance, res.Backups)
	}
	p := progress(t, env)
	if p.Facts["Pre-upgrade Backup for GKE backup"] != res.Backups.GKEBackup || p.Facts["Version"] != "caught up from 5.9.0 to 5.10.0" {
		t.Fatalf("facts %v", p.Facts)
	}
}

func TestResumeCatchesUpWithTheFleet(t *testing.T) {
	env, f := srEnv(t, forms.OpResume)
	srSuspended(f)
	f.putConfig(activeConfig("globex", spec.Production, "5.10.0")) // the target
	f.putConfig(activeConfig("bluth", spec.Trial, "5.9.3"))
	susp := activeConfig("initech", spec.Production, "5.12.0")
	susp.Spec.Suspended = true
	f.putConfig(susp)
	ins := activeConfig("hooli", spec.Production, "5.11.0")
	ins.Spec.ReleaseChannel = spec.Insiders
	f.putConfig(ins)
	f.putConfig(activeConfig("rctest", spec.Internal, "5.13.0"))
	env.ExecuteWorkflow(Resume, srInput(forms.OpResume, Settings{}))
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	names := f.names(false)
	if !slices.Contains(names, "ListFleet") || slices.Index(names, "ListFleet") > slices.Index(names, "BackupSQL") {
		t.Fatalf("activities %v", names)
	}
	if c := f.config("acme"); c.Spec.SourcegraphVersion != "5.10.0" {
		t.Fatalf("config version %s, want 5.10.0 (suspended, insiders and internal instances do not count)", c.Spec.SourcegraphVersion)
	}
	if res.Instance.Version != "5.10.0" {
		t.Fatalf("result version %s", res.Instance.Version)
	}
}

func TestResumeSkipsCatchUpOnPausedChannel(t *testing.T) {
	env, f := srEnv(t, forms.OpResume)
	srSuspended(f)
	c := f.config("acme")
	c.Spec.ReleaseChannel = spec.Pause
	f.putConfig(c)
	env.ExecuteWorkflow(Resume, srInput(forms.OpResume, Settings{LatestVersion: "5.10.0"}))
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded || res.Instance.Version != "5.9.0" {
		t.Fatalf("result %+v", res)
	}
	if names := f.names(false); slices.Contains(names, "BackupSQL") || f.config("acme").Spec.SourcegraphVersion != "5.9.0" {
		t.Fatalf("a paused instance must not be upgraded: %v", names)
	}
	if p := progress(t, env); !strings.Contains(p.Facts["Version"], "pause") {
		t.Fatalf("facts %v", p.Facts)
	}
}

func TestResumeParkThenRetryAfterHeal(t *testing.T) {
	env, f := srEnv(t, forms.OpResume)
	srSuspended(f)
	f.fail("Soak")
	var parked Progress
	var alertingWhileParked bool
	env.RegisterDelayedCallback(func() {
		parked = progress(t, env)
		alertingWhileParked = f.config("acme").Spec.Debug.EnableAlerting
		f.heal("Soak")
	}, time.Hour)
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "soak", Action: ActionRetry, By: "bob"}, &rejected)
	env.ExecuteWorkflow(Resume, srInput(forms.OpResume, Settings{LatestVersion: "5.9.0"}))
	res := srResult(t, env)
	if rejected != nil {
		t.Fatalf("retry rejected: %v", rejected)
	}
	if parked.Parked == nil || parked.Parked.Step != "soak" || parked.State != "parked" {
		t.Fatalf("soak must park: %+v", parked)
	}
	if alertingWhileParked {
		t.Fatal("alerting must stay off while the soak is parked")
	}
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if n := len(inputsOf[activities.SoakInput](f, "Soak")); n != 2 {
		t.Fatalf("soak ran %d times, want 2", n)
	}
	p := progress(t, env)
	if len(p.Decisions) != 1 || p.Decisions[0].By != "bob" || p.Steps[4].Runs != 2 || p.Steps[4].State != StepDone {
		t.Fatalf("progress %+v", p)
	}
	if c := f.config("acme"); !c.Spec.Debug.EnableAlerting || c.Spec.Suspended {
		t.Fatalf("config %+v", c.Spec)
	}
}

func TestSRBackupName(t *testing.T) {
	id := "suspend/acme/sourcegraph/customer/42"
	a, b := BackupName("suspend", "", id), BackupName("suspend", "", id)
	if a != b || !srGKEBackupID.MatchString(a) || !strings.HasPrefix(a, "suspend-") {
		t.Fatalf("%q %q", a, b)
	}
	if BackupName("suspend", "", id+"x") == a {
		t.Fatal("different workflows must get different names")
	}
	for _, tag := range []string{"5.10.0-rc.1", strings.Repeat("x.", 60), "--", "9"} {
		for _, prefix := range []string{"pre-upgrade", "7up", ""} {
			if n := BackupName(prefix, tag, id); !srGKEBackupID.MatchString(n) {
				t.Errorf("BackupName(%q, %q) = %q: not a valid backup ID", prefix, tag, n)
			}
		}
	}
	if n := BackupName("pre-upgrade", "5.10.0", id); !strings.HasPrefix(n, "pre-upgrade-5-10-0-") {
		t.Fatalf("%q", n)
	}
}

// The suspend the instance starts itself at a trial's expiry says why on its status comment.
func TestAutomaticSuspendSaysWhy(t *testing.T) {
	env, f := srEnv(t, forms.OpSuspend)
	f.sqlState, f.poolSize = "ALWAYS", 2
	in := srInput(forms.OpSuspend, Settings{WebUI: "http://ui.example/workflows"})
	in.Request.Requester = systemActor
	in.Request.Suspend = &forms.Suspend{Slug: "acme", Reason: "trial expired on 2026-12-07 09:00 UTC"}
	env.ExecuteWorkflow(Suspend, in)
	if res := srResult(t, env); res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	status := f.comment("<!-- lifecycle:status:")
	if !strings.Contains(status, "Started automatically: trial expired on 2026-12-07") || !strings.Contains(status, "Run: http://ui.example/workflows/") {
		t.Fatalf("the automatic suspend's status comment does not say why, or has no run link:\n%s", status)
	}
}
