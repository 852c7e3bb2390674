package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// operationWorkflows maps each operation to its child workflow's type name. Names, not function
// values: the entity starts children by name, as any client would.
var operationWorkflows = map[forms.Operation]string{
	forms.OpCreate:           WorkflowCreate,
	forms.OpSuspend:          WorkflowSuspend,
	forms.OpResume:           WorkflowResume,
	forms.OpTeardown:         WorkflowTeardown,
	forms.OpConvertTrial:     WorkflowConvertTrial,
	forms.OpUpdateAllowlist:  WorkflowUpdateAllowlist,
	forms.OpReloadFrontend:   WorkflowReloadFrontend,
	forms.OpEnableTelemetry:  WorkflowSetTelemetry,
	forms.OpDisableTelemetry: WorkflowSetTelemetry,
	forms.OpUpgrade:          WorkflowUpgrade,
}

const (
	// historyLimit bounds the operations an instance remembers (continue-as-new carries them).
	historyLimit = 30
	// idleExit is how long a workflow that never got an operation waits before it ends.
	idleExit = 10 * time.Minute
	// retentionNotice is how long before the suspension's backups expire the issue is warned.
	retentionNotice = 7 * 24 * time.Hour
	// systemActor is the requester of the operations the instance starts itself.
	systemActor = "lifecycle"
)

// InstanceLifecycle is the entity workflow of one instance (ID InstanceWorkflowID(slug)). It owns
// the lifecycle state, accepts operation requests as Updates whose validator rejects conflicts
// before they enter history (invariant 3), runs each operation as a child workflow, keeps the
// trial and backup-retention clocks, and continues as new when Temporal suggests it. After a
// teardown it ends; its result is the tombstone.
func InstanceLifecycle(ctx workflow.Context, in InstanceInput) (InstanceRecord, error) {
	ctx = withRevision(ctx, in.Revision)
	e := &entity{rec: in.Record, rev: in.Revision}
	if e.rec.Instance.Slug == "" {
		e.rec.Instance.Slug = strings.TrimPrefix(workflow.GetInfo(ctx).WorkflowExecution.ID, "instance/")
	}
	// Set before the handlers exist: the request that started the entity waits for the adoption.
	e.adopting = in.Adopt && e.rec.State == StateNone && len(e.rec.History) == 0
	if err := workflow.SetQueryHandler(ctx, QueryInstance, func() (InstanceRecord, error) { return e.rec, nil }); err != nil {
		return e.rec, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateRequest, e.accept,
		workflow.UpdateHandlerOptions{Validator: e.validate}); err != nil {
		return e.rec, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateAdopt, e.adoptAnswer,
		workflow.UpdateHandlerOptions{Validator: validateAdopt}); err != nil {
		return e.rec, err
	}
	if e.rev >= RevisionLeanHistory {
		// One upsert per workflow task, whatever a transition changed: this coroutine runs once
		// the others are blocked, within the same task. An adoption's reads come first.
		workflow.Go(ctx, func(ctx workflow.Context) {
			for workflow.Await(ctx, func() bool { return e.dirty && !e.adopting }) == nil {
				e.flush(ctx)
			}
		})
	}
	e.publish(ctx)
	started := workflow.Now(ctx)
	if e.adopting {
		e.adopt(ctx)
	}
	for {
		if e.rec.Current == nil && (e.rec.State == StateNone || e.rec.State == StateDeleted) {
			if len(e.rec.History) > 0 || e.adoptFailed != "" || workflow.Now(ctx).Sub(started) >= idleExit {
				return e.end(ctx)
			}
		}
		if e.rec.Current == nil && workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return e.rec, err
			}
			e.flush(ctx)
			return e.rec, workflow.NewContinueAsNewError(ctx, InstanceLifecycle, InstanceInput{Record: e.rec, Revision: CurrentRevision})
		}
		wake := e.nextEvent()
		if e.rec.State == StateNone && e.rec.Current == nil && len(e.rec.History) == 0 {
			wake = started.Add(idleExit)
		}
		if err := awaitUntil(ctx, wake, func() bool { return e.childDone || (e.rec.Current == nil && e.dueNow(ctx)) }); err != nil {
			return e.rec, err
		}
		if e.childDone {
			e.finish(ctx)
		}
		e.clocks(ctx)
	}
}

