package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIdealProgressEndsAtTheIdeal(t *testing.T) {
	waves := []int{1, 2, 7, 12}
	pts := DefaultLatencies.IdealProgress(waves, 5)
	last := pts[len(pts)-1]
	if want := DefaultLatencies.Ideal(waves, 5).Seconds(); last.T != want || last.Upgraded != 22 {
		t.Fatalf("the ideal curve ends at %+v, want %.1f s and 22 upgraded", last, want)
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].T < pts[i-1].T || pts[i].Upgraded < pts[i-1].Upgraded {
			t.Fatalf("the ideal curve goes back at point %d: %+v after %+v", i, pts[i], pts[i-1])
		}
	}
}

// A run's JSON reads back (the plot draws the other topology's last run from it) and plots.
func TestPlotReadsBackAndDrawsBothTopologies(t *testing.T) {
	ro := RolloutRun{Instances: 10, Upgraded: 10, Latencies: DefaultLatencies, Waves: []int{1, 9},
		Makespan: Duration(20 * time.Second), Progress: []ProgressPoint{{0, 0}, {5, 1}, {12, 6}, {20, 10}}}
	dev := &Results{Topology: TopologyDev, Concurrency: 5, Latencies: DefaultLatencies, Rollouts: []RolloutRun{ro}}
	b, err := json.Marshal(dev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadResults(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Rollouts[0]; got.Makespan != ro.Makespan || len(got.Progress) != 4 {
		t.Fatalf("read back %+v", got)
	}
	prod := *dev
	prod.Topology = TopologyProd
	prod.Rollouts = []RolloutRun{ro}
	prod.Rollouts[0].Killed = "worker2 SIGKILLed at 5 of 10 upgraded"
	path := filepath.Join(t.TempDir(), "bench.png")
	if err := Plot(path, back, &prod); err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("no PNG written: %v", err)
	}
	if err := Plot(path, &Results{Topology: TopologyDev}); err == nil {
		t.Fatal("a plot without any progress should say so")
	}
}
