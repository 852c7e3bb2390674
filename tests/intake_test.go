package tests

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

func temporalClient(t *testing.T) client.Client {
	t.Helper()
	o, err := stack.ClientOptions() // with the stack's payload codec
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(o)
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

// runsForIssue counts the workflows started for an issue (the Issue search attribute).
func runsForIssue(t *testing.T, tc client.Client, number int) int {
	t.Helper()
	ref := workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: number}
	resp, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: "Issue = '" + ref.String() + "'"})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetExecutions())
}

func TestIssueFormReachesTheInstanceThroughSignedWebhook(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tc := temporalClient(t)

	is, err := stack.FileNewInstance(ctx, "e2e-intake")
	if err != nil {
		t.Fatal(err)
	}
	id := opID(forms.OpCreate, "e2e-intake", is)
	if _, err := stack.WaitWorkflow(ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// The first status comment (the SLA's response) landed on the issue, by the bot, through the
	// real GitHub client.
	eventually(t, 30*time.Second, "the status comment", func() bool { return statusComment(t, is.GetNumber(), id) != "" })
	if c := statusComment(t, is.GetNumber(), id); !strings.Contains(c, "create `e2e-intake`") || !strings.Contains(c, "SLA (new-instance)") {
		t.Fatalf("status comment:\n%s", c)
	}
	// The instance is findable by its slug in visibility.
	desc, err := tc.DescribeWorkflowExecution(ctx, workflows.InstanceWorkflowID("e2e-intake"), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["InstanceSlug"]; got == nil || !strings.Contains(string(got.GetData()), "e2e-intake") {
		t.Fatalf("InstanceSlug search attribute not set: %v", got)
	}

	// Editing the issue delivers another webhook for the same issue: nothing new starts and the
	// starter says nothing more.
	before := len(botComments(t, is.GetNumber()))
	mark := deliveryMark(t)
	if _, _, err := stack.GitHubAs("alice").Issues.Edit(ctx, devstack.SampleOwner, devstack.SampleRepo, is.GetNumber(),
		&github.IssueRequest{Body: github.String(is.GetBody() + "\n")}); err != nil {
		t.Fatal(err)
	}
	if got := waitHandled(t, mark, is.GetNumber()); !slices.Contains(got, "issues.edited") {
		t.Fatalf("deliveries handled after the edit: %v, want issues.edited", got)
	}
	eventually(t, 10*time.Second, "visibility to list the runs", func() bool { return runsForIssue(t, tc, is.GetNumber()) >= 2 })
	if n := runsForIssue(t, tc, is.GetNumber()); n != 2 {
		t.Fatalf("want the instance and its create workflow for the issue after a second delivery, got %d runs", n)
	}
	for _, c := range botComments(t, is.GetNumber())[before:] {
		if strings.Contains(c.GetBody(), "not started") {
			t.Fatalf("a second delivery must not be answered as a rejection: %s", c.GetBody())
		}
	}
}

func TestInvalidFormIsAnsweredAndStartsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tc := temporalClient(t)
	body := strings.Replace(devstack.SampleNewInstanceBody("placeholder"), "placeholder", "Acme Corp", 1)
	body = strings.Replace(body, "203.0.113.0/24", "142.250.217.110/29", 1)
	mark := deliveryMark(t)
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
	if got := waitHandled(t, mark, is.GetNumber()); len(got) < 2 {
		t.Fatalf("deliveries handled: %v, want opened and labeled", got)
	}
	if cs = botComments(t, is.GetNumber()); len(cs) != 1 {
		t.Fatalf("want exactly one rejection comment, got %d", len(cs))
	}
	got := cs[0].GetBody()
	for _, want := range []string{"Slug `Acme Corp`", "lowercase", "IP allowlist `142.250.217.110/29`", "142.250.217.104/29"} {
		if !strings.Contains(got, want) {
			t.Errorf("rejection comment should contain %q:\n%s", want, got)
		}
	}
	if n := runsForIssue(t, tc, is.GetNumber()); n != 0 {
		t.Fatalf("no workflow may start for an invalid form; %d did", n)
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
	if n := runsForIssue(t, temporalClient(t), 999); n != 0 {
		t.Fatalf("a rejected webhook must start nothing; %d workflows did", n)
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
	// The form is valid and routed to the instance workflow, which does not exist: one clear answer.
	var cs []*github.IssueComment
	eventually(t, 15*time.Second, "the unknown-instance comment", func() bool {
		cs = botComments(t, is.GetNumber())
		return len(cs) > 0
	})
	if !strings.Contains(cs[0].GetBody(), "There is no instance `acme-corp`") {
		t.Fatalf("comment for a suspend of an unknown instance:\n%s", cs[0].GetBody())
	}
	// The request started the slug's entity to adopt it from its config.yaml; there is none, so it
	// refused the request and ended holding no instance. No operation ran.
	ref := workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: is.GetNumber()}
	resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "Issue = '" + ref.String() + "'"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range resp.GetExecutions() {
		if id := ex.GetExecution().GetWorkflowId(); id != workflows.InstanceWorkflowID("acme-corp") {
			t.Fatalf("a request for an unknown instance must start no operation; %s started", id)
		}
	}
	eventually(t, 15*time.Second, "the adoption attempt to end", func() bool {
		d, err := tc.DescribeWorkflowExecution(ctx, workflows.InstanceWorkflowID("acme-corp"), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
	if r, err := instance(t, tc, "acme-corp"); err != nil || r.State != workflows.StateNone || len(r.History) != 0 {
		t.Fatalf("the ended adoption attempt holds %+v (%v), want no instance", r, err)
	}

	// Two request labels: one explanation, nothing started.
	mark := deliveryMark(t)
	two, _, err := gh.Issues.Create(ctx, devstack.SampleOwner, devstack.SampleRepo, &github.IssueRequest{
		Title: github.String("Suspend and tear down?"), Body: github.String(suspend),
		Labels: &[]string{forms.LabelOf(forms.OpSuspend), forms.LabelOf(forms.OpTeardown)},
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the ambiguity comment", func() bool {
		cs = botComments(t, two.GetNumber())
		return len(cs) > 0
	})
	if got := waitHandled(t, mark, two.GetNumber()); len(got) < 3 {
		t.Fatalf("deliveries handled: %v, want opened and a labeled per label", got)
	}
	if cs = botComments(t, two.GetNumber()); len(cs) != 1 || !strings.Contains(cs[0].GetBody(), "more than one request label") {
		t.Fatalf("want one comment about the labels, got %d: %v", len(cs), cs)
	}
	if n := runsForIssue(t, tc, two.GetNumber()); n != 0 {
		t.Fatalf("an ambiguous issue must start nothing; %d workflows did", n)
	}
}

// TestEditedIssueStartsAtMostOneOperation: a create that its workflow rejects (the release does not
// exist) says on the issue how to fix it, and editing the form asks again (a second attempt) and
// creates the instance; an edit after that (a new slug) starts nothing and is answered once.
func TestEditedIssueStartsAtMostOneOperation(t *testing.T) {
	ctx := context.Background()
	tc := temporalClient(t)
	const slug, other = "e2e-edit", "e2e-edit-other"
	withVersion := func(body, v string) string {
		return strings.Replace(body, "### "+forms.FieldVersion+"\n\n_No response_", "### "+forms.FieldVersion+"\n\n"+v, 1)
	}
	body := withVersion(devstack.SampleNewInstanceBody(slug), "9.9.9")
	is := fileIssue(t, "alice", forms.OpCreate, "New instance: "+slug, body)
	first := opID(forms.OpCreate, slug, is)
	var c string
	eventually(t, time.Minute, "the rejection on the status comment", func() bool {
		c = statusComment(t, is.GetNumber(), first)
		return strings.Contains(c, "rejected")
	})
	if !strings.Contains(c, "9.9.9") || !strings.Contains(c, "edit the form") {
		t.Fatalf("the rejection does not say what is wrong and how to fix it:\n%s", c)
	}

	edit := func(body string) {
		t.Helper()
		if _, _, err := stack.GitHubAs("alice").Issues.Edit(ctx, devstack.SampleOwner, devstack.SampleRepo, is.GetNumber(),
			&github.IssueRequest{Body: github.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// The fix: a released version. The edit is the request's second attempt.
	body = withVersion(devstack.SampleNewInstanceBody(slug), devstack.LatestVersion)
	edit(body)
	r := waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)
	if r.Instance.Version != devstack.LatestVersion || r.History[len(r.History)-1].WorkflowID != first+"/2" {
		t.Fatalf("after the fix: %+v", r)
	}

	// Another slug after the create succeeded: nothing starts, one comment says why.
	edit(strings.Replace(body, "\n"+slug+"\n", "\n"+other+"\n", 1))
	var answer string
	eventually(t, 30*time.Second, "the answer to the edit after the start", func() bool {
		for _, c := range botComments(t, is.GetNumber()) {
			if strings.Contains(c.GetBody(), "Edit not applied") {
				answer = c.GetBody()
			}
		}
		return answer != ""
	})
	if !strings.Contains(answer, "already started `create` of `"+slug+"`") || !strings.Contains(answer, "slug") || !strings.Contains(answer, "file a new issue") {
		t.Errorf("the answer to the slug edit:\n%s", answer)
	}
	if _, err := tc.DescribeWorkflowExecution(ctx, workflows.InstanceWorkflowID(other), ""); err == nil {
		t.Errorf("the slug edit started instance/%s", other)
	}
}

// TestFormsFromOtherRepositoriesAreIgnored: the webhook hears of issues in every repository, but a
// form filed outside the request repositories (a public one, another organisation's) starts
// nothing and is not answered there: the hand-off would post the admin's email.
func TestFormsFromOtherRepositoriesAreIgnored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tc := temporalClient(t)
	const slug = "e2e-foreign"
	for _, repo := range [][2]string{{"sourcegraph", "sourcegraph"}, {"acme-corp", "customer"}} {
		mark := deliveryMark(t)
		is, _, err := stack.GitHubAs("alice").Issues.Create(ctx, repo[0], repo[1], &github.IssueRequest{
			Title: github.String("New Cloud instance: " + slug), Body: github.String(devstack.SampleNewInstanceBody(slug)),
			Labels: &[]string{forms.TeamLabel, forms.NewInstanceLabel},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := waitHandledIn(t, repo[0]+"/"+repo[1], mark, is.GetNumber()); len(got) < 2 {
			t.Fatalf("%s/%s: deliveries handled %v, want opened and labeled", repo[0], repo[1], got)
		}
		cs, _, err := stack.GitHubAs("bob").Issues.ListComments(ctx, repo[0], repo[1], is.GetNumber(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 0 {
			t.Errorf("%s/%s: the issue was answered: %q", repo[0], repo[1], cs[0].GetBody())
		}
	}
	if _, err := tc.DescribeWorkflowExecution(ctx, workflows.InstanceWorkflowID(slug), ""); err == nil {
		t.Fatal("a form from another repository started the instance workflow")
	}
}
