package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// script records which fake activities ran and fails the ones told to.
type script struct {
	mu    sync.Mutex
	ran   []string
	fails map[string]int // name -> how many more times to fail
}

func (s *script) act(name string) func(context.Context) error {
	return func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ran = append(s.ran, name)
		if s.fails[name] > 0 {
			s.fails[name]--
			return temporal.NewNonRetryableApplicationError(name+" broke", "Boom", nil)
		}
		return nil
	}
}

func (s *script) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.ran, ",")
}

// runnerWorkflow runs three steps a, b, c; a and b have undo activities.
func runnerWorkflow(ctx workflow.Context) (string, error) {
	return runnerWorkflowAt(ctx, CurrentRevision)
}

// runnerWorkflowRev2 is runnerWorkflow as a run started at revision 2 runs it.
func runnerWorkflowRev2(ctx workflow.Context) (string, error) {
	return runnerWorkflowAt(ctx, RevisionHistoryBudget)
}

func runnerWorkflowAt(ctx workflow.Context, rev int) (string, error) {
	ctx = withRevision(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute}), rev)
	call := func(name string) func(workflow.Context) error {
		return func(ctx workflow.Context) error { return workflow.ExecuteActivity(ctx, name).Get(ctx, nil) }
	}
	steps := []Step{
		{Name: "a", Title: "Step A", Run: call("a"), Undo: call("undo-a")},
		{Name: "b", Title: "Step B", Run: call("b"), Undo: call("undo-b")},
		{Name: "c", Title: "Step C", Run: call("c")},
	}
	r, err := NewRunner(ctx, "test", "acme", nil, steps)
	if err != nil {
		return "", err
	}
	err = r.Run(ctx, steps)
	if errors.Is(err, ErrAborted) {
		return "aborted", nil
	}
	if err != nil {
		return "", err
	}
	return "succeeded", nil
}

func newRunnerEnv(t *testing.T, fails map[string]int) (*testsuite.TestWorkflowEnvironment, *script) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	sc := &script{fails: fails}
	for _, n := range []string{"a", "b", "c", "undo-a", "undo-b"} {
		env.RegisterActivityWithOptions(sc.act(n), activity.RegisterOptions{Name: n})
	}
	env.RegisterWorkflow(runnerWorkflow)
	env.RegisterWorkflow(runnerWorkflowRev2)
	return env, sc
}

// decide sends a decision at the given (workflow) time and records whether it was rejected.
func decide(env *testsuite.TestWorkflowEnvironment, at time.Duration, d Decision, rejected *error) {
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(UpdateDecide, "", &testsuite.TestUpdateCallback{
			OnAccept:   func() {},
			OnReject:   func(err error) { *rejected = err },
			OnComplete: func(any, error) {},
		}, d)
	}, at)
}

func progress(t *testing.T, env *testsuite.TestWorkflowEnvironment) Progress {
	t.Helper()
	v, err := env.QueryWorkflow(QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunnerRunsStepsInOrder(t *testing.T) {
	env, sc := newRunnerEnv(t, nil)
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "succeeded" {
		t.Fatalf("result %q, %v", out, err)
	}
	if got := sc.log(); got != "a,b,c" {
		t.Fatalf("ran %s", got)
	}
	p := progress(t, env)
	if p.State != "succeeded" || p.Steps[2].State != StepDone {
		t.Fatalf("progress %+v", p)
	}
}

func TestParkThenRetry(t *testing.T) {
	env, sc := newRunnerEnv(t, map[string]int{"b": 1})
	var parked Progress
	env.RegisterDelayedCallback(func() { parked = progress(t, env) }, time.Hour)
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "b", Action: "retry", By: "bob"}, &rejected)
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "succeeded" {
		t.Fatalf("result %q, %v", out, err)
	}
	if rejected != nil {
		t.Fatalf("retry rejected: %v", rejected)
	}
	if parked.State != "parked" || parked.Parked == nil || parked.Parked.Step != "b" || !strings.Contains(parked.Parked.Error, "b broke") {
		t.Fatalf("while parked, progress must show the parked step and error: %+v", parked)
	}
	if !strings.Contains(RenderProgress(parked, ""), "/retry") {
		t.Fatal("the parked checklist must tell people the commands")
	}
	if got := sc.log(); got != "a,b,b,c" {
		t.Fatalf("ran %s", got)
	}
	p := progress(t, env)
	if p.Steps[1].Runs != 2 || len(p.Decisions) != 1 || p.Decisions[0].By != "bob" {
		t.Fatalf("progress %+v", p)
	}
}

