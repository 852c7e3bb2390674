package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

func recordOf(slug, version string) workflows.InstanceRecord {
	return workflows.InstanceRecord{Instance: workflows.Instance{Slug: slug, Version: version}, State: workflows.StateActive}
}

func TestListQueriesVisibilityAndEachInstance(t *testing.T) {
	f := newFake()
	entity := func(slug, typ, state, op string, failed bool) *workflowpb.WorkflowExecutionInfo {
		return execution(t, "instance/"+slug, map[string]any{"InstanceSlug": slug, "InstanceType": typ, "InstanceState": state, "Operation": op, "NeedsAttention": failed})
	}
	q := listQuery(listOptions{})
	f.lists[q] = []*workflowpb.WorkflowExecutionInfo{
		entity("umbrella", "production", "active", "", false),
		entity("acme", "production", "upgrading", "upgrade", false),
		entity("globex", "trial", "active", "", true),
		entity("hooli", "internal", "active", "", false),
	}
	f.lists[parkedQuery] = []*workflowpb.WorkflowExecutionInfo{
		execution(t, "upgrade/acme/sourcegraph/customer/76", map[string]any{"InstanceSlug": "acme", "Operation": "upgrade", "NeedsAttention": true}),
		execution(t, "upgrade-fleet/sourcegraph/customer/76", map[string]any{"NeedsAttention": true}), // a halted rollout: no instance
	}
	f.answers["instance/umbrella instance"] = recordOf("umbrella", "5.10.0")
	f.answers["instance/acme instance"] = recordOf("acme", "5.9.0")
	f.answers["instance/globex instance"] = recordOf("globex", "5.10.0")
	f.errs["instance/hooli instance"] = errors.New("query timed out")

	code, out, errText := runMi(t, f, nil, "list")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errText)
	}
	want := `SLUG      TYPE        STATE      VERSION  OPERATION  ATTENTION
acme      production  upgrading  5.9.0    upgrade    parked (upgrade)
globex    trial       active     5.10.0   -          op failed
hooli     internal    active     ?        -          -
umbrella  production  active     5.10.0   -          -
4 instance(s).
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	code, out, _ = runMi(t, f, nil, "list", "-attention")
	if code != exitOK || strings.Contains(out, "hooli") || strings.Contains(out, "umbrella") || !strings.Contains(out, "acme") || !strings.Contains(out, "globex") {
		t.Errorf("-attention: exit %d\n%s", code, out)
	}

	f.queries = nil
	runMi(t, f, nil, "list", "-state", "Suspended", "-type", "trial")
	if want := "WorkflowType = 'InstanceLifecycle' AND ExecutionStatus = 'Running' AND InstanceState = 'suspended' AND InstanceType = 'trial'"; len(f.queries) == 0 || f.queries[0] != want {
		t.Errorf("visibility queries %q, want first %q", f.queries, want)
	}
}

func TestStatusQueriesRecordAndProgress(t *testing.T) {
	f := newFake()
	rec, p := parkedRecord()
	f.answers["instance/acme instance"] = rec
	f.answers["suspend/acme/sourcegraph/customer/42 progress"] = p
	code, out, errText := runMi(t, f, nil, "status", "acme")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errText)
	}
	wantContains(t, "status", out, "Instance acme: suspending", "On-demand backups ⚠️ parked", "mi decide acme retry", "http://ui/namespaces/default/workflows/instance%2Facme")

	code, _, errText = runMi(t, f, nil, "status", "nosuch")
	if code != exitError {
		t.Errorf("unknown slug: exit %d", code)
	}
	wantContains(t, "unknown slug", errText, "mi status: instance nosuch has no workflow here", "mi list")
}

func TestDecideFindsTheParkedStep(t *testing.T) {
	f := newFake()
	rec, p := parkedRecord()
	f.answers["instance/acme instance"] = rec
	f.answers["suspend/acme/sourcegraph/customer/42 progress"] = p
	f.result = `abort accepted for step "backups"`
	code, out, errText := runMi(t, f, map[string]string{"MI_USER": "carol"}, "decide", "acme", "rollback", "-reason", "wrong instance")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errText)
	}
	if len(f.updates) != 1 {
		t.Fatalf("updates: %+v", f.updates)
	}
	u := f.updates[0]
	want := workflows.Decision{Step: "backups", Action: "abort", By: "carol", Reason: "wrong instance"}
	if u.WorkflowID != "suspend/acme/sourcegraph/customer/42" || u.UpdateName != workflows.UpdateDecide || !reflect.DeepEqual(u.Args, []any{want}) {
		t.Errorf("update %+v", u)
	}
	wantContains(t, "decide output", out, `abort accepted for step "backups" (by @carol on suspend, operation suspend/acme/sourcegraph/customer/42)`, "mi status acme")

	// The validator's rejection is printed as the workflow words it.
	f.updateErr = temporal.NewApplicationError("a restore from backups is not offered for this step; choose retry, skip or abort", "")
	code, _, errText = runMi(t, f, map[string]string{"MI_USER": "carol"}, "decide", "acme", "restore")
	if code != exitError {
		t.Errorf("rejected decision: exit %d", code)
	}
	wantContains(t, "rejection", errText, `refused the restore of step "backups": a restore from backups is not offered for this step`)

	// -step guards against a step that moved on.
	code, _, errText = runMi(t, f, map[string]string{"MI_USER": "carol"}, "decide", "acme", "retry", "-step", "dns")
	if code != exitError || !strings.Contains(errText, `-step "dns" is not the parked step: "backups" is`) {
		t.Errorf("-step mismatch: exit %d %q", code, errText)
	}

	// Nothing parked, nothing running.
	p.Parked, p.State = nil, "running"
	f.answers["suspend/acme/sourcegraph/customer/42 progress"] = p
	code, _, errText = runMi(t, f, map[string]string{"MI_USER": "carol"}, "decide", "acme", "retry")
	if code != exitError || !strings.Contains(errText, "has no parked step: it is running") {
		t.Errorf("not parked: exit %d %q", code, errText)
	}
	f.answers["instance/acme instance"] = recordOf("acme", "5.10.0")
	code, _, errText = runMi(t, f, map[string]string{"MI_USER": "carol"}, "decide", "acme", "retry")
	if code != exitError || !strings.Contains(errText, "instance acme has no running operation, so nothing is parked (it is active") {
		t.Errorf("idle: exit %d %q", code, errText)
	}
}

func TestStartSendsTheRequestUpdate(t *testing.T) {
	f := newFake()
	rec := recordOf("acme", "5.10.0")
	rec.Settings = workflows.Settings{TrialDays: 14, SoakProbes: 2, LatestVersion: "5.9.0"}
	f.answers["instance/acme instance"] = rec
	f.result = workflows.RequestAccepted{WorkflowID: "suspend/acme/sourcegraph/customer/9", Message: "suspend of `acme` started: workflow suspend/acme/sourcegraph/customer/9"}
	_, env := newFakeGitHub(t, map[int]string{9: "open", 9999: "open"})
	env["MI_USER"], env["LIFECYCLE_LATEST_VERSION"] = "carol", "5.10.0"
	code, out, errText := runMi(t, f, env, "start", "suspend", "acme", "-reason", "unpaid", "-issue", "sourcegraph/customer#9")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errText)
	}
	wantContains(t, "start output", out, "suspend of `acme` started", "mi status acme")
	u := f.updates[0]
	req := u.Args[0].(workflows.OperationRequest)
	if u.WorkflowID != "instance/acme" || u.UpdateName != workflows.UpdateRequest || u.UpdateID != "sourcegraph/customer/9/suspend/mi" {
		t.Errorf("update %+v", u)
	}
	if req.Issue == nil || *req.Issue != (workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 9}) || req.Requester != "carol" ||
		*req.Suspend != (forms.Suspend{Slug: "acme", Reason: "unpaid"}) || !req.RequestedAt.Equal(testNow) {
		t.Errorf("request %+v", req)
	}
	// The instance's settings are sent again; the latest version comes from the environment.
	if s := req.Settings; s.TrialDays != 14 || s.SoakProbes != 2 || s.LatestVersion != "5.10.0" {
		t.Errorf("settings %+v", s)
	}

	// Refusals, as the workflow words them.
	f.updateErr = temporal.NewApplicationError("`suspend` needs the instance to be active or suspending, and `acme` is suspended", "")
	code, _, errText = runMi(t, f, env, "start", "suspend", "acme", "-reason", "unpaid", "-issue", "9")
	if code != exitError || !strings.Contains(errText, "instance acme refused the suspend: `suspend` needs the instance to be active") {
		t.Errorf("refused: exit %d %q", code, errText)
	}
	f.updateErr = temporal.NewApplicationError("sourcegraph/customer#9 already started suspend for `acme`", workflows.ErrTypeDuplicateRequest)
	code, _, errText = runMi(t, f, env, "start", "suspend", "acme", "-reason", "unpaid", "-issue", "9")
	if code != exitError || !strings.Contains(errText, "sourcegraph/customer#9 asked for this already") {
		t.Errorf("duplicate: exit %d %q", code, errText)
	}

	// No workflow: an instance made before this service is adopted by its first request, which
	// may not start an entity that has ended (a tombstone).
	f.updateErr, f.started = nil, nil
	code, _, errText = runMi(t, f, env, "start", "upgrade", "mi-a", "-version", "5.10.0", "-issue", "9999")
	if code != exitOK {
		t.Errorf("no workflow: exit %d %q", code, errText)
	}
	if s := f.started; s == nil || s.ID != "instance/mi-a" || s.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
		t.Errorf("adoption's start options %+v", s)
	}

	// A torn-down instance.
	f.answers["instance/gone instance"] = workflows.InstanceRecord{Instance: workflows.Instance{Slug: "gone"}, State: workflows.StateDeleted}
	code, _, errText = runMi(t, f, env, "start", "resume", "gone", "-issue", "9")
	if code != exitError || !strings.Contains(errText, "instance gone was torn down") {
		t.Errorf("torn down: exit %d %q", code, errText)
	}
}

func TestStartCreateUsesUpdateWithStart(t *testing.T) {
	f := newFake()
	f.result = workflows.RequestAccepted{WorkflowID: "create/acme/sourcegraph/customer/9", Message: "create of `acme` started"}
	_, env := newFakeGitHub(t, map[int]string{9: "open"})
	env["MI_USER"] = "carol"
	code, _, errText := runMi(t, f, env, "start", "create", "acme", "-customer", "Acme", "-type", "production",
		"-admin-email", "admin@acme.com", "-version", "5.10.0", "-issue", "9")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errText)
	}
	s := f.started
	if s == nil || s.ID != "instance/acme" || s.TaskQueue != workflows.TaskQueue ||
		s.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING || s.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE {
		t.Fatalf("start options %+v", s)
	}
	req := f.updates[0].Args[0].(workflows.OperationRequest)
	if req.Create == nil || req.Create.Slug != "acme" || req.Create.Version != "5.10.0" || req.Settings.LatestVersion != "" {
		t.Errorf("create request %+v", req)
	}
}

func TestRolloutControls(t *testing.T) {
	f := newFake()
	id := "upgrade-fleet/sourcegraph/customer/76"
	f.answers[id+" rollout"] = rolloutFixture()
	code, out, errText := runMi(t, f, nil, "rollout", "76")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errText)
	}
	wantContains(t, "rollout status", out, "Rollout "+id+": upgrade to 5.10.0, halted", "customers 10%")

	env := map[string]string{"MI_USER": "carol"}
	f.result = "rollout resumed past the failures of wave \"customers 10%\""
	code, out, errText = runMi(t, f, env, "rollout", "76", "resume", "-reason", "globex is known flaky")
	if code != exitOK {
		t.Fatalf("resume: exit %d: %s", code, errText)
	}
	u := f.updates[0]
	if u.WorkflowID != id || u.UpdateName != workflows.UpdateRolloutControl ||
		!reflect.DeepEqual(u.Args, []any{workflows.RolloutControl{Action: "resume", By: "carol", Reason: "globex is known flaky"}}) {
		t.Errorf("update %+v", u)
	}
	wantContains(t, "resume output", out, "rollout resumed past the failures", "(by @carol)", "mi rollout 76")

	// A parked instance is decided on its upgrade, not through the rollout.
	code, _, errText = runMi(t, f, env, "rollout", "76", "retry", "acme")
	if code != exitError || len(f.updates) != 1 {
		t.Errorf("retry of a parked upgrade: exit %d, updates %d", code, len(f.updates))
	}
	wantContains(t, "parked retry", errText, `the upgrade of acme is parked at step "version"`, "mi decide acme retry", "mi decide acme rollback")

	f.updateErr = temporal.NewApplicationError("the rollout is already paused (by @carol)", "")
	code, _, errText = runMi(t, f, env, "rollout", "76", "pause")
	if code != exitError || !strings.Contains(errText, "the rollout refused the pause: the rollout is already paused (by @carol)") {
		t.Errorf("refused pause: exit %d %q", code, errText)
	}

	code, _, errText = runMi(t, f, env, "rollout", "77")
	if code != exitError || !strings.Contains(errText, "there is no rollout upgrade-fleet/sourcegraph/customer/77") {
		t.Errorf("unknown rollout: exit %d %q", code, errText)
	}
}

func TestAdoptNamedInstancesAndTheFleet(t *testing.T) {
	f := newFake()
	f.result = workflows.AdoptAnswer{Record: workflows.InstanceRecord{State: workflows.StateActive,
		Instance: workflows.Instance{Slug: "acme", Type: spec.Production, Version: "5.9.0"}}, New: true}
	env := map[string]string{"MI_USER": "carol"}
	code, out, errText := runMi(t, f, env, "adopt", "acme")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errText)
	}
	wantContains(t, "adopt output", out, "acme: adopted (active, production at 5.9.0)")
	u := f.updates[0]
	if u.UpdateName != workflows.UpdateAdopt || u.WorkflowID != "instance/acme" || f.started == nil ||
		f.started.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
		t.Errorf("update %+v, start %+v", u, f.started)
	}
	f.updateErr = temporal.NewApplicationError("there is no instance `nosuch` managed here: the config repo has no `x`", "RequestRefused")
	code, out, _ = runMi(t, f, env, "adopt", "nosuch")
	if code != exitError || !strings.Contains(out, "nosuch: not adopted: there is no instance `nosuch` managed here") {
		t.Errorf("refused: exit %d %q", code, out)
	}

	f.updateErr = nil
	f.runResult = workflows.AdoptFleetResult{Listed: 4, Adopted: []string{"a", "b"}, Managed: 1,
		Refused: []workflows.AdoptOutcome{{Slug: "gone", Refused: "instance `gone` was torn down"}}}
	code, out, _ = runMi(t, f, env, "adopt", "-all")
	if code != exitError {
		t.Errorf("-all with a refusal: exit %d", code)
	}
	wantContains(t, "adopt -all output", out, "4 instances in the config repo: 2 adopted, 1 already managed, 1 not adopted.",
		"Adopted: a, b", "Not adopted: gone: instance `gone` was torn down")
	if e := f.executed; len(e) != 1 || e[0].ID != workflows.AdoptFleetWorkflowID || e[0].WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
		t.Errorf("started %+v", e)
	}
	if code, _, errText := runMi(t, nil, env, "adopt"); code != exitUsage || !strings.Contains(errText, "name the instances to adopt") {
		t.Errorf("no slugs: exit %d %q", code, errText)
	}
}
