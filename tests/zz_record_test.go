package tests

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sourcegraph/lifecycle/tests/replay"
	"github.com/sourcegraph/lifecycle/workflows"
)

// TestRecordHistories runs last (its file sorts last) and, when LIFECYCLE_RECORD_HISTORIES=1,
// records under tests/replay/testdata the longest closed history of every workflow type, revision
// and path (parked, retried, skipped, aborted, ...) the end-to-end tests ran, named by
// replay.FileName. It only adds files: a path already recorded keeps its history, so re-recording
// never takes away the replay test of a path that old runs may still be on. Record after a
// deliberate, versioned change with `make record-histories`, and commit the new files.
func TestRecordHistories(t *testing.T) {
	if os.Getenv("LIFECYCLE_RECORD_HISTORIES") != "1" {
		t.Skip("set LIFECYCLE_RECORD_HISTORIES=1 (make record-histories) to record replay histories")
	}
	tc := temporalClient(t)
	opts, err := stack.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	dc := opts.DataConverter
	ctx := context.Background()
	dir := filepath.Join("replay", "testdata")
	for _, w := range workflows.Workflows() {
		best := map[string]*historypb.History{} // file name → longest history
		var token []byte
		for {
			resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running'", w.Name), PageSize: 1000, NextPageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range resp.GetExecutions() {
				var h historypb.History
				it := tc.GetWorkflowHistory(ctx, ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId(), false, 0)
				for it.HasNext() {
					ev, err := it.Next()
					if err != nil {
						t.Fatal(err)
					}
					h.Events = append(h.Events, ev)
				}
				rev, path, err := replay.Classify(dc, &h)
				if err != nil {
					t.Fatalf("%s %s: %v", w.Name, ex.GetExecution().GetWorkflowId(), err)
				}
				name := replay.FileName(w.Name, rev, path)
				if len(h.Events) > len(best[name].GetEvents()) {
					best[name] = &h
				}
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		if len(best) == 0 {
			t.Logf("%s: no closed run to record", w.Name)
		}
		for _, name := range slices.Sorted(maps.Keys(best)) {
			b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(best[name])
			if err != nil {
				t.Fatal(err)
			}
			// O_EXCL: never replace a recorded history.
			f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				t.Logf("%s: already recorded, kept", name)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Write(b)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: recorded %d events", name, len(best[name].GetEvents()))
		}
	}
}
