package cloudflare

import (
	"fmt"
	"strings"
	"time"
)

// ZoneFor returns the zone holding hostname: the zone whose name is its longest suffix, as
// Cloudflare resolves it. Lock held.
func (p *Part) ZoneFor(hostname string) (zoneID string, ok bool) {
	hostname = normalizeName(hostname)
	best := ""
	for id, z := range p.zones {
		if (hostname == z.Name || strings.HasSuffix(hostname, "."+z.Name)) && len(z.Name) > len(best) {
			zoneID, best, ok = id, z.Name, true
		}
	}
	return zoneID, ok
}

// HasRecords reports whether hostname has any DNS record, in any zone. Lock held.
func (p *Part) HasRecords(hostname string) bool { return len(p.byName[normalizeName(hostname)]) > 0 }

// SeedRecord adds a DNS record to a zone as if it had been created at created, validated like the
// create endpoint: for fleets that existed before the simulator started. typ is A, AAAA or CNAME
// (or another supported type); a proxied record gets the automatic TTL. Lock held.
func (p *Part) SeedRecord(zoneID, typ, name, content string, proxied bool, comment string, created time.Time) error {
	z := p.zones[zoneID]
	if z == nil {
		return fmt.Errorf("cloudflare: no zone %s", zoneID)
	}
	rec := &record{ID: p.newID("dns"), ZoneID: z.ID, TTL: 1, Created: created, Modified: created}
	recordInput{Type: &typ, Name: &name, Content: &content, Proxied: &proxied, Comment: &comment}.apply(rec, z.Name)
	if status, errs := p.validate(rec, ""); errs != nil {
		return fmt.Errorf("cloudflare: DNS record %s %s: HTTP %d, code %d: %s", rec.Type, rec.Name, status, errs[0].Code, errs[0].Message)
	}
	p.addRecord(rec)
	return nil
}
