package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/cloudflare-go"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Cloudflare manages an instance's hostname in the shared Cloudflare zone: its proxied DNS record,
// its IP allowlist and its holding page (see cloudflare_rules.go and docs/design.md, "Cloudflare
// at fleet scale").
//
// Allowlists are WAF custom rules this service owns in the zone's http_request_firewall_custom
// entrypoint, found by their ref (cfAllowlistsRefPrefix), each holding the allowlists of many
// hostnames, and written only with the per-rule endpoints (POST, PATCH, DELETE
// .../rulesets/{id}/rules[/{rule}]), so rules of other owners in that phase (Terraform, the
// dashboard) are never rewritten. A holding page is the DNS record pointed at
// spec.HoldingPageHost, which costs no rule at all.
type Cloudflare struct {
	api   *cloudflare.API
	zones sync.Map // zone name → zone ID; zones do not move, so a worker looks each up once
	// ruleLocks (zone ID → *sync.Mutex) serialise this worker's edits of a zone's allowlist rules:
	// one rule holds many hostnames, and Cloudflare offers no precondition on a rule's PATCH.
	ruleLocks sync.Map
	ruleCache sync.Map // zone ID → *cfCachedRules, read and written under the zone's lock
	// probeEgress (LIFECYCLE_PROBE_EGRESS) is admitted by every allowlist, so the uptime probes
	// pass the WAF.
	probeEgress []string
}

// cloudflareRateLimit is the client-side request rate. Cloudflare's limit is 1200 requests per
// 5 minutes per token; short bursts above 4/s are fine, and a 429 is retried by Temporal.
const cloudflareRateLimit = 25

// NewCloudflare builds the client with an API token (CLOUDFLARE_API_TOKEN) against
// cfg.CloudflareAPIURL, or the real API when it is empty. cloudflare-go's own retries are kept to
// one: it ignores Retry-After and hides the status of the last attempt, whereas Temporal's retry
// policy honours Retry-After (captured here by the transport) and shows attempts in the UI.
func NewCloudflare(cfg config.Cloud) (*Cloudflare, error) {
	if cfg.CloudflareToken == "" {
		return nil, errors.New("Cloudflare client: CLOUDFLARE_API_TOKEN is not set")
	}
	opts := []cloudflare.Option{
		cloudflare.UsingRetryPolicy(1, 1, 2),
		cloudflare.UsingRateLimit(cloudflareRateLimit),
		cloudflare.HTTPClient(&http.Client{Timeout: time.Minute, Transport: cfTransport{base: http.DefaultTransport}}),
	}
	if cfg.CloudflareAPIURL != "" {
		opts = append(opts, cloudflare.BaseURL(strings.TrimRight(cfg.CloudflareAPIURL, "/")))
	}
	api, err := cloudflare.NewWithAPIToken(cfg.CloudflareToken, opts...)
	if err != nil {
		return nil, fmt.Errorf("Cloudflare client: %w", err)
	}
	return &Cloudflare{api: api, probeEgress: slices.Clone(cfg.ProbeEgress)}, nil
}

// Cloudflare ruleset phases and rule refs.
const (
	cfPhaseFirewall = "http_request_firewall_custom"
	cfPhaseRedirect = "http_request_dynamic_redirect"
	cfCodeNoEntry   = 10003 // "could not find entrypoint ruleset in the <phase> phase"
)

// cfExistsCodes are Cloudflare's answers to a create whose record, or another for the hostname,
// exists: 81058 "An identical record already exists.", 81057 "Record already exists.", 81053 "An
// A, AAAA, or CNAME record with that host already exists.", 81054 "A CNAME record with that host
// already exists.".
var cfExistsCodes = []int{81058, 81057, 81053, 81054}

// cfExistsCode returns which of cfExistsCodes err carries, or 0.
func cfExistsCode(err error) int {
	var cfErr *cloudflare.RequestError
	if !errors.As(err, &cfErr) {
		return 0
	}
	for _, code := range cfExistsCodes {
		if cfErr.InternalErrorCodeIs(code) {
			return code
		}
	}
	return 0
}

