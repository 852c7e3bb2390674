package main

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	enumspb "go.temporal.io/api/enums/v1"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/metrics"
	"github.com/sourcegraph/lifecycle/workflows"
)

// The handler end to end on GitHub's payload shapes: signature, authorisation, form, Update.

func TestWebhookValidFormSendsOneUpdateAndARedeliverySendsTheSame(t *testing.T) {
	for _, tc := range []struct {
		name, author string
		label, body  string
		op           forms.Operation
		// reuse: whether the request may start the entity after an earlier one ended (only a
		// create may; any other request adopts an instance that never had an entity).
		reuse enumspb.WorkflowIdReusePolicy
	}{
		{"new instance by a CE", "alice", newInstanceLabel, newInstanceBody("acme"), forms.OpCreate, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE},
		{"suspend by the Cloud team", "carol", suspendLabel, suspendBody("acme"), forms.OpSuspend, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
		{"suspend by someone on both teams", "bob", suspendLabel, suspendBody("acme"), forms.OpSuspend, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, gh := newFakeTemporal(), newFakeGitHub(t)
			h := newTestWebhook(tmp, gh)
			body := issuesEvent("opened", tc.author, ghIssue(7, tc.author, "Request", tc.body, forms.TeamLabel, tc.label))
			if rec := deliver(h, "issues", body); rec.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			updates, starts := tmp.recorded()
			if len(updates) != 1 {
				t.Fatalf("want exactly one Update, got %d", len(updates))
			}
			u := updates[0]
			wantID := "sourcegraph/customer/7/" + string(tc.op)
			if u.UpdateID != wantID || u.WorkflowID != workflows.InstanceWorkflowID("acme") || u.UpdateName != workflows.UpdateRequest {
				t.Errorf("Update %q %q on %q, want %q %q on instance/acme", u.UpdateName, u.UpdateID, u.WorkflowID, workflows.UpdateRequest, wantID)
			}
			r := u.Args[0].(workflows.OperationRequest)
			if r.Operation != tc.op || r.Slug != "acme" || r.Requester != tc.author || *r.Issue != customerRef(7) || r.Attempt != 0 {
				t.Errorf("request %+v", r)
			}
			if len(starts) != 1 || starts[0].WorkflowIDReusePolicy != tc.reuse || starts[0].ID != workflows.InstanceWorkflowID("acme") {
				t.Errorf("with-start: %+v, want one start of instance/acme with reuse policy %v", starts, tc.reuse)
			}
			checks := gh.checks()

			// The same delivery again (GitHub redelivers, or the issue is labelled): the same Update
			// ID, which Temporal answers with the first one's outcome instead of running it twice.
			// Temporal answers it with the first delivery's answer, so the starter knows it repeated
			// a request already started.
			if rec := deliver(h, "issues", body); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "already started") {
				t.Fatalf("redelivery: status %d: %s", rec.Code, rec.Body)
			}
			updates, _ = tmp.recorded()
			if len(updates) != 2 || updates[1].UpdateID != wantID || updates[1].WorkflowID != u.WorkflowID {
				t.Errorf("redelivery sent %+v, want the same Update ID %q", updates[1:], wantID)
			}
			if cs := gh.commentsOn(7); len(cs) != 0 {
				t.Errorf("an accepted request gets no comment from the starter: %q", cs)
			}
			// The second delivery asks GitHub nothing: the membership answers are cached.
			if n := gh.checks(); n != checks || n == 0 {
				t.Errorf("%d team checks after the first delivery, %d after the second; want the same, more than 0", checks, n)
			}
		})
	}
}

func TestWebhookUpgradeTrackingStartsTheRollout(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	body := issuesEvent("opened", "alice", ghIssue(12, "alice", "5.10.0 upgrade", upgradeBody("5.10.0"), trackingLabel))
	if rec := deliver(h, "issues", body); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if _, starts := tmp.recorded(); len(starts) != 1 || starts[0].ID != workflows.RolloutWorkflowID(customerRef(12)) {
		t.Fatalf("starts %+v", starts)
	}
}

func TestWebhookSignatureIsCheckedBeforeAnything(t *testing.T) {
	body := issuesEvent("opened", "alice", ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel))
	tampered := []byte(strings.Replace(string(body), "acme", "acme-evil", 1))
	for _, tc := range []struct {
		name string
		sig  string
		body []byte
	}{
		{"no signature", "", body},
		{"wrong secret", sign("not-the-secret", body), body},
		{"garbage", "sha256=zz", body},
		{"sha1 only", "sha1=0123456789abcdef0123456789abcdef01234567", body},
		{"a valid sha512 MAC in the sha256 header", sha512Sig(testSecret, body), body},
		{"body changed after signing", sign(testSecret, body), tampered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, gh := newFakeTemporal(), newFakeGitHub(t)
			h := newTestWebhook(tmp, gh)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, delivery("issues", tc.sig, tc.body))
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if tmp.calls() != 0 || gh.checks() != 0 || len(gh.commentsOn(7)) != 0 {
				t.Fatalf("an unsigned delivery reached Temporal (%d calls) or GitHub (%d checks, %d comments)", tmp.calls(), gh.checks(), len(gh.commentsOn(7)))
			}
		})
	}
}

