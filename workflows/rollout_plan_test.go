package workflows

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The plan is pure: these tests call planRollout, percentWaves and estimateWaves directly.

const acct = "https://github.com/sourcegraph/accounts/issues/"

func entry(slug string, typ spec.InstanceType, version string) activities.FleetEntry {
	return activities.FleetEntry{Slug: slug, Type: string(typ), Version: version, ReleaseChannel: string(spec.Stable)}
}

// planFleet is a 21-instance fleet, deliberately out of order: the canary, two other internal
// instances, five trials, six customers (with accounts links), and seven that must be left out.
func planFleet() []activities.FleetEntry {
	fleet := []activities.FleetEntry{
		entry("tr-e", spec.Trial, "5.9.0"),
		entry("zeta", spec.Production, "5.9.0"),
		entry("research", spec.Internal, "5.9.0"),
		entry("tr-a", spec.Trial, "5.9.0"),
		entry("alpha", spec.Production, "5.9.0"),
		entry("rctest", spec.Internal, "5.9.0"),
		entry("tr-c", spec.Trial, "5.9.2"),
		entry("mid", spec.Production, "5.8.0"),
		entry("demo", spec.Internal, "5.9.0"),
		entry("tr-b", spec.Trial, "5.9.0"),
		entry("beta", spec.Production, "5.9.0"),
		entry("tr-d", spec.Trial, "5.9.0"),
		entry("omega", spec.Production, "5.9.0"),
		entry("gamma", spec.Production, "5.9.0"),
	}
	for i := range fleet {
		if fleet[i].Type == string(spec.Production) {
			fleet[i].Account = fmt.Sprintf("%s%d", acct, 100+i)
		}
	}
	paused := entry("paused", spec.Production, "5.9.0")
	paused.ReleaseChannel = string(spec.Pause)
	ins := entry("insider", spec.Internal, "5.9.0")
	ins.ReleaseChannel = string(spec.Insiders)
	susp := entry("sleepy", spec.Production, "5.9.0")
	susp.Suspended = true
	broken := activities.FleetEntry{Slug: "broken", Error: "yaml: line 3: did not find expected key"}
	odd := entry("odd", "staging", "5.9.0")
	return append(fleet, paused, ins, susp, broken, odd,
		entry("there", spec.Production, "5.10.0"), entry("ahead", spec.Trial, "5.11.0"))
}

func waveNames(waves []Wave) []string {
	var out []string
	for _, w := range waves {
		out = append(out, w.Name)
	}
	return out
}

func waveSlugs(w Wave) []string {
	var out []string
	for _, in := range w.Instances {
		out = append(out, in.Slug)
	}
	return out
}

