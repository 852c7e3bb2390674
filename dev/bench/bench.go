// Package bench measures the service on this machine (issue 8): fleet rollouts against the real
// Temporal dev server and the simulator with set latencies, the same per-instance calls from a
// plain goroutine pool without Temporal, history cost, worker memory, and webhook latency from a
// separate process. Figures are printed and written as JSON; nothing here passes or fails on time.
package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Limits are Temporal's per-history limits; a history should stay under 10 % of them.
const (
	HistoryEventLimit = 51_200
	HistoryBytesLimit = 50 << 20
)

// Config is one benchmark run.
type Config struct {
	// Root is the repository root; binaries come from Root/bin (make build).
	Root string
	// Sizes are the fleets rolled out with Latencies (e.g. 100, 1000); each also runs the baseline.
	Sizes []int
	// HistorySize is the fleet rolled out with near-zero latencies to find the largest history (0 skips).
	HistorySize int
	// Concurrency is the rollout's upgrades in flight (the upgrade form's limit, 5).
	Concurrency int
	Latencies   Latencies
	// Webhooks are delivery loads sent to the starter, each on the stack of the fleet its Fleet
	// names, after that fleet's rollout (one delivery per instance).
	Webhooks []WebhookLoad
	// SkipBaseline leaves the goroutine-pool runs out (a quicker before/after comparison).
	SkipBaseline bool
	// GitHubLimits is the fleet rolled out with GitHub's limits on (0 skips): the simulator's
	// secondary limits (-github-secondary-limits) with every rate-limit window shrunk by
	// GitHubTimeScale (-github-time-scale, DefaultGitHubTimeScale when 0), and the worker's
	// github-writes queue sized to the same scaled budget, so the rollout runs hours of GitHub time
	// in minutes. The other runs leave the limits off.
	GitHubLimits    int
	GitHubTimeScale float64
	// Env is extra environment for every process of the stack (tuning experiments), e.g.
	// LIFECYCLE_WORKER_POLLERS=2.
	Env []string
	// Topology is where Temporal runs: TopologyDev (default) or TopologyProd.
	Topology string
	Log      io.Writer
}

// Latencies are the simulator's set latencies per step of one instance's upgrade, and the
// rollout's waits.
type Latencies struct {
	SQLBackup    time.Duration `json:"sqlBackup"`    // Cloud SQL on-demand backup operation
	GKEBackup    time.Duration `json:"gkeBackup"`    // Backup for GKE backup operation
	Merge        time.Duration `json:"merge"`        // merging the version bump's pull request
	Rollout      time.Duration `json:"rollout"`      // merge → the instance serves the new version
	SoakProbes   int           `json:"soakProbes"`   // healthy probes in a row after the bump
	SoakInterval time.Duration `json:"soakInterval"` // between probes (also the version wait's)
	Bake         time.Duration `json:"bake"`         // between waves
	Poll         time.Duration `json:"poll"`         // how often activities poll operations
}

// Chain is one instance's critical path: every wait the simulator imposes, in order.
// The two backups run at once (the workflows take them in parallel), so the longer one counts.
func (l Latencies) Chain() time.Duration {
	return max(l.SQLBackup, l.GKEBackup) + l.Merge + l.Rollout + time.Duration(max(l.SoakProbes-1, 0))*l.SoakInterval
}

// Ideal is the makespan of waves of these sizes if each instance took exactly Chain and nothing
// else took time: ceil(n/C) chains per wave, plus the bake between waves.
func (l Latencies) Ideal(waves []int, concurrency int) time.Duration {
	var d time.Duration
	for i, n := range waves {
		if i > 0 {
			d += l.Bake
		}
		d += time.Duration((n+concurrency-1)/concurrency) * l.Chain()
	}
	return d
}

