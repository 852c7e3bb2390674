package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	simcf "github.com/sourcegraph/lifecycle/sim/cloudflare"
)

const (
	cfTestHost  = "acme.sourcegraphcloud.com"
	cfOtherHost = "globex.sourcegraphcloud.com"
	cfZone      = simcf.ZoneIDSourcegraphCloud
)

func cfFixture(t *testing.T) (*sim.Sim, *Cloudflare) {
	t.Helper()
	s := startSim(t)
	c, err := NewCloudflare(cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func cfPart(s *sim.Sim) *simcf.Part { return s.Part(simcf.Name).(*simcf.Part) }

// cfState reads what Cloudflare would do for host: its record, allowlist and holding page.
func cfState(s *sim.Sim, host string) (content string, proxied, hasRecord bool, cidrs []string, hasAllowlist bool, holding string) {
	defer s.Lock()()
	p := cfPart(s)
	content, proxied, hasRecord = p.Record(host)
	cidrs, hasAllowlist = p.Allowlist(host)
	holding, _ = p.HoldingPage(host)
	return
}

func cfKey(kind, name string) string { return "cloudflare/zones/" + cfZone + "/" + kind + "/" + name }

func TestCloudflareEnsureDNS(t *testing.T) {
	t.Parallel()
	s, c := cfFixture(t)
	env := activityEnv(c)
	ingress := spec.IngressHost("acme")
	recKey := cfKey("dns_records", cfTestHost+"/CNAME")

	for i, want := range []EnsureDNSOutput{{ZoneID: cfZone, Created: true}, {ZoneID: cfZone}} {
		v, err := env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: ingress, Proxied: true})
		var out EnsureDNSOutput
		if err != nil || v.Get(&out) != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		want.RecordID = out.RecordID
		if out != want || out.RecordID == "" {
			t.Fatalf("run %d: %+v, want %+v", i+1, out, want)
		}
	}
	if cnt := ledger(s, recKey); cnt.Created != 1 || cnt.Mutated != 0 {
		t.Fatalf("ledger after two identical runs: %+v", cnt)
	}
	if content, proxied, ok, _, _, _ := cfState(s, cfTestHost); !ok || content != ingress || !proxied {
		t.Fatalf("record: %s proxied=%v ok=%v", content, proxied, ok)
	}

	// To the holding page and back: the same record is updated, never re-created.
	for i, target := range []string{spec.HoldingPageHost, spec.HoldingPageHost, ingress} {
		v, err := env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: target, Proxied: true})
		var out EnsureDNSOutput
		if err != nil || v.Get(&out) != nil {
			t.Fatal(err)
		}
		if wantUpdated := i != 1; out.Updated != wantUpdated || out.Created {
			t.Fatalf("step %d to %s: %+v", i, target, out)
		}
		if content, _, _, _, _, _ := cfState(s, cfTestHost); content != target {
			t.Fatalf("record points at %s, want %s", content, target)
		}
	}
	if cnt := ledger(s, recKey); cnt.Created != 1 || cnt.Mutated != 2 || cnt.Deleted != 0 {
		t.Fatalf("ledger after holding page and back: %+v", cnt)
	}

	// Proxied off is a change too (private instances).
	v, err := env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: ingress, Proxied: false})
	var out EnsureDNSOutput
	if err != nil || v.Get(&out) != nil || !out.Updated {
		t.Fatalf("%+v %v", out, err)
	}

	// Bad input and unknown zones are permanent, with a fix.
	_, err = env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: `evil") or (http.host`, Target: ingress})
	appError(t, err, ErrInvalidArgument, true)
	_, err = env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: "acme.example.org", Target: ingress})
	if ae := appError(t, err, ErrNotFound, true); !strings.Contains(ae.Error(), "zone") {
		t.Fatalf("message: %v", ae)
	}
}

