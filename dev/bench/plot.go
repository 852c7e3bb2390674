package bench

import (
	"encoding/json"
	"fmt"
	"image/color"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/sourcegraph/lifecycle/workflows"
)

// ProgressPoint is how many instances were upgraded T seconds after the rollout started.
type ProgressPoint struct {
	T        float64 `json:"t"`
	Upgraded int     `json:"upgraded"`
}

// UnmarshalJSON reads the seconds MarshalJSON writes (the plot reads earlier runs' JSON).
func (d *Duration) UnmarshalJSON(b []byte) error {
	s, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration %s: want seconds", b)
	}
	*d = Duration(time.Duration(s * float64(time.Second)))
	return nil
}

// upgradedSoFar counts the instances the rollout has upgraded: the finished waves' counts and
// the current wave's succeeded instances.
func upgradedSoFar(st workflows.RolloutState) int {
	done := 0
	for _, w := range st.Waves {
		done += w.Upgraded
		for _, in := range w.Instances {
			if in.Status == workflows.UpgradeSucceeded {
				done++
			}
		}
	}
	return done
}

// IdealProgress is the ideal's curve (Latencies.Ideal): in each wave, concurrency instances
// finish together every chain, and the bake separates the waves.
func (l Latencies) IdealProgress(waves []int, concurrency int) []ProgressPoint {
	pts := []ProgressPoint{{}}
	t, done := time.Duration(0), 0
	for i, n := range waves {
		if i > 0 {
			t += l.Bake
			pts = append(pts, ProgressPoint{T: t.Seconds(), Upgraded: done})
		}
		for left := n; left > 0; left -= concurrency {
			t += l.Chain()
			pts = append(pts, ProgressPoint{T: t.Seconds(), Upgraded: done})
			done += min(left, concurrency)
			pts = append(pts, ProgressPoint{T: t.Seconds(), Upgraded: done})
		}
	}
	return pts
}

// Plot draws instances upgraded over time for every rollout with recorded progress in runs (one
// line per topology and fleet size) against the ideal of each fleet size, as a PNG at path.
func Plot(path string, runs ...*Results) error {
	p := plot.New()
	p.Title.Text = "Fleet rollout: instances upgraded over time"
	p.X.Label.Text = "seconds since the rollout started"
	p.Y.Label.Text = "instances upgraded"
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	idealDone := map[int]bool{}
	lines := 0
	for _, res := range runs {
		if res == nil {
			continue
		}
		for _, ro := range res.Rollouts {
			if len(ro.Progress) == 0 {
				continue
			}
			if !idealDone[ro.Instances] {
				idealDone[ro.Instances] = true
				l, err := line(ro.Latencies.IdealProgress(ro.Waves, res.Concurrency))
				if err != nil {
					return err
				}
				l.Color, l.Dashes = color.Gray{Y: 80}, []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(l)
				p.Legend.Add(fmt.Sprintf("ideal, N=%d", ro.Instances), l)
			}
			l, err := line(ro.Progress)
			if err != nil {
				return err
			}
			l.Color, l.Width = plotutil.Color(lines), vg.Points(1.5)
			lines++
			p.Add(l)
			name := fmt.Sprintf("%s, N=%d", TopologyName(res.Topology), ro.Instances)
			if ro.Killed != "" {
				name += " (" + ro.Killed + ")"
			}
			p.Legend.Add(name, l)
		}
	}
	if lines == 0 {
		return fmt.Errorf("no rollout with recorded progress to plot")
	}
	return p.Save(9*vg.Inch, 5.5*vg.Inch, path)
}

func line(pts []ProgressPoint) (*plotter.Line, error) {
	xys := make(plotter.XYs, 0, len(pts))
	for _, pt := range pts {
		xys = append(xys, plotter.XY{X: pt.T, Y: float64(pt.Upgraded)})
	}
	slices.SortStableFunc(xys, func(a, b plotter.XY) int {
		if a.X < b.X {
			return -1
		}
		if a.X > b.X {
			return 1
		}
		return 0
	})
	return plotter.NewLine(xys)
}

// ReadResults reads a run's JSON (what bin/bench writes).
func ReadResults(b []byte) (*Results, error) {
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.Topology == "" {
		r.Topology = TopologyDev // written before topologies existed
	}
	return &r, nil
}
