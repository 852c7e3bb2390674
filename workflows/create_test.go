package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

var createStart = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) // a Monday

const statusMarker = "<!-- lifecycle:status:"

// newCreateEnv is newOpEnv with Create registered (if Workflows() does not list it yet).
func newCreateEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeCloud) {
	t.Helper()
	env, f := newOpEnv(t)
	if !slices.ContainsFunc(Workflows(), func(r Registration) bool { return r.Name == "Create" }) {
		env.RegisterWorkflow(Create)
	}
	env.SetStartTime(createStart)
	return env, f
}

// createRequest is the input the entity workflow gives Create for a filled-in form. version ""
// leaves the form's version empty (the latest tested version applies).
func createRequest(slug string, typ spec.InstanceType, version string) OperationInput {
	form := &forms.NewInstance{Customer: "Acme", Slug: slug, Domain: spec.DefaultDomain(slug), Type: typ, Size: spec.Small,
		Region: "us-central1", Version: version, AdminEmail: "admin@acme.com", IPAllowlist: []string{"203.0.113.0/24"}}
	is := &IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 42}
	return OperationInput{
		Request: OperationRequest{Operation: forms.OpCreate, Slug: slug, Issue: is, Requester: "alice", RequestedAt: createStart,
			Settings: Settings{LatestVersion: "5.10.0", SoakProbes: 2, SoakInterval: 5 * time.Second, SoakTimeout: 10 * time.Minute},
			Create:   form},
		Instance: Instance{Slug: slug, Type: typ, Domain: form.Domain, Region: form.Region, Size: form.Size, Version: version, Issue: is},
	}
}

func createResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) OperationResult {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	var res OperationResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// cloudActivities are the activities a rejected create may run: reads only.
func onlyReads(names []string) bool {
	for _, n := range names {
		switch n {
		case "ReadInstanceConfig", "ListFleet", "GetRelease":
		default:
			return false
		}
	}
	return true
}

func TestCreateHappyPath(t *testing.T) {
	env, f := newCreateEnv(t)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if res.Instance.Version != "5.10.0" {
		t.Fatalf("version %q, want the latest tested 5.10.0", res.Instance.Version)
	}
	if !res.TrialExpiresAt.IsZero() {
		t.Fatalf("a production instance has no trial clock: %v", res.TrialExpiresAt)
	}
	want := []string{"ListFleet", "ChangeInstanceConfig", "EnsureProject", "EnsureBilling", "EnableServices", "EnsureCluster", "EnsureSQLInstance", "EnsureBackupPlan",
		"EnsureDNS", "SetAllowlist", "Soak", "Soak", "ReadInstanceConfig", "ChangeInstanceConfig"}
	if got := f.names(false); !slices.Equal(got, want) {
		t.Fatalf("activities\n got %v\nwant %v", got, want)
	}
	if rel := inputsOf[activities.ReleaseInput](f, "GetRelease"); len(rel) != 1 || rel[0].Tag != "5.10.0" || rel[0].Repo != "sourcegraph" {
		t.Fatalf("release check %+v", rel)
	}

	changes := inputsOf[activities.ChangeConfigInput](f, "ChangeInstanceConfig")
	first := changes[0]
	if !first.Create || first.Config.Spec.Debug.EnableAlerting || !first.Config.Spec.Debug.EnableDeletionProtection {
		t.Fatalf("the first config must be a create with alerting off and deletion protection on: %+v", first)
	}
	c := first.Config
	if c.Spec.SourcegraphVersion != "5.10.0" || c.Spec.Domain.PrimaryDNSName != "acme.sourcegraphcloud.com" || c.Type() != spec.Production ||
		c.Spec.ReleaseChannel != spec.Stable || !strings.HasPrefix(c.Status.GCP.ProjectID, "src-acme-") || c.Status != spec.StatusForProject(c.Status.GCP.ProjectID, "us-central1") || !slices.Equal(c.Spec.IPAllowlist, []string{"203.0.113.0/24"}) {
		t.Fatalf("config %+v", c)
	}
	if final := f.config("acme"); final == nil || !final.Spec.Debug.EnableAlerting {
		t.Fatalf("alerting must be on at the end: %+v", final)
	}
	// One project ID, chosen once: the project, config.yaml, the DNS target and the result agree.
	project := c.Status.GCP.ProjectID
	if p := inputsOf[activities.EnsureProjectInput](f, "EnsureProject"); len(p) != 1 || p[0].ProjectID != project || len(project) > 30 {
		t.Fatalf("project %+v, config.yaml names %q", p, project)
	}
	// The new project is made usable right after it is created: billing, then the APIs
	// (the same project: the bootstrap steps are made before the ID is chosen).
	if b := inputsOf[activities.EnsureBillingInput](f, "EnsureBilling"); len(b) != 1 || b[0].ProjectID != project {
		t.Fatalf("billing %+v", b)
	}
	if e := inputsOf[activities.EnableServicesInput](f, "EnableServices"); len(e) != 1 || e[0].ProjectID != project ||
		!slices.Equal(e[0].Services, activities.ProjectServices) {
		t.Fatalf("services %+v", e)
	}
	if d := inputsOf[activities.EnsureDNSInput](f, "EnsureDNS"); len(d) != 1 || d[0].Target != spec.IngressHostFor(project) {
		t.Fatalf("DNS %+v, want it to point at %s", d, spec.IngressHostFor(project))
	}
	if res.Instance.ProjectID != project {
		t.Fatalf("result names project %q, config.yaml %q", res.Instance.ProjectID, project)
	}

	dns := inputsOf[activities.EnsureDNSInput](f, "EnsureDNS")
	if len(dns) != 1 || dns[0].Host != "acme.sourcegraphcloud.com" || dns[0].Target != spec.IngressHostFor(project) || !dns[0].Proxied {
		t.Fatalf("dns %+v", dns)
	}
	soaks := inputsOf[activities.SoakInput](f, "Soak")
	if soaks[0].Consecutive != 1 || soaks[0].ExpectedVersion != "5.10.0" || soaks[1].Consecutive != 2 || soaks[1].Timeout != 10*time.Minute {
		t.Fatalf("soaks %+v", soaks)
	}

	status := f.comment(statusMarker)
	if !strings.Contains(status, "create `acme`: succeeded") || strings.Contains(status, "- [ ]") || strings.Count(status, "- [x]") != 12 {
		t.Fatalf("status comment:\n%s", status)
	}
	if !strings.Contains(status, factMonitoring+": "+fakeProbeEgress) {
		t.Fatalf("the status comment must show the ranges added for monitoring:\n%s", status)
	}
	if !strings.Contains(status, "https://github.com/sourcegraph/cloud/pull/") {
		t.Fatalf("the status comment must link the config PR:\n%s", status)
	}
	handoff := f.comment("<!-- lifecycle:handoff:")
	for _, s := range []string{"https://acme.sourcegraphcloud.com", "5.10.0", "admin@acme.com", "alerting is on",
		"IP allowlist: 203.0.113.0/24", "Added for monitoring: " + fakeProbeEgress} {
		if !strings.Contains(handoff, s) {
			t.Errorf("hand-off comment lacks %q:\n%s", s, handoff)
		}
	}
	if strings.Contains(handoff, "Trial") {
		t.Errorf("no trial text for a production instance:\n%s", handoff)
	}
}

func TestCreateFormVersionWins(t *testing.T) {
	env, f := newCreateEnv(t)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, "5.9.3"))
	res := createResult(t, env)
	if res.Outcome != OutcomeSucceeded || res.Instance.Version != "5.9.3" {
		t.Fatalf("result %+v", res)
	}
	if c := f.config("acme"); c.Spec.SourcegraphVersion != "5.9.3" {
		t.Fatalf("config version %s", c.Spec.SourcegraphVersion)
	}
}

func TestCreateTrialStartsTheClock(t *testing.T) {
	env, f := newCreateEnv(t)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Trial, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	want := createStart.Add(30 * 24 * time.Hour)
	if !res.TrialExpiresAt.Equal(want) {
		t.Fatalf("trial expires %v, want %v", res.TrialExpiresAt, want)
	}
	handoff := f.comment("<!-- lifecycle:handoff:")
	if !strings.Contains(handoff, formatTime(want)) || !strings.Contains(handoff, "7 and 1 day") {
		t.Fatalf("the hand-off must give the expiry and the reminders:\n%s", handoff)
	}
	if c := f.config("acme"); c.Type() != spec.Trial {
		t.Fatalf("instance-type label %q", c.Type())
	}
}

