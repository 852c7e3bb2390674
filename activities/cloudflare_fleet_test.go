package activities

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
)

// cfFastClient is the activity struct with the real client but without the production request
// rate (25/s), so a fleet-sized test measures the design, not the client's throttle.
func cfFastClient(t *testing.T, s *sim.Sim) *Cloudflare {
	t.Helper()
	cfg := cloudConfig(s)
	api, err := cloudflare.NewWithAPIToken(cfg.CloudflareToken, cloudflare.BaseURL(cfg.CloudflareAPIURL),
		cloudflare.UsingRetryPolicy(0, 0, 0), cloudflare.UsingRateLimit(100000))
	if err != nil {
		t.Fatal(err)
	}
	return &Cloudflare{api: api, probeEgress: []string{"34.68.0.0/28"}}
}

// cfOtherOwnersRule puts a rule of another owner (Terraform, a colleague in the dashboard) in the
// zone's custom rules, as the whole phase, before this service writes anything.
func cfOtherOwnersRule(t *testing.T, c *Cloudflare, ref string) {
	t.Helper()
	enabled := true
	if _, err := c.api.UpdateEntrypointRuleset(context.Background(), cloudflare.ZoneIdentifier(cfZone), cloudflare.UpdateEntrypointRulesetParams{
		Phase: cfPhaseFirewall, Rules: []cloudflare.RulesetRule{{Ref: ref, Action: "managed_challenge", Enabled: &enabled,
			Expression: `(http.request.uri.path contains "/wp-login.php")`, Description: "someone else's"}},
	}); err != nil {
		t.Fatal(err)
	}
}

// cfFirewallRules reads the zone's custom rules through the real client.
func cfFirewallRules(t *testing.T, c *Cloudflare) []cloudflare.RulesetRule {
	t.Helper()
	rs, err := c.api.GetEntrypointRuleset(context.Background(), cloudflare.ZoneIdentifier(cfZone), cfPhaseFirewall)
	if err != nil {
		t.Fatal(err)
	}
	return rs.Rules
}

// fleetCIDRs are distinct public ranges for instance i (gen changes them).
func fleetCIDRs(i, gen int) []string {
	out := []string{fmt.Sprintf("11.%d.%d.0/24", i/256, i%256), fmt.Sprintf("52.%d.%d.16/28", i/256, i%256)}
	if gen > 0 {
		out = append(out, fmt.Sprintf("13.%d.%d.%d/32", gen, i/256, i%256))
	}
	return out
}

