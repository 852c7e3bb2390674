package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// Intake: which repositories are served, whose comments are commands, and how deliveries are
// counted.

// inRepo moves a delivery to another repository, as GitHub would send it from there.
func inRepo(body []byte, owner, name string) []byte {
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		panic(err)
	}
	r := e["repository"].(map[string]any)
	r["name"], r["full_name"] = name, owner+"/"+name
	r["owner"].(map[string]any)["login"] = owner
	return mustJSON(e)
}

// countingMetrics records counter increments by outcome tag.
type countingMetrics struct {
	mu     *sync.Mutex
	tags   map[string]string
	counts map[string]int64
}

func newCountingMetrics() countingMetrics {
	return countingMetrics{mu: &sync.Mutex{}, tags: map[string]string{}, counts: map[string]int64{}}
}

func (m countingMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	n := countingMetrics{mu: m.mu, tags: map[string]string{}, counts: m.counts}
	for k, v := range m.tags {
		n.tags[k] = v
	}
	for k, v := range tags {
		n.tags[k] = v
	}
	return n
}

func (m countingMetrics) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.counts[m.tags["outcome"]] += d
	})
}
func (m countingMetrics) Gauge(string) client.MetricsGauge { return nil }
func (m countingMetrics) Timer(string) client.MetricsTimer { return nil }

func (m countingMetrics) count(outcome string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[outcome]
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

// A form filed in any repository but the served ones (a public one, another organisation's) starts
// nothing and gets no comment (the hand-off would carry the admin's email there); the delivery is
// answered 2xx and counted.
func TestWebhookServesOnlyItsRepositories(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	m := newCountingMetrics()
	h.metrics = m
	form := issuesEvent("opened", "alice", ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel))
	tracking := issuesEvent("opened", "alice", ghIssue(7, "alice", "5.10.0", upgradeBody("5.10.0"), trackingLabel))
	retry := commentEvent("carol", 3001, "/retry", ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel))
	bad := issuesEvent("opened", "alice", ghIssue(7, "alice", "New", newInstanceBody("Acme Corp"), newInstanceLabel))
	refused := issuesEvent("opened", "mallory", ghIssue(7, "mallory", "New", newInstanceBody("acme"), newInstanceLabel))
	for _, repo := range [][2]string{{"sourcegraph", "sourcegraph"}, {"acme-corp", "customer"}, {"Sourcegraph", "customer-fork"}} {
		for name, d := range map[string]struct {
			event string
			body  []byte
		}{
			"form": {"issues", form}, "tracking": {"issues", tracking}, "command": {"issue_comment", retry},
			"invalid form": {"issues", bad}, "unauthorised requester": {"issues", refused},
		} {
			rec := deliver(h, d.event, inRepo(d.body, repo[0], repo[1]))
			if rec.Code < 200 || rec.Code > 299 {
				t.Errorf("%s in %s/%s: status %d, want 2xx (handled, not to be redelivered)", name, repo[0], repo[1], rec.Code)
			}
		}
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("deliveries from other repositories reached Temporal %d times", n)
	}
	if cs := gh.commentsOn(7); len(cs) != 0 {
		t.Fatalf("deliveries from other repositories were answered on their issues: %q", cs)
	}
	if n := m.count(outcomeOtherRepository); n != 15 {
		t.Fatalf("%d deliveries counted as %s, want 15", n, outcomeOtherRepository)
	}
}

