package main

import (
	"net/http"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/sourcegraph/lifecycle/workflows"
)

// `/reconcile` on the drift issue: refused to someone outside the approver team, started once per
// comment for a member (a redelivery starts nothing and says nothing), and answered with where it
// belongs on any other issue.
func TestReconcileCommandOnTheDriftIssue(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	drift := ghIssue(12, "sg-cloud-bot", workflows.DriftIssueTitle, "drift", workflows.DriftLabel)

	deliver(h, "issue_comment", commentEvent("alice", 5001, "/reconcile", drift))
	if _, starts := tmp.recorded(); len(starts) != 0 {
		t.Fatalf("alice is not on the approver team, but %d workflows started", len(starts))
	}
	if c := gh.commentsOn(12); len(c) != 1 || !strings.Contains(c[0], "@alice: only members of sourcegraph/cloud can use /reconcile") {
		t.Fatalf("answers = %q", c)
	}

	for range 2 { // the second is GitHub redelivering the first
		if rec := deliver(h, "issue_comment", commentEvent("carol", 5002, "/reconcile", drift)); rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	_, starts := tmp.recorded()
	if len(starts) != 1 || starts[0].ID != workflows.ReconcileWorkflowID("comment-5002") ||
		starts[0].WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE || !starts[0].WorkflowExecutionErrorWhenAlreadyStarted {
		t.Fatalf("starts = %+v, want one reconcile named after the comment, never reused", starts)
	}
	if c := gh.commentsOn(12); len(c) != 2 || !strings.HasPrefix(c[1], "@carol: reconcile started") {
		t.Fatalf("answers = %q, want one answer to carol", c)
	}

	other := ghIssue(13, "alice", "New instance", newInstanceBody("acme"), newInstanceLabel)
	deliver(h, "issue_comment", commentEvent("carol", 5003, "/reconcile", other))
	if c := gh.commentsOn(13); len(c) != 1 || !strings.Contains(c[0], "works on the allowlist drift issue only") {
		t.Fatalf("answers on a request issue = %q", c)
	}
	if _, starts := tmp.recorded(); len(starts) != 1 {
		t.Fatalf("%d starts after /reconcile on a request issue", len(starts))
	}
}