// pointsAt reports whether a record is of type typ with content target (Cloudflare may return a
// CNAME's target with a trailing dot).
func pointsAt(r cloudflare.DNSRecord, typ, target string) bool {
	return r.Type == typ && strings.EqualFold(strings.TrimSuffix(r.Content, "."), target)
}

// recordsText lists records for a message: "A 1.2.3.4, CNAME x.example.com".
func recordsText(recs []cloudflare.DNSRecord) string {
	have := make([]string, len(recs))
	for i, r := range recs {
		have[i] = r.Type + " " + r.Content
	}
	return strings.Join(have, ", ")
}

func cfAllowlistRef(host string) string   { return "allowlist:" + host }
func cfHoldingPageRef(host string) string { return "holding-page:" + host }

// cfResponse records the status and Retry-After of the last HTTP response of one call, which
// cloudflare-go drops once its own retries are exhausted.
type cfResponse struct {
	mu         sync.Mutex
	status     int
	retryAfter time.Duration
}

type cfResponseKey struct{}

type cfTransport struct{ base http.RoundTripper }

func (t cfTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if rec, ok := req.Context().Value(cfResponseKey{}).(*cfResponse); ok && resp != nil {
		rec.mu.Lock()
		rec.status, rec.retryAfter = resp.StatusCode, retryAfter(resp.Header)
		rec.mu.Unlock()
	}
	return resp, err
}

// cfCall runs one client call and classifies its error, using the last response's status and
// Retry-After for 429/5xx (which cloudflare-go turns into plain errors).
func cfCall[T any](ctx context.Context, what string, fn func(context.Context) (T, error)) (T, error) {
	rec := &cfResponse{}
	v, err := fn(context.WithValue(ctx, cfResponseKey{}, rec))
	if err == nil {
		return v, nil
	}
	rec.mu.Lock()
	status, after := rec.status, rec.retryAfter
	rec.mu.Unlock()
	switch {
	case status == http.StatusTooManyRequests:
		return v, Transient(ErrRateLimited, fmt.Sprintf("%s: Cloudflare rate limit (HTTP 429)", what), err, after)
	case status >= 500:
		return v, Transient(ErrTransient, fmt.Sprintf("%s: Cloudflare HTTP %d", what, status), err, after)
	}
	classified := classify(what, err)
	var ae *temporal.ApplicationError
	if errors.As(classified, &ae) && ae.NonRetryable() && ae.Type() == ErrPermissionDenied {
		return v, Permanent(ErrPermissionDenied, fmt.Sprintf("%s: Cloudflare refused the token: %v", what, err),
			"check that the worker's CLOUDFLARE_API_TOKEN is valid and has Zone:DNS:Edit and Zone:WAF:Edit (Zone Rulesets) on this zone", err)
	}
	return v, classified
}

func cfValidateHost(what, host string) error {
	if err := spec.ValidateDomain("hostname", host); err != nil {
		return Permanent(ErrInvalidArgument, fmt.Sprintf("%s: %v", what, err), "fix the instance's domain (spec.domain.primaryDNSName)", nil)
	}
	return nil
}

// zoneFor finds the zone holding host by trying its suffixes, longest first
// (acme.sourcegraphcloud.com, then sourcegraphcloud.com).
func (c *Cloudflare) zoneFor(ctx context.Context, host, what string) (string, error) {
	labels := strings.Split(host, ".")
	for i := 0; i+2 <= len(labels); i++ {
		name := strings.Join(labels[i:], ".")
		if id, ok := c.zones.Load(name); ok {
			return id.(string), nil
		}
		res, err := cfCall(ctx, what+": look up zone "+name, func(ctx context.Context) (cloudflare.ZonesResponse, error) {
			return c.api.ListZonesContext(ctx, cloudflare.WithZoneFilters(name, "", ""))
		})
		if err != nil {
			return "", err
		}
		for _, z := range res.Result {
			if strings.EqualFold(z.Name, name) {
				c.zones.Store(name, z.ID)
				return z.ID, nil
			}
		}
	}
	return "", Permanent(ErrNotFound, fmt.Sprintf("%s: no Cloudflare zone the token can see holds %s", what, host),
		"check the domain is in a zone of our Cloudflare account (e.g. sourcegraphcloud.com) and that CLOUDFLARE_API_TOKEN covers that zone", nil)
}

