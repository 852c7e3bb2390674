package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// The fakes the handler tests and the fuzz test drive the real handler with: a Temporal client
// that records what would start or update a workflow, and a GitHub API (an httptest server) that
// answers team checks and keeps comments.

const testSecret = "test-secret"

// fakeTemporal implements the few client.Client methods the handler uses. Any other method
// panics (the embedded interface is nil): the handler must not call it.
type fakeTemporal struct {
	client.Client

	mu sync.Mutex
	// updates are the Updates sent (UpdateWorkflow and UpdateWithStartWorkflow), starts the
	// workflows started or asked to start (the with-start operation and ExecuteWorkflow).
	updates []client.UpdateWorkflowOptions
	starts  []client.StartWorkflowOptions
	// executed counts ExecuteWorkflow's starts (the others go with an Update).
	executed int
	// done are the outcomes of completed Updates by workflow and Update ID.
	done map[string]any
	// queries answer QueryWorkflow by workflow ID and query type; a missing one is NotFound.
	queries map[string]any
	// updateErr, when set, is the outcome of every Update; queryErr of every query.
	updateErr error
	queryErr  error
	// guard is called before each start or update; the fuzz test fails there.
	guard func(what string, opts client.UpdateWorkflowOptions)
	// operations are operation workflows as visibility lists them, with their results.
	operations []fakeOperation
}

type fakeOperation struct {
	id, issue string
	status    enumspb.WorkflowExecutionStatus
	result    workflows.OperationResult
}

func (f *fakeTemporal) addOperation(id, issue string, status enumspb.WorkflowExecutionStatus, result workflows.OperationResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.operations = append(f.operations, fakeOperation{id: id, issue: issue, status: status, result: result})
}

var issueQueryRE = regexp.MustCompile(`Issue = '([^']+)'`)

// ListWorkflow answers a visibility query by its Issue clause.
func (f *fakeTemporal) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	m := issueQueryRE.FindStringSubmatch(req.GetQuery())
	if m == nil {
		return nil, serviceerror.NewInvalidArgument("the fake answers queries by Issue only: " + req.GetQuery())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &workflowservice.ListWorkflowExecutionsResponse{}
	for _, o := range f.operations {
		if o.issue == m[1] {
			resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
				Execution: &commonpb.WorkflowExecution{WorkflowId: o.id, RunId: "run-1"}, Status: o.status})
		}
	}
	return resp, nil
}

// DescribeWorkflowExecution finds the operations the test added.
func (f *fakeTemporal) DescribeWorkflowExecution(_ context.Context, workflowID, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.operations {
		if o.id == workflowID {
			return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
				Execution: &commonpb.WorkflowExecution{WorkflowId: o.id, RunId: "run-1"}, Status: o.status}}, nil
		}
	}
	return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
}

// GetWorkflow is an operation's run; Get returns its result.
func (f *fakeTemporal) GetWorkflow(_ context.Context, workflowID, _ string) client.WorkflowRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.operations {
		if o.id == workflowID {
			return &fakeRun{id: workflowID, result: o.result}
		}
	}
	return &fakeRun{id: workflowID, err: serviceerror.NewNotFound("workflow not found for ID: " + workflowID)}
}

func newFakeTemporal() *fakeTemporal {
	return &fakeTemporal{queries: map[string]any{}, done: map[string]any{}}
}

func (f *fakeTemporal) answer(workflowID, queryType string, v any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries[workflowID+"|"+queryType] = v
}

// calls counts every request to Temporal: an Update (with or without a start) or a start.
func (f *fakeTemporal) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.updates) + f.executed
}

func (f *fakeTemporal) recorded() ([]client.UpdateWorkflowOptions, []client.StartWorkflowOptions) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.updates), slices.Clone(f.starts)
}

type fakeStartOp struct{ opts client.StartWorkflowOptions }

func (o *fakeStartOp) Get(context.Context) (client.WorkflowRun, error) {
	return &fakeRun{id: o.opts.ID}, nil
}