// entity is the instance workflow's state and handlers.
type entity struct {
	rec InstanceRecord
	// rev is the run's revision (InstanceInput.Revision).
	rev int
	// prevState is the state to return to when the running operation does not succeed.
	prevState InstanceState
	// The running child's result, set by the coroutine that waits for it.
	childDone   bool
	childResult OperationResult
	childErr    error
	// adopting is set while the entity reads the config.yaml of an instance made before this
	// service; requests are accepted provisionally and decided once it is read. adoptFailed says
	// why there is nothing to adopt.
	adopting    bool
	adoptFailed string
	// adoptedHere: this run adopted the instance; adoptAnswered once an adopt Update was told.
	adoptedHere, adoptAnswered bool
	// dirty: the record changed since its search attributes were last upserted
	// (RevisionLeanHistory).
	dirty bool
}

func validateAdopt(_ workflow.Context, req AdoptRequest) error {
	if strings.TrimSpace(req.By) == "" {
		return errors.New("an adoption needs who asks for it (by)")
	}
	return nil
}

// adoptAnswer answers `mi adopt`: the record once the adoption (if any) is done.
func (e *entity) adoptAnswer(ctx workflow.Context, req AdoptRequest) (AdoptAnswer, error) {
	if err := workflow.Await(ctx, func() bool { return !e.adopting }); err != nil {
		return AdoptAnswer{}, err
	}
	if e.adoptFailed != "" {
		return AdoptAnswer{}, temporal.NewNonRetryableApplicationError(e.adoptFailed, "RequestRefused", nil)
	}
	switch e.rec.State {
	case StateNone:
		return AdoptAnswer{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("instance `%s` is not made yet (its create has not finished): there is nothing to adopt", e.rec.Instance.Slug), "RequestRefused", nil)
	case StateDeleted:
		return AdoptAnswer{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("instance `%s` was torn down: there is nothing to adopt", e.rec.Instance.Slug), "RequestRefused", nil)
	}
	// New only for the adoption this Update caused: not one made by a request, nor told before.
	a := AdoptAnswer{Record: e.rec, New: e.adoptedHere && !e.adoptAnswered && e.rec.Current == nil && len(e.rec.History) == 0}
	e.adoptAnswered = true
	workflow.GetLogger(ctx).Info("adoption answered", "by", req.By, "new", a.New)
	return a, nil
}

// adopt takes an instance made before this service into the entity, from its config.yaml: its
// first request of any kind started the entity with InstanceInput.Adopt.
func (e *entity) adopt(ctx workflow.Context) {
	slug := e.rec.Instance.Slug
	defer func() { e.adopting = false }()
	rc, err := executeLocal[activities.ReadConfigResult](ctx, CloudCall, "Read config.yaml to adopt the instance", localConfigRepo.ReadInstanceConfig,
		activities.ReadConfigInput{Slug: slug})
	if err != nil {
		workflow.GetLogger(ctx).Error("could not read config.yaml to adopt the instance", "error", err)
		e.adoptFailed = fmt.Sprintf("the config repo could not be read to look up instance `%s`; ask again later (the worker's log has the error)", slug)
		return
	}
	if !rc.Found || rc.Config == nil {
		e.adoptFailed = fmt.Sprintf("there is no instance `%s` managed here: the config repo has no `%s`. Check the slug field (the `Name` column at go/cloud-ops), then edit the issue", slug, rc.Path)
		return
	}
	c := rc.Config
	e.rec.Instance = Instance{Slug: slug, Type: c.Type(), Domain: c.Spec.Domain.PrimaryDNSName, Region: c.Spec.Infrastructure.GCP.Region,
		Size: c.Spec.Size, Version: c.Spec.SourcegraphVersion, ProjectID: c.Status.GCP.ProjectID}
	e.rec.State, e.rec.AdoptedAt, e.adoptedHere = StateActive, workflow.Now(ctx), true
	if c.Spec.Suspended {
		e.rec.State = StateSuspended
	}
	e.publish(ctx)
}

// validate rejects a request before it enters history: the reason is what the requester reads
// on the issue.
func (e *entity) validate(ctx workflow.Context, req OperationRequest) error {
	slug := e.rec.Instance.Slug
	if req.Slug != slug {
		return fmt.Errorf("this is the workflow of instance `%s`, not `%s`", slug, req.Slug)
	}
	if _, ok := operationWorkflows[req.Operation]; !ok && req.Operation != forms.OpExtendTrial {
		return fmt.Errorf("`%s` is not an instance operation", req.Operation)
	}
	if !req.hasPayload() {
		return fmt.Errorf("the %s request carries no %s details", req.Operation, req.Operation)
	}
	// The form rules are pure; workflowcheck cannot tell, as net/mail (the admin email's check)
	// holds a disabled debug printf.
	err := req.checkPayload() //workflowcheck:ignore
	if err != nil {
		return err
	}
	if req.Issue == nil {
		return errors.New("a request needs the issue it was filed on")
	}
	if e.handled(*req.Issue, req.Operation, req.Attempt) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s already started %s for `%s`", req.Issue, req.Operation, slug),
			ErrTypeDuplicateRequest, nil)
	}
	if e.adopting {
		return nil // decided by accept, once the config.yaml is read
	}
	return e.checkState(req)
}

