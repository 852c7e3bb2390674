package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cloudflare/cloudflare-go"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Allowlist rules at fleet scale (docs/design.md, "Cloudflare at fleet scale"). Cloudflare caps a
// zone's custom rules by plan (Enterprise 1,000) and a rule's expression at 4,096 characters, so
// one rule per hostname cannot hold a fleet of 2,000 in one zone. Instead each rule this service
// owns packs the allowlists of many hostnames, one clause per hostname:
//
//	(http.host eq "a.sourcegraphcloud.com" and not ip.src in {…}) or (http.host eq "b…" and not ip.src in {…})
//
// A request to a.… matches only a.…'s clause, so the rule blocks exactly what a rule of its own
// would. A hostname's clause lives in exactly one owned rule; an edit rewrites that one rule.
const (
	// cfAllowlistsRefPrefix starts the ref of every rule this service owns; a rule without it is
	// someone else's and is never written.
	cfAllowlistsRefPrefix = "lifecycle-allowlists-"
	// cfMaxExpression is Cloudflare's limit on a rule expression's length
	// (https://developers.cloudflare.com/ruleset-engine/rules-language/expressions/).
	cfMaxExpression = 4096
	// cfPackTo is how full a clause joining a rule may make it: the rest is room for its clauses
	// to grow (a range added) without moving to another rule, which costs two writes.
	cfPackTo                = 3 * cfMaxExpression / 4
	cfAllowlistsDescription = "IP allowlists of Sourcegraph instances (managed by the lifecycle service; do not edit)"
)

// cfClause is host's clause for an allowlist (sorted CIDRs).
func cfClause(host string, cidrs []string) string {
	return fmt.Sprintf(`(http.host eq %q and not ip.src in {%s})`, host, strings.Join(cidrs, " "))
}

// cfOwnedRule is a rule this service owns, with its clauses by hostname.
type cfOwnedRule struct {
	rule    cloudflare.RulesetRule
	clauses map[string]string
}

