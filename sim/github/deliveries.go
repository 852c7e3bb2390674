package github

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The webhook deliveries API (docs.github.com/rest/repos/webhooks, "repository webhook
// deliveries", and the organisation equivalents): list a hook's recent deliveries newest first
// with cursor pagination, get one with its request and response, and ask for a redelivery
// (POST …/attempts, 202). GitHub keeps deliveries for 3 days (DeliveryRetention).
//
// The webhook configured through sim.Config.WebhookURL is hook 1 of every repository and, for the
// organisation endpoints, of every organisation: it stands for the one webhook of the deployment
// (docs/operating.md). Repository hooks created through the API answer the repository endpoints.

// DeliveryRetention is how far back GitHub lists (and redelivers) deliveries: "you can redeliver
// webhook deliveries that occurred in the past 3 days" (docs.github.com, Redelivering webhooks).
const DeliveryRetention = 72 * time.Hour

// hookExists reports whether the repository (or, with rp nil, the organisation) has hook id.
func (p *Part) hookExists(rp *repo, id int64) bool {
	if id == configHookID && p.s.Config().WebhookURL != "" {
		return true
	}
	if rp == nil {
		return false
	}
	for _, h := range rp.hooks {
		if h.id == id {
			return true
		}
	}
	return false
}

// hookDeliveries are the attempted deliveries of hook id in rp (or, with rp nil, in every
// repository of org) within the retention, newest first. Lock held.
func (p *Part) hookDeliveries(rp *repo, org string, id int64) []*delivery {
	since := p.s.Now().Add(-DeliveryRetention)
	var out []*delivery
	for i := len(p.deliveries) - 1; i >= 0; i-- {
		d := p.deliveries[i]
		if d.HookID != id || d.Status == "pending" || d.CreatedAt.Before(since) {
			continue
		}
		if rp != nil && !strings.EqualFold(d.Repo, rp.fullName()) {
			continue
		}
		if owner, _, _ := strings.Cut(d.Repo, "/"); rp == nil && !strings.EqualFold(owner, org) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// deliveryItem is the "hook-delivery-item" schema of the REST API description.
func (d *delivery) item() map[string]any {
	var code any = d.ResponseCode
	return map[string]any{
		"id": d.ID, "guid": d.GUID, "delivered_at": ts(*d.DeliveredAt), "redelivery": d.Redelivery,
		"duration": d.Duration, "status": d.Outcome, "status_code": code, "event": d.Event,
		"action": strOrNil(d.Action), "installation_id": nil, "repository_id": d.repoID, "throttled_at": nil,
	}
}

// full is the "hook-delivery" schema: the item with the URL, the request and the response.
func (d *delivery) full() map[string]any {
	out := d.item()
	body, headers := d.request()
	reqHeaders := map[string]string{}
	for k := range headers {
		reqHeaders[k] = headers.Get(k)
	}
	var payload any = json.RawMessage(d.payload)
	if d.contentType == "form" {
		payload = string(body)
	}
	respHeaders := map[string]string{}
	for k := range d.respHeaders {
		respHeaders[k] = d.respHeaders.Get(k)
	}
	out["url"] = d.URL
	out["request"] = map[string]any{"headers": reqHeaders, "payload": payload}
	out["response"] = map[string]any{"headers": respHeaders, "payload": d.respBody}
	return out
}

// deliveryScope resolves the route's hook: the repository's, or with no {owner} the organisation's.
func (p *Part) deliveryScope(c *call) (rp *repo, org string, hookID int64, ok bool) {
	hookID, ok = pathNumber(c, "hook_id")
	if !ok || !p.hookExists(c.repo, hookID) {
		return nil, "", 0, false
	}
	return c.repo, c.r.PathValue("org"), hookID, true
}

// listDeliveries answers GET …/hooks/{hook_id}/deliveries: per_page (default 30, at most 100)
// and cursor, with a Link rel="next" carrying the next cursor as GitHub does.
func (p *Part) listDeliveries(c *call) (int, any) {
	rp, org, hookID, ok := p.deliveryScope(c)
	if !ok {
		return notFound()
	}
	q := c.r.URL.Query()
	per := atoiDefault(q.Get("per_page"), 30)
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	all := p.hookDeliveries(rp, org, hookID)
	if cur := q.Get("cursor"); cur != "" {
		after, err := strconv.ParseInt(strings.TrimPrefix(cur, "v1_"), 10, 64)
		if err != nil || !strings.HasPrefix(cur, "v1_") {
			return fail(400, "Bad cursor")
		}
		i := sort.Search(len(all), func(i int) bool { return all[i].ID < after })
		all = all[i:]
	}
	page := all[:min(per, len(all))]
	if len(all) > len(page) {
		q2 := url.Values{"per_page": {strconv.Itoa(per)}, "cursor": {fmt.Sprintf("v1_%d", page[len(page)-1].ID)}}
		c.hdr.Set("Link", fmt.Sprintf("<%s%s?%s>; rel=\"next\"", c.web, c.r.URL.Path, q2.Encode()))
	}
	out := make([]map[string]any, 0, len(page))
	for _, d := range page {
		out = append(out, d.item())
	}
	return 200, out
}

// findDelivery is the route's {delivery_id} among the hook's listed deliveries.
func (p *Part) findDelivery(c *call) (*delivery, bool) {
	rp, org, hookID, ok := p.deliveryScope(c)
	id, idOK := pathNumber(c, "delivery_id")
	if !ok || !idOK {
		return nil, false
	}
	for _, d := range p.hookDeliveries(rp, org, hookID) {
		if d.ID == id {
			return d, true
		}
	}
	return nil, false
}

// getDelivery answers GET …/hooks/{hook_id}/deliveries/{delivery_id}.
func (p *Part) getDelivery(c *call) (int, any) {
	d, ok := p.findDelivery(c)
	if !ok {
		return notFound()
	}
	return 200, d.full()
}

// redeliverDelivery answers POST …/deliveries/{delivery_id}/attempts: 202, and a new delivery with
// the same GUID and redelivery true is queued.
func (p *Part) redeliverDelivery(c *call) (int, any) {
	d, ok := p.findDelivery(c)
	if !ok {
		return notFound()
	}
	p.redeliver(d.ID)
	return 202, map[string]any{}
}
