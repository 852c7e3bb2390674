package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The entity tests replace the operation workflows with stand-ins that take an hour and end with
// a chosen outcome: what is under test is the entity's state machine, conflicts and clocks. The
// operations themselves have their own tests.

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) // a Monday

type entityTest struct {
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	f        *fakeCloud
	outcomes map[string]Outcome // child workflow type → outcome (default succeeded)
	fails    map[string]int     // child workflow type → how many runs fail outright (an error, no result)
	started  []string           // child workflow IDs, in start order
	rejected map[string]string  // update ID → rejection
	dups     map[string]bool    // update ID → rejected as a duplicate (by the error's type)
	// revisions are the children's input revisions and LifecycleRevision search attributes.
	revisions, revisionSAs []int64
	// rev is the entity's input revision (CurrentRevision, as the starter sends).
	rev      int
	accepted map[string]RequestAccepted
	ids      []string
}

func newEntityTest(t *testing.T) *entityTest {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	h := &entityTest{t: t, env: env, f: newFakeCloud(), outcomes: map[string]Outcome{}, fails: map[string]int{}, rejected: map[string]string{},
		dups: map[string]bool{}, accepted: map[string]RequestAccepted{}, rev: CurrentRevision}
	h.f.register(env)
	env.RegisterWorkflow(InstanceLifecycle)
	for _, name := range []string{"Create", "Suspend", "Resume", "Teardown", "ConvertTrial", "UpdateAllowlist", "ReloadFrontend", "SetTelemetry"} {
		env.RegisterWorkflowWithOptions(h.standIn(name), workflow.RegisterOptions{Name: name})
	}
	return h
}

// standIn is an operation that takes an hour.
func (h *entityTest) standIn(name string) func(workflow.Context, OperationInput) (OperationResult, error) {
	return func(ctx workflow.Context, in OperationInput) (OperationResult, error) {
		h.started = append(h.started, workflow.GetInfo(ctx).WorkflowExecution.ID)
		sa, _ := workflow.GetTypedSearchAttributes(ctx).GetInt64(SARevision)
		h.revisions, h.revisionSAs = append(h.revisions, int64(in.Revision)), append(h.revisionSAs, sa)
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return OperationResult{}, err
		}
		res := OperationResult{Outcome: OutcomeSucceeded, Instance: in.Instance}
		if h.fails[name] > 0 {
			h.fails[name]--
			return res, temporal.NewNonRetryableApplicationError("stand-in failed outright", "Bug", nil)
		}
		if o, ok := h.outcomes[name]; ok {
			res.Outcome = o
		}
		switch name {
		case "Create":
			if res.Instance.Version == "" {
				res.Instance.Version = "5.10.0"
			}
			if in.Instance.Type == spec.Trial {
				res.TrialExpiresAt = workflow.Now(ctx).Add(time.Duration(in.Request.Settings.WithDefaults().TrialDays) * 24 * time.Hour)
			}
		case "Suspend":
			res.Backups = &BackupRecord{SQLBackupRunID: 7, GKEBackup: "suspend-1", TakenAt: workflow.Now(ctx)}
		case "ConvertTrial":
			res.Instance.Type = spec.Production
		}
		return res, nil
	}
}

func issue(n int) *IssueRef { return &IssueRef{Owner: "sourcegraph", Repo: "customer", Number: n} }

func createReq(n int, typ spec.InstanceType) OperationRequest {
	return OperationRequest{Operation: forms.OpCreate, Slug: "acme", Issue: issue(n), Requester: "alice", RequestedAt: t0,
		Create: &forms.NewInstance{Customer: "Acme", Slug: "acme", Domain: "acme.sourcegraphcloud.com", Type: typ, Size: spec.Small,
			Region: "us-central1", AdminEmail: "admin@acme.com"}}
}

func opReq(op forms.Operation, n int) OperationRequest {
	r := OperationRequest{Operation: op, Slug: "acme", Issue: issue(n), Requester: "alice", RequestedAt: t0}
	switch op {
	case forms.OpSuspend:
		r.Suspend = &forms.Suspend{Slug: "acme", Reason: "budget"}
	case forms.OpResume:
		r.Resume = &forms.Resume{Slug: "acme"}
	case forms.OpTeardown:
		r.Teardown = &forms.Teardown{Slug: "acme", Reason: "churned", Acknowledged: true}
	case forms.OpConvertTrial:
		r.ConvertTrial = &forms.ConvertTrial{Slug: "acme", AgreementDate: "2026-12-01"}
	case forms.OpReloadFrontend:
		r.Reload = &forms.ReloadFrontend{Slug: "acme"}
	}
	return r
}

