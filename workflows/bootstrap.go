package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
)

// changeProjectBootstrap versions the create's billing and services steps (issue 15): creates
// started before them replay without.
const changeProjectBootstrap = "project-bootstrap"

// Waiting out an enabling: Google documents that an API enabled "recently" answers
// SERVICE_DISABLED until the change has propagated, which takes minutes. The steps after
// "services" run again while that lasts, with growing waits, and park once servicePropagation has
// passed since the enabling: by then something else is wrong (the API was disabled again, an org
// policy, a different project).
const (
	servicePropagation    = 10 * time.Minute
	servicePropagationMin = 2 * time.Second
	servicePropagationMax = 30 * time.Second
	// servicePropagationText is servicePropagation in the parked step's words.
	servicePropagationText = "ten minutes"
)

// withProjectBootstrap inserts, right after the "project" step, the steps that make a new project
// usable: CreateProject links no billing account and enables no API, and a service account cannot
// do either later without them (docs/design.md, "A new project"). The steps after those run again
// while the APIs' enabling propagates (whilePropagating). Creates started before this change keep
// their steps (GetVersion). project points at the create's project ID, which is chosen after this
// runs (random-project-id): the steps read it when they run.
func withProjectBootstrap(ctx workflow.Context, steps []Step, project *string) []Step {
	if workflow.GetVersion(ctx, changeProjectBootstrap, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return steps
	}
	i := slices.IndexFunc(steps, func(s Step) bool { return s.Name == "project" })
	if i < 0 {
		return steps
	}
	var enabledAt time.Time // when the services step finished; zero: not run (skipped)
	boot := []Step{
		{
			// No undo: deleting the project (the project step's undo) unlinks it.
			Name: "billing", Title: "Link the GCP project to the billing account",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.BillingResult](ctx, CloudCall, "Link GCP project "+*project+" to the billing account",
					(*activities.Bootstrap).EnsureBilling, activities.EnsureBillingInput{ProjectID: *project})
				return err
			},
		},
		{
			Name: "services", Title: "Enable the APIs the instance needs (" + strings.Join(activities.ProjectServices, ", ") + ")",
			Run: func(ctx workflow.Context) error {
				_, err := execute[activities.EnableServicesResult](ctx, CloudOperation, "Enable the APIs in GCP project "+*project,
					(*activities.Bootstrap).EnableServices, activities.EnableServicesInput{ProjectID: *project, Services: activities.ProjectServices})
				if err == nil {
					enabledAt = workflow.Now(ctx)
				}
				return err
			},
		},
	}
	out := slices.Concat(steps[:i+1], boot, slices.Clone(steps[i+1:]))
	for j := i + 1 + len(boot); j < len(out); j++ {
		out[j].Run = whilePropagating(project, &enabledAt, out[j].Run)
	}
	return out
}

// whilePropagating runs a step again, after a durable timer, while it fails with
// ErrServiceDisabled within servicePropagation of the enabling (*enabledAt), as it would on Busy;
// past that, or without an enabling in this run, the step parks with an error naming the API.
func whilePropagating(project *string, enabledAt *time.Time, run func(workflow.Context) error) func(workflow.Context) error {
	if run == nil {
		return nil
	}
	return func(ctx workflow.Context) error {
		wait := servicePropagationMin
		for {
			err := run(ctx)
			var app *temporal.ApplicationError
			if err == nil || !errors.As(err, &app) || app.Type() != activities.ErrServiceDisabled || enabledAt.IsZero() {
				return err
			}
			var d activities.ServiceDisabledDetails
			_ = app.Details(&d)
			if d.Service == "" {
				d.Service = "an API"
			}
			since := workflow.Now(ctx).Sub(*enabledAt)
			if since >= servicePropagation {
				return temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("%s is still disabled in project %s %s after enabling: %s", d.Service, *project, servicePropagationText, errorMessage(err)),
					activities.ErrServiceDisabled, err)
			}
			workflow.GetLogger(ctx).Info("API not enabled yet: waiting for its enabling to propagate", "service", d.Service, "project", *project, "since", since)
			if err := workflow.Sleep(ctx, min(wait, servicePropagation-since)); err != nil {
				return err
			}
			wait = min(2*wait, servicePropagationMax)
		}
	}
}