// cfRecordType is the record type for a target: A/AAAA for addresses, else CNAME.
func cfRecordType(target string) string {
	if a, err := netip.ParseAddr(target); err == nil {
		if a.Is4() {
			return "A"
		}
		return "AAAA"
	}
	return "CNAME"
}

func cfSameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// hostRecords lists host's address records (A, AAAA, CNAME): the ones the workflow owns.
func (c *Cloudflare) hostRecords(ctx context.Context, zoneID, host, what string) ([]cloudflare.DNSRecord, error) {
	recs, err := cfCall(ctx, what+": list DNS records", func(ctx context.Context) ([]cloudflare.DNSRecord, error) {
		r, _, err := c.api.ListDNSRecords(ctx, cloudflare.ZoneIdentifier(zoneID), cloudflare.ListDNSRecordsParams{Name: host})
		return r, err
	})
	if err != nil {
		return nil, err
	}
	var out []cloudflare.DNSRecord
	for _, r := range recs {
		if cfSameName(r.Name, host) && (r.Type == "A" || r.Type == "AAAA" || r.Type == "CNAME") {
			out = append(out, r)
		}
	}
	return out, nil
}

// EnsureDNSInput is the record an instance's hostname should have.
type EnsureDNSInput struct {
	Host    string `json:"host"`    // e.g. acme.sourcegraphcloud.com
	Target  string `json:"target"`  // a hostname (CNAME, e.g. spec.IngressHost or spec.HoldingPageHost) or an IP (A/AAAA)
	Proxied bool   `json:"proxied"` // through Cloudflare (public instances); the allowlist only works proxied
}

// EnsureDNSOutput describes what was done.
type EnsureDNSOutput struct {
	ZoneID   string `json:"zoneId"`
	RecordID string `json:"recordId"`
	Created  bool   `json:"created"`
	Updated  bool   `json:"updated"`
}

// EnsureDNS makes host's one address record point at target. The workflow owns that record: an
// existing record with other content (e.g. the holding page while suspended) is updated, which is
// also how a hostname is pointed at the holding page and back.
func (c *Cloudflare) EnsureDNS(ctx context.Context, in EnsureDNSInput) (EnsureDNSOutput, error) {
	host, target := strings.ToLower(in.Host), strings.TrimSuffix(strings.ToLower(in.Target), ".")
	what := fmt.Sprintf("point DNS record %s at %s", host, target)
	var out EnsureDNSOutput
	if err := cfValidateHost(what, host); err != nil {
		return out, err
	}
	if target == "" {
		return out, Permanent(ErrInvalidArgument, what+": no target", "this is a bug in the calling workflow: pass the ingress host", nil)
	}
	zoneID, err := c.zoneFor(ctx, host, what)
	if err != nil {
		return out, err
	}
	out.ZoneID = zoneID
	rc := cloudflare.ZoneIdentifier(zoneID)
	typ := cfRecordType(target)
	recs, err := c.hostRecords(ctx, zoneID, host, what)
	if err != nil {
		return out, err
	}
	for {
		switch len(recs) {
		case 0:
			rec, err := cfCall(ctx, what+": create record", func(ctx context.Context) (cloudflare.DNSRecord, error) {
				return c.api.CreateDNSRecord(ctx, rc, cloudflare.CreateDNSRecordParams{
					Type: typ, Name: host, Content: target, Proxied: &in.Proxied, TTL: 1, Comment: "managed by the lifecycle service",
				})
			})
			if code := cfExistsCode(err); code != 0 {
				// Made meanwhile (a concurrent attempt, or by hand): the same content is ours to
				// adopt, anything else is not ours to overwrite.
				createErr := err
				if recs, err = c.hostRecords(ctx, zoneID, host, what); err != nil {
					return out, err
				}
				if len(recs) == 1 && pointsAt(recs[0], typ, target) {
					continue
				}
				if len(recs) == 0 {
					return out, Transient(ErrBusy, what+": Cloudflare said the record exists, but it is gone again; checking again", createErr, 0)
				}
				return out, Permanent(ErrConflict,
					fmt.Sprintf("%s: Cloudflare refused to create the record (code %d): %s already has %s", what, code, host, recordsText(recs)),
					"the hostname has a record this service did not make; check in the Cloudflare dashboard whose it is, delete it if it is stale, then retry the step", createErr)
			}
			if err != nil {
				return out, err
			}
			out.RecordID, out.Created = rec.ID, true
			return out, nil
		case 1:
			cur := recs[0]
			out.RecordID = cur.ID
			if pointsAt(cur, typ, target) && cur.Proxied != nil && *cur.Proxied == in.Proxied {
				return out, nil
			}
			if _, err := cfCall(ctx, what+": update record", func(ctx context.Context) (cloudflare.DNSRecord, error) {
				return c.api.UpdateDNSRecord(ctx, rc, cloudflare.UpdateDNSRecordParams{
					ID: cur.ID, Type: typ, Name: host, Content: target, Proxied: &in.Proxied, TTL: 1,
				})
			}); err != nil {
				return out, err
			}
			out.Updated = true
			return out, nil
		default:
			return out, Permanent(ErrConflict, fmt.Sprintf("%s: %s has %d address records (%s); the workflow manages exactly one", what, host, len(recs), recordsText(recs)),
				"delete the extra records for this hostname in the Cloudflare dashboard (keep none or one), then retry", nil)
		}
	}
}