func extendReq(n, days int) OperationRequest {
	r := opReq(forms.OpExtendTrial, n)
	r.ExtendTrial = &forms.ExtendTrial{Slug: "acme", Days: days, Reason: "evaluation"}
	return r
}

// request sends a request at a workflow time; its answer lands in accepted or rejected.
func (h *entityTest) request(at time.Duration, req OperationRequest) string {
	// Each call gets its own update ID: the duplicate-issue check is the entity's, not Temporal's
	// update-ID deduplication.
	id := fmt.Sprintf("%s/%s/%d", IssueKey(*req.Issue), req.Operation, len(h.ids))
	h.ids = append(h.ids, id)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(UpdateRequest, id, &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) {
				h.rejected[id] = err.Error()
				var app *temporal.ApplicationError
				h.dups[id] = errors.As(err, &app) && app.Type() == ErrTypeDuplicateRequest
			},
			OnComplete: func(v any, err error) {
				if err != nil {
					h.rejected[id] = err.Error()
					return
				}
				h.accepted[id] = v.(RequestAccepted)
			},
		}, req)
	}, at)
	return id
}

// at runs check against the record at a workflow time.
func (h *entityTest) at(at time.Duration, check func(InstanceRecord)) {
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(QueryInstance)
		if err != nil {
			h.t.Errorf("query at %v: %v", at, err)
			return
		}
		var r InstanceRecord
		if err := v.Get(&r); err != nil {
			h.t.Fatal(err)
		}
		check(r)
	}, at)
}

// run executes the entity; stop cancels it (an instance otherwise lives forever).
func (h *entityTest) run(stop time.Duration) InstanceRecord {
	if stop > 0 {
		h.env.RegisterDelayedCallback(h.env.CancelWorkflow, stop)
	}
	h.env.ExecuteWorkflow(InstanceLifecycle, InstanceInput{Record: InstanceRecord{Instance: Instance{Slug: "acme"}}, Revision: h.rev})
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("entity workflow did not complete")
	}
	var r InstanceRecord
	if stop == 0 {
		if err := h.env.GetWorkflowResult(&r); err != nil {
			h.t.Fatal(err)
		}
	}
	return r
}

func wantState(t *testing.T, r InstanceRecord, want InstanceState) {
	t.Helper()
	if r.State != want {
		t.Errorf("state %q, want %q (record %+v)", r.State, want, r)
	}
}

