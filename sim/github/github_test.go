package github_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gh "github.com/google/go-github/v55/github"
	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/github"
)

const secret = "s3cret"

// watcher is a test-only part that records sim.ConfigChanged calls.
type watcher struct {
	mu      sync.Mutex
	changes []configChange
}

type configChange struct {
	repo, path string
	content    []byte
}

func (w *watcher) Name() string       { return "watcher" }
func (w *watcher) Routes(*sim.Routes) {}
func (w *watcher) GRPC(*grpc.Server)  {}
func (w *watcher) Snapshot() any      { return nil }
func (w *watcher) Reset()             {}
func (w *watcher) ConfigChanged(repo, path string, content []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.changes = append(w.changes, configChange{repo, path, append([]byte(nil), content...)})
}

func (w *watcher) find(repo, path string) []configChange {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []configChange
	for _, c := range w.changes {
		if c.repo == repo && c.path == path {
			out = append(out, c)
		}
	}
	return out
}

// receiver is the webhook endpoint: it records every request and can fail the first few.
type receiver struct {
	mu       sync.Mutex
	failLeft int
	reqs     []received
}

type received struct {
	header http.Header
	body   []byte
	status int
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	status := 200
	if rv.failLeft > 0 {
		rv.failLeft--
		status = 500
	}
	rv.reqs = append(rv.reqs, received{header: r.Header.Clone(), body: body, status: status})
	w.WriteHeader(status)
}

// events returns the accepted deliveries of one event type.
func (rv *receiver) events(event string) []received {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	var out []received
	for _, r := range rv.reqs {
		if r.status == 200 && r.header.Get("X-GitHub-Event") == event {
			out = append(out, r)
		}
	}
	return out
}

// request rebuilds the delivery as an *http.Request, as the service's handler would see it.
func (r received) request(body []byte) *http.Request {
	req := httptest.NewRequest("POST", "/webhook", bytes.NewReader(body))
	req.Header = r.header.Clone()
	return req
}

type env struct {
	sim     *sim.Sim
	part    *github.Part
	watcher *watcher
	recv    *receiver
}

func start(t *testing.T, failFirst int) *env {
	t.Helper()
	e := &env{watcher: &watcher{}, recv: &receiver{failLeft: failFirst}}
	hooks := httptest.NewServer(e.recv)
	t.Cleanup(hooks.Close)
	s, err := sim.Start(sim.Config{WebhookURL: hooks.URL, WebhookSecret: secret,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		github.New, func(*sim.Sim) sim.Part { return e.watcher })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e.sim = s
	e.part = s.Part("github").(*github.Part)
	return e
}

func (e *env) client(t *testing.T, token string) *gh.Client {
	t.Helper()
	c, err := gh.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(e.sim.URL()+"/", e.sim.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func status(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	return 0
}

func labelNames(ls []*gh.Label) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.GetName())
	}
	return out
}

var ctx = context.Background()

func TestEnterpriseBaseURLAndRateHeaders(t *testing.T) {
	e := start(t, 0)
	c := e.client(t, "bot-token")
	if got := c.BaseURL.String(); got != e.sim.URL()+"/api/v3/" {
		t.Fatalf("BaseURL = %s", got)
	}
	repo, resp, err := c.Repositories.Get(ctx, "sourcegraph", "cloud")
	if err != nil {
		t.Fatal(err)
	}
	if repo.GetDefaultBranch() != "main" || repo.GetFullName() != "sourcegraph/cloud" {
		t.Errorf("repo = %s default %s", repo.GetFullName(), repo.GetDefaultBranch())
	}
	if resp.Rate.Limit != 5000 || resp.Rate.Remaining != 4999 || resp.Rate.Reset.IsZero() {
		t.Errorf("rate = %+v", resp.Rate)
	}
	if resp.Header.Get("X-RateLimit-Used") != "1" || resp.Header.Get("X-RateLimit-Resource") != "core" {
		t.Errorf("rate headers = %v", resp.Header)
	}
	me, _, err := c.Users.Get(ctx, "")
	if err != nil || me.GetLogin() != "sg-cloud-bot" {
		t.Fatalf("authenticated user = %v, %v", me.GetLogin(), err)
	}
}

