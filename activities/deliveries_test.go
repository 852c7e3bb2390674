package activities

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

func TestParseHooks(t *testing.T) {
	got, err := ParseHooks(" sourcegraph/customer:12, sourcegraph:7 ,")
	if err != nil {
		t.Fatal(err)
	}
	want := []Hook{{Owner: "sourcegraph", Repo: "customer", ID: 12}, {Org: "sourcegraph", ID: 7}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("ParseHooks = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"sourcegraph/customer", "sourcegraph/customer:x", "a/b/c:1", ":3", "org:0"} {
		if _, err := ParseHooks(bad); err == nil {
			t.Errorf("ParseHooks(%q) accepted it", bad)
		}
	}
}

// flakyReceiver answers 503 while down, 200 otherwise, and counts what it got per GUID.
type flakyReceiver struct {
	mu   sync.Mutex
	down bool
	got  map[string]int // accepted deliveries per GUID
}

func (f *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	f.got[r.Header.Get("X-GitHub-Delivery")]++
	w.WriteHeader(http.StatusOK)
}

// The sweep reads the hook's deliveries through go-github (every page), redelivers each event whose
// latest delivery failed, once, oldest first, leaves delivered ones alone, and gives up on an
// event after MaxDeliveries.
func TestSweepRedeliversFailedDeliveries(t *testing.T) {
	recv := &flakyReceiver{down: true, got: map[string]int{}}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	s, err := stack.Start(sim.Config{WebhookURL: srv.URL, WebhookSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	gh, err := NewGitHub("bot-token", s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := github.NewClient(nil).WithAuthToken("alice-token").WithEnterpriseURLs(s.URL()+"/", s.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	file := func(title string) {
		if _, _, err := alice.Issues.Create(ctx, "sourcegraph", "customer", &github.IssueRequest{Title: &title}); err != nil {
			t.Fatal(err)
		}
	}
	list := func() []*github.HookDelivery {
		var all []*github.HookDelivery
		opts := &github.ListCursorOptions{PerPage: 100}
		for {
			ds, resp, err := gh.client.Repositories.ListHookDeliveries(ctx, "sourcegraph", "customer", 1, opts)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ds...)
			if resp.Cursor == "" {
				return all
			}
			opts.Cursor = resp.Cursor
		}
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for len(list()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("waited for %d attempted deliveries, have %d", n, len(list()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// 120 failed events: more than one page of 100.
	for i := 0; i < 120; i++ {
		file("down")
	}
	waitFor(120)
	recv.mu.Lock()
	recv.down = false
	recv.mu.Unlock()
	file("up") // delivered at once: not redelivered
	waitFor(121)

	in := SweepInput{Hook: Hook{Owner: "sourcegraph", Repo: "customer", ID: 1}, Since: time.Now().Add(-time.Hour), MaxDeliveries: 3}
	res, err := gh.SweepWebhookDeliveries(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Listed != 121 || res.Events != 121 || len(res.Redelivered) != 120 || len(res.GaveUp) != 0 {
		t.Fatalf("sweep: listed %d, events %d, redelivered %d, gave up %d", res.Listed, res.Events, len(res.Redelivered), len(res.GaveUp))
	}
	for i := 1; i < len(res.Redelivered); i++ {
		if res.Redelivered[i].ID < res.Redelivered[i-1].ID {
			t.Fatalf("redelivered out of order: %d after %d", res.Redelivered[i].ID, res.Redelivered[i-1].ID)
		}
	}
	waitFor(241)
	recv.mu.Lock()
	for guid, n := range recv.got {
		if n != 1 {
			t.Errorf("event %s accepted %d times", guid, n)
		}
	}
	accepted := len(recv.got)
	recv.mu.Unlock()
	if accepted != 121 {
		t.Fatalf("receiver accepted %d events, want 121", accepted)
	}
	// Everything delivered now: a second sweep redelivers nothing.
	if res, err = gh.SweepWebhookDeliveries(ctx, in); err != nil || len(res.Redelivered) != 0 || res.Events != 121 {
		t.Fatalf("second sweep: %+v, %v", res, err)
	}

	// An event that keeps failing is redelivered until it has had MaxDeliveries deliveries.
	recv.mu.Lock()
	recv.down = true
	recv.mu.Unlock()
	file("stuck")
	waitFor(242)
	for want := 243; want <= 244; want++ {
		if res, err = gh.SweepWebhookDeliveries(ctx, in); err != nil || len(res.Redelivered) != 1 {
			t.Fatalf("sweep: %+v, %v", res, err)
		}
		waitFor(want)
	}
	if res, err = gh.SweepWebhookDeliveries(ctx, in); err != nil || len(res.Redelivered) != 0 || len(res.GaveUp) != 1 || res.GaveUp[0].Deliveries != 3 {
		t.Fatalf("after 3 deliveries: %+v, %v", res, err)
	}
	// The window: nothing older than Since is read.
	in.Since = time.Now().Add(time.Minute)
	if res, err = gh.SweepWebhookDeliveries(ctx, in); err != nil || res.Listed != 0 {
		t.Fatalf("empty window: %+v, %v", res, err)
	}
}
