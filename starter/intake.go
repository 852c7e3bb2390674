package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/google/go-github/v55/github"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// The intake rule for an issue's deliveries, everywhere: an issue starts at most one operation.
// An edit before it started is checked again (a rejected form is answered and waits for the next
// edit). An edit after it started starts nothing and gets one comment, edited in place, saying
// what happened and what to do. A request the operation's workflow rejected (a check inside it,
// such as a release that does not exist) started nothing: an edit that changes the form asks
// again, as the next attempt (its own workflow and Update ID), so the requester fixes it where
// they filed it.

// issueOperation is an operation workflow an issue started, as Temporal knows it.
type issueOperation struct {
	workflowID string
	op         forms.Operation
	slug       string
	running    bool
	// outcome of an ended run: the workflow's result, or "failed" when it ended without one
	// (failed, terminated, timed out).
	outcome workflows.Outcome
}

// rejected reports whether the operation's own checks refused the request: it changed nothing.
func (o issueOperation) rejected() bool { return !o.running && o.outcome == workflows.OutcomeRejected }

// issueOperations lists the operation workflows started for this issue. Their IDs end in the
// issue's key (and an attempt number); the Issue search attribute finds them whatever the slug,
// which an edit may have changed. Visibility lags the start by up to a second on Elasticsearch:
// a redelivery within that second is still caught by the Update ID, which holds the slug.
func (h *webhook) issueOperations(ctx context.Context, ref workflows.IssueRef) ([]issueOperation, error) {
	key := "/" + workflows.IssueKey(ref)
	q := fmt.Sprintf("%s = '%s' AND WorkflowType != '%s'", workflows.SAIssue.GetName(), ref.String(), workflows.WorkflowInstance)
	var out []issueOperation
	var token []byte
	for {
		resp, err := h.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token})
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			id := e.GetExecution().GetWorkflowId()
			head, tail, ok := strings.Cut(id, key)
			if n, isAttempt := strings.CutPrefix(tail, "/"); !ok || tail != "" && (!isAttempt || !isNumber(n)) {
				continue // a run that only names this issue (a trial's expiry suspend names its create's)
			}
			op, slug, ok := strings.Cut(head, "/")
			if !ok {
				continue
			}
			o := issueOperation{workflowID: id, op: forms.Operation(op), slug: slug}
			switch e.GetStatus() {
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
				o.running = true
			case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
				var res workflows.OperationResult
				if err := h.temporal.GetWorkflow(ctx, id, e.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
					return nil, err
				}
				o.outcome = res.Outcome
			default:
				o.outcome = workflows.OutcomeFailed
			}
			out = append(out, o)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// afterStart applies the rule to a delivery for an issue that already has operation workflows.
// It answers the delivery (done), or returns the attempt the request goes ahead as.
func (h *webhook) afterStart(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, e *github.IssuesEvent, op forms.Operation,
	prior []issueOperation) (a answer, attempt int, done bool) {
	if len(prior) == 0 {
		return answer{}, 0, false
	}
	from := e.GetChanges().GetBody().GetFrom()
	edited := e.GetAction() == "edited" && e.GetChanges().GetBody() != nil
	newReq, newErr := forms.ParseRequest(op, e.GetIssue().GetBody())
	oldReq, oldErr := forms.ParseRequest(op, from)
	same := newErr == nil && oldErr == nil && reflect.DeepEqual(newReq, oldReq)
	quiet := answer{http.StatusOK, outcomeDuplicate, "already started"}

	if !edited || same {
		return quiet, 0, true
	}
	i := slices.IndexFunc(prior, func(o issueOperation) bool { return !o.rejected() })
	if i < 0 {
		// Every attempt was rejected by the workflow's checks: a changed form asks again.
		return answer{}, len(prior) + 1, false
	}
	started, changed := prior[i], changedFields(oldReq, newReq, newErr)
	log.Info("edit after the start: not applied", "workflowID", started.workflowID, "changed", changed)
	h.upsertComment(ctx, log, ref, rejectionMarker, editNotApplied(started, changed))
	return answer{http.StatusOK, outcomeRejected, "edit after the start: not applied"}, 0, true
}

