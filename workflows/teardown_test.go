package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// tdEnv is the fake cloud with acme running, and the operation workflows registered (those not
// yet in Workflows()).
func tdEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakeCloud) {
	t.Helper()
	env, f := newOpEnv(t)
	registered := map[string]bool{}
	for _, w := range Workflows() {
		registered[w.Name] = true
	}
	for _, w := range []Registration{
		{Name: WorkflowTeardown, Func: Teardown}, {Name: WorkflowReloadFrontend, Func: ReloadFrontend}, {Name: WorkflowSetTelemetry, Func: SetTelemetry},
		{Name: WorkflowUpdateAllowlist, Func: UpdateAllowlist}, {Name: WorkflowConvertTrial, Func: ConvertTrial},
	} {
		if !registered[w.Name] {
			env.RegisterWorkflowWithOptions(w.Func, workflow.RegisterOptions{Name: w.Name})
		}
	}
	f.putConfig(activeConfig("acme", spec.Production, "5.9.0"))
	return env, f
}

// tdRequest is a request by alice on sourcegraph/customer#42 for acme.
func tdRequest(op forms.Operation, typ spec.InstanceType) OperationInput {
	return OperationInput{
		Request: OperationRequest{Operation: op, Slug: "acme", Issue: &IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 42},
			Requester: "alice", Settings: Settings{TeardownGrace: 72 * time.Hour}},
		Instance: Instance{Slug: "acme", Type: typ, Domain: spec.DefaultDomain("acme"), Region: "us-central1", Size: spec.Small, Version: "5.9.0"},
	}
}

func tdInput() OperationInput {
	in := tdRequest(forms.OpTeardown, spec.Production)
	in.Request.Teardown = &forms.Teardown{Slug: "acme", Reason: "contract ended", Acknowledged: true}
	return in
}

// tdUpdate is what became of one Update.
type tdUpdate struct {
	sent     bool
	rejected error
	done     bool
	result   any
	err      error
}

// tdSend sends an Update at the given (workflow) time.
func tdSend(env *testsuite.TestWorkflowEnvironment, at time.Duration, name string, arg any) *tdUpdate {
	r := &tdUpdate{}
	env.RegisterDelayedCallback(func() {
		r.sent = true
		env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { r.rejected = err },
			OnComplete: func(v any, err error) { r.done, r.result, r.err = true, v, err },
		}, arg)
	}, at)
	return r
}

func tdResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) OperationResult {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res OperationResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

// tdDestructive is every teardown activity that changes the instance, in the order it must run.
// No final backups (honest-teardown): they would go with the instance minutes later.
var tdDestructive = []string{
	"ReadInstanceConfig", "ChangeInstanceConfig", // protections off
	"DisableSQLDeletionProtection",
	"DeleteGKEBackups", "DeleteBackupPlan",
	"DeleteCluster",
	"DeleteSQLInstance",
	"DeleteDNS",
	"DeleteProject",
	"DeleteInstanceConfig",
}

func TestTeardownHappyPath(t *testing.T) {
	env, f := tdEnv(t)
	start := env.Now()
	var waiting Progress
	var waitingComment string
	env.RegisterDelayedCallback(func() {
		waiting = progress(t, env)
		waitingComment = f.comment("<!-- lifecycle:status:")
	}, 30*time.Minute)
	approve := tdSend(env, time.Hour, UpdateApprove, Approval{By: "bob"})
	// Just before the grace period ends nothing has been touched.
	var beforeGraceEnd []string
	env.RegisterDelayedCallback(func() { beforeGraceEnd = f.names(false) }, time.Hour+72*time.Hour-time.Minute)
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)

	if approve.rejected != nil || !approve.done || approve.err != nil {
		t.Fatalf("bob's approval: rejected %v, done %v, err %v", approve.rejected, approve.done, approve.err)
	}
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	// While waiting, the status comment says how to approve.
	if w := waiting.Facts[tdFactWaiting]; !strings.Contains(w, "/approve") || !strings.Contains(w, "sourcegraph/cloud") || !strings.Contains(w, "@alice") {
		t.Fatalf("waiting fact %q must say who may approve and how", w)
	}
	if !strings.Contains(waitingComment, "/approve") {
		t.Fatalf("the status comment must say how to approve:\n%s", waitingComment)
	}
	if len(beforeGraceEnd) != 0 {
		t.Fatalf("nothing may change during the grace period, ran %v", beforeGraceEnd)
	}
	if elapsed := env.Now().Sub(start); elapsed < 73*time.Hour {
		t.Fatalf("the teardown took %s: the 72 h grace period after a 1 h approval wait was not waited out", elapsed)
	}
	if got := f.names(false); !slices.Equal(got, tdDestructive) {
		t.Fatalf("activities:\n got  %v\n want %v", got, tdDestructive)
	}
	for _, n := range f.names(false) {
		if n == "EnsureSQLInstance" {
			t.Fatal("teardown must never call EnsureSQLInstance: it re-enables deletion protection")
		}
	}
	// The first mutation turned both protections off.
	ch := inputsOf[activities.ChangeConfigInput](f, "ChangeInstanceConfig")
	if len(ch) != 1 || ch[0].Config.Spec.Debug.EnableAlerting || ch[0].Config.Spec.Debug.EnableDeletionProtection {
		t.Fatalf("protections-off change: %+v", ch)
	}
	if tm := inputsOf[activities.TeamMemberInput](f, "IsTeamMember"); len(tm) != 1 || tm[0] != (activities.TeamMemberInput{Org: "sourcegraph", Team: "cloud", User: "bob"}) {
		t.Fatalf("membership check: %+v", tm)
	}
	dc := inputsOf[activities.DeleteConfigInput](f, "DeleteInstanceConfig")
	if len(dc) != 1 || !strings.HasSuffix(dc[0].ChangeID, "/delete") || dc[0].Title != "acme: delete instance" || !strings.Contains(dc[0].Body, "sourcegraph/customer#42") {
		t.Fatalf("config deletion: %+v", dc)
	}
	if dns := inputsOf[activities.DeleteDNSInput](f, "DeleteDNS"); len(dns) != 1 || dns[0].Host != "acme.sourcegraphcloud.com" {
		t.Fatalf("DNS deletion: %+v", dns)
	}
	if p := inputsOf[activities.DeleteProjectInput](f, "DeleteProject"); len(p) != 1 || p[0].ProjectID != spec.ProjectID("acme") {
		t.Fatalf("project deletion: %+v", p)
	}
	if f.config("acme") != nil {
		t.Fatal("config.yaml must be removed")
	}
	if f.issue != "closed" {
		t.Fatalf("issue %s, want closed", f.issue)
	}
	if st := inputsOf[activities.IssueStateInput](f, "SetIssueState"); len(st) != 1 || st[0].StateReason != "completed" {
		t.Fatalf("issue state: %+v", st)
	}
	if res.Backups != nil {
		t.Fatalf("a teardown takes no backups, got %+v", res.Backups)
	}
	p := res.Progress
	if p.Facts[tdFactApprovedBy] != "@bob" || p.Facts[tdFactWaiting] != "" {
		t.Fatalf("facts %v", p.Facts)
	}
	if !strings.Contains(p.Facts["PR: delete instance"], "/pull/") || !strings.Contains(p.Facts["Project deleted"], "recoverable until") {
		t.Fatalf("facts %v", p.Facts)
	}
	if len(p.Steps) != 11 || p.Steps[1].Title != "Grace period (72 h), cancellable" {
		t.Fatalf("steps %+v", p.Steps)
	}
	for _, s := range p.Steps {
		if s.State != StepDone {
			t.Fatalf("step %s is %s", s.Name, s.State)
		}
	}
	if g := f.comment("<!-- lifecycle:grace:"); !strings.Contains(g, "/cancel") || !strings.Contains(g, "approved by @bob") {
		t.Fatalf("grace comment must say when and how to cancel:\n%s", g)
	}
	sum := f.comment("<!-- lifecycle:summary:")
	for _, want := range []string{"torn down", "@bob", "acme", "/pull/", spec.ProjectID("acme"), "DELETE_REQUESTED", "gcloud projects undelete " + spec.ProjectID("acme"), "Deleted for good", "reverting that pull request"} {
		if !strings.Contains(sum, want) {
			t.Fatalf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func TestTeardownApprovalRules(t *testing.T) {
	env, f := tdEnv(t)
	noBy := tdSend(env, 30*time.Minute, UpdateApprove, Approval{})
	self := tdSend(env, time.Hour, UpdateApprove, Approval{By: "alice"})
	selfAt := tdSend(env, time.Hour+time.Minute, UpdateApprove, Approval{By: "@Alice"})
	mallory := tdSend(env, 2*time.Hour, UpdateApprove, Approval{By: "mallory"})
	var afterMallory Progress
	var ranAfterMallory []string
	env.RegisterDelayedCallback(func() {
		afterMallory = progress(t, env)
		ranAfterMallory = f.names(false)
	}, 3*time.Hour)
	carol := tdSend(env, 4*time.Hour, UpdateApprove, Approval{By: "carol"})
	again := tdSend(env, 5*time.Hour, UpdateApprove, Approval{By: "bob"})
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)

	if noBy.rejected == nil {
		t.Error("an approval without a login must be rejected")
	}
	for _, r := range []*tdUpdate{self, selfAt} {
		if r.rejected == nil || !strings.Contains(r.rejected.Error(), "requester cannot approve their own teardown") ||
			!strings.Contains(r.rejected.Error(), "sourcegraph/cloud") {
			t.Errorf("the requester's own approval must be rejected naming the team, got %v", r.rejected)
		}
	}
	if mallory.rejected != nil {
		t.Fatalf("mallory's approval is accepted, then refused by the membership check: %v", mallory.rejected)
	}
	if c := f.comment("<!-- lifecycle:approval-refused:"); !strings.Contains(c, "@mallory is not in sourcegraph/cloud") {
		t.Fatalf("refusal comment:\n%s", c)
	}
	if len(ranAfterMallory) != 0 || afterMallory.Steps[0].State != StepRunning || afterMallory.Facts[tdFactWaiting] == "" {
		t.Fatalf("after a refused approval the teardown keeps waiting: ran %v, progress %+v", ranAfterMallory, afterMallory)
	}
	if carol.rejected != nil || carol.err != nil {
		t.Fatalf("carol's approval: %v %v", carol.rejected, carol.err)
	}
	if again.rejected == nil || !strings.Contains(again.rejected.Error(), "already approved by @carol") {
		t.Fatalf("a second approval must be rejected, got %v", again.rejected)
	}
	if res.Outcome != OutcomeSucceeded || res.Progress.Facts[tdFactApprovedBy] != "@carol" {
		t.Fatalf("outcome %s, facts %v", res.Outcome, res.Progress.Facts)
	}
	users := []string{}
	for _, in := range inputsOf[activities.TeamMemberInput](f, "IsTeamMember") {
		users = append(users, in.User)
	}
	if !slices.Equal(users, []string{"mallory", "carol"}) {
		t.Fatalf("membership checks %v", users)
	}
	if got := f.names(false); !slices.Equal(got, tdDestructive) {
		t.Fatalf("activities %v", got)
	}
}

func TestTeardownCancelDuringGrace(t *testing.T) {
	env, f := tdEnv(t)
	tdSend(env, time.Hour, UpdateApprove, Approval{By: "bob"})
	noBy := tdSend(env, 5*time.Hour, UpdateCancel, Approval{Reason: "oops"})
	cancel := tdSend(env, 10*time.Hour, UpdateCancel, Approval{By: "carol", Reason: "the customer renewed"})
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)

	if noBy.rejected == nil {
		t.Error("a cancel without a login must be rejected")
	}
	if cancel.rejected != nil || cancel.err != nil {
		t.Fatalf("cancel: %v %v", cancel.rejected, cancel.err)
	}
	if res.Outcome != OutcomeCancelled || res.Reason != "cancelled by @carol: the customer renewed" {
		t.Fatalf("outcome %s, reason %q", res.Outcome, res.Reason)
	}
	if got := f.names(false); len(got) != 0 {
		t.Fatalf("a cancelled teardown changes nothing, ran %v", got)
	}
	if f.config("acme") == nil || f.issue != "open" {
		t.Fatal("config.yaml and the issue must stay")
	}
	p := res.Progress
	if p.State != "cancelled" || p.Steps[0].State != StepDone || p.Steps[1].State != StepNotRun || p.Steps[10].State != StepNotRun {
		t.Fatalf("progress %+v", p)
	}
}

func TestTeardownCancelBeforeApproval(t *testing.T) {
	env, f := tdEnv(t)
	cancel := tdSend(env, time.Hour, UpdateCancel, Approval{By: "alice", Reason: "filed by mistake"})
	late := tdSend(env, 2*time.Hour, UpdateApprove, Approval{By: "bob"})
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)
	if cancel.rejected != nil {
		t.Fatal(cancel.rejected)
	}
	if res.Outcome != OutcomeCancelled || !strings.Contains(res.Reason, "@alice: filed by mistake") {
		t.Fatalf("outcome %s, reason %q", res.Outcome, res.Reason)
	}
	if late.sent && late.rejected == nil {
		t.Fatal("an approval after the cancel must not be accepted")
	}
	if got := f.names(false); len(got) != 0 || len(inputsOf[activities.TeamMemberInput](f, "IsTeamMember")) != 0 {
		t.Fatalf("ran %v", f.names(true))
	}
}

