package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v55/github"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/metrics"
	"github.com/sourcegraph/lifecycle/workflows"
)

// maxPayload bounds webhook bodies; GitHub caps deliveries at 25 MB, issue forms are a few KB.
const maxPayload = 1 << 20

// deliveryBudget bounds the handling of one delivery: every call it makes (Temporal's Update or
// start, GitHub's team check and comment) shares this deadline, so the answer goes out within a
// second, far inside GitHub's 10 s. GitHub tries a delivery once and records a late answer as a
// failure; an answer of 5xx when Temporal is slow or unreachable is the same failure, but quick
// and counted, and the redelivery sweeper (workflows.RedeliverWebhooks) sends the event again.
const deliveryBudget = 800 * time.Millisecond

// temporalBudget bounds each Temporal call of a delivery, leaving the rest of deliveryBudget for
// GitHub: the answer on the issue after a refusal, or "does not answer" after a silent /status.
const temporalBudget = 500 * time.Millisecond

// boundedTemporal gives each Temporal call the handler makes its own deadline (temporalBudget).
type boundedTemporal struct {
	client.Client
	d time.Duration
}

func (b boundedTemporal) UpdateWithStartWorkflow(ctx context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.Client.UpdateWithStartWorkflow(ctx, o)
}

func (b boundedTemporal) UpdateWorkflow(ctx context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.Client.UpdateWorkflow(ctx, o)
}

func (b boundedTemporal) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.Client.ExecuteWorkflow(ctx, o, wf, args...)
}

func (b boundedTemporal) QueryWorkflow(ctx context.Context, id, run, query string, args ...any) (converter.EncodedValue, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.Client.QueryWorkflow(ctx, id, run, query, args...)
}

func (b boundedTemporal) ListWorkflow(ctx context.Context, r *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.Client.ListWorkflow(ctx, r)
}

func (b boundedTemporal) DescribeWorkflowExecution(ctx context.Context, id, run string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	return b.Client.DescribeWorkflowExecution(ctx, id, run)
}

// webhook receives GitHub deliveries: it verifies the signature before anything else, parses the
// issue form and starts the workflow with an ID derived from the issue.
type webhook struct {
	secret   []byte
	temporal client.Client
	gh       *github.Client
	settings workflows.Settings
	// self is the bot's own login (lower case), asked of GitHub at start: its comments are never
	// commands, whatever they contain.
	self string
	// repos are the repositories whose issues are served; deliveries from any other are counted
	// and logged, and get no answer on the issue.
	repos repos
	// auth is who may file requests; members answers (and briefly remembers) team membership,
	// for requesters and for the approver team's slash commands.
	auth    auth
	members *memberships
	// metrics counts deliveries (metrics.WebhooksReceived); nil counts nothing.
	metrics client.MetricsHandler
	// budget is deliveryBudget (0), or a test's.
	budget time.Duration
	log    *slog.Logger
	// driftRepo is where the allowlist drift issue lives (LIFECYCLE_DRIFT_REPO; "" is
	// workflows.DefaultDriftRepo): `/reconcile` is served on its drift issue only.
	driftRepo string
}

// answer is how a delivery was handled: the HTTP status and text GitHub records, and the outcome
// counted in metrics.WebhooksReceived (a fixed vocabulary, so the metric's cardinality stays small).
type answer struct {
	status  int
	outcome string
	msg     string
}

// Outcomes of a delivery (the outcome tag of metrics.WebhooksReceived). Letters and underscores
// only: the Prometheus exporter turns any other character into "_", and logs, docs and alerts must
// read the same name as /metrics.
const (
	outcomeBadMethod    = "bad_method"    // not a POST
	outcomeUnsigned     = "unsigned"      // no signature header
	outcomeBadSignature = "bad_signature" // wrong signature, or unreadable body
	outcomeTooLarge     = "too_large"
	outcomeUnparseable  = "unparseable"  // signed, but not a GitHub event of its type
	outcomeIgnored      = "ignored"      // not for us (other events and actions, no request label, not a command)
	outcomeInvalid      = "invalid"      // a form or a command that does not parse; answered on the issue
	outcomeUnauthorised = "unauthorised" // the requester or commenter may not; answered on the issue
	outcomeAccepted     = "accepted"     // a request started, a command applied, a status given
	outcomeDuplicate    = "duplicate"    // already started by an earlier delivery
	outcomeRejected     = "rejected"     // the workflow refused it (conflict, unknown instance, not running); answered
	outcomeUnavailable  = "unavailable"  // Temporal or GitHub could not be asked in time: 503; the redelivery sweeper sends it again
	outcomeFailed       = "failed"       // a command could not be sent; answered
	// outcomeOtherRepository: from a repository not served (or not for this kind of request); not answered.
	outcomeOtherRepository = "other_repository"
)