func TestInstanceLifecycleRunsOneOperationAtATime(t *testing.T) {
	h := newEntityTest(t)
	first := createReq(1, spec.Production)
	first.RequestID = "delivery-1"
	create := h.request(time.Second, first)
	h.at(time.Minute, func(r InstanceRecord) {
		wantState(t, r, StateProvisioning)
		if r.Current == nil || r.Current.WorkflowID != "create/acme/sourcegraph/customer/1" {
			t.Errorf("current operation %+v", r.Current)
		}
	})
	conflict := h.request(2*time.Minute, opReq(forms.OpSuspend, 2))
	againReq := createReq(3, spec.Production)
	againReq.Settings.WebUI = "http://ui.test/namespaces/default/workflows"
	again := h.request(3*time.Minute, againReq)
	dup := h.request(4*time.Minute, createReq(1, spec.Production))
	h.at(2*time.Hour, func(r InstanceRecord) { wantState(t, r, StateActive) })
	existing := h.request(2*time.Hour, createReq(4, spec.Production))
	resume := h.request(2*time.Hour+time.Minute, opReq(forms.OpResume, 5))
	extend := h.request(2*time.Hour+2*time.Minute, extendReq(6, 5))
	suspend := h.request(3*time.Hour, opReq(forms.OpSuspend, 7))
	reload := h.request(3*time.Hour+time.Minute, opReq(forms.OpReloadFrontend, 8))
	h.at(5*time.Hour, func(r InstanceRecord) {
		wantState(t, r, StateSuspended)
		if r.Backups == nil || r.Backups.SQLBackupRunID != 7 {
			t.Errorf("suspend's backups not recorded: %+v", r.Backups)
		}
	})
	suspendAgain := h.request(5*time.Hour, opReq(forms.OpSuspend, 9))
	reloadSuspended := h.request(5*time.Hour+time.Minute, opReq(forms.OpReloadFrontend, 10))
	h.request(6*time.Hour, opReq(forms.OpResume, 11))
	h.request(8*time.Hour, opReq(forms.OpTeardown, 12))
	h.at(8*time.Hour+time.Minute, func(r InstanceRecord) { wantState(t, r, StateTearingDown) })
	r := h.run(0)

	if a, ok := h.accepted[create]; !ok || a.RequestID != "delivery-1" {
		t.Fatalf("create not accepted, or its answer does not echo its RequestID: %+v %v", a, h.rejected[create])
	}
	for id, want := range map[string]string{
		conflict: "`suspend` cannot start: `create` is running for `acme`",
		// A second create of the slug while the first runs: what is true, with the other request's
		// issue and run, not "file it again" (a refiled create would be told the instance exists).
		again: "Another request for `acme` is running: the create requested by @alice on sourcegraph/customer#1 " +
			"([create/acme/sourcegraph/customer/1](http://ui.test/namespaces/default/workflows/create%2Facme%2Fsourcegraph%2Fcustomer%2F1)).",
		dup:             "sourcegraph/customer#1 already started create for `acme`",
		existing:        "instance `acme` already exists (active)",
		resume:          "`acme` is active, not suspended",
		extend:          "`acme` is a production instance, not a trial",
		reload:          "`reload-frontend` cannot start: `suspend` is running",
		suspendAgain:    "`acme` is already suspended",
		reloadSuspended: "`reload-frontend` needs the instance to be active, and `acme` is suspended",
	} {
		if got := h.rejected[id]; !strings.Contains(got, want) {
			t.Errorf("request %s: rejection %q, want it to contain %q", id, got, want)
		}
	}
	for id := range h.rejected {
		if h.dups[id] != (id == dup) {
			t.Errorf("request %s: rejected as a duplicate: %v, want %v (%q)", id, h.dups[id], id == dup, h.rejected[id])
		}
	}
	if got := h.rejected[again]; strings.Contains(got, "file the request again") {
		t.Errorf("a concurrent create must not be told to file again: %q", got)
	}
	if _, ok := h.accepted[suspend]; !ok {
		t.Errorf("suspend not accepted: %v", h.rejected[suspend])
	}
	wantStarted := []string{"create/acme/sourcegraph/customer/1", "suspend/acme/sourcegraph/customer/7",
		"resume/acme/sourcegraph/customer/11", "teardown/acme/sourcegraph/customer/12"}
	if strings.Join(h.started, " ") != strings.Join(wantStarted, " ") {
		t.Errorf("operations started %v, want %v", h.started, wantStarted)
	}
	wantState(t, r, StateDeleted)
	if r.Instance.Version != "5.10.0" || len(r.History) != 4 {
		t.Errorf("tombstone %+v", r)
	}
}

func TestInstanceLifecycleAbortedCreateLeavesNoInstance(t *testing.T) {
	h := newEntityTest(t)
	h.outcomes["Create"] = OutcomeAborted
	h.request(time.Second, createReq(1, spec.Production))
	r := h.run(0)
	wantState(t, r, StateNone)
	if len(r.History) != 1 || r.History[0].Outcome != OutcomeAborted {
		t.Errorf("history %+v", r.History)
	}
}

func TestInstanceLifecycleCancelledTeardownKeepsInstance(t *testing.T) {
	h := newEntityTest(t)
	h.outcomes["Teardown"] = OutcomeCancelled
	h.request(time.Second, createReq(1, spec.Production))
	h.request(2*time.Hour, opReq(forms.OpTeardown, 2))
	h.at(4*time.Hour, func(r InstanceRecord) {
		wantState(t, r, StateActive)
		if r.Current != nil {
			t.Errorf("still running %+v", r.Current)
		}
	})
	h.run(5 * time.Hour)
}

const day = 24 * time.Hour

