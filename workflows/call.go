package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// execute runs one activity with the options of its kind and a summary for the Web UI's event
// list ("Create the GKE cluster"), and decodes its result.
func execute[T any](ctx workflow.Context, kind ActivityKind, summary string, activity, input any) (T, error) {
	var out T
	err := workflow.ExecuteActivity(withActivity(ctx, kind, summary), activity, input).Get(ctx, &out)
	return out, err
}

// executeVoid runs an activity that returns only an error.
func executeVoid(ctx workflow.Context, kind ActivityKind, summary string, activity, input any) error {
	return workflow.ExecuteActivity(withActivity(ctx, kind, summary), activity, input).Get(ctx, nil)
}

func withActivity(ctx workflow.Context, kind ActivityKind, summary string) workflow.Context {
	opts := ActivityOptions(kind)
	opts.Summary = summary
	return workflow.WithActivityOptions(ctx, opts)
}
