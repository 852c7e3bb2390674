package activities

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/sim"
)

// ghFixture is the simulator, the GitHub activities (as the bot) and a test-side client (as
// alice, the customer engineer filing issues) for setup and assertions.
type ghFixture struct {
	s   *sim.Sim
	gh  *GitHub
	raw *github.Client
}

const ghTestOwner, ghTestRepo = "sourcegraph", "customer"

func ghNewFixture(t *testing.T) *ghFixture {
	t.Helper()
	s := startSim(t)
	gh, err := NewGitHub("bot-token", s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := github.NewClient(nil).WithAuthToken("alice-token").WithEnterpriseURLs(s.URL()+"/", s.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	return &ghFixture{s: s, gh: gh, raw: raw}
}

// issue files an issue as alice and returns its number.
func (f *ghFixture) issue(t *testing.T, title, body string) int {
	t.Helper()
	is, _, err := f.raw.Issues.Create(context.Background(), ghTestOwner, ghTestRepo, &github.IssueRequest{Title: &title, Body: &body})
	if err != nil {
		t.Fatal(err)
	}
	return is.GetNumber()
}

func (f *ghFixture) comments(t *testing.T, n int) []*github.IssueComment {
	t.Helper()
	cs, _, err := f.raw.Issues.ListComments(context.Background(), ghTestOwner, ghTestRepo, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func ghCommentKey(id int64) string {
	return fmt.Sprintf("github/repos/%s/%s/issues/comments/%d", ghTestOwner, ghTestRepo, id)
}

func ghIssueKey(n int) string {
	return fmt.Sprintf("github/repos/%s/%s/issues/%d", ghTestOwner, ghTestRepo, n)
}

// ghFired is how often the fault rule with this method fired.
func ghFired(s *sim.Sim, method string) int {
	for _, f := range s.Faults() {
		if f.Method == method {
			return f.Fired
		}
	}
	return -1
}

func TestGitHubUpsertCommentIsOneCommentEditedInPlace(t *testing.T) {
	f := ghNewFixture(t)
	n := f.issue(t, "New instance: acme", "### Slug\n\nacme")
	const marker = "<!-- lifecycle:status:create-acme -->"
	// A person quoting the marker somewhere in a comment must not have that comment taken over.
	if _, _, err := f.raw.Issues.CreateComment(context.Background(), ghTestOwner, ghTestRepo, n,
		&github.IssueComment{Body: github.String("the bot uses " + marker + " to find its comment")}); err != nil {
		t.Fatal(err)
	}
	env := activityEnv(f.gh)
	upsert := func(in UpsertCommentInput) CommentResult {
		t.Helper()
		v, err := env.ExecuteActivity(f.gh.UpsertComment, in)
		if err != nil {
			t.Fatal(err)
		}
		var r CommentResult
		if err := v.Get(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	in := UpsertCommentInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Marker: marker, Body: "- [ ] validate\n- [ ] project"}
	first := upsert(in)
	again := upsert(in)
	if first.Action != "created" || again.Action != "unchanged" || again.ID != first.ID {
		t.Fatalf("run twice: want created then unchanged on one comment, got %+v then %+v", first, again)
	}
	if c := ledger(f.s, ghCommentKey(first.ID)); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("identical body must not be edited: ledger %+v", c)
	}

	in.Body = "- [x] validate\n- [ ] project"
	if r := upsert(in); r.Action != "edited" || r.ID != first.ID {
		t.Fatalf("new body: want edited in place, got %+v", r)
	}
	if r := upsert(in); r.Action != "unchanged" {
		t.Fatalf("same new body again: want unchanged, got %+v", r)
	}
	in.CommentID = first.ID // the hint skips listing; same outcome
	if r := upsert(in); r.Action != "unchanged" || r.ID != first.ID {
		t.Fatalf("with the ID hint: %+v", r)
	}
	if c := ledger(f.s, ghCommentKey(first.ID)); c.Created != 1 || c.Mutated != 1 {
		t.Fatalf("want one comment edited exactly once, ledger %+v", c)
	}

	// Another workflow's marker is another comment.
	other := upsert(UpsertCommentInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Marker: "<!-- lifecycle:status:create-acme-2 -->", Body: "other"})
	if other.ID == first.ID || other.Action != "created" {
		t.Fatalf("a different marker must get its own comment: %+v", other)
	}
	cs := f.comments(t, n)
	if len(cs) != 3 || cs[1].GetBody() != marker+"\n"+in.Body || !strings.HasPrefix(cs[0].GetBody(), "the bot uses") {
		t.Fatalf("want alice's comment untouched plus two status comments, got %d: %q", len(cs), cs[1].GetBody())
	}

	_, err := env.ExecuteActivity(f.gh.UpsertComment, UpsertCommentInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Marker: "status", Body: "x"})
	if ae := appError(t, err, ErrInvalidArgument, true); !strings.Contains(ae.Error(), "HTML comment") {
		t.Fatalf("bad marker message: %v", ae)
	}
}

func TestGitHubRetriesInjected5xxAnd429(t *testing.T) {
	f := ghNewFixture(t)
	n := f.issue(t, "Upgrade acme", "")
	const marker = "<!-- lifecycle:status:upgrade-acme -->"

	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "comments.create", Status: 502, Count: 2}); err != nil {
		t.Fatal(err)
	}
	var r CommentResult
	in := UpsertCommentInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Marker: marker, Body: "starting"}
	if err := runWithRetries(t, f.gh, f.gh.UpsertComment, in, &r); err != nil {
		t.Fatalf("502 twice then success: %v", err)
	}
	if got := ghFired(f.s, "comments.create"); got != 2 {
		t.Fatalf("fault fired %d times, want 2", got)
	}
	if cs := f.comments(t, n); len(cs) != 1 || ledger(f.s, ghCommentKey(r.ID)).Created != 1 {
		t.Fatalf("want exactly one comment after the retries, got %d", len(cs))
	}

	// 429 with Retry-After (go-github v55 returns a plain ErrorResponse for it and then refuses
	// requests locally until the reset; both must end in success).
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "comments.edit", Status: 429, RetryAfter: sim.Duration(time.Second), Count: 2}); err != nil {
		t.Fatal(err)
	}
	in.Body = "step 2"
	if err := runWithRetries(t, f.gh, f.gh.UpsertComment, in, &r); err != nil {
		t.Fatalf("429 twice then success: %v", err)
	}
	if got := ghFired(f.s, "comments.edit"); got != 2 {
		t.Fatalf("429 fault fired %d times, want 2", got)
	}
	if c := ledger(f.s, ghCommentKey(r.ID)); c.Created != 1 || c.Mutated != 1 || r.Action != "edited" {
		t.Fatalf("want one comment edited once, ledger %+v result %+v", c, r)
	}
}

