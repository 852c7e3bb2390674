// Package replay replays recorded workflow histories against the current workflow code
// (docs/design.md invariant 11): a change that would make a running workflow take a different path
// fails here, before it reaches a worker. The histories come from the end-to-end tests
// (`make record-histories`); each is one closed run of a workflow type.
package replay

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/internal/codec"
	"github.com/sourcegraph/lifecycle/workflows"
)

func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories under testdata/: run `make record-histories`")
	}
	// Histories recorded by the end-to-end stack are encrypted with its test key ring.
	ring, err := os.ReadFile(filepath.Join("testdata", "codec.keys"))
	if err != nil {
		t.Fatal(err)
	}
	cdc, err := codec.Parse(string(ring))
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, w := range workflows.Workflows() {
		registered[w.Name] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			if !registered[name] {
				t.Fatalf("%s is recorded but no workflow of that name is registered: a removed workflow type must keep its code until its runs are gone", name)
			}
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: cdc.DataConverter(), FailureConverter: cdc.FailureConverter()})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range workflows.Workflows() {
				r.RegisterWorkflowWithOptions(w.Func, workflow.RegisterOptions{Name: w.Name})
			}
			if err := r.ReplayWorkflowHistoryFromJSONFile(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), f); err != nil {
				t.Fatalf("replaying %s: %v", f, err)
			}
		})
	}
}