// editNotApplied is the answer to an edit after the issue's operation started.
func editNotApplied(o issueOperation, changed string) string {
	var b strings.Builder
	b.WriteString("### Edit not applied\n\n")
	fmt.Fprintf(&b, "This issue already started `%s` of `%s` (workflow `%s`), which ", o.op, o.slug, o.workflowID)
	if o.running {
		b.WriteString("is running.")
	} else {
		fmt.Fprintf(&b, "ended: %s.", o.outcome)
	}
	b.WriteString(" An issue starts one operation, so edits made after it started are not applied")
	if changed != "" {
		fmt.Fprintf(&b, " (this edit %s)", changed)
	}
	b.WriteString(": nothing else was started.\n\n**What to do:** ")
	if o.running {
		b.WriteString("follow the running operation in its status comment; to stop it, reply `/abort <reason>` when it waits on a step " +
			"(`/cancel <reason>` for a teardown). For anything else, file a new issue once it has finished.\n")
	} else {
		b.WriteString("to ask for something else (another instance, a different region or size, another change), file a new issue with the form for it.\n")
	}
	return b.String()
}

// changedFields names the form fields an edit changed, for the comment.
func changedFields(old, cur forms.Request, curErr error) string {
	if curErr != nil {
		return "left the form invalid"
	}
	a, b := fieldMap(old), fieldMap(cur)
	var names []string
	for k, v := range b {
		if !reflect.DeepEqual(a[k], v) {
			names = append(names, words(k))
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			names = append(names, words(k))
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return "changed: " + strings.Join(names, ", ")
}

func fieldMap(r forms.Request) map[string]any {
	m := map[string]any{}
	if r == nil {
		return m
	}
	b, _ := json.Marshal(r)
	_ = json.Unmarshal(b, &m)
	return m
}

// words turns a JSON field name into words: "adminEmail" → "admin email".
func words(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// rolloutEdited answers an edit of an upgrade-tracking issue's form once its rollout exists: the
// rollout keeps the form as first filed (one rollout per issue, ever).
func (h *webhook) rolloutEdited(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, e *github.IssuesEvent) (answer, bool) {
	id := workflows.RolloutWorkflowID(ref)
	desc, err := h.temporal.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return answer{}, false // not started yet: the edited form is checked as a new one
	case err != nil:
		log.Error("could not look up the issue's rollout", "workflowID", id, "err", err)
		return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not reach Temporal; the redelivery sweeper sends it again"}, true
	}
	newReq, newErr := forms.ParseRequest(forms.OpUpgradeFleet, e.GetIssue().GetBody())
	oldReq, oldErr := forms.ParseRequest(forms.OpUpgradeFleet, e.GetChanges().GetBody().GetFrom())
	if newErr == nil && oldErr == nil && reflect.DeepEqual(newReq, oldReq) {
		return answer{http.StatusOK, outcomeDuplicate, "already started"}, true
	}
	state := "is running"
	if desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		state = "has ended"
	}
	changed := changedFields(oldReq, newReq, newErr)
	if changed != "" {
		changed = " (this edit " + changed + ")"
	}
	h.upsertComment(ctx, log, ref, rejectionMarker, fmt.Sprintf("### Edit not applied\n\n"+
		"The fleet rollout of this issue (workflow `%s`) %s: it keeps the form as first filed, so edits made after it started are not applied%s.\n\n"+
		"**What to do:** steer it with `/pause`, `/resume` or `/abort <reason>` on this issue; for another target version or other settings, "+
		"`/abort` it and file a new upgrade-tracking issue.\n", id, state, changed))
	return answer{http.StatusOK, outcomeRejected, "edit after the start: not applied"}, true
}
