package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v55/github"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// Slash commands on a request's issue steer its running operation (or, on a trial, extend or
// convert it), and on an upgrade-tracking issue its fleet rollout and the rollout's instance
// upgrades: the same Updates the Temporal CLI and Web UI send (docs/design.md invariant 5), for members
// of the approver team only. `/status` reads instead of steering.
const (
	requestHelp = "`/status` for the operation's progress; `/retry`, `/skip <reason>`, `/abort [reason]` (or `/rollback [reason]`), `/restore [reason]` " +
		"for a parked step; `/approve [reason]`, `/cancel <reason>` for a teardown; `/extend <days> [reason]`, `/convert <agreement date>` for a trial"
	trackingHelp = "`/status` for the rollout's phase and counts; `/pause [reason]`, `/resume [reason]`, `/abort [reason]`, `/approve [reason]` for the rollout; " +
		"`/retry <slug>`, `/skip <slug> <reason>`, `/rollback <slug> [reason]`, `/restore <slug> [reason]` " +
		"for an instance's parked upgrade (`/retry <slug>` and `/skip <slug> <reason>` also ask again for, or leave out, an instance whose upgrade was refused, rolled back or failed)"
)

// knownCommands are the slash commands of either kind of issue. Any other "/word" is not for us
// and gets no answer.
var knownCommands = map[string]bool{
	"/retry": true, "/skip": true, "/abort": true, "/rollback": true, "/restore": true, "/approve": true,
	"/cancel": true, "/pause": true, "/resume": true, "/status": true, "/extend": true, "/convert": true,
	"/reconcile": true,
}

// commandIssue is the issue a command was left on, as far as its commands need it.
type commandIssue struct {
	ref workflows.IssueRef
	// tracking is set for an upgrade-tracking issue: its commands steer the fleet rollout, or an
	// instance's upgrade started by it.
	tracking bool
	// op and slug are a request issue's operation and instance.
	op   forms.Operation
	slug string
}

// command is a slash command resolved on its issue: the Update to send and where.
type command struct {
	workflowID string
	update     string
	// arg is the Update's argument. A Decision's Step is left empty: it is the parked step, read
	// from the progress query when the command runs.
	arg any
	// target names the workflow in replies ("the operation of this issue").
	target string
	// slug is the instance of a tracking issue's instance command.
	slug string
	// status is set for /status: workflowID is queried, not updated.
	status bool
}

// help lists the commands of this kind of issue.
func (ci commandIssue) help() string {
	if ci.tracking {
		return trackingHelp
	}
	return requestHelp
}

// command resolves cmd (one of knownCommands, lower case) and its argument, sent by user. The error
// is the reply: the command does not apply to this kind of issue, or lacks its arguments.
func (ci commandIssue) command(cmd, arg, user string) (command, error) {
	if !ci.tracking {
		c := command{workflowID: workflows.OperationWorkflowID(ci.op, ci.slug, workflows.IssueKey(ci.ref)), target: "the operation of this issue"}
		if (cmd == "/cancel" || cmd == "/skip") && strings.TrimSpace(arg) == "" {
			// The issue is the audit trail: say why a teardown was stopped or a step left out.
			return command{}, fmt.Errorf("a %s needs a reason: `%s <reason>`.", cmd[1:], cmd)
		}
		switch cmd {
		case "/status":
			c.status = true
		case "/extend", "/convert":
			return ci.trialCommand(cmd, arg, user)
		case "/approve":
			c.update, c.arg = workflows.UpdateApprove, workflows.Approval{By: user, Reason: arg}
		case "/cancel":
			c.update, c.arg = workflows.UpdateCancel, workflows.Approval{By: user, Reason: arg}
		case "/retry", "/skip", "/abort", "/rollback", "/restore":
			c.update, c.arg = workflows.UpdateDecide, workflows.Decision{Action: decisionAction(cmd), By: user, Reason: arg}
		default:
			return command{}, fmt.Errorf("`%s` is not a command for a request's issue. Commands here: %s.", cmd, requestHelp)
		}
		return c, nil
	}
	switch cmd {
	case "/status":
		return command{workflowID: workflows.RolloutWorkflowID(ci.ref), target: "the rollout of this issue", status: true}, nil
	case "/pause", "/resume", "/abort", "/approve":
		return command{workflowID: workflows.RolloutWorkflowID(ci.ref), update: workflows.UpdateRolloutControl,
			arg: workflows.RolloutControl{Action: cmd[1:], By: user, Reason: arg}, target: "the rollout of this issue"}, nil
	case "/retry", "/skip", "/rollback", "/restore":
	default:
		return command{}, fmt.Errorf("`%s` is not a command for an upgrade-tracking issue. Commands here: %s.", cmd, trackingHelp)
	}
	syntax := map[string]string{"/retry": "/retry <slug>", "/skip": "/skip <slug> <reason>",
		"/rollback": "/rollback <slug> [reason]", "/restore": "/restore <slug> [reason]"}[cmd]
	slug, reason, _ := strings.Cut(arg, " ")
	slug, reason = strings.TrimSpace(slug), strings.TrimSpace(reason)
	switch {
	case slug == "":
		return command{}, fmt.Errorf("say which instance's upgrade: `%s`.", syntax)
	case spec.ValidateSlug("slug", slug) != nil:
		return command{}, fmt.Errorf("`%s` is not an instance slug (3–30 lowercase letters, digits or dashes); use `%s`.", slug, syntax)
	case cmd == "/skip" && reason == "":
		return command{}, fmt.Errorf("a skip needs a reason: `%s`.", syntax)
	}
	return command{workflowID: workflows.UpgradeWorkflowID(slug, ci.ref, 1), update: workflows.UpdateDecide,
		arg:    workflows.Decision{Action: decisionAction(cmd), By: user, Reason: reason},
		target: fmt.Sprintf("the upgrade of `%s` for this issue", slug), slug: slug}, nil
}