func TestTrialRemindsThenSuspendsAtExpiry(t *testing.T) {
	h := newEntityTest(t)
	h.request(time.Second, createReq(1, spec.Trial))
	// Create ends at +1h: the trial expires at +30d+1h.
	h.at(2*time.Hour, func(r InstanceRecord) {
		if r.Trial == nil || !r.Trial.ExpiresAt.Equal(t0.Add(30*day+time.Hour+time.Second)) {
			t.Errorf("trial clock %+v", r.Trial)
		}
	})
	h.at(23*day, func(InstanceRecord) {
		if h.f.comment("<!-- lifecycle:trial-reminder-7") != "" {
			t.Error("7-day reminder sent early")
		}
	})
	h.at(23*day+2*time.Hour, func(r InstanceRecord) {
		if !strings.Contains(h.f.comment("<!-- lifecycle:trial-reminder-7"), "Trial ends in 7 day(s)") {
			t.Errorf("no 7-day reminder; comments:\n%s", h.f.allComments())
		}
	})
	h.at(29*day+2*time.Hour, func(r InstanceRecord) {
		if h.f.comment("<!-- lifecycle:trial-reminder-1") == "" {
			t.Error("no 1-day reminder")
		}
		wantState(t, r, StateActive)
	})
	h.at(30*day+90*time.Minute, func(r InstanceRecord) { wantState(t, r, StateSuspending) })
	h.at(31*day, func(r InstanceRecord) {
		wantState(t, r, StateSuspended)
		if r.Trial == nil || !r.Trial.Expired {
			t.Errorf("trial not marked expired: %+v", r.Trial)
		}
	})
	h.run(32 * day)
	if len(h.started) != 2 || !strings.HasPrefix(h.started[1], "suspend/acme/trial-expired-") {
		t.Errorf("operations %v, want create then the expiry suspension", h.started)
	}
}

func TestTrialExtendMovesTheExpiry(t *testing.T) {
	h := newEntityTest(t)
	h.request(time.Second, createReq(1, spec.Trial))
	// After both reminders went out (days 23 and 29), 3 more days: the new expiry is day 33, so
	// its 7-day reminder (day 26) is already past and must not be sent late; its 1-day one is.
	ext := h.request(29*day+2*time.Hour, extendReq(2, 3))
	h.at(31*day, func(r InstanceRecord) {
		wantState(t, r, StateActive)
		if r.Trial == nil || !r.Trial.ExpiresAt.Equal(t0.Add(33*day+time.Hour+time.Second)) {
			t.Errorf("trial clock after extend %+v", r.Trial)
		}
		if !strings.Contains(h.f.allComments(), "Trial extended") {
			t.Error("extension not acknowledged on the issue")
		}
	})
	h.at(33*day, func(r InstanceRecord) { wantState(t, r, StateActive) })
	h.at(34*day, func(r InstanceRecord) { wantState(t, r, StateSuspended) })
	h.run(35 * day)
	if h.rejected[ext] != "" {
		t.Fatalf("extend rejected: %s", h.rejected[ext])
	}
	all := h.f.allComments()
	if n7, n1 := strings.Count(all, "Trial ends in 7 day(s)"), strings.Count(all, "Trial ends in 1 day(s)"); n7 != 1 || n1 != 2 {
		t.Errorf("reminders: %d × 7-day, %d × 1-day; want 1 and 2 (one per expiry date)", n7, n1)
	}
	if len(h.started) != 2 {
		t.Errorf("operations %v", h.started)
	}
}

func TestTrialConvertCancelsTheExpiry(t *testing.T) {
	h := newEntityTest(t)
	h.request(time.Second, createReq(1, spec.Trial))
	h.request(10*day, opReq(forms.OpConvertTrial, 2))
	h.at(60*day, func(r InstanceRecord) {
		wantState(t, r, StateActive)
		if r.Trial != nil || r.Instance.Type != spec.Production {
			t.Errorf("converted instance %+v trial %+v", r.Instance, r.Trial)
		}
	})
	h.run(61 * day)
	if len(h.started) != 2 || !strings.HasPrefix(h.started[1], "convert-trial/") {
		t.Errorf("operations %v: no expiry suspension after converting", h.started)
	}
	if strings.Contains(h.f.allComments(), "Trial ends") {
		t.Error("a converted instance got a trial reminder")
	}
}

func TestSuspensionWarnsBeforeBackupsExpire(t *testing.T) {
	h := newEntityTest(t)
	h.request(time.Second, createReq(1, spec.Production))
	h.request(2*time.Hour, opReq(forms.OpSuspend, 2))
	h.at(80*day, func(InstanceRecord) {
		if h.f.comment("<!-- lifecycle:retention-warning") != "" {
			t.Error("retention warning too early")
		}
	})
	h.at(84*day, func(r InstanceRecord) {
		body := h.f.comment("<!-- lifecycle:retention-warning")
		if !strings.Contains(body, "outlive its backups") || !strings.Contains(body, "Cloud SQL run 7") {
			t.Errorf("retention warning %q", body)
		}
		if !r.RetentionWarned {
			t.Error("record does not note the warning")
		}
	})
	h.run(85 * day)
	warnings := inputsOf[any](h.f, "UpsertComment")
	if len(warnings) != 1 {
		t.Errorf("%d comments, want exactly the one retention warning", len(warnings))
	}
}