func TestAuth(t *testing.T) {
	e := start(t, 0)
	_, _, err := e.client(t, "wrong").Issues.Get(ctx, "sourcegraph", "cloud", 1)
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 401 || er.Message != "Bad credentials" {
		t.Fatalf("bad token: %v", err)
	}
	req, _ := http.NewRequest("GET", e.sim.URL()+"/api/v3/repos/sourcegraph/cloud/no-such-route", nil)
	req.Header.Set("Authorization", "token bot-token")
	if _, err := e.client(t, "bot-token").Do(ctx, req, nil); status(err) != 404 || err.(*gh.ErrorResponse).Message != "Not Found" {
		t.Fatalf("unknown route: %v", err)
	}
	resp, err := http.Get(e.sim.URL() + "/api/v3/repos/sourcegraph/cloud/issues")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("X-RateLimit-Limit") != "60" {
		t.Fatalf("no token: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestIssues(t *testing.T) {
	e := start(t, 0)
	alice, bot := e.client(t, "alice-token"), e.client(t, "bot-token")
	is, resp, err := alice.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{
		Title: gh.String("New instance: acme"), Body: gh.String("### Customer\nacme"), Labels: &[]string{"new-instance"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || is.GetNumber() != 1 || is.GetState() != "open" || is.GetUser().GetLogin() != "alice" ||
		!strings.HasSuffix(is.GetHTMLURL(), "/sourcegraph/customers/issues/1") || len(is.Labels) != 1 {
		t.Fatalf("created issue = %+v", is)
	}

	got, _, err := bot.Issues.Get(ctx, "sourcegraph", "customers", 1)
	if err != nil || got.GetBody() != "### Customer\nacme" || got.GetTitle() != "New instance: acme" {
		t.Fatalf("get: %v %v", got, err)
	}
	if _, _, err := bot.Issues.Get(ctx, "sourcegraph", "customers", 99); status(err) != 404 {
		t.Fatalf("missing issue: %v", err)
	}
	var er *gh.ErrorResponse
	if _, _, err := bot.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{Body: gh.String("x")}); !errors.As(err, &er) ||
		er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Field != "title" || er.Errors[0].Code != "missing_field" {
		t.Fatalf("missing title: %v", err)
	}

	// Labels: add (one new, one present), remove, list.
	ls, _, err := bot.Issues.AddLabelsToIssue(ctx, "sourcegraph", "customers", 1, []string{"in-progress", "new-instance"})
	if err != nil || fmt.Sprint(labelNames(ls)) != "[in-progress new-instance]" {
		t.Fatalf("add labels: %v %v", labelNames(ls), err)
	}
	if _, err := bot.Issues.RemoveLabelForIssue(ctx, "sourcegraph", "customers", 1, "new-instance"); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.Issues.RemoveLabelForIssue(ctx, "sourcegraph", "customers", 1, "nope"); status(err) != 404 {
		t.Fatalf("remove absent label: %v", err)
	}
	ls, _, _ = bot.Issues.ListLabelsByIssue(ctx, "sourcegraph", "customers", 1, nil)
	if fmt.Sprint(labelNames(ls)) != "[in-progress]" {
		t.Fatalf("labels = %v", labelNames(ls))
	}
	if _, _, err := bot.Issues.CreateLabel(ctx, "sourcegraph", "customers", &gh.Label{Name: gh.String("in-progress")}); !errors.As(err, &er) ||
		er.Response.StatusCode != 422 || er.Errors[0].Code != "already_exists" {
		t.Fatalf("duplicate label: %v", err)
	}

	// Edit and close.
	ed, _, err := bot.Issues.Edit(ctx, "sourcegraph", "customers", 1, &gh.IssueRequest{Title: gh.String("New instance: acme-corp")})
	if err != nil || ed.GetTitle() != "New instance: acme-corp" {
		t.Fatalf("edit: %v", err)
	}
	cl, _, err := bot.Issues.Edit(ctx, "sourcegraph", "customers", 1, &gh.IssueRequest{State: gh.String("closed"), StateReason: gh.String("not_planned")})
	if err != nil || cl.GetState() != "closed" || cl.GetStateReason() != "not_planned" || cl.ClosedAt == nil || cl.GetClosedBy().GetLogin() != "sg-cloud-bot" {
		t.Fatalf("close: %+v %v", cl, err)
	}

	// Listing: state filter, label filter, pagination.
	for i := 0; i < 4; i++ {
		if _, _, err := alice.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{Title: gh.String(fmt.Sprint("t", i)), Labels: &[]string{"upgrade"}}); err != nil {
			t.Fatal(err)
		}
	}
	open, _, _ := bot.Issues.ListByRepo(ctx, "sourcegraph", "customers", nil)
	all, _, _ := bot.Issues.ListByRepo(ctx, "sourcegraph", "customers", &gh.IssueListByRepoOptions{State: "all"})
	closed, _, _ := bot.Issues.ListByRepo(ctx, "sourcegraph", "customers", &gh.IssueListByRepoOptions{State: "closed", Labels: []string{"in-progress"}})
	if len(open) != 4 || len(all) != 5 || len(closed) != 1 || open[0].GetNumber() != 5 {
		t.Fatalf("lists: open %d all %d closed %d first %d", len(open), len(all), len(closed), open[0].GetNumber())
	}
	page, resp, _ := bot.Issues.ListByRepo(ctx, "sourcegraph", "customers", &gh.IssueListByRepoOptions{ListOptions: gh.ListOptions{PerPage: 3}})
	if len(page) != 3 || resp.NextPage != 2 || resp.LastPage != 2 {
		t.Fatalf("page 1: %d next %d last %d", len(page), resp.NextPage, resp.LastPage)
	}
}

func TestCommentsPaginationAndLedger(t *testing.T) {
	e := start(t, 0)
	bot := e.client(t, "bot-token")
	if _, _, err := bot.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{Title: gh.String("x")}); err != nil {
		t.Fatal(err)
	}
	st, _, err := bot.Issues.CreateComment(ctx, "sourcegraph", "customers", 1, &gh.IssueComment{Body: gh.String("status: queued")})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"status: running", "status: done"} {
		if _, _, err := bot.Issues.EditComment(ctx, "sourcegraph", "customers", st.GetID(), &gh.IssueComment{Body: gh.String(body)}); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := bot.Issues.GetComment(ctx, "sourcegraph", "customers", st.GetID())
	if err != nil || got.GetBody() != "status: done" || got.GetUser().GetLogin() != "sg-cloud-bot" ||
		!strings.Contains(got.GetHTMLURL(), fmt.Sprintf("#issuecomment-%d", st.GetID())) {
		t.Fatalf("get comment: %+v %v", got, err)
	}
	key := fmt.Sprintf("github/repos/sourcegraph/customers/issues/comments/%d", st.GetID())
	if c := e.sim.Ledger()[key]; c.Created != 1 || c.Mutated != 2 || c.Deleted != 0 {
		t.Fatalf("ledger %s = %+v", key, c)
	}

	for i := 0; i < 6; i++ {
		if _, _, err := bot.Issues.CreateComment(ctx, "sourcegraph", "customers", 1, &gh.IssueComment{Body: gh.String(fmt.Sprint("c", i))}); err != nil {
			t.Fatal(err)
		}
	}
	var bodies []string
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 3}}
	pages := 0
	for {
		cs, resp, err := bot.Issues.ListComments(ctx, "sourcegraph", "customers", 1, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range cs {
			bodies = append(bodies, c.GetBody())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || strings.Join(bodies, ",") != "status: done,c0,c1,c2,c3,c4,c5" {
		t.Fatalf("pages %d bodies %v", pages, bodies)
	}
	if _, _, err := bot.Issues.EditComment(ctx, "sourcegraph", "customers", 424242, &gh.IssueComment{Body: gh.String("x")}); status(err) != 404 {
		t.Fatalf("edit missing comment: %v", err)
	}
}

func TestContentsPullRequestsAndMerge(t *testing.T) {
	e := start(t, 0)
	bot := e.client(t, "bot-token")
	const o, r = "sourcegraph", "cloud"
	path := "environments/prod/deployments/acme/config.yaml"

	// A file created on main fires ConfigChanged right away.
	cr, resp, err := bot.Repositories.CreateFile(ctx, o, r, path, &gh.RepositoryContentFileOptions{
		Message: gh.String("create acme"), Content: []byte("version: 5.8.0\n")})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create file: %v", err)
	}
	if ch := e.watcher.find("sourcegraph/cloud", path); len(ch) != 1 || string(ch[0].content) != "version: 5.8.0\n" {
		t.Fatalf("config changes after create = %+v", ch)
	}
	blob := cr.Content.GetSHA()
	if blob != "7ac49edbbc58d8230607816bc9de66c2b353cdf3" { // git hash-object of the content
		t.Fatalf("blob sha %q", blob)
	}

	// Optimistic concurrency: no sha → 422, wrong sha → 409.
	if _, _, err := bot.Repositories.UpdateFile(ctx, o, r, path, &gh.RepositoryContentFileOptions{Message: gh.String("m"), Content: []byte("x")}); status(err) != 422 {
		t.Fatalf("update without sha: %v", err)
	}
	if _, _, err := bot.Repositories.UpdateFile(ctx, o, r, path, &gh.RepositoryContentFileOptions{Message: gh.String("m"), Content: []byte("x"), SHA: gh.String(strings.Repeat("0", 40))}); status(err) != 409 {
		t.Fatalf("update with wrong sha: %v", err)
	}

	// Branch from main, change the file there: main and the watcher are untouched.
	mainRef, _, err := bot.Git.GetRef(ctx, o, r, "heads/main")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bot.Git.CreateRef(ctx, o, r, &gh.Reference{Ref: gh.String("refs/heads/upgrade-acme"), Object: &gh.GitObject{SHA: mainRef.Object.SHA}}); err != nil {
		t.Fatal(err)
	}
	var er *gh.ErrorResponse
	if _, _, err := bot.Git.CreateRef(ctx, o, r, &gh.Reference{Ref: gh.String("refs/heads/upgrade-acme"), Object: &gh.GitObject{SHA: mainRef.Object.SHA}}); !errors.As(err, &er) ||
		er.Response.StatusCode != 422 || er.Message != "Reference already exists" {
		t.Fatalf("duplicate ref: %v", err)
	}
	if _, _, err := bot.Repositories.UpdateFile(ctx, o, r, path, &gh.RepositoryContentFileOptions{
		Message: gh.String("upgrade acme"), Content: []byte("version: 5.9.0\n"), SHA: gh.String(blob), Branch: gh.String("upgrade-acme")}); err != nil {
		t.Fatal(err)
	}
	onMain, _, _, err := bot.Repositories.GetContents(ctx, o, r, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := onMain.GetContent(); s != "version: 5.8.0\n" || len(e.watcher.find("sourcegraph/cloud", path)) != 1 {
		t.Fatalf("main changed before merge: %q", s)
	}
	onBranch, _, _, _ := bot.Repositories.GetContents(ctx, o, r, path, &gh.RepositoryContentGetOptions{Ref: "upgrade-acme"})
	if s, _ := onBranch.GetContent(); s != "version: 5.9.0\n" {
		t.Fatalf("branch content %q", s)
	}

	// Pull request, duplicate rejected, merge lands on main and fires ConfigChanged.
	pr, _, err := bot.PullRequests.Create(ctx, o, r, &gh.NewPullRequest{Title: gh.String("Upgrade acme"), Head: gh.String("upgrade-acme"), Base: gh.String("main"), Body: gh.String("to 5.9.0")})
	if err != nil || pr.GetNumber() != 1 || !pr.GetMergeable() || pr.GetHead().GetRef() != "upgrade-acme" {
		t.Fatalf("create PR: %+v %v", pr, err)
	}
	if _, _, err := bot.PullRequests.Create(ctx, o, r, &gh.NewPullRequest{Title: gh.String("again"), Head: gh.String("sourcegraph:upgrade-acme"), Base: gh.String("main")}); !errors.As(err, &er) ||
		er.Response.StatusCode != 422 || !strings.Contains(er.Errors[0].Message, "A pull request already exists for sourcegraph:upgrade-acme.") {
		t.Fatalf("duplicate PR: %v", err)
	}
	listed, _, err := bot.PullRequests.List(ctx, o, r, &gh.PullRequestListOptions{Head: "sourcegraph:upgrade-acme"})
	if err != nil || len(listed) != 1 || listed[0].GetBody() != "to 5.9.0" {
		t.Fatalf("list PRs by head: %d %v", len(listed), err)
	}
	res, _, err := bot.PullRequests.Merge(ctx, o, r, 1, "", &gh.PullRequestOptions{MergeMethod: "squash"})
	if err != nil || !res.GetMerged() || len(res.GetSHA()) != 40 {
		t.Fatalf("merge: %+v %v", res, err)
	}
	onMain, _, _, _ = bot.Repositories.GetContents(ctx, o, r, path, nil)
	if s, _ := onMain.GetContent(); s != "version: 5.9.0\n" {
		t.Fatalf("main after merge %q", s)
	}
	if ch := e.watcher.find("sourcegraph/cloud", path); len(ch) != 2 || string(ch[1].content) != "version: 5.9.0\n" {
		t.Fatalf("config changes after merge = %d", len(ch))
	}
	if _, _, err := bot.PullRequests.Merge(ctx, o, r, 1, "", nil); status(err) != 405 {
		t.Fatalf("merge twice: %v", err)
	}
	merged, _, _ := bot.PullRequests.Get(ctx, o, r, 1)
	if !merged.GetMerged() || merged.GetState() != "closed" || merged.GetMergeCommitSHA() != res.GetSHA() {
		t.Fatalf("merged PR = %+v", merged)
	}

	// Two branches from the same main change the same file: the second merge conflicts.
	mainRef, _, _ = bot.Git.GetRef(ctx, o, r, "heads/main")
	cur, _, _, _ := bot.Repositories.GetContents(ctx, o, r, path, nil)
	for i, br := range []string{"a", "b"} {
		if _, _, err := bot.Git.CreateRef(ctx, o, r, &gh.Reference{Ref: gh.String("refs/heads/" + br), Object: &gh.GitObject{SHA: mainRef.Object.SHA}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := bot.Repositories.UpdateFile(ctx, o, r, path, &gh.RepositoryContentFileOptions{
			Message: gh.String(br), Content: []byte(fmt.Sprintf("version: 5.10.%d\n", i)), SHA: cur.SHA, Branch: gh.String(br)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := bot.PullRequests.Create(ctx, o, r, &gh.NewPullRequest{Title: gh.String(br), Head: gh.String(br), Base: gh.String("main")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := bot.PullRequests.Merge(ctx, o, r, 2, "", &gh.PullRequestOptions{MergeMethod: "merge"}); err != nil {
		t.Fatal(err)
	}
	conflicting, _, _ := bot.PullRequests.Get(ctx, o, r, 3)
	if conflicting.GetMergeable() || conflicting.GetMergeableState() != "dirty" {
		t.Fatalf("conflicting PR mergeable = %v %s", conflicting.GetMergeable(), conflicting.GetMergeableState())
	}
	if _, _, err := bot.PullRequests.Merge(ctx, o, r, 3, "", &gh.PullRequestOptions{MergeMethod: "squash"}); !errors.As(err, &er) ||
		er.Response.StatusCode != 405 || er.Message != "Pull Request is not mergeable" {
		t.Fatalf("conflicting merge: %v", err)
	}

	// Ledger: the file landed on main three times (create + two merges).
	if c := e.sim.Ledger()["github/repos/sourcegraph/cloud/contents/"+path]; c.Created != 1 || c.Mutated != 2 {
		t.Fatalf("contents ledger = %+v", c)
	}
}

func TestTreesAndDirectories(t *testing.T) {
	e := start(t, 0)
	files := map[string]string{"README.md": "fleet\n"}
	for _, slug := range []string{"acme", "globex", "initech"} {
		files["environments/prod/deployments/"+slug+"/config.yaml"] = "slug: " + slug + "\n"
	}
	files["environments/dev/deployments/rctest/config.yaml"] = "slug: rctest\n"
	if err := e.part.CreateRepo("sourcegraph/cloud", files); err != nil {
		t.Fatal(err)
	}
	if got := len(e.watcher.find("sourcegraph/cloud", "environments/prod/deployments/acme/config.yaml")); got != 1 {
		t.Fatalf("seeding did not reach the watcher: %d", got)
	}
	bot := e.client(t, "bot-token")
	tree, _, err := bot.Git.GetTree(ctx, "sourcegraph", "cloud", "main", true)
	if err != nil {
		t.Fatal(err)
	}
	var configs []string
	for _, en := range tree.Entries {
		if en.GetType() == "blob" && strings.HasSuffix(en.GetPath(), "/config.yaml") && strings.HasPrefix(en.GetPath(), "environments/prod/") {
			configs = append(configs, en.GetPath())
		}
	}
	if tree.GetTruncated() || len(configs) != 3 || configs[0] != "environments/prod/deployments/acme/config.yaml" {
		t.Fatalf("recursive tree: truncated %v, configs %v", tree.GetTruncated(), configs)
	}
	flat, _, _ := bot.Git.GetTree(ctx, "sourcegraph", "cloud", tree.GetSHA(), false)
	if len(flat.Entries) != 2 { // README.md and environments/
		t.Fatalf("top-level tree has %d entries", len(flat.Entries))
	}
	_, dir, _, err := bot.Repositories.GetContents(ctx, "sourcegraph", "cloud", "environments/prod/deployments", nil)
	if err != nil || len(dir) != 3 || dir[0].GetType() != "dir" || dir[1].GetName() != "globex" {
		t.Fatalf("directory listing: %d %v", len(dir), err)
	}
	_, root, _, err := bot.Repositories.GetContents(ctx, "sourcegraph", "cloud", "", nil)
	if err != nil || len(root) != 2 || root[0].GetName() != "README.md" || root[1].GetType() != "dir" {
		t.Fatalf("root listing: %d %v", len(root), err)
	}
	if _, _, _, err := bot.Repositories.GetContents(ctx, "sourcegraph", "cloud", "nope.txt", nil); status(err) != 404 {
		t.Fatalf("missing file: %v", err)
	}
	// The commit behind main is reachable through the git data API.
	ref, _, _ := bot.Git.GetRef(ctx, "sourcegraph", "cloud", "heads/main")
	cm, _, err := bot.Git.GetCommit(ctx, "sourcegraph", "cloud", ref.Object.GetSHA())
	if err != nil || cm.GetTree().GetSHA() != tree.GetSHA() || len(cm.Parents) != 1 {
		t.Fatalf("commit: %+v %v", cm, err)
	}
}

func TestGitDataCommitFlow(t *testing.T) {
	e := start(t, 0)
	bot := e.client(t, "bot-token")
	const o, r = "sourcegraph", "cloud"
	ref, _, _ := bot.Git.GetRef(ctx, o, r, "heads/main")
	base, _, _ := bot.Git.GetCommit(ctx, o, r, ref.Object.GetSHA())
	tree, _, err := bot.Git.CreateTree(ctx, o, r, base.Tree.GetSHA(), []*gh.TreeEntry{
		{Path: gh.String("environments/prod/deployments/x/config.yaml"), Mode: gh.String("100644"), Type: gh.String("blob"), Content: gh.String("slug: x\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cm, _, err := bot.Git.CreateCommit(ctx, o, r, &gh.Commit{Message: gh.String("add x"), Tree: tree, Parents: []*gh.Commit{base}})
	if err != nil {
		t.Fatal(err)
	}
	ref.Object.SHA = cm.SHA
	if _, _, err := bot.Git.UpdateRef(ctx, o, r, ref, false); err != nil {
		t.Fatal(err)
	}
	if ch := e.watcher.find("sourcegraph/cloud", "environments/prod/deployments/x/config.yaml"); len(ch) != 1 {
		t.Fatalf("ref update did not fire ConfigChanged: %v", ch)
	}
	// Moving main back to its parent is not a fast forward.
	ref.Object.SHA = base.SHA
	if _, _, err := bot.Git.UpdateRef(ctx, o, r, ref, false); status(err) != 422 {
		t.Fatalf("non fast-forward: %v", err)
	}
}

func TestReleasesTeamsAndUsers(t *testing.T) {
	e := start(t, 0)
	bot := e.client(t, "bot-token")
	rel, _, err := bot.Repositories.GetReleaseByTag(ctx, "sourcegraph", "sourcegraph", "v5.9.0")
	if err != nil || rel.GetTagName() != "v5.9.0" || rel.GetDraft() {
		t.Fatalf("release by tag: %v", err)
	}
	if _, _, err := bot.Repositories.GetReleaseByTag(ctx, "sourcegraph", "sourcegraph", "v9.9.9"); status(err) != 404 {
		t.Fatalf("unknown release: %v", err)
	}
	if err := e.part.AddRelease(github.Release{Repo: "sourcegraph/sourcegraph", Tag: "v5.11.0"}); err != nil {
		t.Fatal(err)
	}
	list, _, _ := bot.Repositories.ListReleases(ctx, "sourcegraph", "sourcegraph", nil)
	latest, _, _ := bot.Repositories.GetLatestRelease(ctx, "sourcegraph", "sourcegraph")
	if len(list) != 4 || list[0].GetTagName() != "v5.11.0" || latest.GetTagName() != "v5.11.0" {
		t.Fatalf("releases %d first %s latest %s", len(list), list[0].GetTagName(), latest.GetTagName())
	}

	m, _, err := bot.Teams.GetTeamMembershipBySlug(ctx, "sourcegraph", "ce", "alice")
	if err != nil || m.GetState() != "active" || m.GetRole() != "member" {
		t.Fatalf("alice in ce: %v %v", m, err)
	}
	if _, _, err := bot.Teams.GetTeamMembershipBySlug(ctx, "sourcegraph", "ce", "mallory"); status(err) != 404 {
		t.Fatalf("mallory in ce: %v", err)
	}
	if _, _, err := bot.Teams.GetTeamMembershipBySlug(ctx, "sourcegraph", "cloud", "alice"); status(err) != 404 {
		t.Fatalf("alice in cloud: %v", err)
	}

	// Users added through the admin API authenticate at once.
	body := `{"login":"dave","token":"dave-token","teams":["sourcegraph/cloud"]}`
	resp, err := http.Post(e.sim.URL()+"/_sim/github/users", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("admin add user: %v %v", resp, err)
	}
	resp.Body.Close()
	me, _, err := e.client(t, "dave-token").Users.Get(ctx, "")
	if err != nil || me.GetLogin() != "dave" {
		t.Fatalf("dave: %v", err)
	}
	if _, _, err := bot.Teams.GetTeamMembershipBySlug(ctx, "sourcegraph", "cloud", "dave"); err != nil {
		t.Fatalf("dave in cloud: %v", err)
	}
}

func TestInjectedRateLimits(t *testing.T) {
	e := start(t, 0)
	if _, err := e.sim.AddFault(sim.Fault{API: "github", Method: "issues.get", Status: 403, Message: "API rate limit exceeded for user ID 1.", Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.client(t, "bot-token").Issues.Get(ctx, "sourcegraph", "cloud", 1)
	var rl *gh.RateLimitError
	if !errors.As(err, &rl) || rl.Rate.Remaining != 0 || rl.Message != "API rate limit exceeded for user ID 1." {
		t.Fatalf("403 rate limit: %T %v", err, err)
	}

	if _, err := e.sim.AddFault(sim.Fault{API: "github", Method: "comments.edit", Status: 429, RetryAfter: sim.Duration(2 * time.Second), Count: 1}); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, "bot-token")
	c.Issues.Create(ctx, "sourcegraph", "cloud", &gh.IssueRequest{Title: gh.String("x")})
	cm, _, err := c.Issues.CreateComment(ctx, "sourcegraph", "cloud", 1, &gh.IssueComment{Body: gh.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	// Match sees the path the client sent, even though comment routes are served from a rewrite.
	if _, err := e.sim.AddFault(sim.Fault{API: "github", Match: fmt.Sprintf("/issues/comments/%d", cm.GetID()), Status: 502, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Issues.GetComment(ctx, "sourcegraph", "cloud", cm.GetID()); status(err) != 502 {
		t.Fatalf("match on comment path: %v", err)
	}
	_, _, err = c.Issues.EditComment(ctx, "sourcegraph", "cloud", cm.GetID(), &gh.IssueComment{Body: gh.String("b")})
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 429 || er.Response.Header.Get("Retry-After") != "2" ||
		er.Response.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429: %T %v", err, err)
	}
	if c := e.sim.Ledger()[fmt.Sprintf("github/repos/sourcegraph/cloud/issues/comments/%d", cm.GetID())]; c.Mutated != 0 {
		t.Fatalf("a rejected edit was counted: %+v", c)
	}
}

func TestWebhooks(t *testing.T) {
	e := start(t, 0)
	alice := e.client(t, "alice-token")
	is, _, err := alice.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{
		Title: gh.String("New instance: acme"), Body: gh.String("body"), Labels: &[]string{"new-instance", "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.client(t, "bot-token").Issues.CreateComment(ctx, "sourcegraph", "customers", is.GetNumber(), &gh.IssueComment{Body: gh.String("on it")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "issues and issue_comment deliveries", func() bool {
		return len(e.recv.events("issues")) == 3 && len(e.recv.events("issue_comment")) == 1
	})

	issues := e.recv.events("issues")
	var actions []string
	for i, d := range issues {
		if d.header.Get("User-Agent") == "" || !strings.HasPrefix(d.header.Get("User-Agent"), "GitHub-Hookshot/") ||
			d.header.Get("X-GitHub-Delivery") == "" || !strings.HasPrefix(d.header.Get("X-Hub-Signature-256"), "sha256=") {
			t.Fatalf("headers: %v", d.header)
		}
		payload, err := gh.ValidatePayload(d.request(d.body), []byte(secret))
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
		ev, err := gh.ParseWebHook(gh.WebHookType(d.request(d.body)), payload)
		if err != nil {
			t.Fatal(err)
		}
		ie, ok := ev.(*gh.IssuesEvent)
		if !ok {
			t.Fatalf("parsed %T", ev)
		}
		actions = append(actions, ie.GetAction())
		if ie.GetIssue().GetNumber() != is.GetNumber() || ie.GetSender().GetLogin() != "alice" ||
			ie.GetRepo().GetFullName() != "sourcegraph/customers" || len(ie.GetIssue().Labels) != 2 || ie.GetIssue().GetBody() != "body" {
			t.Fatalf("issues event: %+v", ie)
		}
		if i > 0 && ie.GetLabel().GetName() == "" {
			t.Fatalf("labeled event without label")
		}
	}
	if strings.Join(actions, ",") != "opened,labeled,labeled" {
		t.Fatalf("actions = %v", actions)
	}

	d := e.recv.events("issue_comment")[0]
	payload, err := gh.ValidatePayload(d.request(d.body), []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := gh.ParseWebHook("issue_comment", payload)
	ce, ok := ev.(*gh.IssueCommentEvent)
	if !ok || ce.GetAction() != "created" || ce.GetComment().GetBody() != "on it" || ce.GetSender().GetLogin() != "sg-cloud-bot" || ce.GetIssue().GetNumber() != is.GetNumber() {
		t.Fatalf("comment event: %+v", ev)
	}

	// A tampered body fails the signature check.
	tampered := bytes.Replace(d.body, []byte("on it"), []byte("rm -rf"), 1)
	if _, err := gh.ValidatePayload(d.request(tampered), []byte(secret)); err == nil {
		t.Fatal("tampered payload validated")
	}

	// Closing with a label change: labeled/unlabeled per label and closed, in order.
	if _, _, err := alice.Issues.Edit(ctx, "sourcegraph", "customers", is.GetNumber(), &gh.IssueRequest{
		State: gh.String("closed"), Labels: &[]string{"prod", "done"}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "close deliveries", func() bool { return len(e.recv.events("issues")) == 6 })
	actions = nil
	for _, d := range e.recv.events("issues")[3:] {
		var ev struct{ Action string }
		json.Unmarshal(d.body, &ev)
		actions = append(actions, ev.Action)
	}
	if strings.Join(actions, ",") != "unlabeled,labeled,closed" {
		t.Fatalf("edit actions = %v", actions)
	}
}

func TestAdminAndSnapshot(t *testing.T) {
	e := start(t, 0)
	resp, err := http.Post(e.sim.URL()+"/_sim/github/repos", "application/json",
		strings.NewReader(`{"full_name":"sourcegraph/cloud","files":{"environments/prod/deployments/acme/config.yaml":"slug: acme\n"}}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("admin repo: %v %v", resp, err)
	}
	resp.Body.Close()
	// Fault rules never reach the admin API.
	e.sim.AddFault(sim.Fault{API: "github", Status: 500})
	resp, err = http.Get(e.sim.URL() + "/_sim/github/repos")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin under faults: %v %v", resp, err)
	}
	resp.Body.Close()
	e.sim.ClearFaults(0)

	bot := e.client(t, "bot-token")
	bot.Issues.Create(ctx, "sourcegraph", "cloud", &gh.IssueRequest{Title: gh.String("x"), Labels: &[]string{"l"}})
	snap, _ := json.Marshal(e.sim.Snapshot()["github"])
	for _, want := range []string{`"sourcegraph/cloud"`, `"environments/prod/deployments/acme/config.yaml"`, `"title":"x"`, `"deliveries"`} {
		if !bytes.Contains(snap, []byte(want)) {
			t.Errorf("snapshot lacks %s: %s", want, snap)
		}
	}
	// Reset drops state and seeds again.
	e.sim.Reset()
	if _, _, err := bot.Issues.Get(ctx, "sourcegraph", "cloud", 1); status(err) != 404 {
		t.Fatalf("issue survived reset: %v", err)
	}
	if _, _, err := bot.Repositories.GetReleaseByTag(ctx, "sourcegraph", "sourcegraph", "v5.8.0"); err != nil {
		t.Fatalf("seed release after reset: %v", err)
	}
}

func TestStrictRepos(t *testing.T) {
	w := &watcher{}
	path := "environments/prod/deployments/acme/config.yaml"
	s, err := sim.Start(sim.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		github.WithOptions(github.Options{Users: github.DefaultUsers(), StrictRepos: true,
			Repos: map[string]map[string]string{"sourcegraph/cloud": {path: "slug: acme\n"}}}),
		func(*sim.Sim) sim.Part { return w }) // registered after github, yet sees the seeded file
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Snapshot() // any Lock runs the seeding
	if ch := w.find("sourcegraph/cloud", path); len(ch) != 1 || string(ch[0].content) != "slug: acme\n" {
		t.Fatalf("seeded file did not reach the watcher: %+v", ch)
	}
	s.Reset()
	s.Snapshot()
	if ch := w.find("sourcegraph/cloud", path); len(ch) != 2 {
		t.Fatalf("seeded file not re-announced after reset: %d", len(ch))
	}
	c, _ := gh.NewClient(nil).WithAuthToken("bot-token").WithEnterpriseURLs(s.URL()+"/", s.URL()+"/")
	if _, _, err := c.Repositories.Get(ctx, "sourcegraph", "nope"); status(err) != 404 {
		t.Fatalf("unknown repo: %v", err)
	}
	if _, _, err := c.Repositories.Get(ctx, "sourcegraph", "cloud"); err != nil {
		t.Fatalf("seeded repo: %v", err)
	}
	var er *gh.ErrorResponse
	_, _, err = c.Repositories.Get(ctx, "sourcegraph", "nope")
	if !errors.As(err, &er) || er.Message != "Not Found" || er.DocumentationURL == "" {
		t.Fatalf("404 body: %+v", er)
	}
}

// GitHub limits an issue's and a comment's body to 65,536 characters (code points, so a
// multi-byte body at the limit is taken) and answers 422 Validation Failed over it, on create
// and on edit, in the wording each resource uses.
func TestBodiesOverTheLimitAreRefused(t *testing.T) {
	e := start(t, 0)
	bot := e.client(t, "bot-token")
	atLimit := strings.Repeat("é", github.MaxBodyChars) // 131,072 bytes, 65,536 characters
	over := atLimit + "x"
	is, _, err := bot.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{Title: gh.String("x"), Body: gh.String(atLimit)})
	if err != nil {
		t.Fatalf("a body of exactly 65,536 characters: %v", err)
	}
	want := func(what string, err error, resource, code, field, msg string) {
		t.Helper()
		var er *gh.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != 422 || er.Message != "Validation Failed" || len(er.Errors) != 1 ||
			er.Errors[0].Resource != resource || er.Errors[0].Code != code || er.Errors[0].Field != field || er.Errors[0].Message != msg {
			t.Errorf("%s: %v, want 422 %s/%s/%s %q", what, err, resource, code, field, msg)
		}
	}
	issueMsg, commentMsg := "body is too long (maximum is 65536 characters)", "Body is too long (maximum is 65536 characters)"
	_, _, err = bot.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{Title: gh.String("y"), Body: gh.String(over)})
	want("create issue", err, "Issue", "custom", "body", issueMsg)
	_, _, err = bot.Issues.Edit(ctx, "sourcegraph", "customers", is.GetNumber(), &gh.IssueRequest{Body: gh.String(over)})
	want("edit issue", err, "Issue", "custom", "body", issueMsg)
	_, _, err = bot.Issues.CreateComment(ctx, "sourcegraph", "customers", is.GetNumber(), &gh.IssueComment{Body: gh.String(over)})
	want("create comment", err, "IssueComment", "unprocessable", "data", commentMsg)
	cm, _, err := bot.Issues.CreateComment(ctx, "sourcegraph", "customers", is.GetNumber(), &gh.IssueComment{Body: gh.String(atLimit)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = bot.Issues.EditComment(ctx, "sourcegraph", "customers", cm.GetID(), &gh.IssueComment{Body: gh.String(over)})
	want("edit comment", err, "IssueComment", "unprocessable", "data", commentMsg)
	got, _, err := bot.Issues.Get(ctx, "sourcegraph", "customers", is.GetNumber())
	if err != nil || got.GetBody() != atLimit {
		t.Errorf("a refused edit changed the body: %v", err)
	}
}
