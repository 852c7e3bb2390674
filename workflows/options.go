package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ActivityKind groups activities that share timeouts and retry behaviour. Retries are bounded on
// purpose: when they run out the step parks and a human decides (docs/design.md invariant 5), rather
// than retrying a broken cloud call forever out of sight.
type ActivityKind int

const (
	// CloudOperation starts a long-running cloud operation (cluster, database, project) and waits
	// for it with heartbeats; a retry resumes the same operation from its heartbeat details.
	CloudOperation ActivityKind = iota
	// Backup takes or restores a backup (minutes to hours for large disks).
	Backup
	// CloudCall is a quick cloud request (DNS, allowlist, reads).
	CloudCall
	// GitHubCall talks to GitHub: comments, labels, releases.
	GitHubCall
	// ConfigChange commits to the config repo through a branch, pull request and merge.
	ConfigChange
	// Probe is a single uptime probe.
	Probe
	// Soak waits for an instance to stay healthy; its own timeout is set by the caller.
	Soak
)

// ActivityOptions returns the default options for a kind. Non-retryable error types are set by
// the activities themselves (temporal.NewNonRetryableApplicationError), so they are not listed here.
func ActivityOptions(kind ActivityKind) workflow.ActivityOptions {
	retry := func(initial, max time.Duration, attempts int32) *temporal.RetryPolicy {
		return &temporal.RetryPolicy{InitialInterval: initial, BackoffCoefficient: 2, MaximumInterval: max, MaximumAttempts: attempts}
	}
	switch kind {
	case CloudOperation:
		return workflow.ActivityOptions{StartToCloseTimeout: 45 * time.Minute, HeartbeatTimeout: time.Minute,
			RetryPolicy: retry(5*time.Second, 2*time.Minute, 10)}
	case Backup:
		return workflow.ActivityOptions{StartToCloseTimeout: 3 * time.Hour, HeartbeatTimeout: 2 * time.Minute,
			RetryPolicy: retry(10*time.Second, 5*time.Minute, 8)}
	case CloudCall:
		return workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute,
			RetryPolicy: retry(2*time.Second, time.Minute, 8)}
	case GitHubCall:
		return workflow.ActivityOptions{StartToCloseTimeout: time.Minute,
			RetryPolicy: retry(2*time.Second, 2*time.Minute, 10)}
	case ConfigChange:
		return workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Minute, HeartbeatTimeout: time.Minute,
			RetryPolicy: retry(5*time.Second, 2*time.Minute, 8)}
	case Probe:
		return workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
			RetryPolicy: retry(time.Second, 10*time.Second, 3)}
	case Soak:
		return workflow.ActivityOptions{StartToCloseTimeout: time.Hour, HeartbeatTimeout: time.Minute,
			RetryPolicy: retry(10*time.Second, time.Minute, 3)}
	}
	panic("unknown activity kind")
}
