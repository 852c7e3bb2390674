package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v55/github"
)

// GitHub tries each webhook delivery once and never redelivers a failed one by itself
// (docs.github.com, "Handling failed webhook deliveries"): whatever the starter could not take
// (Temporal unreachable, an answer later than GitHub's 10 s) is lost unless someone asks for a
// redelivery. SweepWebhookDeliveries is that someone, run on a schedule (workflows.RedeliverWebhooks).

// Hook is a webhook whose deliveries are swept: a repository's (Owner/Repo) or an organisation's (Org).
type Hook struct {
	Owner string `json:"owner,omitempty"`
	Repo  string `json:"repo,omitempty"`
	Org   string `json:"org,omitempty"`
	ID    int64  `json:"id"`
}

func (h Hook) String() string {
	if h.Org != "" {
		return fmt.Sprintf("%s:%d", h.Org, h.ID)
	}
	return fmt.Sprintf("%s/%s:%d", h.Owner, h.Repo, h.ID)
}

// ParseHooks reads a comma-separated list of hooks: owner/name:ID for a repository webhook,
// org:ID for an organisation webhook (the ID is on the hook's settings page, /settings/hooks/ID).
func ParseHooks(s string) ([]Hook, error) {
	var out []Hook
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		where, idText, ok := strings.Cut(f, ":")
		id, err := strconv.ParseInt(idText, 10, 64)
		if !ok || err != nil || id <= 0 || where == "" {
			return nil, fmt.Errorf("%q is not a hook: want owner/name:ID for a repository webhook or org:ID for an organisation webhook, e.g. sourcegraph/customer:123456", f)
		}
		h := Hook{ID: id}
		if owner, repo, isRepo := strings.Cut(where, "/"); isRepo {
			if owner == "" || repo == "" || strings.Contains(repo, "/") {
				return nil, fmt.Errorf("%q is not a hook: want owner/name:ID, e.g. sourcegraph/customer:123456", f)
			}
			h.Owner, h.Repo = owner, repo
		} else {
			h.Org = where
		}
		out = append(out, h)
	}
	return out, nil
}

// SweepInput is one hook's sweep: deliveries since Since are read; an event is redelivered while it
// has had fewer than MaxDeliveries deliveries (the first one included).
type SweepInput struct {
	Hook          Hook      `json:"hook"`
	Since         time.Time `json:"since"`
	MaxDeliveries int       `json:"maxDeliveries"`
}

// DeliveryNote is one event (GUID) the sweep acted on, as its latest delivery shows it.
type DeliveryNote struct {
	GUID       string `json:"guid"`
	ID         int64  `json:"id"` // the latest delivery, the one redelivered
	Event      string `json:"event"`
	Action     string `json:"action,omitempty"`
	Status     string `json:"status"`
	StatusCode int    `json:"statusCode"`
	Deliveries int    `json:"deliveries"` // how often the event was delivered so far
}

// SweepResult says what a sweep found and did, for the workflow's result in the Web UI.
type SweepResult struct {
	Hook        string         `json:"hook"`
	Listed      int            `json:"listed"` // deliveries read in the window
	Events      int            `json:"events"` // distinct GUIDs among them
	Redelivered []DeliveryNote `json:"redelivered,omitempty"`
	// GaveUp are events still failing after MaxDeliveries deliveries: on-call looks at them
	// (docs/operating.md), the sweeper does not ask again.
	GaveUp []DeliveryNote `json:"gaveUp,omitempty"`
}

// SweepWebhookDeliveries lists a hook's deliveries since in.Since (newest first, every page) and
// asks GitHub to redeliver each event whose latest delivery failed (status code not 2xx: no answer,
// a timeout, a 5xx from the starter), oldest event first so an issue's "opened" goes before its
// "labeled". A redelivery is a new delivery with the same GUID: the starter derives the Update and
// workflow IDs from the issue, so an event that did reach its workflow is answered as a duplicate
// and starts nothing twice. A retried activity may ask twice for one event; that is the same case.
func (g *GitHub) SweepWebhookDeliveries(ctx context.Context, in SweepInput) (SweepResult, error) {
	h := in.Hook
	what := "listing the deliveries of webhook " + h.String()
	res := SweepResult{Hook: h.String()}
	type event struct {
		latest *github.HookDelivery
		first  int64
		count  int
	}
	events := map[string]*event{}
	opts := &github.ListCursorOptions{PerPage: 100}
	for done := false; !done; {
		var page []*github.HookDelivery
		var resp *github.Response
		err := ghDo(ctx, func() (err error) {
			if h.Org != "" {
				page, resp, err = g.client.Organizations.ListHookDeliveries(ctx, h.Org, h.ID, opts)
			} else {
				page, resp, err = g.client.Repositories.ListHookDeliveries(ctx, h.Owner, h.Repo, h.ID, opts)
			}
			return err
		})
		if err != nil {
			return res, classify(what, err)
		}
		for _, d := range page {
			if d.GetDeliveredAt().Time.Before(in.Since) {
				done = true // newest first: the rest is older still
				break
			}
			res.Listed++
			e := events[d.GetGUID()]
			if e == nil {
				e = &event{first: d.GetID()}
				events[d.GetGUID()] = e
			}
			e.count++
			if e.latest == nil || d.GetID() > e.latest.GetID() {
				e.latest = d
			}
			e.first = min(e.first, d.GetID())
		}
		if resp.Cursor == "" {
			break
		}
		opts.Cursor = resp.Cursor
	}
	res.Events = len(events)
	var failed []*event
	for _, e := range events {
		if code := e.latest.GetStatusCode(); code < 200 || code > 299 {
			failed = append(failed, e)
		}
	}
	slices.SortFunc(failed, func(a, b *event) int { return int(a.first - b.first) })
	for _, e := range failed {
		d := e.latest
		note := DeliveryNote{GUID: d.GetGUID(), ID: d.GetID(), Event: d.GetEvent(), Action: d.GetAction(),
			Status: d.GetStatus(), StatusCode: d.GetStatusCode(), Deliveries: e.count}
		if in.MaxDeliveries > 0 && e.count >= in.MaxDeliveries {
			res.GaveUp = append(res.GaveUp, note)
			continue
		}
		err := ghDo(ctx, func() (err error) {
			if h.Org != "" {
				_, _, err = g.client.Organizations.RedeliverHookDelivery(ctx, h.Org, h.ID, d.GetID())
			} else {
				_, _, err = g.client.Repositories.RedeliverHookDelivery(ctx, h.Owner, h.Repo, h.ID, d.GetID())
			}
			// GitHub answers 202 Accepted, which go-github reports as *AcceptedError.
			if accepted := new(github.AcceptedError); errors.As(err, &accepted) {
				err = nil
			}
			return err
		})
		if err != nil {
			return res, classify(fmt.Sprintf("redelivering delivery %d (%s) of webhook %s", d.GetID(), d.GetGUID(), h), err)
		}
		res.Redelivered = append(res.Redelivered, note)
	}
	return res, nil
}
