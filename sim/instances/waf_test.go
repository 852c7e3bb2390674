package instances_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// fromClient asks the instance for path as a client at addr ("" sends no client header).
func fromClient(t *testing.T, s *sim.Sim, host, path, addr string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	req.Host = host
	if addr != "" {
		req.Header.Set(sim.ClientIPHeader, addr)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestWAFAllowlistBlocksOutsideClients: a proxied hostname whose zone has a block rule
// "http.host eq H and not ip.src in {...}" (written with cloudflare-go, as SetAllowlist writes it)
// answers a client outside the set with Cloudflare's 403 block page (error 1020), and serves
// clients inside it; without the rule, or for a DNS-only record, everyone is served.
func TestWAFAllowlistBlocksOutsideClients(t *testing.T) {
	ctx := context.Background()
	s, err := stack.Start(sim.Config{Timings: sim.Timings{Rollout: sim.Duration(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const host = "acme.sourcegraphcloud.com"
	if err := stack.SeedFleet(s, []stack.FleetInstance{{Slug: "acme", Version: "5.9.0"}}); err != nil {
		t.Fatal(err)
	}
	cf, err := cloudflare.NewWithAPIToken("test-token", cloudflare.BaseURL(s.URL()+"/client/v4"),
		cloudflare.UsingRateLimit(1000), cloudflare.UsingRetryPolicy(0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	zone := cloudflare.ZoneIdentifier("8f2e5a9c1b7d4e3fa6c0d2b9e8f71a34")
	setRules := func(rules ...cloudflare.RulesetRule) {
		t.Helper()
		if _, err := cf.UpdateEntrypointRuleset(ctx, zone, cloudflare.UpdateEntrypointRulesetParams{
			Phase: "http_request_firewall_custom", Rules: rules}); err != nil {
			t.Fatal(err)
		}
	}
	served := func(addr string) {
		t.Helper()
		if resp, body := fromClient(t, s, host, "/__version", addr); resp.StatusCode != 200 || body != "5.9.0" {
			t.Fatalf("client %q: want 200 5.9.0, got %d %q", addr, resp.StatusCode, body)
		}
	}
	blocked := func(addr string) {
		t.Helper()
		for _, path := range []string{"/healthz", "/__version", "/sign-in", "/"} {
			resp, body := fromClient(t, s, host, path, addr)
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Server") != "cloudflare" || resp.Header.Get("CF-RAY") == "" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(body, "Access denied") || !strings.Contains(body, "Error code 1020") || !strings.Contains(body, "You do not have access to "+host) {
				t.Fatalf("client %q %s: want Cloudflare's 403 block page, got %d %v %q", addr, path, resp.StatusCode, resp.Header, body)
			}
		}
	}

	// No rule: open to everyone, with or without the client header.
	served("")
	served("203.0.113.9")

	enabled := true
	setRules(cloudflare.RulesetRule{Ref: "allowlist:" + host, Action: "block", Enabled: &enabled,
		Expression: `(http.host eq "` + host + `" and not ip.src in {192.0.2.0/24 198.18.0.10})`})
	served("192.0.2.77")
	served("198.18.0.10")
	served("::ffff:192.0.2.1") // an IPv4-mapped address is the IPv4 address
	blocked("203.0.113.9")
	blocked("198.18.0.11")
	blocked("") // the default client address (sim.DefaultClientIP) is on no allowlist
	if resp, body := fromClient(t, s, host, "/healthz", "not-an-ip"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, sim.ClientIPHeader) {
		t.Fatalf("a malformed client header: want 400 naming the header, got %d %q", resp.StatusCode, body)
	}

	// A disabled rule, or another hostname's, does not apply.
	enabled = false
	setRules(cloudflare.RulesetRule{Ref: "allowlist:" + host, Action: "block", Enabled: &enabled,
		Expression: `(http.host eq "` + host + `" and not ip.src in {192.0.2.0/24})`})
	served("203.0.113.9")
	enabled = true
	setRules(cloudflare.RulesetRule{Ref: "allowlist:other", Action: "block", Enabled: &enabled,
		Expression: `(http.host eq "other.sourcegraphcloud.com" and not ip.src in {192.0.2.0/24})`})
	served("203.0.113.9")

	// A DNS-only record sends traffic straight to the origin, past the WAF.
	setRules(cloudflare.RulesetRule{Ref: "allowlist:" + host, Action: "block", Enabled: &enabled,
		Expression: `(http.host eq "` + host + `" and not ip.src in {192.0.2.0/24})`})
	blocked("203.0.113.9")

	// Redirect rules run in an earlier phase than WAF custom rules: a suspended instance's holding
	// page reaches everyone.
	if _, err := cf.UpdateEntrypointRuleset(ctx, zone, cloudflare.UpdateEntrypointRulesetParams{
		Phase: "http_request_dynamic_redirect", Rules: []cloudflare.RulesetRule{{Ref: "holding-page:" + host, Action: "redirect", Enabled: &enabled,
			Expression: `(http.host eq "` + host + `")`,
			ActionParameters: &cloudflare.RulesetRuleActionParameters{FromValue: &cloudflare.RulesetRuleActionParametersFromValue{
				StatusCode: 302, TargetURL: cloudflare.RulesetRuleActionParametersTargetURL{Value: "https://paused.sourcegraphcloud.com/"}}}}}}); err != nil {
		t.Fatal(err)
	}
	if resp, body := fromClient(t, s, host, "/", "203.0.113.9"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "paused") {
		t.Fatalf("a suspended instance from outside the allowlist: want the holding page, got %d %q", resp.StatusCode, body)
	}
	if _, err := cf.UpdateEntrypointRuleset(ctx, zone, cloudflare.UpdateEntrypointRulesetParams{Phase: "http_request_dynamic_redirect", Rules: []cloudflare.RulesetRule{}}); err != nil {
		t.Fatal(err)
	}
	blocked("203.0.113.9")

	recs, _, err := cf.ListDNSRecords(ctx, zone, cloudflare.ListDNSRecordsParams{Name: host})
	if err != nil || len(recs) != 1 {
		t.Fatalf("dns records: %v %v", recs, err)
	}
	if _, err := cf.UpdateDNSRecord(ctx, zone, cloudflare.UpdateDNSRecordParams{ID: recs[0].ID, Proxied: cloudflare.BoolPtr(false)}); err != nil {
		t.Fatal(err)
	}
	served("203.0.113.9")
}
