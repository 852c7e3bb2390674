package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/metrics"
	"github.com/sourcegraph/lifecycle/workflows"
)

// The starter exports what needs a human, and how much SLA time the open operations have left, as
// gauges counted in Temporal's visibility: one answer for the whole fleet, whichever workflow
// changed last, and the same after any restart.

// slaBuckets split the open operations by the time left to their SLA deadline (from, to].
var slaBuckets = []struct {
	name     string
	from, to time.Duration // 0 from: no lower bound for "overdue"; 0 to: no upper bound
}{
	{"overdue", 0, 0},
	{"under_4h", 0, 4 * time.Hour},
	{"under_1d", 4 * time.Hour, 24 * time.Hour},
	{"under_1w", 24 * time.Hour, 7 * 24 * time.Hour},
	{"later", 7 * 24 * time.Hour, 0},
}

// defaultGaugeInterval is how often the counts run when LIFECYCLE_GAUGE_INTERVAL is unset.
const defaultGaugeInterval = 30 * time.Second

type workflowCounter interface {
	CountWorkflow(context.Context, *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error)
}

type visibilityGauges struct {
	tc      workflowCounter
	metrics client.MetricsHandler
	now     func() time.Time
	log     *slog.Logger
}

const openWorkflows = "ExecutionStatus = 'Running'"

// update counts once and sets the gauges; on any error it sets none of the failed ones and leaves
// metrics.VisibilityCountedAt, so an alert can see the counts are stale.
func (g *visibilityGauges) update(ctx context.Context) error {
	now := g.now()
	var errs []error
	count := func(query string) (float64, bool) {
		resp, err := g.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err != nil {
			errs = append(errs, fmt.Errorf("counting %q: %w", query, err))
			return 0, false
		}
		return float64(resp.GetCount()), true
	}
	if n, ok := count(fmt.Sprintf("%s = true AND %s", workflows.SANeedsAttention.GetName(), openWorkflows)); ok {
		g.metrics.Gauge(metrics.OperationsNeedingAttention).Update(n)
	}
	at := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339Nano) }
	deadline := workflows.SASLADeadline.GetName()
	for _, b := range slaBuckets {
		q := openWorkflows
		switch b.name {
		case "overdue":
			q += fmt.Sprintf(" AND %s <= '%s'", deadline, at(0))
		default:
			q += fmt.Sprintf(" AND %s > '%s'", deadline, at(b.from))
			if b.to > 0 {
				q += fmt.Sprintf(" AND %s <= '%s'", deadline, at(b.to))
			}
		}
		if n, ok := count(q); ok {
			g.metrics.WithTags(map[string]string{"sla_left": b.name}).Gauge(metrics.OpenOperations).Update(n)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	g.metrics.Gauge(metrics.VisibilityCountedAt).Update(float64(now.Unix()))
	return nil
}

// run counts at once, then every interval until ctx ends.
func (g *visibilityGauges) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, every)
		if err := g.update(cctx); err != nil && ctx.Err() == nil {
			g.log.Warn("could not count workflows in visibility; the gauges keep their last values", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