// rolloutInstanceCommand turns /retry or /skip of an instance whose upgrade has nothing parked
// into the rollout's own control for that instance.
func (ci commandIssue) rolloutInstanceCommand(cmd string, d workflows.Decision, slug string) command {
	return command{workflowID: workflows.RolloutWorkflowID(ci.ref), update: workflows.UpdateRolloutControl,
		arg:    workflows.RolloutControl{Action: cmd[1:], Slug: slug, By: d.By, Reason: d.Reason},
		target: "the rollout of this issue"}
}

// trialCommand resolves /extend <days> [reason] and /convert <agreement date> on a request's issue:
// the instance's request Update, as if the matching form had been filed on this issue. The
// arguments are checked by the forms' own parsers, so a command accepts what the form accepts.
// The caller sets the request's Attempt (from the comment), Settings and, for /extend, RequestedAt.
func (ci commandIssue) trialCommand(cmd, arg, user string) (command, error) {
	ref := ci.ref
	r := workflows.OperationRequest{Slug: ci.slug, Issue: &ref, Requester: user}
	words := strings.Fields(arg)
	switch cmd {
	case "/extend":
		const syntax = "`/extend <days> [reason]`"
		if len(words) == 0 {
			return command{}, fmt.Errorf("say by how many days (%d to %d): %s.", forms.MinExtendDays, forms.MaxExtendDays, syntax)
		}
		days, rest := words[0], words[1:]
		if len(rest) > 0 && (strings.EqualFold(rest[0], "day") || strings.EqualFold(rest[0], "days")) {
			days, rest = days+" "+rest[0], rest[1:]
		}
		reason := strings.Join(rest, " ")
		if reason == "" {
			reason = "Extended by @" + user + " with /extend on " + ref.String() + "."
		}
		et, err := forms.ParseExtendTrial(formBody(forms.FieldSlug, ci.slug, forms.FieldExtendDays, days, forms.FieldReason, reason))
		if err != nil {
			return command{}, fmt.Errorf("%s. Use %s.", oneLine(err), syntax)
		}
		r.Operation, r.ExtendTrial = forms.OpExtendTrial, &et
	case "/convert":
		const syntax = "`/convert <agreement date>`, the date as YYYY-MM-DD"
		if len(words) == 0 {
			return command{}, fmt.Errorf("a conversion needs the date the paid agreement was signed: %s.", syntax)
		}
		ct, err := forms.ParseConvertTrial(formBody(forms.FieldSlug, ci.slug, forms.FieldAgreement, words[0]))
		if err != nil {
			return command{}, fmt.Errorf("%s. Use %s.", oneLine(err), syntax)
		}
		r.Operation, r.ConvertTrial = forms.OpConvertTrial, &ct
		// As for the form: the SLA's resolution counts from the agreement date.
		if t, err := time.Parse(time.DateOnly, ct.AgreementDate); err == nil {
			r.AgreedAt = t
		}
	}
	return command{workflowID: workflows.InstanceWorkflowID(ci.slug), update: workflows.UpdateRequest, arg: r,
		target: fmt.Sprintf("instance `%s`", ci.slug)}, nil
}