// checkState rejects a request that the instance's state, or its running operation, forbids.
func (e *entity) checkState(req OperationRequest) error {
	slug, st := e.rec.Instance.Slug, e.rec.State
	if e.adoptFailed != "" && req.Operation != forms.OpCreate {
		return errors.New(e.adoptFailed)
	}
	if st == StateDeleted {
		last := e.last(forms.OpTeardown)
		return fmt.Errorf("instance `%s` was torn down on %s (%s); file a new-instance request to create it again",
			slug, formatTime(last.EndedAt), issueText(last.Issue))
	}
	if cur := e.rec.Current; cur != nil && req.Operation == forms.OpCreate {
		// The slug is taken whatever the running operation: waiting for it would only end in
		// "already exists", so the answer names the request that holds the slug.
		if cur.Operation != forms.OpCreate {
			return fmt.Errorf("instance `%s` already exists (%s); choose another slug", slug, st)
		}
		run := "`" + cur.WorkflowID + "`"
		if u := req.Settings.RunURL(cur.WorkflowID); u != "" {
			run = "[" + cur.WorkflowID + "](" + u + ")"
		}
		return fmt.Errorf("Another request for `%s` is running: the create requested by @%s on %s (%s). "+
			"If this issue asks for the same instance, follow that request; for a different instance, choose another slug by editing this issue",
			slug, cur.Requester, issueText(cur.Issue), run)
	}
	if cur := e.rec.Current; cur != nil {
		return fmt.Errorf("`%s` cannot start: `%s` is running for `%s` (requested by @%s on %s, workflow `%s`). "+
			"One operation runs at a time: file the request again when it has finished", req.Operation, cur.Operation, slug, cur.Requester,
			issueText(cur.Issue), cur.WorkflowID)
	}
	wantState := func(ok ...InstanceState) error {
		if slices.Contains(ok, st) {
			return nil
		}
		if st == StateNone {
			return fmt.Errorf("there is no instance `%s`: file a new-instance request first", slug)
		}
		return fmt.Errorf("`%s` needs the instance to be %s, and `%s` is %s", req.Operation, statesText(ok), slug, st)
	}
	switch req.Operation {
	case forms.OpCreate:
		if st != StateNone {
			return fmt.Errorf("instance `%s` already exists (%s); choose another slug", slug, st)
		}
	case forms.OpSuspend:
		if st == StateSuspended {
			return fmt.Errorf("`%s` is already suspended (since %s)", slug, formatTime(e.rec.SuspendedAt))
		}
		return wantState(StateActive, StateSuspending)
	case forms.OpResume:
		if st == StateActive {
			return fmt.Errorf("`%s` is active, not suspended: there is nothing to resume", slug)
		}
		if t := e.rec.Trial; t != nil && t.Expired {
			// Resumed as it is, the trial would run with no clock: no reminder, no expiry.
			return fmt.Errorf("the trial of `%s` expired on %s: extend it (the extend-trial form, or `/extend <days>` on its issue) "+
				"or convert it to paid first, then file the resume again", slug, formatTime(t.ExpiresAt))
		}
		return wantState(StateSuspended, StateResuming)
	case forms.OpTeardown:
		return wantState(StateActive, StateSuspended, StateProvisioning, StateSuspending, StateResuming, StateTearingDown)
	case forms.OpExtendTrial, forms.OpConvertTrial:
		if e.rec.Trial == nil {
			return fmt.Errorf("`%s` is a %s instance, not a trial", slug, e.rec.Instance.Type)
		}
		return wantState(StateActive, StateSuspended)
	default: // small ops change a running instance
		return wantState(StateActive)
	}
	return nil
}

