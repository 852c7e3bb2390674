package cloudflare_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go"

	"github.com/sourcegraph/lifecycle/sim"
	cfsim "github.com/sourcegraph/lifecycle/sim/cloudflare"
)

const (
	zoneID = cfsim.ZoneIDSourcegraphCloud
	host   = "acme.sourcegraphcloud.com"
)

var ctx = context.Background()

func start(t *testing.T, parts ...sim.PartFactory) *sim.Sim {
	t.Helper()
	if len(parts) == 0 {
		parts = []sim.PartFactory{cfsim.New}
	}
	s, err := sim.Start(sim.Config{}, parts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// client is the real cloudflare-go client pointed at the simulator, configured as the brief says.
func client(t *testing.T, s *sim.Sim, retries int) *cloudflare.API {
	t.Helper()
	api, err := cloudflare.NewWithAPIToken("test-token", cloudflare.BaseURL(s.URL()+"/client/v4"),
		cloudflare.UsingRateLimit(1000), cloudflare.UsingRetryPolicy(retries, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func part(s *sim.Sim) *cfsim.Part { return s.Part("cloudflare").(*cfsim.Part) }

func record(s *sim.Sim, hostname string) (string, bool, bool) {
	defer s.Lock()()
	return part(s).Record(hostname)
}

func allowlist(s *sim.Sim, hostname string) ([]string, bool) {
	defer s.Lock()()
	return part(s).Allowlist(hostname)
}

func TestZones(t *testing.T) {
	s := start(t)
	api := client(t, s, 0)

	id, err := api.ZoneIDByName("sourcegraphcloud.com")
	if err != nil || id != zoneID {
		t.Fatalf("ZoneIDByName = %q, %v", id, err)
	}
	if _, err := api.ZoneIDByName("example.com"); err == nil {
		t.Fatal("ZoneIDByName(example.com) found a zone")
	}
	zones, err := api.ListZones(ctx)
	if err != nil || len(zones) != 2 {
		t.Fatalf("ListZones = %d zones, %v", len(zones), err)
	}
	z, err := api.ZoneDetails(ctx, cfsim.ZoneIDSourcegraph)
	if err != nil || z.Name != "sourcegraph.com" || z.Status != "active" || z.Account.ID != cfsim.AccountID {
		t.Fatalf("ZoneDetails = %+v, %v", z, err)
	}
	_, err = api.ZoneDetails(ctx, "0123456789abcdef0123456789abcdef")
	var reqErr *cloudflare.RequestError
	if !errors.As(err, &reqErr) || !reqErr.InternalErrorCodeIs(7003) {
		t.Fatalf("unknown zone: %v", err)
	}

	// Configured zones replace the defaults.
	s2 := start(t, cfsim.NewWith(cfsim.WithZones(cfsim.Zone{ID: "11112222333344445555666677778888", Name: "example.org"})))
	if id, err := client(t, s2, 0).ZoneIDByName("example.org"); err != nil || id != "11112222333344445555666677778888" {
		t.Fatalf("configured zone: %q, %v", id, err)
	}
}

func TestAuthentication(t *testing.T) {
	s := start(t)
	resp, err := http.Get(s.URL() + "/client/v4/zones")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusForbidden || body.Success || len(body.Errors) != 1 || body.Errors[0].Code != 10000 {
		t.Fatalf("unauthenticated: %d %+v", resp.StatusCode, body)
	}

	s2 := start(t, cfsim.NewWith(cfsim.WithTokens("right")))
	_, err = client(t, s2, 0).ListZones(ctx)
	var authErr *cloudflare.AuthenticationError
	if !errors.As(err, &authErr) || !authErr.InternalErrorCodeIs(10000) {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestDNSRecords(t *testing.T) {
	s := start(t)
	api := client(t, s, 0)
	rc := cloudflare.ZoneIdentifier(zoneID)
	yes, no := true, false

	rec, err := api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{
		Type: "CNAME", Name: "acme", Content: "acme.origin.sourcegraph.internal", Proxied: &yes, TTL: 300, Comment: "instance acme"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID == "" || rec.Name != host || !*rec.Proxied || rec.TTL != 1 || rec.Comment != "instance acme" || !rec.Proxiable {
		t.Fatalf("created %+v", rec)
	}
	if content, proxied, ok := record(s, host); !ok || !proxied || content != "acme.origin.sourcegraph.internal" {
		t.Fatalf("Record = %q %v %v", content, proxied, ok)
	}
	got, err := api.GetDNSRecord(ctx, rc, rec.ID)
	if err != nil || got.Content != rec.Content || got.Name != host {
		t.Fatalf("GetDNSRecord = %+v, %v", got, err)
	}

	// Same record again: 81058. An A record next to the CNAME: 81053.
	_, err = api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{
		Type: "CNAME", Name: host, Content: "acme.origin.sourcegraph.internal", Proxied: &yes})
	var reqErr *cloudflare.RequestError
	if !errors.As(err, &reqErr) || !reqErr.InternalErrorCodeIs(81058) || reqErr.ErrorMessages()[0] != "An identical record already exists." {
		t.Fatalf("duplicate: %v", err)
	}
	// The same record with other settings (here not proxied): 81057.
	_, err = api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{
		Type: "CNAME", Name: host, Content: "acme.origin.sourcegraph.internal", Proxied: &no})
	if !errors.As(err, &reqErr) || !reqErr.InternalErrorCodeIs(81057) || reqErr.ErrorMessages()[0] != "Record already exists." {
		t.Fatalf("same record, other settings: %v", err)
	}
	// Another CNAME for the host: 81053. An address record next to the CNAME: 81054.
	_, err = api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "CNAME", Name: host, Content: "elsewhere.example.com"})
	if !errors.As(err, &reqErr) || !reqErr.InternalErrorCodeIs(81053) || !strings.HasPrefix(reqErr.ErrorMessages()[0], "An A, AAAA, or CNAME record with that host already exists.") {
		t.Fatalf("CNAME next to CNAME: %v", err)
	}
	_, err = api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "A", Name: host, Content: "203.0.113.10"})
	if !errors.As(err, &reqErr) || !reqErr.InternalErrorCodeIs(81054) || !strings.HasPrefix(reqErr.ErrorMessages()[0], "A CNAME record with that host already exists.") {
		t.Fatalf("A next to CNAME: %v", err)
	}
	_, err = api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "A", Name: "bad", Content: "not-an-ip"})
	if !errors.As(err, &reqErr) {
		t.Fatalf("bad A content: %v", err)
	}

	// Filters, and pagination the library follows by itself (more than one page of 100).
	for i := range 105 {
		if _, err := api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{
			Type: "TXT", Name: "_verify", Content: fmt.Sprintf("token-%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	recs, info, err := api.ListDNSRecords(ctx, rc, cloudflare.ListDNSRecordsParams{Type: "TXT"})
	if err != nil || len(recs) != 105 || info.Total != 105 {
		t.Fatalf("ListDNSRecords(TXT) = %d records, %+v, %v", len(recs), info, err)
	}
	recs, info, err = api.ListDNSRecords(ctx, rc, cloudflare.ListDNSRecordsParams{Type: "TXT", ResultInfo: cloudflare.ResultInfo{Page: 2, PerPage: 50}})
	if err != nil || len(recs) != 50 || info.TotalPages != 3 || recs[0].Content != "token-050" {
		t.Fatalf("page 2 = %d records, %+v, %v", len(recs), info, err)
	}
	recs, _, err = api.ListDNSRecords(ctx, rc, cloudflare.ListDNSRecordsParams{Name: host, Type: "CNAME"})
	if err != nil || len(recs) != 1 || recs[0].ID != rec.ID {
		t.Fatalf("ListDNSRecords(name) = %+v, %v", recs, err)
	}

	// UpdateDNSRecord is a PATCH: only what is sent changes.
	upd, err := api.UpdateDNSRecord(ctx, rc, cloudflare.UpdateDNSRecordParams{ID: rec.ID, Proxied: &no})
	if err != nil || *upd.Proxied || upd.Content != rec.Content || upd.Comment != "instance acme" || upd.Type != "CNAME" {
		t.Fatalf("UpdateDNSRecord = %+v, %v", upd, err)
	}
	if _, proxied, _ := record(s, host); proxied {
		t.Fatal("Record still proxied after update")
	}

	if err := api.DeleteDNSRecord(ctx, rc, rec.ID); err != nil {
		t.Fatal(err)
	}
	_, err = api.GetDNSRecord(ctx, rc, rec.ID)
	var nf *cloudflare.NotFoundError
	if !errors.As(err, &nf) || !nf.InternalErrorCodeIs(81044) {
		t.Fatalf("deleted record: %v", err)
	}
	if err := api.DeleteDNSRecord(ctx, rc, rec.ID); !errors.As(err, &nf) {
		t.Fatalf("second delete: %v", err)
	}
	if _, _, ok := record(s, host); ok {
		t.Fatal("Record still there after delete")
	}

	// Re-creating the hostname counts against the same ledger key.
	if _, err := api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "CNAME", Name: host, Content: "x.internal", Proxied: &yes}); err != nil {
		t.Fatal(err)
	}
	c := s.Ledger()["cloudflare/zones/"+zoneID+"/dns_records/"+host+"/CNAME"]
	if c.Created != 2 || c.Mutated != 1 || c.Deleted != 1 {
		t.Fatalf("ledger %+v", c)
	}
}

// allowlistRule is the rule an activity would write for a hostname's allowlist.
func allowlistRule(hostname string, cidrs ...string) cloudflare.RulesetRule {
	set := ""
	for i, c := range cidrs {
		if i > 0 {
			set += " "
		}
		set += c
	}
	return cloudflare.RulesetRule{
		Ref:         "allowlist:" + hostname,
		Description: "IP allowlist for " + hostname,
		Action:      "block",
		Expression:  fmt.Sprintf(`(http.host eq %q and not ip.src in {%s})`, hostname, set),
	}
}

func TestAllowlistAndHoldingPage(t *testing.T) {
	s := start(t)
	api := client(t, s, 0)
	rc := cloudflare.ZoneIdentifier(zoneID)
	const phase = "http_request_firewall_custom"

	// No entrypoint yet: 404 with 10003, as on a fresh zone.
	_, err := api.GetEntrypointRuleset(ctx, rc, phase)
	var nf *cloudflare.NotFoundError
	if !errors.As(err, &nf) || !nf.InternalErrorCodeIs(10003) {
		t.Fatalf("GetEntrypointRuleset on a fresh zone: %v", err)
	}

	// Set: PUT the entrypoint with one rule for the hostname.
	rs, err := api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{
		Phase: phase, Rules: []cloudflare.RulesetRule{allowlistRule(host, "203.0.113.0/24", "198.51.100.7")}})
	if err != nil {
		t.Fatal(err)
	}
	if rs.Phase != phase || rs.Kind != "zone" || len(rs.Rules) != 1 || rs.Rules[0].ID == "" || *rs.Version != "1" {
		t.Fatalf("entrypoint %+v", rs)
	}
	if cidrs, ok := allowlist(s, host); !ok || !slices.Equal(cidrs, []string{"203.0.113.0/24", "198.51.100.7"}) {
		t.Fatalf("Allowlist = %v %v", cidrs, ok)
	}

	// Replace: read-modify-write, keeping other hostnames' rules.
	rs, err = api.GetEntrypointRuleset(ctx, rc, phase)
	if err != nil {
		t.Fatal(err)
	}
	rules := append(rs.Rules, allowlistRule("other.sourcegraphcloud.com", "192.0.2.0/24"))
	rules[0].Expression = allowlistRule(host, "10.0.0.0/8").Expression
	rs, err = api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{Phase: phase, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	if *rs.Version != "2" || *rs.Rules[0].Version != "2" || *rs.Rules[1].Version != "1" {
		t.Fatalf("versions after replace: %+v", rs)
	}
	if cidrs, ok := allowlist(s, host); !ok || !slices.Equal(cidrs, []string{"10.0.0.0/8"}) {
		t.Fatalf("Allowlist after replace = %v %v", cidrs, ok)
	}

	// Invalid CIDRs are refused and change nothing.
	_, err = api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{
		Phase: phase, Rules: []cloudflare.RulesetRule{allowlistRule(host, "10.0.0.300/8")}})
	var reqErr *cloudflare.RequestError
	if !errors.As(err, &reqErr) {
		t.Fatalf("invalid CIDR: %v", err)
	}

	// Clear: PUT the rules without this hostname's.
	_, err = api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{Phase: phase, Rules: rs.Rules[1:]})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := allowlist(s, host); ok {
		t.Fatal("Allowlist still set after clearing")
	}
	if cidrs, ok := allowlist(s, "other.sourcegraphcloud.com"); !ok || len(cidrs) != 1 {
		t.Fatalf("other hostname's allowlist = %v %v", cidrs, ok)
	}

	// The per-rule DELETE deletes but answers with the ruleset, which v0.119.0's
	// DeleteRulesetRule reports as an error: activities should not use it.
	rs, _ = api.GetEntrypointRuleset(ctx, rc, phase)
	err = api.DeleteRulesetRule(ctx, rc, cloudflare.DeleteRulesetRuleParams{RulesetID: rs.ID, RulesetRuleID: rs.Rules[0].ID})
	if err == nil {
		t.Fatal("DeleteRulesetRule: want the library's empty-body error")
	}
	if _, ok := allowlist(s, "other.sourcegraphcloud.com"); ok {
		t.Fatal("rule not deleted by the per-rule DELETE")
	}

	// Per-rule create through api.Raw (no typed method in v0.119.0).
	raw, err := api.Raw(ctx, http.MethodPost, "/zones/"+zoneID+"/rulesets/"+rs.ID+"/rules", allowlistRule(host, "192.0.2.1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var afterAdd cloudflare.Ruleset
	if err := json.Unmarshal(raw.Result, &afterAdd); err != nil || len(afterAdd.Rules) != 1 {
		t.Fatalf("rule create: %s %v", raw.Result, err)
	}

	ledger := s.Ledger()
	if c := ledger["cloudflare/zones/"+zoneID+"/allowlist/"+host]; c.Created != 2 || c.Mutated != 1 || c.Deleted != 1 {
		t.Fatalf("allowlist ledger %+v", c)
	}
	if c := ledger["cloudflare/zones/"+zoneID+"/rulesets/"+phase]; c.Created != 1 {
		t.Fatalf("ruleset ledger %+v", c)
	}

	// Holding page: a Single Redirect for the hostname.
	_, err = api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{
		Phase: "http_request_dynamic_redirect",
		Rules: []cloudflare.RulesetRule{{
			Ref: "holding:" + host, Action: "redirect", Expression: fmt.Sprintf(`(http.host eq %q)`, host),
			ActionParameters: &cloudflare.RulesetRuleActionParameters{FromValue: &cloudflare.RulesetRuleActionParametersFromValue{
				StatusCode: 302, TargetURL: cloudflare.RulesetRuleActionParametersTargetURL{Value: "https://sourcegraph.com/cloud/suspended"}}},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer s.Lock()()
		if target, ok := part(s).HoldingPage(host); !ok || target != "https://sourcegraph.com/cloud/suspended" {
			t.Fatalf("HoldingPage = %q %v", target, ok)
		}
	}()
	if b, err := json.Marshal(s.Snapshot()["cloudflare"]); err != nil || !strings.Contains(string(b), `"allowlists":{"acme.sourcegraphcloud.com":["192.0.2.1"]}`) {
		t.Fatalf("snapshot: %s %v", b, err)
	}
}

func TestInjectedFaults(t *testing.T) {
	s := start(t)
	noRetry, retry := client(t, s, 0), client(t, s, 2)
	rc := cloudflare.ZoneIdentifier(zoneID)
	create := func(api *cloudflare.API, name string) error {
		_, err := api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "A", Name: name, Content: "203.0.113.1"})
		return err
	}

	// The envelope and header of an injected 429, seen on the wire.
	s.AddFault(sim.Fault{API: "cloudflare", Method: "zones.list", Status: 429, RetryAfter: sim.Duration(2 * time.Second), Count: 1})
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/client/v4/zones", nil)
	req.Header.Set("Authorization", "Bearer t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code int `json:"code"`
		} `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || body.Success || len(body.Errors) != 1 || body.Errors[0].Code != 971 {
		t.Fatalf("injected 429: %d %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	for _, status := range []int{429, 500} {
		s.AddFault(sim.Fault{API: "cloudflare", Method: "dns_records.create", Status: status, Count: 1})
		if err := create(noRetry, fmt.Sprintf("no-retry-%d", status)); err == nil {
			t.Fatalf("%d with retries disabled: no error", status)
		}
		s.AddFault(sim.Fault{API: "cloudflare", Method: "dns_records.create", Status: status, Count: 1})
		if err := create(retry, fmt.Sprintf("retry-%d", status)); err != nil {
			t.Fatalf("%d with 2 retries: %v", status, err)
		}
		if c := s.Ledger()[fmt.Sprintf("cloudflare/zones/%s/dns_records/retry-%d.sourcegraphcloud.com/A", zoneID, status)]; c.Created != 1 {
			t.Fatalf("ledger after retried %d: %+v", status, c)
		}
		if c := s.Ledger()[fmt.Sprintf("cloudflare/zones/%s/dns_records/no-retry-%d.sourcegraphcloud.com/A", zoneID, status)]; c.Created != 0 {
			t.Fatalf("failed create was recorded: %+v", c)
		}
	}
}

// Rule quotas per plan, the expression length limit and the one zone ruleset per phase, through
// the real client: the Pro plan holds 20 custom rules, whether added one by one (the per-rule
// POST) or written whole (the entrypoint PUT).
func TestRuleQuotas(t *testing.T) {
	s, err := sim.Start(sim.Config{CloudflarePlan: "pro"}, cfsim.New)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	api := client(t, s, 0)
	rc := cloudflare.ZoneIdentifier(zoneID)
	rule := func(i int) cloudflare.RulesetRule {
		return allowlistRule(fmt.Sprintf("h%02d.sourcegraphcloud.com", i), "203.0.113.0/24")
	}
	rs, err := api.CreateRuleset(ctx, rc, cloudflare.CreateRulesetParams{Name: "default", Kind: "zone", Phase: "http_request_firewall_custom", Rules: []cloudflare.RulesetRule{rule(0)}})
	if err != nil {
		t.Fatal(err)
	}
	// A second zone ruleset for the phase: 400/20217.
	_, err = api.CreateRuleset(ctx, rc, cloudflare.CreateRulesetParams{Name: "again", Kind: "zone", Phase: "http_request_firewall_custom"})
	var re *cloudflare.RequestError
	if !errors.As(err, &re) || !re.InternalErrorCodeIs(20217) || !strings.Contains(err.Error(), "exceeded maximum number of zone rulesets for phase http_request_firewall_custom") {
		t.Fatalf("second zone ruleset: %v", err)
	}
	post := func(r cloudflare.RulesetRule) error {
		_, err := api.Raw(ctx, http.MethodPost, "/zones/"+zoneID+"/rulesets/"+rs.ID+"/rules", r, nil)
		return err
	}
	for i := 1; i < 20; i++ {
		if err := post(rule(i)); err != nil {
			t.Fatalf("rule %d: %v", i+1, err)
		}
	}
	if err := post(rule(20)); !errors.As(err, &re) || !strings.Contains(err.Error(), "exceeded maximum number of rules") {
		t.Fatalf("rule 21 on Pro: %v", err)
	}
	rules := make([]cloudflare.RulesetRule, 21)
	for i := range rules {
		rules[i] = rule(i)
	}
	if _, err := api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{Phase: "http_request_firewall_custom", Rules: rules}); err == nil {
		t.Fatal("a PUT of 21 rules on Pro was accepted")
	}
	// 4,096 characters of expression at most.
	long := allowlistRule("long.sourcegraphcloud.com", "203.0.113.0/24")
	long.Expression = "(" + strings.Repeat(`http.host eq "a.sourcegraphcloud.com" or `, 100) + `http.host eq "b")`
	if _, err := api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{Phase: "http_request_firewall_custom", Rules: []cloudflare.RulesetRule{long}}); err == nil || !strings.Contains(err.Error(), "maximum is 4096") {
		t.Fatalf("a %d-character expression: %v", len(long.Expression), err)
	}
	// A packed rule (many hostnames' clauses joined by or) is interpreted clause by clause.
	packed := allowlistRule("x.sourcegraphcloud.com", "192.0.2.0/24")
	packed.Expression = `(http.host eq "p1.sourcegraphcloud.com" and not ip.src in {192.0.2.0/24}) or (http.host eq "p2.sourcegraphcloud.com" and not ip.src in {198.51.100.7})`
	if _, err := api.UpdateEntrypointRuleset(ctx, rc, cloudflare.UpdateEntrypointRulesetParams{Phase: "http_request_firewall_custom", Rules: []cloudflare.RulesetRule{packed}}); err != nil {
		t.Fatal(err)
	}
	if cidrs, ok := allowlist(s, "p2.sourcegraphcloud.com"); !ok || !slices.Equal(cidrs, []string{"198.51.100.7"}) {
		t.Fatalf("packed rule, second clause: %v %v", cidrs, ok)
	}
}