// formBody renders label/answer pairs as GitHub renders an issue form, for the forms' parsers.
func formBody(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", pairs[i], pairs[i+1])
	}
	return b.String()
}

// oneLine joins a multi-line error into one sentence-like line.
func oneLine(err error) string {
	return strings.TrimSuffix(strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "), ".")
}

// decisionAction is the decide action of a parked-step command. An upgrade's abort rolls it back,
// so /rollback is an abort everywhere.
func decisionAction(cmd string) string {
	switch cmd {
	case "/retry":
		return workflows.ActionRetry
	case "/skip":
		return workflows.ActionSkip
	case "/restore":
		return workflows.ActionRestore
	}
	return workflows.ActionAbort
}

// onComment runs a slash command from a new comment on a request's or a tracking issue.
func (h *webhook) onComment(ctx context.Context, log *slog.Logger, e *github.IssueCommentEvent) answer {
	cmd, arg := findCommand(e.GetComment().GetBody())
	if e.GetAction() != "created" || cmd == "" {
		return answer{http.StatusAccepted, outcomeIgnored, "not a command"}
	}
	// The service never obeys itself, nor any app: its answers quote commands, and an app on the
	// approver team would otherwise steer operations.
	if author := e.GetComment().GetUser(); h.isBot(author) || h.isBot(e.GetSender()) {
		return answer{http.StatusAccepted, outcomeIgnored, "comment by a bot"}
	}
	is := e.GetIssue()
	ref := workflows.IssueRef{Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(), Number: is.GetNumber()}
	user := e.GetComment().GetUser().GetLogin()
	log = log.With("issue", ref.String(), "command", cmd, "by", user)
	reply := func(text string) {
		if _, _, err := h.gh.Issues.CreateComment(ctx, ref.Owner, ref.Repo, ref.Number, &github.IssueComment{Body: github.String("@" + user + ": " + text)}); err != nil {
			log.Error("could not answer the command", "err", err)
		}
	}
	if !knownCommands[cmd] {
		return answer{http.StatusAccepted, outcomeIgnored, "unknown command"}
	}
	if slices.Contains(labelNames(is.Labels), workflows.DriftLabel) || cmd == "/reconcile" {
		return h.onReconcile(ctx, log, e, cmd, reply)
	}
	if op, ok := forms.ByLabel(labelNames(is.Labels)); ok && !h.repos.servesOp(repoName(e.GetRepo()), op) {
		return h.otherRepository(log, e.GetRepo(), is)
	}
	team := h.approverTeam()
	member, err := h.members.isMember(ctx, team, user)
	if err != nil {
		log.Error("could not check team membership", "err", err)
		return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not check team membership; the redelivery sweeper sends it again"}
	}
	if !member {
		reply(fmt.Sprintf("only members of %s can use %s.", team, cmd))
		return answer{http.StatusOK, outcomeUnauthorised, "not authorised"}
	}
	op, ok := forms.ByLabel(labelNames(is.Labels))
	if !ok {
		reply("this issue is not a request (it has no single request label), so there is nothing to steer.")
		return answer{http.StatusOK, outcomeInvalid, "no request"}
	}
	ci := commandIssue{ref: ref, tracking: op == forms.OpUpgradeFleet, op: op}
	if !ci.tracking {
		req, err := forms.ParseRequest(op, is.GetBody())
		if err != nil || req.InstanceSlug() == "" {
			reply("this issue's request did not start, so there is nothing to steer.")
			return answer{http.StatusOK, outcomeInvalid, "no request"}
		}
		ci.slug = req.InstanceSlug()
	}
	c, err := ci.command(cmd, arg, user)
	if err != nil {
		reply(err.Error())
		return answer{http.StatusOK, outcomeInvalid, "bad command"}
	}
	if c.status {
		text, a := h.status(ctx, ci, c)
		reply(text)
		return a
	}
	if r, ok := c.arg.(workflows.OperationRequest); ok {
		// /extend and /convert: one request per comment. The comment numbers the attempt, so a
		// second command on the same issue is a new request, not a duplicate of the first (nor of
		// the issue's own form); a redelivered comment carries the same Update ID and attempt.
		attempt, ok := commentAttempt(e)
		if !ok {
			reply(fmt.Sprintf("this comment has no ID to tell its %s apart from others; comment again.", cmd))
			return answer{http.StatusOK, outcomeInvalid, "comment without an ID"}
		}
		r.Attempt, r.Settings, r.RequestID = attempt, h.settings, rand.Text()
		if r.RequestedAt.IsZero() {
			r.RequestedAt = e.GetComment().GetCreatedAt().Time
		}
		c.arg = r
	}
	if c.slug != "" {
		// A rollout's /retry started a later attempt with its own ID: steer that one.
		if at := h.upgradeAttempt(ctx, ci.ref, c.slug); at > 1 {
			c.workflowID = workflows.UpgradeWorkflowID(c.slug, ci.ref, at)
		}
	}
	id := c.workflowID
	if d, ok := c.arg.(workflows.Decision); ok {
		v, err := h.temporal.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
		var p workflows.Progress
		if err == nil {
			err = v.Get(&p)
		}
		switch {
		case (err != nil || p.Parked == nil) && ci.tracking && (cmd == "/retry" || cmd == "/skip"):
			// Nothing parked: the instance's upgrade was refused, rolled back or failed, so the
			// rollout itself asks again or leaves the instance out.
			c = ci.rolloutInstanceCommand(cmd, d, c.slug)
			id = c.workflowID
		case err != nil && errors.As(err, new(*serviceerror.NotFound)):
			reply(fmt.Sprintf("%s is not running (`%s` never started, or is gone).", c.target, id))
			return answer{http.StatusOK, outcomeRejected, "not running"}
		case err != nil:
			log.Warn("could not query the operation for its parked step", "workflowID", id, "err", err)
			reply(fmt.Sprintf("%s does not answer (`%s`); try again in a minute. If it persists, on-call finds the error in the starter's log.", c.target, id))
			return answer{http.StatusOK, outcomeRejected, "no operation"}
		case p.Parked == nil:
			reply(fmt.Sprintf("no step is parked; %s is %s.", c.target, p.State))
			return answer{http.StatusOK, outcomeRejected, "nothing parked"}
		default:
			d.Step = p.Parked.Step
			c.arg = d
		}
	}
	handle, err := h.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: c.update,
		UpdateID: commentUpdateID(e), Args: []any{c.arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var res string
	repeated := false
	if err == nil {
		if c.update == workflows.UpdateRequest {
			var accepted workflows.RequestAccepted
			err = handle.Get(ctx, &accepted)
			res = accepted.Message
			// Temporal answered a redelivered comment with the first delivery's answer.
			sent, _ := c.arg.(workflows.OperationRequest)
			repeated = accepted.RequestID != "" && accepted.RequestID != sent.RequestID
		} else {
			err = handle.Get(ctx, &res)
		}
	}
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case err == nil && repeated:
		return answer{http.StatusOK, outcomeDuplicate, "already started"}
	case err == nil:
		log.Info("command applied", "workflowID", id)
		if res == "" {
			res = cmd[1:] + " accepted"
		}
		reply(strings.TrimSuffix(res, ".") + ".")
		return answer{http.StatusOK, outcomeAccepted, "applied"}
	case errors.As(err, &app) && app.Type() == workflows.ErrTypeDuplicateRequest:
		// This comment's request was already started (a redelivery): it was answered then.
		return answer{http.StatusOK, outcomeDuplicate, "already started"}
	case errors.As(err, &app):
		reply(app.Message())
		return answer{http.StatusOK, outcomeRejected, "refused"}
	case errors.As(err, &notFound):
		reply(fmt.Sprintf("%s is not running (`%s` ended, or never started).", c.target, id))
		return answer{http.StatusOK, outcomeRejected, "not running"}
	}
	log.Error("could not send the command", "workflowID", id, "err", err)
	reply(fmt.Sprintf("could not reach `%s` (Temporal did not answer); try again in a minute. If it persists, on-call finds the error in the starter's log. Commands here: %s.", id, ci.help()))
	return answer{http.StatusOK, outcomeFailed, "failed"}
}

// findCommand is the comment's command (lower case) and its argument, "" if it has none. A
// command is a top-level paragraph whose text starts with "/", found with a CommonMark parser (as
// GitHub renders the comment): a command shown in code, a quote, an HTML comment or a list is not
// given. The first such paragraph naming a known command counts (a path like /tmp does not), and
// its first line.
func findCommand(body string) (cmd, arg string) {
	src := []byte(strings.ReplaceAll(body, "\r\n", "\n"))
	doc := goldmark.DefaultParser().Parse(text.NewReader(src))
	for n := doc.FirstChild(); n != nil; n = n.NextSibling() {
		if n.Kind() != ast.KindParagraph || n.Lines().Len() == 0 {
			continue
		}
		first := n.Lines().At(0)
		line := strings.TrimSpace(string(first.Value(src)))
		if !strings.HasPrefix(line, "/") {
			continue
		}
		cmd, arg, _ = strings.Cut(line, " ")
		if cmd = strings.ToLower(cmd); knownCommands[cmd] {
			return cmd, strings.TrimSpace(arg)
		}
	}
	return "", ""
}

// isBot reports whether u is the service's own account or any Bot account (a GitHub App).
func (h *webhook) isBot(u *github.User) bool {
	if u == nil {
		return false
	}
	return strings.EqualFold(u.GetType(), "Bot") || strings.HasSuffix(u.GetLogin(), "[bot]") ||
		(h.self != "" && strings.EqualFold(u.GetLogin(), h.self))
}

// botLogin asks GitHub whose token the starter holds (GET /user): the login whose comments are
// never commands.
func botLogin(ctx context.Context, gh *github.Client) (string, error) {
	u, _, err := gh.Users.Get(ctx, "")
	if err != nil {
		return "", err
	}
	if u.GetLogin() == "" {
		return "", errors.New("GitHub answered GET /user without a login")
	}
	return strings.ToLower(u.GetLogin()), nil
}

// status answers /status: the progress of a request's operation, or the phase and counts of a
// tracking issue's rollout.
func (h *webhook) status(ctx context.Context, ci commandIssue, c command) (string, answer) {
	ok := answer{http.StatusOK, outcomeAccepted, "status"}
	if ci.tracking {
		var st workflows.RolloutState
		v, err := h.temporal.QueryWorkflow(ctx, c.workflowID, "", workflows.QueryRollout)
		if err == nil {
			err = v.Get(&st)
		}
		if err != nil {
			return h.notAnswering(c, err)
		}
		return rolloutStatus(st, h.settings.RunURL(c.workflowID)), ok
	}
	// The issue's latest operation, as the instance records it (a /convert on this issue runs
	// under its own ID); else the operation the issue's form starts.
	id := c.workflowID
	var rec workflows.InstanceRecord
	v, recErr := h.temporal.QueryWorkflow(ctx, workflows.InstanceWorkflowID(ci.slug), "", workflows.QueryInstance)
	if recErr == nil {
		recErr = v.Get(&rec)
	}
	if recErr == nil {
		if latest := latestOperation(rec, ci.ref); latest != "" {
			id = latest
		}
	}
	if notFound := new(serviceerror.NotFound); recErr != nil && !errors.As(recErr, &notFound) {
		// Temporal did not answer (in time): a second query would not either, and the delivery's
		// budget must leave time for the answer on the issue.
		c.workflowID = workflows.InstanceWorkflowID(ci.slug)
		return h.notAnswering(c, recErr)
	}
	var p workflows.Progress
	v, err := h.temporal.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
	if err == nil {
		err = v.Get(&p)
	}
	switch {
	case err == nil:
		return "the progress of `" + id + "`:\n\n" + workflows.RenderProgress(p, h.settings.RunURL(id)), ok
	case recErr == nil:
		return instanceStatus(rec), ok
	}
	c.workflowID = id
	return h.notAnswering(c, err)
}

// notAnswering is the reply to /status when the workflow cannot be queried; the error goes to the log.
func (h *webhook) notAnswering(c command, err error) (string, answer) {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Sprintf("%s is not running (`%s` never started, or is gone).", c.target, c.workflowID),
			answer{http.StatusOK, outcomeRejected, "not running"}
	}
	h.log.Warn("could not query the workflow for /status", "workflowID", c.workflowID, "err", err)
	return fmt.Sprintf("%s does not answer (`%s`); try again in a minute. If it persists, on-call finds the error in the starter's log.", c.target, c.workflowID),
		answer{http.StatusOK, outcomeRejected, "no answer"}
}