// Instance requests are served from the request repositories, upgrade-tracking issues from the
// tracking repository only.
func TestWebhookServesEachKindFromItsRepository(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	h.repos = repos{request: []string{"sourcegraph/customer", "sourcegraph/customer-eu"}, tracking: "sourcegraph/releases"}
	form := issuesEvent("opened", "alice", ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel))
	tracking := issuesEvent("opened", "alice", ghIssue(8, "alice", "5.10.0", upgradeBody("5.10.0"), trackingLabel))

	for _, d := range [][]byte{inRepo(form, "sourcegraph", "releases"), inRepo(tracking, "sourcegraph", "customer")} {
		if rec := deliver(h, "issues", d); rec.Code < 200 || rec.Code > 299 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("a request from the wrong kind of repository reached Temporal %d times", n)
	}
	if rec := deliver(h, "issues", inRepo(form, "sourcegraph", "Customer-EU")); rec.Code != http.StatusAccepted {
		t.Fatalf("a form in a request repository: status %d: %s", rec.Code, rec.Body)
	}
	if rec := deliver(h, "issues", inRepo(tracking, "sourcegraph", "releases")); rec.Code != http.StatusAccepted {
		t.Fatalf("a tracking issue in the tracking repository: status %d: %s", rec.Code, rec.Body)
	}
	updates, starts := tmp.recorded()
	if len(updates) != 1 || updates[0].Args[0].(workflows.OperationRequest).Issue.Repo != "Customer-EU" {
		t.Fatalf("updates %+v", updates)
	}
	if len(starts) != 2 || starts[1].ID != workflows.RolloutWorkflowID(workflows.IssueRef{Owner: "sourcegraph", Repo: "releases", Number: 8}) {
		t.Fatalf("starts %+v", starts)
	}
}

func TestReposFromEnv(t *testing.T) {
	r, err := reposFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.request, []string{"sourcegraph/customer"}) || r.tracking != "sourcegraph/customer" {
		t.Fatalf("defaults %+v", r)
	}
	t.Setenv("LIFECYCLE_REQUEST_REPOS", " sourcegraph/customer, Sourcegraph/Customer-EU ,sourcegraph/customer")
	t.Setenv("LIFECYCLE_TRACKING_REPO", "sourcegraph/releases")
	if r, err = reposFromEnv(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.request, []string{"sourcegraph/customer", "sourcegraph/customer-eu"}) || r.tracking != "sourcegraph/releases" {
		t.Fatalf("parsed %+v", r)
	}
	for _, tc := range []struct{ name, value string }{
		{"LIFECYCLE_REQUEST_REPOS", "sourcegraph"},
		{"LIFECYCLE_REQUEST_REPOS", "sourcegraph/customer/x"},
		{"LIFECYCLE_REQUEST_REPOS", " , "},
		{"LIFECYCLE_TRACKING_REPO", "sourcegraph/a,sourcegraph/b"},
		{"LIFECYCLE_TRACKING_REPO", "customer"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := reposFromEnv()
			if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "owner/name") {
				t.Fatalf("error %v, want one naming %s and the owner/name form", err, tc.name)
			}
		})
	}
}

// The service never obeys itself: a comment by its own login (even with the bot on the approver
// team) or by any Bot account is not a command, and is not answered.
func TestCommandsFromTheBotAreIgnored(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	gh.teams["sourcegraph/cloud"] = append(gh.teams["sourcegraph/cloud"], "sg-cloud-bot", "renovate")
	self, err := botLogin(t.Context(), gh.client())
	if err != nil || self != "sg-cloud-bot" {
		t.Fatalf("the bot's login from GET /user: %q, %v", self, err)
	}
	h := newTestWebhook(tmp, gh)
	h.self = self
	issue := ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel)
	tmp.answer(workflows.OperationWorkflowID("create", "acme", "sourcegraph/customer/7"), workflows.QueryProgress,
		workflows.Progress{State: "parked", Parked: &workflows.Parked{Step: "database"}})
	m := newCountingMetrics()
	h.metrics = m

	own := commentEvent("carol", 4001, "@carol: no step is parked.\n\n/retry", issue)
	own = setCommenter(own, "SG-Cloud-Bot", "User")
	app := setCommenter(commentEvent("carol", 4002, "/retry", issue), "renovate[bot]", "Bot")
	appNamed := setCommenter(commentEvent("carol", 4003, "/retry", issue), "renovate", "Bot")
	for name, d := range map[string][]byte{"own login": own, "a bot": app, "a bot named like a member": appNamed} {
		if rec := deliver(h, "issue_comment", d); rec.Code < 200 || rec.Code > 299 {
			t.Fatalf("%s: status %d", name, rec.Code)
		}
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("the bot's comments were obeyed: %d Updates", n)
	}
	if cs := gh.commentsOn(7); len(cs) != 0 {
		t.Fatalf("the bot's comments were answered: %q", cs)
	}
	if n := m.count(outcomeIgnored); n != 3 {
		t.Fatalf("%d ignored, want 3", n)
	}
	// carol's own /retry still works.
	if rec := deliver(h, "issue_comment", commentEvent("carol", 4004, "/retry", issue)); rec.Code != http.StatusOK || tmp.calls() != 1 {
		t.Fatalf("carol's /retry: status %d, %d Updates", rec.Code, tmp.calls())
	}
}

