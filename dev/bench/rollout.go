package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/workflows"
)

// RolloutRun is one fleet rollout through the real entry points.
type RolloutRun struct {
	Instances  int               `json:"instances"`
	Upgraded   int               `json:"upgraded"`
	Latencies  Latencies         `json:"latencies"`
	Waves      []int             `json:"waves"` // instances per wave
	Chain      Duration          `json:"chain"`
	Ideal      Duration          `json:"ideal"`
	Makespan   Duration          `json:"makespan"` // rollout start (tracking issue handled) → end
	Planning   Duration          `json:"planning"` // start → first wave (release lookup, fleet listing, plan)
	Efficiency float64           `json:"makespanOverIdeal"`
	Runs       int               `json:"runs"` // rollout workflow runs (1 + continue-as-new)
	History    HistoryCost       `json:"history"`
	Memory     map[string]Memory `json:"memoryMB"`
	// GitHubPerUpgrade is the GitHub API calls per instance upgraded (every process, the fleet
	// listing and the tracking issue's edits included): what a rollout costs of the token's
	// hourly rate limit.
	GitHubPerUpgrade float64 `json:"githubCallsPerUpgrade"`
	// WritesPerUpgrade are the bot's content-creating GitHub requests per instance upgraded
	// (GitHub's secondary limits count them); SecondaryRefused the ones refused with a secondary
	// limit (target 0).
	WritesPerUpgrade float64 `json:"githubWritesPerUpgrade"`
	SecondaryRefused int     `json:"secondaryLimitAnswers"`
	// GitHubTimeScale is Config.GitHubTimeScale; GitHubMakespan the makespan in GitHub time
	// (makespan × scale) and SLAWindow the rollout's upgrade SLA (resolution − start), to compare.
	GitHubTimeScale float64  `json:"githubTimeScale,omitempty"`
	GitHubMakespan  Duration `json:"githubMakespan,omitempty"`
	SLAWindow       Duration `json:"slaWindow,omitempty"`
	// UpgradeCalls are the activities of one instance's upgrade, in order (from its history).
	UpgradeCalls []string `json:"upgradeCalls"`
	// CPUPerUpgrade is each process's CPU milliseconds over the rollout, per instance upgraded:
	// steadier than the makespan on a shared 2-core machine, for comparing changes.
	CPUPerUpgrade map[string]float64 `json:"cpuMsPerUpgrade"`

	// Progress is instances upgraded over time since the rollout started (the plot).
	Progress []ProgressPoint `json:"progress,omitempty"`
	// Killed says which worker was SIGKILLed mid-rollout, and when (production-like topology).
	Killed string `json:"killed,omitempty"`
	create *CreateRun

	Baseline  *BaselineRun `json:"baseline,omitempty"`
	Overhead  float64      `json:"temporalOverBaseline,omitempty"`
	SameCalls bool         `json:"sameCalls,omitempty"`
}

// Duration is a time.Duration that reads as seconds in the JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", time.Duration(d).Seconds())), nil
}

func (d Duration) D() time.Duration { return time.Duration(d) }

