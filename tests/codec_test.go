package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	querypb "go.temporal.io/api/query/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// TestPayloadsAreEncrypted files a new-instance request and reads the raw histories of its instance
// and create workflows as Temporal stores them: the customer admin's email must not appear in
// clear anywhere, and the worker's codec server (what the Web UI calls) must decode it.
func TestPayloadsAreEncrypted(t *testing.T) {
	tc := temporalClient(t)
	const slug, email = "e2e-codec", "admin@acme-corp.example"
	is := fileIssue(t, "alice", forms.OpCreate, "New instance: "+slug, devstack.SampleNewInstanceBody(slug))
	waitState(t, tc, slug, workflows.StateActive, 90*time.Second)
	createID := opID(forms.OpCreate, slug, is)

	raw := func(id string) *historypb.History {
		h := &historypb.History{}
		it := tc.GetWorkflowHistory(context.Background(), id, "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, ev)
		}
		return h
	}
	var started *commonpb.Payloads
	for _, id := range []string{workflows.InstanceWorkflowID(slug), createID} {
		h := raw(id)
		b, err := proto.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(email)) || bytes.Contains(b, []byte("acme-corp.example")) {
			t.Fatalf("%s's history holds the customer's email in clear (%d events)", id, len(h.Events))
		}
		if id == createID {
			started = h.Events[0].GetWorkflowExecutionStartedEventAttributes().GetInput()
		}
	}
	if len(started.GetPayloads()) == 0 {
		t.Fatal("the create's start event has no input")
	}
	// The codec server decodes it for the Web UI.
	body, _ := protojson.Marshal(started)
	resp, err := http.Post(stack.WorkerURL()+"/codec/decode", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("codec server: %s %s", resp.Status, b)
	}
	var decoded commonpb.Payloads
	if err := protojson.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	var in workflows.OperationInput
	if err := json.Unmarshal(decoded.GetPayloads()[0].GetData(), &in); err != nil {
		t.Fatalf("decoded payload is not the create's input: %v (%s)", err, decoded.GetPayloads()[0].GetData())
	}
	if in.Request.Create == nil || in.Request.Create.AdminEmail != email {
		t.Fatalf("decoded create input: %s", fmt.Sprint(in.Request.Create))
	}
}

// TestCodecServerAllowsBothLocalUIOrigins: the dev server prints its Web UI as
// http://localhost:<port>, and people also open http://127.0.0.1:<port>; the local stack's codec
// server must answer both, or the UI shows every payload encrypted.
func TestCodecServerAllowsBothLocalUIOrigins(t *testing.T) {
	for _, origin := range []string{
		fmt.Sprintf("http://127.0.0.1:%d", stack.Opts.UIPort),
		fmt.Sprintf("http://localhost:%d", stack.Opts.UIPort),
	} {
		req, _ := http.NewRequest(http.MethodOptions, stack.WorkerURL()+"/codec/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("codec preflight from the Web UI at %s: Access-Control-Allow-Origin %q", origin, got)
		}
	}
}

// TestFailuresAndSummariesAreEncrypted makes the create's DNS step fail (Cloudflare answers 400, so
// the step parks at once) and reads the raw histories of the instance and create workflows: the
// customer's domain is in the activity's failure message, the operation's summaries and details,
// and none of it may reach Temporal in clear. The failure must still decode for those holding the key.
func TestFailuresAndSummariesAreEncrypted(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-codec-dns"
	domain := spec.DefaultDomain(slug)
	simJSON(t, http.MethodPost, "/_sim/faults", strings.NewReader(
		`{"api":"cloudflare","method":"dns_records.create","status":400,"message":"record `+domain+` refused (injected)"}`), nil)
	t.Cleanup(func() { simJSON(t, http.MethodDelete, "/_sim/faults", nil, nil) })

	is := fileIssue(t, "alice", forms.OpCreate, "New instance: "+slug, devstack.SampleNewInstanceBody(slug))
	createID := opID(forms.OpCreate, slug, is)
	var p workflows.Progress
	eventually(t, 2*time.Minute, "the create to park on DNS", func() bool {
		var err error
		p, err = progressOf(t, tc, createID)
		return err == nil && p.Parked != nil
	})
	if p.Parked.Step != "dns" || !strings.Contains(p.Parked.Error, domain) {
		t.Fatalf("parked on %+v; want the dns step, its error naming %s", p.Parked, domain)
	}

	var failures []*failurepb.Failure
	for _, id := range []string{workflows.InstanceWorkflowID(slug), createID} {
		h := &historypb.History{}
		it := tc.GetWorkflowHistory(context.Background(), id, "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, ev)
			if f := ev.GetActivityTaskFailedEventAttributes().GetFailure(); f != nil {
				failures = append(failures, f)
			}
		}
		b, err := proto.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, []byte(domain)); i >= 0 {
			lo, hi := max(0, i-200), min(len(b), i+len(domain)+80)
			t.Errorf("%s's history holds the domain %s in clear (%d events), around: %q", id, domain, len(h.Events), b[lo:hi])
		}
	}
	if len(failures) == 0 {
		t.Fatal("no ActivityTaskFailed event in the create's history")
	}
	// Whoever holds the key (the worker, mi, the Web UI through the codec server) still reads it.
	o, oerr := stack.ClientOptions()
	if oerr != nil {
		t.Fatal(oerr)
	}
	fc := o.FailureConverter
	if fc == nil {
		t.Fatal("the stack's client options have no failure converter: failures would be written in clear")
	}
	// The last failure is the dns step's (earlier ones may be the wait for the APIs' enabling).
	if got := fc.FailureToError(failures[len(failures)-1]); !strings.Contains(got.Error(), domain) {
		t.Errorf("decoded failure %q does not name the domain", got)
	}

	// The Web UI's current details (the parked error names the domain) leave the worker only as
	// ciphertext: the metadata query's raw answer, as the server passes it on.
	qr, err := tc.WorkflowService().QueryWorkflow(context.Background(), &workflowservice.QueryWorkflowRequest{Namespace: "default",
		Execution: &commonpb.WorkflowExecution{WorkflowId: createID}, Query: &querypb.WorkflowQuery{QueryType: "__temporal_workflow_metadata"}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := proto.Marshal(qr); len(b) == 0 || bytes.Contains(b, []byte(domain)) {
		t.Errorf("the current details reach the server in clear (%d bytes)", len(b))
	}
	var meta sdkpb.WorkflowMetadata
	if err := o.DataConverter.FromPayloads(qr.GetQueryResult(), &meta); err != nil || !strings.Contains(meta.GetCurrentDetails(), domain) {
		t.Errorf("the decoded current details do not show the parked error: %v %q", err, meta.GetCurrentDetails())
	}

	// Leave nothing parked: abort undoes the create's steps.
	simJSON(t, http.MethodDelete, "/_sim/faults", nil, nil)
	if err := decide(t, tc, createID, workflows.Decision{Step: "dns", Action: workflows.ActionAbort, By: "carol", Reason: "e2e cleanup"}); err != nil {
		t.Fatal(err)
	}
}
