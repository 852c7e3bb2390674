package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// hangingTemporal never answers: every call waits for its context, as a client does whose
// Temporal is stopped or unreachable.
type hangingTemporal struct{ *fakeTemporal }

func (h hangingTemporal) UpdateWithStartWorkflow(ctx context.Context, _ client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h hangingTemporal) ExecuteWorkflow(ctx context.Context, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h hangingTemporal) QueryWorkflow(ctx context.Context, _, _, _ string, _ ...any) (converter.EncodedValue, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h hangingTemporal) ListWorkflow(ctx context.Context, _ *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// GitHub tries a delivery once and gives up after 10 s: with Temporal unreachable, every kind of
// delivery that needs it is answered 5xx within the budget (a second), so GitHub records a failed
// delivery the sweeper redelivers, instead of a hung request.
func TestWebhookAnswersWithinTheBudgetWhenTemporalHangs(t *testing.T) {
	gh := newFakeGitHub(t)
	h := newTestWebhook(boundedTemporal{hangingTemporal{newFakeTemporal()}, temporalBudget}, gh)
	issue := ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel)
	cases := []struct {
		name, event string
		body        []byte
		want        int
	}{
		{"opened request", "issues", issuesEvent("opened", "alice", issue), http.StatusServiceUnavailable},
		{"labeled request", "issues", issuesEvent("labeled", "alice", issue), http.StatusServiceUnavailable},
		{"opened rollout", "issues", issuesEvent("opened", "bob", ghIssue(8, "bob", "Upgrade", upgradeBody("5.10.0"), trackingLabel)), http.StatusServiceUnavailable},
		// /status is answered on the issue ("does not answer; try again"): handled, 2xx.
		{"status command", "issue_comment", commentEvent("carol", 901, "/status", issue), http.StatusOK},
	}
	for _, c := range cases {
		began := time.Now()
		rec := deliver(h, c.event, c.body)
		if took := time.Since(began); took > time.Second {
			t.Errorf("%s: answered after %s, want within 1 s", c.name, took)
		}
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.name, rec.Code, c.want, rec.Body)
		}
	}
	if cs := gh.commentsOn(7); len(cs) != 1 || !strings.Contains(cs[0], "does not answer") {
		t.Errorf("/status got no answer on the issue within the budget: %q", cs)
	}
	if rec := deliver(h, "issues", issuesEvent("opened", "alice", ghIssue(9, "alice", "Suspend", "### Slug\n\nNot A Slug!\n", suspendLabel))); rec.Code != http.StatusOK {
		t.Errorf("an invalid form is handled without Temporal (answered on the issue): status %d, want 200", rec.Code)
	}
}
