// Package cloudflare simulates the Cloudflare API v4 as github.com/cloudflare/cloudflare-go v0.119.0
// speaks it, as the "cloudflare" part of the simulator. It is served under /client/v4:
//
//	api, _ := cloudflare.NewWithAPIToken(token, cloudflare.BaseURL(simURL+"/client/v4"),
//		cloudflare.UsingRateLimit(1000), cloudflare.UsingRetryPolicy(0, 0, 0))
//
// # What is modelled
//
//   - Zones: list (filters name, status; paginated) and get. Seeded with DefaultZones
//     (sourcegraphcloud.com = ZoneIDSourcegraphCloud, sourcegraph.com = ZoneIDSourcegraph); other
//     zones with NewWith(WithZones(...)). Unknown zone IDs get 400 with codes 7003 + 7000 ("Could
//     not route to ..., perhaps your object identifier is invalid?").
//   - DNS records: create, get, list (filters name, type, content, proxied; page/per_page with
//     result_info, so ListDNSRecords auto-paginates), update (PATCH, what UpdateDNSRecord sends:
//     only fields present change), overwrite (PUT) and delete. Relative names are completed with the
//     zone name, proxied records get ttl 1 (automatic), comment and tags are kept. An identical
//     record is 400/81058 "An identical record already exists.", the same record with another
//     proxied or ttl 400/81057 "Record already exists.", a CNAME next to an A/AAAA/CNAME of the
//     same name 400/81053, an A/AAAA next to a CNAME 400/81054, a missing record 404/81044
//     "Record does not exist.".
//   - Rulesets (zone level): the phase entrypoints (GetEntrypointRuleset / UpdateEntrypointRuleset:
//     GET/PUT /zones/{zone}/rulesets/phases/{phase}/entrypoint; GET of a phase without one is
//     404/10003 "could not find entrypoint ruleset in the <phase> phase"; PUT creates it), list,
//     create, get, update (PUT), delete (204), and the per-rule endpoints POST .../rulesets/{id}/rules,
//     PATCH and DELETE .../rulesets/{id}/rules/{rule}. Like the real API, the per-rule DELETE
//     answers 200 with the whole ruleset, which cloudflare-go v0.119.0's DeleteRulesetRule
//     misreads as an error (it expects an empty body): call the per-rule endpoints through api.Raw.
//     Expressions are checked for balanced brackets/quotes and valid IPs in `ip.src in {...}` and
//     are at most 4,096 characters; a block rule's custom response must have a 4xx status_code, as
//     on Cloudflare. A second zone ruleset for a phase is 400/20217. Each zone's rules are capped by
//     sim.Config.CloudflarePlan (-cloudflare-plan; Enterprise: 1,000 custom rules, 300 Single
//     Redirects), past which a rule is refused with 400 "exceeded maximum number of rules in phase …".
//
// # IP allowlist and holding page
//
// An allowlist for a hostname is one enabled rule in the zone's http_request_firewall_custom
// entrypoint of the form
//
//	action: "block", expression: (http.host eq "acme.sourcegraphcloud.com" and not ip.src in {203.0.113.0/24 198.51.100.7})
//
// or a disjunction of such parenthesised clauses for many hostnames, `(clause) or (clause) …`, the
// form the lifecycle service packs allowlists into. A holding page is the hostname's record
// pointed at the holding page host, or one enabled rule in the http_request_dynamic_redirect
// entrypoint (a Single Redirect):
//
//	action: "redirect", expression: (http.host eq "acme.sourcegraphcloud.com"),
//	action_parameters: {"from_value": {"target_url": {"value": "https://..."}, "status_code": 302}}
//
// Allowlist and HoldingPage read those back; other rules are stored and served but not interpreted.
//
// # Authentication and errors
//
// Every request needs "Authorization: Bearer <token>" (or X-Auth-Key + X-Auth-Email); without it,
// or with a token not in WithTokens when that option is used, the answer is 403 with code 10000
// "Authentication error". Responses use the v4 envelope {"success","errors":[{"code","message"}],
// "messages":[],"result"[,"result_info"]} and carry a cf-ray header. Injected faults render the
// envelope too: 429 with code 971, 403 with 10000, others with code 10001 (cloudflare-go only
// looks at the status for 429 and 5xx, which it retries per its retry policy).
//
// # Fault-rule method names
//
//	zones.list  zones.get
//	dns_records.create  dns_records.get  dns_records.list  dns_records.update  dns_records.overwrite
//	dns_records.delete
//	rulesets.list  rulesets.create  rulesets.get  rulesets.update  rulesets.delete
//	rulesets.getEntrypoint  rulesets.updateEntrypoint
//	rulesets.createRule  rulesets.updateRule  rulesets.deleteRule
//	unknown (any other path under /client/v4)
//
// # Ledger
//
// Keys are stable across re-creates of the same hostname, so "created exactly once" is checkable:
//
//	cloudflare/zones/<zoneID>/dns_records/<name>/<type>   a DNS record (renaming one counts as
//	                                                      delete of the old key + create of the new)
//	cloudflare/zones/<zoneID>/rulesets/<phase>            a phase entrypoint ruleset
//	cloudflare/zones/<zoneID>/allowlist/<hostname>        created when a hostname gets an allowlist
//	                                                      rule, mutated when its CIDRs change,
//	                                                      deleted when the rule goes
//	cloudflare/zones/<zoneID>/holding_page/<hostname>     likewise for the holding-page redirect
package cloudflare

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
)