func TestParkThenSkipNeedsAReason(t *testing.T) {
	env, sc := newRunnerEnv(t, map[string]int{"b": 1})
	var noReason, ok error
	decide(env, time.Hour, Decision{Step: "b", Action: "skip", By: "bob"}, &noReason)
	decide(env, 2*time.Hour, Decision{Step: "b", Action: "skip", By: "bob", Reason: "done by hand"}, &ok)
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "succeeded" {
		t.Fatalf("result %q, %v", out, err)
	}
	if noReason == nil || !strings.Contains(noReason.Error(), "reason") {
		t.Fatalf("a skip without a reason must be rejected, got %v", noReason)
	}
	if ok != nil {
		t.Fatal(ok)
	}
	if got := sc.log(); got != "a,b,c" {
		t.Fatalf("ran %s", got)
	}
	p := progress(t, env)
	if p.Steps[1].State != StepSkipped || !strings.Contains(p.Steps[1].Note, "done by hand") {
		t.Fatalf("progress %+v", p.Steps[1])
	}
}

func TestParkThenAbortRunsCompensationsInReverse(t *testing.T) {
	env, sc := newRunnerEnv(t, map[string]int{"c": 1})
	var rejected error
	decide(env, time.Hour, Decision{Step: "c", Action: "abort", By: "carol"}, &rejected)
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "aborted" {
		t.Fatalf("result %q, %v", out, err)
	}
	if got := sc.log(); got != "a,b,c,undo-b,undo-a" {
		t.Fatalf("abort must undo completed steps in reverse: ran %s", got)
	}
	p := progress(t, env)
	if p.State != "aborted" || p.Steps[0].State != StepCompensated || p.Steps[1].State != StepCompensated || p.Steps[2].State != StepNotRun {
		t.Fatalf("progress %+v", p)
	}
}

// A step that failed half-way (DNS record made, allowlist not) is undone too, first.
func TestAbortUndoesTheFailedStepToo(t *testing.T) {
	env, sc := newRunnerEnv(t, map[string]int{"b": 1})
	var rejected error
	decide(env, time.Hour, Decision{Step: "b", Action: "abort", By: "carol"}, &rejected)
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "aborted" || rejected != nil {
		t.Fatalf("result %q, %v (decision rejected: %v)", out, err, rejected)
	}
	if got := sc.log(); got != "a,b,undo-b,undo-a" {
		t.Fatalf("abort must undo the failed step, then the completed ones in reverse: ran %s", got)
	}
	p := progress(t, env)
	if p.State != "aborted" || p.Steps[0].State != StepCompensated || p.Steps[1].State != StepCompensated || p.Steps[2].State != StepNotRun {
		t.Fatalf("progress %+v", p)
	}
}

// A run started before RevisionCorrectness replays the abort it made: no undo of the failed step.
func TestAbortBeforeRevision3LeavesTheFailedStep(t *testing.T) {
	env, sc := newRunnerEnv(t, map[string]int{"b": 1})
	var rejected error
	decide(env, time.Hour, Decision{Step: "b", Action: "abort", By: "carol"}, &rejected)
	env.ExecuteWorkflow(runnerWorkflowRev2)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "aborted" {
		t.Fatalf("result %q, %v", out, err)
	}
	if got := sc.log(); got != "a,b,undo-a" {
		t.Fatalf("ran %s", got)
	}
}

// The failed step's own undo can fail too: it parks like any compensation.
func TestFailingUndoOfTheFailedStepParks(t *testing.T) {
	env, sc := newRunnerEnv(t, map[string]int{"b": 1, "undo-b": 1})
	var abort, retry error
	decide(env, time.Hour, Decision{Step: "b", Action: "abort", By: "carol"}, &abort)
	decide(env, 2*time.Hour, Decision{Step: "b", Action: "retry", By: "carol"}, &retry)
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "aborted" || abort != nil || retry != nil {
		t.Fatalf("result %q, %v (abort %v, retry %v)", out, err, abort, retry)
	}
	if got := sc.log(); got != "a,b,undo-b,undo-b,undo-a" {
		t.Fatalf("ran %s", got)
	}
}

func TestFailingCompensationParksAndOffersNoAbort(t *testing.T) {
	env, sc := newRunnerEnv(t, map[string]int{"c": 1, "undo-a": 1})
	var abort1, abort2, retry error
	decide(env, time.Hour, Decision{Step: "c", Action: "abort", By: "carol"}, &abort1)
	decide(env, 2*time.Hour, Decision{Step: "a", Action: "abort", By: "carol"}, &abort2)
	decide(env, 3*time.Hour, Decision{Step: "a", Action: "retry", By: "carol"}, &retry)
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "aborted" {
		t.Fatalf("result %q, %v", out, err)
	}
	if abort1 != nil || retry != nil {
		t.Fatal(abort1, retry)
	}
	if abort2 == nil || !strings.Contains(abort2.Error(), "already aborting") {
		t.Fatalf("abort during compensation must be rejected, got %v", abort2)
	}
	if got := sc.log(); got != "a,b,c,undo-b,undo-a,undo-a" {
		t.Fatalf("ran %s", got)
	}
}