// accept applies an accepted request: a trial extension at once, anything else as a child
// workflow. It returns once the child has started.
func (e *entity) accept(ctx workflow.Context, req OperationRequest) (RequestAccepted, error) {
	ctx = withRevision(ctx, e.rev) // an Update handler gets the workflow's root context
	if e.adopting {
		if err := workflow.Await(ctx, func() bool { return !e.adopting }); err != nil {
			return RequestAccepted{}, err
		}
		if err := e.checkState(req); err != nil {
			return RequestAccepted{}, temporal.NewNonRetryableApplicationError(err.Error(), "RequestRefused", nil)
		}
	}
	e.rec.Settings = req.Settings
	if req.Operation == forms.OpExtendTrial {
		res := e.extendTrial(ctx, req)
		res.RequestID = req.RequestID
		return res, nil
	}
	if req.Operation == forms.OpCreate {
		ni := req.Create
		e.rec.Instance = Instance{Slug: ni.Slug, Type: ni.Type, Domain: ni.Domain, Region: ni.Region, Size: ni.Size,
			Version: ni.Version, Issue: req.Issue}
	}
	key := IssueKey(*req.Issue)
	if req.Attempt > 1 {
		key += fmt.Sprintf("/%d", req.Attempt)
	}
	id, err := e.start(ctx, req, key)
	if err != nil {
		return RequestAccepted{}, err
	}
	return RequestAccepted{WorkflowID: id, Message: fmt.Sprintf("%s of `%s` started: workflow %s", req.Operation, req.Slug, id),
		RequestID: req.RequestID}, nil
}

// transitional is the state an instance is in while an operation runs.
var transitional = map[forms.Operation]InstanceState{
	forms.OpCreate:   StateProvisioning,
	forms.OpSuspend:  StateSuspending,
	forms.OpResume:   StateResuming,
	forms.OpTeardown: StateTearingDown,
	forms.OpUpgrade:  StateUpgrading,
}

// start runs an operation as a child workflow and waits until it has started.
func (e *entity) start(ctx workflow.Context, req OperationRequest, key string) (string, error) {
	inst := e.rec.Instance
	id := OperationWorkflowID(req.Operation, inst.Slug, key)
	ref := &OperationRef{Operation: req.Operation, WorkflowID: id, Issue: req.Issue, Requester: req.Requester, StartedAt: workflow.Now(ctx)}
	if req.inRollout() {
		ref.Rollout = req.Upgrade.Rollout
	}
	if req.Attempt > 1 {
		ref.Attempt = req.Attempt
	}
	// Current is set before the child starts, so a request arriving meanwhile is already rejected.
	e.rec.Current, e.prevState = ref, e.rec.State
	if st, ok := transitional[req.Operation]; ok {
		e.rec.State = st
	}
	e.publish(ctx)
	sas := []temporal.SearchAttributeUpdate{SAInstanceSlug.ValueSet(inst.Slug), SAOperation.ValueSet(string(req.Operation)),
		SAInstanceType.ValueSet(string(inst.Type)), SANeedsAttention.ValueSet(false), SARevision.ValueSet(CurrentRevision)}
	if req.Issue != nil {
		sas = append(sas, SAIssue.ValueSet(req.Issue.String()))
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(sas...),
		StaticSummary:         fmt.Sprintf("%s `%s` (%s)", req.Operation, inst.Slug, issueText(req.Issue)),
		StaticDetails: fmt.Sprintf("**%s** of instance `%s` (%s, %s), requested by @%s on %s.\n\nEntity workflow: `%s`",
			req.Operation, inst.Slug, inst.Type, inst.Domain, req.Requester, issueText(req.Issue), InstanceWorkflowID(inst.Slug)),
	})
	fut := workflow.ExecuteChildWorkflow(cctx, operationWorkflows[req.Operation], OperationInput{Request: req, Instance: inst, Backups: e.rec.Backups, Revision: CurrentRevision})
	if err := fut.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		e.rec.Current, e.rec.State = nil, e.prevState
		e.publish(ctx)
		return "", fmt.Errorf("could not start %s: %w", id, err)
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res OperationResult
		err := fut.Get(ctx, &res)
		e.childResult, e.childErr, e.childDone = res, err, true
	})
	return id, nil
}