func (f *fakeTemporal) NewWithStartWorkflowOperation(opts client.StartWorkflowOptions, _ any, _ ...any) client.WithStartWorkflowOperation {
	return &fakeStartOp{opts: opts}
}

func (f *fakeTemporal) UpdateWithStartWorkflow(_ context.Context, opts client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if f.guard != nil {
		f.guard("UpdateWithStartWorkflow", opts.UpdateOptions)
	}
	f.mu.Lock()
	if op, ok := opts.StartWorkflowOperation.(*fakeStartOp); ok {
		f.starts = append(f.starts, op.opts)
	}
	f.mu.Unlock()
	return f.update(opts.UpdateOptions)
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if f.guard != nil {
		f.guard("UpdateWorkflow", opts)
	}
	return f.update(opts)
}

func (f *fakeTemporal) update(opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, opts)
	h := &fakeHandle{opts: opts, err: f.updateErr}
	// As Temporal does, an Update ID already completed answers with its first outcome.
	key := opts.WorkflowID + "|" + opts.UpdateID
	if first, ok := f.done[key]; ok && opts.UpdateID != "" {
		h.result = first
		return h, nil
	}
	defer func() {
		if h.err == nil {
			f.done[key] = h.result
		}
	}()
	if opts.UpdateName == workflows.UpdateRequest {
		r, _ := opts.Args[0].(workflows.OperationRequest)
		key := workflows.IssueKey(*r.Issue)
		if r.Attempt > 1 {
			key += fmt.Sprintf("/%d", r.Attempt)
		}
		id := workflows.OperationWorkflowID(r.Operation, r.Slug, key)
		h.result = workflows.RequestAccepted{WorkflowID: id, Message: fmt.Sprintf("%s of `%s` started: workflow %s", r.Operation, r.Slug, id),
			RequestID: r.RequestID}
	} else {
		h.result = opts.UpdateName + " accepted"
	}
	return h, nil
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	if f.guard != nil {
		f.guard("ExecuteWorkflow", client.UpdateWorkflowOptions{WorkflowID: opts.ID})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// As Temporal does: a second start of an ID fails unless the conflict policy uses the existing run.
	for _, s := range f.starts {
		if s.ID == opts.ID && opts.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING {
			return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already started", "", "run-1")
		}
	}
	f.starts = append(f.starts, opts)
	f.executed++
	return &fakeRun{id: opts.ID}, nil
}

func (f *fakeTemporal) QueryWorkflow(_ context.Context, workflowID, _, queryType string, _ ...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	v, ok := f.queries[workflowID+"|"+queryType]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	return jsonValue{v}, nil
}

type fakeHandle struct {
	opts   client.UpdateWorkflowOptions
	result any
	err    error
}

func (h *fakeHandle) WorkflowID() string { return h.opts.WorkflowID }
func (h *fakeHandle) RunID() string      { return "run-1" }
func (h *fakeHandle) UpdateID() string   { return h.opts.UpdateID }
func (h *fakeHandle) Get(_ context.Context, ptr any) error {
	if h.err != nil {
		return h.err
	}
	return jsonValue{h.result}.Get(ptr)
}

type fakeRun struct {
	client.WorkflowRun
	id     string
	result any
	err    error
}

func (r *fakeRun) Get(_ context.Context, ptr any) error {
	if r.err != nil {
		return r.err
	}
	return jsonValue{r.result}.Get(ptr)
}

func (r *fakeRun) GetID() string    { return r.id }
func (r *fakeRun) GetRunID() string { return "run-1" }

// jsonValue is an encoded value as the SDK's default converter would return it.
type jsonValue struct{ v any }

