package github

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GitHub acts on its own here: events are queued under the lock as the change happens (the
// payload is a snapshot of that moment) and POSTed from a background goroutine, never holding the
// lock during HTTP. Each (repository, hook) pair has one queue, drained in order, so a receiver
// sees "opened" before "labeled" before the first comment, as it would from GitHub.
//
// Each delivery is one attempt, as on GitHub: a connection error, a non-2xx answer or no answer
// within Options.WebhookTimeout (GitHub's 10 s) is recorded as a failed delivery and nothing
// retries it. Only a redelivery (the deliveries API's "attempts", or the admin API) sends the
// event again: a new delivery with the same GUID and redelivery true.

// configHookID is the X-GitHub-Hook-ID of the webhook configured through sim.Config.WebhookURL.
const configHookID = 1

// Delivery is one webhook delivery as the admin API lists it.
type Delivery struct {
	ID           int64  `json:"id"`
	GUID         string `json:"guid"`
	Event        string `json:"event"`
	Action       string `json:"action,omitempty"`
	Repo         string `json:"repo"`
	HookID       int64  `json:"hook_id"`
	URL          string `json:"url"`
	Status       string `json:"status"`                  // pending, delivered, failed
	ResponseCode int    `json:"response_code,omitempty"` // 0: no answer (timed out, no connection)
	Error        string `json:"error,omitempty"`
	// Outcome is the "status" the deliveries API shows: "OK", "Invalid HTTP Response: 503",
	// "timed out", "failed to connect".
	Outcome     string          `json:"outcome,omitempty"`
	Duration    float64         `json:"duration"` // seconds the attempt took
	Redelivery  bool            `json:"redelivery"`
	CreatedAt   time.Time       `json:"created_at"`
	DeliveredAt *time.Time      `json:"delivered_at,omitempty"`
	Headers     http.Header     `json:"headers,omitempty"` // only for a single delivery
	Payload     json.RawMessage `json:"payload,omitempty"` // only for a single delivery
}

type delivery struct {
	Delivery
	secret      string
	contentType string // json or form
	payload     []byte
	repoID      int64
	respHeaders http.Header // of the receiver's answer
	respBody    string
}

type deliveryQueue struct {
	pending []*delivery
	running bool
}

// hook is a repository webhook created through the API.
type hook struct {
	id          int64
	url         string
	contentType string
	secret      string
	events      []string
	active      bool
	created     time.Time
}

func (h *hook) wants(event string) bool {
	if !h.active {
		return false
	}
	for _, e := range h.events {
		if e == event || e == "*" {
			return true
		}
	}
	return false
}

type target struct {
	hookID              int64
	url, secret, format string
}

// targets are the receivers of event for rp: the configured webhook (issues and comments only)
// and the repository's own hooks.
func (p *Part) targets(rp *repo, event string) []target {
	var out []target
	cfg := p.s.Config()
	if cfg.WebhookURL != "" && (event == "issues" || event == "issue_comment") {
		out = append(out, target{hookID: configHookID, url: cfg.WebhookURL, secret: cfg.WebhookSecret, format: "json"})
	}
	for _, h := range rp.hooks {
		if h.wants(event) {
			out = append(out, target{hookID: h.id, url: h.url, secret: h.secret, format: h.contentType})
		}
	}
	return out
}

// emitIssue queues an "issues" event. Pull requests raise pull_request events on GitHub, which
// are not simulated, so they are skipped here.
func (p *Part) emitIssue(c *call, is *issue, action string, extra map[string]any) {
	if is.pull != nil {
		return
	}
	payload := map[string]any{"issue": c.issueJSON(c.repo, is)}
	for k, v := range extra {
		payload[k] = v
	}
	p.emit(c, c.repo, "issues", action, payload)
}

// emitComment queues an "issue_comment" event (also for comments on pull requests, as GitHub does).
func (p *Part) emitComment(c *call, cm *comment, action string, extra map[string]any) {
	payload := map[string]any{"issue": c.issueJSON(c.repo, cm.issue), "comment": c.commentJSON(c.repo, cm)}
	for k, v := range extra {
		payload[k] = v
	}
	p.emit(c, c.repo, "issue_comment", action, payload)
}

// emit completes the payload (action, repository, sender) and queues it for every target. Lock held.
func (p *Part) emit(c *call, rp *repo, event, action string, payload map[string]any) {
	targets := p.targets(rp, event)
	if len(targets) == 0 {
		return
	}
	if action != "" {
		payload["action"] = action
	}
	payload["repository"] = c.repoJSON(p, rp)
	payload["sender"] = c.userJSON(c.user)
	body, err := json.Marshal(payload)
	if err != nil {
		p.s.Logger().Error("github: cannot encode webhook payload", "event", event, "err", err)
		return
	}
	guid := newGUID()
	for _, t := range targets {
		p.enqueue(&delivery{
			Delivery: Delivery{ID: p.s.NextID(), GUID: guid, Event: event, Action: action, Repo: rp.fullName(),
				HookID: t.hookID, URL: t.url, Status: "pending", CreatedAt: p.s.Now()},
			secret: t.secret, contentType: t.format, payload: body, repoID: rp.id,
		})
	}
}

// enqueue records d and makes sure its queue is being drained. Lock held.
func (p *Part) enqueue(d *delivery) {
	p.deliveries = append(p.deliveries, d)
	key := d.Repo + "#" + strconv.FormatInt(d.HookID, 10)
	q := p.queues[key]
	if q == nil {
		q = &deliveryQueue{}
		p.queues[key] = q
	}
	q.pending = append(q.pending, d)
	if !q.running {
		q.running = true
		p.s.GoBackground(func(ctx context.Context) { p.drain(ctx, q) })
	}
}

// drain delivers a queue's deliveries one after another until it is empty.
func (p *Part) drain(ctx context.Context, q *deliveryQueue) {
	for {
		unlock := p.s.Lock()
		if len(q.pending) == 0 || ctx.Err() != nil {
			q.running = false
			unlock()
			return
		}
		d := q.pending[0]
		q.pending = q.pending[1:]
		body, headers := d.request()
		unlock()
		p.deliver(ctx, d, body, headers)
	}
}

// request builds the body and headers GitHub sends. Lock held (reads d).
func (d *delivery) request() ([]byte, http.Header) {
	body, ctype := d.payload, "application/json"
	if d.contentType == "form" {
		body, ctype = []byte("payload="+url.QueryEscape(string(d.payload))), "application/x-www-form-urlencoded"
	}
	h := http.Header{}
	h.Set("Content-Type", ctype)
	h.Set("User-Agent", "GitHub-Hookshot/sim")
	h.Set("X-GitHub-Event", d.Event)
	h.Set("X-GitHub-Delivery", d.GUID)
	h.Set("X-GitHub-Hook-ID", strconv.FormatInt(d.HookID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	if d.secret != "" {
		h.Set("X-Hub-Signature", "sha1="+sign(sha1.New, d.secret, body))
		h.Set("X-Hub-Signature-256", "sha256="+sign(sha256.New, d.secret, body))
	}
	return body, h
}

func sign(hf func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(hf, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// deliver POSTs once and records the outcome; a failure stays failed until someone redelivers.
func (p *Part) deliver(ctx context.Context, d *delivery, body []byte, headers http.Header) {
	began := time.Now()
	code, respHeaders, respBody, err := p.post(ctx, d.URL, body, headers)
	took := time.Since(began)
	ok := err == nil && code >= 200 && code < 300
	defer p.s.Lock()()
	d.ResponseCode, d.respHeaders, d.respBody, d.Duration = code, respHeaders, respBody, took.Seconds()
	now := p.s.Now()
	d.DeliveredAt = &now
	switch {
	case ok:
		d.Status, d.Outcome = "delivered", "OK"
	case err != nil:
		d.Status, d.Error, d.Outcome = "failed", err.Error(), "failed to connect"
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			d.Outcome = "timed out"
		}
	default:
		d.Status, d.Error, d.Outcome = "failed", fmt.Sprintf("receiver answered %d", code), fmt.Sprintf("Invalid HTTP Response: %d", code)
	}
	if !ok {
		p.s.Logger().Warn("github: webhook delivery failed; GitHub does not retry it (redeliver through the deliveries API)",
			"event", d.Event, "action", d.Action, "guid", d.GUID, "id", d.ID, "status", d.Outcome)
	}
}

// post sends one delivery and reads (the start of) the answer. The client's timeout is GitHub's.
func (p *Part) post(ctx context.Context, target string, body []byte, headers http.Header) (int, http.Header, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header = headers.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, "", err
	}
	return resp.StatusCode, resp.Header.Clone(), string(b), nil
}

// newGUID is a random UUID (version 4), the form of X-GitHub-Delivery.
func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// redeliver queues a delivery again with the same GUID and payload, as GitHub's "Redeliver". Lock held.
func (p *Part) redeliver(id int64) (*delivery, bool) {
	for _, d := range p.deliveries {
		if d.ID == id {
			nd := &delivery{
				Delivery: Delivery{ID: p.s.NextID(), GUID: d.GUID, Event: d.Event, Action: d.Action, Repo: d.Repo,
					HookID: d.HookID, URL: d.URL, Status: "pending", Redelivery: true, CreatedAt: p.s.Now()},
				secret: d.secret, contentType: d.contentType, payload: d.payload, repoID: d.repoID,
			}
			p.enqueue(nd)
			return nd, true
		}
	}
	return nil, false
}

// Deliveries returns the delivery log, oldest first (without payloads), for in-process tests.
func (p *Part) Deliveries() []Delivery {
	defer p.s.Lock()()
	out := make([]Delivery, 0, len(p.deliveries))
	for _, d := range p.deliveries {
		out = append(out, d.Delivery)
	}
	return out
}

func (p *Part) deliverySummary() map[string]any {
	counts := map[string]int{}
	var recent []string
	for i, d := range p.deliveries {
		counts[d.Status]++
		if i >= len(p.deliveries)-20 {
			recent = append(recent, fmt.Sprintf("#%d %s.%s %s %s code=%d redelivery=%t", d.ID, d.Event, d.Action, d.Repo, d.Status, d.ResponseCode, d.Redelivery))
		}
	}
	return map[string]any{"total": len(p.deliveries), "byStatus": counts, "recent": recent}
}

// ---- repository hooks API ----

func (p *Part) hookJSON(c *call, rp *repo, h *hook) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/hooks/%d", c.api, rp.fullName(), h.id)
	cfg := map[string]any{"url": h.url, "content_type": h.contentType, "insecure_ssl": "0"}
	if h.secret != "" {
		cfg["secret"] = "********"
	}
	return map[string]any{
		"type": "Repository", "id": h.id, "name": "web", "active": h.active, "events": h.events, "config": cfg,
		"created_at": ts(h.created), "updated_at": ts(h.created), "url": api, "test_url": api + "/test",
		"ping_url": api + "/pings", "deliveries_url": api + "/deliveries",
		"last_response": map[string]any{"code": nil, "status": "unused", "message": nil},
	}
}

func (p *Part) createHook(c *call) (int, any) {
	var req struct {
		Config map[string]any `json:"config"`
		Events []string       `json:"events"`
		Active *bool          `json:"active"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	str := func(k string) string { s, _ := req.Config[k].(string); return s }
	u := str("url")
	if pu, err := url.Parse(u); err != nil || pu.Scheme == "" || pu.Host == "" {
		return invalid(fieldError{Resource: "Hook", Code: "custom", Message: "Config must contain a valid url"})
	}
	h := &hook{id: p.s.NextID(), url: u, contentType: "form", secret: str("secret"), events: req.Events,
		active: req.Active == nil || *req.Active, created: p.s.Now()}
	if str("content_type") == "json" {
		h.contentType = "json"
	}
	if len(h.events) == 0 {
		h.events = []string{"push"}
	}
	c.repo.hooks = append(c.repo.hooks, h)
	p.s.Created("github", c.repo.key(fmt.Sprintf("hooks/%d", h.id)))
	out := p.hookJSON(c, c.repo, h)
	// GitHub pings a new hook right away.
	if h.active {
		p.enqueuePing(c, h, out)
	}
	return 201, out
}

func (p *Part) enqueuePing(c *call, h *hook, hookJSON map[string]any) {
	payload, _ := json.Marshal(map[string]any{
		"zen": "Keep it logically awesome.", "hook_id": h.id, "hook": hookJSON,
		"repository": c.repoJSON(p, c.repo), "sender": c.userJSON(c.user),
	})
	p.enqueue(&delivery{
		Delivery: Delivery{ID: p.s.NextID(), GUID: newGUID(), Event: "ping", Repo: c.repo.fullName(), HookID: h.id,
			URL: h.url, Status: "pending", CreatedAt: p.s.Now()},
		secret: h.secret, contentType: h.contentType, payload: payload, repoID: c.repo.id,
	})
}

func (p *Part) listHooks(c *call) (int, any) {
	out := []map[string]any{}
	for _, h := range c.repo.hooks {
		out = append(out, p.hookJSON(c, c.repo, h))
	}
	return 200, paginate(c, out)
}

func (p *Part) deleteHook(c *call) (int, any) {
	id, _ := pathNumber(c, "id")
	for i, h := range c.repo.hooks {
		if h.id == id {
			c.repo.hooks = append(c.repo.hooks[:i:i], c.repo.hooks[i+1:]...)
			p.s.Deleted("github", c.repo.key(fmt.Sprintf("hooks/%d", id)))
			return 204, nil
		}
	}
	return notFound()
}

// deliveryDetail is one delivery with its payload and the headers it is sent with. Lock held.
func (d *delivery) detail() Delivery {
	out := d.Delivery
	_, out.Headers = d.request()
	out.Payload = json.RawMessage(d.payload)
	return out
}

// filter reports whether d matches the admin list's query.
func (d *delivery) matches(q url.Values) bool {
	for k, v := range map[string]string{"repo": d.Repo, "event": d.Event, "status": d.Status, "action": d.Action} {
		if want := q.Get(k); want != "" && !strings.EqualFold(want, v) {
			return false
		}
	}
	return true
}
