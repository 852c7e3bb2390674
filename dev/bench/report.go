package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/workflows"
)

// Targets (issue 21, at 1,000 instances): figures to print against, never assertions.
const (
	TargetEfficiency = 1.10
	TargetOverhead   = 1.08
	TargetEvents     = 50
	TargetCPUMs      = 200 // per upgrade, across the stack's processes
	TargetHistoryPct = 10
	TargetWorkerMB   = 256
	TargetWebhookP99 = 50 * time.Millisecond // the answer, at the sender
)

// Print writes the figures as one table: metric, measured, target, met.
func (r *Results) Print(w io.Writer) {
	l := r.Latencies
	fmt.Fprintf(w, "\nBenchmarks on %s, started %s; Temporal: %s\n", r.Machine, r.Started.Format(time.RFC3339), TopologyName(r.Topology))
	fmt.Fprintf(w, "Rollout latencies: SQL backup %s + GKE backup %s + merge %s + rollout %s + soak %d×%s = chain %s per instance; concurrency %d; bake %s; poll %s\n\n",
		l.SQLBackup, l.GKEBackup, l.Merge, l.Rollout, max(l.SoakProbes-1, 0), l.SoakInterval, l.Chain(), r.Concurrency, l.Bake, l.Poll)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tmeasured\ttarget\tmet")
	row := func(metric, measured, target string, met bool) {
		mark := "yes"
		if !met {
			mark = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", metric, measured, target, mark)
	}
	secs := func(d Duration) string { return fmt.Sprintf("%.1f s", d.D().Seconds()) }
	runs := r.Rollouts
	if r.Limits != nil {
		runs = append(slices.Clone(runs), *r.Limits)
	}
	for _, ro := range runs {
		n := fmt.Sprint(ro.Instances)
		if ro.GitHubTimeScale > 0 {
			n += fmt.Sprintf(" GitHub-limited (×%g)", ro.GitHubTimeScale)
		}
		row(fmt.Sprintf("N=%s makespan ÷ ideal", n), fmt.Sprintf("%.3f (%s ÷ %s; waves %v; planning %s)", ro.Efficiency, secs(ro.Makespan), secs(ro.Ideal), ro.Waves, secs(ro.Planning)),
			fmt.Sprintf("≤ %.2f", TargetEfficiency), ro.Efficiency <= TargetEfficiency)
		if b := ro.Baseline; b != nil {
			same := "same calls"
			if !ro.SameCalls {
				same = "CALLS DIFFER: " + callList(ro.UpgradeCalls) + " vs " + callList(b.Calls)
			}
			row(fmt.Sprintf("N=%s Temporal ÷ goroutine pool", n), fmt.Sprintf("%.3f (%s ÷ %s; %s)", ro.Overhead, secs(ro.Makespan), secs(b.Makespan), same),
				fmt.Sprintf("≤ %.2f", TargetOverhead), ro.Overhead <= TargetOverhead && ro.SameCalls)
		}
		h := ro.History
		row(fmt.Sprintf("N=%s history events per upgrade", n), fmt.Sprintf("%.1f (upgrade %.1f + instance %.1f + rollout %.1f)", h.PerUpgrade, h.Upgrade, h.Instance, h.Rollout),
			fmt.Sprintf("≤ %d", TargetEvents), h.PerUpgrade <= TargetEvents)
		gh := fmt.Sprintf("%.1f", ro.GitHubPerUpgrade)
		if ro.Baseline != nil {
			gh += fmt.Sprintf(" (goroutine pool %.1f)", ro.Baseline.GitHubPerUpgrade)
		}
		if ro.GitHubTimeScale == 0 { // with the windows scaled, the hour's count restarts every 36 s
			row(fmt.Sprintf("N=%s GitHub API calls per upgrade", n), gh, "(information)", true)
		}
		row(fmt.Sprintf("N=%s GitHub writes per upgrade", n), fmt.Sprintf("%.1f", ro.WritesPerUpgrade), fmt.Sprintf("≤ %d", TargetWritesPerUpgrade), ro.WritesPerUpgrade <= TargetWritesPerUpgrade)
		if ro.GitHubTimeScale > 0 {
			row(fmt.Sprintf("N=%s secondary-limit answers", n), fmt.Sprint(ro.SecondaryRefused), "0", ro.SecondaryRefused == 0)
			within := ro.SLAWindow > 0 && ro.GitHubMakespan <= ro.SLAWindow
			row(fmt.Sprintf("N=%s completion in GitHub time", n), fmt.Sprintf("%s (upgrade SLA %s)", ro.GitHubMakespan.D().Round(time.Minute), slaText(ro.SLAWindow)),
				"within the upgrade SLA", within)
			plan := workflows.EstimateFleetRollout(10_000, workflows.Settings{GitHubWritesPerHour: workflows.DefaultGitHubWritesPerHour,
				GitHubWritesPerChange: workflows.DefaultGitHubWritesPerChange}, r.Concurrency)
			row("N=10000 plan's expected completion", fmt.Sprintf("%s (upgrade SLA %s)", plan.Round(time.Minute), slaText(ro.SLAWindow)),
				"within the upgrade SLA", ro.SLAWindow > 0 && Duration(plan) <= ro.SLAWindow)
		}
		row(fmt.Sprintf("N=%s CPU per upgrade", n), cpuLine(ro.CPUPerUpgrade), fmt.Sprintf("≤ %d ms", TargetCPUMs), cpuTotal(ro.CPUPerUpgrade) <= TargetCPUMs)
		if m, ok := ro.Memory["worker"]; ok {
			row(fmt.Sprintf("N=%s worker peak RSS", n), fmt.Sprintf("%.0f MB (%s)", m.PeakMB, otherMemory(ro.Memory)), fmt.Sprintf("≤ %d MB", TargetWorkerMB), m.PeakMB <= TargetWorkerMB)
		}
		if ro.Killed != "" {
			row(fmt.Sprintf("N=%s worker killed mid-rollout", n), ro.Killed+"; every instance upgraded", "(information)", true)
		}
	}
	if ro := r.History; ro != nil {
		h := ro.History
		row(fmt.Sprintf("N=%d history events per upgrade", ro.Instances), fmt.Sprintf("%.1f (%d workflows, %d events, %d rollout runs, makespan %s)", h.PerUpgrade, h.Workflows, h.Events, ro.Runs, secs(ro.Makespan)),
			fmt.Sprintf("≤ %d", TargetEvents), h.PerUpgrade <= TargetEvents)
		row(fmt.Sprintf("N=%d largest history", ro.Instances), fmt.Sprintf("%d events = %.1f %% of %d (%s)", h.Largest, h.LargestEventsPct, HistoryEventLimit, h.LargestID),
			fmt.Sprintf("< %d %%", TargetHistoryPct), h.LargestEventsPct < TargetHistoryPct)
		row(fmt.Sprintf("N=%d largest history size", ro.Instances), fmt.Sprintf("%.2f MB = %.1f %% of 50 MB (%s)", float64(h.LargestBytes)/(1<<20), h.LargestBytesPct, h.LargestBytesID),
			fmt.Sprintf("< %d %%", TargetHistoryPct), h.LargestBytesPct < TargetHistoryPct)
		if m, ok := ro.Memory["worker"]; ok {
			// Every instance workflow is open: the sticky cache (LIFECYCLE_STICKY_CACHE_SIZE) bounds it.
			row(fmt.Sprintf("N=%d worker peak RSS, all open", ro.Instances), fmt.Sprintf("%.0f MB (%s)", m.PeakMB, otherMemory(ro.Memory)),
				fmt.Sprintf("≤ %d MB", TargetWorkerMB), m.PeakMB <= TargetWorkerMB)
		}
		row(fmt.Sprintf("N=%d CPU per upgrade", ro.Instances), cpuLine(ro.CPUPerUpgrade), "(information)", true)
	}
	if c := r.Create; c != nil {
		row("end-to-end create (issue filed → instance active)", fmt.Sprintf("%s (%s)", secs(c.Duration), c.Slug), "(information)", true)
	}
	for _, wh := range r.Webhooks {
		ms := func(d Duration) string { return fmt.Sprintf("%.1f ms", float64(d.D().Microseconds())/1000) }
		load := fmt.Sprintf("%d/s for %s", wh.Load.Rate, wh.Load.Duration)
		row("webhook answer p99, "+load, fmt.Sprintf("%s (p50 %s, max %s; every answer; started p99 %s, p50 %s, of %d started)", ms(wh.Responded.P99), ms(wh.Responded.P50), ms(wh.Responded.Max),
			ms(wh.Started.P99), ms(wh.Started.P50), wh.StartedFound), "≤ 50 ms", wh.Responded.P99.D() <= TargetWebhookP99)
		row("webhook operations started, "+load, fmt.Sprintf("%d of %d deliveries answered 202; %d teardown workflows in Temporal", wh.Accepted, wh.Sent, wh.Workflows),
			"each exactly once", wh.Failed == 0 && wh.Workflows == wh.Sent)
	}
	tw.Flush()
	for _, wh := range r.Webhooks {
		fmt.Fprintf(w, "webhooks at %d/s: %s of wall time; CPU seconds: Temporal %.1f, worker %.1f, starter %.1f, simulator %.1f\n",
			wh.Load.Rate, wh.Wall.D().Round(100*time.Millisecond), wh.CPU["temporal"], wh.CPU["worker"], wh.CPU["starter"], wh.CPU["simulator"])
		if len(wh.Other) > 0 {
			fmt.Fprintf(w, "webhook answers other than 202: %s\n", strings.Join(wh.Other, "; "))
		}
	}
}

// TargetWritesPerUpgrade is issue 17's target of GitHub writes per upgrade.
const TargetWritesPerUpgrade = 3

func slaText(d Duration) string {
	if d <= 0 {
		return "not tracked"
	}
	return d.D().Round(time.Minute).String()
}

// cpuTotal is the stack's CPU milliseconds per upgrade.
func cpuTotal(ms map[string]float64) float64 {
	total := 0.0
	for _, v := range ms {
		total += v
	}
	return total
}

// cpuLine is the CPU milliseconds per upgrade of each process of the stack.
func cpuLine(ms map[string]float64) string {
	parts := ""
	for _, name := range devstack.Processes {
		if v, ok := ms[name]; ok {
			parts += fmt.Sprintf(", %s %.1f", processLabel(name), v)
		}
	}
	return fmt.Sprintf("%.1f ms (%s)", cpuTotal(ms), strings.TrimPrefix(parts, ", "))
}

// otherMemory is the peak RSS of every process but the worker.
func otherMemory(m map[string]Memory) string {
	var parts []string
	for _, name := range devstack.Processes {
		if v, ok := m[name]; ok && name != "worker" {
			parts = append(parts, fmt.Sprintf("%s %.0f MB", processLabel(name), v.PeakMB))
		}
	}
	return strings.Join(parts, ", ")
}

// processLabel names a process in the table; "temporal" is the dev server or the server.
func processLabel(name string) string {
	if name == "temporal" {
		return "Temporal"
	}
	return name
}
