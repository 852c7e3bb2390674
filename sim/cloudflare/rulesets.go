package cloudflare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/sim"
)

// Phases this simulator interprets; any phase cloudflare-go knows is accepted and stored.
const (
	phaseFirewallCustom  = "http_request_firewall_custom"
	phaseDynamicRedirect = "http_request_dynamic_redirect"
)

var knownPhases = []string{
	"ddos_l4", "ddos_l7", "http_config_settings", "http_custom_errors", "http_log_custom_fields",
	"http_ratelimit", "http_request_cache_settings", "http_request_dynamic_redirect",
	"http_request_firewall_custom", "http_request_firewall_managed", "http_request_late_transform",
	"http_request_origin", "http_request_redirect", "http_request_sanitize", "http_request_transform",
	"http_response_compression", "http_response_firewall_managed", "http_response_headers_transform",
	"magic_transit",
}

// Actions allowed in the phases whose rules the simulator interprets (Cloudflare rejects others).
var phaseActions = map[string][]string{
	phaseFirewallCustom:  {"block", "challenge", "js_challenge", "managed_challenge", "log", "skip"},
	phaseDynamicRedirect: {"redirect"},
}

// Plans and their per-zone rule quotas: WAF custom rules (http_request_firewall_custom,
// https://developers.cloudflare.com/waf/custom-rules/: Free 5, Pro 20, Business 100, Enterprise
// 1,000) and Single Redirects (http_request_dynamic_redirect: Free 10, Pro 25, Business 50,
// Enterprise 300; the page with these numbers: source: not found). sim.Config.CloudflarePlan
// picks one for every zone; empty is Enterprise.
var planQuotas = map[string]map[string]int{
	"free":       {phaseFirewallCustom: 5, phaseDynamicRedirect: 10},
	"pro":        {phaseFirewallCustom: 20, phaseDynamicRedirect: 25},
	"business":   {phaseFirewallCustom: 100, phaseDynamicRedirect: 50},
	"enterprise": {phaseFirewallCustom: 1000, phaseDynamicRedirect: 300},
}

// Plans are the values sim.Config.CloudflarePlan accepts.
var Plans = []string{"free", "pro", "business", "enterprise"}

// maxExpression is the longest rule expression Cloudflare accepts
// (https://developers.cloudflare.com/ruleset-engine/rules-language/expressions/).
const maxExpression = 4096

// codeRulesetExists is the answer to a second zone ruleset for a phase: 400 with this code and
// "'zone' is not a valid value for kind because exceeded maximum number of zone rulesets for phase
// <phase>" (quoted in https://github.com/userbradley/documentation.breadnet.co.uk/issues/609 and
// https://github.com/cloudflare/terraform-provider-cloudflare/issues/6273).
const codeRulesetExists = 20217

// quota is how many rules a zone ruleset of phase may hold under the configured plan (0: no cap).
func (p *Part) quota(rs *ruleset) int {
	if rs.Kind != "zone" {
		return 0
	}
	plan := p.s.Config().CloudflarePlan
	if plan == "" {
		plan = "enterprise"
	}
	return planQuotas[plan][rs.Phase]
}

// checkQuota refuses n rules in rs when the plan allows fewer. The real message and code for
// this refusal: source: not found; the wording follows the zone-ruleset one (codeRulesetExists).
func (p *Part) checkQuota(rs *ruleset, n int) error {
	if q := p.quota(rs); q > 0 && n > q {
		plan := p.s.Config().CloudflarePlan
		if plan == "" {
			plan = "enterprise"
		}
		return fmt.Errorf("exceeded maximum number of rules in phase %s: %d rules, the zone's %s plan allows %d", rs.Phase, n, plan, q)
	}
	return nil
}

// codeRulesetInvalid is the error code for rejected ruleset bodies. The real API reports
// validation problems with several codes; callers should only rely on the 400 status.
const codeRulesetInvalid = 20021

type ruleset struct {
	ID, Name, Description, Kind, Phase string
	Version                            int
	LastUpdated                        time.Time
	Rules                              []*rule
}