// DefaultLatencies are the measured runs' latencies: a chain of 1.7 s per instance (2.3 s while
// the backups were taken one after the other).
var DefaultLatencies = Latencies{SQLBackup: 600 * time.Millisecond, GKEBackup: 600 * time.Millisecond, Merge: 200 * time.Millisecond,
	Rollout: 600 * time.Millisecond, SoakProbes: 2, SoakInterval: 300 * time.Millisecond, Bake: 2 * time.Second, Poll: 100 * time.Millisecond}

// NearZero are the history run's latencies: the rollout's own work is all that takes time.
var NearZero = Latencies{SoakProbes: 1, SoakInterval: 10 * time.Millisecond, Bake: 10 * time.Millisecond, Poll: 10 * time.Millisecond}

// DefaultGitHubTimeScale shrinks GitHub's rate-limit windows a hundredfold in the limits run: an
// hour of GitHub's budget passes in 36 s.
const DefaultGitHubTimeScale = 100

// Results is everything one run measured (the JSON written by make bench).
type Results struct {
	Started     time.Time    `json:"started"`
	Topology    string       `json:"topology"`
	Machine     string       `json:"machine"`
	Concurrency int          `json:"concurrency"`
	Latencies   Latencies    `json:"latencies"`
	Rollouts    []RolloutRun `json:"rollouts"`
	History     *RolloutRun  `json:"history,omitempty"`
	// Limits is the rollout with GitHub's limits on (Config.GitHubLimits).
	Limits   *RolloutRun     `json:"githubLimits,omitempty"`
	Webhooks []WebhookResult `json:"webhooks,omitempty"`
	// Create is the production-like topology's end-to-end create, on the first fleet's stack.
	Create *CreateRun `json:"create,omitempty"`
}

// Run runs every scenario in turn, each on a stack of its own.
func Run(ctx context.Context, c Config) (*Results, error) {
	if c.Topology == "" {
		c.Topology = TopologyDev
	}
	res := &Results{Started: time.Now().UTC(), Topology: c.Topology, Machine: machine(), Concurrency: c.Concurrency, Latencies: c.Latencies}
	limited := c
	if limited.GitHubTimeScale <= 0 {
		limited.GitHubTimeScale = DefaultGitHubTimeScale
	}
	c.GitHubTimeScale = 0
	for _, n := range c.Sizes {
		var load *WebhookLoad
		for i := range c.Webhooks {
			if c.Webhooks[i].Fleet == n {
				load = &c.Webhooks[i]
			}
		}
		r, wh, err := runRollout(ctx, c, n, c.Latencies, load)
		if r != nil && r.create != nil && res.Create == nil {
			res.Create = r.create
		}
		if err != nil {
			return res, fmt.Errorf("rollout of %d instances: %w", n, err)
		}
		if wh != nil {
			res.Webhooks = append(res.Webhooks, *wh)
		}
		if c.SkipBaseline {
			res.Rollouts = append(res.Rollouts, *r)
			continue
		}
		b, err := runBaseline(ctx, c, n, c.Latencies)
		if err != nil {
			return res, fmt.Errorf("baseline of %d instances: %w", n, err)
		}
		r.Baseline = b
		r.Overhead = ratio(r.Makespan.D(), b.Makespan.D())
		r.SameCalls = slices.Equal(r.UpgradeCalls, b.Calls)
		res.Rollouts = append(res.Rollouts, *r)
	}
	if c.GitHubLimits > 0 {
		r, _, err := runRollout(ctx, limited, c.GitHubLimits, c.Latencies, nil)
		if err != nil {
			return res, fmt.Errorf("rollout of %d instances with GitHub's limits: %w", c.GitHubLimits, err)
		}
		res.Limits = r
	}
	if c.HistorySize > 0 {
		r, _, err := runRollout(ctx, c, c.HistorySize, NearZero, nil)
		if err != nil {
			return res, fmt.Errorf("history run of %d instances: %w", c.HistorySize, err)
		}
		res.History = r
	}
	return res, nil
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return math.Round(float64(a)/float64(b)*1000) / 1000
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}