func TestInstanceLifecycleUpgradesOnlyAnActiveInstance(t *testing.T) {
	h := newEntityTest(t)
	var asked []UpgradeRequest
	h.hourUpgrade(func(ctx workflow.Context, in OperationInput) {
		h.started = append(h.started, workflow.GetInfo(ctx).WorkflowExecution.ID)
		sa, _ := workflow.GetTypedSearchAttributes(ctx).GetInt64(SARevision)
		h.revisions, h.revisionSAs = append(h.revisions, int64(in.Revision)), append(h.revisionSAs, sa)
		asked = append(asked, *in.Request.Upgrade)
	})
	upgrade := func(n int, version string) OperationRequest {
		r := opReq(forms.OpUpgrade, n)
		r.Upgrade = &UpgradeRequest{Version: version}
		return r
	}
	h.request(time.Second, createReq(1, spec.Production)) // active at 5.10.0 after an hour
	up := h.request(2*time.Hour, upgrade(2, "5.11.0"))
	h.at(2*time.Hour+time.Minute, func(r InstanceRecord) {
		wantState(t, r, StateUpgrading)
		if r.Current == nil || r.Current.Operation != forms.OpUpgrade || r.Current.WorkflowID != "upgrade/acme/sourcegraph/customer/2" {
			t.Errorf("current operation %+v", r.Current)
		}
	})
	busy := h.request(2*time.Hour+2*time.Minute, upgrade(3, "5.12.0"))
	h.at(4*time.Hour, func(r InstanceRecord) {
		wantState(t, r, StateActive)
		if r.Instance.Version != "5.11.0" || r.Current != nil {
			t.Errorf("after the upgrade: version %s, current %+v", r.Instance.Version, r.Current)
		}
	})
	h.request(4*time.Hour, opReq(forms.OpSuspend, 4))
	suspended := h.request(6*time.Hour, upgrade(5, "5.12.0"))
	h.at(7*time.Hour, func(r InstanceRecord) {
		wantState(t, r, StateSuspended)
		if r.Instance.Version != "5.11.0" {
			t.Errorf("version %s", r.Instance.Version)
		}
	})
	h.run(8 * time.Hour)

	if _, ok := h.accepted[up]; !ok {
		t.Fatalf("upgrade of the active instance not accepted: %v", h.rejected[up])
	}
	if got := h.accepted[up].WorkflowID; got != UpgradeWorkflowID("acme", *issue(2), 0) {
		t.Errorf("upgrade workflow %q", got)
	}
	for id, want := range map[string]string{
		busy:      "`upgrade` cannot start: `upgrade` is running for `acme`",
		suspended: "`upgrade` needs the instance to be active, and `acme` is suspended",
	} {
		if got := h.rejected[id]; !strings.Contains(got, want) {
			t.Errorf("request %s: rejection %q, want %q", id, got, want)
		}
	}
	if len(asked) != 1 || asked[0].Version != "5.11.0" {
		t.Errorf("upgrades started %+v, want only the one to 5.11.0", asked)
	}
	if want := []string{"create/acme/sourcegraph/customer/1", "upgrade/acme/sourcegraph/customer/2", "suspend/acme/sourcegraph/customer/4"}; strings.Join(h.started, " ") != strings.Join(want, " ") {
		t.Errorf("operations %v, want %v", h.started, want)
	}
}

// hourUpgrade registers an Upgrade stand-in that takes an hour and ends at the version it was
// asked for; seen, if set, sees each start.
func (h *entityTest) hourUpgrade(seen func(workflow.Context, OperationInput)) {
	h.env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in OperationInput) (OperationResult, error) {
		if seen != nil {
			seen(ctx, in)
		}
		if err := workflow.Sleep(ctx, time.Hour); err != nil {
			return OperationResult{}, err
		}
		res := OperationResult{Outcome: OutcomeSucceeded, Instance: in.Instance}
		res.Instance.Version = in.Request.Upgrade.Version
		return res, nil
	}, workflow.RegisterOptions{Name: "Upgrade"})
}

