package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
)

// DefaultPollInterval is how often long-running cloud operations are polled.
const DefaultPollInterval = 2 * time.Second

// resumeDetails returns the heartbeat details recorded by a previous attempt of this activity
// (e.g. the name of the operation it started), so a retry keeps waiting on the same operation
// instead of issuing the mutation again.
func resumeDetails[T any](ctx context.Context) (T, bool) {
	var d T
	if !activity.IsActivity(ctx) || !activity.HasHeartbeatDetails(ctx) {
		return d, false
	}
	if err := activity.GetHeartbeatDetails(ctx, &d); err != nil {
		return d, false
	}
	return d, true
}

// heartbeat records progress when running inside an activity (and is a no-op in plain tests).
func heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}

// pollUntil calls check every interval until it reports done, heartbeating details each time so a
// worker crash is noticed within the heartbeat timeout and the retry can resume.
func pollUntil(ctx context.Context, interval time.Duration, details any, check func() (done bool, err error)) error {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	for {
		heartbeat(ctx, details)
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