func TestGitHubLabelsAndIssueState(t *testing.T) {
	f := ghNewFixture(t)
	n := f.issue(t, "Teardown acme", "please")
	env := activityEnv(f.gh)
	labels := LabelsInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Labels: []string{"lifecycle/running", "sla/at-risk"}}
	for i := 0; i < 2; i++ {
		v, err := env.ExecuteActivity(f.gh.AddLabels, labels)
		if err != nil {
			t.Fatal(err)
		}
		var r LabelsResult
		_ = v.Get(&r)
		if strings.Join(r.Labels, ",") != "lifecycle/running,sla/at-risk" {
			t.Fatalf("run %d: labels %v", i+1, r.Labels)
		}
	}
	for _, l := range labels.Labels {
		if c := ledger(f.s, fmt.Sprintf("github/repos/%s/%s/issues/%d/labels/%s", ghTestOwner, ghTestRepo, n, l)); c.Created != 1 {
			t.Fatalf("label %s applied %d times, want once", l, c.Created)
		}
	}
	if c := ledger(f.s, ghIssueKey(n)); c.Mutated != 1 {
		t.Fatalf("adding the same labels twice must change the issue once, ledger %+v", c)
	}

	rm := RemoveLabelInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Label: "sla/at-risk"}
	for i := 0; i < 2; i++ { // the second time the label is absent: still success
		if _, err := env.ExecuteActivity(f.gh.RemoveLabel, rm); err != nil {
			t.Fatalf("remove run %d: %v", i+1, err)
		}
	}
	rm.Number = 9999
	_, err := env.ExecuteActivity(f.gh.RemoveLabel, rm)
	appError(t, err, ErrNotFound, true)

	state := IssueStateInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, State: "closed", StateReason: "not_planned"}
	for i, want := range []bool{true, false} {
		v, err := env.ExecuteActivity(f.gh.SetIssueState, state)
		if err != nil {
			t.Fatal(err)
		}
		var r IssueStateResult
		_ = v.Get(&r)
		if r.Changed != want || r.State != "closed" || r.StateReason != "not_planned" {
			t.Fatalf("close run %d: %+v", i+1, r)
		}
	}
	before := ledger(f.s, ghIssueKey(n)).Mutated
	v, err := env.ExecuteActivity(f.gh.SetIssueState, IssueStateInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, State: "open"})
	if err != nil {
		t.Fatal(err)
	}
	var r IssueStateResult
	_ = v.Get(&r)
	if !r.Changed || r.State != "open" || ledger(f.s, ghIssueKey(n)).Mutated != before+1 {
		t.Fatalf("reopen: %+v", r)
	}
	_, err = env.ExecuteActivity(f.gh.SetIssueState, IssueStateInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, State: "done"})
	appError(t, err, ErrInvalidArgument, true)
}