// adopt runs an entity started by a first request for an instance made before this service.
func (h *entityTest) adopt(stop time.Duration) InstanceRecord {
	if stop > 0 {
		h.env.RegisterDelayedCallback(h.env.CancelWorkflow, stop)
	}
	h.env.ExecuteWorkflow(InstanceLifecycle, InstanceInput{Record: InstanceRecord{Instance: Instance{Slug: "acme"}}, Adopt: true, Revision: h.rev})
	var r InstanceRecord
	if stop == 0 {
		if err := h.env.GetWorkflowResult(&r); err != nil {
			h.t.Fatal(err)
		}
	}
	return r
}

// Any first request adopts an instance whose config.yaml exists, with what the file says: here a
// suspended instance is resumed, and a conflicting request sent meanwhile is still refused.
func TestInstanceAdoptsFromConfigOnAnyFirstRequest(t *testing.T) {
	h := newEntityTest(t)
	c := activeConfig("acme", spec.Production, "5.9.0")
	c.Spec.Suspended = true
	c.Status = spec.StatusForProject("src-acme-k3x9q2", c.Spec.Infrastructure.GCP.Region)
	h.f.putConfig(c)
	resume := h.request(0, opReq(forms.OpResume, 2))
	suspend := h.request(time.Minute, opReq(forms.OpSuspend, 3))
	h.at(30*time.Minute, func(r InstanceRecord) {
		wantState(t, r, StateResuming)
		if r.AdoptedAt.IsZero() || r.Instance.Version != "5.9.0" || r.Instance.Type != spec.Production || r.Instance.Domain != spec.DefaultDomain("acme") ||
			r.Instance.ProjectID != "src-acme-k3x9q2" {
			t.Errorf("adopted record %+v (the project comes from config.yaml's status)", r)
		}
	})
	h.adopt(3 * time.Hour)
	if _, ok := h.accepted[resume]; !ok {
		t.Fatalf("resume not accepted: %q", h.rejected[resume])
	}
	if got := h.rejected[suspend]; !strings.Contains(got, "`suspend` cannot start: `resume` is running") {
		t.Errorf("suspend during the resume: %q", got)
	}
	if got := h.f.names(true); !slices.Contains(got, "ReadInstanceConfig") {
		t.Errorf("config.yaml was not read: %v", got)
	}
}

// Without a config.yaml there is nothing to adopt: the request is refused, saying so, and the
// entity ends at once, holding no instance (so a later create of the slug starts afresh).
func TestInstanceAdoptionWithoutConfigRefusesAndEnds(t *testing.T) {
	h := newEntityTest(t)
	suspend := h.request(0, opReq(forms.OpSuspend, 2))
	r := h.adopt(0)
	if got := h.rejected[suspend]; !strings.Contains(got, "there is no instance `acme` managed here") {
		t.Fatalf("suspend: rejection %q, accepted %v", got, h.accepted[suspend])
	}
	wantState(t, r, StateNone)
	if len(h.started) != 0 {
		t.Errorf("operations started: %v", h.started)
	}
	if d := h.env.Now().Sub(t0); d >= idleExit {
		t.Errorf("the entity waited %v before ending; nothing was adopted, it should end at once", d)
	}
}

// An operation workflow that failed outright sets the instance's AttentionReason (the Web UI list's
// column) as well as NeedsAttention; the next success clears both.
func TestFailedOperationSetsTheInstanceAttentionReason(t *testing.T) {
	h := newEntityTest(t)
	h.fails["Suspend"] = 1
	var reasons []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(SAAttentionReason); ok && (len(reasons) == 0 || reasons[len(reasons)-1] != v) {
			reasons = append(reasons, v)
		}
	}).Return(nil)
	h.request(time.Second, createReq(1, spec.Production))
	h.request(2*time.Hour, opReq(forms.OpSuspend, 2))
	h.at(4*time.Hour, func(r InstanceRecord) {
		if !r.NeedsAttention {
			t.Errorf("the failed suspend did not set NeedsAttention: %+v", r)
		}
	})
	h.request(5*time.Hour, opReq(forms.OpSuspend, 3))
	h.run(8 * time.Hour)
	if len(reasons) != 2 || !strings.Contains(reasons[0], "suspend") || !strings.Contains(reasons[0], "failed") || reasons[1] != "" {
		t.Errorf("AttentionReason values %q: want one naming the failed suspend, then cleared", reasons)
	}
}