// knownEvents are the event names the metric keeps apart; any other is counted as "other" (the
// header is read before the signature is checked, so it must not grow the metric).
var knownEvents = map[string]bool{"issues": true, "issue_comment": true, "ping": true}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	budget := h.budget
	if budget <= 0 {
		budget = deliveryBudget
	}
	ctx, cancel := context.WithTimeout(r.Context(), budget)
	defer cancel()
	a := h.serve(w, r.WithContext(ctx))
	event := github.WebHookType(r)
	if !knownEvents[event] {
		event = "other"
	}
	if h.metrics != nil {
		h.metrics.WithTags(map[string]string{"event": event, "outcome": a.outcome}).Counter(metrics.WebhooksReceived).Inc(1)
	}
	http.Error(w, a.msg, a.status)
}

func (h *webhook) serve(w http.ResponseWriter, r *http.Request) answer {
	if r.Method != http.MethodPost {
		return answer{http.StatusMethodNotAllowed, outcomeBadMethod, "POST GitHub webhook deliveries here"}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPayload)
	// ValidatePayload skips the check when both secret and signature are empty; the secret is
	// required at start-up, and a missing header is refused here explicitly. It would also take a
	// "sha1=" or "sha512=" MAC in this header; GitHub sends "sha256=", and nothing else is accepted.
	sig := r.Header.Get(github.SHA256SignatureHeader)
	if sig == "" {
		return answer{http.StatusUnauthorized, outcomeUnsigned, "missing " + github.SHA256SignatureHeader}
	}
	if !strings.HasPrefix(sig, "sha256=") {
		h.log.Warn("webhook rejected", "reason", "signature is not sha256=<hex>", "delivery", r.Header.Get("X-GitHub-Delivery"))
		return answer{http.StatusUnauthorized, outcomeBadSignature, "signature check failed"}
	}
	payload, err := github.ValidatePayload(r, h.secret)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return answer{http.StatusRequestEntityTooLarge, outcomeTooLarge, "payload too large"}
		}
		h.log.Warn("webhook rejected", "reason", err, "delivery", r.Header.Get("X-GitHub-Delivery"))
		return answer{http.StatusUnauthorized, outcomeBadSignature, "signature check failed"}
	}
	event, err := github.ParseWebHook(github.WebHookType(r), payload)
	if err != nil {
		return answer{http.StatusBadRequest, outcomeUnparseable, "unparseable event: " + err.Error()}
	}
	log := h.log.With("delivery", r.Header.Get("X-GitHub-Delivery"), "event", github.WebHookType(r))
	switch e := event.(type) {
	case *github.IssuesEvent:
		if !h.repos.serves(repoName(e.GetRepo())) {
			return h.otherRepository(log, e.GetRepo(), e.GetIssue())
		}
		return h.onIssue(r.Context(), log, e)
	case *github.IssueCommentEvent:
		if !h.repos.serves(repoName(e.GetRepo())) {
			return h.otherRepository(log, e.GetRepo(), e.GetIssue())
		}
		return h.onComment(r.Context(), log, e)
	}
	return answer{http.StatusAccepted, outcomeIgnored, "ignored event"}
}

// otherRepository answers a delivery from a repository the starter does not serve (for this kind
// of request): 2xx, so GitHub does not redeliver it, and nothing on the issue.
func (h *webhook) otherRepository(log *slog.Logger, repo *github.Repository, is *github.Issue) answer {
	log.Warn("delivery from a repository not served for it: ignored", "repository", repoName(repo), "issue", is.GetNumber(),
		"requestRepos", h.repos.request, "trackingRepo", h.repos.tracking)
	return answer{http.StatusOK, outcomeOtherRepository, "repository not served"}
}