// Name is the part name used in fault rules, the ledger and the state dump.
const Name = "cloudflare"

// Stable IDs of the seeded zones, so configuration and tests can name them without a lookup.
const (
	ZoneIDSourcegraphCloud = "8f2e5a9c1b7d4e3fa6c0d2b9e8f71a34" // sourcegraphcloud.com
	ZoneIDSourcegraph      = "3c9d7e1f5a2b4c8d9e0f1a2b3c4d5e6f" // sourcegraph.com
	AccountID              = "9a7806061c88ada191ed06f989cc3dac"
)

// Zone is a zone the simulator serves.
type Zone struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DefaultZones are the zones New seeds.
var DefaultZones = []Zone{
	{ID: ZoneIDSourcegraphCloud, Name: "sourcegraphcloud.com"},
	{ID: ZoneIDSourcegraph, Name: "sourcegraph.com"},
}

// Option configures the part (see NewWith).
type Option func(*config)

type config struct {
	zones  []Zone
	tokens []string
}

// WithZones replaces DefaultZones with these zones (seeded again on every reset).
func WithZones(zones ...Zone) Option {
	return func(c *config) { c.zones = slices.Clone(zones) }
}

// WithTokens accepts only these API tokens; by default any non-empty token is accepted.
func WithTokens(tokens ...string) Option {
	return func(c *config) { c.tokens = slices.Clone(tokens) }
}

// NewWith returns a factory for a configured part: sim.Start(cfg, cloudflare.NewWith(cloudflare.WithZones(...))).
func NewWith(opts ...Option) sim.PartFactory {
	cfg := config{zones: DefaultZones}
	for _, o := range opts {
		o(&cfg)
	}
	return func(s *sim.Sim) sim.Part {
		p := &Part{s: s, cfg: cfg}
		p.Reset()
		return p
	}
}

// New builds the part with DefaultZones; pass it to sim.Start / sim.New.
func New(s *sim.Sim) sim.Part { return NewWith()(s) }

// Part is the Cloudflare simulator. All fields are guarded by the simulator lock.
type Part struct {
	s   *sim.Sim
	cfg config

	zones       map[string]*zone               // by zone ID
	records     map[string]map[string]*record  // zone ID → record ID → record
	byName      map[string]map[string]*record  // record name → record ID → record, every zone
	rulesets    map[string]map[string]*ruleset // zone ID → ruleset ID → ruleset
	entrypoints map[string]map[string]string   // zone ID → phase → ruleset ID
	ruleCache   map[string]hostRules           // zone ID → its rules interpreted; dropped on every change (changed)
}

type zone struct {
	Zone
	created time.Time
}

func (p *Part) Name() string        { return Name }
func (p *Part) GRPC(g *grpc.Server) {}

// Reset drops all state and seeds the configured zones again. Lock held.
func (p *Part) Reset() {
	p.zones = map[string]*zone{}
	p.records = map[string]map[string]*record{}
	p.byName = map[string]map[string]*record{}
	p.rulesets = map[string]map[string]*ruleset{}
	p.entrypoints = map[string]map[string]string{}
	p.ruleCache = map[string]hostRules{}
	for _, z := range p.cfg.zones {
		p.zones[z.ID] = &zone{Zone: z, created: p.s.Now()}
		p.records[z.ID] = map[string]*record{}
		p.rulesets[z.ID] = map[string]*ruleset{}
		p.entrypoints[z.ID] = map[string]string{}
	}
}

