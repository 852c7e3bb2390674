package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

var (
	trackingIssue = commandIssue{ref: workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 12}, tracking: true,
		op: forms.OpUpgradeFleet}
	requestIssue = commandIssue{ref: workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 7},
		op: forms.OpCreate, slug: "acme"}
)

func TestTrackingIssueCommands(t *testing.T) {
	rollout := workflows.RolloutWorkflowID(trackingIssue.ref)
	upgrade := func(slug string) string { return workflows.UpgradeWorkflowID(slug, trackingIssue.ref, 1) }
	for _, tc := range []struct {
		cmd, arg   string
		id, update string
		want       any
	}{
		{"/pause", "", rollout, workflows.UpdateRolloutControl, workflows.RolloutControl{Action: workflows.ControlPause, By: "carol"}},
		{"/pause", "customer escalation", rollout, workflows.UpdateRolloutControl,
			workflows.RolloutControl{Action: workflows.ControlPause, By: "carol", Reason: "customer escalation"}},
		{"/resume", "fixed", rollout, workflows.UpdateRolloutControl, workflows.RolloutControl{Action: workflows.ControlResume, By: "carol", Reason: "fixed"}},
		{"/abort", "bad release", rollout, workflows.UpdateRolloutControl, workflows.RolloutControl{Action: workflows.ControlAbort, By: "carol", Reason: "bad release"}},
		{"/approve", "", rollout, workflows.UpdateRolloutControl, workflows.RolloutControl{Action: workflows.ControlApprove, By: "carol"}},
		{"/retry", "acme", upgrade("acme"), workflows.UpdateDecide, workflows.Decision{Action: workflows.ActionRetry, By: "carol"}},
		{"/skip", "acme-corp  migrated by hand", upgrade("acme-corp"), workflows.UpdateDecide,
			workflows.Decision{Action: workflows.ActionSkip, By: "carol", Reason: "migrated by hand"}},
		{"/rollback", "acme", upgrade("acme"), workflows.UpdateDecide, workflows.Decision{Action: workflows.ActionAbort, By: "carol"}},
		{"/rollback", "acme frontend crashloops", upgrade("acme"), workflows.UpdateDecide,
			workflows.Decision{Action: workflows.ActionAbort, By: "carol", Reason: "frontend crashloops"}},
		{"/restore", "acme data corrupted", upgrade("acme"), workflows.UpdateDecide,
			workflows.Decision{Action: workflows.ActionRestore, By: "carol", Reason: "data corrupted"}},
	} {
		c, err := trackingIssue.command(tc.cmd, tc.arg, "carol")
		if err != nil {
			t.Errorf("%s %s: %v", tc.cmd, tc.arg, err)
			continue
		}
		if c.workflowID != tc.id || c.update != tc.update || !reflect.DeepEqual(c.arg, tc.want) {
			t.Errorf("%s %s: got %s %s %+v, want %s %s %+v", tc.cmd, tc.arg, c.workflowID, c.update, c.arg, tc.id, tc.update, tc.want)
		}
	}
}

func TestTrackingIssueInstanceCommandsNameTheirSyntax(t *testing.T) {
	for _, tc := range []struct{ cmd, arg, want string }{
		{"/retry", "", "`/retry <slug>`"},
		{"/skip", "", "`/skip <slug> <reason>`"},
		{"/skip", "acme", "`/skip <slug> <reason>`"},
		{"/rollback", "", "`/rollback <slug> [reason]`"},
		{"/restore", "", "`/restore <slug> [reason]`"},
		{"/retry", "Acme_Corp", "`/retry <slug>`"},
		{"/rollback", "sourcegraph/customer#12", "`/rollback <slug> [reason]`"},
	} {
		_, err := trackingIssue.command(tc.cmd, tc.arg, "carol")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error %v, want one naming %s", tc.cmd, tc.arg, err, tc.want)
		}
	}
}