// entrypoint returns the zone's entrypoint ruleset for phase; exists is false when the zone has
// none yet. Only code 10003 means "none": any other 404 must not be taken for an empty list, or
// the write that follows would drop every other hostname's rules.
func (c *Cloudflare) entrypoint(ctx context.Context, zoneID, phase, what string) (cloudflare.Ruleset, bool, error) {
	var nf *cloudflare.NotFoundError
	rs, err := cfCall(ctx, what+": read "+phase+" rules", func(ctx context.Context) (cloudflare.Ruleset, error) {
		rs, err := c.api.GetEntrypointRuleset(ctx, cloudflare.ZoneIdentifier(zoneID), phase)
		if errors.As(err, &nf) && nf.InternalErrorCodeIs(cfCodeNoEntry) {
			return cloudflare.Ruleset{}, nil
		}
		return rs, err
	})
	if err != nil {
		return rs, false, err
	}
	return rs, rs.ID != "", nil
}

// DeleteDNSInput names the hostname to remove.
type DeleteDNSInput struct {
	Host string `json:"host"`
}

// DeleteDNSOutput counts what was removed.
type DeleteDNSOutput struct {
	ZoneID         string `json:"zoneId"`
	DeletedRecords int    `json:"deletedRecords"`
	RemovedRules   int    `json:"removedRules"`
}

// DeleteDNS removes the hostname's address records, then its allowlist and holding-page rules;
// what is already gone is success. The record goes first: removing the allowlist while the
// hostname still resolves would open it to everyone.
func (c *Cloudflare) DeleteDNS(ctx context.Context, in DeleteDNSInput) (DeleteDNSOutput, error) {
	host := strings.ToLower(in.Host)
	what := "delete DNS and rules of " + host
	var out DeleteDNSOutput
	if err := cfValidateHost(what, host); err != nil {
		return out, err
	}
	zoneID, err := c.zoneFor(ctx, host, what)
	if err != nil {
		return out, err
	}
	out.ZoneID = zoneID
	recs, err := c.hostRecords(ctx, zoneID, host, what)
	if err != nil {
		return out, err
	}
	for _, r := range recs {
		_, err := cfCall(ctx, what+": delete record "+r.ID, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, c.api.DeleteDNSRecord(ctx, cloudflare.ZoneIdentifier(zoneID), r.ID)
		})
		var nf *cloudflare.NotFoundError
		if err != nil && !errors.As(err, &nf) { // gone already (a concurrent attempt) is fine
			return out, err
		}
		out.DeletedRecords++
	}
	changed, err := c.setAllowlistClause(ctx, zoneID, host, "", what)
	if err != nil {
		return out, err
	}
	if changed {
		out.RemovedRules++
	}
	// A Single Redirect from before holding pages moved to DNS (see SetHoldingPage).
	removed, err := c.deleteLegacyRule(ctx, zoneID, cfPhaseRedirect, cfHoldingPageRef(host), what)
	if err != nil {
		return out, err
	}
	if removed {
		out.RemovedRules++
	}
	return out, nil
}