// rule keeps the fields the simulator interprets typed and the rest raw, so any rule a client
// sends round-trips unchanged.
type rule struct {
	ID, Ref, Action, Expression, Description string
	Enabled                                  bool
	Version                                  int
	LastUpdated                              time.Time
	ActionParameters                         json.RawMessage
	Extra                                    map[string]json.RawMessage // logging, ratelimit, ...

	// parsed caches allowlistClauses of parsedExpr: a zone's rules are interpreted after every
	// change, and re-reading a thousand 4 KB expressions each time is what made it slow.
	parsedExpr string
	parsed     []parsedClause
}

// parsedClause is one allowlist clause of a rule: its hostname, its set's items and those as
// prefixes.
type parsedClause struct {
	host     string
	items    []string
	prefixes []netip.Prefix
}

// clauses is allowlistClauses(r.Expression), computed once per expression.
func (r *rule) clauses() []parsedClause {
	if r.parsed == nil || r.parsedExpr != r.Expression {
		r.parsedExpr, r.parsed = r.Expression, []parsedClause{}
		for _, c := range allowlistClauses(r.Expression) {
			items := strings.Fields(c[1])
			r.parsed = append(r.parsed, parsedClause{normalizeName(c[0]), items, prefixes(items)})
		}
	}
	return r.parsed
}

// ruleInput is a rule in a request body.
type ruleInput struct {
	ID               string          `json:"id"`
	Ref              string          `json:"ref"`
	Action           *string         `json:"action"`
	Expression       *string         `json:"expression"`
	Description      *string         `json:"description"`
	Enabled          *bool           `json:"enabled"`
	ActionParameters json.RawMessage `json:"action_parameters"`
	// Position places a rule added or moved through the per-rule endpoints.
	Position *rulePosition              `json:"position"`
	Extra    map[string]json.RawMessage `json:"-"`
}

// passthroughRuleFields are rule fields stored and returned verbatim.
var passthroughRuleFields = []string{"logging", "ratelimit", "exposed_credential_check", "score_threshold"}

func (ri *ruleInput) UnmarshalJSON(b []byte) error {
	type plain ruleInput
	if err := json.Unmarshal(b, (*plain)(ri)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for _, k := range passthroughRuleFields {
		if v, ok := all[k]; ok && string(v) != "null" {
			if ri.Extra == nil {
				ri.Extra = map[string]json.RawMessage{}
			}
			ri.Extra[k] = v
		}
	}
	return nil
}

// rulePosition is where the per-rule endpoints put a rule: before or after a rule ID ("" meaning
// first or last), or at a 1-based index.
type rulePosition struct {
	Before *string `json:"before"`
	After  *string `json:"after"`
	Index  *int    `json:"index"`
}

// rulesetInput is a ruleset request body. Entrypoint updates accept only description and rules,
// like the real API (which answers "unknown field kind" otherwise).
type rulesetInput struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Kind        string       `json:"kind"`
	Phase       string       `json:"phase"`
	Rules       []*ruleInput `json:"rules"`
}

func (rs *ruleset) json(withRules bool) map[string]any {
	m := map[string]any{
		"id":           rs.ID,
		"name":         rs.Name,
		"description":  rs.Description,
		"kind":         rs.Kind,
		"phase":        rs.Phase,
		"version":      strconv.Itoa(rs.Version),
		"last_updated": timestamp(rs.LastUpdated),
	}
	if withRules {
		rules := make([]map[string]any, 0, len(rs.Rules))
		for _, r := range rs.Rules {
			rules = append(rules, r.json())
		}
		m["rules"] = rules
	}
	return m
}

func (r *rule) json() map[string]any {
	m := map[string]any{
		"id":           r.ID,
		"ref":          r.Ref,
		"version":      strconv.Itoa(r.Version),
		"action":       r.Action,
		"expression":   r.Expression,
		"enabled":      r.Enabled,
		"last_updated": timestamp(r.LastUpdated),
	}
	if r.Description != "" {
		m["description"] = r.Description
	}
	if len(r.ActionParameters) > 0 {
		m["action_parameters"] = r.ActionParameters
	}
	for k, v := range r.Extra {
		m[k] = v
	}
	return m
}