// expression joins clauses in hostname order, so one set of clauses has one expression.
func cfJoin(clauses map[string]string) string {
	hosts := make([]string, 0, len(clauses))
	for h := range clauses {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	parts := make([]string, len(hosts))
	for i, h := range hosts {
		parts[i] = clauses[h]
	}
	return strings.Join(parts, " or ")
}

// cfParseOwned reads an owned rule's clauses; ok is false when its expression is not a join of
// clauses as cfJoin writes them (someone edited it by hand). It is a plain scan, not a regular
// expression: every edit reads every owned rule of the zone.
func cfParseOwned(r cloudflare.RulesetRule) (cfOwnedRule, bool) {
	o := cfOwnedRule{rule: r, clauses: map[string]string{}}
	rest := r.Expression
	for {
		body, ok := strings.CutPrefix(rest, `(http.host eq "`)
		if !ok {
			return o, false
		}
		host, body, ok := strings.Cut(body, `" and not ip.src in {`)
		if !ok || host == "" || strings.ContainsAny(host, `"(){} `) {
			return o, false
		}
		set, after, ok := strings.Cut(body, "})")
		if !ok || strings.ContainsAny(set, "{}()\"") {
			return o, false
		}
		if _, dup := o.clauses[host]; dup {
			return o, false
		}
		o.clauses[host] = rest[:len(rest)-len(after)]
		if after == "" {
			return o, true
		}
		if rest, ok = strings.CutPrefix(after, " or "); !ok {
			return o, false
		}
	}
}

// cfOwned splits a ruleset's rules into those this service owns (in rule order) and finds the
// legacy one-rule-per-hostname rule of host (ref "allowlist:<host>", written before rules were
// packed).
func cfOwned(rs cloudflare.Ruleset, host, what string) (owned []cfOwnedRule, legacy *cloudflare.RulesetRule, err error) {
	for _, r := range rs.Rules {
		switch {
		case strings.HasPrefix(r.Ref, cfAllowlistsRefPrefix):
			o, ok := cfParseOwned(r)
			if !ok {
				return nil, nil, Permanent(ErrConflict, fmt.Sprintf("%s: WAF rule %s (ref %s) is ours but its expression was edited by hand and is no longer a list of allowlist clauses", what, r.ID, r.Ref),
					"restore the rule's expression from the Cloudflare audit log, or delete the rule and run /reconcile on the drift issue to rebuild it from config.yaml", nil)
			}
			owned = append(owned, o)
		case host != "" && r.Ref == cfAllowlistRef(host):
			legacy = &r
		}
	}
	return owned, legacy, nil
}

func cfRuleEnabled(r cloudflare.RulesetRule) bool { return r.Enabled == nil || *r.Enabled }

// cfHolding returns the owned rules holding a clause for host.
func cfHolding(owned []cfOwnedRule, host string) []int {
	var out []int
	for i, o := range owned {
		if _, ok := o.clauses[host]; ok {
			out = append(out, i)
		}
	}
	return out
}

// zoneLock serialises this worker's allowlist edits in one zone.
func (c *Cloudflare) zoneLock(zoneID string) func() {
	m, _ := c.ruleLocks.LoadOrStore(zoneID, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// cfCachedRules is the last firewall entrypoint this worker read or wrote in a zone.
type cfCachedRules struct {
	rs cloudflare.Ruleset
}

// entrypointVersion lists the zone's rulesets (without their rules: a small answer) and returns
// the firewall entrypoint's ID and version, "" when there is none.
func (c *Cloudflare) entrypointVersion(ctx context.Context, zoneID, what string) (id, version string, err error) {
	list, err := cfCall(ctx, what+": list rulesets", func(ctx context.Context) ([]cloudflare.Ruleset, error) {
		return c.api.ListRulesets(ctx, cloudflare.ZoneIdentifier(zoneID), cloudflare.ListRulesetsParams{})
	})
	if err != nil {
		return "", "", err
	}
	for _, r := range list {
		if r.Kind == "zone" && r.Phase == cfPhaseFirewall && r.Version != nil {
			return r.ID, *r.Version, nil
		}
	}
	return "", "", nil
}

// firewallRules reads the zone's firewall entrypoint, from this worker's copy when the ruleset's
// version says nobody changed it since: a fleet's allowlists make it hundreds of kilobytes, and
// every edit needs a fresh view. Zone lock held.
func (c *Cloudflare) firewallRules(ctx context.Context, zoneID, what string) (cloudflare.Ruleset, bool, error) {
	if v, ok := c.ruleCache.Load(zoneID); ok {
		cached := v.(*cfCachedRules)
		id, version, err := c.entrypointVersion(ctx, zoneID, what)
		if err != nil {
			return cloudflare.Ruleset{}, false, err
		}
		if id == "" {
			c.ruleCache.Delete(zoneID)
			return cloudflare.Ruleset{}, false, nil
		}
		if id == cached.rs.ID && cached.rs.Version != nil && version == *cached.rs.Version {
			return cached.rs, true, nil
		}
	}
	rs, exists, err := c.entrypoint(ctx, zoneID, cfPhaseFirewall, what)
	if err == nil && exists {
		c.ruleCache.Store(zoneID, &cfCachedRules{rs: rs})
	}
	return rs, exists, err
}

// ruleCall calls one of the per-rule endpoints, which cloudflare-go v0.119.0 lacks (POST, PATCH)
// or misreads (DELETE answers the whole ruleset, where DeleteRulesetRule expects an empty body),
// through its Raw helper; each answers the whole ruleset.
func (c *Cloudflare) ruleCall(ctx context.Context, what, method, path string, body any) (cloudflare.Ruleset, error) {
	return cfCall(ctx, what, func(ctx context.Context) (cloudflare.Ruleset, error) {
		raw, err := c.api.Raw(ctx, method, path, body, nil)
		if err != nil {
			return cloudflare.Ruleset{}, err
		}
		var rs cloudflare.Ruleset
		if err := json.Unmarshal(raw.Result, &rs); err != nil {
			return rs, Permanent(ErrOperationFailed, what+": Cloudflare's answer is not a ruleset: "+err.Error(), "this is a bug; report it with the answer", err)
		}
		return rs, nil
	})
}

// ownedRuleBody is what POST and PATCH send for an owned rule.
func ownedRuleBody(ref, expr string) map[string]any {
	return map[string]any{"ref": ref, "action": "block", "expression": expr, "description": cfAllowlistsDescription, "enabled": true}
}

// cfQuotaFix is the advice when the zone holds no more rules.
const cfQuotaFix = "the zone's WAF custom rules are at the plan's limit (Enterprise 1,000; see docs/design.md, \"Cloudflare at fleet scale\"): remove unused custom rules in the Cloudflare dashboard, then retry the step"

// setAllowlistClause makes host's clause be clause ("" for none) in exactly one owned rule of
// the zone, using only per-rule writes, and removes host's legacy rule. It re-reads after writing
// to detect a concurrent writer (another worker, or another owner PUTting the whole phase from an
// old read) that dropped the change: ErrBusy, retried.
func (c *Cloudflare) setAllowlistClause(ctx context.Context, zoneID, host, clause, what string) (bool, error) {
	if len(clause) > cfMaxExpression {
		return false, Permanent(ErrInvalidArgument,
			fmt.Sprintf("%s: the allowlist makes a WAF expression of %d characters; Cloudflare allows %d", what, len(clause), cfMaxExpression),
			"use fewer, wider ranges in the instance's ipAllowlist (about 150 ranges fit), then retry", nil)
	}
	defer c.zoneLock(zoneID)()
	rc := "/zones/" + zoneID + "/rulesets/"
	rs, exists, err := c.firewallRules(ctx, zoneID, what)
	if err != nil {
		return false, err
	}
	owned, legacy, err := cfOwned(rs, host, what)
	if err != nil {
		return false, err
	}
	holding := cfHolding(owned, host)
	if legacy == nil && ((clause == "" && len(holding) == 0) ||
		(clause != "" && len(holding) == 1 && owned[holding[0]].clauses[host] == clause && cfRuleEnabled(owned[holding[0]].rule))) {
		return false, nil
	}
	if clause != "" && !exists {
		// The phase has no entrypoint yet: create it holding our rule. If someone creates it
		// meanwhile, Cloudflare refuses the second zone ruleset; the retry reads theirs.
		_, err := cfCall(ctx, what+": create the "+cfPhaseFirewall+" entrypoint", func(ctx context.Context) (cloudflare.Ruleset, error) {
			enabled := true
			return c.api.CreateRuleset(ctx, cloudflare.ZoneIdentifier(zoneID), cloudflare.CreateRulesetParams{
				Name: "default", Kind: "zone", Phase: cfPhaseFirewall,
				Rules: []cloudflare.RulesetRule{{Ref: cfAllowlistsRefPrefix + "1", Action: "block", Expression: clause, Description: cfAllowlistsDescription, Enabled: &enabled}},
			})
		})
		if err != nil {
			var re *cloudflare.RequestError
			if errors.As(err, &re) {
				return false, Transient(ErrBusy, what+": the "+cfPhaseFirewall+" entrypoint was created meanwhile; reading it again", err, 0)
			}
			return false, err
		}
		return true, c.verifyClause(ctx, zoneID, host, clause, cloudflare.Ruleset{}, what)
	}
	var last cloudflare.Ruleset // the answer to our last write: the whole ruleset after it
	write := func(desc, method, path string, body any) error {
		got, err := c.ruleCall(ctx, desc, method, path, body)
		var nf *cloudflare.NotFoundError
		if errors.As(err, &nf) {
			c.ruleCache.Delete(zoneID)
			return Transient(ErrBusy, fmt.Sprintf("%s: a rule we read a moment ago is gone (another writer); reading again", what), err, 0)
		}
		if err == nil {
			last = got
		}
		return err
	}
	patch := func(o cfOwnedRule, clauses map[string]string) error {
		if len(clauses) == 0 {
			return write(what+": delete WAF rule "+o.rule.Ref, http.MethodDelete, rc+rs.ID+"/rules/"+o.rule.ID, nil)
		}
		return write(what+": update WAF rule "+o.rule.Ref, http.MethodPatch, rc+rs.ID+"/rules/"+o.rule.ID, ownedRuleBody(o.rule.Ref, cfJoin(clauses)))
	}
	with := func(o cfOwnedRule, h, cl string) map[string]string {
		m := make(map[string]string, len(o.clauses)+1)
		for k, v := range o.clauses {
			if k != h {
				m[k] = v
			}
		}
		if cl != "" {
			m[h] = cl
		}
		return m
	}
	placed := -1
	if clause != "" {
		// Where it is, if it still fits; else the first owned rule with room; else a new rule.
		for _, i := range append(slices.Clone(holding), func() []int {
			var rest []int
			for i := range owned {
				if !slices.Contains(holding, i) {
					rest = append(rest, i)
				}
			}
			return rest
		}()...) {
			limit := cfMaxExpression
			if !slices.Contains(holding, i) {
				limit = cfPackTo // a clause joining a rule leaves room for the rule's clauses to grow
			}
			if m := with(owned[i], host, clause); len(cfJoin(m)) <= limit {
				if err := patch(owned[i], m); err != nil {
					return true, err
				}
				placed = i
				break
			}
		}
		if placed < 0 {
			n := 1
			for slices.ContainsFunc(rs.Rules, func(r cloudflare.RulesetRule) bool { return r.Ref == cfAllowlistsRefPrefix+strconv.Itoa(n) }) {
				n++
			}
			err := write(what+": add WAF rule", http.MethodPost, rc+rs.ID+"/rules", ownedRuleBody(cfAllowlistsRefPrefix+strconv.Itoa(n), clause))
			var re *cloudflare.RequestError
			if errors.As(err, &re) && cfQuotaError(re) {
				return false, Permanent(ErrQuotaExceeded, fmt.Sprintf("%s: Cloudflare refused another WAF custom rule: %v", what, err), cfQuotaFix, err)
			}
			if err != nil {
				return false, err
			}
		}
	}
	// Then out of every other rule (the new clause is in place first, so the hostname is never
	// without its allowlist).
	for _, i := range holding {
		if i == placed {
			continue
		}
		if err := patch(owned[i], with(owned[i], host, "")); err != nil {
			return true, err
		}
	}
	if legacy != nil {
		if err := write(what+": delete the old rule "+legacy.Ref, http.MethodDelete, rc+rs.ID+"/rules/"+legacy.ID, nil); err != nil {
			return true, err
		}
	}
	return true, c.verifyClause(ctx, zoneID, host, clause, last, what)
}

// cfQuotaError reports whether Cloudflare refused a rule because the phase is at its quota.
func cfQuotaError(re *cloudflare.RequestError) bool {
	for _, m := range re.ErrorMessages() {
		if strings.Contains(m, "exceeded maximum number of rules") {
			return true
		}
	}
	return false
}

// verifyClause checks that host's clause is clause, in exactly one owned rule, in the zone's
// rules after our last write: the answer to that write (last), unless the ruleset's version moved
// on since (another writer, which may have dropped our change), then a fresh read. A lost change
// is ErrBusy: the retry reads the current rules and writes again.
func (c *Cloudflare) verifyClause(ctx context.Context, zoneID, host, clause string, last cloudflare.Ruleset, what string) error {
	c.ruleCache.Delete(zoneID)
	rs := last
	if id, version, err := c.entrypointVersion(ctx, zoneID, what); err != nil {
		return err
	} else if last.Version == nil || id != last.ID || version != *last.Version {
		if rs, _, err = c.entrypoint(ctx, zoneID, cfPhaseFirewall, what); err != nil {
			return err
		}
	}
	if rs.ID != "" {
		c.ruleCache.Store(zoneID, &cfCachedRules{rs: rs})
	}
	owned, legacy, err := cfOwned(rs, host, what)
	if err != nil {
		return err
	}
	holding := cfHolding(owned, host)
	ok := legacy == nil && ((clause == "" && len(holding) == 0) || (clause != "" && len(holding) == 1 && owned[holding[0]].clauses[host] == clause))
	if !ok {
		c.ruleCache.Delete(zoneID)
		return Transient(ErrBusy, fmt.Sprintf("%s: the %s rules were changed concurrently and our change was lost; writing again", what, cfPhaseFirewall), nil, 0)
	}
	return nil
}

// deleteLegacyRule removes the rule with ref from the phase's entrypoint through the per-rule
// DELETE, if it is there.
func (c *Cloudflare) deleteLegacyRule(ctx context.Context, zoneID, phase, ref, what string) (bool, error) {
	rs, exists, err := c.entrypoint(ctx, zoneID, phase, what)
	if err != nil || !exists {
		return false, err
	}
	i := slices.IndexFunc(rs.Rules, func(r cloudflare.RulesetRule) bool { return r.Ref == ref })
	if i < 0 {
		return false, nil
	}
	_, err = c.ruleCall(ctx, what+": delete rule "+ref, http.MethodDelete, "/zones/"+zoneID+"/rulesets/"+rs.ID+"/rules/"+rs.Rules[i].ID, nil)
	var nf *cloudflare.NotFoundError
	if errors.As(err, &nf) {
		return false, nil // gone meanwhile
	}
	return err == nil, err
}

// SetAllowlistInput is the hostname and the ranges allowed to reach it.
type SetAllowlistInput struct {
	Host  string   `json:"host"`
	CIDRs []string `json:"cidrs"` // empty: no allowlist (the hostname is open to everyone)
}

// SetAllowlistOutput describes what was done.
type SetAllowlistOutput struct {
	ZoneID     string `json:"zoneId"`
	Expression string `json:"expression,omitempty"` // the hostname's clause in its rule
	Changed    bool   `json:"changed"`
	// Monitoring are the probes' egress ranges the rule admits besides the customer's ranges
	// (added for monitoring); empty without an allowlist.
	Monitoring []string `json:"monitoring,omitempty"`
}

// allowlistCIDRs is the set a hostname's clause admits: the customer's ranges and the probes'
// egress, sorted (one canonical clause per set, so a reordered list is no change).
func (c *Cloudflare) allowlistCIDRs(in []string) (cidrs, monitoring []string) {
	if len(in) == 0 {
		return nil, nil
	}
	cidrs = slices.Clone(in)
	for _, e := range c.probeEgress {
		if !slices.Contains(cidrs, e) {
			cidrs = append(cidrs, e)
			monitoring = append(monitoring, e)
		}
	}
	slices.Sort(cidrs)
	return cidrs, monitoring
}

// SetAllowlist blocks every source outside the CIDRs from reaching the hostname, with the
// hostname's clause in one of the WAF custom rules this service owns. Ranges are validated
// first: a range that is not a network address needs the customer to confirm the correction, so
// it is a permanent error. The uptime probes' egress ranges (LIFECYCLE_PROBE_EGRESS) are always
// admitted too: the create's soak, a resume's and an upgrade's checks probe the public hostname,
// and the WAF would answer them 403.
func (c *Cloudflare) SetAllowlist(ctx context.Context, in SetAllowlistInput) (SetAllowlistOutput, error) {
	host := strings.ToLower(in.Host)
	what := "set IP allowlist of " + host
	var out SetAllowlistOutput
	if err := cfValidateHost(what, host); err != nil {
		return out, err
	}
	if err := spec.ValidateCIDRs("IP allowlist", in.CIDRs); err != nil {
		return out, Permanent(ErrInvalidArgument, fmt.Sprintf("%s: %v", what, err),
			"correct the range in the instance's ipAllowlist (config.yaml / the allowlist issue) after the customer confirms it, then retry", nil)
	}
	zoneID, err := c.zoneFor(ctx, host, what)
	if err != nil {
		return out, err
	}
	out.ZoneID = zoneID
	var cidrs []string
	cidrs, out.Monitoring = c.allowlistCIDRs(in.CIDRs)
	if len(cidrs) > 0 {
		out.Expression = cfClause(host, cidrs)
	}
	out.Changed, err = c.setAllowlistClause(ctx, zoneID, host, out.Expression, what)
	return out, err
}

// SetHoldingPageInput turns the holding page of a hostname on or off.
type SetHoldingPageInput struct {
	Host string `json:"host"`
	On   bool   `json:"on"`
}

// SetHoldingPageOutput describes what was done.
type SetHoldingPageOutput struct {
	ZoneID    string `json:"zoneId"`
	TargetURL string `json:"targetUrl,omitempty"` // the DNS target while on
	Changed   bool   `json:"changed"`
}

// cfSuspendedComment marks a record pointed at the holding page and keeps where it pointed, so
// turning the holding page off (a resume, or a suspend's undo) can point it back.
const cfSuspendedComment = "managed by the lifecycle service; holding page on, instance at "

// SetHoldingPage points the hostname's DNS record at the holding page (spec.HoldingPageHost)
// and back. A DNS target costs no rule (a Single Redirect per suspended instance would hit the
// zone's redirect-rule quota), and the allowlist rule stays untouched. The record keeps the
// instance's target in its comment while on. A Single Redirect left from before is removed.
func (c *Cloudflare) SetHoldingPage(ctx context.Context, in SetHoldingPageInput) (SetHoldingPageOutput, error) {
	host := strings.ToLower(in.Host)
	what := fmt.Sprintf("turn holding page of %s %s", host, map[bool]string{true: "on", false: "off"}[in.On])
	var out SetHoldingPageOutput
	if err := cfValidateHost(what, host); err != nil {
		return out, err
	}
	zoneID, err := c.zoneFor(ctx, host, what)
	if err != nil {
		return out, err
	}
	out.ZoneID = zoneID
	rc := cloudflare.ZoneIdentifier(zoneID)
	recs, err := c.hostRecords(ctx, zoneID, host, what)
	if err != nil {
		return out, err
	}
	if len(recs) > 1 {
		return out, Permanent(ErrConflict, fmt.Sprintf("%s: %s has %d address records (%s); the workflow manages exactly one", what, host, len(recs), recordsText(recs)),
			"delete the extra records for this hostname in the Cloudflare dashboard (keep none or one), then retry", nil)
	}
	onHolding := len(recs) == 1 && pointsAt(recs[0], "CNAME", spec.HoldingPageHost)
	switch {
	case in.On && len(recs) == 0:
		// No record to keep: the hostname shows the holding page; a resume's DNS step makes the
		// instance's record.
		proxied := true
		if _, err := cfCall(ctx, what+": create record", func(ctx context.Context) (cloudflare.DNSRecord, error) {
			return c.api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{Type: "CNAME", Name: host, Content: spec.HoldingPageHost, Proxied: &proxied, TTL: 1,
				Comment: "managed by the lifecycle service; holding page on"})
		}); err != nil && cfExistsCode(err) == 0 {
			return out, err
		}
		out.Changed = true
	case in.On && !onHolding:
		comment := cfSuspendedComment + recs[0].Type + " " + strings.TrimSuffix(recs[0].Content, ".")
		if _, err := cfCall(ctx, what+": update record", func(ctx context.Context) (cloudflare.DNSRecord, error) {
			return c.api.UpdateDNSRecord(ctx, rc, cloudflare.UpdateDNSRecordParams{ID: recs[0].ID, Type: "CNAME", Name: host, Content: spec.HoldingPageHost, Proxied: recs[0].Proxied, TTL: 1, Comment: &comment})
		}); err != nil {
			return out, err
		}
		out.Changed = true
	case !in.On && onHolding:
		typ, target, ok := strings.Cut(strings.TrimPrefix(recs[0].Comment, cfSuspendedComment), " ")
		if !strings.HasPrefix(recs[0].Comment, cfSuspendedComment) || !ok || target == "" {
			return out, Permanent(ErrPrecondition, fmt.Sprintf("%s: the record points at the holding page but its comment %q does not say where the instance is", what, recs[0].Comment),
				"point the record back at the instance's ingress in the Cloudflare dashboard, or retry the resume, whose DNS step does it", nil)
		}
		comment := "managed by the lifecycle service"
		if _, err := cfCall(ctx, what+": update record", func(ctx context.Context) (cloudflare.DNSRecord, error) {
			return c.api.UpdateDNSRecord(ctx, rc, cloudflare.UpdateDNSRecordParams{ID: recs[0].ID, Type: typ, Name: host, Content: target, Proxied: recs[0].Proxied, TTL: 1, Comment: &comment})
		}); err != nil {
			return out, err
		}
		out.Changed = true
	}
	if in.On {
		out.TargetURL = spec.HoldingPageHost
	}
	removed, err := c.deleteLegacyRule(ctx, zoneID, cfPhaseRedirect, cfHoldingPageRef(host), what)
	out.Changed = out.Changed || removed
	return out, err
}

// CheckAllowlistsInput is what config.yaml says: every active instance's hostname and its
// customer ranges (empty: no allowlist).
type CheckAllowlistsInput struct {
	Want map[string][]string `json:"want"`
}

// AllowlistDrift is one hostname whose rules differ from config.yaml.
type AllowlistDrift struct {
	Host   string   `json:"host"`
	Want   []string `json:"want,omitempty"` // the ranges the clause should admit (with the probes'), sorted
	Have   []string `json:"have,omitempty"` // the ranges it admits, sorted; empty: no clause
	Reason string   `json:"reason"`         // e.g. "allowlist rule missing"
}

// CheckAllowlistsOutput lists the drift, by hostname.
type CheckAllowlistsOutput struct {
	Drift []AllowlistDrift `json:"drift,omitempty"`
}

// CheckAllowlists compares the zones' allowlist clauses with config.yaml, reading each zone's
// rules once: a hostname whose clause is missing, differs, is disabled, or is held twice drifts,
// and so does a clause of a hostname config.yaml does not list. It writes nothing; SetAllowlist
// per hostname repairs it.
func (c *Cloudflare) CheckAllowlists(ctx context.Context, in CheckAllowlistsInput) (CheckAllowlistsOutput, error) {
	what := "check IP allowlists"
	var out CheckAllowlistsOutput
	type found struct {
		clauses []string
		enabled bool
	}
	wantBy := make(map[string][]string, len(in.Want))
	for h, cidrs := range in.Want {
		wantBy[strings.ToLower(h)] = cidrs
	}
	have := map[string]*found{}
	zones := map[string]bool{}
	for host := range wantBy {
		zoneID, err := c.zoneFor(ctx, strings.ToLower(host), what)
		if err != nil {
			return out, err
		}
		zones[zoneID] = true
	}
	for zoneID := range zones {
		unlock := c.zoneLock(zoneID)
		rs, _, err := c.firewallRules(ctx, zoneID, what)
		unlock()
		if err != nil {
			return out, err
		}
		owned, _, err := cfOwned(rs, "", what)
		if err != nil {
			return out, err
		}
		for _, o := range owned {
			for h, cl := range o.clauses {
				f := have[h]
				if f == nil {
					f = &found{enabled: true}
					have[h] = f
				}
				f.clauses = append(f.clauses, cl)
				f.enabled = f.enabled && cfRuleEnabled(o.rule)
			}
		}
	}
	cidrsOf := func(clause string) []string {
		_, set, _ := strings.Cut(clause, "{")
		set, _, _ = strings.Cut(set, "}")
		return strings.Fields(set)
	}
	hosts := make([]string, 0, len(wantBy)+len(have))
	for h := range wantBy {
		hosts = append(hosts, h)
	}
	for h := range have {
		if _, ok := wantBy[h]; !ok {
			hosts = append(hosts, h)
		}
	}
	slices.Sort(hosts)
	for _, h := range hosts {
		want, listed := wantBy[h]
		wantCIDRs, _ := c.allowlistCIDRs(want)
		f := have[h]
		d := AllowlistDrift{Host: h, Want: wantCIDRs}
		switch {
		case !listed:
			d.Have, d.Reason = cidrsOf(f.clauses[0]), "allowlist rule for a hostname config.yaml does not list as active"
		case f == nil && len(wantCIDRs) == 0:
			continue
		case f == nil:
			d.Reason = "allowlist rule missing"
		case len(wantCIDRs) == 0:
			d.Have, d.Reason = cidrsOf(f.clauses[0]), "allowlist rule present, config.yaml has none"
		case len(f.clauses) > 1:
			d.Have, d.Reason = cidrsOf(f.clauses[0]), fmt.Sprintf("allowlist in %d rules", len(f.clauses))
		case !f.enabled:
			d.Have, d.Reason = cidrsOf(f.clauses[0]), "allowlist rule disabled"
		case f.clauses[0] != cfClause(h, wantCIDRs):
			d.Have, d.Reason = cidrsOf(f.clauses[0]), "allowlist ranges differ"
		default:
			continue
		}
		out.Drift = append(out.Drift, d)
	}
	return out, nil
}
