package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
)

// The client side of the instance contract. Three callers ask an instance's entity workflow for
// an operation: the starter (an issue form), mi (break-glass) and the fleet rollout (through the
// Lifecycle activity, since a workflow cannot send an Update). They all go through AskInstance, so
// the Update, its ID, the Update-with-Start options and the reading of a refusal cannot drift.

// Workflow type names. The entity starts operations by name and clients start workflows by name,
// so a renamed function must not change them; Workflows() registers exactly these.
const (
	WorkflowInstance            = "InstanceLifecycle"
	WorkflowCreate              = "Create"
	WorkflowSuspend             = "Suspend"
	WorkflowResume              = "Resume"
	WorkflowTeardown            = "Teardown"
	WorkflowConvertTrial        = "ConvertTrial"
	WorkflowUpdateAllowlist     = "UpdateAllowlist"
	WorkflowReloadFrontend      = "ReloadFrontend"
	WorkflowSetTelemetry        = "SetTelemetry"
	WorkflowUpgrade             = "Upgrade"
	WorkflowFleetUpgrade        = "FleetUpgrade"
	WorkflowAdoptFleet          = "AdoptFleet"
	WorkflowRedeliverWebhooks   = "RedeliverWebhooks"
	WorkflowCheckAllowlistDrift = "CheckAllowlistDrift"
	WorkflowReconcileAllowlists = "ReconcileAllowlists"
)

// ErrTypeDuplicateRequest is the ApplicationError type of the refusal of a request that was
// already accepted (a redelivered or edited issue, a retried activity): callers stay quiet.
const ErrTypeDuplicateRequest = "DuplicateRequest"

// RequestClient is the part of client.Client that asks an instance for an operation.
type RequestClient interface {
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	NewWithStartWorkflowOperation(options client.StartWorkflowOptions, workflow any, args ...any) client.WithStartWorkflowOperation
	UpdateWithStartWorkflow(ctx context.Context, options client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error)
	QueryWorkflow(ctx context.Context, workflowID string, runID string, queryType string, args ...any) (converter.EncodedValue, error)
}

var _ RequestClient = client.Client(nil)

// Ask is one request for an operation, as a caller sends it.
type Ask struct {
	Request OperationRequest `json:"request"`
	// UpdateID names the request: sending it again (a redelivery, a retried activity, mi run
	// twice) gets the first answer instead of a second operation.
	UpdateID string `json:"updateId"`
	// Via says who asked ("mi, by @carol", "rollout upgrade-fleet/…"): the entity's details say it
	// when this request starts the entity.
	Via string `json:"via,omitempty"`
}

// RequestUpdateID is the Update ID of an issue's request; suffix tells callers apart ("mi").
func RequestUpdateID(issue IssueRef, op forms.Operation, suffix string) string {
	id := IssueKey(issue) + "/" + string(op)
	if suffix != "" {
		id += "/" + suffix
	}
	return id
}

// Refused is the entity's refusal of a request. Reason is written for people.
type Refused struct {
	Reason string
	// Duplicate: this request (issue, operation, attempt) was accepted before; nothing is said.
	Duplicate bool
	// Gone: the instance's workflow has ended (it was torn down); nothing adopts it again.
	Gone bool
}

func (r *Refused) Error() string { return r.Reason }

// AskInstance sends the request Update and waits until the operation's workflow has started.
//
// The entity is started by the request when none is open. A create starts it empty (a torn-down
// slug may be created again). Any other request adopts an instance made before this service: the
// entity reads the instance's config.yaml before it decides, and refuses when there is none. An
// entity that has ended is never started again by anything but a create: a torn-down instance is
// a tombstone, and the answer says so (Refused.Gone).
//
// A refusal is a *Refused; any other error means Temporal could not be asked (the caller retries).
func AskInstance(ctx context.Context, c RequestClient, a Ask) (RequestAccepted, error) {
	req := a.Request
	if req.Slug == "" || a.UpdateID == "" {
		return RequestAccepted{}, errors.New("ask: the request's slug and the Update ID are required")
	}
	opts, in := entityStart(a)
	var acc RequestAccepted
	err := toEntity(ctx, c, opts, in, startPolicy(req.Operation), UpdateRequest, a.UpdateID, a.Request, &acc)
	return acc, err
}

// startPolicy is how a request may start the entity: a create may follow a teardown, nothing
// else may start a closed entity again.
func startPolicy(op forms.Operation) enumspb.WorkflowIdReusePolicy {
	if op == forms.OpCreate {
		return enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
	}
	return enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
}

