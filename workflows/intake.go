package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// Intake acknowledges a request on its issue: the first status comment, which is also the SLA's
// response (DESIGN.md invariant 8). The lifecycle operations build on this run.
func Intake(ctx workflow.Context, in IntakeInput) (IntakeResult, error) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** `%s` requested by @%s on %s", in.Operation, in.Slug, in.Requester, in.Issue))
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
		Summary:             "Acknowledge the request on the issue",
	})
	body := fmt.Sprintf("### %s `%s`: request received\n\nRequested by @%s. Follow the run in the Temporal Web UI: %s\n",
		in.Operation, in.Slug, in.Requester, in.RunURL)
	var c activities.CommentResult
	err := workflow.ExecuteActivity(ctx, (*activities.GitHub).Comment, activities.CommentInput{
		Owner: in.Issue.Owner, Repo: in.Issue.Repo, Number: in.Issue.Number, Body: body,
	}).Get(ctx, &c)
	if err != nil {
		return IntakeResult{}, err
	}
	return IntakeResult{CommentID: c.ID}, nil
}