func TestPlanRolloutOrdersTheFleet(t *testing.T) {
	waves, left := PlanRollout(planFleet(), "5.10.0", Settings{}.WithDefaults(), false)

	want := []struct {
		name  string
		slugs []string
	}{
		{"canary", []string{"rctest"}},
		{"internal", []string{"demo", "research"}},
		{"trials 10%", []string{"tr-a"}}, // ceil(5 × 10 %) = 1
		{"trials 40%", []string{"tr-b"}}, // ceil(5 × 40 %) = 2 in all
		{"trials 100%", []string{"tr-c", "tr-d", "tr-e"}},
		{"customers 10%", []string{"alpha"}},         // ceil(6 × 10 %) = 1
		{"customers 40%", []string{"beta", "gamma"}}, // ceil(6 × 40 %) = 3 in all
		{"customers 100%", []string{"mid", "omega", "zeta"}},
	}
	if len(waves) != len(want) {
		t.Fatalf("waves %v, want %d waves", waveNames(waves), len(want))
	}
	seen := map[string]bool{}
	for i, w := range want {
		got := waves[i]
		if got.Name != w.name || !slices.Equal(waveSlugs(got), w.slugs) {
			t.Errorf("wave %d: %q %v, want %q %v", i, got.Name, waveSlugs(got), w.name, w.slugs)
		}
		if got.Gate {
			t.Errorf("wave %q has a gate, but no approval was asked for", got.Name)
		}
		for _, in := range got.Instances {
			if seen[in.Slug] {
				t.Errorf("%s is in two waves", in.Slug)
			}
			seen[in.Slug] = true
			if in.Status != UpgradePending {
				t.Errorf("%s planned as %s, want pending", in.Slug, in.Status)
			}
		}
	}
	// The plan keeps what each instance needs: type, account, version it starts from.
	for _, w := range waves {
		for _, in := range w.Instances {
			switch {
			case in.Slug == "tr-c" && in.From != "5.9.2", in.Slug == "mid" && in.From != "5.8.0":
				t.Errorf("%s from %q", in.Slug, in.From)
			case in.Slug == "alpha" && (in.Type != spec.Production || !strings.HasPrefix(in.Account, acct)):
				t.Errorf("alpha planned as %+v", in)
			case in.Slug == "demo" && in.Type != spec.Internal:
				t.Errorf("demo planned as %+v", in)
			}
		}
	}

	wantLeft := map[string]string{
		"paused":  `release channel "pause"`,
		"insider": `release channel "insiders"`,
		"there":   "already at 5.10.0",
		"ahead":   "runs 5.11.0, newer than 5.10.0",
		"sleepy":  "suspended",
		"broken":  "config.yaml cannot be read: yaml: line 3",
		"odd":     `unknown instance type "staging"`,
	}
	if len(left) != len(wantLeft) {
		t.Errorf("left out %+v, want %d", left, len(wantLeft))
	}
	var leftSlugs []string
	for _, l := range left {
		leftSlugs = append(leftSlugs, l.Slug)
		if w, ok := wantLeft[l.Slug]; !ok || !strings.Contains(l.Reason, w) {
			t.Errorf("%s left out because %q, want %q", l.Slug, l.Reason, w)
		}
		if seen[l.Slug] {
			t.Errorf("%s is both planned and left out", l.Slug)
		}
	}
	if !slices.IsSorted(leftSlugs) {
		t.Errorf("left-outs not sorted by slug: %v", leftSlugs)
	}
	if n := len(seen) + len(left); n != len(planFleet()) {
		t.Errorf("%d instances accounted for, the fleet has %d", n, len(planFleet()))
	}
}

func TestPlanRolloutApprovalGateOnTheFirstCustomerWaveOnly(t *testing.T) {
	waves, _ := PlanRollout(planFleet(), "5.10.0", Settings{}.WithDefaults(), true)
	var gated []string
	for _, w := range waves {
		if w.Gate {
			gated = append(gated, w.Name)
		}
	}
	if !slices.Equal(gated, []string{"customers 10%"}) {
		t.Fatalf("gated waves %v, want only the first customer wave", gated)
	}

	// Without customers there is nothing to gate.
	var noCustomers []activities.FleetEntry
	for _, e := range planFleet() {
		if e.Type != string(spec.Production) {
			noCustomers = append(noCustomers, e)
		}
	}
	waves, _ = PlanRollout(noCustomers, "5.10.0", Settings{}.WithDefaults(), true)
	for _, w := range waves {
		if w.Gate || strings.HasPrefix(w.Name, "customers") {
			t.Errorf("wave %q (gate %v) in a fleet without customers", w.Name, w.Gate)
		}
	}
	if len(waves) == 0 {
		t.Fatal("no waves at all")
	}

	// Without a canary in the fleet, the internal wave goes first and trials still precede the gate.
	var noCanary []activities.FleetEntry
	for _, e := range planFleet() {
		if e.Slug != "rctest" {
			noCanary = append(noCanary, e)
		}
	}
	waves, _ = PlanRollout(noCanary, "5.10.0", Settings{}.WithDefaults(), true)
	if waves[0].Name != "internal" || waves[4].Name != "customers 10%" || !waves[4].Gate {
		t.Fatalf("waves without the canary: %v", waveNames(waves))
	}
}

