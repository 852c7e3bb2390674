package tests

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// TestUnauthorisedRequesterIsRefused: mallory (on no team, not on the allowlist) files a suspend.
// The starter answers once, naming the teams and whom to ask, and nothing starts — not even the
// "no such instance" answer a team member would get.
func TestUnauthorisedRequesterIsRefused(t *testing.T) {
	tc := temporalClient(t)
	mark := deliveryMark(t)
	is := fileIssue(t, "mallory", forms.OpSuspend, "Suspend acme-corp", suspendBody("acme-corp"))
	// Every delivery of the issue (opened, then one labeled per label) is handled: only then can
	// "one comment, nothing started" be checked.
	if got := waitHandled(t, mark, is.GetNumber()); len(got) < 2 {
		t.Fatalf("deliveries handled: %v, want opened and labeled", got)
	}
	cs := botComments(t, is.GetNumber())
	if len(cs) != 1 {
		t.Fatalf("want one refusal comment, got %d", len(cs))
	}
	got := cs[0].GetBody()
	for _, want := range []string{"Request not started", "@mallory", "`sourcegraph/ce`", "`sourcegraph/cloud`", "ask a member of `sourcegraph/cloud`"} {
		if !strings.Contains(got, want) {
			t.Errorf("the refusal should contain %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "There is no instance") {
		t.Errorf("an unauthorised request must be refused before it is routed:\n%s", got)
	}
	if n := runsForIssue(t, tc, is.GetNumber()); n != 0 {
		t.Fatalf("an unauthorised request must start nothing; %d workflows did", n)
	}
}

// TestIssueFormTrialIsSteeredBySlashCommands: a trial filed by alice is extended twice by /extend
// (two comments on one issue are two requests, not duplicates), reported by /status, and converted
// by /convert, all by the Cloud team.
func TestIssueFormTrialIsSteeredBySlashCommands(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-trial-cmd"
	body := strings.Replace(devstack.SampleNewInstanceBody(slug), "\nproduction\n", "\ntrial\n", 1)
	create := fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, body)
	r := waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)
	if r.Trial == nil {
		t.Fatalf("not a trial: %+v", r)
	}
	first := r.Trial.ExpiresAt
	n := create.GetNumber()
	// answers counts the bot's answers to commands ("@user: ..."), not its status comments.
	answers := func() int {
		k := 0
		for _, c := range botComments(t, n) {
			if strings.HasPrefix(c.GetBody(), "@") {
				k++
			}
		}
		return k
	}

	before := answers()
	say(t, "carol", n, "/extend 10")
	eventually(t, 30*time.Second, "the answer to the first /extend", func() bool { return hasReply(t, n, "@carol: The trial of `"+slug+"` is extended by 10 day(s)") })
	say(t, "bob", n, "/extend 5 days legal review")
	eventually(t, 30*time.Second, "the answer to the second /extend", func() bool { return hasReply(t, n, "@bob: The trial of `"+slug+"` is extended by 5 day(s)") })
	r = waitState(t, tc, slug, workflows.StateActive, 10*time.Second)
	if r.Trial == nil || !r.Trial.ExpiresAt.Equal(first.Add(15*24*time.Hour)) {
		t.Fatalf("after two extensions the trial expires %v, want %v", r.Trial, first.Add(15*24*time.Hour))
	}
	say(t, "mallory", n, "/extend 30")
	eventually(t, 30*time.Second, "the refusal of mallory's /extend", func() bool {
		return hasReply(t, n, "@mallory: only members of sourcegraph/cloud can use /extend")
	})
	say(t, "carol", n, "/extend 45")
	eventually(t, 30*time.Second, "the answer to a too long /extend", func() bool { return hasReply(t, n, "@carol: Additional days `45`") })

	say(t, "carol", n, "/status")
	eventually(t, 30*time.Second, "the answer to /status", func() bool {
		return hasReply(t, n, "@carol: the progress of `"+opID(forms.OpCreate, slug, create)+"`:\n\n### create `"+slug+"`: succeeded")
	})

	say(t, "carol", n, "/convert 2026-02-27")
	eventually(t, 30*time.Second, "the answer to /convert", func() bool { return hasReply(t, n, "@carol: convert-trial of `"+slug+"` started") })
	eventually(t, time.Minute, "the conversion", func() bool {
		r, err := instance(t, tc, slug)
		return err == nil && r.Current == nil && r.Trial == nil && r.Instance.Type == "production"
	})
	if got := answers() - before; got != 6 {
		t.Errorf("%d answers to 6 commands", got)
	}
	if t.Failed() {
		for _, c := range botComments(t, n) {
			t.Log(c.GetBody())
		}
	}
}

// TestBotCommentsAreNotCommands: the service's own account, even on the approver team, comments
// /status and /retry on a request's issue: neither is answered nor applied.
func TestBotCommentsAreNotCommands(t *testing.T) {
	bot := func(teams string) {
		simJSON(t, http.MethodPost, "/_sim/github/users", strings.NewReader(
			`{"login":"sg-cloud-bot","token":"bot-token","name":"Sourcegraph Cloud bot","teams":[`+teams+`]}`), nil)
	}
	bot(`"sourcegraph/cloud"`)
	t.Cleanup(func() { bot("") })
	is := fileIssue(t, "alice", forms.OpSuspend, "Suspend e2e-bot-cmd", suspendBody("e2e-bot-cmd"))
	eventually(t, 30*time.Second, "the answer to the request", func() bool { return len(botComments(t, is.GetNumber())) > 0 })
	before := len(botComments(t, is.GetNumber()))

	mark := deliveryMark(t)
	gh, err := github.NewClient(nil).WithAuthToken("bot-token").WithEnterpriseURLs(stack.SimURL()+"/", stack.SimURL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"/status", "/retry"} {
		if _, _, err := gh.Issues.CreateComment(context.Background(), devstack.SampleOwner, devstack.SampleRepo, is.GetNumber(),
			&github.IssueComment{Body: github.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := waitHandled(t, mark, is.GetNumber()); len(got) < 2 {
		t.Fatalf("deliveries handled: %v, want the two comments", got)
	}
	cs := botComments(t, is.GetNumber())
	if len(cs) != before+2 {
		for _, c := range cs[before:] {
			t.Log(c.GetBody())
		}
		t.Fatalf("%d comments by the bot after its two commands, want only those two", len(cs)-before)
	}
}
