package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// People read why a request was rejected on its issue: a short reason and what to do. The error
// chain behind it (error types, URLs, status lines) is for on-call: it goes to the worker's log and
// the run's details in the Web UI, never to a comment.

// failureText says how a call to system (GitHub, the config repo, ...) failed, by the error's
// type, for a comment.
func failureText(system string, err error) string {
	switch errorType(err) {
	case activities.ErrRateLimited:
		return system + " rate-limited the service"
	case activities.ErrPermissionDenied:
		return system + " refused the service's credentials"
	case activities.ErrNotFound:
		return system + " found nothing there"
	case activities.ErrInvalidArgument:
		return system + " refused the call as invalid"
	}
	return system + " did not answer"
}

// causeDetails is the error chain as the run's details show it after the checklist.
func causeDetails(cause string) string {
	if cause == "" {
		return ""
	}
	return "\n\n**Error behind the rejection** (for on-call; the issue shows the reason only):\n\n```\n" + cause + "\n```"
}

// logCause logs what failed with its whole chain and returns the chain for the run's details.
func logCause(ctx workflow.Context, what string, err error) string {
	workflow.GetLogger(ctx).Warn("request rejected: "+what+" failed", "err", err)
	return what + ": " + errorMessage(err)
}

// noteCause keeps err's chain for the run's details (and logs it) before a rejection.
func (r *Runner) noteCause(ctx workflow.Context, what string, err error) {
	r.cause = logCause(ctx, what, err)
}