// approverTeam is the team whose members may use slash commands ("org/team").
func (h *webhook) approverTeam() string {
	if h.settings.ApproverTeam != "" {
		return h.settings.ApproverTeam
	}
	return workflows.DefaultApproverTeam
}

// onIssue handles opened/labeled/edited issues carrying exactly one request label.
func (h *webhook) onIssue(ctx context.Context, log *slog.Logger, e *github.IssuesEvent) answer {
	switch e.GetAction() {
	case "opened", "labeled", "edited":
	default:
		return answer{http.StatusAccepted, outcomeIgnored, "ignored action"}
	}
	is := e.GetIssue()
	if is.GetState() != "open" {
		return answer{http.StatusAccepted, outcomeIgnored, "closed issue"}
	}
	labels := make([]string, 0, len(is.Labels))
	for _, l := range is.Labels {
		labels = append(labels, l.GetName())
	}
	ref := workflows.IssueRef{Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(), Number: is.GetNumber()}
	log = log.With("issue", ref.String())
	ops := forms.OpsByLabel(labels)
	if len(ops) == 0 {
		return answer{http.StatusAccepted, outcomeIgnored, "no request label"}
	}
	if !slices.ContainsFunc(ops, func(op forms.Operation) bool { return h.repos.servesOp(repoName(e.GetRepo()), op) }) {
		return h.otherRepository(log, e.GetRepo(), is)
	}
	// The issue's author is the requester: only they are checked, whoever labelled or edited it.
	requester := is.GetUser().GetLogin()
	ok, err := h.mayRequest(ctx, requester)
	if err != nil {
		log.Error("could not check whether the requester may file requests", "requester", requester, "err", err)
		return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not check team membership; the redelivery sweeper sends it again"}
	}
	if !ok {
		log.Info("request refused: the requester is on no requester team nor the allowlist", "requester", requester)
		h.upsertComment(ctx, log, ref, requesterRefusalMarker, h.requesterRefusal(requester))
		// 2xx: handled. A redelivery would be refused the same way.
		return answer{http.StatusOK, outcomeUnauthorised, "requester not authorised"}
	}
	if len(ops) > 1 {
		names := make([]string, len(ops))
		for i, op := range ops {
			names[i] = "`" + forms.LabelOf(op) + "`"
		}
		h.upsertComment(ctx, log, ref, rejectionMarker, "### Request not started\n\nThis issue carries more than one request label ("+
			strings.Join(names, ", ")+"). Keep the one for the operation you want; one issue is one request.")
		// 2xx: handled, and answered on the issue. GitHub lists a non-2xx answer as a failed
		// delivery, which would hide the real failures among the forms people got wrong.
		return answer{http.StatusOK, outcomeInvalid, "ambiguous request labels"}
	}
	op := ops[0]
	attempt := 0
	if op == forms.OpUpgradeFleet && e.GetAction() == "edited" && e.GetChanges().GetBody() != nil {
		if a, done := h.rolloutEdited(ctx, log, ref, e); done {
			return a
		}
	}
	if op != forms.OpUpgradeFleet && e.GetAction() != "opened" {
		// An issue starts one operation: an edit or a label after the start must not start another
		// (the slug may have changed, so the Update ID alone does not catch it).
		prior, err := h.issueOperations(ctx, ref)
		if err != nil {
			log.Error("could not list the issue's operations", "err", err)
			return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not reach Temporal; the redelivery sweeper sends it again"}
		}
		var a answer
		var done bool
		if a, attempt, done = h.afterStart(ctx, log, ref, e, op, prior); done {
			return a
		}
	}
	req, err := forms.ParseRequest(op, is.GetBody())
	if err != nil {
		log.Info("request rejected", "operation", op, "reason", err)
		h.upsertComment(ctx, log, ref, rejectionMarker,
			"### Request not started\n\nPlease fix these fields by editing the issue; the request starts as soon as the form is valid.\n\n"+forms.Markdown(err))
		return answer{http.StatusOK, outcomeInvalid, "invalid form"} // handled: answered on the issue
	}
	if req.InstanceSlug() != "" {
		a := h.requestOperation(ctx, log, ref, is, req, attempt)
		if a.outcome == outcomeAccepted && e.GetAction() == "edited" {
			// An earlier version of the form may have been answered "not started": say it is now.
			h.editComment(ctx, log, ref, rejectionMarker, "### Request started\n\nThe edited form is valid: "+a.msg+".\n")
		}
		return a
	}
	if up, ok := req.(forms.UpgradeTracking); ok {
		return h.startRollout(ctx, log, ref, is, up)
	}
	log.Error("no workflow for this fleet-wide request type", "type", fmt.Sprintf("%T", req))
	return answer{http.StatusUnprocessableEntity, outcomeInvalid, "unsupported request"}
}