// parallel runs fn for 0..n-1 on workers goroutines and fails on the first error.
func parallel(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A fleet of 2,000 instances in one zone: every allowlist is created, every instance suspended
// (holding page) and resumed, and 500 allowlists updated, within the Enterprise plan's 1,000
// custom rules and 300 Single Redirects and the 4,096-character expression limit, keeping
// another owner's rule, in under two minutes.
func TestCloudflareFleetOf2000UnderQuotas(t *testing.T) {
	const n = 2000
	s := startSim(t)
	c := cfFastClient(t, s)
	ctx := context.Background()
	start := time.Now()
	cfOtherOwnersRule(t, c, "terraform-wp-login")
	hosts := make([]string, n)
	func() {
		defer s.Lock()()
		for i := range hosts {
			hosts[i] = fmt.Sprintf("fleet-%04d.sourcegraphcloud.com", i)
			if err := cfPart(s).SeedRecord(cfZone, "CNAME", hosts[i], spec.IngressHost(fmt.Sprintf("fleet-%04d", i)), true, "managed by the lifecycle service", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}()
	// gen 0 creates every allowlist; gen 1 updates every fourth (a range added), as customers'
	// changes trickle in: each edit rewrites one rule, but reads the zone's rules, which grow
	// with the fleet.
	setAll := func(gen int) {
		step := map[int]int{0: 1, 1: 4}[gen]
		parallel(t, n/step, 8, func(i int) error {
			_, err := c.SetAllowlist(ctx, SetAllowlistInput{Host: hosts[i*step], CIDRs: fleetCIDRs(i*step, gen)})
			return err
		})
	}
	holding := func(on bool) {
		parallel(t, n, 8, func(i int) error {
			_, err := c.SetHoldingPage(ctx, SetHoldingPageInput{Host: hosts[i], On: on})
			return err
		})
	}
	check := func(phase string, gen int) {
		t.Helper()
		rules := cfFirewallRules(t, c)
		if len(rules) > 1000 || rules[0].Ref != "terraform-wp-login" {
			t.Fatalf("%s: %d rules, first %q", phase, len(rules), rules[0].Ref)
		}
		for _, r := range rules {
			if len(r.Expression) > cfMaxExpression {
				t.Fatalf("%s: rule %s has %d characters", phase, r.Ref, len(r.Expression))
			}
		}
		defer s.Lock()()
		p := cfPart(s)
		for i, h := range hosts {
			cidrs, ok := p.Allowlist(h)
			g := gen
			if i%4 != 0 {
				g = 0
			}
			want, _ := c.allowlistCIDRs(fleetCIDRs(i, g))
			if !ok || !slices.Equal(cidrs, want) {
				t.Fatalf("%s: %s allowlist %v, want %v", phase, h, cidrs, want)
			}
		}
		k := 1232
		inside := netip.MustParseAddr(fmt.Sprintf("11.%d.%d.9", k/256, k%256))
		if _, blocked := p.Blocked(hosts[k], inside); blocked {
			t.Fatalf("%s: a client inside the allowlist was blocked", phase)
		}
		if _, blocked := p.Blocked(hosts[k], netip.MustParseAddr("11.0.0.9")); !blocked {
			t.Fatalf("%s: a client inside another instance's allowlist was let through", phase)
		}
		t.Logf("%s: %d rules (1 another owner's) after %v", phase, len(rules), time.Since(start).Round(time.Millisecond))
	}

	setAll(0)
	check("create", 0)
	holding(true)
	func() {
		defer s.Lock()()
		for _, h := range hosts {
			if content, _, _ := cfPart(s).Record(h); content != spec.HoldingPageHost {
				t.Fatalf("suspend: %s points at %q", h, content)
			}
		}
	}()
	t.Logf("suspend: after %v", time.Since(start).Round(time.Millisecond))
	holding(false)
	t.Logf("resume: after %v", time.Since(start).Round(time.Millisecond))
	func() {
		defer s.Lock()()
		for i, h := range hosts {
			if content, _, _ := cfPart(s).Record(h); content != spec.IngressHost(fmt.Sprintf("fleet-%04d", i)) {
				t.Fatalf("resume: %s points at %q", h, content)
			}
		}
	}()
	setAll(1)
	check("update", 1)
	if rs, err := c.api.GetEntrypointRuleset(ctx, cloudflare.ZoneIdentifier(cfZone), cfPhaseRedirect); err == nil && len(rs.Rules) > 0 {
		t.Fatalf("holding pages used %d redirect rules", len(rs.Rules))
	}
	if d := time.Since(start); d > 2*time.Minute {
		t.Fatalf("took %v, over two minutes", d)
	}
}

// Per-rule writes never touch another owner's rule: one added through the dashboard (the
// per-rule POST) while 100 allowlist updates run concurrently survives them all, as does the one
// that was there before, and every update lands.
func TestCloudflareOtherOwnersRuleSurvivesConcurrentUpdates(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	c := cfFastClient(t, s)
	ctx := context.Background()
	cfOtherOwnersRule(t, c, "terraform-wp-login")
	rs, err := c.api.GetEntrypointRuleset(ctx, cloudflare.ZoneIdentifier(cfZone), cfPhaseFirewall)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	var dashboard sync.Once
	parallel(t, n, 16, func(i int) error {
		if i == n/2 {
			dashboard.Do(func() {
				if _, err := c.api.Raw(ctx, "POST", "/zones/"+cfZone+"/rulesets/"+rs.ID+"/rules", map[string]any{
					"ref": "colleague-block-bot", "action": "block", "expression": `(http.user_agent contains "BadBot")`, "description": "added in the dashboard",
				}, nil); err != nil {
					t.Error(err)
				}
			})
		}
		host := fmt.Sprintf("team-%03d.sourcegraphcloud.com", i%50) // two updates per hostname
		_, err := c.SetAllowlist(ctx, SetAllowlistInput{Host: host, CIDRs: fleetCIDRs(i%50, 0)})
		return err
	})
	rules := cfFirewallRules(t, c)
	var refs []string
	for _, r := range rules {
		if !strings.HasPrefix(r.Ref, cfAllowlistsRefPrefix) {
			refs = append(refs, r.Ref)
		}
	}
	if !slices.Equal(refs, []string{"terraform-wp-login", "colleague-block-bot"}) {
		t.Fatalf("other owners' rules after the updates: %v", refs)
	}
	defer s.Lock()()
	for i := range 50 {
		want, _ := c.allowlistCIDRs(fleetCIDRs(i, 0))
		if cidrs, ok := cfPart(s).Allowlist(fmt.Sprintf("team-%03d.sourcegraphcloud.com", i)); !ok || !slices.Equal(cidrs, want) {
			t.Fatalf("team-%03d: %v", i, cidrs)
		}
	}
}

// A drifted allowlist (a rule deleted by hand, a range changed in config.yaml, a hostname that
// left config.yaml) is reported by one check, per hostname, and SetAllowlist per reported
// hostname restores it: the next check finds nothing.
func TestCloudflareCheckAllowlistsReportsAndReconciles(t *testing.T) {
	t.Parallel()
	s := startSim(t)
	c := cfFastClient(t, s)
	ctx := context.Background()
	want := map[string][]string{}
	for i := range 40 {
		h := fmt.Sprintf("drift-%02d.sourcegraphcloud.com", i)
		want[h] = fleetCIDRs(i, 0)
		if _, err := c.SetAllowlist(ctx, SetAllowlistInput{Host: h, CIDRs: want[h]}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := c.CheckAllowlists(ctx, CheckAllowlistsInput{Want: want}); err != nil || len(out.Drift) != 0 {
		t.Fatalf("in step: %+v %v", out.Drift, err)
	}
	// Someone deletes our second rule in the dashboard; config.yaml changes one instance's ranges;
	// one instance is no longer listed.
	rules := cfFirewallRules(t, c)
	if len(rules) < 2 {
		t.Fatalf("%d rules; the test needs two", len(rules))
	}
	rs, _ := c.api.GetEntrypointRuleset(ctx, cloudflare.ZoneIdentifier(cfZone), cfPhaseFirewall)
	if _, err := c.api.Raw(ctx, "DELETE", "/zones/"+cfZone+"/rulesets/"+rs.ID+"/rules/"+rules[1].ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	gone, _ := cfParseOwned(rules[1])
	want["drift-00.sourcegraphcloud.com"] = []string{"198.51.100.0/24"}
	delete(want, "drift-01.sourcegraphcloud.com")
	out, err := c.CheckAllowlists(ctx, CheckAllowlistsInput{Want: want})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, d := range out.Drift {
		reasons[d.Host] = d.Reason
	}
	if reasons["drift-00.sourcegraphcloud.com"] != "allowlist ranges differ" || reasons["drift-01.sourcegraphcloud.com"] == "" || len(reasons) != len(gone.clauses)+2 {
		t.Fatalf("drift: %v (deleted rule held %d hostnames)", reasons, len(gone.clauses))
	}
	for h := range gone.clauses {
		if reasons[h] != "allowlist rule missing" {
			t.Fatalf("%s: %q", h, reasons[h])
		}
	}
	// Reconcile: each drifted hostname set from config.yaml (none for the unlisted one).
	for _, d := range out.Drift {
		if _, err := c.SetAllowlist(ctx, SetAllowlistInput{Host: d.Host, CIDRs: want[d.Host]}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := c.CheckAllowlists(ctx, CheckAllowlistsInput{Want: want}); err != nil || len(out.Drift) != 0 {
		t.Fatalf("after reconcile: %+v %v", out.Drift, err)
	}
}
