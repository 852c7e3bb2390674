package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Lifecycle holds a Temporal client: the fleet rollout asks each instance's entity workflow for an
// operation through it, exactly as the starter does for a request filed on an issue, so the
// entity's validator (one operation at a time, invariant 3) decides for both. A workflow cannot
// send an Update itself; an activity can.
type Lifecycle struct {
	client    client.Client
	taskQueue string
}

// NewLifecycle wraps the worker's Temporal client; taskQueue is where entity workflows it starts
// run.
func NewLifecycle(c client.Client, taskQueue string) *Lifecycle {
	return &Lifecycle{client: c, taskQueue: taskQueue}
}

// RequestInput is one Update to an entity workflow. Payloads are raw JSON because their types
// live in the workflows package, which imports this one.
type RequestInput struct {
	WorkflowID string `json:"workflowId"`
	UpdateName string `json:"updateName"`
	// UpdateID makes a retried activity find the Update it already sent instead of sending another.
	UpdateID string          `json:"updateId"`
	Arg      json.RawMessage `json:"arg"`
	// StartWorkflow, when set, starts the entity with StartInput if it is not running (Update-with-
	// Start): an instance made before this service existed is adopted on its first operation.
	StartWorkflow string            `json:"startWorkflow,omitempty"`
	StartInput    json.RawMessage   `json:"startInput,omitempty"`
	StartSummary  string            `json:"startSummary,omitempty"`
	StartKeywords map[string]string `json:"startKeywords,omitempty"` // keyword search attributes
}

// RequestResult is the Update's answer. A request the entity refused is data, not an error: the
// caller records the reason (Rejected) and goes on.
type RequestResult struct {
	Result   json.RawMessage `json:"result,omitempty"`
	Rejected string          `json:"rejected,omitempty"`
}

// Request sends the Update and waits for its result.
func (l *Lifecycle) Request(ctx context.Context, in RequestInput) (RequestResult, error) {
	what := fmt.Sprintf("request %s on %s", in.UpdateName, in.WorkflowID)
	if in.WorkflowID == "" || in.UpdateName == "" || in.UpdateID == "" {
		return RequestResult{}, Permanent(ErrInvalidArgument, what+": workflowId, updateName and updateId are required", "fix the caller", nil)
	}
	upd := client.UpdateWorkflowOptions{WorkflowID: in.WorkflowID, UpdateName: in.UpdateName, UpdateID: in.UpdateID,
		Args: []any{in.Arg}, WaitForStage: client.WorkflowUpdateStageCompleted}
	var h client.WorkflowUpdateHandle
	var err error
	if in.StartWorkflow != "" {
		sas := make([]temporal.SearchAttributeUpdate, 0, len(in.StartKeywords))
		keys := slices.Sorted(maps.Keys(in.StartKeywords))
		for _, k := range keys {
			sas = append(sas, temporal.NewSearchAttributeKeyKeyword(k).ValueSet(in.StartKeywords[k]))
		}
		start := l.client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID: in.WorkflowID, TaskQueue: l.taskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			StaticSummary:            in.StartSummary,
			TypedSearchAttributes:    temporal.NewSearchAttributes(sas...),
		}, in.StartWorkflow, in.StartInput)
		h, err = l.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: start, UpdateOptions: upd})
	} else {
		h, err = l.client.UpdateWorkflow(ctx, upd)
	}
	var out json.RawMessage
	if err == nil {
		err = h.Get(ctx, &out)
	}
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		return RequestResult{Result: out}, nil
	case errors.As(err, &app):
		// The validator's (or handler's) refusal, meant for people.
		return RequestResult{Rejected: app.Message()}, nil
	case errors.As(err, &notFound):
		return RequestResult{Rejected: fmt.Sprintf("no workflow %s is running", in.WorkflowID)}, nil
	}
	if ctx.Err() != nil {
		return RequestResult{}, classify(what, ctx.Err())
	}
	return RequestResult{}, Transient(ErrTransient, what+": "+err.Error(), err, 0)
}
