package cloudflare

import (
	"net/http"
	"strings"

	"github.com/sourcegraph/lifecycle/sim"
)

// zoneJSON renders a zone with the fields cloudflare-go's Zone decodes (types must match theirs).
func (z *zone) json() map[string]any {
	return map[string]any{
		"id":                    z.ID,
		"name":                  z.Name,
		"status":                "active",
		"paused":                false,
		"type":                  "full",
		"development_mode":      0,
		"name_servers":          []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"},
		"original_name_servers": []string{},
		"original_registrar":    "",
		"original_dnshost":      "",
		"created_on":            timestamp(z.created),
		"modified_on":           timestamp(z.created),
		"activated_on":          timestamp(z.created),
		"permissions":           []string{"#dns_records:edit", "#dns_records:read", "#zone:read", "#waf:edit"},
		"owner":                 map[string]any{"id": AccountID, "type": "organization", "name": "Sourcegraph", "email": ""},
		"account":               map[string]any{"id": AccountID, "name": "Sourcegraph"},
		"plan": map[string]any{"id": "94f3b7b768b0458b56d2cac4fe5ec0f9", "name": "Enterprise Website", "price": 0,
			"currency": "USD", "frequency": "", "legacy_id": "enterprise", "is_subscribed": true, "can_subscribe": false},
		"meta": map[string]any{"page_rule_quota": 125, "wildcard_proxiable": true, "phishing_detected": false},
	}
}

// matchName applies the zones list's name filter: exact (case-insensitive), or with the
// contains:/starts_with:/ends_with: operators the API accepts.
func matchName(filter, name string) bool {
	filter = strings.ToLower(filter)
	switch {
	case filter == "":
		return true
	case strings.HasPrefix(filter, "contains:"):
		return strings.Contains(name, strings.TrimPrefix(filter, "contains:"))
	case strings.HasPrefix(filter, "starts_with:"):
		return strings.HasPrefix(name, strings.TrimPrefix(filter, "starts_with:"))
	case strings.HasPrefix(filter, "ends_with:"):
		return strings.HasSuffix(name, strings.TrimPrefix(filter, "ends_with:"))
	default:
		return name == normalizeName(filter)
	}
}

func (p *Part) listZones(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	q := r.URL.Query()
	var matched []map[string]any
	for _, id := range sim.SortedKeys(p.zones) {
		z := p.zones[id]
		if !matchName(q.Get("name"), z.Name) {
			continue
		}
		if st := q.Get("status"); st != "" && st != "active" {
			continue
		}
		matched = append(matched, z.json())
	}
	items, info := paginate(r, matched, 20, 50)
	if items == nil {
		items = []map[string]any{}
	}
	writeResult(w, http.StatusOK, items, info)
}

func (p *Part) getZone(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	if z, ok := p.zone(w, r); ok {
		writeResult(w, http.StatusOK, z.json(), nil)
	}
}