// runRollout seeds n instances at devstack.FleetFrom, files an upgrade-tracking issue for
// devstack.LatestVersion through the simulated GitHub (its webhook starts the rollout) and
// waits for the end. With load set, the webhook benchmark runs on the same stack afterwards, with
// the fleet's entity workflows still open.
func runRollout(ctx context.Context, c Config, n int, l Latencies, load *WebhookLoad) (*RolloutRun, *WebhookResult, error) {
	c.logf("rollout of %d instances: starting a stack", n)
	s, stop, err := startStack(ctx, c, l)
	if err != nil {
		return nil, nil, err
	}
	defer stop()
	tc, err := s.Dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tc.Close()
	slugs, err := s.SeedFleet(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	mem := watchMemory(s)
	cpu0 := cpuOf(s)
	is, err := s.FileUpgradeTracking(ctx, devstack.LatestVersion)
	if err != nil {
		mem.stop()
		return nil, nil, err
	}
	id := workflows.RolloutWorkflowID(workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: is.GetNumber()})
	c.logf("rollout of %d instances: %s filed, rollout %s", n, is.GetHTMLURL(), id)
	kill := &workerKiller{c: c, s: s, n: n}
	st, progress, err := waitRollout(ctx, c, tc, id, kill.progress)
	if err != nil {
		mem.stop()
		return nil, nil, err
	}
	r := &RolloutRun{Instances: n, Latencies: l, Chain: Duration(l.Chain()), Runs: st.Runs, CPUPerUpgrade: cpuOf(s),
		Progress: append(progress, ProgressPoint{T: st.EndedAt.Sub(st.StartedAt).Seconds(), Upgraded: n}), Killed: kill.killed}
	for _, w := range st.Waves {
		r.Waves = append(r.Waves, len(w.Instances)+w.Upgraded)
		r.Upgraded += w.Upgraded
		for _, in := range w.Instances {
			if in.Status == workflows.UpgradeSucceeded {
				r.Upgraded++
			}
		}
	}
	if r.Upgraded != n {
		mem.stop()
		return nil, nil, fmt.Errorf("the rollout ended %s having upgraded %d of %d instances: %s", st.Phase, r.Upgraded, n, st.Reason)
	}
	if err := checkServed(ctx, s, slugs, devstack.LatestVersion); err != nil {
		mem.stop()
		return nil, nil, err
	}
	calls, err := githubCalls(ctx, s.SimURL())
	if err != nil {
		mem.stop()
		return nil, nil, err
	}
	r.GitHubPerUpgrade = float64(calls) / float64(n)
	writes, refused, err := githubWrites(ctx, s.SimURL())
	if err != nil {
		mem.stop()
		return nil, nil, err
	}
	r.WritesPerUpgrade, r.SecondaryRefused = float64(writes)/float64(n), refused
	if kill.killed != "" && kill.cpu > 0 {
		r.CPUPerUpgrade["worker2"] = kill.cpu // the killed worker's CPU up to its kill
	}
	for k, v := range cpu0 {
		if _, ok := r.CPUPerUpgrade[k]; !ok {
			delete(r.CPUPerUpgrade, k) // a process that could not be read
			continue
		}
		r.CPUPerUpgrade[k] = math.Round((r.CPUPerUpgrade[k]-v)*1000/float64(n)*10) / 10
	}
	r.Makespan = Duration(st.EndedAt.Sub(st.StartedAt))
	if c.GitHubTimeScale > 0 {
		r.GitHubTimeScale, r.GitHubMakespan = c.GitHubTimeScale, Duration(float64(r.Makespan)*c.GitHubTimeScale)
	}
	if sv := st.SLA; sv != nil && !sv.Resolution.IsZero() {
		r.SLAWindow = Duration(sv.Resolution.Sub(sv.Start))
	}
	if len(st.Waves) > 0 {
		r.Planning = Duration(st.Waves[0].StartedAt.Sub(st.StartedAt))
	}
	r.Ideal = Duration(l.Ideal(r.Waves, c.Concurrency))
	r.Efficiency = ratio(r.Makespan.D(), r.Ideal.D())
	c.logf("rollout of %d instances: done in %s (ideal %s, ×%.3f); counting history", n, r.Makespan.D().Round(time.Millisecond), r.Ideal.D(), r.Efficiency)
	if r.History, err = historyCost(ctx, tc, r.Upgraded); err != nil {
		mem.stop()
		return nil, nil, err
	}
	if r.UpgradeCalls, err = activityCalls(ctx, s, tc, workflows.UpgradeWorkflowID(slugs[len(slugs)-1], workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: is.GetNumber()}, 1)); err != nil {
		mem.stop()
		return nil, nil, err
	}
	// The worker's memory with the fleet's instance workflows open and the rollout running; the
	// webhook load below is measured apart.
	r.Memory = mem.stop()
	if c.Topology == TopologyProd {
		if r.create, err = runCreate(ctx, c, s, tc, "bench-create"); err != nil {
			return r, nil, err
		}
	}
	var wh *WebhookResult
	if load != nil {
		wm := watchMemory(s)
		wh, err = runWebhook(ctx, c, s, tc, slugs, *load)
		if wh != nil {
			wh.Memory = wm.stop()["worker"]
		} else {
			wm.stop()
		}
	}
	return r, wh, err
}

// waitRollout polls the rollout's query until it ends, logging progress every 30 s, and returns
// the instances upgraded at each poll (onProgress hears each count).
func waitRollout(ctx context.Context, c Config, tc client.Client, id string, onProgress func(done int)) (workflows.RolloutState, []ProgressPoint, error) {
	var st workflows.RolloutState
	var lastLog time.Time
	var progress []ProgressPoint
	for {
		v, err := tc.QueryWorkflow(ctx, id, "", workflows.QueryRollout)
		if err == nil {
			st = workflows.RolloutState{}
			err = v.Get(&st)
		}
		if err == nil {
			switch st.Phase {
			case workflows.PhaseDone:
				return st, progress, nil
			case workflows.PhaseHalted, workflows.PhaseAborted, workflows.PhaseRejected, workflows.PhasePlanned:
				return st, progress, fmt.Errorf("the rollout %s: %s", st.Phase, st.Reason)
			}
			done := upgradedSoFar(st)
			if !st.StartedAt.IsZero() {
				progress = append(progress, ProgressPoint{T: time.Since(st.StartedAt).Seconds(), Upgraded: done})
			}
			onProgress(done)
			if time.Since(lastLog) > 30*time.Second {
				lastLog = time.Now()
				c.logf("  %s: %s, wave %d of %d, %d upgraded", id, st.Phase, st.Wave+1, len(st.Waves), done)
			}
		}
		select {
		case <-ctx.Done():
			return st, progress, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
