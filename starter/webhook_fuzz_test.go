package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// FuzzWebhook drives the real handler with arbitrary bodies, event names and signatures (half of
// them signed with the test secret, so the fuzzer gets past the signature to the parsing). Whatever
// arrives, the handler must not panic nor answer 5xx (the fakes never fail), and it may start or
// update a workflow only for what an independent oracle allows: a signed, labelled, valid issue
// form from an authorised author (the Update going to that form's instance, or the rollout of that
// issue), or a signed slash command from a member of the approver team.
//
//	go test ./starter -run '^$' -fuzz FuzzWebhook -fuzztime 60s
func FuzzWebhook(f *testing.F) {
	request := ghIssue(7, "alice", "New Cloud instance: acme", newInstanceBody("acme"), forms.TeamLabel, newInstanceLabel)
	suspend := ghIssue(8, "mallory", "Suspend acme", suspendBody("acme"), forms.TeamLabel, suspendLabel)
	tracking := ghIssue(12, "alice", "5.10.0 upgrade", upgradeBody("5.10.0"), trackingLabel)
	for _, seed := range []struct {
		body  []byte
		event string
	}{
		{issuesEvent("opened", "alice", request), "issues"},
		{issuesEvent("labeled", "carol", request), "issues"},
		{issuesEvent("opened", "mallory", suspend), "issues"},
		{issuesEvent("opened", "alice", tracking), "issues"},
		{commentEvent("carol", 2001, "/retry", request), "issue_comment"},
		{commentEvent("bob", 2002, "/extend 15 legal review", request), "issue_comment"},
		{commentEvent("carol", 2003, "/convert 2026-02-27", request), "issue_comment"},
		{commentEvent("carol", 2004, "/status", tracking), "issue_comment"},
		{commentEvent("mallory", 2005, "/approve", suspend), "issue_comment"},
		{pingEvent(), "ping"},
	} {
		f.Add(seed.body, seed.event, "", uint8(0))
	}
	f.Add(issuesEvent("opened", "alice", request), "issues", "sha256=00", uint8(1))
	f.Add(issuesEvent("opened", "alice", request), "issues", "", uint8(1))

	gh := newFakeGitHub(f)
	gh.keep = false // millions of comments would only fill memory
	// One handler for every input, as in production: its membership cache lives across
	// deliveries (the fake teams never change, so the oracle stays right). Inputs run one at a
	// time in a fuzzing process; each gets its own Temporal fake.
	h := newTestWebhook(nil, gh)
	f.Fuzz(func(t *testing.T, body []byte, event, sig string, mode uint8) {
		if mode%2 == 0 {
			sig = sign(testSecret, body)
		}
		allowed := oracle(body, event, sig)
		tmp := newFakeTemporal()
		var violations []string
		tmp.guard = func(what string, u client.UpdateWorkflowOptions) {
			if why := allowed.permits(what, u); why != "" {
				violations = append(violations, fmt.Sprintf("%s %s (update %q, ID %q): %s", what, u.WorkflowID, u.UpdateName, u.UpdateID, why))
			}
		}
		h.temporal = tmp
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("the handler panicked on a %q delivery: %v\n%s", event, p, debug.Stack())
				}
			}()
			h.ServeHTTP(rec, delivery(event, sig, body))
		}()
		if len(violations) > 0 {
			t.Fatalf("a %q delivery that may start nothing (%s) reached Temporal:\n%s", event, allowed, strings.Join(violations, "\n"))
		}
		if rec.Code >= 500 {
			t.Fatalf("status %d with working fakes: %s", rec.Code, rec.Body)
		}
		if !allowed.signed && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("an unsigned delivery was answered %d, want 401", rec.Code)
		}
		if allowed.signed && rec.Code == http.StatusUnauthorized {
			t.Fatalf("a signed delivery was refused: %s", rec.Body)
		}
	})
}

// allowance is what one delivery may do in Temporal, decided without the handler's code.
type allowance struct {
	signed bool
	// instance is the entity workflow an issue form may update (with its start); updateID the
	// Update's ID. rollout is the rollout an upgrade-tracking form may start.
	instance, updateID string
	rollout            string
	// command: a slash command from an approver may send Updates; request commands (/extend,
	// /convert) only to the issue's instance, numbered by the comment.
	command   bool
	commentID int64
}

func (a allowance) String() string {
	switch {
	case !a.signed:
		return "unsigned"
	case a.instance != "":
		return "a request for " + a.instance
	case a.rollout != "":
		return "the rollout " + a.rollout
	case a.command:
		return "a command"
	}
	return "signed, but no valid request from an authorised user"
}