// finish records the ended operation and moves the lifecycle state.
func (e *entity) finish(ctx workflow.Context) {
	res, err, ref := e.childResult, e.childErr, e.rec.Current
	e.childDone, e.childResult, e.childErr, e.rec.Current = false, OperationResult{}, nil, nil
	now := workflow.Now(ctx)
	ref.EndedAt, ref.Outcome = now, res.Outcome
	if err != nil {
		// The child failed outright (not parked): its resources may be half-changed. Keep the
		// transitional state so the record says so, and ask for attention.
		ref.Outcome = OutcomeFailed
		e.rec.NeedsAttention = true
		workflow.GetLogger(ctx).Error("operation workflow failed", "workflowID", ref.WorkflowID, "error", err)
		if ref.Rollout != "" {
			// A workflow that failed outright (or was terminated) could not report it itself.
			rep := UpgradeReport{Slug: e.rec.Instance.Slug, WorkflowID: ref.WorkflowID, Status: UpgradeFailed, Error: err.Error(), At: now}
			if serr := workflow.SignalExternalWorkflow(ctx, ref.Rollout, "", SignalUpgradeReport, rep).Get(ctx, nil); serr != nil {
				workflow.GetLogger(ctx).Warn("could not tell the rollout", "rollout", ref.Rollout, "error", serr)
			}
		}
	}
	ok := ref.Outcome == OutcomeSucceeded
	if res.Instance.ProjectID != "" {
		// Whatever the outcome: a create that parked and was then given up on by hand still made
		// its project under this ID, and a teardown must find it there.
		e.rec.Instance.ProjectID = res.Instance.ProjectID
	}
	if !ok && err == nil {
		e.rec.State = e.prevState
	}
	if ok {
		e.rec.NeedsAttention = false
		if res.Instance.Slug != "" {
			e.rec.Instance.Version, e.rec.Instance.Type = res.Instance.Version, res.Instance.Type
		}
		if res.Backups != nil {
			e.rec.Backups = res.Backups
		}
		switch ref.Operation {
		case forms.OpCreate:
			e.rec.State = StateActive
			if e.rec.Instance.Type == spec.Trial && !res.TrialExpiresAt.IsZero() {
				e.rec.Trial = &TrialClock{ExpiresAt: res.TrialExpiresAt}
				e.skipPastReminders(now)
			}
		case forms.OpSuspend:
			e.rec.State, e.rec.SuspendedAt, e.rec.SuspendIssue, e.rec.RetentionWarned = StateSuspended, now, ref.Issue, false
		case forms.OpResume:
			e.rec.State, e.rec.SuspendedAt, e.rec.SuspendIssue = StateActive, time.Time{}, nil
		case forms.OpTeardown:
			e.rec.State, e.rec.Trial = StateDeleted, nil
		case forms.OpConvertTrial:
			e.rec.Instance.Type, e.rec.Trial = spec.Production, nil
		case forms.OpUpgrade:
			e.rec.State = StateActive
		}
	}
	if ref.Operation == forms.OpCreate && !ok && err == nil {
		e.rec.State = StateNone // rejected or aborted with its steps undone: there is no instance
	}
	e.remember(*ref)
	e.publish(ctx)
}

func (e *entity) remember(ref OperationRef) {
	e.rec.History = append(e.rec.History, ref)
	if n := len(e.rec.History); n > historyLimit {
		e.rec.History = slices.Clone(e.rec.History[n-historyLimit:])
	}
}

// handled reports whether this issue already started this operation.
func (e *entity) handled(is IssueRef, op forms.Operation, attempt int) bool {
	same := func(r OperationRef) bool {
		return r.Operation == op && r.Issue != nil && *r.Issue == is && max(r.Attempt, 1) == max(attempt, 1)
	}
	if e.rec.Current != nil && same(*e.rec.Current) {
		return true
	}
	return slices.ContainsFunc(e.rec.History, same)
}

// last returns the newest finished operation of a kind.
func (e *entity) last(op forms.Operation) OperationRef {
	for i := len(e.rec.History) - 1; i >= 0; i-- {
		if e.rec.History[i].Operation == op {
			return e.rec.History[i]
		}
	}
	return OperationRef{}
}

// ---- clocks: trial reminders and expiry, backup retention while suspended ----

// event is one clock deadline.
type event struct {
	at   time.Time
	fire func(ctx workflow.Context)
	// idle events start an operation, so they wait until none is running.
	idle bool
}

// events lists the clock deadlines not yet handled.
func (e *entity) events() []event {
	var out []event
	s := e.rec.Settings.WithDefaults()
	if t := e.rec.Trial; t != nil && !t.Expired {
		for _, d := range s.TrialReminders {
			if slices.Contains(t.Reminded, d) || slices.Contains(t.Skipped, d) || e.rec.State != StateActive {
				continue
			}
			out = append(out, event{at: t.ExpiresAt.Add(-time.Duration(d) * 24 * time.Hour), fire: func(ctx workflow.Context) { e.remind(ctx, d) }})
		}
		out = append(out, event{at: t.ExpiresAt, fire: e.expire, idle: true})
	}
	if e.rec.State == StateSuspended && !e.rec.RetentionWarned && e.rec.Backups != nil {
		out = append(out, event{at: e.rec.Backups.TakenAt.Add(s.BackupRetention - retentionNotice), fire: e.warnRetention})
	}
	return out
}