// requestOperation hands an instance request to the instance's entity workflow as an Update. The
// entity's validator decides: a conflicting or impossible request is rejected before it enters
// history, and the reason goes on the issue. A create starts the entity if it is not running.
// attempt > 1 asks again after the workflow rejected the issue's earlier attempts.
func (h *webhook) requestOperation(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, is *github.Issue, req forms.Request, attempt int) answer {
	op, slug := req.Operation(), req.InstanceSlug()
	r := workflows.OperationRequest{Operation: op, Slug: slug, Issue: &ref, Requester: is.GetUser().GetLogin(),
		RequestedAt: is.GetCreatedAt().Time, Settings: h.settings, RequestID: rand.Text()}
	updateID := workflows.IssueKey(ref) + "/" + string(op)
	if attempt > 1 {
		r.Attempt, updateID = attempt, fmt.Sprintf("%s/%d", updateID, attempt)
	}
	switch v := req.(type) {
	case forms.NewInstance:
		r.Create = &v
	case forms.Suspend:
		r.Suspend = &v
	case forms.Resume:
		r.Resume = &v
	case forms.Teardown:
		r.Teardown = &v
	case forms.ExtendTrial:
		r.ExtendTrial = &v
	case forms.ConvertTrial:
		r.ConvertTrial = &v
	case forms.AllowlistUpdate:
		r.Allowlist = &v
	case forms.ReloadFrontend:
		r.Reload = &v
	case forms.Telemetry:
		r.Telemetry = &v
	default:
		log.Error("no instance operation for this request type", "type", fmt.Sprintf("%T", req))
		return answer{http.StatusUnprocessableEntity, outcomeInvalid, "unsupported request"}
	}
	// "The SLA counts from the agreement date; leave it empty to count from today" (the forms):
	// the resolution does; the response counts from the filing (the SLA table's "becoming aware").
	if d := agreementDate(req); d != "" {
		if t, err := time.Parse(time.DateOnly, d); err == nil {
			r.AgreedAt = t
		}
	}
	accepted, err := workflows.AskInstance(ctx, h.temporal, workflows.Ask{Request: r, UpdateID: updateID})
	var refused *workflows.Refused
	switch {
	case err == nil && accepted.RequestID != "" && accepted.RequestID != r.RequestID:
		// Temporal answered with the first delivery's answer: this one repeated it.
		log.Debug("request already started", "operation", op, "instance", slug, "workflowID", accepted.WorkflowID)
		return answer{http.StatusOK, outcomeDuplicate, "already started"}
	case err == nil:
		log.Info("request accepted", "operation", op, "instance", slug, "workflowID", accepted.WorkflowID)
		return answer{http.StatusAccepted, outcomeAccepted, accepted.Message}
	case errors.As(err, &refused) && refused.Duplicate:
		return answer{http.StatusOK, outcomeDuplicate, "already started"}
	case errors.As(err, &refused):
		log.Info("request rejected by the instance", "operation", op, "instance", slug, "reason", refused.Reason)
		h.upsertComment(ctx, log, ref, rejectionMarker, "### Request not started\n\n"+upperFirst(refused.Reason)+"\n")
		// 2xx: the delivery was handled. A non-2xx answer would be redelivered, and a redelivery
		// after the conflicting operation ended would start the request nobody asked again for.
		return answer{http.StatusOK, outcomeRejected, "rejected: " + refused.Reason}
	}
	log.Error("could not hand the request to the instance workflow", "instance", slug, "err", err)
	return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not reach Temporal; the redelivery sweeper sends it again"}
}