func TestPlanRolloutCustomPercentagesAndCanary(t *testing.T) {
	s := Settings{RolloutWaves: []int{50, 100}, Canary: "demo"}.WithDefaults()
	waves, _ := PlanRollout(planFleet(), "5.10.0", s, false)
	got := map[string][]string{}
	for _, w := range waves {
		got[w.Name] = waveSlugs(w)
	}
	wantNames := []string{"canary", "internal", "trials 50%", "trials 100%", "customers 50%", "customers 100%"}
	if !slices.Equal(waveNames(waves), wantNames) {
		t.Fatalf("waves %v, want %v", waveNames(waves), wantNames)
	}
	for name, slugs := range map[string][]string{
		"canary":         {"demo"},
		"internal":       {"rctest", "research"},
		"trials 50%":     {"tr-a", "tr-b", "tr-c"}, // ceil(2.5)
		"trials 100%":    {"tr-d", "tr-e"},
		"customers 50%":  {"alpha", "beta", "gamma"},
		"customers 100%": {"mid", "omega", "zeta"},
	} {
		if !slices.Equal(got[name], slugs) {
			t.Errorf("%s: %v, want %v", name, got[name], slugs)
		}
	}

	// A list that stops short of 100 % still covers everyone in its last wave.
	waves, _ = PlanRollout(planFleet(), "5.10.0", Settings{RolloutWaves: []int{20}}.WithDefaults(), false)
	for _, w := range waves {
		if w.Name == "customers 20%" && len(w.Instances) != 6 {
			t.Errorf("the last wave must take the rest: %v", waveSlugs(w))
		}
	}
}

func TestPercentWavesEdgeCases(t *testing.T) {
	group := func(n int) []RolloutInstance {
		out := make([]RolloutInstance, n)
		for i := range out {
			out[i].Slug = fmt.Sprintf("i%03d", i)
		}
		return out
	}
	for _, tc := range []struct {
		n     int
		pcts  []int
		sizes []int
		names []string
	}{
		{0, DefaultRolloutWaves, nil, nil},
		{1, DefaultRolloutWaves, []int{1}, []string{"g 10%"}},
		// Each wave gets at least one instance, so small groups still go in steps.
		{2, DefaultRolloutWaves, []int{1, 1}, []string{"g 10%", "g 40%"}},
		{3, DefaultRolloutWaves, []int{1, 1, 1}, []string{"g 10%", "g 40%", "g 100%"}},
		{10, DefaultRolloutWaves, []int{1, 3, 6}, []string{"g 10%", "g 40%", "g 100%"}},
		{101, DefaultRolloutWaves, []int{11, 30, 60}, []string{"g 10%", "g 40%", "g 100%"}},
		{10, []int{100}, []int{10}, []string{"g 100%"}},
		{10, []int{10, 40}, []int{1, 9}, []string{"g 10%", "g 40%"}},
		{4, []int{10, 20, 30, 100}, []int{1, 1, 1, 1}, []string{"g 10%", "g 20%", "g 30%", "g 100%"}},
	} {
		in := group(tc.n)
		waves := percentWaves("g", in, tc.pcts)
		var sizes []int
		var all []RolloutInstance
		for _, w := range waves {
			sizes = append(sizes, len(w.Instances))
			all = append(all, w.Instances...)
		}
		if !slices.Equal(sizes, tc.sizes) || !slices.Equal(waveNames(waves), tc.names) {
			t.Errorf("%d instances at %v: waves %v sizes %v, want %v %v", tc.n, tc.pcts, waveNames(waves), sizes, tc.names, tc.sizes)
		}
		// Every instance in exactly one wave, in order.
		if !slices.EqualFunc(all, in, func(a, b RolloutInstance) bool { return a.Slug == b.Slug }) {
			t.Errorf("%d instances: the waves hold %d, not each exactly once", tc.n, len(all))
		}
	}
}

func TestEstimateWavesHonoursMaintenanceWindows(t *testing.T) {
	s := Settings{}.WithDefaults() // 30 min per upgrade, 1 h bake
	start := srStart               // Monday 09:00 UTC
	sat := &spec.MaintenanceWindow{Days: []string{"sat"}, StartHour: 2, Hours: 4}
	monMorning := &spec.MaintenanceWindow{Days: []string{"mon"}, StartHour: 8, Hours: 4} // open at the start
	ri := func(slug string, w *spec.MaintenanceWindow) RolloutInstance {
		return RolloutInstance{Slug: slug, Window: w}
	}
	waves := []Wave{
		{Name: "canary", Instances: []RolloutInstance{ri("rctest", nil)}},
		{Name: "internal", Instances: []RolloutInstance{ri("a", nil), ri("b", monMorning), ri("c", nil)}},
		{Name: "customers", Instances: []RolloutInstance{ri("x", nil), ri("y", sat)}},
		{Name: "last", Instances: []RolloutInstance{ri("z", nil)}},
	}
	end := estimateWaves(waves, start, s, 2)
	want := []time.Time{
		start.Add(30 * time.Minute),                       // 09:30
		start.Add(30*time.Minute + time.Hour + time.Hour), // bake to 10:30, two batches of two: 11:30 (b's window is open)
		time.Date(2026, 12, 12, 2, 30, 0, 0, time.UTC),    // y waits for Saturday 02:00
		time.Date(2026, 12, 12, 4, 0, 0, 0, time.UTC),     // bake, one batch
	}
	for i, w := range waves {
		if !w.Expected.Equal(want[i]) {
			t.Errorf("wave %q expected %s, want %s", w.Name, formatTime(w.Expected), formatTime(want[i]))
		}
	}
	if !end.Equal(want[3]) {
		t.Errorf("end %s, want %s", formatTime(end), formatTime(want[3]))
	}

	// Without the window the same plan ends days earlier.
	waves[2].Instances[1].Window = nil
	if e := estimateWaves(waves, start, s, 2); !e.Before(start.Add(6 * time.Hour)) {
		t.Errorf("without windows the plan ends %s", formatTime(e))
	}
}