func TestCloudflareAllowlist(t *testing.T) {
	t.Parallel()
	s, c := cfFixture(t)
	env := activityEnv(c)
	set := func(host string, cidrs ...string) SetAllowlistOutput {
		t.Helper()
		v, err := env.ExecuteActivity(c.SetAllowlist, SetAllowlistInput{Host: host, CIDRs: cidrs})
		var out SetAllowlistOutput
		if err != nil || v.Get(&out) != nil {
			t.Fatalf("SetAllowlist %s %v: %v", host, cidrs, err)
		}
		return out
	}
	alKey, rsKey := cfKey("allowlist", cfTestHost), cfKey("rulesets", "http_request_firewall_custom")

	if out := set(cfTestHost, "203.0.113.0/24", "198.51.100.7/32"); !out.Changed {
		t.Fatalf("first run: %+v", out)
	}
	// Identical re-run, and the same set in another order: no write at all.
	for _, cidrs := range [][]string{{"203.0.113.0/24", "198.51.100.7/32"}, {"198.51.100.7/32", "203.0.113.0/24"}} {
		if out := set(cfTestHost, cidrs...); out.Changed {
			t.Fatalf("re-run with %v wrote: %+v", cidrs, out)
		}
	}
	if al, rs := ledger(s, alKey), ledger(s, rsKey); al.Created != 1 || al.Mutated != 0 || rs.Created != 1 || rs.Mutated != 0 {
		t.Fatalf("ledger after identical runs: allowlist %+v ruleset %+v", al, rs)
	}
	if _, _, _, cidrs, ok, _ := cfState(s, cfTestHost); !ok || !slices.Equal(cidrs, []string{"198.51.100.7/32", "203.0.113.0/24"}) {
		t.Fatalf("allowlist %v %v", cidrs, ok)
	}

	// Another hostname's rule and a change to ours leave each other alone.
	set(cfOtherHost, "192.0.2.0/24")
	if out := set(cfTestHost, "203.0.113.0/24"); !out.Changed {
		t.Fatalf("change: %+v", out)
	}
	if al := ledger(s, alKey); al.Created != 1 || al.Mutated != 1 {
		t.Fatalf("allowlist ledger after change: %+v", al)
	}
	if _, _, _, cidrs, ok, _ := cfState(s, cfOtherHost); !ok || !slices.Equal(cidrs, []string{"192.0.2.0/24"}) {
		t.Fatalf("other host's allowlist %v %v", cidrs, ok)
	}

	// An invalid range is refused before any call, naming the corrected range.
	before := ledger(s, rsKey)
	_, err := env.ExecuteActivity(c.SetAllowlist, SetAllowlistInput{Host: cfTestHost, CIDRs: []string{"142.250.217.110/29"}})
	ae := appError(t, err, ErrInvalidArgument, true)
	if msg := ae.Error(); !strings.Contains(msg, "142.250.217.110/29") || !strings.Contains(msg, "142.250.217.104/29") || !strings.Contains(msg, "What to do") {
		t.Fatalf("message: %v", msg)
	}
	if ledger(s, rsKey) != before {
		t.Fatal("an invalid allowlist reached Cloudflare")
	}

	// An empty list removes the rule (once), keeping the other hostname's.
	for i, want := range []bool{true, false} {
		if out := set(cfTestHost); out.Changed != want {
			t.Fatalf("clear run %d: %+v", i+1, out)
		}
	}
	if al := ledger(s, alKey); al.Deleted != 1 {
		t.Fatalf("allowlist ledger after clear: %+v", al)
	}
	if _, _, _, _, ok, _ := cfState(s, cfTestHost); ok {
		t.Fatal("allowlist still set")
	}
	if _, _, _, _, ok, _ := cfState(s, cfOtherHost); !ok {
		t.Fatal("other host's allowlist dropped")
	}
}