func TestWebhookUnauthorisedRequesterIsRefusedOnce(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	issue := ghIssue(9, "mallory", "Suspend acme", suspendBody("acme"), forms.TeamLabel, suspendLabel)
	// opened, then one labeled delivery per label, the last one sent by a Cloud team member: the
	// requester is still the author.
	for _, d := range [][]byte{issuesEvent("opened", "mallory", issue), issuesEvent("labeled", "mallory", issue), issuesEvent("labeled", "carol", issue)} {
		if rec := deliver(h, "issues", d); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "not authorised") {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("an unauthorised request reached Temporal %d times", n)
	}
	cs := gh.commentsOn(9)
	if len(cs) != 1 {
		t.Fatalf("want one refusal comment, got %d: %q", len(cs), cs)
	}
	for _, want := range []string{requesterRefusalMarker, "@mallory", "`sourcegraph/ce` or `sourcegraph/cloud`", "ask a member of `sourcegraph/cloud`", "nothing was started"} {
		if !strings.Contains(cs[0], want) {
			t.Errorf("refusal should contain %q:\n%s", want, cs[0])
		}
	}
}

func TestWebhookAllowlistedRequester(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	h.auth.allowlist = []string{"dave"}
	body := issuesEvent("opened", "dave", ghIssue(7, "dave", "Suspend", suspendBody("acme"), suspendLabel))
	if rec := deliver(h, "issues", body); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if tmp.calls() != 1 || gh.checks() != 0 {
		t.Fatalf("allowlisted: %d calls, %d team checks; want 1 and 0", tmp.calls(), gh.checks())
	}
}

func TestWebhookMalformedFormNamesTheField(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	body := issuesEvent("opened", "alice", ghIssue(7, "alice", "New", newInstanceBody("Acme Corp"), newInstanceLabel))
	if rec := deliver(h, "issues", body); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("an invalid form reached Temporal %d times", n)
	}
	cs := gh.commentsOn(7)
	if len(cs) != 1 || !strings.Contains(cs[0], "Slug `Acme Corp`") || !strings.Contains(cs[0], rejectionMarker) {
		t.Fatalf("want one comment naming the Slug field, got %q", cs)
	}
}

// A GitHub failure while checking the requester is answered 503, so GitHub redelivers; the
// failure is not cached, so the redelivery asks again.
func TestWebhookTeamCheckFailureIsRedelivered(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	gh.failTeams = true
	body := issuesEvent("opened", "alice", ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel))
	if rec := deliver(h, "issues", body); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", rec.Code, rec.Body)
	}
	if tmp.calls() != 0 || len(gh.commentsOn(7)) != 0 {
		t.Fatalf("a failed check started something (%d) or commented (%q)", tmp.calls(), gh.commentsOn(7))
	}
	gh.mu.Lock()
	gh.failTeams = false
	gh.mu.Unlock()
	if rec := deliver(h, "issues", body); rec.Code != http.StatusAccepted {
		t.Fatalf("redelivery: status %d: %s", rec.Code, rec.Body)
	}
	if tmp.calls() != 1 {
		t.Fatalf("redelivery: %d calls, want 1", tmp.calls())
	}
}

func TestWebhookIgnoresWhatIsNotARequest(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	closed := ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel)
	closed["state"] = "closed"
	for name, d := range map[string]struct {
		event string
		body  []byte
	}{
		"ping":             {"ping", pingEvent()},
		"no request label": {"issues", issuesEvent("opened", "mallory", ghIssue(7, "mallory", "Question", "hello", "question"))},
		"closed":           {"issues", issuesEvent("edited", "alice", closed)},
		"assigned":         {"issues", issuesEvent("assigned", "alice", ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel))},
		"not a command":    {"issue_comment", commentEvent("mallory", 2001, "thanks!", ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel))},
		"unknown command":  {"issue_comment", commentEvent("mallory", 2002, "/shrug", ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel))},
		"push":             {"push", []byte(`{"ref":"refs/heads/main","repository":{"name":"customer"}}`)},
	} {
		if rec := deliver(h, d.event, d.body); rec.Code != http.StatusAccepted {
			t.Errorf("%s: status %d: %s", name, rec.Code, rec.Body)
		}
	}
	if tmp.calls() != 0 || gh.checks() != 0 || len(gh.commentsOn(7)) != 0 {
		t.Fatalf("ignored deliveries: %d calls, %d team checks, comments %q", tmp.calls(), gh.checks(), gh.commentsOn(7))
	}
}