func TestCreateRejectsATakenDomain(t *testing.T) {
	env, f := newCreateEnv(t)
	other := activeConfig("acme2", spec.Production, "5.9.0")
	other.Spec.Domain.PrimaryDNSName = "acme.sourcegraphcloud.com"
	f.putConfig(other)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "Domain") || !strings.Contains(res.Reason, "`acme2`") ||
		!strings.Contains(res.Reason, "choose another domain") {
		t.Fatalf("result %s: %s", res.Outcome, res.Reason)
	}
	if names := f.names(false); !onlyReads(names) {
		t.Fatalf("a rejected create must change nothing: ran %v", names)
	}
	status := f.comment(statusMarker)
	if !strings.Contains(status, "rejected") || !strings.Contains(status, "already used by instance `acme2`") {
		t.Fatalf("status comment:\n%s", status)
	}
	if f.config("acme") != nil {
		t.Fatal("no config may be written")
	}
}

func TestCreateRejectsAnExistingSlug(t *testing.T) {
	env, f := newCreateEnv(t)
	f.putConfig(activeConfig("acme", spec.Production, "5.9.0"))
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "Slug `acme`") || !strings.Contains(res.Reason, "config.yaml") {
		t.Fatalf("result %s: %s", res.Outcome, res.Reason)
	}
	if names := f.names(false); !onlyReads(names) {
		t.Fatalf("ran %v", names)
	}
}

func TestCreateRejectsWithoutAVersion(t *testing.T) {
	env, f := newCreateEnv(t)
	in := createRequest("acme", spec.Production, "")
	in.Request.Settings.LatestVersion = ""
	env.ExecuteWorkflow(Create, in)
	res := createResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.HasPrefix(res.Reason, forms.FieldVersion+":") ||
		!strings.Contains(res.Reason, "LIFECYCLE_LATEST_VERSION") {
		t.Fatalf("result %s: %s", res.Outcome, res.Reason)
	}
	if names := f.names(true); slices.ContainsFunc(names, func(n string) bool { return n != "UpsertComment" }) {
		t.Fatalf("only the status comment may be written: %v", names)
	}
	if status := f.comment(statusMarker); !strings.Contains(status, "rejected: Sourcegraph version") {
		t.Fatalf("status comment:\n%s", status)
	}
}

func TestCreateRejectsAMissingRelease(t *testing.T) {
	env, f := newCreateEnv(t)
	f.mu.Lock()
	f.fails["GetRelease"] = temporal.NewNonRetryableApplicationError("release v9.9.9 does not exist in sourcegraph/sourcegraph", activities.ErrNotFound, nil)
	f.mu.Unlock()
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, "9.9.9"))
	res := createResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "Sourcegraph version `9.9.9`") || !strings.Contains(res.Reason, "choose a released version") {
		t.Fatalf("result %s: %s", res.Outcome, res.Reason)
	}
	if names := f.names(false); len(names) != 0 {
		t.Fatalf("nothing but the release check may run: %v", names)
	}
}

func TestCreateRejectsABadRegion(t *testing.T) {
	env, f := newCreateEnv(t)
	in := createRequest("acme", spec.Production, "")
	in.Instance.Region = "mars-north1"
	env.ExecuteWorkflow(Create, in)
	res := createResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "Region `mars-north1`") {
		t.Fatalf("result %s: %s", res.Outcome, res.Reason)
	}
	if names := f.names(false); len(names) != 0 {
		t.Fatalf("ran %v", names)
	}
}