func TestGitHubEditIssueBodyKeepsWhatPeopleWrote(t *testing.T) {
	f := ghNewFixture(t)
	n := f.issue(t, "Upgrade tracking: 5.10.0", "Release notes: see the changelog.")
	env := activityEnv(f.gh)
	const section = "<!-- lifecycle:checklist -->"
	edit := func(in EditIssueBodyInput) bool {
		t.Helper()
		v, err := env.ExecuteActivity(f.gh.EditIssueBody, in)
		if err != nil {
			t.Fatal(err)
		}
		var r EditIssueBodyResult
		_ = v.Get(&r)
		return r.Changed
	}
	in := EditIssueBodyInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Section: section, Body: "- [ ] rctest\n- [ ] wave 1"}
	if !edit(in) || edit(in) {
		t.Fatal("first edit must change the body, the identical second must not")
	}
	in.Body = "- [x] rctest\n- [ ] wave 1"
	if !edit(in) {
		t.Fatal("new checklist must change the body")
	}
	is, _, err := f.raw.Issues.Get(context.Background(), ghTestOwner, ghTestRepo, n)
	if err != nil {
		t.Fatal(err)
	}
	want := "Release notes: see the changelog.\n\n" + section + "\n- [x] rctest\n- [ ] wave 1\n<!-- /lifecycle:checklist -->"
	if is.GetBody() != want {
		t.Fatalf("body:\n%s\nwant:\n%s", is.GetBody(), want)
	}
	if c := ledger(f.s, ghIssueKey(n)); c.Mutated != 2 {
		t.Fatalf("want two edits, ledger %+v", c)
	}
	if !edit(EditIssueBodyInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Body: "whole body"}) {
		t.Fatal("replacing the whole body must change it")
	}
}

func TestGitHubTeamsAndReleases(t *testing.T) {
	f := ghNewFixture(t)
	env := activityEnv(f.gh)
	for _, c := range []struct {
		org, team, user string
		want            bool
	}{
		{"sourcegraph", "ce", "alice", true},
		{"sourcegraph", "cloud", "bob", true},
		{"sourcegraph", "cloud", "alice", false},
		{"sourcegraph", "ce", "mallory", false},
		{"sourcegraph", "no-such-team", "alice", false},
	} {
		v, err := env.ExecuteActivity(f.gh.IsTeamMember, TeamMemberInput{Org: c.org, Team: c.team, User: c.user})
		if err != nil {
			t.Fatalf("%s in %s/%s: %v", c.user, c.org, c.team, err)
		}
		var got bool
		_ = v.Get(&got)
		if got != c.want {
			t.Fatalf("%s in %s/%s: got %v want %v", c.user, c.org, c.team, got, c.want)
		}
	}

	for _, tag := range []string{"v5.9.0", "5.10.0"} {
		v, err := env.ExecuteActivity(f.gh.GetRelease, ReleaseInput{Owner: "sourcegraph", Repo: "sourcegraph", Tag: tag})
		if err != nil {
			t.Fatalf("release %s: %v", tag, err)
		}
		var r ReleaseResult
		_ = v.Get(&r)
		if r.Tag != "v"+strings.TrimPrefix(tag, "v") || r.Name == "" {
			t.Fatalf("release %s: %+v", tag, r)
		}
	}
	_, err := env.ExecuteActivity(f.gh.GetRelease, ReleaseInput{Owner: "sourcegraph", Repo: "sourcegraph", Tag: "5.11.0"})
	ae := appError(t, err, ErrNotFound, true)
	if msg := ae.Error(); !strings.Contains(msg, "v5.11.0") || !strings.Contains(msg, "What to do") {
		t.Fatalf("missing release message must name the tag and the fix: %s", msg)
	}
}