func TestRequestIssueCommands(t *testing.T) {
	op := workflows.OperationWorkflowID(forms.OpCreate, "acme", workflows.IssueKey(requestIssue.ref))
	for _, tc := range []struct {
		cmd, arg, update string
		want             any
	}{
		{"/retry", "", workflows.UpdateDecide, workflows.Decision{Action: workflows.ActionRetry, By: "carol"}},
		{"/skip", "DNS made by hand", workflows.UpdateDecide, workflows.Decision{Action: workflows.ActionSkip, By: "carol", Reason: "DNS made by hand"}},
		{"/abort", "wrong region", workflows.UpdateDecide, workflows.Decision{Action: workflows.ActionAbort, By: "carol", Reason: "wrong region"}},
		{"/rollback", "", workflows.UpdateDecide, workflows.Decision{Action: workflows.ActionAbort, By: "carol"}},
		{"/restore", "data lost", workflows.UpdateDecide, workflows.Decision{Action: workflows.ActionRestore, By: "carol", Reason: "data lost"}},
		{"/approve", "", workflows.UpdateApprove, workflows.Approval{By: "carol"}},
		{"/cancel", "wrong slug", workflows.UpdateCancel, workflows.Approval{By: "carol", Reason: "wrong slug"}},
	} {
		c, err := requestIssue.command(tc.cmd, tc.arg, "carol")
		if err != nil {
			t.Errorf("%s %s: %v", tc.cmd, tc.arg, err)
			continue
		}
		if c.workflowID != op || c.update != tc.update || !reflect.DeepEqual(c.arg, tc.want) {
			t.Errorf("%s %s: got %s %s %+v, want %s %s %+v", tc.cmd, tc.arg, c.workflowID, c.update, c.arg, op, tc.update, tc.want)
		}
	}
}

// A command of the other kind of issue is answered with the commands valid here.
func TestCommandOfTheOtherKindOfIssueListsTheValidOnes(t *testing.T) {
	for _, cmd := range []string{"/pause", "/resume"} {
		if _, err := requestIssue.command(cmd, "", "carol"); err == nil || !strings.Contains(err.Error(), requestHelp) {
			t.Errorf("%s on a request issue: %v, want the request commands", cmd, err)
		}
	}
	if _, err := trackingIssue.command("/cancel", "oops", "carol"); err == nil || !strings.Contains(err.Error(), trackingHelp) {
		t.Errorf("/cancel on a tracking issue: %v, want the tracking commands", err)
	}
}

// Every known command works on at least one kind of issue, and each kind's help lists exactly the
// commands it accepts.
func TestCommandHelpListsTheCommandsOfItsIssue(t *testing.T) {
	// An argument each command accepts where it applies.
	args := map[string]string{"/extend": "15 a reason", "/convert": "2026-03-01"}
	for cmd := range knownCommands {
		if cmd == "/reconcile" {
			continue // the drift issue's command (onReconcile), not a request's nor a rollout's
		}
		accepted := false
		arg, ok := args[cmd]
		if !ok {
			arg = "acme a reason"
		}
		for _, ci := range []commandIssue{requestIssue, trackingIssue} {
			_, err := ci.command(cmd, arg, "carol")
			listed := strings.Contains(ci.help(), "`"+cmd+"`") || strings.Contains(ci.help(), "`"+cmd+" ")
			if (err == nil) != listed {
				t.Errorf("%s (tracking=%v): accepted=%v but listed in the help=%v", cmd, ci.tracking, err == nil, listed)
			}
			accepted = accepted || err == nil
		}
		if !accepted {
			t.Errorf("%s is known but accepted on no issue", cmd)
		}
	}
}

// An instance whose upgrade has nothing parked (refused, rolled back) is retried or left out by
// the rollout itself.
func TestTrackingIssueRetryFallsBackToTheRollout(t *testing.T) {
	c, err := trackingIssue.command("/skip", "acme customer asked to stay", "carol")
	if err != nil {
		t.Fatal(err)
	}
	got := trackingIssue.rolloutInstanceCommand("/skip", c.arg.(workflows.Decision), c.slug)
	want := workflows.RolloutControl{Action: workflows.ControlSkip, Slug: "acme", By: "carol", Reason: "customer asked to stay"}
	if got.workflowID != workflows.RolloutWorkflowID(trackingIssue.ref) || got.update != workflows.UpdateRolloutControl || !reflect.DeepEqual(got.arg, want) {
		t.Fatalf("got %s %s %+v, want the rollout's control %+v", got.workflowID, got.update, got.arg, want)
	}
}

// A cancel needs a reason, as a skip does: the starter says so before anything is sent.
func TestRequestIssueCancelAndSkipNeedAReason(t *testing.T) {
	for _, cmd := range []string{"/cancel", "/skip"} {
		_, err := requestIssue.command(cmd, "  ", "carol")
		if err == nil || !strings.Contains(err.Error(), "`"+cmd+" <reason>`") {
			t.Errorf("%s without a reason: %v, want a refusal naming `%s <reason>`", cmd, err, cmd)
		}
	}
}