// Routes registers the REST endpoints under /client/v4, each under the method name fault rules
// match, behind the authentication check.
func (p *Part) Routes(r *sim.Routes) {
	r.ErrorWriter(writeInjectedError)
	h := func(method, pattern string, fn http.HandlerFunc) {
		verb, path, _ := strings.Cut(pattern, " ")
		r.Handle(method, verb+" /client/v4"+path, p.authenticated(fn))
	}
	h("zones.list", "GET /zones", p.listZones)
	h("zones.get", "GET /zones/{zone}", p.getZone)

	const recs = "/zones/{zone}/dns_records"
	h("dns_records.create", "POST "+recs, p.createRecord)
	h("dns_records.list", "GET "+recs, p.listRecords)
	h("dns_records.get", "GET "+recs+"/{id}", p.getRecord)
	h("dns_records.update", "PATCH "+recs+"/{id}", p.updateRecord)
	h("dns_records.overwrite", "PUT "+recs+"/{id}", p.overwriteRecord)
	h("dns_records.delete", "DELETE "+recs+"/{id}", p.deleteRecord)

	const rs = "/zones/{zone}/rulesets"
	h("rulesets.list", "GET "+rs, p.listRulesets)
	h("rulesets.create", "POST "+rs, p.createRuleset)
	h("rulesets.get", "GET "+rs+"/{id}", p.getRuleset)
	h("rulesets.update", "PUT "+rs+"/{id}", p.updateRuleset)
	h("rulesets.delete", "DELETE "+rs+"/{id}", p.deleteRuleset)
	h("rulesets.getEntrypoint", "GET "+rs+"/phases/{phase}/entrypoint", p.getEntrypoint)
	h("rulesets.updateEntrypoint", "PUT "+rs+"/phases/{phase}/entrypoint", p.updateEntrypoint)
	h("rulesets.createRule", "POST "+rs+"/{id}/rules", p.createRule)
	h("rulesets.updateRule", "PATCH "+rs+"/{id}/rules/{rule}", p.updateRule)
	h("rulesets.deleteRule", "DELETE "+rs+"/{id}/rules/{rule}", p.deleteRule)

	// Anything else under /client/v4 answers like Cloudflare's router, in the envelope.
	r.Handle("unknown", "/client/v4/", p.authenticated(func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, apiError{7000, "No route for that URI"})
	}))
}

// authenticated rejects requests without credentials, as Cloudflare does before routing.
func (p *Part) authenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ok := isBearer && strings.TrimSpace(token) != ""
		if ok && len(p.cfg.tokens) > 0 {
			ok = slices.Contains(p.cfg.tokens, token)
		}
		if !ok && len(p.cfg.tokens) == 0 {
			ok = r.Header.Get("X-Auth-Key") != "" && r.Header.Get("X-Auth-Email") != ""
		}
		if !ok {
			writeErrors(w, http.StatusForbidden, apiError{10000, "Authentication error"})
			return
		}
		next(w, r)
	}
}

// Record returns the proxied-or-not target of hostname: the content of its CNAME, else A, else
// AAAA record, in whichever zone holds it. The simulator lock must be held.
// Every probe of an instance asks, so it reads the name index, not every record.
func (p *Part) Record(hostname string) (content string, proxied bool, ok bool) {
	hostname = normalizeName(hostname)
	for _, typ := range []string{"CNAME", "A", "AAAA"} {
		var found *record // the first by zone ID, then record ID, as a sorted walk would find it
		for _, rec := range p.byName[hostname] {
			if rec.Type == typ && (found == nil || rec.ZoneID < found.ZoneID || (rec.ZoneID == found.ZoneID && rec.ID < found.ID)) {
				found = rec
			}
		}
		if found != nil {
			return found.Content, found.Proxied, true
		}
	}
	return "", false, false
}