// setCommenter makes a comment delivery come from another account (login and type).
func setCommenter(body []byte, login, typ string) []byte {
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		panic(err)
	}
	for _, u := range []map[string]any{e["comment"].(map[string]any)["user"].(map[string]any), e["sender"].(map[string]any)} {
		u["login"], u["type"] = login, typ
	}
	return mustJSON(e)
}

// Commands are found in the comment's Markdown, as GitHub renders it: a paragraph that starts with
// "/". Code, quotes, HTML comments and list items show a command without giving it.
func TestCommandsAreParagraphsThatStartWithASlash(t *testing.T) {
	for _, tc := range []struct{ name, body, cmd, arg string }{
		{"alone", "/retry", "/retry", ""},
		{"upper case", "/RETRY", "/retry", ""},
		{"with arguments", "/skip acme flaky network", "/skip", "acme flaky network"},
		{"first line of its paragraph", "/skip the probe flaked\nsee the dashboard", "/skip", "the probe flaked"},
		{"after other text", "Looked at it, the quota is raised.\n\n/retry", "/retry", ""},
		{"indented by up to three spaces", "   /retry", "/retry", ""},
		{"CRLF", "Done.\r\n\r\n/retry\r\n", "/retry", ""},
		{"the first command counts", "/retry\n\n/abort", "/retry", ""},
		{"a path is not a command", "/tmp filled up, cleaned.\n\n/retry", "/retry", ""},
		{"unknown command", "/shrug", "", ""},
		{"indented code block", "    /retry", "", ""},
		{"indented code after text", "To retry, say:\n\n    /retry\n", "", ""},
		{"fenced code", "```\n/retry\n```", "", ""},
		{"tilde fence", "~~~sh\n/retry\n~~~", "", ""},
		{"block quote", "> /retry", "", ""},
		{"quoted reply", "> @carol: no step is parked.\n> /retry\n\nthanks", "", ""},
		{"HTML comment", "<!-- /retry -->", "", ""},
		{"HTML comment over lines", "<!--\n/retry\n-->", "", ""},
		{"list item", "- /retry", "", ""},
		{"numbered list item", "1. /retry", "", ""},
		{"inline code", "`/retry`", "", ""},
		{"in a sentence", "Please /retry", "", ""},
		{"heading", "# /retry", "", ""},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, arg := findCommand(tc.body)
			if cmd != tc.cmd || arg != tc.arg {
				t.Fatalf("findCommand(%q) = %q %q, want %q %q", tc.body, cmd, arg, tc.cmd, tc.arg)
			}
		})
	}
}

// An indented code block showing /retry does not re-run a parked step.
func TestCommandInCodeIsNotRun(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	issue := ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel)
	tmp.answer(workflows.OperationWorkflowID("create", "acme", "sourcegraph/customer/7"), workflows.QueryProgress,
		workflows.Progress{State: "parked", Parked: &workflows.Parked{Step: "database"}})
	for i, body := range []string{"    /retry", "```\n/retry\n```", "> /retry", "<!-- /retry -->", "- /retry"} {
		if rec := deliver(h, "issue_comment", commentEvent("carol", int64(5000+i), body, issue)); rec.Code != http.StatusAccepted {
			t.Fatalf("%q: status %d", body, rec.Code)
		}
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("a command shown in Markdown was run: %d Updates", n)
	}
	if cs := gh.commentsOn(7); len(cs) != 0 {
		t.Fatalf("answered: %q", cs)
	}
	if rec := deliver(h, "issue_comment", commentEvent("carol", 5100, "The quota is raised.\n\n/retry", issue)); rec.Code != http.StatusOK || tmp.calls() != 1 {
		t.Fatalf("a command after text: status %d, %d Updates", rec.Code, tmp.calls())
	}
}