// upperFirst starts a refusal's sentence with a capital letter on the issue.
func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// agreementDate is the form's agreement date, for the forms that have one.
func agreementDate(req forms.Request) string {
	switch v := req.(type) {
	case forms.NewInstance:
		return v.AgreementDate
	case forms.Suspend:
		return v.AgreementDate
	case forms.Teardown:
		return v.AgreementDate
	case forms.ConvertTrial:
		return v.AgreementDate
	}
	return ""
}

// startRollout starts the fleet rollout of an upgrade-tracking issue. Its ID is derived from the
// issue: a redelivered or edited issue finds the rollout already there and starts no second one
// (the form as first filed stays in force; an edit changes nothing).
func (h *webhook) startRollout(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, is *github.Issue, up forms.UpgradeTracking) answer {
	opts, in := rolloutStart(ref, is, up, h.settings)
	run, err := h.temporal.ExecuteWorkflow(ctx, opts, workflows.WorkflowFleetUpgrade, in)
	if err != nil {
		var already *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &already) {
			// The rollout of this issue runs or ran; it is not started again.
			log.Debug("rollout already started", "workflowID", opts.ID)
			return answer{http.StatusOK, outcomeDuplicate, "already started"}
		}
		log.Error("starting the rollout failed", "workflowID", opts.ID, "err", err)
		return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not start the rollout; the redelivery sweeper sends it again"}
	}
	log.Info("rollout running", "version", up.Version, "workflowID", run.GetID(), "runID", run.GetRunID())
	return answer{http.StatusAccepted, outcomeAccepted, "rollout " + run.GetID()}
}

// rolloutStart is the start of an upgrade-tracking issue's rollout: its options and input.
func rolloutStart(ref workflows.IssueRef, is *github.Issue, up forms.UpgradeTracking, settings workflows.Settings) (client.StartWorkflowOptions, workflows.RolloutInput) {
	var how []string
	if up.DryRun {
		how = append(how, "dry run (plan only)")
	}
	how = append(how, fmt.Sprintf("at most %d instances at once", up.Concurrency))
	if up.RequireApproval {
		how = append(how, "approval before the first customer wave")
	}
	opts := client.StartWorkflowOptions{
		ID:        workflows.RolloutWorkflowID(ref),
		TaskQueue: workflows.TaskQueue,
		// One rollout per issue, ever: neither a running one (FAIL) nor an ended one
		// (REJECT_DUPLICATE) is started again, and the already-started error tells the starter
		// that this delivery repeated the request.
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("fleet upgrade to %s (%s)", up.Version, ref),
		StaticDetails: fmt.Sprintf("Fleet rollout of Sourcegraph %s, tracked on %s: %s.",
			up.Version, ref, strings.Join(how, ", ")),
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SAOperation.ValueSet(string(forms.OpUpgradeFleet)), workflows.SAIssue.ValueSet(ref.String()),
			workflows.SARevision.ValueSet(workflows.CurrentRevision)),
	}
	in := workflows.RolloutInput{Request: workflows.RolloutRequest{
		Issue:       ref,
		Requester:   is.GetUser().GetLogin(),
		RequestedAt: is.GetCreatedAt().Time,
		Settings:    settings,
		Upgrade:     up,
	}, Revision: workflows.CurrentRevision}
	return opts, in
}

// rejectionMarker tags the starter's answer to an invalid form. One issue gets several deliveries
// (opened, then labeled per label; edited), so the answer is one comment edited in place.
const rejectionMarker = "<!-- lifecycle:form-rejection -->"

// upsertComment edits the issue's comment carrying marker, or creates it.
func (h *webhook) upsertComment(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, marker, body string) {
	h.writeComment(ctx, log, ref, marker, body, true)
}

// editComment edits the issue's comment carrying marker, if there is one.
func (h *webhook) editComment(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, marker, body string) {
	h.writeComment(ctx, log, ref, marker, body, false)
}

func (h *webhook) writeComment(ctx context.Context, log *slog.Logger, ref workflows.IssueRef, marker, body string, create bool) {
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
	if !create {
		return
	}
	if _, _, err := h.gh.Issues.CreateComment(ctx, ref.Owner, ref.Repo, ref.Number, &github.IssueComment{Body: &body}); err != nil {
		log.Error("could not comment on the issue", "err", err)
	}
}