func TestTeardownCancelAfterDeletionStartedIsRejected(t *testing.T) {
	env, f := tdEnv(t)
	f.fail("DeleteCluster")
	tdSend(env, time.Hour, UpdateApprove, Approval{By: "bob"})
	cancel := tdSend(env, 80*time.Hour, UpdateCancel, Approval{By: "carol", Reason: "wait"})
	env.RegisterDelayedCallback(func() { f.heal("DeleteCluster") }, 81*time.Hour)
	var retry error
	decide(env, 81*time.Hour+time.Minute, Decision{Step: "delete-cluster", Action: ActionRetry, By: "bob"}, &retry)
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)

	if cancel.rejected == nil || !strings.Contains(cancel.rejected.Error(), "too late: deletion has started") {
		t.Fatalf("a cancel once deletion started must be rejected, got %v", cancel.rejected)
	}
	if retry != nil {
		t.Fatal(retry)
	}
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
}

func TestTeardownParkThenRetry(t *testing.T) {
	env, f := tdEnv(t)
	f.fail("DeleteCluster")
	tdSend(env, time.Hour, UpdateApprove, Approval{By: "bob"})
	var parked Progress
	var ranWhileParked []string
	env.RegisterDelayedCallback(func() {
		parked = progress(t, env)
		ranWhileParked = f.names(false)
		f.heal("DeleteCluster")
	}, 80*time.Hour)
	var retry error
	decide(env, 81*time.Hour, Decision{Step: "delete-cluster", Action: ActionRetry, By: "bob"}, &retry)
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)

	if parked.State != "parked" || parked.Parked == nil || parked.Parked.Step != "delete-cluster" || !strings.Contains(parked.Parked.Error, "DeleteCluster failed") {
		t.Fatalf("progress while parked: %+v", parked)
	}
	if last := ranWhileParked[len(ranWhileParked)-1]; last != "DeleteCluster" || slices.Contains(ranWhileParked, "DeleteSQLInstance") {
		t.Fatalf("parking must stop the teardown at the failed step: ran %v", ranWhileParked)
	}
	if retry != nil {
		t.Fatal(retry)
	}
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	want := slices.Clone(tdDestructive)
	i := slices.Index(want, "DeleteCluster")
	want = slices.Insert(want, i, "DeleteCluster")
	if got := f.names(false); !slices.Equal(got, want) {
		t.Fatalf("activities:\n got  %v\n want %v", got, want)
	}
	if s := res.Progress.Steps[5]; s.Name != "delete-cluster" || s.Runs != 2 || s.State != StepDone {
		t.Fatalf("step %+v", s)
	}
	if f.issue != "closed" {
		t.Fatal("issue must be closed")
	}
}