func (v jsonValue) HasValue() bool { return v.v != nil }
func (v jsonValue) Get(ptr any) error {
	b, err := json.Marshal(v.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

// fakeGitHub is the GitHub REST API as far as the starter uses it.
type fakeGitHub struct {
	srv *httptest.Server

	mu sync.Mutex
	// teams are "org/team" → member logins (lower case).
	teams map[string][]string
	// teamChecks counts membership requests; failTeams answers them with a 502.
	teamChecks int
	failTeams  bool
	// keep stores comments (the fuzz test does not, to stay small).
	keep     bool
	comments map[int][]*github.IssueComment
	nextID   int64
}

func newFakeGitHub(t testing.TB) *fakeGitHub {
	g := &fakeGitHub{
		teams:    map[string][]string{"sourcegraph/ce": {"alice", "bob"}, "sourcegraph/cloud": {"bob", "carol"}},
		keep:     true,
		comments: map[int][]*github.IssueComment{},
		nextID:   1000,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/orgs/{org}/teams/{team}/memberships/{user}", g.membership)
	// The token's own account, as GET /user answers it (https://docs.github.com/rest/users/users#get-the-authenticated-user).
	mux.HandleFunc("GET /api/v3/user", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"login": "sg-cloud-bot", "id": 9001, "node_id": "U_kgDO009001", "type": "User",
			"site_admin": false, "name": "Sourcegraph Cloud bot", "url": g.srv.URL + "/api/v3/users/sg-cloud-bot"})
	})
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/issues/{number}/comments", g.listComments)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/{number}/comments", g.createComment)
	mux.HandleFunc("PATCH /api/v3/repos/{owner}/{repo}/issues/comments/{id}", g.editComment)
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGitHub) client() *github.Client {
	c, err := github.NewClient(g.srv.Client()).WithEnterpriseURLs(g.srv.URL+"/", g.srv.URL+"/")
	if err != nil {
		panic(err)
	}
	return c
}

func (g *fakeGitHub) membership(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.teamChecks++
	if g.failTeams {
		http.Error(w, `{"message":"Server Error"}`, http.StatusBadGateway)
		return
	}
	team := strings.ToLower(r.PathValue("org") + "/" + r.PathValue("team"))
	if !slices.Contains(g.teams[team], strings.ToLower(r.PathValue("user"))) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/teams/members#get-team-membership-for-a-user"}`)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": g.srv.URL + r.URL.Path, "role": "member", "state": "active"})
}

func (g *fakeGitHub) listComments(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	g.mu.Lock()
	defer g.mu.Unlock()
	cs := g.comments[n]
	if cs == nil {
		cs = []*github.IssueComment{}
	}
	writeJSON(w, http.StatusOK, cs)
}

func (g *fakeGitHub) createComment(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.Atoi(r.PathValue("number"))
	var c github.IssueComment
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextID++
	c.ID, c.User = github.Int64(g.nextID), &github.User{Login: github.String("sg-cloud-bot")}
	if g.keep {
		g.comments[n] = append(g.comments[n], &c)
	}
	writeJSON(w, http.StatusCreated, c)
}

func (g *fakeGitHub) editComment(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var in github.IssueComment
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, cs := range g.comments {
		for _, c := range cs {
			if c.GetID() == id {
				c.Body = in.Body
				writeJSON(w, http.StatusOK, c)
				return
			}
		}
	}
	http.NotFound(w, r)
}

// commentsOn are the bodies of the comments on an issue.
func (g *fakeGitHub) commentsOn(number int) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, c := range g.comments[number] {
		out = append(out, c.GetBody())
	}
	return out
}

func (g *fakeGitHub) checks() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.teamChecks
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// newTestWebhook is the handler as main builds it, on the fakes.
func newTestWebhook(tc client.Client, gh *fakeGitHub) *webhook {
	c := gh.client()
	return &webhook{secret: []byte(testSecret), temporal: tc, gh: c, settings: workflows.Settings{WebUI: "http://ui.test/namespaces/default/workflows"},
		repos: repos{request: []string{defaultRequestRepo}, tracking: defaultRequestRepo},
		auth:  auth{requesterTeams: defaultRequesterTeams}, members: newMemberships(c, membershipTTL),
		log: slog.New(slog.DiscardHandler)}
}

