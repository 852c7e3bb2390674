package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/metrics"
)

// fakeVisibility answers count queries as visibility would: by matching the query against the
// open workflows it holds.
type fakeVisibility struct {
	mu      sync.Mutex
	now     time.Time
	open    []visibleRun
	queries []string
	fail    bool
}

type visibleRun struct {
	needsAttention bool
	deadline       time.Time // zero: no SLA
}

func (v *fakeVisibility) CountWorkflow(_ context.Context, req *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.queries = append(v.queries, req.GetQuery())
	if v.fail {
		return nil, errors.New("visibility unavailable")
	}
	q := req.GetQuery()
	if !strings.Contains(q, "ExecutionStatus = 'Running'") {
		return nil, errors.New("the gauges count open workflows only")
	}
	var n int64
	for _, r := range v.open {
		if strings.Contains(q, "NeedsAttention = true") && !r.needsAttention {
			continue
		}
		if !matchDeadline(q, r.deadline) {
			continue
		}
		n++
	}
	return &workflowservice.CountWorkflowExecutionsResponse{Count: n}, nil
}

// matchDeadline applies the query's SLADeadline bounds (> 't' and <= 't') to a deadline.
func matchDeadline(q string, d time.Time) bool {
	for _, part := range strings.Split(q, " AND ") {
		part = strings.TrimSpace(part)
		var op string
		switch {
		case strings.HasPrefix(part, "SLADeadline > "):
			op = ">"
		case strings.HasPrefix(part, "SLADeadline <= "):
			op = "<="
		default:
			continue
		}
		if d.IsZero() {
			return false
		}
		ts := strings.Trim(strings.TrimPrefix(strings.TrimPrefix(part, "SLADeadline "+op), " "), "'")
		bound, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			panic("bad time in query: " + part)
		}
		if op == ">" && !d.After(bound) || op == "<=" && d.After(bound) {
			return false
		}
	}
	return true
}

// gaugeRecorder keeps the last value of each gauge by name and tags.
type gaugeRecorder struct {
	mu     *sync.Mutex
	tags   string
	values map[string]float64
}

func newGaugeRecorder() gaugeRecorder {
	return gaugeRecorder{mu: &sync.Mutex{}, values: map[string]float64{}}
}

func (g gaugeRecorder) WithTags(tags map[string]string) client.MetricsHandler {
	t := g.tags
	for k, v := range tags {
		t += k + "=" + v + ","
	}
	return gaugeRecorder{mu: g.mu, tags: t, values: g.values}
}
func (g gaugeRecorder) Counter(string) client.MetricsCounter { return counterFunc(func(int64) {}) }
func (g gaugeRecorder) Timer(string) client.MetricsTimer     { return nil }
func (g gaugeRecorder) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(v float64) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.values[name+"{"+g.tags+"}"] = v
	})
}

func (g gaugeRecorder) get(key string) (float64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.values[key]
	return v, ok
}

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

// The gauges are what visibility counts, not what one workflow last wrote: two parked creates
// read 2, one retried reads 1, and a restarted starter reads the same at its first count.
func TestVisibilityGaugesCountWhatNeedsAttention(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	v := &fakeVisibility{now: now, open: []visibleRun{
		{needsAttention: true, deadline: now.Add(2 * time.Hour)}, // a parked create, 2 h left
		{needsAttention: true, deadline: now.Add(-time.Hour)},    // another, overdue
		{deadline: now.Add(10 * time.Hour)},                      // running, under a day
		{deadline: now.Add(3 * 24 * time.Hour)},                  // under a week
		{deadline: now.Add(30 * 24 * time.Hour)},                 // later
		{},                                                       // an instance workflow: no SLA
	}}
	read := func() map[string]float64 {
		rec := newGaugeRecorder()
		g := &visibilityGauges{tc: v, metrics: rec, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
		if err := g.update(t.Context()); err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, k := range []string{metrics.OperationsNeedingAttention + "{}", metrics.VisibilityCountedAt + "{}"} {
			out[k], _ = rec.get(k)
		}
		for _, b := range slaBuckets {
			k := metrics.OpenOperations + "{sla_left=" + b.name + ",}"
			val, ok := rec.get(k)
			if !ok {
				t.Fatalf("gauge %s not set", k)
			}
			out[b.name] = val
		}
		return out
	}
	got := read()
	want := map[string]float64{metrics.OperationsNeedingAttention + "{}": 2, metrics.VisibilityCountedAt + "{}": float64(now.Unix()),
		"overdue": 1, "under_4h": 1, "under_1d": 1, "under_1w": 1, "later": 1}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], w, got)
		}
	}
	// One create retried: its step is no longer parked.
	v.open[0].needsAttention = false
	if got := read()[metrics.OperationsNeedingAttention+"{}"]; got != 1 {
		t.Errorf("after one retry: %v, want 1", got)
	}
}

// A failed count leaves the last values and the time of the last count, so an alert can tell a
// stale gauge from a true zero.
func TestVisibilityGaugesReportFailure(t *testing.T) {
	v := &fakeVisibility{fail: true}
	rec := newGaugeRecorder()
	g := &visibilityGauges{tc: v, metrics: rec, now: time.Now, log: slog.New(slog.DiscardHandler)}
	if err := g.update(t.Context()); err == nil {
		t.Fatal("want the count's error")
	}
	if _, ok := rec.get(metrics.VisibilityCountedAt + "{}"); ok {
		t.Fatal("a failed count must not move the time of the last count")
	}
}