// The holding page is the DNS record pointed at spec.HoldingPageHost (no redirect rule, which
// would count against the zone's quota); turning it off points the record back where it was.
func TestCloudflareHoldingPage(t *testing.T) {
	t.Parallel()
	s, c := cfFixture(t)
	env := activityEnv(c)
	ingress := spec.IngressHost("acme")
	if _, err := env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: ingress, Proxied: true}); err != nil {
		t.Fatal(err)
	}
	recKey, rsKey := cfKey("dns_records", cfTestHost+"/CNAME"), cfKey("rulesets", "http_request_dynamic_redirect")
	for i, step := range []struct{ on, wantChanged bool }{{true, true}, {true, false}, {false, true}, {false, false}} {
		v, err := env.ExecuteActivity(c.SetHoldingPage, SetHoldingPageInput{Host: cfTestHost, On: step.on})
		var out SetHoldingPageOutput
		if err != nil || v.Get(&out) != nil || out.Changed != step.wantChanged {
			t.Fatalf("step %d (on=%v): %+v %v", i, step.on, out, err)
		}
		content, proxied, _, _, _, _ := cfState(s, cfTestHost)
		if want := map[bool]string{true: spec.HoldingPageHost, false: ingress}[step.on]; content != want || !proxied {
			t.Fatalf("step %d: record points at %q (proxied %v), want %q proxied", i, content, proxied, want)
		}
	}
	if rec := ledger(s, recKey); rec.Created != 1 || rec.Mutated != 2 {
		t.Fatalf("record ledger: %+v", rec)
	}
	if rs := ledger(s, rsKey); rs != (sim.Counts{}) {
		t.Fatalf("a redirect ruleset was written: %+v", rs)
	}
}

// A Single Redirect left from before holding pages moved to DNS is removed by either direction.
func TestCloudflareHoldingPageRemovesOldRedirect(t *testing.T) {
	t.Parallel()
	s, c := cfFixture(t)
	env := activityEnv(c)
	enabled, keep := true, false
	if _, err := c.api.UpdateEntrypointRuleset(context.Background(), cloudflare.ZoneIdentifier(cfZone), cloudflare.UpdateEntrypointRulesetParams{
		Phase: cfPhaseRedirect, Rules: []cloudflare.RulesetRule{
			{Ref: "theirs", Action: "redirect", Expression: `(http.host eq "www.sourcegraphcloud.com")`, Enabled: &enabled,
				ActionParameters: &cloudflare.RulesetRuleActionParameters{FromValue: &cloudflare.RulesetRuleActionParametersFromValue{StatusCode: 301,
					TargetURL: cloudflare.RulesetRuleActionParametersTargetURL{Value: "https://sourcegraph.com/"}, PreserveQueryString: &keep}}},
			{Ref: cfHoldingPageRef(cfTestHost), Action: "redirect", Expression: `(http.host eq "` + cfTestHost + `")`, Enabled: &enabled,
				ActionParameters: &cloudflare.RulesetRuleActionParameters{FromValue: &cloudflare.RulesetRuleActionParametersFromValue{StatusCode: 302,
					TargetURL: cloudflare.RulesetRuleActionParametersTargetURL{Value: "https://" + spec.HoldingPageHost + "/"}, PreserveQueryString: &keep}}},
		}}); err != nil {
		t.Fatal(err)
	}
	v, err := env.ExecuteActivity(c.SetHoldingPage, SetHoldingPageInput{Host: cfTestHost, On: false})
	var out SetHoldingPageOutput
	if err != nil || v.Get(&out) != nil || !out.Changed {
		t.Fatalf("off: %+v %v", out, err)
	}
	if _, _, _, _, _, holding := cfState(s, cfTestHost); holding != "" {
		t.Fatalf("old redirect kept: %q", holding)
	}
	rs, err := c.api.GetEntrypointRuleset(context.Background(), cloudflare.ZoneIdentifier(cfZone), cfPhaseRedirect)
	if err != nil || len(rs.Rules) != 1 || rs.Rules[0].Ref != "theirs" {
		t.Fatalf("another owner's redirect: %+v %v", rs.Rules, err)
	}
}

