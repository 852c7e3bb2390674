package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// PlanRollout orders the fleet for an upgrade to target: the canary alone,
// then the other internal instances, then trials and then customers, each group in waves of
// cumulative percentages (10 % → 40 % → 100 % by default). Instances already at the target, on the
// pause or insiders channel, suspended or with a broken config are left out, each with its reason.
// gate puts the approval gate on the first customer wave. Pure: tested directly, and the
// benchmark's no-Temporal baseline plans with it too.
func PlanRollout(fleet []activities.FleetEntry, target string, s Settings, gate bool) (waves []Wave, left []LeftOut) {
	var canary, internal, trials, customers []RolloutInstance
	entries := slices.Clone(fleet)
	slices.SortFunc(entries, func(a, b activities.FleetEntry) int { return strings.Compare(a.Slug, b.Slug) })
	for _, e := range entries {
		if why := leaveOut(e, target); why != "" {
			left = append(left, LeftOut{Slug: e.Slug, Reason: why})
			continue
		}
		ri := RolloutInstance{Slug: e.Slug, Type: spec.InstanceType(e.Type), Account: e.Account, From: e.Version,
			Region: e.Region, Size: spec.Size(e.Size), Window: e.MaintenanceWindow, Status: UpgradePending}
		if e.Domain != spec.DefaultDomain(e.Slug) {
			ri.Domain = e.Domain // the default is derived again at the request: 50 bytes less per instance
		}
		switch {
		case e.Slug == s.Canary:
			canary = append(canary, ri)
		case ri.Type == spec.Internal:
			internal = append(internal, ri)
		case ri.Type == spec.Trial:
			trials = append(trials, ri)
		default:
			customers = append(customers, ri)
		}
	}
	add := func(name string, in []RolloutInstance) {
		if len(in) > 0 {
			waves = append(waves, Wave{Name: name, Instances: in})
		}
	}
	add("canary", canary)
	add("internal", internal)
	for _, w := range percentWaves("trials", trials, s.RolloutWaves) {
		add(w.Name, w.Instances)
	}
	firstCustomer := len(waves)
	for _, w := range percentWaves("customers", customers, s.RolloutWaves) {
		add(w.Name, w.Instances)
	}
	if gate && firstCustomer < len(waves) {
		waves[firstCustomer].Gate = true
	}
	return waves, left
}

// leaveOut says why an instance is not part of the rollout ("" if it is).
func leaveOut(e activities.FleetEntry, target string) string {
	switch {
	case e.Error != "":
		return "config.yaml cannot be read: " + e.Error
	case e.Suspended:
		return "suspended: it catches up when it is resumed"
	case e.ReleaseChannel == string(spec.Pause) || e.ReleaseChannel == string(spec.Insiders):
		return fmt.Sprintf("release channel %q", e.ReleaseChannel)
	case spec.ValidateVersion("version", e.Version) != nil:
		return fmt.Sprintf("its version %q is not a release version", e.Version)
	}
	switch t := spec.InstanceType(e.Type); t {
	case spec.Production, spec.Trial, spec.Internal:
	default:
		return fmt.Sprintf("unknown instance type %q", e.Type)
	}
	switch c := spec.CompareVersions(target, e.Version); {
	case c == 0:
		return "already at " + target
	case c < 0:
		return "runs " + e.Version + ", newer than " + target
	}
	return ""
}

// percentWaves splits a group at cumulative percentages; each wave gets at least one instance, so
// a small group still goes in steps. Empty waves are dropped.
func percentWaves(group string, in []RolloutInstance, pcts []int) []Wave {
	var out []Wave
	done := 0
	for i, p := range pcts {
		upto := (len(in)*p + 99) / 100
		if i == len(pcts)-1 || p >= 100 {
			upto = len(in)
		}
		if upto <= done {
			upto = min(done+1, len(in))
		}
		if upto > done {
			out = append(out, Wave{Name: fmt.Sprintf("%s %d%%", group, p), Instances: in[done:upto]})
			done = upto
		}
		if done == len(in) {
			break
		}
	}
	return out
}

// EstimateFleetRollout is how long the plan expects a rollout of n customer instances to take
// with these settings (their waves, bake, upgrade estimate and GitHub write budget), concurrency
// upgrades at a time: what a fleet of that size needs, for the benchmark.
func EstimateFleetRollout(n int, s Settings, concurrency int) time.Duration {
	in := make([]RolloutInstance, n)
	for i := range in {
		in[i] = RolloutInstance{Slug: fmt.Sprintf("c%05d", i), Type: spec.Production}
	}
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	return estimateWaves(percentWaves("customers", in, s.WithDefaults().RolloutWaves), start, s.WithDefaults(), concurrency).Sub(start)
}

// writeBudgetTime is how long the GitHub write budget takes to let n config changes through
// (0 when the settings carry no budget).
func writeBudgetTime(n int, s Settings) time.Duration {
	if s.GitHubWritesPerHour <= 0 {
		return 0
	}
	perChange := s.GitHubWritesPerChange
	if perChange <= 0 {
		perChange = DefaultGitHubWritesPerChange
	}
	return time.Duration(float64(n*perChange) / float64(s.GitHubWritesPerHour) * float64(time.Hour))
}

// estimateWaves sets each wave's expected end from start: concurrency-sized batches of
// UpgradeEstimate, an instance with a maintenance window not before its next opening, the GitHub
// write budget (each upgrade's config change spends GitHubWritesPerChange of GitHubWritesPerHour),
// and the bake time between waves. It returns the expected end of the whole rollout. A gate's
// wait is unknown and not counted.
func estimateWaves(waves []Wave, start time.Time, s Settings, concurrency int) time.Time {
	t := start
	for i := range waves {
		w := &waves[i]
		if i > 0 {
			t = t.Add(s.RolloutBake)
		}
		n := len(w.Instances)
		end := t.Add(time.Duration((n+concurrency-1)/concurrency) * s.UpgradeEstimate)
		if e := t.Add(writeBudgetTime(n, s)); e.After(end) {
			end = e
		}
		for _, in := range w.Instances {
			if in.Window != nil {
				if e := in.Window.Next(t).Add(s.UpgradeEstimate); e.After(end) {
					end = e
				}
			}
		}
		w.Expected = end
		t = end
	}
	return t
}