// Every operation runs at the current revision, and says so in its LifecycleRevision search
// attribute, so `LifecycleRevision < N` finds the runs that still need old code.
func TestOperationsRunAtTheCurrentRevisionAndPublishIt(t *testing.T) {
	h := newEntityTest(t)
	h.request(time.Second, createReq(1, spec.Production))
	h.request(2*time.Hour, opReq(forms.OpSuspend, 2))
	h.run(4 * time.Hour)
	if len(h.started) != 2 {
		t.Fatalf("operations %v", h.started)
	}
	for i := range h.started {
		if h.revisions[i] != CurrentRevision || h.revisionSAs[i] != CurrentRevision {
			t.Errorf("%s: input revision %d, LifecycleRevision %d; want %d", h.started[i], h.revisions[i], h.revisionSAs[i], CurrentRevision)
		}
	}
}

// revisionless reads the revision without having put it on ctx.
func revisionless(ctx workflow.Context) (int, error) { return revision(ctx), nil }

// A workflow that forgot withRevision must not silently take the oldest path.
func TestRevisionMissingFromCtxIsAnError(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(revisionless)
	env.ExecuteWorkflow(revisionless)
	var rev int
	err := env.GetWorkflowError()
	if err == nil {
		_ = env.GetWorkflowResult(&rev)
		t.Fatalf("revision(ctx) without withRevision returned %d, want a failure", rev)
	}
	if !strings.Contains(err.Error(), "withRevision") {
		t.Errorf("error %v does not say what to do", err)
	}
}

// The request Update is an entry point too (the Temporal CLI, the Web UI): its validator holds a
// request to the form's rules, so `days: -9` cannot move a trial's expiry into the past.
func TestRequestValidatorEnforcesTheFormRules(t *testing.T) {
	h := newEntityTest(t)
	h.request(time.Second, createReq(1, spec.Trial))
	back := h.request(2*time.Hour, extendReq(2, -9))
	noReason := extendReq(3, 5)
	noReason.ExtendTrial.Reason = ""
	missing := h.request(2*time.Hour+time.Minute, noReason)
	other := extendReq(4, 5)
	other.ExtendTrial.Slug = "globex"
	mismatch := h.request(2*time.Hour+2*time.Minute, other)
	h.at(3*time.Hour, func(r InstanceRecord) {
		wantState(t, r, StateActive)
		if r.Trial == nil || !r.Trial.ExpiresAt.Equal(t0.Add(30*day+time.Hour+time.Second)) {
			t.Errorf("trial clock moved by a rejected request: %+v", r.Trial)
		}
	})
	h.run(4 * time.Hour)
	for id, want := range map[string]string{back: "Additional days `-9`: must be a whole number from 1 to 30", missing: "Reason", mismatch: "`globex`"} {
		if got := h.rejected[id]; !strings.Contains(got, want) {
			t.Errorf("request %s: rejection %q, want it to say %q", id, got, want)
		}
	}
	if len(h.started) != 1 {
		t.Errorf("operations %v", h.started)
	}
}

// A trial suspended at its expiry is not resumed as it is (it would run with no clock): the
// answer says to extend or convert it first. After an extension it resumes, with its clock.
func TestExpiredTrialIsResumedOnlyAfterExtendOrConvert(t *testing.T) {
	h := newEntityTest(t)
	h.request(time.Second, createReq(1, spec.Trial))
	// The trial expires at +30d+1h; the expiry suspension ends an hour later.
	early := h.request(31*day, opReq(forms.OpResume, 2))
	ext := h.request(31*day+time.Hour, extendReq(3, 10))
	late := h.request(31*day+2*time.Hour, opReq(forms.OpResume, 4))
	h.at(31*day+4*time.Hour, func(r InstanceRecord) {
		wantState(t, r, StateActive)
		if r.Trial == nil || r.Trial.Expired || !r.Trial.ExpiresAt.After(t0.Add(40*day)) {
			t.Errorf("resumed trial has no clock: %+v", r.Trial)
		}
	})
	h.run(32 * day)
	if got := h.rejected[early]; !strings.Contains(got, "expired") || !strings.Contains(got, "extend it") || !strings.Contains(got, "convert it") {
		t.Errorf("resume of an expired trial: rejection %q, want it to say to extend or convert first", got)
	}
	if h.rejected[ext] != "" || h.rejected[late] != "" {
		t.Errorf("extend then resume rejected: %q, %q", h.rejected[ext], h.rejected[late])
	}
	if len(h.started) != 3 || !strings.HasPrefix(h.started[2], "resume/acme/") {
		t.Errorf("operations %v, want create, the expiry suspension, then the resume", h.started)
	}
}