// latestOperation is the workflow of the newest operation the instance ran for this issue, "" if
// none (a trial extension has no workflow).
func latestOperation(rec workflows.InstanceRecord, ref workflows.IssueRef) string {
	of := func(r *workflows.OperationRef) bool { return r.Issue != nil && *r.Issue == ref && r.WorkflowID != "" }
	if r := rec.Current; r != nil && of(r) {
		return r.WorkflowID
	}
	for i := len(rec.History) - 1; i >= 0; i-- {
		if of(&rec.History[i]) {
			return rec.History[i].WorkflowID
		}
	}
	return ""
}

// instanceStatus describes an instance with no operation workflow for the issue.
func instanceStatus(rec workflows.InstanceRecord) string {
	state := string(rec.State)
	if state == "" {
		state = "not created"
	}
	s := fmt.Sprintf("no operation workflow of this issue answers; instance `%s` is **%s**", rec.Instance.Slug, state)
	if cur := rec.Current; cur != nil {
		s += fmt.Sprintf(", running `%s` (`%s`)", cur.Operation, cur.WorkflowID)
	}
	if t := rec.Trial; t != nil {
		s += ", its trial expires **" + t.ExpiresAt.UTC().Format("2006-01-02 15:04 MST") + "**"
	}
	return s + "."
}