// sameContent reports whether two rules do the same thing, so an unchanged rule keeps its version.
func (r *rule) sameContent(o *rule) bool {
	if r.Ref != o.Ref || r.Action != o.Action || r.Expression != o.Expression || r.Description != o.Description ||
		r.Enabled != o.Enabled || !bytes.Equal(r.ActionParameters, o.ActionParameters) || len(r.Extra) != len(o.Extra) {
		return false
	}
	for k, v := range r.Extra {
		if !bytes.Equal(v, o.Extra[k]) {
			return false
		}
	}
	return true
}

// buildRule turns an input into a rule, starting from prev (the stored rule it updates, or nil),
// and validates it for the phase.
func (p *Part) buildRule(in *ruleInput, prev *rule, phase string) (*rule, error) {
	r := &rule{Enabled: true, Version: 1}
	if prev != nil {
		c := *prev
		r = &c
	}
	if r.ID == "" {
		r.ID = p.newID("rule")
	}
	if in.Ref != "" {
		r.Ref = in.Ref
	}
	if r.Ref == "" {
		r.Ref = r.ID // Cloudflare defaults the ref to the rule ID
	}
	if in.Action != nil {
		r.Action = *in.Action
	}
	if in.Expression != nil {
		r.Expression = *in.Expression
	}
	if in.Description != nil {
		r.Description = *in.Description
	}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
	if len(in.ActionParameters) > 0 && string(in.ActionParameters) != "null" {
		var compact bytes.Buffer
		if err := json.Compact(&compact, in.ActionParameters); err != nil {
			return nil, fmt.Errorf("action_parameters: %v", err)
		}
		r.ActionParameters = compact.Bytes()
	}
	if in.Extra != nil {
		r.Extra = in.Extra
	}
	if r.Action == "" {
		return nil, fmt.Errorf("rule %s: action is required", r.Ref)
	}
	if allowed, ok := phaseActions[phase]; ok && !slices.Contains(allowed, r.Action) {
		return nil, fmt.Errorf("rule %s: action %q is not allowed in phase %s (allowed: %s)", r.Ref, r.Action, phase, strings.Join(allowed, ", "))
	}
	if err := checkExpression(r.Expression); err != nil {
		return nil, fmt.Errorf("rule %s: filter parsing error: %v", r.Ref, err)
	}
	if len(r.Expression) > maxExpression {
		return nil, fmt.Errorf("rule %s: the expression is %d characters long; the maximum is %d", r.Ref, len(r.Expression), maxExpression)
	}
	if r.Action == "block" && len(r.ActionParameters) > 0 {
		var ap struct {
			Response *struct {
				StatusCode int `json:"status_code"`
			} `json:"response"`
		}
		if json.Unmarshal(r.ActionParameters, &ap) == nil && ap.Response != nil &&
			(ap.Response.StatusCode < 400 || ap.Response.StatusCode > 499) {
			return nil, fmt.Errorf("rule %s: custom response status_code must be between 400 and 499", r.Ref)
		}
	}
	r.LastUpdated = p.s.Now()
	if prev != nil {
		if r.sameContent(prev) {
			r.LastUpdated = prev.LastUpdated
		} else {
			r.Version = prev.Version + 1
		}
	}
	return r, nil
}

var ipSetRE = regexp.MustCompile(`ip\.src\s+in\s+\{([^}]*)\}`)