// The starter's /metrics counts every delivery by event and outcome.
func TestStarterMetricsCountDeliveries(t *testing.T) {
	reg := metrics.New("starter")
	defer reg.Close()
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	h.metrics = reg.SDKHandler()
	mux := routes(h, nil, reg)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(event, sig string, body []byte) {
		req := delivery(event, sig, body)
		req.RequestURI, req.URL.Scheme, req.URL.Host = "", "http", strings.TrimPrefix(srv.URL, "http://")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	valid := issuesEvent("opened", "alice", ghIssue(7, "alice", "Suspend", suspendBody("acme"), suspendLabel))
	post("issues", sign(testSecret, valid), valid)
	post("issues", sign(testSecret, valid), valid)
	post("issues", "", valid)
	refused := issuesEvent("opened", "mallory", ghIssue(8, "mallory", "Suspend", suspendBody("acme"), suspendLabel))
	post("issues", sign(testSecret, refused), refused)
	post("ping", sign(testSecret, pingEvent()), pingEvent())
	post("x-evil-event", "", valid)
	post("issues", sign("not-the-secret", valid), valid)

	// The second delivery of the same request is a duplicate; the outcomes read in /metrics as
	// the code (and so the logs and the docs) names them.
	wants := []string{
		`starter_lifecycle_webhooks_received_total{event="issues",outcome="` + outcomeAccepted + `"} 1`,
		`starter_lifecycle_webhooks_received_total{event="issues",outcome="` + outcomeDuplicate + `"} 1`,
		`starter_lifecycle_webhooks_received_total{event="issues",outcome="` + outcomeUnsigned + `"} 1`,
		`starter_lifecycle_webhooks_received_total{event="issues",outcome="` + outcomeUnauthorised + `"} 1`,
		`starter_lifecycle_webhooks_received_total{event="issues",outcome="` + outcomeBadSignature + `"} 1`,
		`starter_lifecycle_webhooks_received_total{event="ping",outcome="` + outcomeIgnored + `"} 1`,
		`starter_lifecycle_webhooks_received_total{event="other",outcome="` + outcomeUnsigned + `"} 1`,
	}
	var b []byte
	deadline := time.Now().Add(10 * time.Second) // the scope reports once a second
	for {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		all := true
		for _, want := range wants {
			all = all && strings.Contains(string(b), want)
		}
		if all || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range wants {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in:\n%s", want, b)
		}
	}
}

func sha512Sig(secret string, body []byte) string {
	m := hmac.New(sha512.New, []byte(secret))
	m.Write(body)
	return "sha512=" + hex.EncodeToString(m.Sum(nil))
}

// A form's agreement date starts the SLA's resolution clock only: the response clock starts at
// the filing, so an instant answer to a back-dated agreement is not late.
func TestAgreementDateStartsOnlyTheResolutionClock(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	body := strings.Replace(suspendBody("acme"), "### Agreement date\n\n_No response_", "### Agreement date\n\n2026-02-16", 1)
	if rec := deliver(h, "issues", issuesEvent("opened", "alice", ghIssue(9, "alice", "Suspend acme", body, suspendLabel))); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	updates, _ := tmp.recorded()
	if len(updates) != 1 {
		t.Fatalf("%d Updates, want 1", len(updates))
	}
	r := updates[0].Args[0].(workflows.OperationRequest)
	if !r.RequestedAt.Equal(created) || !r.AgreedAt.Equal(time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("requested at %s, agreed at %s; want the filing (%s) and the form's agreement date", r.RequestedAt, r.AgreedAt, created)
	}
}

// What the starter starts carries the current revision, as a search attribute too, so a query
// finds the runs still on old code.
func TestStartsCarryTheCurrentRevision(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	deliver(h, "issues", issuesEvent("opened", "alice", ghIssue(7, "alice", "New", newInstanceBody("acme"), newInstanceLabel)))
	deliver(h, "issues", issuesEvent("opened", "alice", ghIssue(12, "alice", "5.10.0 upgrade", upgradeBody("5.10.0"), trackingLabel)))
	_, starts := tmp.recorded()
	if len(starts) != 2 {
		t.Fatalf("%d starts, want the instance and the rollout", len(starts))
	}
	for _, s := range starts {
		if rev, ok := s.TypedSearchAttributes.GetInt64(workflows.SARevision); !ok || rev != workflows.CurrentRevision {
			t.Errorf("%s starts with LifecycleRevision %d (set: %t), want %d", s.ID, rev, ok, workflows.CurrentRevision)
		}
	}
}

// A form people got wrong is handled (answered on the issue), so its delivery gets 2xx: GitHub
// lists any other answer as a failed delivery, which would hide the real failures.
func TestWebhookAmbiguousLabelsAreAnsweredWith2xx(t *testing.T) {
	tmp, gh := newFakeTemporal(), newFakeGitHub(t)
	h := newTestWebhook(tmp, gh)
	body := issuesEvent("opened", "alice", ghIssue(7, "alice", "Suspend or create?", suspendBody("acme"), suspendLabel, newInstanceLabel))
	if rec := deliver(h, "issues", body); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if n := tmp.calls(); n != 0 {
		t.Fatalf("an ambiguous issue reached Temporal %d times", n)
	}
	if cs := gh.commentsOn(7); len(cs) != 1 || !strings.Contains(cs[0], "more than one request label") {
		t.Fatalf("want one comment about the labels, got %q", cs)
	}
}
