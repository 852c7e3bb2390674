package main

import (
	"net/http"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// The rule for an edited issue: an issue starts at most one operation; an edit before it starts
// is checked again; an edit after it started gets one comment (edited in place) saying what
// happened and what to do, and starts nothing. A request the operation's workflow rejected (a
// check inside it, such as a release that does not exist) started nothing, so an edit that
// changes the form asks again, as a new attempt.

// editedEvent is an "edited" delivery whose body changed from the given one (GitHub sends the
// previous body in changes.body.from).
func editedEvent(issue map[string]any, from string) []byte {
	e := map[string]any{"action": "edited", "issue": issue, "repository": ghRepo(),
		"organization": map[string]any{"login": "sourcegraph", "id": 3979584}, "sender": ghUser("alice", userIDs["alice"]),
		"changes": map[string]any{"body": map[string]any{"from": from}}}
	return mustJSON(e)
}

func inRegion(body, region string) string { return strings.Replace(body, "us-central1", region, 1) }

// started records an operation workflow of issue 7 as visibility and its result would show it.
func startedOn7(tmp *fakeTemporal, op forms.Operation, slug string, attempt int, status enumspb.WorkflowExecutionStatus, outcome workflows.Outcome) string {
	key := workflows.IssueKey(customerRef(7))
	if attempt > 1 {
		key += "/" + string(rune('0'+attempt))
	}
	id := workflows.OperationWorkflowID(op, slug, key)
	tmp.addOperation(id, customerRef(7).String(), status, workflows.OperationResult{Outcome: outcome})
	return id
}

func TestEditAfterTheStartStartsNothingAndSaysSoOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  enumspb.WorkflowExecutionStatus
		outcome workflows.Outcome
		newBody string
		want    []string
	}{
		{"slug changed after the create succeeded", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, workflows.OutcomeSucceeded,
			newInstanceBody("acme2"), []string{"already started `create` of `acme`", "succeeded", "slug", "file a new issue"}},
		{"region changed while the create runs", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, "",
			inRegion(newInstanceBody("acme"), "europe-west3"), []string{"already started `create` of `acme`", "is running", "region", "not applied"}},
		{"invalid edit after success", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, workflows.OutcomeSucceeded,
			newInstanceBody("Acme Corp"), []string{"already started `create` of `acme`", "not applied", "file a new issue"}},
		{"edit after an abort", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, workflows.OutcomeAborted,
			inRegion(newInstanceBody("acme"), "europe-west3"), []string{"aborted", "file a new issue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, gh := newFakeTemporal(), newFakeGitHub(t)
			h := newTestWebhook(tmp, gh)
			id := startedOn7(tmp, forms.OpCreate, "acme", 1, tc.status, tc.outcome)
			old := newInstanceBody("acme")
			rec := deliver(h, "issues", editedEvent(ghIssue(7, "alice", "New", tc.newBody, newInstanceLabel), old))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if n := tmp.calls(); n != 0 {
				t.Fatalf("an edit after the start sent %d requests to Temporal", n)
			}
			cs := gh.commentsOn(7)
			if len(cs) != 1 {
				t.Fatalf("want one comment, got %q", cs)
			}
			for _, w := range append(tc.want, id) {
				if !strings.Contains(cs[0], w) {
					t.Errorf("the comment lacks %q:\n%s", w, cs[0])
				}
			}
			if strings.Contains(cs[0], "Request not started") {
				t.Errorf("the comment says the request did not start:\n%s", cs[0])
			}
			// Another edit: still one comment, edited in place; still nothing sent.
			deliver(h, "issues", editedEvent(ghIssue(7, "alice", "New", inRegion(tc.newBody, "asia-northeast1"), newInstanceLabel), tc.newBody))
			if cs := gh.commentsOn(7); len(cs) != 1 || tmp.calls() != 0 {
				t.Errorf("a second edit: %d comments, %d requests", len(cs), tmp.calls())
			}
		})
	}
}