// nextEvent is the earliest pending deadline (zero: none).
func (e *entity) nextEvent() time.Time {
	var next time.Time
	for _, ev := range e.events() {
		if ev.idle && e.rec.Current != nil {
			continue
		}
		if next.IsZero() || ev.at.Before(next) {
			next = ev.at
		}
	}
	return next
}

func (e *entity) dueNow(ctx workflow.Context) bool {
	now := workflow.Now(ctx)
	return slices.ContainsFunc(e.events(), func(ev event) bool { return !ev.at.After(now) })
}

// clocks fires every due event.
func (e *entity) clocks(ctx workflow.Context) {
	for _, ev := range e.events() {
		if ev.at.After(workflow.Now(ctx)) || (ev.idle && e.rec.Current != nil) {
			continue
		}
		ev.fire(ctx)
	}
}

// remind posts a trial reminder and records whether it was posted (the record is what mi status
// reports as sent).
func (e *entity) remind(ctx workflow.Context, days int) {
	t := e.rec.Trial
	posted := e.notify(ctx, e.rec.Instance.Issue, fmt.Sprintf("trial-reminder-%d", days), fmt.Sprintf(
		"### ⏳ Trial ends in %d day(s)\n\nThe trial of `%s` expires **%s**; the instance is then suspended (its data is kept).\n\n"+
			"To keep it running, file an *extend trial* request (1–30 days) or a *convert to paid* request.\n",
		days, e.rec.Instance.Slug, formatTime(t.ExpiresAt)))
	if posted {
		t.Reminded = append(t.Reminded, days)
	} else {
		t.Skipped = append(t.Skipped, days)
	}
}

// expire suspends a trial whose time is up. A suspended trial just records it.
func (e *entity) expire(ctx workflow.Context) {
	t := e.rec.Trial
	t.Expired = true
	slug := e.rec.Instance.Slug
	if e.rec.State != StateActive {
		e.publish(ctx)
		return
	}
	req := OperationRequest{Operation: forms.OpSuspend, Slug: slug, Issue: e.rec.Instance.Issue, Requester: systemActor,
		RequestedAt: workflow.Now(ctx), Settings: e.rec.Settings,
		Suspend: &forms.Suspend{Slug: slug, Reason: "trial expired on " + formatTime(t.ExpiresAt)}}
	id, err := e.start(ctx, req, "trial-expired-"+t.ExpiresAt.UTC().Format("20060102T1504"))
	if err != nil {
		workflow.GetLogger(ctx).Error("could not suspend the expired trial", "error", err)
		e.rec.NeedsAttention = true
		e.publish(ctx)
		return
	}
	if e.rev >= RevisionCorrectness {
		// Say on the trial's issue why the instance goes down, and where to follow it.
		run := "`" + id + "`"
		if u := e.rec.Settings.WithDefaults().RunURL(id); u != "" {
			run = fmt.Sprintf("[`%s`](%s)", id, u)
		}
		e.notify(ctx, e.rec.Instance.Issue, "trial-expired-"+t.ExpiresAt.UTC().Format("20060102T1504"), fmt.Sprintf(
			"### ⌛ Trial expired\n\nThe trial of `%s` expired on **%s**, so it is being suspended automatically (its data is kept): workflow %s.\n\n"+
				"To bring it back, extend the trial (the extend-trial form, or `/extend <days>` here) or convert it to paid, then file a resume request.\n",
			slug, formatTime(t.ExpiresAt), run))
	}
}

func (e *entity) warnRetention(ctx workflow.Context) {
	e.rec.RetentionWarned = true
	s := e.rec.Settings.WithDefaults()
	b := e.rec.Backups
	e.notify(ctx, e.rec.SuspendIssue, "retention-warning", fmt.Sprintf(
		"### ⚠️ Suspension is about to outlive its backups\n\n`%s` has been suspended since %s. Its on-demand backups (Cloud SQL run %d, Backup for GKE `%s`) were taken %s and are retained until about **%s**.\n\n"+
			"Resume the instance before then, or ask the Cloud team to take and keep a fresh backup.\n",
		e.rec.Instance.Slug, formatTime(e.rec.SuspendedAt), b.SQLBackupRunID, b.GKEBackup, formatTime(b.TakenAt), formatTime(b.TakenAt.Add(s.BackupRetention))))
	e.publish(ctx)
}

