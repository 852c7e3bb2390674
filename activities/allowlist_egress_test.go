package activities

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// probeEgress is the probes' egress in these tests: outside every customer range used here.
const probeEgress = "198.18.0.10/32"

// TestCloudflareAllowlistAdmitsProbeEgress: every allowlist rule also admits the probes' egress
// (LIFECYCLE_PROBE_EGRESS), reported as added for monitoring; no allowlist stays no rule.
func TestCloudflareAllowlistAdmitsProbeEgress(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	cc := cloudConfig(s)
	cc.ProbeEgress = []string{probeEgress, "2001:db8:10::/48"}
	c, err := NewCloudflare(cc)
	if err != nil {
		t.Fatal(err)
	}
	env := activityEnv(c)
	set := func(cidrs ...string) SetAllowlistOutput {
		t.Helper()
		v, err := env.ExecuteActivity(c.SetAllowlist, SetAllowlistInput{Host: cfTestHost, CIDRs: cidrs})
		var out SetAllowlistOutput
		if err != nil || v.Get(&out) != nil {
			t.Fatalf("SetAllowlist %v: %v", cidrs, err)
		}
		return out
	}
	out := set("203.0.113.0/24")
	if !out.Changed || !slices.Equal(out.Monitoring, []string{probeEgress, "2001:db8:10::/48"}) || !strings.Contains(out.Expression, probeEgress) {
		t.Fatalf("SetAllowlist: %+v", out)
	}
	if _, _, _, cidrs, ok, _ := cfState(s, cfTestHost); !ok || !slices.Equal(cidrs, []string{"198.18.0.10/32", "2001:db8:10::/48", "203.0.113.0/24"}) {
		t.Fatalf("rule admits %v (%v), want the customer's range and the probes' egress", cidrs, ok)
	}
	// A customer range that is also an egress range is listed once, and not as added: the rule
	// is the same as before.
	if out := set("203.0.113.0/24", probeEgress); out.Changed || !slices.Equal(out.Monitoring, []string{"2001:db8:10::/48"}) {
		t.Fatalf("egress already listed: %+v", out)
	}
	if _, _, _, cidrs, _, _ := cfState(s, cfTestHost); len(cidrs) != 3 {
		t.Fatalf("rule admits %v, want each range once", cidrs)
	}
	// No allowlist: no rule, so nothing is added for monitoring.
	if out := set(); !out.Changed || len(out.Monitoring) != 0 || out.Expression != "" {
		t.Fatalf("clear: %+v", out)
	}
	if _, _, _, _, ok, _ := cfState(s, cfTestHost); ok {
		t.Fatal("allowlist still set")
	}
}

// TestUptimeProbePassesAllowlistFromEgress: with a one-address allowlist, probes from the
// configured egress are healthy (SetAllowlist admitted it), while a prober without it gets the
// WAF's 403.
func TestUptimeProbePassesAllowlistFromEgress(t *testing.T) {
	f := upServingInstance(t, "5.9.0")
	cc := cloudConfig(f.s)
	cc.ProbeEgress = []string{probeEgress}
	c, err := NewCloudflare(cc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := activityEnv(c).ExecuteActivity(c.SetAllowlist, SetAllowlistInput{Host: f.host, CIDRs: []string{"203.0.113.7/32"}}); err != nil {
		t.Fatal(err)
	}
	probe := func(up *Uptime) ProbeResult {
		t.Helper()
		v, err := activityEnv(up).ExecuteActivity(up.Probe, ProbeInput{Host: f.host})
		var p ProbeResult
		if err != nil || v.Get(&p) != nil {
			t.Fatal(err)
		}
		return p
	}
	outside := f.up // no egress configured: the simulator's default client, outside the allowlist
	if p := probe(outside); p.Healthy || p.HealthzStatus != 403 || !strings.Contains(p.Error, "Access denied") {
		t.Fatalf("a probe from outside the allowlist: %+v", p)
	}
	inside, err := NewUptime(cc)
	if err != nil {
		t.Fatal(err)
	}
	if p := probe(inside); !p.Healthy || p.Version != "5.9.0" {
		t.Fatalf("a probe from the egress: %+v", p)
	}
	r, err := activityEnv(inside).ExecuteActivity(inside.Soak, SoakInput{Host: f.host, ExpectedVersion: "5.9.0", Consecutive: 2, Interval: 10 * time.Millisecond, Timeout: 10 * time.Second})
	if err != nil || r == nil {
		t.Fatalf("soak from the egress: %v", err)
	}
}