// A slug with a string GCP refuses in project IDs is refused before anything is made, even when
// the request did not come through the form's checks.
func TestCreateRejectsARestrictedSlug(t *testing.T) {
	env, f := newCreateEnv(t)
	env.ExecuteWorkflow(Create, createRequest("acme-ssl", spec.Production, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "must not contain `ssl`") {
		t.Fatalf("result %s: %s", res.Outcome, res.Reason)
	}
	if names := f.names(false); len(names) != 0 {
		t.Fatalf("ran %v", names)
	}
}

func TestCreateParkThenRetry(t *testing.T) {
	env, f := newCreateEnv(t)
	f.fail("EnsureSQLInstance")
	var parked Progress
	var parkedComment string
	env.RegisterDelayedCallback(func() {
		parked = progress(t, env)
		parkedComment = f.comment(statusMarker)
		f.heal("EnsureSQLInstance")
	}, time.Minute)
	var wrongStep, retry error
	decide(env, 2*time.Minute, Decision{Step: "cluster", Action: ActionRetry, By: "carol"}, &wrongStep)
	decide(env, 3*time.Minute, Decision{Step: "database", Action: ActionRetry, By: "carol"}, &retry)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if parked.Parked == nil || parked.Parked.Step != "database" || !strings.Contains(parked.Parked.Error, "EnsureSQLInstance failed") {
		t.Fatalf("while parked: %+v", parked)
	}
	if !strings.Contains(parkedComment, "Needs attention") {
		t.Fatalf("the parked status comment must ask for attention:\n%s", parkedComment)
	}
	if wrongStep == nil || !strings.Contains(wrongStep.Error(), `the parked step is "database"`) {
		t.Fatalf("a decision for a step that is not parked must be rejected, got %v", wrongStep)
	}
	if retry != nil {
		t.Fatal(retry)
	}
	if n := len(inputsOf[activities.EnsureSQLInstanceInput](f, "EnsureSQLInstance")); n != 2 {
		t.Fatalf("EnsureSQLInstance ran %d times, want 2", n)
	}
	p := res.Progress
	if i := slices.IndexFunc(p.Steps, func(s StepStatus) bool { return s.Name == "database" }); len(p.Decisions) != 1 || p.Decisions[0].By != "carol" || p.Steps[i].Runs != 2 {
		t.Fatalf("progress %+v", p)
	}
}

func TestCreateParkThenAbortUndoes(t *testing.T) {
	env, f := newCreateEnv(t)
	f.fail("EnsureBackupPlan")
	var rejected error
	decide(env, time.Minute, Decision{Step: "backup-plan", Action: ActionAbort, By: "carol", Reason: "wrong region"}, &rejected)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if rejected != nil {
		t.Fatal(rejected)
	}
	if res.Outcome != OutcomeAborted {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	names := f.names(false)
	tail := []string{"EnsureBackupPlan", "DisableSQLDeletionProtection", "DeleteSQLInstance", "DeleteCluster", "DeleteProject", "DeleteInstanceConfig"}
	if len(names) < len(tail) || !slices.Equal(names[len(names)-len(tail):], tail) {
		t.Fatalf("compensations must run in reverse: %v", names)
	}
	if slices.Contains(names, "EnsureDNS") || slices.Contains(names, "DeleteDNS") {
		t.Fatalf("steps after the failed one neither run nor undo: %v", names)
	}
	if f.config("acme") != nil {
		t.Fatal("the config must be removed by the abort")
	}
	status := f.comment(statusMarker)
	if !strings.Contains(status, "create `acme`: aborted") || !strings.Contains(status, "↩️ undone") {
		t.Fatalf("status comment:\n%s", status)
	}
	if f.comment("<!-- lifecycle:handoff:") != "" {
		t.Fatal("no hand-off for an aborted create")
	}
}

func TestCreateParkThenSkip(t *testing.T) {
	env, f := newCreateEnv(t)
	f.fail("EnsureDNS")
	var noReason, skip error
	decide(env, time.Minute, Decision{Step: "dns", Action: ActionSkip, By: "carol"}, &noReason)
	decide(env, 2*time.Minute, Decision{Step: "dns", Action: ActionSkip, By: "carol", Reason: "record made by hand in Cloudflare"}, &skip)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if noReason == nil || skip != nil {
		t.Fatalf("skip without reason: %v; with reason: %v", noReason, skip)
	}
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	status := f.comment(statusMarker)
	if !strings.Contains(status, "skipped by @carol: record made by hand in Cloudflare") || !strings.Contains(status, "succeeded") {
		t.Fatalf("status comment:\n%s", status)
	}
	if slices.Contains(f.names(false), "SetAllowlist") {
		t.Fatal("the skipped step's remaining activities must not run")
	}
}

func TestCreateWithoutIssue(t *testing.T) {
	env, f := newCreateEnv(t)
	in := createRequest("acme", spec.Trial, "")
	in.Request.Issue, in.Instance.Issue = nil, nil
	env.ExecuteWorkflow(Create, in)
	res := createResult(t, env)
	if res.Outcome != OutcomeSucceeded || res.TrialExpiresAt.IsZero() {
		t.Fatalf("result %+v", res)
	}
	if slices.Contains(f.names(true), "UpsertComment") {
		t.Fatal("no issue, no comments")
	}
}

// The hand-off promises only the reminders that will come.
func TestHandoffPromisesOnlyTheRemindersThatWillCome(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	inst := Instance{Slug: "acme", Type: spec.Trial, Domain: "acme.sourcegraphcloud.com"}
	for _, tc := range []struct {
		days int
		want string
	}{
		{30, "Reminders come on this issue 7 and 1 day(s) before."},
		{5, "A reminder comes on this issue 1 day(s) before."},
		{1, "The trial is too short for a reminder: none will come."},
	} {
		got := createHandoff(inst, "5.10.0", nil, nil, true, now.Add(time.Duration(tc.days)*24*time.Hour), []int{7, 1}, now)
		if !strings.Contains(got, tc.want) {
			t.Errorf("a %d-day trial's hand-off:\n%s\nwant %q", tc.days, got, tc.want)
		}
	}
}

// serviceDisabled makes the named activity answer as GKE does in a project whose API is not
// enabled yet, until heal.
func (f *fakeCloud) serviceDisabled(name, service string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails[name] = temporal.NewApplicationErrorWithOptions(service+" has not been used in project 100000000001 before or it is disabled (injected)",
		activities.ErrServiceDisabled, temporal.ApplicationErrorOptions{NonRetryable: true,
			Details: []any{activities.ServiceDisabledDetails{Service: service, Project: "projects/100000000001"}}})
}

// Right after the services step the APIs may still answer SERVICE_DISABLED: the step runs again
// after a wait, as on Busy, and nobody is asked.
func TestCreateWaitsForEnabledAPIsToPropagate(t *testing.T) {
	env, f := newCreateEnv(t)
	f.serviceDisabled("EnsureCluster", "container.googleapis.com")
	calls := 0
	f.onCall = func(name string, _ any) {
		if name == "EnsureCluster" {
			if calls++; calls == 4 {
				f.heal("EnsureCluster")
			}
		}
	}
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if n := len(inputsOf[activities.EnsureClusterInput](f, "EnsureCluster")); n != 5 {
		t.Fatalf("EnsureCluster ran %d times, want 4 refusals and the success", n)
	}
	p := res.Progress
	if len(p.Decisions) != 0 {
		t.Fatalf("nobody should have been asked: %+v", p.Decisions)
	}
	if i := slices.IndexFunc(p.Steps, func(s StepStatus) bool { return s.Name == "cluster" }); p.Steps[i].Runs != 1 || p.Steps[i].State != StepDone {
		t.Fatalf("cluster step %+v, want done in one run", p.Steps[i])
	}
}

// An API still disabled ten minutes after enabling is not propagation: the step parks, naming the
// API and the project; a retry after the fix runs it again.
func TestCreateParksWhenAnAPIStaysDisabled(t *testing.T) {
	env, f := newCreateEnv(t)
	f.serviceDisabled("EnsureSQLInstance", "sqladmin.googleapis.com")
	var parked Progress
	env.RegisterDelayedCallback(func() {
		parked = progress(t, env)
		f.heal("EnsureSQLInstance")
	}, 20*time.Minute)
	var retry error
	decide(env, 21*time.Minute, Decision{Step: "database", Action: ActionRetry, By: "carol"}, &retry)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, ""))
	res := createResult(t, env)
	if res.Outcome != OutcomeSucceeded || retry != nil {
		t.Fatalf("outcome %s: %s (retry: %v)", res.Outcome, res.Reason, retry)
	}
	pk := parked.Parked
	if pk == nil || pk.Step != "database" || pk.ErrorType != activities.ErrServiceDisabled ||
		!strings.Contains(pk.Error, "sqladmin.googleapis.com is still disabled in project "+res.Instance.ProjectID+" ten minutes after enabling") {
		t.Fatalf("while parked: %+v", pk)
	}
	// The refusals came about ten minutes' worth of waits apart, not one per attempt of a policy.
	n := len(inputsOf[activities.EnsureSQLInstanceInput](f, "EnsureSQLInstance"))
	if n < 5 || n > 30 {
		t.Fatalf("EnsureSQLInstance ran %d times in the ten minutes and the retry", n)
	}
	if pk.Since.Sub(createStart) < servicePropagation {
		t.Fatalf("parked at %s, before the ten minutes were up", pk.Since)
	}
}