// extendTrial moves the expiry (and reopens it if the trial had already expired).
func (e *entity) extendTrial(ctx workflow.Context, req OperationRequest) RequestAccepted {
	t, now := e.rec.Trial, workflow.Now(ctx)
	from := t.ExpiresAt
	if from.Before(now) {
		from = now
	}
	t.ExpiresAt, t.Expired = from.Add(time.Duration(req.ExtendTrial.Days)*24*time.Hour), false
	t.Reminded, t.Skipped = nil, nil
	e.skipPastReminders(now)
	e.remember(OperationRef{Operation: forms.OpExtendTrial, Issue: req.Issue, Requester: req.Requester, StartedAt: now, EndedAt: now, Outcome: OutcomeSucceeded, Attempt: req.Attempt})
	msg := fmt.Sprintf("The trial of `%s` is extended by %d day(s) by @%s: it now expires **%s**.", req.Slug, req.ExtendTrial.Days, req.Requester, formatTime(t.ExpiresAt))
	if e.rec.State == StateSuspended {
		msg += " The instance is suspended: file a resume request to bring it back."
	}
	e.notify(ctx, req.Issue, "extend-trial", "### ✅ Trial extended\n\n"+msg+"\n")
	e.publish(ctx)
	return RequestAccepted{Message: msg}
}

// skipPastReminders marks reminders whose time has already passed as skipped (not sent): a short
// trial or a short extension must not announce "ends in 7 days" when 3 are left.
func (e *entity) skipPastReminders(now time.Time) {
	t := e.rec.Trial
	for _, d := range e.rec.Settings.WithDefaults().TrialReminders {
		if !t.ExpiresAt.Add(-time.Duration(d)*24*time.Hour).After(now) && !slices.Contains(t.Reminded, d) && !slices.Contains(t.Skipped, d) {
			t.Skipped = append(t.Skipped, d)
		}
	}
}

// notify comments on an issue (idempotently, by marker) and reports whether it did; failures are
// logged, not fatal.
func (e *entity) notify(ctx workflow.Context, is *IssueRef, kind, body string) bool {
	if is == nil {
		return false
	}
	marker := fmt.Sprintf("<!-- lifecycle:%s:%s:%s -->", kind, InstanceWorkflowID(e.rec.Instance.Slug), IssueKey(*is))
	if e.rec.Trial != nil && strings.HasPrefix(kind, "trial-reminder") {
		marker = fmt.Sprintf("<!-- lifecycle:%s:%s:%s -->", kind, InstanceWorkflowID(e.rec.Instance.Slug), e.rec.Trial.ExpiresAt.UTC().Format("20060102T1504"))
	}
	if _, err := execute[activities.CommentResult](ctx, GitHubCall, "Comment on "+is.String()+": "+kind, (*activities.GitHub).UpsertComment,
		activities.UpsertCommentInput{Owner: is.Owner, Repo: is.Repo, Number: is.Number, Marker: marker, Body: body}); err != nil {
		workflow.GetLogger(ctx).Warn("could not comment on the issue", "issue", is.String(), "kind", kind, "error", err)
		return false
	}
	return true
}

// publish mirrors the record into the Web UI's current details and its search attributes: at
// once before RevisionLeanHistory, from it at the end of the workflow task.
func (e *entity) publish(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, RenderInstance(e.rec))
	e.dirty = true
	if e.rev < RevisionLeanHistory {
		e.flush(ctx)
	}
}