func TestTeardownAbortOnlyUndoesTheConfigChange(t *testing.T) {
	env, f := tdEnv(t)
	f.fail("DeleteCluster")
	tdSend(env, time.Hour, UpdateApprove, Approval{By: "bob"})
	var abort error
	decide(env, 80*time.Hour, Decision{Step: "delete-cluster", Action: ActionAbort, By: "bob", Reason: "stop"}, &abort)
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)
	if abort != nil {
		t.Fatal(abort)
	}
	if res.Outcome != OutcomeAborted {
		t.Fatalf("outcome %s", res.Outcome)
	}
	c := f.config("acme")
	if c == nil || !c.Spec.Debug.EnableAlerting || !c.Spec.Debug.EnableDeletionProtection {
		t.Fatalf("the abort must turn the protections back on: %+v", c)
	}
	got := f.names(false)
	if tail := got[len(got)-2:]; !slices.Equal(tail, []string{"ReadInstanceConfig", "ChangeInstanceConfig"}) {
		t.Fatalf("the only compensation is the config change, ran %v", got)
	}
	if s := res.Progress.Steps[2]; s.State != StepCompensated {
		t.Fatalf("alerting-off %s", s.State)
	}
}

func TestTeardownRejectsABadApproverTeam(t *testing.T) {
	env, f := tdEnv(t)
	in := tdInput()
	in.Request.Settings.ApproverTeam = "cloud"
	env.ExecuteWorkflow("Teardown", in)
	res := tdResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "approverTeam") {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if got := f.names(false); len(got) != 0 {
		t.Fatalf("ran %v", got)
	}
}