func TestGitHubPermanentErrorsAreTypedAndNotRetried(t *testing.T) {
	f := ghNewFixture(t)
	n := f.issue(t, "x", "")

	// An unknown token: 401 Bad credentials.
	bad, err := NewGitHub("not-a-token", f.s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var r CommentResult
	err = runWithRetries(t, bad, bad.Comment, CommentInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Body: "hi"}, &r)
	if ae := appError(t, err, ErrPermissionDenied, true); !strings.Contains(ae.Error(), "Bad credentials") {
		t.Fatalf("message: %v", ae)
	}

	// A 403 without rate-limit headers, as GitHub answers a token lacking a permission. The
	// simulator renders every injected 403 as a rate limit, so this one comes from a bare server.
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/issues/labels"}`)
	}))
	t.Cleanup(srv.Close)
	denied, err := NewGitHub("bot-token", srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var lr LabelsResult
	err = runWithRetries(t, denied, denied.AddLabels, LabelsInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Labels: []string{"a"}}, &lr)
	if ae := appError(t, err, ErrPermissionDenied, true); !strings.Contains(ae.Error(), "Resource not accessible") || !strings.Contains(ae.Error(), "What to do") {
		t.Fatalf("message: %v", ae)
	}
	if calls != 1 {
		t.Fatalf("a permanent error must not be retried: %d calls", calls)
	}

	// An injected 422 is an invalid request, also permanent.
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "labels.add", Status: 422, Message: "Validation Failed", Count: 1}); err != nil {
		t.Fatal(err)
	}
	err = runWithRetries(t, f.gh, f.gh.AddLabels, LabelsInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Labels: []string{"a"}}, &lr)
	appError(t, err, ErrInvalidArgument, true)
	if got := ghFired(f.s, "labels.add"); got != 1 {
		t.Fatalf("422 fired %d times, want 1 (not retried)", got)
	}

	// By contrast, the simulator's injected 403 carries X-RateLimit-Remaining: 0: a retryable
	// rate limit, with the reset as the retry delay.
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "issues.get", Status: 403, Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err = activityEnv(f.gh).ExecuteActivity(f.gh.SetIssueState, IssueStateInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, State: "closed"})
	appError(t, err, ErrRateLimited, false)
}