func TestRolloutNamesCustomersByAccount(t *testing.T) {
	fleet := planFleet()
	waves, left := PlanRollout(fleet, "5.10.0", Settings{}.WithDefaults(), false)
	// One customer without an accounts link: named by slug (there is nothing else to name it by).
	for i := range waves {
		for j := range waves[i].Instances {
			if waves[i].Instances[j].Slug == "zeta" {
				waves[i].Instances[j].Account = ""
			}
		}
	}
	r := &rollout{s: Settings{}.WithDefaults(), st: RolloutState{Version: "5.10.0", Phase: PhaseRunning, Waves: waves, Left: left}}
	r.index()
	list := r.renderChecklist()
	for _, w := range waves {
		for _, in := range w.Instances {
			name := r.name(in)
			switch {
			case in.Type == spec.Production && in.Slug != "zeta":
				if name != in.Account || !strings.HasPrefix(name, acct) {
					t.Errorf("customer %s named %q, want its account link", in.Slug, name)
				}
				if strings.Contains(list, "`"+in.Slug+"`") || strings.Contains(list, " "+in.Slug+" ") {
					t.Errorf("the checklist names customer %s by slug:\n%s", in.Slug, list)
				}
			default:
				if name != "`"+in.Slug+"`" {
					t.Errorf("%s (%s) named %q, want its slug", in.Slug, in.Type, name)
				}
			}
			if !strings.Contains(list, "- [ ] "+name+" ") {
				t.Errorf("the checklist has no box for %s (%q):\n%s", in.Slug, name, list)
			}
		}
	}
	// An internal instance keeps its slug even with an account label.
	if got := r.name(RolloutInstance{Slug: "demo", Type: spec.Internal, Account: acct + "1"}); got != "`demo`" {
		t.Errorf("internal instance named %q", got)
	}
}

// The GitHub write budget bounds a large wave: 1,000 upgrades at 2 writes each (batched pull
// requests) within 400 writes an hour take 5 h, however many run at once; without a budget (runs started before it) the
// batches decide.
func TestEstimateWavesCountsTheGitHubWriteBudget(t *testing.T) {
	s := Settings{}.WithDefaults()
	in := make([]RolloutInstance, 1000)
	for i := range in {
		in[i] = RolloutInstance{Slug: fmt.Sprintf("c%04d", i)}
	}
	waves := []Wave{{Name: "customers 100%", Instances: in}}
	if end := estimateWaves(waves, srStart, s, 100); !end.Equal(srStart.Add(10 * 30 * time.Minute)) {
		t.Fatalf("without a budget: end %s, want 10 batches of 30 min", formatTime(end))
	}
	s.GitHubWritesPerHour, s.GitHubWritesPerChange = DefaultGitHubWritesPerHour, DefaultGitHubWritesPerChange
	if end := estimateWaves(waves, srStart, s, 100); !end.Equal(srStart.Add(5 * time.Hour)) {
		t.Fatalf("with the budget: end %s, want 5 h after the start", formatTime(end))
	}
	// A small wave is not held up by it: 10 upgrades, 20 writes, 3 min < one 30-min batch.
	small := []Wave{{Name: "canary", Instances: in[:10]}}
	if end := estimateWaves(small, srStart, s, 100); !end.Equal(srStart.Add(30 * time.Minute)) {
		t.Fatalf("a small wave: end %s", formatTime(end))
	}
}