// rolloutStatus is a rollout's phase, reason and counts, for /status on its tracking issue.
func rolloutStatus(st workflows.RolloutState, runURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the rollout of **%s** is **%s**", st.Version, st.Phase)
	if n := len(st.Waves); n > 0 && st.Wave < n {
		fmt.Fprintf(&b, " (wave %d of %d: %s)", st.Wave+1, n, st.Waves[st.Wave].Name)
	}
	b.WriteString(".")
	if st.Reason != "" {
		b.WriteString("\n\n> " + strings.ReplaceAll(strings.TrimSpace(st.Reason), "\n", "\n> "))
	}
	counts := map[workflows.UpgradeStatus]int{}
	total := 0
	for _, w := range st.Waves {
		counts[workflows.UpgradeSucceeded] += w.Upgraded
		total += w.Upgraded + len(w.Instances)
		for _, in := range w.Instances {
			counts[in.Status]++
		}
	}
	var parts []string
	for _, s := range []workflows.UpgradeStatus{workflows.UpgradeSucceeded, workflows.UpgradeRunning, workflows.UpgradeParked,
		workflows.UpgradePending, workflows.UpgradeSkipped, workflows.UpgradeRejected, workflows.UpgradeRolledBack, workflows.UpgradeFailed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
		delete(counts, s)
	}
	for _, s := range slices.Sorted(maps.Keys(counts)) { // a status added later
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	fmt.Fprintf(&b, "\n\n%d instance(s) in the plan", total)
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	if len(st.Left) > 0 {
		fmt.Fprintf(&b, "; %d left out", len(st.Left))
	}
	b.WriteString(".")
	if runURL != "" {
		b.WriteString("\n\n[The rollout in the Web UI](" + runURL + ")")
	}
	return b.String()
}

// commentAttempt numbers a request made by a comment (/extend, /convert) after the comment's ID,
// which GitHub never reuses. 0 and 1 mean "the first attempt" to the instance (the issue's own
// form), so a comment without a usable ID has none.
func commentAttempt(e *github.IssueCommentEvent) (int, bool) {
	id := e.GetComment().GetID()
	if id < 2 || int64(int(id)) != id {
		return 0, false
	}
	return int(id), true
}

// upgradeAttempt is the rollout's latest attempt for an instance (0 if the rollout does not
// answer or does not list it: the first attempt's ID is used).
func (h *webhook) upgradeAttempt(ctx context.Context, ref workflows.IssueRef, slug string) int {
	v, err := h.temporal.QueryWorkflow(ctx, workflows.RolloutWorkflowID(ref), "", workflows.QueryRollout)
	var st workflows.RolloutState
	if err != nil || v.Get(&st) != nil {
		return 0
	}
	for _, w := range st.Waves {
		for _, in := range w.Instances {
			if in.Slug == slug {
				return in.Attempt
			}
		}
	}
	return 0
}

// commentUpdateID names a command's Update after its comment, so a redelivered comment is answered
// with the first delivery's result instead of applying the command twice.
func commentUpdateID(e *github.IssueCommentEvent) string {
	if id := e.GetComment().GetID(); id != 0 {
		return fmt.Sprintf("comment/%d", id)
	}
	return ""
}

func labelNames(ls []*github.Label) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.GetName())
	}
	return out
}
