package github_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	gh "github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/github"
)

// startHooked runs the GitHub part with the configured webhook pointing at recv and o applied.
func startHooked(t *testing.T, recv http.Handler, o func(*github.Options)) *env {
	t.Helper()
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	opts := github.DefaultOptions()
	if o != nil {
		o(&opts)
	}
	s, err := sim.Start(sim.Config{WebhookURL: srv.URL, WebhookSecret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		github.WithOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &env{sim: s, part: s.Part("github").(*github.Part)}
}

// listAll pages through a repository hook's deliveries with go-github's cursor.
func listAll(t *testing.T, c *gh.Client, repo string, hook int64, per int) []*gh.HookDelivery {
	t.Helper()
	var out []*gh.HookDelivery
	opts := &gh.ListCursorOptions{PerPage: per}
	for {
		ds, resp, err := c.Repositories.ListHookDeliveries(ctx, "sourcegraph", repo, hook, opts)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ds...)
		if resp.Cursor == "" {
			return out
		}
		opts.Cursor = resp.Cursor
	}
}

// GitHub tries a delivery once: a 500 is recorded as failed and nothing retries it. The deliveries
// API lists it (newest first, paged by cursor), shows its request and response, and a redelivery
// is a new delivery with the same GUID and redelivery true.
func TestWebhookDeliveriesAPI(t *testing.T) {
	recv := &receiver{failLeft: 1}
	e := startHooked(t, recv, nil)
	alice := e.client(t, "alice-token")
	for _, title := range []string{"first", "second", "third"} {
		if _, _, err := alice.Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{Title: gh.String(title)}); err != nil {
			t.Fatal(err)
		}
	}
	bot := e.client(t, "bot-token")
	var ds []*gh.HookDelivery
	eventually(t, "three attempted deliveries", func() bool {
		ds = listAll(t, bot, "customers", 1, 2)
		return len(ds) == 3
	})
	recv.mu.Lock()
	posts := len(recv.reqs)
	recv.mu.Unlock()
	if posts != 3 {
		t.Fatalf("receiver got %d requests for 3 deliveries, want one attempt each", posts)
	}
	if ds[0].GetID() <= ds[1].GetID() || ds[1].GetID() <= ds[2].GetID() {
		t.Fatalf("deliveries not newest first: %d %d %d", ds[0].GetID(), ds[1].GetID(), ds[2].GetID())
	}
	failed := ds[2] // the oldest: the receiver failed the first request
	if failed.GetStatusCode() != 500 || failed.GetStatus() != "Invalid HTTP Response: 500" || failed.GetRedelivery() ||
		failed.GetEvent() != "issues" || failed.GetAction() != "opened" || failed.GetRepositoryID() == 0 {
		t.Fatalf("failed delivery = %v", failed)
	}
	if ok := ds[0]; ok.GetStatusCode() != 200 || ok.GetStatus() != "OK" {
		t.Fatalf("delivered = %v", ok)
	}

	one, _, err := bot.Repositories.GetHookDelivery(ctx, "sourcegraph", "customers", 1, failed.GetID())
	if err != nil {
		t.Fatal(err)
	}
	if one.GetRequest().Headers["X-Github-Delivery"] != failed.GetGUID() || one.GetRequest().RawPayload == nil || one.GetResponse() == nil {
		t.Fatalf("delivery detail = %v", one)
	}
	if _, err := one.ParseRequestPayload(); err != nil {
		t.Fatalf("the request payload does not parse as its event: %v", err)
	}

	// GitHub answers 202 Accepted, which go-github v55 returns as *AcceptedError: callers must
	// take that error as success.
	var accepted *gh.AcceptedError
	if _, _, err := bot.Repositories.RedeliverHookDelivery(ctx, "sourcegraph", "customers", 1, failed.GetID()); !errors.As(err, &accepted) {
		t.Fatalf("redeliver: %v, want 202 (go-github's *AcceptedError)", err)
	}
	eventually(t, "the redelivery", func() bool { return len(listAll(t, bot, "customers", 1, 100)) == 4 })
	re := listAll(t, bot, "customers", 1, 100)[0]
	if re.GetGUID() != failed.GetGUID() || !re.GetRedelivery() || re.GetStatusCode() != 200 || re.GetID() == failed.GetID() {
		t.Fatalf("redelivery = %v, want a new delivery of GUID %s with redelivery true", re, failed.GetGUID())
	}

	// The organisation's hook endpoints answer for the same webhook.
	org, _, err := bot.Organizations.ListHookDeliveries(ctx, "sourcegraph", 1, &gh.ListCursorOptions{PerPage: 100})
	if err != nil || len(org) != 4 {
		t.Fatalf("org deliveries: %d, %v", len(org), err)
	}
	if _, _, err := bot.Organizations.RedeliverHookDelivery(ctx, "sourcegraph", 1, org[0].GetID()); !errors.As(err, &accepted) {
		t.Fatalf("org redeliver: %v", err)
	}
	// Unknown hooks and deliveries are 404.
	if _, _, err := bot.Repositories.ListHookDeliveries(ctx, "sourcegraph", "customers", 99, nil); status(err) != 404 {
		t.Fatalf("unknown hook: %v", err)
	}
	if _, _, err := bot.Repositories.GetHookDelivery(ctx, "sourcegraph", "customers", 1, 1<<40); status(err) != 404 {
		t.Fatalf("unknown delivery: %v", err)
	}
}

// slowReceiver answers after delay.
type slowReceiver struct{ delay time.Duration }

func (s slowReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(s.delay):
	case <-r.Context().Done():
	}
}

// A receiver slower than GitHub's timeout gets a failed delivery ("timed out"), tried once.
func TestWebhookTimeout(t *testing.T) {
	e := startHooked(t, slowReceiver{delay: 2 * time.Second}, func(o *github.Options) { o.WebhookTimeout = 200 * time.Millisecond })
	if _, _, err := e.client(t, "alice-token").Issues.Create(ctx, "sourcegraph", "customers", &gh.IssueRequest{Title: gh.String("x")}); err != nil {
		t.Fatal(err)
	}
	bot := e.client(t, "bot-token")
	var ds []*gh.HookDelivery
	eventually(t, "the delivery to time out", func() bool { ds = listAll(t, bot, "customers", 1, 100); return len(ds) == 1 })
	if d := ds[0]; d.GetStatus() != "timed out" || d.GetStatusCode() != 0 || d.GetDuration() == nil || *d.GetDuration() > 1.5 {
		t.Fatalf("delivery = %v", d)
	}
	if github.DefaultWebhookTimeout != 10*time.Second {
		t.Fatalf("GitHub's timeout is 10 s, the default is %s", github.DefaultWebhookTimeout)
	}
}