// Who decided and why goes on the issue: the approval's reason on the grace comment and the
// status comment, the cancellation's in place of "Deletion starts", and a cancel needs a reason.
func TestTeardownDecisionsRecordWhoAndWhy(t *testing.T) {
	env, f := tdEnv(t)
	tdSend(env, time.Hour, UpdateApprove, Approval{By: "bob", Reason: "contract ended 2026-11-30"})
	noReason := tdSend(env, 5*time.Hour, UpdateCancel, Approval{By: "carol"})
	var during string
	env.RegisterDelayedCallback(func() { during = f.comment("<!-- lifecycle:status:") }, 6*time.Hour)
	cancel := tdSend(env, 10*time.Hour, UpdateCancel, Approval{By: "carol", Reason: "the customer renewed"})
	env.ExecuteWorkflow("Teardown", tdInput())
	res := tdResult(t, env)

	if noReason.rejected == nil || !strings.Contains(noReason.rejected.Error(), "reason") {
		t.Errorf("a cancel without a reason must be rejected, naming the reason: %v", noReason.rejected)
	}
	if cancel.rejected != nil || res.Outcome != OutcomeCancelled {
		t.Fatalf("cancel: %v, outcome %s", cancel.rejected, res.Outcome)
	}
	if g := f.comment("<!-- lifecycle:grace:"); !strings.Contains(g, "contract ended 2026-11-30") {
		t.Errorf("the grace comment does not give the approval's reason:\n%s", g)
	}
	if !strings.Contains(during, "@bob: contract ended 2026-11-30") {
		t.Errorf("the status comment during the grace period does not give who approved and why:\n%s", during)
	}
	st := f.comment("<!-- lifecycle:status:")
	if strings.Contains(st, "Deletion starts") {
		t.Errorf("after the cancel the status comment still says deletion starts:\n%s", st)
	}
	if !strings.Contains(st, "@carol: the customer renewed") {
		t.Errorf("the status comment does not say who cancelled and why:\n%s", st)
	}
}