// checkExpression catches what a client bug would produce: empty expressions, unbalanced
// brackets or quotes, and bad addresses in ip.src sets. It is not Cloudflare's full wirefilter
// grammar.
func checkExpression(expr string) error {
	if strings.TrimSpace(expr) == "" {
		return fmt.Errorf("expression is empty")
	}
	var stack []rune
	inString := false
	for i, c := range expr {
		if inString {
			if c == '"' && (i == 0 || expr[i-1] != '\\') {
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '(', '{':
			stack = append(stack, c)
		case ')', '}':
			want := map[rune]rune{')': '(', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return fmt.Errorf("unbalanced %q at offset %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inString || len(stack) > 0 {
		return fmt.Errorf("unterminated string or bracket")
	}
	for _, m := range ipSetRE.FindAllStringSubmatch(expr, -1) {
		items := strings.Fields(m[1])
		if len(items) == 0 {
			return fmt.Errorf("empty ip set")
		}
		for _, item := range items {
			if _, err := netip.ParsePrefix(item); err == nil {
				continue
			}
			if _, err := netip.ParseAddr(item); err != nil {
				return fmt.Errorf("invalid IP address or CIDR %q", item)
			}
		}
	}
	return nil
}

// hostRules are the per-hostname settings the simulator reads out of a zone's rules.
type hostRules struct {
	allowlists   map[string][]string    // hostname → allowed CIDRs, from the first rule that has a clause for it
	holdingPages map[string]string      // hostname → redirect target
	blocks       map[string][]hostBlock // hostname → every enabled block clause for it, in rule order
}

// hostBlock is one allowlist clause: requests to its hostname from outside prefixes are blocked.
type hostBlock struct {
	ruleID   string
	prefixes []netip.Prefix
}

var (
	allowlistRE = regexp.MustCompile(`^\(?\s*http\.host\s+(?:eq|==)\s+"([^"]+)"\s+(?:and|&&)\s+(?:not\s+|!\s*)\(?\s*ip\.src\s+in\s+\{([^}]*)\}\s*\)?\s*\)?$`)
	// clauseRE is one parenthesised allowlist clause inside a disjunction of them, the form the
	// lifecycle service packs many hostnames' allowlists into one rule with.
	clauseRE   = regexp.MustCompile(`\(\s*http\.host\s+(?:eq|==)\s+"([^"]+)"\s+(?:and|&&)\s+(?:not\s+|!\s*)\(?\s*ip\.src\s+in\s+\{([^}]*)\}\s*\)?\s*\)`)
	orOnlyRE   = regexp.MustCompile(`^(?:\s|\bor\b|\|\|)*$`)
	hostOnlyRE = regexp.MustCompile(`^\(?\s*http\.host\s+(?:eq|==)\s+"([^"]+)"\s*\)?$`)
)

// allowlistClauses reads an expression that is one allowlist clause, or a disjunction of
// parenthesised ones (host → its set's items); nil when the expression has any other shape, which
// the simulator does not interpret. A disjunction matches a request when any clause does, and a
// clause only matches requests to its own hostname, so each clause acts as a rule of its own.
func allowlistClauses(expr string) [][2]string {
	expr = strings.TrimSpace(expr)
	if m := allowlistRE.FindStringSubmatch(expr); m != nil {
		return [][2]string{{m[1], m[2]}}
	}
	ms := clauseRE.FindAllStringSubmatch(expr, -1)
	if len(ms) == 0 || !orOnlyRE.MatchString(clauseRE.ReplaceAllString(expr, "")) {
		return nil
	}
	out := make([][2]string, len(ms))
	for i, m := range ms {
		out[i] = [2]string{m[1], m[2]}
	}
	return out
}

// prefixes turns the items of an ip.src set into prefixes (an address is its /32 or /128).
func prefixes(items []string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(items))
	for _, item := range items {
		if pfx, err := netip.ParsePrefix(item); err == nil {
			out = append(out, pfx.Masked())
		} else if a, err := netip.ParseAddr(item); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// hostRules interprets a zone's entrypoints, once per change of its rulesets (every request to
// an instance asks). The first matching rule per hostname wins, as rule evaluation order would
// have it. Lock held.
func (p *Part) hostRules(zoneID string) hostRules {
	if hr, ok := p.ruleCache[zoneID]; ok {
		return hr
	}
	hr := hostRules{allowlists: map[string][]string{}, holdingPages: map[string]string{}, blocks: map[string][]hostBlock{}}
	if rs := p.entrypoint(zoneID, phaseFirewallCustom); rs != nil {
		for _, r := range rs.Rules {
			if !r.Enabled || r.Action != "block" {
				continue
			}
			for _, c := range r.clauses() {
				if hr.allowlists[c.host] == nil {
					hr.allowlists[c.host] = c.items
				}
				hr.blocks[c.host] = append(hr.blocks[c.host], hostBlock{r.ID, c.prefixes})
			}
		}
	}
	if rs := p.entrypoint(zoneID, phaseDynamicRedirect); rs != nil {
		for _, r := range rs.Rules {
			m := hostOnlyRE.FindStringSubmatch(strings.TrimSpace(r.Expression))
			if !r.Enabled || r.Action != "redirect" || m == nil {
				continue
			}
			var ap struct {
				FromValue struct {
					TargetURL struct {
						Value string `json:"value"`
					} `json:"target_url"`
				} `json:"from_value"`
			}
			host := normalizeName(m[1])
			if _, seen := hr.holdingPages[host]; !seen && json.Unmarshal(r.ActionParameters, &ap) == nil && ap.FromValue.TargetURL.Value != "" {
				hr.holdingPages[host] = ap.FromValue.TargetURL.Value
			}
		}
	}
	if p.ruleCache == nil {
		p.ruleCache = map[string]hostRules{}
	}
	p.ruleCache[zoneID] = hr
	return hr
}

func (p *Part) entrypoint(zoneID, phase string) *ruleset {
	return p.rulesets[zoneID][p.entrypoints[zoneID][phase]]
}

// changed records a zone's ruleset change in the ledger: the ruleset itself, and every hostname
// whose allowlist or holding page appeared, changed or went away. before is hostRules taken
// before the change. Lock held.
func (p *Part) changed(zoneID string, before hostRules) {
	delete(p.ruleCache, zoneID)
	after := p.hostRules(zoneID)
	diff := func(kind string, old, cur map[string]string) {
		for h, v := range cur {
			if o, ok := old[h]; !ok {
				p.s.Created(Name, "zones/"+zoneID+"/"+kind+"/"+h)
			} else if o != v {
				p.s.Mutated(Name, "zones/"+zoneID+"/"+kind+"/"+h)
			}
		}
		for h := range old {
			if _, ok := cur[h]; !ok {
				p.s.Deleted(Name, "zones/"+zoneID+"/"+kind+"/"+h)
			}
		}
	}
	joined := func(m map[string][]string) map[string]string {
		out := map[string]string{}
		for h, c := range m {
			out[h] = strings.Join(c, " ")
		}
		return out
	}
	diff("allowlist", joined(before.allowlists), joined(after.allowlists))
	diff("holding_page", before.holdingPages, after.holdingPages)
}

func rulesetLedgerName(zoneID string, rs *ruleset) string {
	if rs.Phase != "" && rs.Kind == "zone" {
		return "zones/" + zoneID + "/rulesets/" + rs.Phase
	}
	return "zones/" + zoneID + "/rulesets/" + rs.ID
}

// replaceRules sets a ruleset's rules from a full list, as the PUT endpoints do: a rule with the
// ID of an existing rule updates it, one without an ID is new.
func (p *Part) replaceRules(rs *ruleset, in []*ruleInput) error {
	if err := p.checkQuota(rs, len(in)); err != nil {
		return err
	}
	byID := map[string]*rule{}
	for _, r := range rs.Rules {
		byID[r.ID] = r
	}
	rules := make([]*rule, 0, len(in))
	seen := map[string]bool{}
	for _, ri := range in {
		if ri == nil {
			return fmt.Errorf("rules must not contain null")
		}
		prev := byID[ri.ID]
		if ri.ID != "" && prev == nil {
			return fmt.Errorf("rule %s does not exist in ruleset %s", ri.ID, rs.ID)
		}
		r, err := p.buildRule(ri, prev, rs.Phase)
		if err != nil {
			return err
		}
		if seen[r.Ref] {
			return fmt.Errorf("rule ref %q is used by more than one rule", r.Ref)
		}
		seen[r.Ref] = true
		rules = append(rules, r)
	}
	rs.Rules = rules
	rs.Version++
	rs.LastUpdated = p.s.Now()
	return nil
}

func (p *Part) validPhase(w http.ResponseWriter, phase string) bool {
	if slices.Contains(knownPhases, phase) {
		return true
	}
	writeErrors(w, http.StatusBadRequest, apiError{codeRulesetInvalid, fmt.Sprintf("unknown phase %q", phase)})
	return false
}

func invalid(w http.ResponseWriter, err error) {
	writeErrors(w, http.StatusBadRequest, apiError{codeRulesetInvalid, err.Error()})
}

func (p *Part) getEntrypoint(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	z, ok := p.zone(w, r)
	if !ok {
		return
	}
	phase := r.PathValue("phase")
	rs := p.entrypoint(z.ID, phase)
	if rs == nil {
		writeErrors(w, http.StatusNotFound, apiError{10003, "could not find entrypoint ruleset in the " + phase + " phase"})
		return
	}
	writeResult(w, http.StatusOK, rs.json(true), nil)
}

// updateEntrypoint replaces the rules of a phase's entrypoint, creating it if needed.
func (p *Part) updateEntrypoint(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Description string       `json:"description"`
		Rules       []*ruleInput `json:"rules"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		invalid(w, fmt.Errorf("invalid JSON: %v", err))
		return
	}
	defer p.s.Lock()()
	z, ok := p.zone(w, r)
	if !ok {
		return
	}
	phase := r.PathValue("phase")
	if !p.validPhase(w, phase) {
		return
	}
	before := p.hostRules(z.ID)
	rs := p.entrypoint(z.ID, phase)
	created := rs == nil
	if created {
		rs = &ruleset{ID: p.newID("ruleset"), Name: "default", Kind: "zone", Phase: phase}
	}
	next := *rs
	if err := p.replaceRules(&next, in.Rules); err != nil {
		invalid(w, err)
		return
	}
	if in.Description != "" {
		next.Description = in.Description
	}
	*rs = next
	if created {
		p.rulesets[z.ID][rs.ID] = rs
		p.entrypoints[z.ID][phase] = rs.ID
		p.s.Created(Name, rulesetLedgerName(z.ID, rs))
	} else {
		p.s.Mutated(Name, rulesetLedgerName(z.ID, rs))
	}
	p.changed(z.ID, before)
	writeResult(w, http.StatusOK, rs.json(true), nil)
}

func (p *Part) listRulesets(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	z, ok := p.zone(w, r)
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, id := range sim.SortedKeys(p.rulesets[z.ID]) {
		out = append(out, p.rulesets[z.ID][id].json(false)) // the list omits rules, like the real one
	}
	writeResult(w, http.StatusOK, out, nil)
}

func (p *Part) createRuleset(w http.ResponseWriter, r *http.Request) {
	var in rulesetInput
	if !decodeBody(w, r, &in) {
		return
	}
	defer p.s.Lock()()
	z, ok := p.zone(w, r)
	if !ok || !p.validPhase(w, in.Phase) {
		return
	}
	// Custom (non-entrypoint) rulesets live at account level; a zone only has one ruleset of kind
	// "zone" per phase, its entrypoint.
	if in.Kind != "zone" {
		invalid(w, fmt.Errorf("kind %q is not allowed for zone rulesets; use kind \"zone\"", in.Kind))
		return
	}
	if p.entrypoint(z.ID, in.Phase) != nil {
		writeErrors(w, http.StatusBadRequest, apiError{codeRulesetExists, "'zone' is not a valid value for kind because exceeded maximum number of zone rulesets for phase " + in.Phase})
		return
	}
	before := p.hostRules(z.ID)
	rs := &ruleset{ID: p.newID("ruleset"), Name: in.Name, Description: in.Description, Kind: in.Kind, Phase: in.Phase}
	if err := p.replaceRules(rs, in.Rules); err != nil {
		invalid(w, err)
		return
	}
	p.rulesets[z.ID][rs.ID] = rs
	p.entrypoints[z.ID][rs.Phase] = rs.ID
	p.s.Created(Name, rulesetLedgerName(z.ID, rs))
	p.changed(z.ID, before)
	writeResult(w, http.StatusOK, rs.json(true), nil)
}

// lookupRuleset finds the ruleset in the path, answering 404 itself. Lock held.
func (p *Part) lookupRuleset(w http.ResponseWriter, r *http.Request) (*zone, *ruleset, bool) {
	z, ok := p.zone(w, r)
	if !ok {
		return nil, nil, false
	}
	rs := p.rulesets[z.ID][r.PathValue("id")]
	if rs == nil {
		writeErrors(w, http.StatusNotFound, apiError{10003, "could not find ruleset " + r.PathValue("id")})
		return nil, nil, false
	}
	return z, rs, true
}

func (p *Part) getRuleset(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	if _, rs, ok := p.lookupRuleset(w, r); ok {
		writeResult(w, http.StatusOK, rs.json(true), nil)
	}
}

func (p *Part) updateRuleset(w http.ResponseWriter, r *http.Request) {
	var in rulesetInput
	if !decodeBody(w, r, &in) {
		return
	}
	defer p.s.Lock()()
	z, rs, ok := p.lookupRuleset(w, r)
	if !ok {
		return
	}
	if (in.Kind != "" && in.Kind != rs.Kind) || (in.Phase != "" && in.Phase != rs.Phase) {
		invalid(w, fmt.Errorf("kind and phase of a ruleset cannot be changed"))
		return
	}
	before := p.hostRules(z.ID)
	next := *rs
	if err := p.replaceRules(&next, in.Rules); err != nil {
		invalid(w, err)
		return
	}
	next.Description = in.Description
	*rs = next
	p.s.Mutated(Name, rulesetLedgerName(z.ID, rs))
	p.changed(z.ID, before)
	writeResult(w, http.StatusOK, rs.json(true), nil)
}

func (p *Part) deleteRuleset(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	z, rs, ok := p.lookupRuleset(w, r)
	if !ok {
		return
	}
	before := p.hostRules(z.ID)
	delete(p.rulesets[z.ID], rs.ID)
	if p.entrypoints[z.ID][rs.Phase] == rs.ID {
		delete(p.entrypoints[z.ID], rs.Phase)
	}
	p.s.Deleted(Name, rulesetLedgerName(z.ID, rs))
	p.changed(z.ID, before)
	w.WriteHeader(http.StatusNoContent) // cloudflare-go's DeleteRuleset expects an empty body
}

// ruleIndex returns the position of the rule with that ID, or -1.
func ruleIndex(rs *ruleset, id string) int {
	return slices.IndexFunc(rs.Rules, func(r *rule) bool { return r.ID == id })
}

// createRule adds one rule (POST .../rulesets/{id}/rules), at the end or where position says, and
// answers with the whole ruleset. cloudflare-go v0.119.0 has no method for it; use api.Raw.
func (p *Part) createRule(w http.ResponseWriter, r *http.Request) {
	var in ruleInput
	if !decodeBody(w, r, &in) {
		return
	}
	defer p.s.Lock()()
	z, rs, ok := p.lookupRuleset(w, r)
	if !ok {
		return
	}
	in.ID = ""
	nr, err := p.buildRule(&in, nil, rs.Phase)
	if err != nil {
		invalid(w, err)
		return
	}
	if slices.ContainsFunc(rs.Rules, func(x *rule) bool { return x.Ref == nr.Ref }) {
		invalid(w, fmt.Errorf("rule ref %q is already used in ruleset %s", nr.Ref, rs.ID))
		return
	}
	if err := p.checkQuota(rs, len(rs.Rules)+1); err != nil {
		invalid(w, err)
		return
	}
	at, err := position(rs, in.Position, len(rs.Rules))
	if err != nil {
		invalid(w, err)
		return
	}
	p.editRules(z.ID, rs, func() { rs.Rules = slices.Insert(rs.Rules, at, nr) })
	writeResult(w, http.StatusOK, rs.json(true), nil)
}

// updateRule changes one rule (PATCH .../rules/{rule}): fields present replace the stored ones.
func (p *Part) updateRule(w http.ResponseWriter, r *http.Request) {
	var in ruleInput
	if !decodeBody(w, r, &in) {
		return
	}
	defer p.s.Lock()()
	z, rs, ok := p.lookupRuleset(w, r)
	if !ok {
		return
	}
	i := ruleIndex(rs, r.PathValue("rule"))
	if i < 0 {
		writeErrors(w, http.StatusNotFound, apiError{10003, "could not find rule " + r.PathValue("rule")})
		return
	}
	nr, err := p.buildRule(&in, rs.Rules[i], rs.Phase)
	if err != nil {
		invalid(w, err)
		return
	}
	p.editRules(z.ID, rs, func() {
		rs.Rules = slices.Delete(rs.Rules, i, i+1)
		at := i
		if in.Position != nil {
			at, _ = position(rs, in.Position, i)
		}
		rs.Rules = slices.Insert(rs.Rules, min(at, len(rs.Rules)), nr)
	})
	writeResult(w, http.StatusOK, rs.json(true), nil)
}

// deleteRule removes one rule and, like the real API, answers 200 with the whole ruleset.
func (p *Part) deleteRule(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	z, rs, ok := p.lookupRuleset(w, r)
	if !ok {
		return
	}
	i := ruleIndex(rs, r.PathValue("rule"))
	if i < 0 {
		writeErrors(w, http.StatusNotFound, apiError{10003, "could not find rule " + r.PathValue("rule")})
		return
	}
	p.editRules(z.ID, rs, func() { rs.Rules = slices.Delete(rs.Rules, i, i+1) })
	writeResult(w, http.StatusOK, rs.json(true), nil)
}

// editRules applies a per-rule change and records it. Lock held.
func (p *Part) editRules(zoneID string, rs *ruleset, edit func()) {
	before := p.hostRules(zoneID)
	rs.Rules = slices.Clone(rs.Rules)
	edit()
	rs.Version++
	rs.LastUpdated = p.s.Now()
	p.s.Mutated(Name, rulesetLedgerName(zoneID, rs))
	p.changed(zoneID, before)
}

// position resolves a rule position (before/after a rule ID, or an index from 1) to a slice index.
func position(rs *ruleset, pos *rulePosition, def int) (int, error) {
	switch {
	case pos == nil:
		return def, nil
	case pos.Before != nil:
		if *pos.Before == "" {
			return 0, nil
		}
		if i := ruleIndex(rs, *pos.Before); i >= 0 {
			return i, nil
		}
		return 0, fmt.Errorf("position.before: rule %s not found", *pos.Before)
	case pos.After != nil:
		if *pos.After == "" {
			return len(rs.Rules), nil
		}
		if i := ruleIndex(rs, *pos.After); i >= 0 {
			return i + 1, nil
		}
		return 0, fmt.Errorf("position.after: rule %s not found", *pos.After)
	case pos.Index != nil:
		if *pos.Index < 1 || *pos.Index > len(rs.Rules)+1 {
			return 0, fmt.Errorf("position.index %d is out of range", *pos.Index)
		}
		return *pos.Index - 1, nil
	}
	return def, nil
}

// Blocked evaluates the custom rules of the zone serving hostname for a request from client, as
// the edge does for a proxied hostname, and returns the ID of the block rule that matched. Only
// the allowlist forms of rule (see allowlistClauses) are interpreted; the first enabled match
// wins, as Block is a terminating action. It reads hostRules' index, so a request costs a map
// lookup and a few prefix tests, not a scan of every rule. The simulator lock must be held.
func (p *Part) Blocked(hostname string, client netip.Addr) (ruleID string, blocked bool) {
	hostname = normalizeName(hostname)
	client = client.Unmap()
	for _, zid := range sim.SortedKeys(p.zones) {
		for _, b := range p.hostRules(zid).blocks[hostname] {
			if !slices.ContainsFunc(b.prefixes, func(pfx netip.Prefix) bool { return pfx.Contains(client) }) {
				return b.ruleID, true
			}
		}
	}
	return "", false
}
