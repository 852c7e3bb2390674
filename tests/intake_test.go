package tests

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

func temporalClient(t *testing.T) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: stack.TemporalAddr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// botComments lists the comments the service's bot left on an issue.
func botComments(t *testing.T, number int) []*github.IssueComment {
	t.Helper()
	cs, _, err := stack.GitHubAs("bob").Issues.ListComments(context.Background(), devstack.SampleOwner, devstack.SampleRepo, number, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*github.IssueComment
	for _, c := range cs {
		if c.GetUser().GetLogin() == "sg-cloud-bot" {
			out = append(out, c)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestIssueFormStartsWorkflowThroughSignedWebhook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tc := temporalClient(t)

	is, err := stack.FileNewInstance(ctx, "e2e-intake")
	if err != nil {
		t.Fatal(err)
	}
	id := devstack.IntakeID(is.GetNumber())
	if _, err := stack.WaitWorkflow(ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var res workflows.IntakeResult
	if err := tc.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatalf("intake workflow failed: %v", err)
	}

	// The acknowledgement landed on the issue, posted by the bot through the real GitHub client.
	cs := botComments(t, is.GetNumber())
	if len(cs) != 1 || cs[0].GetID() != res.CommentID || !strings.Contains(cs[0].GetBody(), "request received") ||
		!strings.Contains(cs[0].GetBody(), "@alice") {
		t.Fatalf("want one acknowledgement comment by the bot mentioning @alice, got %d: %+v", len(cs), cs)
	}
	// The run is findable by the instance's slug in visibility.
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["InstanceSlug"]; got == nil || !strings.Contains(string(got.GetData()), "e2e-intake") {
		t.Fatalf("InstanceSlug search attribute not set: %v", got)
	}

	// Editing the issue delivers another webhook for the same issue: nothing new starts.
	if _, _, err := stack.GitHubAs("alice").Issues.Edit(ctx, devstack.SampleOwner, devstack.SampleRepo, is.GetNumber(),
		&github.IssueRequest{Body: github.String(is.GetBody() + "\n")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let the edited webhook arrive and be handled
	var runs int
	eventually(t, 10*time.Second, "visibility to list the run", func() bool {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "WorkflowId = '" + id + "'"})
		if err != nil {
			return false
		}
		runs = len(resp.GetExecutions())
		return runs > 0
	})
	if runs != 1 {
		t.Fatalf("want exactly one run for %s after a second delivery, got %d", id, runs)
	}
	if n := len(botComments(t, is.GetNumber())); n != 1 {
		t.Fatalf("a second delivery must not comment again: %d bot comments", n)
	}
}

func TestInvalidFormIsAnsweredAndStartsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tc := temporalClient(t)
	body := strings.Replace(devstack.SampleNewInstanceBody("placeholder"), "placeholder", "Acme Corp", 1)
	body = strings.Replace(body, "203.0.113.0/24", "142.250.217.110/29", 1)
	is, _, err := stack.GitHubAs("alice").Issues.Create(ctx, devstack.SampleOwner, devstack.SampleRepo, &github.IssueRequest{
		Title: github.String("New Cloud instance: broken"), Body: github.String(body), Labels: &[]string{forms.NewInstanceLabel},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*github.IssueComment
	eventually(t, 15*time.Second, "the rejection comment", func() bool {
		cs = botComments(t, is.GetNumber())
		return len(cs) > 0
	})
	// opened + labeled deliveries arrive for the one issue; the answer is a single comment.
	time.Sleep(time.Second)
	if cs = botComments(t, is.GetNumber()); len(cs) != 1 {
		t.Fatalf("want exactly one rejection comment, got %d", len(cs))
	}
	got := cs[0].GetBody()
	for _, want := range []string{"Slug `Acme Corp`", "lowercase", "IP allowlist `142.250.217.110/29`", "142.250.217.104/29"} {
		if !strings.Contains(got, want) {
			t.Errorf("rejection comment should contain %q:\n%s", want, got)
		}
	}
	_, err = tc.DescribeWorkflowExecution(ctx, devstack.IntakeID(is.GetNumber()), "")
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("no workflow may start for an invalid form; describe returned %v", err)
	}
}

func TestForgedOrUnsignedWebhookIsRejected(t *testing.T) {
	body := []byte(`{"action":"opened","issue":{"number":999,"state":"open","body":"x","labels":[{"name":"mi/new-instance-request"}]},"repository":{"name":"customer","owner":{"login":"sourcegraph"}},"sender":{"login":"mallory"}}`)
	sign := func(secret string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	for name, sig := range map[string]string{"unsigned": "", "wrong secret": sign("not-the-secret"), "garbage": "sha256=zz"} {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, stack.StarterURL()+"/webhooks/github", bytes.NewReader(body))
			req.Header.Set("X-GitHub-Event", "issues")
			req.Header.Set("Content-Type", "application/json")
			if sig != "" {
				req.Header.Set("X-Hub-Signature-256", sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("want 401, got %s", resp.Status)
			}
		})
	}
	_, err := temporalClient(t).DescribeWorkflowExecution(context.Background(), devstack.IntakeID(999), "")
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("a rejected webhook must start nothing; describe returned %v", err)
	}
}

func TestEveryFormIsRoutedByItsLabel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tc := temporalClient(t)
	gh := stack.GitHubAs("alice")
	suspend := "### Slug\n\nacme-corp\n\n### Reason\n\nThe customer pauses for the quarter.\n\n### Expected resume date\n\n_No response_\n\n### Agreement date\n\n_No response_\n"

	is, _, err := gh.Issues.Create(ctx, devstack.SampleOwner, devstack.SampleRepo, &github.IssueRequest{
		Title: github.String("Suspend acme-corp"), Body: github.String(suspend), Labels: &[]string{"team/cloud", forms.LabelOf(forms.OpSuspend)},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := devstack.IntakeID(is.GetNumber())
	if _, err := stack.WaitWorkflow(ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	fields := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	if op := string(fields["Operation"].GetData()); op != `"suspend"` {
		t.Fatalf("Operation search attribute: %s", op)
	}
	if slug := string(fields["InstanceSlug"].GetData()); slug != `"acme-corp"` {
		t.Fatalf("InstanceSlug search attribute: %s", slug)
	}

	// Two request labels: one explanation, nothing started.
	two, _, err := gh.Issues.Create(ctx, devstack.SampleOwner, devstack.SampleRepo, &github.IssueRequest{
		Title: github.String("Suspend and tear down?"), Body: github.String(suspend),
		Labels: &[]string{forms.LabelOf(forms.OpSuspend), forms.LabelOf(forms.OpTeardown)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*github.IssueComment
	eventually(t, 15*time.Second, "the ambiguity comment", func() bool {
		cs = botComments(t, two.GetNumber())
		return len(cs) > 0
	})
	time.Sleep(time.Second) // the remaining labeled deliveries
	if cs = botComments(t, two.GetNumber()); len(cs) != 1 || !strings.Contains(cs[0].GetBody(), "more than one request label") {
		t.Fatalf("want one comment about the labels, got %d: %v", len(cs), cs)
	}
	_, err = tc.DescribeWorkflowExecution(ctx, devstack.IntakeID(two.GetNumber()), "")
	var nf *serviceerror.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("an ambiguous issue must start nothing; describe returned %v", err)
	}
}