func TestCloudflareDeleteDNS(t *testing.T) {
	t.Parallel()
	s, c := cfFixture(t)
	env := activityEnv(c)
	for _, host := range []string{cfTestHost, cfOtherHost} {
		for _, call := range []func() error{
			func() error {
				_, err := env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: host, Target: spec.IngressHost("x"), Proxied: true})
				return err
			},
			func() error {
				_, err := env.ExecuteActivity(c.SetAllowlist, SetAllowlistInput{Host: host, CIDRs: []string{"203.0.113.0/24"}})
				return err
			},
			func() error {
				_, err := env.ExecuteActivity(c.SetHoldingPage, SetHoldingPageInput{Host: host, On: true})
				return err
			},
		} {
			if err := call(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, want := range []DeleteDNSOutput{{ZoneID: cfZone, DeletedRecords: 1, RemovedRules: 1}, {ZoneID: cfZone}} {
		v, err := env.ExecuteActivity(c.DeleteDNS, DeleteDNSInput{Host: cfTestHost})
		var out DeleteDNSOutput
		if err != nil || v.Get(&out) != nil || out != want {
			t.Fatalf("run %d: %+v %v, want %+v", i+1, out, err, want)
		}
	}
	if _, _, rec, _, al, _ := cfState(s, cfTestHost); rec || al {
		t.Fatalf("left behind: record %v allowlist %v", rec, al)
	}
	if content, _, rec, _, al, _ := cfState(s, cfOtherHost); !rec || !al || content != spec.HoldingPageHost {
		t.Fatalf("other host damaged: record %v → %q, allowlist %v", rec, content, al)
	}
	for _, k := range []string{cfKey("dns_records", cfTestHost+"/CNAME"), cfKey("allowlist", cfTestHost)} {
		if cnt := ledger(s, k); cnt.Created != 1 || cnt.Deleted != 1 {
			t.Fatalf("%s: %+v", k, cnt)
		}
	}
}

func TestCloudflareRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	s, c := cfFixture(t)

	// 503 twice on create (cloudflare-go's one retry absorbs one, Temporal the other).
	id := addFault(t, s, sim.Fault{API: "cloudflare", Method: "dns_records.create", Status: 503, Count: 2})
	var out EnsureDNSOutput
	if err := runWithRetries(t, c, c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: spec.IngressHost("acme"), Proxied: true}, &out); err != nil {
		t.Fatal(err)
	}
	if fired := id(); fired != 2 || !out.Created {
		t.Fatalf("fired %d, out %+v", fired, out)
	}
	if cnt := ledger(s, cfKey("dns_records", cfTestHost+"/CNAME")); cnt.Created != 1 {
		t.Fatalf("ledger: %+v", cnt)
	}

	// 429 with Retry-After twice on the ruleset write (the zone has no entrypoint yet: its create).
	id = addFault(t, s, sim.Fault{API: "cloudflare", Method: "rulesets.create", Status: 429, RetryAfter: sim.Duration(time.Second), Count: 2})
	var aout SetAllowlistOutput
	if err := runWithRetries(t, c, c.SetAllowlist, SetAllowlistInput{Host: cfTestHost, CIDRs: []string{"203.0.113.0/24"}}, &aout); err != nil {
		t.Fatal(err)
	}
	if fired := id(); fired != 2 || !aout.Changed {
		t.Fatalf("fired %d, out %+v", fired, aout)
	}
	if cnt := ledger(s, cfKey("allowlist", cfTestHost)); cnt.Created != 1 {
		t.Fatalf("ledger: %+v", cnt)
	}

	// Once cloudflare-go gives up on a 429, the error is typed and carries the Retry-After it hid.
	addFault(t, s, sim.Fault{API: "cloudflare", Method: "dns_records.list", Status: 429, RetryAfter: sim.Duration(3 * time.Second), Count: 2})
	_, err := activityEnv(c).ExecuteActivity(c.DeleteDNS, DeleteDNSInput{Host: cfTestHost})
	if ae := appError(t, err, ErrRateLimited, false); ae.NextRetryDelay() != 3*time.Second {
		t.Fatalf("NextRetryDelay %v: %v", ae.NextRetryDelay(), ae)
	}
}