// sign is X-Hub-Signature-256 of body, as GitHub computes it.
func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// delivery is a webhook request with GitHub's headers; sig "" sends no signature.
func delivery(event, sig string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "GitHub-Hookshot/2b6a1d4")
	r.Header.Set("X-GitHub-Event", event)
	r.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	r.Header.Set("X-GitHub-Hook-ID", "292430182")
	if sig != "" {
		r.Header.Set(github.SHA256SignatureHeader, sig)
	}
	return r
}

// deliver sends a signed delivery to h.
func deliver(h http.Handler, event string, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, delivery(event, sign(testSecret, body), body))
	return rec
}

// GitHub's payload shapes (https://docs.github.com/webhooks/webhook-events-and-payloads), with
// the fields GitHub sends and the starter reads among the ones it ignores.

var created = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func ghUser(login string, id int) map[string]any {
	return map[string]any{
		"login": login, "id": id, "node_id": fmt.Sprintf("U_kgDO%06d", id), "avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.Itoa(id) + "?v=4",
		"url": "https://api.github.com/users/" + login, "html_url": "https://github.com/" + login, "type": "User", "site_admin": false,
	}
}

var userIDs = map[string]int{"alice": 1001, "bob": 1002, "carol": 1003, "mallory": 1004, "dave": 1005}

func ghRepo() map[string]any {
	return map[string]any{
		"id": 680000001, "node_id": "R_kgDOKIAAAQ", "name": "customer", "full_name": "sourcegraph/customer", "private": true,
		"owner":    map[string]any{"login": "sourcegraph", "id": 3979584, "node_id": "MDEyOk9yZ2FuaXphdGlvbjM5Nzk1ODQ=", "type": "Organization", "site_admin": false},
		"html_url": "https://github.com/sourcegraph/customer", "description": "Customer requests", "fork": false,
		"url": "https://api.github.com/repos/sourcegraph/customer", "created_at": "2023-08-01T12:00:00Z", "updated_at": "2026-03-01T12:00:00Z",
		"pushed_at": "2026-03-01T12:00:00Z", "default_branch": "main", "visibility": "private", "has_issues": true,
	}
}

var labelIDs = map[string]int{}

func ghLabels(names ...string) []any {
	out := []any{}
	for _, n := range names {
		id, ok := labelIDs[n]
		if !ok {
			id = 5000000 + len(labelIDs)
			labelIDs[n] = id
		}
		out = append(out, map[string]any{"id": id, "node_id": fmt.Sprintf("LA_kwDO%d", id), "url": "https://api.github.com/repos/sourcegraph/customer/labels/" + n,
			"name": n, "color": "0e8a16", "default": false, "description": ""})
	}
	return out
}

