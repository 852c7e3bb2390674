package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
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
