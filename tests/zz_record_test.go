package tests

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sourcegraph/lifecycle/workflows"
)

// TestRecordHistories runs last (its file sorts last) and, when LIFECYCLE_RECORD_HISTORIES=1,
// writes the longest closed history of every workflow type the end-to-end tests ran to
// tests/replay/testdata/<Type>.json: the histories the replay test (tests/replay) replays against
// the current workflow code, so a change that would break running workflows fails `make test`.
// Re-record with `make record-histories` after a deliberate, versioned change.
func TestRecordHistories(t *testing.T) {
	if os.Getenv("LIFECYCLE_RECORD_HISTORIES") != "1" {
		t.Skip("set LIFECYCLE_RECORD_HISTORIES=1 (make record-histories) to record replay histories")
	}
	tc := temporalClient(t)
	ctx := context.Background()
	dir := filepath.Join("replay", "testdata")
	for _, w := range workflows.Workflows() {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running'", w.Name), PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var best *historypb.History
		for _, ex := range resp.GetExecutions() {
			if ex.GetHistoryLength() <= int64(len(best.GetEvents())) {
				continue
			}
			var h historypb.History
			it := tc.GetWorkflowHistory(ctx, ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId(), false, 0)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					t.Fatal(err)
				}
				h.Events = append(h.Events, ev)
			}
			best = &h
		}
		if best == nil {
			t.Logf("%s: no closed run to record", w.Name)
			continue
		}
		b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(best)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, w.Name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: recorded %d events", w.Name, len(best.GetEvents()))
	}
}
