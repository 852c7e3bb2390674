package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/workflows"
)

// temporalAPI is the part of client.Client mi uses (a fake replaces it in tests).
type temporalAPI interface {
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	QueryWorkflow(ctx context.Context, workflowID string, runID string, queryType string, args ...any) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	NewWithStartWorkflowOperation(options client.StartWorkflowOptions, workflow any, args ...any) client.WithStartWorkflowOperation
	UpdateWithStartWorkflow(ctx context.Context, options client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error)
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

var _ temporalAPI = client.Client(nil)

// Deadlines of single calls: a query waits for a worker to answer, an update for the workflow to
// accept it (and, for a request, to start the operation's workflow).
const (
	queryTimeout  = 15 * time.Second
	updateTimeout = time.Minute
)

// query runs a workflow query and decodes its answer into out.
func query(ctx context.Context, tc temporalAPI, workflowID, name string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, err := tc.QueryWorkflow(ctx, workflowID, "", name)
	if err != nil {
		return err
	}
	return v.Get(out)
}

// update sends an Update, waits for its result and decodes it into out. A validator's rejection
// comes back as a *temporal.ApplicationError.
func update(ctx context.Context, tc temporalAPI, opts client.UpdateWorkflowOptions, out any) error {
	ctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	opts.WaitForStage = client.WorkflowUpdateStageCompleted
	h, err := tc.UpdateWorkflow(ctx, opts)
	if err != nil {
		return err
	}
	return h.Get(ctx, out)
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

// rejection returns the workflow's own answer to a refused Update (its validator's message).
func rejection(err error) (string, bool) {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message(), true
	}
	return "", false
}

// callError words an error of a call to Temporal that is neither NotFound nor a rejection.
func callError(what string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer in time (is the lifecycle worker running? its workflows answer queries and updates): %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// noWorkflowError is the answer for a slug without an instance workflow.
type noWorkflowError struct{ slug string }

func (e *noWorkflowError) Error() string {
	return fmt.Sprintf("instance %s has no workflow here: it was never created by this service, or it was made before this service "+
		"and no rollout has adopted it yet (check the slug: `mi list` shows the instances this service runs)", e.slug)
}

// record queries an instance's record.
func record(ctx context.Context, tc temporalAPI, slug string) (workflows.InstanceRecord, error) {
	var r workflows.InstanceRecord
	err := query(ctx, tc, workflows.InstanceWorkflowID(slug), workflows.QueryInstance, &r)
	switch {
	case err == nil:
		return r, nil
	case isNotFound(err):
		return r, &noWorkflowError{slug}
	}
	return r, callError("reading instance "+slug, err)
}

// progress queries an operation workflow's progress.
func progress(ctx context.Context, tc temporalAPI, workflowID string) (workflows.Progress, error) {
	var p workflows.Progress
	if err := query(ctx, tc, workflowID, workflows.QueryProgress, &p); err != nil {
		if isNotFound(err) {
			return p, fmt.Errorf("operation workflow %s not found (it may have just ended: run the command again)", workflowID)
		}
		return p, callError("reading the progress of "+workflowID, err)
	}
	return p, nil
}

// who is the operator: -by, else $MI_USER, else $USER.
func (a *app) who(by string) string {
	for _, v := range []string{by, a.getenv("MI_USER"), a.getenv("USER")} {
		if v = strings.TrimPrefix(strings.TrimSpace(v), "@"); v != "" {
			return v
		}
	}
	return ""
}