// Allowlist returns the CIDRs allowed to reach hostname, read from the allowlist rule in its zone's
// http_request_firewall_custom entrypoint (see the package doc for the rule's form); ok is false
// when there is no such rule. The simulator lock must be held.
func (p *Part) Allowlist(hostname string) ([]string, bool) {
	hostname = normalizeName(hostname)
	for _, zid := range sim.SortedKeys(p.zones) {
		if cidrs, ok := p.hostRules(zid).allowlists[hostname]; ok {
			return slices.Clone(cidrs), true
		}
	}
	return nil, false
}

// HoldingPage returns the URL hostname is redirected to by a holding-page rule in its zone's
// http_request_dynamic_redirect entrypoint. The simulator lock must be held.
func (p *Part) HoldingPage(hostname string) (target string, ok bool) {
	hostname = normalizeName(hostname)
	for _, zid := range sim.SortedKeys(p.zones) {
		if t, ok := p.hostRules(zid).holdingPages[hostname]; ok {
			return t, true
		}
	}
	return "", false
}

// Snapshot is a compact, readable view for /_sim/state. Lock held.
func (p *Part) Snapshot() any {
	type recView struct {
		Zone    string `json:"zone"`
		ID      string `json:"id"`
		Name    string `json:"name"`
		Type    string `json:"type"`
		Content string `json:"content"`
		Proxied bool   `json:"proxied"`
		TTL     int    `json:"ttl"`
		Comment string `json:"comment,omitempty"`
	}
	type ruleView struct {
		ID         string `json:"id"`
		Ref        string `json:"ref,omitempty"`
		Action     string `json:"action"`
		Expression string `json:"expression"`
		Enabled    bool   `json:"enabled"`
	}
	type rulesetView struct {
		Zone    string     `json:"zone"`
		ID      string     `json:"id"`
		Phase   string     `json:"phase"`
		Version int        `json:"version"`
		Rules   []ruleView `json:"rules"`
	}
	zones, recs, rulesets := []Zone{}, []recView{}, []rulesetView{}
	allowlists := map[string][]string{}
	holding := map[string]string{}
	for _, zid := range sim.SortedKeys(p.zones) {
		z := p.zones[zid]
		zones = append(zones, z.Zone)
		for _, rec := range p.sortedRecords(zid) {
			recs = append(recs, recView{z.Name, rec.ID, rec.Name, rec.Type, rec.Content, rec.Proxied, rec.TTL, rec.Comment})
		}
		for _, id := range sim.SortedKeys(p.rulesets[zid]) {
			rs := p.rulesets[zid][id]
			v := rulesetView{Zone: z.Name, ID: rs.ID, Phase: rs.Phase, Version: rs.Version, Rules: []ruleView{}}
			for _, r := range rs.Rules {
				v.Rules = append(v.Rules, ruleView{r.ID, r.Ref, r.Action, r.Expression, r.Enabled})
			}
			rulesets = append(rulesets, v)
		}
		hr := p.hostRules(zid)
		for h, c := range hr.allowlists {
			allowlists[h] = c
		}
		for h, t := range hr.holdingPages {
			holding[h] = t
		}
	}
	return map[string]any{"zones": zones, "dns_records": recs, "rulesets": rulesets,
		"allowlists": allowlists, "holding_pages": holding}
}

// newID returns a 32-hex-digit identifier shaped like Cloudflare's, unique in the process.
func (p *Part) newID(kind string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("cloudflare-%s-%d-%d", kind, p.s.NextID(), p.s.Now().UnixNano())))
	return hex.EncodeToString(sum[:16])
}

// zone finds the zone in the path, answering like Cloudflare's router when it does not exist.
// Lock held.
func (p *Part) zone(w http.ResponseWriter, r *http.Request) (*zone, bool) {
	z := p.zones[r.PathValue("zone")]
	if z == nil {
		path := strings.TrimPrefix(r.URL.Path, "/client/v4")
		writeErrors(w, http.StatusBadRequest,
			apiError{7003, "Could not route to " + path + ", perhaps your object identifier is invalid?"},
			apiError{7000, "No route for that URI"})
		return nil, false
	}
	return z, true
}

// decodeBody reads a JSON request body into v, answering 400 itself on malformed JSON.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	if err := dec.Decode(v); err != nil {
		writeErrors(w, http.StatusBadRequest, apiError{9207, "Request body is invalid JSON: " + err.Error()})
		return false
	}
	return true
}

// timestamp formats like Cloudflare: RFC 3339 with microseconds, UTC.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func normalizeName(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}
