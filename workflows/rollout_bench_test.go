package workflows

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// BenchmarkFleetRollout runs whole rollouts of 1,000 and 10,000 instances on the time-skipping
// environment (the instances' upgrades played by the harness, 5 at a time) and reports what
// bounds the workflow at that size: the largest state the rollout carried (what continue-as-new
// and the rollout query send; Temporal refuses payloads over 2 MB) and the tracking issue's
// checklist (GitHub refuses bodies over 65,536 characters).
//
//	go test ./workflows -run '^$' -bench FleetRollout -benchtime 1x
func BenchmarkFleetRollout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			for range b.N {
				h := newRolloutHarness(b)
				h.upgradeTime = time.Minute
				types := map[string]spec.InstanceType{"rctest": spec.Internal}
				for i := range n {
					t := spec.Production
					if i%4 == 0 {
						t = spec.Trial
					}
					types[fmt.Sprintf("customer-%05d", i)] = t
				}
				h.fleet("5.9.0", types)
				maxState := 0
				var sample func()
				sample = func() {
					if st, err := json.Marshal(h.state()); err == nil && len(st) > maxState {
						maxState = len(st)
					}
					if !h.env.IsWorkflowCompleted() {
						h.env.RegisterDelayedCallback(sample, 6*time.Hour)
					}
				}
				h.env.RegisterDelayedCallback(sample, time.Minute)
				h.run(h.input(func(r *RolloutRequest) { r.Upgrade.Concurrency = 5 }), 30*24*time.Hour)
				st := h.result()
				if st.Phase != PhaseDone || st.instances() != n+1 {
					b.Fatalf("phase %s, %d instances (%s)", st.Phase, st.instances(), st.Reason)
				}
				bodies := h.f.callsOf("EditIssueBody")
				b.ReportMetric(float64(maxState), "max-state-bytes")
				b.ReportMetric(float64(h.lastBodyLen()), "checklist-chars")
				b.ReportMetric(float64(bodies), "issue-edits")
			}
		})
	}
}