// A 5-day trial gets its 1-day reminder only: the record says the 7-day one was not sent (mi
// status used to say "sent at 7 days before" with no comment posted).
func TestShortTrialRecordsOnlyTheRemindersSent(t *testing.T) {
	h := newEntityTest(t)
	req := createReq(1, spec.Trial)
	req.Settings.TrialDays = 5
	h.request(time.Second, req)
	h.at(2*time.Hour, func(r InstanceRecord) {
		if r.Trial == nil || len(r.Trial.Reminded) != 0 || !slices.Equal(r.Trial.Skipped, []int{7}) {
			t.Errorf("after the hand-off: trial %+v, want nothing sent and the 7-day reminder skipped", r.Trial)
		}
	})
	h.at(4*day+2*time.Hour, func(r InstanceRecord) {
		if r.Trial == nil || !slices.Equal(r.Trial.Reminded, []int{1}) || !slices.Equal(r.Trial.Skipped, []int{7}) {
			t.Errorf("after the 1-day reminder: trial %+v", r.Trial)
		}
	})
	h.run(4*day + 3*time.Hour)
	all := h.f.allComments()
	if strings.Contains(all, "Trial ends in 7 day(s)") || !strings.Contains(all, "Trial ends in 1 day(s)") {
		t.Errorf("comments:\n%s", all)
	}
}

// The expiry says on the trial's issue why the instance goes down, and which run does it.
func TestTrialExpirySaysWhyOnTheIssue(t *testing.T) {
	h := newEntityTest(t)
	req := createReq(1, spec.Trial)
	req.Settings.WebUI = "http://ui.example/workflows"
	h.request(time.Second, req)
	h.run(31 * day)
	got := h.f.comment("<!-- lifecycle:trial-expired-")
	if !strings.Contains(got, "Trial expired") || !strings.Contains(got, "suspended automatically") ||
		!strings.Contains(got, "http://ui.example/workflows/suspend%2Facme%2Ftrial-expired-") {
		t.Fatalf("expiry comment:\n%s\nall comments:\n%s", got, h.f.allComments())
	}
}

// A run started before revision 3 replays its expiry without the new comment.
func TestTrialExpiryBeforeRevision3PostsNoComment(t *testing.T) {
	h := newEntityTest(t)
	h.rev = RevisionHistoryBudget
	h.request(time.Second, createReq(1, spec.Trial))
	h.run(31 * day)
	if len(h.started) != 2 {
		t.Fatalf("operations %v", h.started)
	}
	if got := h.f.comment("<!-- lifecycle:trial-expired-"); got != "" {
		t.Fatalf("a revision-2 run posted %q", got)
	}
}

// From RevisionLeanHistory the entity upserts its search attributes once per workflow task: an
// adoption, its request and the operation's start make one upsert, the operation's end another.
func TestInstanceUpsertsOncePerWorkflowTask(t *testing.T) {
	for _, tc := range []struct {
		rev  int
		want string // InstanceState of each upsert
	}{
		{RevisionCorrectness, "none active upgrading active"},
		{RevisionLeanHistory, "upgrading active"},
	} {
		t.Run(fmt.Sprint("revision ", tc.rev), func(t *testing.T) {
			h := newEntityTest(t)
			h.rev = tc.rev
			h.f.putConfig(activeConfig("acme", spec.Production, "5.9.0"))
			h.hourUpgrade(nil)
			var states []string
			h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				v, _ := args.Get(0).(temporal.SearchAttributes).GetKeyword(SAInstanceState)
				if v == "" {
					v = "none"
				}
				states = append(states, v)
			}).Return(nil)
			req := opReq(forms.OpUpgrade, 2)
			req.Upgrade = &UpgradeRequest{Version: "5.10.0"}
			id := h.request(0, req)
			r := h.adopt(3 * time.Hour)
			if _, ok := h.accepted[id]; !ok {
				t.Fatalf("upgrade not accepted: %v", h.rejected[id])
			}
			if got := strings.Join(states, " "); got != tc.want {
				t.Errorf("upserts with InstanceState %q, want %q (record %+v)", got, tc.want, r)
			}
		})
	}
}