// flush upserts the record's search attributes if it changed since the last upsert; from
// RevisionLeanHistory only the attributes whose values changed, and nothing if none did.
func (e *entity) flush(ctx workflow.Context) {
	if !e.dirty {
		return
	}
	e.dirty = false
	r := e.rec
	op := ""
	if r.Current != nil {
		op = string(r.Current.Operation)
	}
	cur := workflow.GetTypedSearchAttributes(ctx)
	lean := e.rev >= RevisionLeanHistory
	var sas []temporal.SearchAttributeUpdate
	keyword := func(k temporal.SearchAttributeKeyKeyword, v string) {
		if old, ok := cur.GetKeyword(k); !lean || !ok || old != v {
			sas = append(sas, k.ValueSet(v))
		}
	}
	keyword(SAInstanceSlug, r.Instance.Slug)
	keyword(SAInstanceState, string(r.State))
	keyword(SAOperation, op)
	if old, ok := cur.GetBool(SANeedsAttention); !lean || !ok || old != r.NeedsAttention {
		sas = append(sas, SANeedsAttention.ValueSet(r.NeedsAttention))
	}
	if old, ok := cur.GetInt64(SARevision); !lean || !ok || old != int64(e.rev) {
		sas = append(sas, SARevision.ValueSet(int64(e.rev)))
	}
	if r.Instance.Type != "" {
		keyword(SAInstanceType, string(r.Instance.Type))
	}
	if r.Instance.Issue != nil {
		keyword(SAIssue, r.Instance.Issue.String())
	}
	// Asked only while there is a reason to set or clear, so runs that never need attention get
	// no version marker; runs from before the change replay without the reason.
	if reason, _ := cur.GetKeyword(SAAttentionReason); r.NeedsAttention || reason != "" {
		if workflow.GetVersion(ctx, "attention-reason", workflow.DefaultVersion, 1) == 1 {
			keyword(SAAttentionReason, instanceAttentionReason(r))
		}
	}
	if len(sas) > 0 {
		_ = workflow.UpsertTypedSearchAttributes(ctx, sas...)
	}
}

// instanceAttentionReason is the instance's AttentionReason: which operation failed outright.
func instanceAttentionReason(r InstanceRecord) string {
	if !r.NeedsAttention {
		return ""
	}
	what := "an operation workflow failed outright, or could not start"
	for i := len(r.History) - 1; i >= 0; i-- {
		if h := r.History[i]; h.Outcome == OutcomeFailed {
			what = fmt.Sprintf("`%s` failed outright (%s)", h.Operation, h.WorkflowID)
			break
		}
	}
	return clip("instance: "+what+"; its changes may be half made: read its history before the next request", attentionReasonMax)
}

// end returns the tombstone (or the record of a create that never made an instance).
func (e *entity) end(ctx workflow.Context) (InstanceRecord, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return e.rec, err
	}
	e.publish(ctx)
	e.flush(ctx) // the run ends in this task: no coroutine runs after it
	return e.rec, nil
}

// RenderInstance is the instance's markdown summary for the Web UI.
func RenderInstance(r InstanceRecord) string {
	var b strings.Builder
	in := r.Instance
	state := string(r.State)
	if state == "" {
		state = "no instance"
	}
	b.WriteString(fmt.Sprintf("### Instance `%s`: %s\n\n", in.Slug, state))
	if in.Domain != "" {
		b.WriteString(fmt.Sprintf("- %s, %s, %s, %s, version %s\n", in.Domain, in.Type, in.Region, in.Size, orDash(in.Version)))
	}
	if t := r.Trial; t != nil {
		b.WriteString(fmt.Sprintf("- trial expires %s\n", formatTime(t.ExpiresAt)))
	}
	if c := r.Current; c != nil {
		b.WriteString(fmt.Sprintf("- running: **%s** (`%s`), requested by @%s on %s\n", c.Operation, c.WorkflowID, c.Requester, issueText(c.Issue)))
	}
	if r.NeedsAttention {
		b.WriteString("- ⚠️ an operation workflow failed; check its history before the next request\n")
	}
	if n := len(r.History); n > 0 {
		b.WriteString("\nRecent operations:\n")
		for i := n - 1; i >= 0 && i >= n-5; i-- {
			h := r.History[i]
			b.WriteString(fmt.Sprintf("- %s %s: %s (%s)\n", formatTime(h.EndedAt), h.Operation, h.Outcome, issueText(h.Issue)))
		}
	}
	return b.String()
}

func (r OperationRequest) hasPayload() bool {
	switch r.Operation {
	case forms.OpCreate:
		return r.Create != nil
	case forms.OpSuspend:
		return r.Suspend != nil
	case forms.OpResume:
		return r.Resume != nil
	case forms.OpTeardown:
		return r.Teardown != nil
	case forms.OpExtendTrial:
		return r.ExtendTrial != nil
	case forms.OpConvertTrial:
		return r.ConvertTrial != nil
	case forms.OpUpdateAllowlist:
		return r.Allowlist != nil
	case forms.OpReloadFrontend:
		return r.Reload != nil
	case forms.OpEnableTelemetry, forms.OpDisableTelemetry:
		return r.Telemetry != nil
	case forms.OpUpgrade:
		return r.Upgrade != nil
	}
	return false
}