// toEntity sends an Update to an instance's entity, starting the entity with in when none is
// open. Under REJECT_DUPLICATE a closed entity is not restarted: a tombstone refuses as Gone, and
// one that ended without ever holding an instance (a rejected create, a failed adoption) is
// started afresh. The entity's refusal comes back as a *Refused.
func toEntity(ctx context.Context, c RequestClient, opts client.StartWorkflowOptions, in InstanceInput,
	reuse enumspb.WorkflowIdReusePolicy, name, updateID string, arg, out any) error {
	err := updateWithStart(ctx, c, opts, in, reuse, name, updateID, arg, out)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if reuse == enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE && errors.As(err, &already) {
		rec, qerr := endedRecord(ctx, c, opts.ID)
		switch {
		case qerr != nil:
			return qerr
		case rec.State != StateNone:
			return &Refused{Gone: true, Reason: tombstoneText(rec)}
		}
		err = updateWithStart(ctx, c, opts, in, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, name, updateID, arg, out)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		// The validator's (or handler's) refusal, meant for people.
		return &Refused{Reason: app.Message(), Duplicate: app.Type() == ErrTypeDuplicateRequest}
	}
	return err
}

// updateWithStart sends an Update to the entity, starting it (with in) when none is open.
func updateWithStart(ctx context.Context, c RequestClient, opts client.StartWorkflowOptions, in InstanceInput,
	reuse enumspb.WorkflowIdReusePolicy, name, updateID string, arg, out any) error {
	opts.WorkflowIDReusePolicy = reuse
	upd := client.UpdateWorkflowOptions{
		WorkflowID:   opts.ID,
		UpdateID:     updateID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	start := c.NewWithStartWorkflowOperation(opts, WorkflowInstance, in)
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: start, UpdateOptions: upd})
	if err == nil {
		err = h.Get(ctx, out)
	}
	return err
}

// AdoptInstance takes an instance made before this service under management without starting
// any operation: its entity starts and reads its config.yaml. An instance already managed answers
// its record; a torn-down one (a tombstone) is refused as Gone. A refusal is a *Refused.
func AdoptInstance(ctx context.Context, c RequestClient, slug, by, updateID string) (AdoptAnswer, error) {
	opts := client.StartWorkflowOptions{
		ID: InstanceWorkflowID(slug), TaskQueue: TaskQueue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:         fmt.Sprintf("instance `%s` (adopted)", slug),
		StaticDetails:         fmt.Sprintf("Lifecycle of instance `%s`, made before this service and adopted from its config.yaml by @%s.", slug, by),
		TypedSearchAttributes: temporal.NewSearchAttributes(SAInstanceSlug.ValueSet(slug), SARevision.ValueSet(CurrentRevision)),
	}
	in := InstanceInput{Record: InstanceRecord{Instance: Instance{Slug: slug}}, Adopt: true, Revision: CurrentRevision}
	var ans AdoptAnswer
	err := toEntity(ctx, c, opts, in, enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, UpdateAdopt, updateID, AdoptRequest{By: by}, &ans)
	return ans, err
}

// endedRecord is the record an ended entity left (queries answer closed workflows too).
func endedRecord(ctx context.Context, c RequestClient, workflowID string) (InstanceRecord, error) {
	var rec InstanceRecord
	v, err := c.QueryWorkflow(ctx, workflowID, "", QueryInstance)
	if err == nil {
		err = v.Get(&rec)
	}
	if err != nil {
		return rec, fmt.Errorf("reading the ended workflow %s: %w", workflowID, err)
	}
	return rec, nil
}

// entityStart is how a request starts the instance's entity when none is open.
func entityStart(a Ask) (client.StartWorkflowOptions, InstanceInput) {
	req := a.Request
	via := issueText(req.Issue)
	if a.Via != "" {
		via += " (" + a.Via + ")"
	}
	opts := client.StartWorkflowOptions{ID: InstanceWorkflowID(req.Slug), TaskQueue: TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}
	sas := []temporal.SearchAttributeUpdate{SAInstanceSlug.ValueSet(req.Slug), SARevision.ValueSet(CurrentRevision)}
	if req.Issue != nil {
		sas = append(sas, SAIssue.ValueSet(req.Issue.String()))
	}
	in := InstanceInput{Record: InstanceRecord{Instance: Instance{Slug: req.Slug}}, Revision: CurrentRevision}
	if ni := req.Create; ni != nil {
		sas = append(sas, SAInstanceType.ValueSet(string(ni.Type)))
		opts.StaticSummary = fmt.Sprintf("instance `%s` (%s)", req.Slug, ni.Domain)
		opts.StaticDetails = fmt.Sprintf("Lifecycle of instance `%s`: %s, %s, %s. Created from %s.", req.Slug, ni.Type, ni.Region, ni.Size, via)
	} else {
		in.Adopt = true
		opts.StaticSummary = fmt.Sprintf("instance `%s` (adopted)", req.Slug)
		opts.StaticDetails = fmt.Sprintf("Lifecycle of instance `%s`, made before this service and adopted from its config.yaml on the %s requested on %s.",
			req.Slug, req.Operation, via)
	}
	opts.TypedSearchAttributes = temporal.NewSearchAttributes(sas...)
	return opts, in
}