// Repeated deliveries of one request (opened, labeled, edited, GitHub's redelivery) count as
// duplicate, not accepted: accepted counts requests started.
func TestRepeatedDeliveriesCountAsDuplicates(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	m := newCountingMetrics()
	h.metrics = m
	create := ghIssue(7, "alice", "New", newInstanceBody("acme"), forms.TeamLabel, newInstanceLabel)
	tracking := ghIssue(8, "alice", "5.10.0", upgradeBody("5.10.0"), trackingLabel)
	extend := commentEvent("carol", 6001, "/extend 10", create)
	for _, d := range []struct {
		event string
		body  []byte
	}{
		{"issues", issuesEvent("opened", "alice", create)}, {"issues", issuesEvent("labeled", "alice", create)},
		{"issues", issuesEvent("labeled", "alice", create)}, {"issues", issuesEvent("edited", "alice", create)},
		{"issues", issuesEvent("opened", "alice", tracking)}, {"issues", issuesEvent("labeled", "alice", tracking)},
		{"issue_comment", extend}, {"issue_comment", extend},
	} {
		if rec := deliver(h, d.event, d.body); rec.Code < 200 || rec.Code > 299 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	if a, d := m.count(outcomeAccepted), m.count(outcomeDuplicate); a != 3 || d != 5 {
		t.Fatalf("%d accepted and %d duplicate; want 3 requests accepted (create, rollout, /extend) and 5 duplicates", a, d)
	}
	if cs := gh.commentsOn(7); len(cs) != 1 {
		t.Fatalf("want one answer to the /extend comment, got %q", cs)
	}
}

// When Temporal cannot be asked, the reply says so and what to do; the error chain goes to the log.
func TestCommandRepliesCarryNoErrorChain(t *testing.T) {
	chain := errors.New("rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 10.0.0.7:7233: connect: connection refused\"")
	issue := ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel)
	for _, tc := range []struct {
		name, body string
		setup      func(*fakeTemporal)
	}{
		{"query fails", "/retry", func(f *fakeTemporal) { f.queryErr = chain }},
		{"status query fails", "/status", func(f *fakeTemporal) { f.queryErr = chain }},
		{"update fails", "/retry", func(f *fakeTemporal) {
			f.answer(workflows.OperationWorkflowID("create", "acme", "sourcegraph/customer/7"), workflows.QueryProgress,
				workflows.Progress{State: "parked", Parked: &workflows.Parked{Step: "database"}})
			f.updateErr = chain
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, gh := newFakeTemporal(), newFakeGitHub(t)
			tc.setup(tmp)
			h := newTestWebhook(tmp, gh)
			deliver(h, "issue_comment", commentEvent("carol", 7001, tc.body, issue))
			cs := gh.commentsOn(7)
			if len(cs) != 1 {
				t.Fatalf("want one reply, got %q", cs)
			}
			for _, bad := range []string{"rpc error", "dial tcp", "10.0.0.7"} {
				if strings.Contains(cs[0], bad) {
					t.Errorf("the reply carries the error chain (%q): %s", bad, cs[0])
				}
			}
			if !strings.Contains(cs[0], "try again") {
				t.Errorf("the reply should say what to do: %s", cs[0])
			}
		})
	}
}

// /retry on an issue whose operation never started says so, not "does not answer".
func TestRetryOfAnOperationThatDoesNotExist(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	issue := ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel)
	deliver(h, "issue_comment", commentEvent("carol", 7101, "/retry", issue))
	if cs := gh.commentsOn(7); len(cs) != 1 || !strings.Contains(cs[0], "is not running (`suspend/acme/sourcegraph/customer/7` never started, or is gone)") {
		t.Fatalf("replies %q", cs)
	}
}