// permits returns why a start or an update is not allowed, "" if it is.
func (a allowance) permits(what string, u client.UpdateWorkflowOptions) string {
	switch {
	case !a.signed:
		return "the delivery is not signed"
	case what == "ExecuteWorkflow":
		if a.rollout == "" || u.WorkflowID != a.rollout {
			return "no rollout may start"
		}
	case what == "UpdateWithStartWorkflow":
		// Every form's request may start its instance's entity (a create, or the adoption of an
		// instance made before this service), and only that one.
		if a.instance == "" || u.WorkflowID != a.instance || u.UpdateID != a.updateID || u.UpdateName != workflows.UpdateRequest {
			return fmt.Sprintf("only the form's request to %q (%q) may start a workflow", a.instance, a.updateID)
		}
	case a.instance != "":
		if u.WorkflowID != a.instance || u.UpdateID != a.updateID || u.UpdateName != workflows.UpdateRequest {
			return fmt.Sprintf("the form may update %q with %q only", a.instance, a.updateID)
		}
	case a.command:
		if u.UpdateID != fmt.Sprintf("comment/%d", a.commentID) {
			return "a command's Update is named after its comment"
		}
		if u.UpdateName == workflows.UpdateRequest {
			if !strings.HasPrefix(u.WorkflowID, "instance/") || len(u.Args) != 1 {
				return "a request command goes to the issue's instance"
			}
			r, ok := u.Args[0].(workflows.OperationRequest)
			if !ok || int64(r.Attempt) != a.commentID || a.commentID < 2 || "instance/"+r.Slug != u.WorkflowID ||
				(r.Operation != forms.OpExtendTrial && r.Operation != forms.OpConvertTrial) {
				return fmt.Sprintf("a request command must be an extend or a convert numbered by its comment: %+v", u.Args)
			}
		}
	default:
		return "nothing may start or be updated"
	}
	return ""
}

// members are the users the fake GitHub puts on the requester teams and on the approver team.
var (
	requesters = []string{"alice", "bob", "carol"} // sourcegraph/ce and sourcegraph/cloud
	approvers  = []string{"bob", "carol"}          // sourcegraph/cloud
)

// oracle decides what a delivery may do, from the payload alone.
func oracle(body []byte, event, sig string) allowance {
	var a allowance
	hexMAC, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexMAC)
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write(body)
	if !ok || err != nil || !hmac.Equal(got, m.Sum(nil)) {
		return a
	}
	a.signed = true
	labelled := func(is *github.Issue) (forms.Operation, bool) {
		var names []string
		for _, l := range is.Labels {
			names = append(names, l.GetName())
		}
		return forms.ByLabel(names)
	}
	switch event {
	case "issues":
		var e github.IssuesEvent
		if json.Unmarshal(body, &e) != nil {
			return a
		}
		is := e.GetIssue()
		if !slices.Contains([]string{"opened", "labeled", "edited"}, e.GetAction()) || is.GetState() != "open" {
			return a
		}
		op, ok := labelled(is)
		if !ok || !slices.Contains(requesters, strings.ToLower(is.GetUser().GetLogin())) {
			return a
		}
		req, err := forms.ParseRequest(op, is.GetBody())
		if err != nil {
			return a
		}
		ref := workflows.IssueRef{Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(), Number: is.GetNumber()}
		if slug := req.InstanceSlug(); slug != "" {
			a.instance, a.updateID = workflows.InstanceWorkflowID(slug), workflows.IssueKey(ref)+"/"+string(op)
		} else if op == forms.OpUpgradeFleet {
			a.rollout = workflows.RolloutWorkflowID(ref)
		}
	case "issue_comment":
		var e github.IssueCommentEvent
		if json.Unmarshal(body, &e) != nil {
			return a
		}
		_, ok := labelled(e.GetIssue())
		a.command = ok && e.GetAction() == "created" && strings.HasPrefix(strings.TrimSpace(e.GetComment().GetBody()), "/") &&
			slices.Contains(approvers, strings.ToLower(e.GetComment().GetUser().GetLogin()))
		a.commentID = e.GetComment().GetID()
	}
	return a
}

// The fuzz test's oracle allows what the handler does for real payloads, and no more: the seeds
// that should reach Temporal do, through the same guard.
func TestFuzzOracleOnRealPayloads(t *testing.T) {
	request := ghIssue(7, "alice", "New Cloud instance: acme", newInstanceBody("acme"), forms.TeamLabel, newInstanceLabel)
	for _, tc := range []struct {
		name, event string
		body        []byte
		calls       int
	}{
		{"create by alice (an Update with its start)", "issues", issuesEvent("opened", "alice", request), 1},
		{"suspend by mallory", "issues", issuesEvent("opened", "mallory", ghIssue(8, "mallory", "Suspend", suspendBody("acme"), suspendLabel)), 0},
		{"rollout by alice", "issues", issuesEvent("opened", "alice", ghIssue(12, "alice", "5.10.0", upgradeBody("5.10.0"), trackingLabel)), 1},
		{"/extend by bob", "issue_comment", commentEvent("bob", 2002, "/extend 15", request), 1},
		{"/extend by alice", "issue_comment", commentEvent("alice", 2003, "/extend 15", request), 0},
		{"ping", "ping", pingEvent(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			allowed := oracle(body, tc.event, sign(testSecret, body))
			tmp, gh := newFakeTemporal(), newFakeGitHub(t)
			var violations []string
			tmp.guard = func(what string, u client.UpdateWorkflowOptions) {
				if why := allowed.permits(what, u); why != "" {
					violations = append(violations, why)
				}
			}
			deliver(newTestWebhook(tmp, gh), tc.event, body)
			if len(violations) > 0 || tmp.calls() != tc.calls {
				t.Fatalf("%d calls (want %d), violations %q", tmp.calls(), tc.calls, violations)
			}
			// Unsigned, the same payload may do nothing.
			if a := oracle(body, tc.event, sign("other", body)); a.permits("UpdateWorkflow", client.UpdateWorkflowOptions{}) == "" {
				t.Fatal("the oracle allows an unsigned delivery")
			}
		})
	}
}
