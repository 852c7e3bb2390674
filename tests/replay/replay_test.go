// Package replay replays recorded workflow histories against the current workflow code
// (docs/design.md invariant 11): a change that would make a running workflow take a different path
// fails here, before it reaches a worker. The histories come from the end-to-end tests
// (`make record-histories`, which only adds files); each is one closed run, named by FileName
// after its workflow type, revision and path.
package replay

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
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
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			typ, _, _, ok := ParseName(name)
			if !ok {
				t.Fatalf("%s is not named <WorkflowType>.r<revision>[.<path>].json (replay.FileName)", name)
			}
			if !registered[typ] {
				t.Fatalf("%s is recorded but no workflow of that name is registered: a removed workflow type must keep its code until its runs are gone", typ)
			}
			// The name says what the history covers: check it against the history itself.
			h, err := readHistory(f)
			if err != nil {
				t.Fatal(err)
			}
			gotRev, gotPath, err := Classify(cdc.DataConverter(), h)
			if err != nil {
				t.Fatal(err)
			}
			if _, rev, path, _ := ParseName(name); rev != gotRev || (path != "" && path != gotPath) {
				t.Fatalf("%s holds a run at revision %d that took path %q: name it %s", name, gotRev, gotPath, FileName(typ, gotRev, gotPath))
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

// Every workflow type has a recorded history at every revision still in use (OldestRevision to
// CurrentRevision): a new type or revision fails here until `make record-histories` records it,
// so no path in use goes without a replay test.
func TestEveryTypeAndRevisionInUseHasAHistory(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range files {
		if typ, rev, _, ok := ParseName(filepath.Base(f)); ok {
			have[fmt.Sprintf("%s.r%d", typ, rev)] = true
		}
	}
	if workflows.OldestRevision > workflows.CurrentRevision {
		t.Fatalf("OldestRevision %d is past CurrentRevision %d", workflows.OldestRevision, workflows.CurrentRevision)
	}
	for _, w := range workflows.Workflows() {
		for rev := max(workflows.OldestRevision, w.Since); rev <= workflows.CurrentRevision; rev++ {
			if w.Name == "InstanceLifecycle" && rev > 0 && rev < workflows.RevisionCorrectness {
				// Its input had no revision before RevisionCorrectness: every entity of that
				// code ran (and replays) at revision 0.
				continue
			}
			if !have[fmt.Sprintf("%s.r%d", w.Name, rev)] {
				t.Errorf("%s has no recorded history at revision %d: run `make record-histories` (new runs start at revision %d), "+
					"or raise OldestRevision once no open run has `LifecycleRevision < %d OR LifecycleRevision IS NULL`", w.Name, rev, workflows.CurrentRevision, rev+1)
			}
		}
	}
}

func readHistory(file string) (*historypb.History, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return client.HistoryFromJSON(f, client.HistoryJSONOptions{})
}

// TestImportHistories adds the histories in LIFECYCLE_IMPORT_HISTORIES (a directory of JSON
// histories recorded with the test key ring, e.g. by an older release's end-to-end tests) to
// testdata under their names (FileName: type, revision, path), never replacing a file. It is how
// a revision still in use gets a history after the code that starts it is gone.
func TestImportHistories(t *testing.T) {
	dir := os.Getenv("LIFECYCLE_IMPORT_HISTORIES")
	if dir == "" {
		t.Skip("set LIFECYCLE_IMPORT_HISTORIES to a directory of recorded histories to add them to testdata")
	}
	ring, err := os.ReadFile(filepath.Join("testdata", "codec.keys"))
	if err != nil {
		t.Fatal(err)
	}
	cdc, err := codec.Parse(string(ring))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		h, err := readHistory(f)
		if err != nil {
			t.Fatal(err)
		}
		typ := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
		rev, path, err := Classify(cdc.DataConverter(), h)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := FileName(typ, rev, path)
		out, err := os.OpenFile(filepath.Join("testdata", name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			t.Logf("%s: %s already recorded, kept", f, name)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		_, err = out.Write(b)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: added as %s", f, name)
	}
}
