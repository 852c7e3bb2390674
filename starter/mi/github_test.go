package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sourcegraph/lifecycle/workflows"
)

// fakeGitHub answers the two REST calls mi start makes (read an issue, comment on it) for the
// issues it holds, and 404 for any other, as GitHub does.
type fakeGitHub struct {
	mu       sync.Mutex
	state    map[int]string // issue number -> open | closed
	comments map[int][]string
	calls    int
}

var ghIssueRE = regexp.MustCompile(`^/api/v3/repos/sourcegraph/customer/issues/(\d+)(/comments)?$`)

func newFakeGitHub(t *testing.T, issues map[int]string) (*fakeGitHub, map[string]string) {
	g := &fakeGitHub{state: issues, comments: map[int][]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.calls++
		m := ghIssueRE.FindStringSubmatch(r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer bot-token" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		var n int
		if m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		st, ok := g.state[n]
		if !ok {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && m[2] == "":
			json.NewEncoder(w).Encode(map[string]any{"number": n, "state": st})
		case r.Method == http.MethodPost && m[2] != "":
			var c struct{ Body string }
			json.NewDecoder(r.Body).Decode(&c)
			g.comments[n] = append(g.comments[n], c.Body)
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"id": len(g.comments[n]), "body": c.Body})
		default:
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return g, map[string]string{"GITHUB_TOKEN": "bot-token", "GITHUB_API_URL": srv.URL + "/"}
}

func (g *fakeGitHub) commentsOn(n int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.comments[n], "\n---\n")
}

// mi start refuses a missing or closed issue before it sends anything to Temporal, and writes
// who asked, through mi, and why on the issue once the request is accepted.
func TestStartChecksTheIssueAndRecordsWhoAndWhy(t *testing.T) {
	f := newFake()
	f.answers["instance/acme instance"] = recordOf("acme", "5.10.0")
	f.result = workflows.RequestAccepted{WorkflowID: "suspend/acme/sourcegraph/customer/9", Message: "suspend of `acme` started: workflow suspend/acme/sourcegraph/customer/9"}
	g, env := newFakeGitHub(t, map[int]string{9: "open", 10: "closed"})
	env["MI_USER"] = "carol"

	code, _, errText := runMi(t, f, env, "start", "suspend", "acme", "-reason", "unpaid", "-issue", "9999")
	if code != exitError || !strings.Contains(errText, "issue sourcegraph/customer#9999 does not exist") || !strings.Contains(errText, "-issue") {
		t.Errorf("missing issue: exit %d %q", code, errText)
	}
	code, _, errText = runMi(t, f, env, "start", "suspend", "acme", "-reason", "unpaid", "-issue", "10")
	if code != exitError || !strings.Contains(errText, "issue sourcegraph/customer#10 is closed") || !strings.Contains(errText, "Reopen it") {
		t.Errorf("closed issue: exit %d %q", code, errText)
	}
	if len(f.updates) != 0 {
		t.Fatalf("a request was sent for a missing or closed issue: %+v", f.updates)
	}
	delete(env, "GITHUB_TOKEN")
	code, _, errText = runMi(t, f, env, "start", "suspend", "acme", "-reason", "unpaid", "-issue", "9")
	if code != exitError || !strings.Contains(errText, "GITHUB_TOKEN is not set") || len(f.updates) != 0 {
		t.Errorf("no token: exit %d %q, %d updates", code, errText, len(f.updates))
	}
	env["GITHUB_TOKEN"] = "bot-token"

	code, _, errText = runMi(t, f, env, "start", "suspend", "acme", "-reason", "unpaid invoice, agreed with the CE", "-issue", "9")
	if code != exitOK || len(f.updates) != 1 {
		t.Fatalf("open issue: exit %d %q, %d updates", code, errText, len(f.updates))
	}
	wantContains(t, "the comment on #9", g.commentsOn(9), "Requested by @carol via `mi start`", "**Reason:** unpaid invoice, agreed with the CE",
		"suspend of `acme` started")
	// An operation whose form has no reason field takes -reason too, for the issue.
	code, _, errText = runMi(t, f, env, "start", "upgrade", "acme", "-version", "5.10.1", "-reason", "CVE fix", "-issue", "9")
	if code != exitOK || !strings.Contains(g.commentsOn(9), "**Reason:** CVE fix") {
		t.Errorf("upgrade with -reason: exit %d %q; comments:\n%s", code, errText, g.commentsOn(9))
	}
}
