package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/go-github/v55/github"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// maxPayload bounds webhook bodies; GitHub caps deliveries at 25 MB, issue forms are a few KB.
const maxPayload = 1 << 20

// webhook receives GitHub deliveries: it verifies the signature before anything else, parses the
// issue form and starts the workflow with an ID derived from the issue.
type webhook struct {
	secret   []byte
	temporal client.Client
	gh       *github.Client
	tcfg     config.Temporal
	log      *slog.Logger
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST GitHub webhook deliveries here", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPayload)
	// ValidatePayload skips the check when both secret and signature are empty; the secret is
	// required at start-up, and a missing header is refused here explicitly.
	if r.Header.Get(github.SHA256SignatureHeader) == "" {
		http.Error(w, "missing "+github.SHA256SignatureHeader, http.StatusUnauthorized)
		return
	}
	payload, err := github.ValidatePayload(r, h.secret)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		h.log.Warn("webhook rejected", "reason", err, "delivery", r.Header.Get("X-GitHub-Delivery"))
		http.Error(w, "signature check failed", http.StatusUnauthorized)
		return
	}
	event, err := github.ParseWebHook(github.WebHookType(r), payload)
	if err != nil {
		http.Error(w, "unparseable event: "+err.Error(), http.StatusBadRequest)
		return
	}
	log := h.log.With("delivery", r.Header.Get("X-GitHub-Delivery"), "event", github.WebHookType(r))
	switch e := event.(type) {
	case *github.IssuesEvent:
		msg, status := h.onIssue(r.Context(), log, e)
		http.Error(w, msg, status)
	default:
		http.Error(w, "ignored event", http.StatusAccepted)
	}
}

// onIssue handles opened/labeled/edited issues carrying exactly one request label.
func (h *webhook) onIssue(ctx context.Context, log *slog.Logger, e *github.IssuesEvent) (string, int) {
	switch e.GetAction() {
	case "opened", "labeled", "edited":
	default:
		return "ignored action", http.StatusAccepted
	}
	is := e.GetIssue()
	if is.GetState() != "open" {
		return "closed issue", http.StatusAccepted
	}
	labels := make([]string, 0, len(is.Labels))
	for _, l := range is.Labels {
		labels = append(labels, l.GetName())
	}
	ref := workflows.IssueRef{Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(), Number: is.GetNumber()}
	log = log.With("issue", ref.String())
	ops := forms.OpsByLabel(labels)
	switch {
	case len(ops) == 0:
		return "no request label", http.StatusAccepted
	case len(ops) > 1:
		names := make([]string, len(ops))
		for i, op := range ops {
			names[i] = "`" + forms.LabelOf(op) + "`"
		}
		h.upsertComment(ctx, log, ref, rejectionMarker, "### Request not started\n\nThis issue carries more than one request label ("+
			strings.Join(names, ", ")+"). Keep the one for the operation you want; one issue is one request.")
		return "ambiguous request labels", http.StatusUnprocessableEntity
	}
	op := ops[0]
	req, err := forms.ParseRequest(op, is.GetBody())
	if err != nil {
		log.Info("request rejected", "operation", op, "reason", err)
		h.upsertComment(ctx, log, ref, rejectionMarker,
			"### Request not started\n\nPlease fix these fields by editing the issue; the request starts as soon as the form is valid.\n\n"+forms.Markdown(err))
		return "invalid form", http.StatusUnprocessableEntity
	}
	subject := req.InstanceSlug()
	sas := []temporal.SearchAttributeUpdate{workflows.SAOperation.ValueSet(string(op)), workflows.SAIssue.ValueSet(ref.String())}
	if subject != "" {
		sas = append(sas, workflows.SAInstanceSlug.ValueSet(subject))
	}
	if ni, ok := req.(forms.NewInstance); ok {
		sas = append(sas, workflows.SAInstanceType.ValueSet(string(ni.Type)))
	}
	if up, ok := req.(forms.UpgradeTracking); ok {
		subject = up.Version
	}
	id := workflows.IntakeWorkflowID(ref)
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		StaticSummary:            fmt.Sprintf("%s %s for %s", op, subject, ref),
		TypedSearchAttributes:    temporal.NewSearchAttributes(sas...),
	}
	in := workflows.IntakeInput{Issue: ref, Operation: string(op), Slug: subject, Requester: e.GetSender().GetLogin(),
		RunURL: h.tcfg.WorkflowURL(id)}
	run, err := h.temporal.ExecuteWorkflow(ctx, opts, workflows.Intake, in)
	if err != nil {
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &already) {
			return "already started", http.StatusOK
		}
		log.Error("starting workflow failed", "err", err)
		return "could not start the workflow; GitHub will redeliver", http.StatusServiceUnavailable
	}
	log.Info("workflow started", "operation", op, "workflowID", run.GetID(), "runID", run.GetRunID())
	return "started " + run.GetID(), http.StatusAccepted
}

// rejectionMarker tags the starter's answer to an invalid form. One issue gets several deliveries
// (opened, then labeled per label; edited), so the answer is one comment edited in place.
const rejectionMarker = "<!-- lifecycle:form-rejection -->"

// upsertComment edits the issue's comment carrying marker, or creates it.
func (h *webhook) upsertComment(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, marker, body string) {
	body = marker + "\n" + body
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := h.gh.Issues.ListComments(ctx, ref.Owner, ref.Repo, ref.Number, opts)
		if err != nil {
			log.Error("could not read the issue's comments", "err", err)
			return
		}
		for _, c := range cs {
			if strings.HasPrefix(c.GetBody(), marker) {
				if c.GetBody() == body {
					return
				}
				if _, _, err := h.gh.Issues.EditComment(ctx, ref.Owner, ref.Repo, c.GetID(), &github.IssueComment{Body: &body}); err != nil {
					log.Error("could not edit the comment on the issue", "err", err)
				}
				return
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if _, _, err := h.gh.Issues.CreateComment(ctx, ref.Owner, ref.Repo, ref.Number, &github.IssueComment{Body: &body}); err != nil {
		log.Error("could not comment on the issue", "err", err)
	}
}
