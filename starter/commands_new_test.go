package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// /extend and /convert take what the forms take.
func TestTrialCommandsAcceptWhatTheFormsAccept(t *testing.T) {
	for _, tc := range []struct {
		cmd, arg string
		days     int
		reason   string
	}{
		{"/extend", "15", 15, "Extended by @carol with /extend on sourcegraph/customer#7."},
		{"/extend", "1", 1, ""},
		{"/extend", "30 days", 30, ""},
		{"/extend", "15days", 15, ""},
		{"/extend", "14 days the customer's legal review runs late", 14, "the customer's legal review runs late"},
		{"/extend", "7 waiting for procurement", 7, "waiting for procurement"},
	} {
		c, err := requestIssue.command(tc.cmd, tc.arg, "carol")
		if err != nil {
			t.Errorf("%s %s: %v", tc.cmd, tc.arg, err)
			continue
		}
		r := c.arg.(workflows.OperationRequest)
		if c.workflowID != workflows.InstanceWorkflowID("acme") || c.update != workflows.UpdateRequest || r.Operation != forms.OpExtendTrial ||
			r.Slug != "acme" || r.Requester != "carol" || *r.Issue != requestIssue.ref || r.ExtendTrial == nil ||
			r.ExtendTrial.Slug != "acme" || r.ExtendTrial.Days != tc.days {
			t.Errorf("%s %s: %s %s %+v", tc.cmd, tc.arg, c.workflowID, c.update, r)
			continue
		}
		if tc.reason != "" && r.ExtendTrial.Reason != tc.reason {
			t.Errorf("%s %s: reason %q, want %q", tc.cmd, tc.arg, r.ExtendTrial.Reason, tc.reason)
		}
	}
	c, err := requestIssue.command("/convert", "2026-02-27 signed by procurement", "carol")
	if err != nil {
		t.Fatal(err)
	}
	r := c.arg.(workflows.OperationRequest)
	if r.Operation != forms.OpConvertTrial || r.ConvertTrial == nil || *r.ConvertTrial != (forms.ConvertTrial{Slug: "acme", AgreementDate: "2026-02-27"}) ||
		!r.AgreedAt.Equal(time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC)) || r.Requester != "carol" || *r.Issue != requestIssue.ref {
		t.Errorf("/convert: %+v", r)
	}
}

func TestTrialCommandsRefuseWhatTheFormsRefuse(t *testing.T) {
	for _, tc := range []struct{ cmd, arg, want string }{
		{"/extend", "", "`/extend <days> [reason]`"},
		{"/extend", "0", "from 1 to 30"},
		{"/extend", "31", "from 1 to 30"},
		{"/extend", "-5", "from 1 to 30"},
		{"/extend", "+5", "from 1 to 30"},
		{"/extend", "two weeks", "from 1 to 30"},
		{"/extend", "15 " + strings.Repeat("x", 2001), "at most 2000 characters"},
		{"/convert", "", "`/convert <agreement date>`"},
		{"/convert", "27/02/2026", "YYYY-MM-DD"},
		{"/convert", "2026-02-30", "YYYY-MM-DD"},
	} {
		_, err := requestIssue.command(tc.cmd, tc.arg, "carol")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v, want an error containing %q", tc.cmd, tc.arg, err, tc.want)
		}
	}
	for _, cmd := range []string{"/extend", "/convert"} {
		if _, err := trackingIssue.command(cmd, "15", "carol"); err == nil || !strings.Contains(err.Error(), trackingHelp) {
			t.Errorf("%s on a tracking issue: %v", cmd, err)
		}
	}
}