// tombstoneText is the refusal of a request for an instance whose entity has ended.
func tombstoneText(rec InstanceRecord) string {
	slug := rec.Instance.Slug
	if rec.State == StateDeleted {
		for i := len(rec.History) - 1; i >= 0; i-- {
			if t := rec.History[i]; t.Operation == forms.OpTeardown {
				return fmt.Sprintf("instance `%s` was torn down on %s (%s); file a new-instance request to create it again",
					slug, formatTime(t.EndedAt), issueText(t.Issue))
			}
		}
		return fmt.Sprintf("instance `%s` was torn down; file a new-instance request to create it again", slug)
	}
	return fmt.Sprintf("the workflow of instance `%s` has ended (%s) and is not started again; check the instance with `mi status %s`",
		slug, rec.State, slug)
}

// Lifecycle is the activity through which a workflow (the fleet rollout) asks an instance for an
// operation: a workflow cannot send an Update, an activity can.
type Lifecycle struct{ client RequestClient }

// NewLifecycle wraps the worker's Temporal client.
func NewLifecycle(c RequestClient) *Lifecycle { return &Lifecycle{client: c} }

// AskResult is the activity's answer. A refusal is data, not an error: the caller records it and
// goes on.
type AskResult struct {
	Accepted  RequestAccepted `json:"result"`
	Rejected  string          `json:"rejected,omitempty"`
	Duplicate bool            `json:"duplicate,omitempty"`
	Gone      bool            `json:"gone,omitempty"`
}

// legacyDuplicatePrefix began the refusal of a duplicate before refusals were typed. Results
// recorded then (local-activity markers of running rollouts) are read with it.
const legacyDuplicatePrefix = "duplicate: "

func (r *AskResult) UnmarshalJSON(b []byte) error {
	type plain AskResult
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	if strings.HasPrefix(r.Rejected, legacyDuplicatePrefix) {
		r.Duplicate = true
	}
	return nil
}

// Request sends the Update and waits for its result (activity "Request").
func (l *Lifecycle) Request(ctx context.Context, a Ask) (AskResult, error) {
	acc, err := AskInstance(ctx, l.client, a)
	var refused *Refused
	switch {
	case err == nil:
		return AskResult{Accepted: acc}, nil
	case errors.As(err, &refused):
		return AskResult{Rejected: refused.Reason, Duplicate: refused.Duplicate, Gone: refused.Gone}, nil
	}
	return AskResult{}, activities.Transient(activities.ErrTransient,
		fmt.Sprintf("asking %s for the %s: %v", InstanceWorkflowID(a.Request.Slug), a.Request.Operation, err), err, 0)
}

// AdoptInput is one adoption the AdoptFleet workflow asks for.
type AdoptInput struct {
	Slug     string `json:"slug"`
	By       string `json:"by"`
	UpdateID string `json:"updateId"`
}

// AdoptOutcome is one adoption's answer: the state it was found in, or why it could not be.
type AdoptOutcome struct {
	Slug    string        `json:"slug"`
	State   InstanceState `json:"state,omitempty"`
	New     bool          `json:"new,omitempty"`
	Refused string        `json:"refused,omitempty"`
}

// Adopt takes one instance under management (activity "Adopt"). A refusal is data.
func (l *Lifecycle) Adopt(ctx context.Context, in AdoptInput) (AdoptOutcome, error) {
	ans, err := AdoptInstance(ctx, l.client, in.Slug, in.By, in.UpdateID)
	var refused *Refused
	switch {
	case err == nil:
		return AdoptOutcome{Slug: in.Slug, State: ans.Record.State, New: ans.New}, nil
	case errors.As(err, &refused):
		return AdoptOutcome{Slug: in.Slug, Refused: refused.Reason}, nil
	}
	return AdoptOutcome{}, activities.Transient(activities.ErrTransient, fmt.Sprintf("adopting %s: %v", in.Slug, err), err, 0)
}