func TestDecisionsForStepsThatAreNotParkedAreRejected(t *testing.T) {
	env, _ := newRunnerEnv(t, map[string]int{"b": 1})
	var wrongStep, noBy, badAction, ok error
	decide(env, time.Hour, Decision{Step: "a", Action: "retry", By: "bob"}, &wrongStep)
	decide(env, time.Hour+time.Minute, Decision{Step: "b", Action: "retry"}, &noBy)
	decide(env, time.Hour+2*time.Minute, Decision{Step: "b", Action: "yolo", By: "bob"}, &badAction)
	decide(env, 2*time.Hour, Decision{Step: "b", Action: "retry", By: "bob"}, &ok)
	env.ExecuteWorkflow(runnerWorkflow)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{"wrong step": wrongStep, "no by": noBy, "bad action": badAction} {
		if err == nil {
			t.Errorf("%s: want rejection", name)
		}
	}
	if wrongStep != nil && !strings.Contains(wrongStep.Error(), `the parked step is "b"`) {
		t.Errorf("the rejection should name the parked step: %v", wrongStep)
	}
	if ok != nil {
		t.Fatal(ok)
	}
	// After the run, nothing is parked: any decision is rejected.
	var late error
	env2, _ := newRunnerEnv(t, nil)
	decide(env2, 0, Decision{Step: "a", Action: "retry", By: "bob"}, &late)
	env2.ExecuteWorkflow(runnerWorkflow)
	if late == nil || !strings.Contains(late.Error(), "no step is parked") {
		t.Fatalf("want 'no step is parked', got %v", late)
	}
}

// A parked step names itself in the AttentionReason search attribute (a Web UI list column), with
// the error's type and the commands but not its message (search attributes are not encrypted);
// the decision clears it.
func TestParkSetsAndClearsTheAttentionReason(t *testing.T) {
	env, _ := newRunnerEnv(t, map[string]int{"b": 1})
	var mu sync.Mutex
	var reasons []string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		for k, v := range sa.GetUntypedValues() {
			if k.GetName() == SAAttentionReason.GetName() {
				mu.Lock()
				reasons = append(reasons, fmt.Sprint(v))
				mu.Unlock()
			}
		}
	}).Return(nil)
	var rejected error
	decide(env, 2*time.Hour, Decision{Step: "b", Action: "retry", By: "bob"}, &rejected)
	env.ExecuteWorkflow(runnerWorkflow)
	if err := env.GetWorkflowResult(nil); err != nil || rejected != nil {
		t.Fatalf("result %v, rejected %v", err, rejected)
	}
	if len(reasons) != 2 {
		t.Fatalf("AttentionReason upserts %q; want one set at the park, one clear at the decision", reasons)
	}
	if r := reasons[0]; !strings.Contains(r, "step b") || !strings.Contains(r, "Boom") || strings.Contains(r, "broke") {
		t.Errorf("reason while parked %q: want the step and the error type, not the message", r)
	}
	if reasons[1] != "" {
		t.Errorf("reason after the decision %q, want it cleared", reasons[1])
	}
}

// A request the workflow's own checks rejected says, on its status comment, that editing the
// issue's form asks again (the starter takes a changed form as the next attempt).
func TestRejectedProgressSaysHowToFixIt(t *testing.T) {
	is := &IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 7}
	got := RenderProgress(Progress{Operation: "create", Slug: "acme", Issue: is, State: "rejected: release 9.9.9 does not exist"}, "")
	if !strings.Contains(got, "edit the form") || !strings.Contains(got, "checked again") {
		t.Errorf("a rejection does not say how to fix it:\n%s", got)
	}
	if got := RenderProgress(Progress{Operation: "create", Slug: "acme", Issue: is, State: "succeeded"}, ""); strings.Contains(got, "edit the form") {
		t.Errorf("a success talks about fixing:\n%s", got)
	}
}

// A step retried again and again keeps its last maxDecisions decisions and counts the rest.
func TestRunnerDecisionLogIsCapped(t *testing.T) {
	n := maxDecisions + 5
	env, sc := newRunnerEnv(t, map[string]int{"b": n})
	rejected := make([]error, n)
	for i := range n {
		decide(env, time.Duration(i+1)*time.Hour, Decision{Step: "b", Action: "retry", By: "carol", Reason: fmt.Sprint(i)}, &rejected[i])
	}
	env.ExecuteWorkflow(runnerWorkflow)
	var out string
	if err := env.GetWorkflowResult(&out); err != nil || out != "succeeded" {
		t.Fatalf("result %q, %v", out, err)
	}
	for i, err := range rejected {
		if err != nil {
			t.Fatalf("retry %d rejected: %v", i, err)
		}
	}
	if got := strings.Count(sc.log(), "b"); got != n+1 {
		t.Fatalf("b ran %d times, want %d", got, n+1)
	}
	p := progress(t, env)
	if len(p.Decisions) != maxDecisions || p.EarlierDecisions != n-maxDecisions || p.Decisions[maxDecisions-1].Reason != fmt.Sprint(n-1) {
		t.Fatalf("%d decisions kept (last %+v), %d earlier; want %d and %d", len(p.Decisions), p.Decisions[len(p.Decisions)-1], p.EarlierDecisions, maxDecisions, n-maxDecisions)
	}
}
