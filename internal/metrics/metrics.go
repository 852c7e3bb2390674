// Package metrics exposes one Prometheus endpoint for the Temporal SDK's metrics and the project's
// own. Workflows emit through workflow.GetMetricsHandler (replay-safe) and activities through
// activity.GetMetricsHandler, so both land in the same registry via the worker's client.
package metrics

import (
	"io"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// The project's own metric names (the SDK adds its temporal_* metrics).
const (
	OperationsStarted   = "lifecycle_operations_started"   // tag operation
	OperationsCompleted = "lifecycle_operations_completed" // tags operation, outcome (succeeded|aborted|failed)
	StepDuration        = "lifecycle_step_duration"        // timer, tags operation, step
	SLAWarnings         = "lifecycle_sla_warnings"         // tag operation
	SLABreaches         = "lifecycle_sla_breaches"         // tag operation
	WebhooksReceived    = "lifecycle_webhooks_received"    // tags event, outcome
	RolloutHalts        = "lifecycle_rollout_halts"        // fleet rollouts halted by failures
	RolloutUpgrades     = "lifecycle_rollout_upgrades"     // tag status: instance upgrades ended in a rollout

	// Gauges the starter counts in Temporal's visibility (not written by workflows, where the last
	// writer would win): open workflows with NeedsAttention, open operations by the time left to
	// their SLA deadline (tag sla_left), and when they were last counted (Unix seconds).
	OperationsNeedingAttention = "lifecycle_operations_needing_attention"
	OpenOperations             = "lifecycle_open_operations"
	VisibilityCountedAt        = "lifecycle_visibility_counted_at"
)

// Registry is a Prometheus registry fed by a tally scope.
type Registry struct {
	Scope   tally.Scope
	handler http.Handler
	closer  io.Closer
}

// New builds the registry; every metric is prefixed with prefix (e.g. "worker").
func New(prefix string) *Registry {
	reg := prom.NewRegistry()
	reporter := tallyprom.NewReporter(tallyprom.Options{Registerer: reg, Gatherer: reg})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		Prefix:          prefix,
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	return &Registry{Scope: sdktally.NewPrometheusNamingScope(scope), handler: reporter.HTTPHandler(), closer: closer}
}

// Handler serves /metrics.
func (r *Registry) Handler() http.Handler { return r.handler }

// SDKHandler feeds the Temporal client's metrics into the registry.
func (r *Registry) SDKHandler() client.MetricsHandler { return sdktally.NewMetricsHandler(r.Scope) }

// Close flushes and stops reporting.
func (r *Registry) Close() error { return r.closer.Close() }