func TestCloudflarePermanentErrors(t *testing.T) {
	t.Parallel()
	s, c := cfFixture(t)
	env := activityEnv(c)

	addFault(t, s, sim.Fault{API: "cloudflare", Method: "dns_records.list", Status: 403, Count: 1})
	_, err := env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: spec.IngressHost("acme"), Proxied: true})
	if ae := appError(t, err, ErrPermissionDenied, true); !strings.Contains(ae.Error(), "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("message: %v", ae)
	}

	// A 404 other than "no entrypoint yet" must not be read as an empty rule list: that would
	// make the write drop every other hostname's rule.
	if _, err := env.ExecuteActivity(c.SetAllowlist, SetAllowlistInput{Host: cfOtherHost, CIDRs: []string{"192.0.2.0/24"}}); err != nil {
		t.Fatal(err)
	}
	c.ruleCache.Clear() // as a worker that has not read the zone's rules yet
	addFault(t, s, sim.Fault{API: "cloudflare", Method: "rulesets.getEntrypoint", Status: 404, Count: 1})
	_, err = env.ExecuteActivity(c.SetAllowlist, SetAllowlistInput{Host: cfTestHost, CIDRs: []string{"203.0.113.0/24"}})
	appError(t, err, ErrNotFound, true)
	if _, _, _, _, ok, _ := cfState(s, cfOtherHost); !ok {
		t.Fatal("other host's allowlist dropped")
	}

	// More than one address record for the hostname: the workflow will not guess which to keep.
	for _, ip := range []string{"203.0.113.1", "203.0.113.2"} {
		if _, err := c.api.CreateDNSRecord(t.Context(), cloudflare.ZoneIdentifier(cfZone), cloudflare.CreateDNSRecordParams{Type: "A", Name: cfTestHost, Content: ip}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = env.ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: spec.IngressHost("acme"), Proxied: true})
	if ae := appError(t, err, ErrConflict, true); !strings.Contains(ae.Error(), "203.0.113.2") {
		t.Fatalf("message: %v", ae)
	}
}

// cfRaceTransport lets a second writer replace a zone's firewall rules right after the first
// write of the activity under test lands, as another owner PUTting the whole phase from a read
// made earlier would.
type cfRaceTransport struct {
	once   sync.Once
	inject func()
}

func (rt *cfRaceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && (req.Method == http.MethodPost || req.Method == http.MethodPatch) && strings.Contains(req.URL.Path, "/rulesets") {
		rt.once.Do(rt.inject)
	}
	return resp, err
}

func TestCloudflareDetectsLostUpdate(t *testing.T) {
	t.Parallel()
	s, other := cfFixture(t)
	cfg := cloudConfig(s)
	rt := &cfRaceTransport{inject: func() {
		// The other workflow read the (empty) rules before our write and now writes its own list.
		enabled := true
		_, err := other.api.UpdateEntrypointRuleset(context.Background(), cloudflare.ZoneIdentifier(cfZone), cloudflare.UpdateEntrypointRulesetParams{
			Phase: cfPhaseFirewall,
			Rules: []cloudflare.RulesetRule{{Ref: cfAllowlistRef(cfOtherHost), Action: "block", Enabled: &enabled,
				Expression: `(http.host eq "` + cfOtherHost + `" and not ip.src in {192.0.2.0/24})`}},
		})
		if err != nil {
			t.Error(err)
		}
	}}
	api, err := cloudflare.NewWithAPIToken(cfg.CloudflareToken, cloudflare.BaseURL(cfg.CloudflareAPIURL),
		cloudflare.UsingRetryPolicy(0, 0, 0), cloudflare.UsingRateLimit(1000), cloudflare.HTTPClient(&http.Client{Transport: rt}))
	if err != nil {
		t.Fatal(err)
	}
	c := &Cloudflare{api: api}
	env := activityEnv(c)
	in := SetAllowlistInput{Host: cfTestHost, CIDRs: []string{"203.0.113.0/24"}}

	_, err = env.ExecuteActivity(c.SetAllowlist, in)
	if ae := appError(t, err, ErrBusy, false); !strings.Contains(ae.Error(), "concurrently") {
		t.Fatalf("message: %v", ae)
	}
	// The retry reads the current rules and adds ours next to the other workflow's.
	v, err := env.ExecuteActivity(c.SetAllowlist, in)
	var out SetAllowlistOutput
	if err != nil || v.Get(&out) != nil || !out.Changed {
		t.Fatalf("retry: %+v %v", out, err)
	}
	for _, host := range []string{cfTestHost, cfOtherHost} {
		if _, _, _, _, ok, _ := cfState(s, host); !ok {
			t.Fatalf("%s has no allowlist", host)
		}
	}
}