func ghIssue(number int, author, title, body string, labels ...string) map[string]any {
	api := fmt.Sprintf("https://api.github.com/repos/sourcegraph/customer/issues/%d", number)
	return map[string]any{
		"url": api, "repository_url": "https://api.github.com/repos/sourcegraph/customer", "labels_url": api + "/labels{/name}",
		"comments_url": api + "/comments", "events_url": api + "/events", "html_url": fmt.Sprintf("https://github.com/sourcegraph/customer/issues/%d", number),
		"id": 2100000000 + number, "node_id": fmt.Sprintf("I_kwDOKIAAAc%d", number), "number": number, "title": title,
		"user": ghUser(author, userIDs[author]), "labels": ghLabels(labels...), "state": "open", "locked": false,
		"assignee": nil, "assignees": []any{}, "milestone": nil, "comments": 0,
		"created_at": created.Format(time.RFC3339), "updated_at": created.Format(time.RFC3339), "closed_at": nil,
		"author_association": "MEMBER", "active_lock_reason": nil, "body": body,
		"reactions":    map[string]any{"url": api + "/reactions", "total_count": 0, "+1": 0, "-1": 0},
		"timeline_url": api + "/timeline", "performed_via_github_app": nil, "state_reason": nil,
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// issuesEvent is an "issues" delivery; a "labeled" one names the label that was added.
func issuesEvent(action, sender string, issue map[string]any) []byte {
	e := map[string]any{"action": action, "issue": issue, "repository": ghRepo(),
		"organization": map[string]any{"login": "sourcegraph", "id": 3979584}, "sender": ghUser(sender, userIDs[sender])}
	if action == "labeled" {
		if ls, _ := issue["labels"].([]any); len(ls) > 0 {
			e["label"] = ls[len(ls)-1]
		}
	}
	return mustJSON(e)
}

// commentEvent is an "issue_comment" "created" delivery.
func commentEvent(commenter string, commentID int64, body string, issue map[string]any) []byte {
	number := issue["number"].(int)
	c := map[string]any{
		"url":       fmt.Sprintf("https://api.github.com/repos/sourcegraph/customer/issues/comments/%d", commentID),
		"html_url":  fmt.Sprintf("https://github.com/sourcegraph/customer/issues/%d#issuecomment-%d", number, commentID),
		"issue_url": fmt.Sprintf("https://api.github.com/repos/sourcegraph/customer/issues/%d", number),
		"id":        commentID, "node_id": fmt.Sprintf("IC_kwDO%d", commentID), "user": ghUser(commenter, userIDs[commenter]),
		"created_at": created.Add(time.Hour).Format(time.RFC3339), "updated_at": created.Add(time.Hour).Format(time.RFC3339),
		"author_association": "MEMBER", "body": body, "performed_via_github_app": nil,
	}
	return mustJSON(map[string]any{"action": "created", "issue": issue, "comment": c, "repository": ghRepo(),
		"organization": map[string]any{"login": "sourcegraph", "id": 3979584}, "sender": ghUser(commenter, userIDs[commenter])})
}

// pingEvent is the delivery GitHub sends when a webhook is created.
func pingEvent() []byte {
	return mustJSON(map[string]any{
		"zen": "Design for failure.", "hook_id": 292430182,
		"hook": map[string]any{"type": "Repository", "id": 292430182, "name": "web", "active": true, "events": []string{"issues", "issue_comment"},
			"config": map[string]any{"content_type": "json", "insecure_ssl": "0", "url": "https://lifecycle.example/webhooks/github"}},
		"repository": ghRepo(), "sender": ghUser("bob", userIDs["bob"]),
	})
}

// The forms, as GitHub renders them.

func newInstanceBody(slug string) string {
	return fmt.Sprintf("### %s\n\nAcme Corporation\n\n### %s\n\n%s\n\n### %s\n\n_No response_\n\n### %s\n\ntrial\n\n### %s\n\nsmall\n\n"+
		"### %s\n\nus-central1\n\n### %s\n\n_No response_\n\n### %s\n\nadmin@acme-corp.example\n\n### %s\n\n203.0.113.0/24\n\n"+
		"### %s\n\nNo\n\n### %s\n\n_No response_\n",
		forms.FieldCustomer, forms.FieldSlug, slug, forms.FieldDomain, forms.FieldType, forms.FieldSize, forms.FieldRegion,
		forms.FieldVersion, forms.FieldAdminEmail, forms.FieldAllowlist, forms.FieldTelemetry, forms.FieldAgreement)
}

func suspendBody(slug string) string {
	return fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\nThe customer pauses for the quarter.\n\n### Expected resume date\n\n_No response_\n\n### Agreement date\n\n_No response_\n", slug)
}

func upgradeBody(version string) string {
	return fmt.Sprintf("### %s\n\n%s\n\n### %s\n\n- [ ] %s\n\n### %s\n\n2\n\n### %s\n\n- [ ] %s\n",
		forms.FieldTargetVersion, version, forms.FieldDryRun, forms.OptionDryRun, forms.FieldConcurrency, forms.FieldApproval, forms.OptionApproval)
}

var (
	newInstanceLabel = forms.LabelOf(forms.OpCreate)
	suspendLabel     = forms.LabelOf(forms.OpSuspend)
	trackingLabel    = forms.LabelOf(forms.OpUpgradeFleet)
	customerRef      = func(n int) workflows.IssueRef {
		return workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: n}
	}
)