// Deliveries that change no field of the form (a title edit, a label added) after the start stay
// quiet, and send nothing that could start a second operation.
func TestUnchangedFormAfterTheStartIsQuiet(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	startedOn7(tmp, forms.OpCreate, "acme", 1, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, workflows.OutcomeSucceeded)
	body := newInstanceBody("acme")
	deliver(h, "issues", editedEvent(ghIssue(7, "alice", "New", body+"\n", newInstanceLabel), body))
	// The slug was edited before (a refused edit), and then a label is added: nothing either.
	deliver(h, "issues", issuesEvent("labeled", "alice", ghIssue(7, "alice", "New", newInstanceBody("acme2"), newInstanceLabel, "priority")))
	if n, cs := tmp.calls(), gh.commentsOn(7); n != 0 || len(cs) != 0 {
		t.Errorf("%d requests, comments %q", n, cs)
	}
}

// A create the workflow rejected (its release does not exist) is fixed by editing the form: the
// edit is a new attempt, with its own Update ID (so Temporal does not answer it with the first
// attempt's outcome). A delivery that changes nothing does not ask again.
func TestEditAfterARejectionInsideTheWorkflowAsksAgain(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	startedOn7(tmp, forms.OpCreate, "acme", 1, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, workflows.OutcomeRejected)
	old := newInstanceBody("acme")
	deliver(h, "issues", issuesEvent("labeled", "alice", ghIssue(7, "alice", "New", old, newInstanceLabel, "priority")))
	if n := tmp.calls(); n != 0 {
		t.Fatalf("a label on a rejected request asked again (%d calls)", n)
	}
	rec := deliver(h, "issues", editedEvent(ghIssue(7, "alice", "New", inRegion(old, "europe-west3"), newInstanceLabel), old))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	updates, starts := tmp.recorded()
	if len(updates) != 1 || len(starts) != 1 {
		t.Fatalf("%d updates, %d starts; want the create asked again once", len(updates), len(starts))
	}
	r := updates[0].Args[0].(workflows.OperationRequest)
	if updates[0].UpdateID != "sourcegraph/customer/7/create/2" || r.Attempt != 2 || r.Create.Region != "europe-west3" {
		t.Errorf("update %q, attempt %d, region %s", updates[0].UpdateID, r.Attempt, r.Create.Region)
	}
}

// The same rule on an upgrade-tracking issue: an edit of the form after the rollout started
// starts nothing and is answered once; an invalid edit is not called "not started".
func TestTrackingIssueEditAfterTheStartIsAnswered(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	id := workflows.RolloutWorkflowID(customerRef(12))
	tmp.addOperation(id, customerRef(12).String(), enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, workflows.OperationResult{})
	old := upgradeBody("5.10.0")
	for _, body := range []string{upgradeBody("5.10.1"), upgradeBody("latest")} {
		rec := deliver(h, "issues", editedEvent(ghIssue(12, "alice", "Upgrade", body, trackingLabel), old))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("an edit of a running rollout's issue sent %d starts", n)
	}
	cs := gh.commentsOn(12)
	if len(cs) != 1 || !strings.Contains(cs[0], "Edit not applied") || !strings.Contains(cs[0], id) || !strings.Contains(cs[0], "/abort") ||
		strings.Contains(cs[0], "not started") {
		t.Fatalf("want one comment on the rollout's issue, got %q", cs)
	}
}

// A form answered "not started" and then fixed by an edit starts, and the answer on the issue
// says so instead of still saying "not started".
func TestFixedFormReplacesTheNotStartedAnswer(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	bad := newInstanceBody("Acme Corp")
	deliver(h, "issues", issuesEvent("opened", "alice", ghIssue(7, "alice", "New", bad, newInstanceLabel)))
	if cs := gh.commentsOn(7); len(cs) != 1 || !strings.Contains(cs[0], "Request not started") {
		t.Fatalf("the invalid form's answer: %q", cs)
	}
	rec := deliver(h, "issues", editedEvent(ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel), bad))
	if rec.Code != http.StatusAccepted || tmp.calls() != 1 { // the Update, with its start
		t.Fatalf("the fixed form: status %d, %d calls", rec.Code, tmp.calls())
	}
	cs := gh.commentsOn(7)
	if len(cs) != 1 || strings.Contains(cs[0], "not started") || !strings.Contains(cs[0], "create of `acme` started") {
		t.Errorf("the answer after the fix: %q", cs)
	}
}