// cfCreateRaceTransport runs inject just before the first record create of the activity under
// test reaches Cloudflare, as another writer would between the activity's read and its create.
// It keeps the body of that create's answer.
type cfCreateRaceTransport struct {
	once   sync.Once
	inject func()
	answer string
}

func (rt *cfCreateRaceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	create := req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/dns_records")
	if create {
		rt.once.Do(rt.inject)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if create && err == nil && rt.answer == "" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rt.answer = string(body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, err
}

// A record made between EnsureDNS's read and its create is answered with one of Cloudflare's
// "exists" codes (81058 identical, 81057 same with other settings, 81053/81054 the host is
// taken): the same content is ours to adopt, other content is a conflict for a human.
func TestCloudflareEnsureDNSRecordCreatedMeanwhile(t *testing.T) {
	t.Parallel()
	ingress := spec.IngressHost("acme")
	for _, tc := range []struct {
		name            string
		typ, content    string
		proxied         bool
		target          string
		wantCode        int
		wantErr         string // "" = success
		wantContentLeft string
	}{
		{"identical", "CNAME", ingress, true, ingress, 81058, "", ingress},
		{"same, not proxied", "CNAME", ingress, false, ingress, 81057, "", ingress},
		{"other CNAME", "CNAME", "elsewhere.example.com", true, ingress, 81053, ErrConflict, "elsewhere.example.com"},
		{"CNAME where we want an A", "CNAME", "elsewhere.example.com", true, "203.0.113.7", 81054, ErrConflict, "elsewhere.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, other := cfFixture(t)
			cfg := cloudConfig(s)
			var injected error
			rt := &cfCreateRaceTransport{inject: func() {
				p := tc.proxied
				_, injected = other.api.CreateDNSRecord(context.Background(), cloudflare.ZoneIdentifier(cfZone), cloudflare.CreateDNSRecordParams{
					Type: tc.typ, Name: cfTestHost, Content: tc.content, Proxied: &p, TTL: 1})
			}}
			api, err := cloudflare.NewWithAPIToken(cfg.CloudflareToken, cloudflare.BaseURL(cfg.CloudflareAPIURL),
				cloudflare.UsingRetryPolicy(0, 0, 0), cloudflare.UsingRateLimit(1000), cloudflare.HTTPClient(&http.Client{Transport: rt}))
			if err != nil {
				t.Fatal(err)
			}
			c := &Cloudflare{api: api}
			v, err := activityEnv(c).ExecuteActivity(c.EnsureDNS, EnsureDNSInput{Host: cfTestHost, Target: tc.target, Proxied: true})
			if injected != nil {
				t.Fatalf("the competing create failed: %v", injected)
			}
			if tc.wantErr != "" {
				ae := appError(t, err, tc.wantErr, true)
				if !strings.Contains(ae.Error(), tc.content) || !strings.Contains(ae.Error(), "What to do") {
					t.Fatalf("message %q", ae.Error())
				}
			} else {
				var out EnsureDNSOutput
				if err != nil || v.Get(&out) != nil || out.Created || out.RecordID == "" {
					t.Fatalf("%+v %v", out, err)
				}
			}
			if content, proxied, ok, _, _, _ := cfState(s, cfTestHost); !ok || content != tc.wantContentLeft || (tc.wantErr == "" && !proxied) {
				t.Fatalf("record left: %q proxied=%v ok=%v", content, proxied, ok)
			}
			var answer struct{ Errors []struct{ Code int } }
			if err := json.Unmarshal([]byte(rt.answer), &answer); err != nil || len(answer.Errors) != 1 || answer.Errors[0].Code != tc.wantCode {
				t.Fatalf("the create was answered %s, want code %d", rt.answer, tc.wantCode)
			}
		})
	}
}