// Two /extend comments on one issue are two requests: each carries its comment as the attempt and
// the Update ID, so the instance does not take the second for a duplicate of the first.
func TestExtendCommandsSendRequestsNumberedByTheirComment(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	issue := ghIssue(7, "alice", "New trial", newInstanceBody("acme"), newInstanceLabel)
	for _, id := range []int64{2_300_000_001, 2_300_000_002} {
		if rec := deliver(h, "issue_comment", commentEvent("carol", id, "/extend 15", issue)); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	// The first comment redelivered: the same Update, answered by Temporal with the first answer,
	// and not answered again on the issue.
	deliver(h, "issue_comment", commentEvent("carol", 2_300_000_001, "/extend 15", issue))
	updates, _ := tmp.recorded()
	if len(updates) != 3 {
		t.Fatalf("%d Updates, want 3", len(updates))
	}
	for i, want := range []int64{2_300_000_001, 2_300_000_002, 2_300_000_001} {
		u := updates[i]
		r := u.Args[0].(workflows.OperationRequest)
		if u.WorkflowID != "instance/acme" || u.UpdateName != workflows.UpdateRequest || u.UpdateID != "comment/"+strconv.FormatInt(want, 10) ||
			r.Attempt != int(want) || r.Operation != forms.OpExtendTrial || r.ExtendTrial.Days != 15 || r.Requester != "carol" ||
			*r.Issue != customerRef(7) || r.Settings.WebUI == "" || !r.RequestedAt.Equal(created.Add(time.Hour)) {
			t.Errorf("Update %d: %s %s %s %+v", i, u.WorkflowID, u.UpdateName, u.UpdateID, r)
		}
	}
	cs := gh.commentsOn(7)
	if len(cs) != 2 || !strings.HasPrefix(cs[0], "@carol: extend-trial of `acme` started") {
		t.Errorf("replies %q", cs)
	}
}

func TestConvertCommandThroughTheWebhook(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	issue := ghIssue(7, "alice", "New trial", newInstanceBody("acme"), newInstanceLabel)
	deliver(h, "issue_comment", commentEvent("bob", 2_400_000_001, "/convert 2026-02-27", issue))
	updates, _ := tmp.recorded()
	if len(updates) != 1 {
		t.Fatalf("%d Updates", len(updates))
	}
	r := updates[0].Args[0].(workflows.OperationRequest)
	if r.Operation != forms.OpConvertTrial || r.ConvertTrial.AgreementDate != "2026-02-27" || r.Attempt != 2_400_000_001 || r.Requester != "bob" {
		t.Errorf("request %+v", r)
	}
	if cs := gh.commentsOn(7); len(cs) != 1 || !strings.Contains(cs[0], "convert-trial/acme/sourcegraph/customer/7/2400000001") {
		t.Errorf("replies %q", cs)
	}
	// A bad date is answered and sends nothing.
	deliver(h, "issue_comment", commentEvent("bob", 2_400_000_002, "/convert tomorrow", issue))
	if tmp.calls() != 1 {
		t.Fatalf("a bad /convert was sent")
	}
	if cs := gh.commentsOn(7); len(cs) != 2 || !strings.Contains(cs[1], "YYYY-MM-DD") {
		t.Errorf("replies %q", cs)
	}
}

// Slash commands are for the approver team; the others get one reply and nothing is sent.
func TestCommandsOfOthersAreRefused(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	issue := ghIssue(7, "alice", "New trial", newInstanceBody("acme"), newInstanceLabel)
	for i, who := range []string{"mallory", "alice"} { // alice files requests but does not steer them
		rec := deliver(h, "issue_comment", commentEvent(who, int64(2_500_000_000+i), "/extend 30", issue))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if tmp.calls() != 0 {
		t.Fatal("a refused command was sent")
	}
	cs := gh.commentsOn(7)
	if len(cs) != 2 || cs[0] != "@mallory: only members of sourcegraph/cloud can use /extend." {
		t.Fatalf("replies %q", cs)
	}
	gh.mu.Lock()
	gh.failTeams = true
	gh.mu.Unlock()
	if rec := deliver(h, "issue_comment", commentEvent("dave", 2_500_000_009, "/status", issue)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("a failed team check: status %d, want 503", rec.Code)
	}
}

func TestStatusOfARequest(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	ref := customerRef(7)
	issue := ghIssue(7, "alice", "New trial", newInstanceBody("acme"), newInstanceLabel)
	status := func() string {
		t.Helper()
		before := len(gh.commentsOn(7))
		if rec := deliver(h, "issue_comment", commentEvent("carol", 2_600_000_000+int64(before), "/status", issue)); rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		cs := gh.commentsOn(7)
		if len(cs) != before+1 {
			t.Fatalf("no reply to /status")
		}
		return cs[before]
	}
	// Nothing runs for the issue.
	if got := status(); !strings.Contains(got, "is not running") || !strings.Contains(got, "create/acme/sourcegraph/customer/7") {
		t.Errorf("no workflow: %s", got)
	}
	// The create runs: its progress, as the status comment renders it.
	create := workflows.OperationWorkflowID(forms.OpCreate, "acme", workflows.IssueKey(ref))
	p := workflows.Progress{Operation: "create", Slug: "acme", Issue: &ref, State: "running",
		Steps: []workflows.StepStatus{{Name: "config", Title: "Open the config PR", State: workflows.StepDone}, {Name: "project", Title: "Create the GCP project", State: workflows.StepRunning}}}
	tmp.answer(create, workflows.QueryProgress, p)
	got := status()
	if want := workflows.RenderProgress(p, h.settings.RunURL(create)); !strings.Contains(got, want) {
		t.Errorf("progress reply:\n%s\nwant it to contain:\n%s", got, want)
	}
	// A /convert on the issue later ran under its own ID: /status follows the instance's record.
	convert := "convert-trial/acme/sourcegraph/customer/7/2400000001"
	tmp.answer("instance/acme", workflows.QueryInstance, workflows.InstanceRecord{Instance: workflows.Instance{Slug: "acme"}, State: workflows.StateActive,
		History: []workflows.OperationRef{{Operation: forms.OpCreate, WorkflowID: create, Issue: &ref}, {Operation: forms.OpConvertTrial, WorkflowID: convert, Issue: &ref}}})
	pc := workflows.Progress{Operation: "convert-trial", Slug: "acme", Issue: &ref, State: "succeeded"}
	tmp.answer(convert, workflows.QueryProgress, pc)
	if got := status(); !strings.Contains(got, "### convert-trial `acme`: succeeded") {
		t.Errorf("after a convert: %s", got)
	}
	if tmp.calls() != 0 {
		t.Error("/status sent an Update")
	}
}

func TestStatusOfAnExtensionIssueNamesTheTrialClock(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	body := "### Slug\n\nacme\n\n### Additional days\n\n15\n\n### Reason\n\nLegal review.\n"
	issue := ghIssue(8, "alice", "Extend", body, forms.LabelOf(forms.OpExtendTrial))
	ref := customerRef(8)
	tmp.answer("instance/acme", workflows.QueryInstance, workflows.InstanceRecord{Instance: workflows.Instance{Slug: "acme"}, State: workflows.StateActive,
		Trial:   &workflows.TrialClock{ExpiresAt: time.Date(2026, 4, 16, 9, 0, 0, 0, time.UTC)},
		History: []workflows.OperationRef{{Operation: forms.OpExtendTrial, Issue: &ref}}})
	deliver(h, "issue_comment", commentEvent("carol", 2_700_000_000, "/status", issue))
	cs := gh.commentsOn(8)
	if len(cs) != 1 || !strings.Contains(cs[0], "`acme` is **active**") || !strings.Contains(cs[0], "2026-04-16 09:00 UTC") {
		t.Fatalf("replies %q", cs)
	}
}

func TestStatusOfARollout(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	issue := ghIssue(12, "alice", "5.10.0 upgrade", upgradeBody("5.10.0"), trackingLabel)
	id := workflows.RolloutWorkflowID(customerRef(12))
	tmp.answer(id, workflows.QueryRollout, workflows.RolloutState{Version: "5.10.0", Phase: workflows.PhaseHalted,
		Reason: "1 instance failed in wave internal (threshold 0)", Wave: 1,
		Waves: []workflows.Wave{
			{Name: "canary", Instances: []workflows.RolloutInstance{{Slug: "rctest", Status: workflows.UpgradeSucceeded}}},
			{Name: "internal", Instances: []workflows.RolloutInstance{{Slug: "a", Status: workflows.UpgradeSucceeded}, {Slug: "b", Status: workflows.UpgradeFailed}}},
			{Name: "customers 100%", Upgraded: 0, Instances: []workflows.RolloutInstance{{Slug: "c", Status: workflows.UpgradePending}, {Slug: "d", Status: workflows.UpgradePending}}},
		},
		Left: []workflows.LeftOut{{Slug: "e", Reason: "suspended"}}})
	deliver(h, "issue_comment", commentEvent("carol", 2_800_000_000, "/status", issue))
	cs := gh.commentsOn(12)
	if len(cs) != 1 {
		t.Fatalf("replies %q", cs)
	}
	for _, want := range []string{"**5.10.0** is **halted** (wave 2 of 3: internal)", "> 1 instance failed", "5 instance(s) in the plan: 2 succeeded, 2 pending, 1 failed; 1 left out",
		h.settings.RunURL(id)} {
		if !strings.Contains(cs[0], want) {
			t.Errorf("reply should contain %q:\n%s", want, cs[0])
		}
	}
}