func TestGitHubCommentStillPosts(t *testing.T) {
	f := ghNewFixture(t)
	n := f.issue(t, "x", "")
	v, err := activityEnv(f.gh).ExecuteActivity(f.gh.Comment, CommentInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: n, Body: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	var r CommentResult
	_ = v.Get(&r)
	if r.ID == 0 || !strings.Contains(r.URL, fmt.Sprintf("/issues/%d#issuecomment-", n)) || len(f.comments(t, n)) != 1 {
		t.Fatalf("comment: %+v", r)
	}
}

// GitHub's secondary rate limit answers 403 or 429 with this body, sometimes without Retry-After.
// go-github v55 knows only the older documentation URLs ("#secondary-rate-limits",
// "#abuse-rate-limits") as *github.AbuseRateLimitError; the current one and every 429 come back as
// a plain *github.ErrorResponse. Each must be RateLimited: Retry-After when present, the reset
// when X-RateLimit-Remaining is 0, otherwise at least a minute, as GitHub's documentation asks.
func TestGitHubSecondaryRateLimitIsRateLimited(t *testing.T) {
	const (
		current = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
		older   = "https://docs.github.com/rest/overview/resources-in-the-rest-api#secondary-rate-limits"
	)
	resetIn := 90 * time.Second
	for _, tc := range []struct {
		name       string
		status     int
		docURL     string
		retryAfter string
		remaining  string
		atLeast    time.Duration
		atMost     time.Duration
	}{
		{"403 without Retry-After", 403, current, "", "4990", time.Minute, time.Minute},
		{"429 without Retry-After", 429, current, "", "4990", time.Minute, time.Minute},
		{"403 with Retry-After", 403, current, "7", "4990", 7 * time.Second, 7 * time.Second},
		{"429 with Retry-After", 429, current, "7", "4990", 7 * time.Second, 7 * time.Second},
		{"403 with the older URL, without Retry-After", 403, older, "", "4990", time.Minute, time.Minute},
		{"403 with the older URL and Retry-After", 403, older, "7", "4990", 7 * time.Second, 7 * time.Second},
		{"429 with the primary limit spent", 429, current, "", "0", resetIn - 5*time.Second, resetIn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset := time.Now().Add(resetIn)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Content-Type", "application/json; charset=utf-8")
				h.Set("X-RateLimit-Limit", "5000")
				h.Set("X-RateLimit-Remaining", tc.remaining)
				h.Set("X-RateLimit-Reset", fmt.Sprint(reset.Unix()))
				if tc.retryAfter != "" {
					h.Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				fmt.Fprintf(w, `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID C0DE:1A2B:3C4D5E:6F7A8B:65A1B2C3.","documentation_url":%q}`, tc.docURL)
			}))
			t.Cleanup(srv.Close)
			g, err := NewGitHub("bot-token", srv.URL+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = activityEnv(g).ExecuteActivity(g.AddLabels, LabelsInput{Owner: ghTestOwner, Repo: ghTestRepo, Number: 1, Labels: []string{"a"}})
			ae := appError(t, err, ErrRateLimited, false)
			if d := ae.NextRetryDelay(); d < tc.atLeast || d > tc.atMost {
				t.Fatalf("NextRetryDelay %v, want between %v and %v", d, tc.atLeast, tc.atMost)
			}
			if !strings.Contains(ae.Error(), "secondary rate limit") {
				t.Fatalf("the message must name the secondary rate limit: %v", ae)
			}
		})
	}
}

// The drift issue: opened once (a second call, as a retry would, finds it by label and leaves it),
// its body edited, closed with a comment when clean; a body over GitHub's 65,536 characters is
// refused before any call.
func TestGitHubEnsureDriftIssue(t *testing.T) {
	f := ghNewFixture(t)
	env := activityEnv(f.gh)
	run := func(in DriftIssueInput) DriftIssueResult {
		t.Helper()
		v, err := env.ExecuteActivity(f.gh.EnsureDriftIssue, in)
		if err != nil {
			t.Fatal(err)
		}
		var r DriftIssueResult
		_ = v.Get(&r)
		return r
	}
	in := DriftIssueInput{Owner: ghTestOwner, Repo: ghTestRepo, Label: "allowlist-drift", Title: "Allowlist drift in Cloudflare"}
	if r := run(in); r.Action != "none" {
		t.Fatalf("no drift, no issue: %+v", r)
	}
	f.issue(t, "unrelated", "")
	in.Body = "acme: allowlist rule missing"
	first := run(in)
	again := run(in)
	if first.Action != "created" || again.Action != "unchanged" || again.Number != first.Number {
		t.Fatalf("first %+v, again %+v: want one issue", first, again)
	}
	if c := ledger(f.s, ghIssueKey(first.Number)); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("ledger %+v", c)
	}
	in.Body = "acme and globex"
	if r := run(in); r.Action != "edited" || r.Number != first.Number {
		t.Fatalf("edit: %+v", r)
	}
	in.Body, in.CloseComment = "", "No drift any more."
	if r := run(in); r.Action != "closed" || r.Number != first.Number {
		t.Fatalf("close: %+v", r)
	}
	if cs := f.comments(t, first.Number); len(cs) != 1 || cs[0].GetBody() != "No drift any more." {
		t.Fatalf("closing comments: %d", len(cs))
	}
	if r := run(in); r.Action != "none" {
		t.Fatalf("closed issue is not reused: %+v", r)
	}

	in.Body = strings.Repeat("x", 65537)
	_, err := env.ExecuteActivity(f.gh.EnsureDriftIssue, in)
	if ae := appError(t, err, ErrInvalidArgument, true); !strings.Contains(ae.Error(), "65536") {
		t.Fatalf("long body: %v", ae)
	}
}
