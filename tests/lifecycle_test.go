package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// fileIssue files an issue form as user through the simulated GitHub: the starter hears of it
// through the real signed webhook.
func fileIssue(t *testing.T, user string, op forms.Operation, title, body string) *github.Issue {
	t.Helper()
	is, _, err := stack.GitHubAs(user).Issues.Create(context.Background(), devstack.SampleOwner, devstack.SampleRepo, &github.IssueRequest{
		Title: github.String(title), Body: github.String(body), Labels: &[]string{forms.TeamLabel, forms.LabelOf(op)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func suspendBody(slug string) string {
	return fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\nThe customer pauses for the quarter.\n\n### Expected resume date\n\n_No response_\n\n### Agreement date\n\n_No response_\n", slug)
}

func resumeBody(slug string) string {
	return fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\nBack from the break.\n", slug)
}

func teardownBody(slug string) string {
	return fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\nThe customer churned.\n\n### Agreement date\n\n_No response_\n\n### Acknowledgement\n\n- [x] %s\n", slug, forms.OptionDataDeleted)
}

// instance queries the entity workflow's record.
func instance(t *testing.T, tc client.Client, slug string) (workflows.InstanceRecord, error) {
	v, err := tc.QueryWorkflow(context.Background(), workflows.InstanceWorkflowID(slug), "", workflows.QueryInstance)
	if err != nil {
		return workflows.InstanceRecord{}, err
	}
	var r workflows.InstanceRecord
	return r, v.Get(&r)
}

// waitState waits until the instance is in state with no operation running.
func waitState(t *testing.T, tc client.Client, slug string, want workflows.InstanceState, within time.Duration) workflows.InstanceRecord {
	t.Helper()
	var r workflows.InstanceRecord
	var err error
	deadline := time.Now().Add(within)
	for {
		r, err = instance(t, tc, slug)
		if err == nil && r.State == want && r.Current == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s not %q within %s: record %+v, query error %v", slug, want, within, r, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// progressOf queries an operation workflow's progress.
func progressOf(t *testing.T, tc client.Client, id string) (workflows.Progress, error) {
	v, err := tc.QueryWorkflow(context.Background(), id, "", workflows.QueryProgress)
	if err != nil {
		return workflows.Progress{}, err
	}
	var p workflows.Progress
	return p, v.Get(&p)
}

// simJSON reads one of the simulator's inspection endpoints.
func simJSON(t *testing.T, method, path string, body io.Reader, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, stack.SimURL()+path, body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

type counts struct{ Created, Mutated, Deleted int }

// ledgerFor returns the simulator's ledger entries whose key contains any of the markers.
func ledgerFor(t *testing.T, markers ...string) map[string]counts {
	t.Helper()
	var all map[string]counts
	simJSON(t, http.MethodGet, "/_sim/ledger", nil, &all)
	out := map[string]counts{}
	for k, c := range all {
		for _, m := range markers {
			if strings.Contains(k, m) {
				out[k] = c
			}
		}
	}
	return out
}

// simPool is the instance's primary node pool as the simulated GKE holds it: nodes per zone, zones
// and the total.
func simPool(t *testing.T, project string) (perZone, zones, nodes int) {
	t.Helper()
	var st struct {
		GKE struct {
			Clusters []struct {
				Name      string `json:"name"`
				NodePools []struct {
					Name         string `json:"name"`
					NodeCount    int    `json:"nodeCount"`
					NodesPerZone int    `json:"nodesPerZone"`
					Zones        int    `json:"zones"`
				} `json:"nodePools"`
			} `json:"clusters"`
		} `json:"gke"`
	}
	simJSON(t, http.MethodGet, "/_sim/state", nil, &st)
	for _, c := range st.GKE.Clusters {
		if !strings.HasPrefix(c.Name, "projects/"+project+"/") {
			continue
		}
		for _, np := range c.NodePools {
			if np.Name == spec.NodePoolName {
				return np.NodesPerZone, np.Zones, np.NodeCount
			}
		}
	}
	t.Fatalf("no %s node pool in %s's cluster", spec.NodePoolName, project)
	return 0, 0, 0
}

// visit fetches a path of the instance through the simulator, by Host header, like the customer's
// browser: from an address on the sample request's IP allowlist.
func visit(t *testing.T, host, path string) (int, string) {
	t.Helper()
	return visitFrom(t, host, path, devstack.SampleCustomerIP)
}

// visitFrom fetches a path of the instance as a client at addr (sim.ClientIPHeader).
func visitFrom(t *testing.T, host, path, addr string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, stack.SimURL()+path, nil)
	req.Host = host
	req.Header.Set("X-Sim-Client-IP", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// statusComment is the bot's status comment of one operation workflow on an issue.
func statusComment(t *testing.T, number int, workflowID string) string {
	t.Helper()
	for _, c := range botComments(t, number) {
		if strings.HasPrefix(c.GetBody(), "<!-- lifecycle:status:"+workflowID+" -->") {
			return c.GetBody()
		}
	}
	return ""
}

// say comments on an issue as user (a slash command reaches the starter as an issue_comment webhook).
func say(t *testing.T, user string, number int, body string) {
	t.Helper()
	if _, _, err := stack.GitHubAs(user).Issues.CreateComment(context.Background(), devstack.SampleOwner, devstack.SampleRepo, number,
		&github.IssueComment{Body: github.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// hasReply reports whether the bot answered on the issue with a comment starting with prefix.
func hasReply(t *testing.T, number int, prefix string) bool {
	for _, c := range botComments(t, number) {
		if strings.HasPrefix(c.GetBody(), prefix) {
			return true
		}
	}
	return false
}

func decide(t *testing.T, tc client.Client, workflowID string, d workflows.Decision) error {
	t.Helper()
	h, err := tc.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{WorkflowID: workflowID, UpdateName: workflows.UpdateDecide,
		Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return err
	}
	return h.Get(context.Background(), nil)
}

func update(tc client.Client, workflowID, name string, arg any) error {
	h, err := tc.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{WorkflowID: workflowID, UpdateName: name,
		Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		return err
	}
	return h.Get(context.Background(), nil)
}

func opID(op forms.Operation, slug string, is *github.Issue) string {
	return workflows.OperationWorkflowID(op, slug, workflows.IssueKey(workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: is.GetNumber()}))
}

// TestInstanceLifecycleEndToEnd drives one instance through create → suspend → resume → teardown
// by filing issues, and checks what the simulated clouds hold after each step.
func TestInstanceLifecycleEndToEnd(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-life"
	domain := spec.DefaultDomain(slug)

	create := fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, devstack.SampleNewInstanceBody(slug))
	r := waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)
	if r.Instance.Version != devstack.LatestVersion || r.Instance.Domain != domain || !strings.HasPrefix(r.Instance.ProjectID, "src-"+slug+"-") {
		t.Fatalf("created instance %+v", r.Instance)
	}
	project := r.Instance.ProjectID // chosen by the create, with a random part
	if code, body := visit(t, domain, "/__version"); code != 200 || strings.TrimSpace(body) != devstack.LatestVersion {
		t.Fatalf("the new instance does not serve: %d %q", code, body)
	}
	// small is 2 nodes in all: GKE is sent 1 per zone, 3 nodes over the regional pool's 3 zones.
	if perZone, zones, nodes := simPool(t, project); perZone != 1 || zones != 3 || nodes != 3 {
		t.Errorf("created node pool: %d per zone × %d zones = %d nodes, want 1 × 3 = 3", perZone, zones, nodes)
	}
	createID := opID(forms.OpCreate, slug, create)
	if c := statusComment(t, create.GetNumber(), createID); !strings.Contains(c, "succeeded") || strings.Contains(c, "- [ ]") {
		t.Errorf("create's status comment is not a finished checklist:\n%s", c)
	}
	var handoff bool
	for _, c := range botComments(t, create.GetNumber()) {
		handoff = handoff || strings.Contains(c.GetBody(), "https://"+domain)
	}
	if !handoff {
		t.Error("no hand-off comment with the instance's URL")
	}
	suspend := fileIssue(t, "alice", forms.OpSuspend, "Suspend "+slug, suspendBody(slug))
	r = waitState(t, tc, slug, workflows.StateSuspended, 2*time.Minute)
	if _, _, nodes := simPool(t, project); nodes != 0 {
		t.Errorf("suspended node pool has %d nodes, want 0", nodes)
	}
	if r.Backups == nil || r.Backups.SQLBackupRunID == 0 || r.Backups.GKEBackup == "" {
		t.Errorf("suspend recorded no backups: %+v", r.Backups)
	}
	if code, body := visit(t, domain, "/"); code != http.StatusServiceUnavailable || !strings.Contains(body, "paused") {
		t.Errorf("a suspended instance should show the holding page: %d %q", code, body)
	}
	if c := statusComment(t, suspend.GetNumber(), opID(forms.OpSuspend, slug, suspend)); !strings.Contains(c, "succeeded") {
		t.Errorf("suspend's status comment:\n%s", c)
	}

	fileIssue(t, "alice", forms.OpResume, "Resume "+slug, resumeBody(slug))
	waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)
	if code, body := visit(t, domain, "/__version"); code != 200 || strings.TrimSpace(body) != devstack.LatestVersion {
		t.Fatalf("the resumed instance does not serve: %d %q", code, body)
	}
	if perZone, zones, nodes := simPool(t, project); perZone != 1 || nodes != 3 {
		t.Errorf("resumed node pool: %d per zone × %d zones = %d nodes, want 1 per zone, 3 nodes", perZone, zones, nodes)
	}

	teardown := fileIssue(t, "alice", forms.OpTeardown, "Teardown "+slug, teardownBody(slug))
	tdID := opID(forms.OpTeardown, slug, teardown)
	eventually(t, time.Minute, "the teardown to wait for approval", func() bool {
		p, err := progressOf(t, tc, tdID)
		return err == nil && len(p.Steps) > 0 && p.Steps[0].State == workflows.StepRunning
	})
	if err := update(tc, tdID, workflows.UpdateApprove, workflows.Approval{By: "alice"}); err == nil || !strings.Contains(err.Error(), "requester") {
		t.Fatalf("the requester approving their own teardown: %v", err)
	}
	// Bob approves with a slash command on the issue.
	say(t, "bob", teardown.GetNumber(), "/approve")
	eventually(t, 30*time.Second, "the answer to /approve", func() bool { return hasReply(t, teardown.GetNumber(), "@bob: ") })
	r = waitState(t, tc, slug, workflows.StateDeleted, 2*time.Minute)

	// Every resource was created exactly once over the whole life, and is gone now.
	ledger := ledgerFor(t, project, domain)
	for _, want := range []string{"resourcemanager/", "compute/", "gke/", "cloudsql/", "gkebackup/", "cloudflare/"} {
		found := false
		for k, c := range ledger {
			if !strings.HasPrefix(k, want) {
				continue
			}
			found = true
			if c.Created != 1 {
				t.Errorf("%s created %d times, want exactly once", k, c.Created)
			}
		}
		if !found {
			t.Errorf("no %s resource in the ledger for %s: %v", want, slug, ledger)
		}
	}
	if code, _ := visit(t, domain, "/__version"); code == 200 {
		t.Error("a torn-down instance still serves")
	}
	is, _, err := stack.GitHubAs("bob").Issues.Get(context.Background(), devstack.SampleOwner, devstack.SampleRepo, teardown.GetNumber())
	if err != nil || is.GetState() != "closed" {
		t.Errorf("the teardown issue is not closed: %v %v", is.GetState(), err)
	}
	if len(r.History) != 4 {
		t.Errorf("tombstone history: %+v", r.History)
	}
	// The tombstone stays queryable after the entity workflow ended.
	desc, err := tc.DescribeWorkflowExecution(context.Background(), workflows.InstanceWorkflowID(slug), "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetCloseTime() == nil {
		t.Fatalf("the instance workflow should have ended: %v", err)
	}

	// A rollout planned before the teardown asks for the upgrade as every caller does: the
	// tombstone refuses it as gone, and the instance is not brought back as active.
	up := workflows.OperationRequest{Operation: forms.OpUpgrade, Slug: slug, Issue: &workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: 9998},
		Requester: "alice", RequestedAt: time.Now(), Upgrade: &workflows.UpgradeRequest{Version: devstack.LatestVersion, Rollout: "upgrade-fleet/sourcegraph/customer/9998"}}
	_, err = workflows.AskInstance(context.Background(), tc, workflows.Ask{Request: up, UpdateID: "upgrade-fleet/sourcegraph/customer/9998/" + slug + "/1"})
	var refused *workflows.Refused
	if !errors.As(err, &refused) || !refused.Gone || !strings.Contains(refused.Reason, "was torn down") {
		t.Errorf("an upgrade asked of the torn-down %s: %v, want a refusal as gone", slug, err)
	}
	after, err := tc.DescribeWorkflowExecution(context.Background(), workflows.InstanceWorkflowID(slug), "")
	if err != nil || after.GetWorkflowExecutionInfo().GetExecution().GetRunId() != desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() {
		t.Errorf("the torn-down instance's workflow was started again: %v", err)
	}
}

// TestParkedStepRetriesAfterFaultCleared injects a permanent fault into the Backup for GKE API: the
// create parks, says so on the issue and in visibility, a conflicting request is turned away
// meanwhile, and a retry decision after the fault is cleared finishes the run.
func TestParkedStepRetriesAfterFaultCleared(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-park"
	simJSON(t, http.MethodPost, "/_sim/faults", strings.NewReader(
		`{"api":"gkebackup","method":"CreateBackupPlan","match":"`+spec.ProjectID(slug)+`","status":403,"message":"backupPlans.create denied (injected)"}`), nil)
	t.Cleanup(func() { simJSON(t, http.MethodDelete, "/_sim/faults", nil, nil) })

	create := fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, devstack.SampleNewInstanceBody(slug))
	id := opID(forms.OpCreate, slug, create)
	var p workflows.Progress
	eventually(t, 2*time.Minute, "the create to park", func() bool {
		var err error
		p, err = progressOf(t, tc, id)
		return err == nil && p.Parked != nil
	})
	if p.Parked.Step != "backup-plan" || !strings.Contains(p.Parked.Error, "denied") {
		t.Fatalf("parked on %+v", p.Parked)
	}
	eventually(t, 30*time.Second, "the parked state on the issue", func() bool {
		return strings.Contains(statusComment(t, create.GetNumber(), id), "Needs attention")
	})
	var reason string
	eventually(t, 30*time.Second, "NeedsAttention and AttentionReason in visibility", func() bool {
		resp, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("NeedsAttention = true AND WorkflowId = '%s'", id)})
		if err != nil || len(resp.GetExecutions()) != 1 {
			return false
		}
		p := resp.GetExecutions()[0].GetSearchAttributes().GetIndexedFields()[workflows.SAAttentionReason.GetName()]
		return p != nil && converter.GetDefaultDataConverter().FromPayload(p, &reason) == nil && reason != ""
	})
	// The Web UI's list column: which step and what to do; the error's text stays encrypted.
	if !strings.Contains(reason, "step backup-plan parked") || !strings.Contains(reason, "/retry") || strings.Contains(reason, "injected") {
		t.Errorf("AttentionReason %q", reason)
	}

	// The starter's gauge counts it from visibility, whatever other workflows wrote last.
	var needing float64
	eventually(t, 30*time.Second, "the starter's gauge to count the parked create", func() bool {
		var ok bool
		needing, ok = starterGauge(t, "starter_lifecycle_operations_needing_attention")
		// Set only when every count (the SLA buckets too) was answered.
		at, counted := starterGauge(t, "starter_lifecycle_visibility_counted_at")
		return ok && needing >= 1 && counted && at > 0
	})

	// A conflicting request while the create is parked: one clear comment, nothing started.
	suspendMark := deliveryMark(t)
	suspend := fileIssue(t, "alice", forms.OpSuspend, "Suspend "+slug, suspendBody(slug))
	var rejection string
	eventually(t, 30*time.Second, "the conflict comment", func() bool {
		for _, c := range botComments(t, suspend.GetNumber()) {
			rejection = c.GetBody()
		}
		return rejection != ""
	})
	if !strings.Contains(rejection, "`suspend` cannot start: `create` is running") {
		t.Errorf("conflict comment:\n%s", rejection)
	}
	if _, err := tc.DescribeWorkflowExecution(context.Background(), opID(forms.OpSuspend, slug, suspend), ""); err == nil {
		t.Error("the conflicting suspend started a workflow")
	}

	// A decision for a step that is not parked is refused.
	if err := decide(t, tc, id, workflows.Decision{Step: "cluster", Action: "retry", By: "carol"}); err == nil || !strings.Contains(err.Error(), "not parked") {
		t.Fatalf("decision for a step that is not parked: %v", err)
	}
	simJSON(t, http.MethodDelete, "/_sim/faults", nil, nil)
	// Slash commands: mallory is on no team and is refused; carol (Cloud team) retries the step.
	say(t, "mallory", create.GetNumber(), "/retry")
	eventually(t, 30*time.Second, "the refusal of mallory's /retry", func() bool {
		return hasReply(t, create.GetNumber(), "@mallory: only members of sourcegraph/cloud can use /retry")
	})
	if p, _ := progressOf(t, tc, id); p.Parked == nil {
		t.Fatal("mallory's /retry was applied")
	}
	say(t, "carol", create.GetNumber(), "/retry")
	waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)
	eventually(t, 30*time.Second, "the gauge to drop by the retried create", func() bool {
		n, ok := starterGauge(t, "starter_lifecycle_operations_needing_attention")
		return ok && n == needing-1
	})
	p, err := progressOf(t, tc, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != "succeeded" || len(p.Decisions) != 1 || p.Decisions[0].By != "carol" {
		t.Errorf("progress after the retry: state %s, decisions %+v", p.State, p.Decisions)
	}
	for k, c := range ledgerFor(t, spec.ProjectID(slug)) {
		if c.Created != 1 {
			t.Errorf("%s created %d times", k, c.Created)
		}
	}
	// The rejected suspend stays rejected once the create is done: every delivery of its issue
	// was handled (rejected), so none is left to revive it.
	if got := waitHandled(t, suspendMark, suspend.GetNumber()); len(got) < 2 {
		t.Fatalf("deliveries of the suspend handled: %v", got)
	}
	if r, err := instance(t, tc, slug); err != nil || r.State != workflows.StateActive || len(r.History) != 1 {
		t.Errorf("after the create: record %+v, %v; the rejected suspend must not have run", r, err)
	}
}

// starterGauge reads an unlabelled gauge from the starter's /metrics.
func starterGauge(t *testing.T, name string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(stack.StarterURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return f, true
			}
		}
	}
	return 0, false
}

// simDelivery is a webhook delivery as the simulated GitHub's log shows it.
type simDelivery struct {
	ID      int64           `json:"id"`
	Event   string          `json:"event"`
	Action  string          `json:"action"`
	Repo    string          `json:"repo"`
	Status  string          `json:"status"`
	Payload json.RawMessage `json:"payload"`
}

// deliveryMark is the newest delivery in the simulated GitHub's log: the deliveries an action
// causes come after it (they are logged before the API call that causes them returns).
func deliveryMark(t *testing.T) int64 {
	t.Helper()
	var ds []simDelivery
	simJSON(t, http.MethodGet, "/_sim/github/deliveries", nil, &ds)
	var mark int64
	for _, d := range ds {
		mark = max(mark, d.ID)
	}
	return mark
}

// waitHandled waits until the starter has answered every delivery after mark about the issue (the
// log shows none of them pending; the starter answers once it has handled one) and returns them as
// "event.action", oldest first. A check that nothing else happened can run after it: nothing about
// the issue is still on its way.
func waitHandled(t *testing.T, mark int64, number int) []string {
	t.Helper()
	return waitHandledIn(t, devstack.SampleOwner+"/"+devstack.SampleRepo, mark, number)
}

// waitHandledIn is waitHandled for an issue of another repository ("owner/name").
func waitHandledIn(t *testing.T, repo string, mark int64, number int) []string {
	t.Helper()
	var handled []string
	eventually(t, time.Minute, fmt.Sprintf("the starter to answer the deliveries of issue #%d", number), func() bool {
		var ds []simDelivery
		simJSON(t, http.MethodGet, "/_sim/github/deliveries?repo="+repo, nil, &ds)
		handled = handled[:0]
		for _, d := range ds {
			if d.ID <= mark || (d.Event != "issues" && d.Event != "issue_comment") {
				continue
			}
			var full simDelivery
			simJSON(t, http.MethodGet, fmt.Sprintf("/_sim/github/deliveries/%d", d.ID), nil, &full)
			var p struct {
				Issue struct{ Number int } `json:"issue"`
			}
			if err := json.Unmarshal(full.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.Issue.Number != number {
				continue
			}
			if full.Status == "pending" {
				return false
			}
			handled = append(handled, d.Event+"."+d.Action)
		}
		return len(handled) > 0
	})
	return handled
}
