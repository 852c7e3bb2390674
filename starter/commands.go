package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// Slash commands on a request's issue steer its running operation, and on an upgrade-tracking
// issue its fleet rollout and the rollout's instance upgrades: the same Updates the Temporal CLI and
// Web UI send (DESIGN.md invariant 5), for members of the approver team only.
const (
	requestHelp = "`/retry`, `/skip <reason>`, `/abort [reason]` (or `/rollback [reason]`), `/restore [reason]` " +
		"for a parked step; `/approve [reason]`, `/cancel <reason>` for a teardown"
	trackingHelp = "`/pause [reason]`, `/resume [reason]`, `/abort [reason]`, `/approve [reason]` for the rollout; " +
		"`/retry <slug>`, `/skip <slug> <reason>`, `/rollback <slug> [reason]`, `/restore <slug> [reason]` " +
		"for an instance's parked upgrade (`/retry <slug>` and `/skip <slug> <reason>` also ask again for, or leave out, an instance whose upgrade was refused, rolled back or failed)"
)

// knownCommands are the slash commands of either kind of issue. Any other "/word" is not for us
// and gets no answer.
var knownCommands = map[string]bool{
	"/retry": true, "/skip": true, "/abort": true, "/rollback": true, "/restore": true, "/approve": true,
	"/cancel": true, "/pause": true, "/resume": true,
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
		switch cmd {
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
func (h *webhook) onComment(ctx context.Context, log *slog.Logger, e *github.IssueCommentEvent) (string, int) {
	body := strings.TrimSpace(e.GetComment().GetBody())
	if e.GetAction() != "created" || !strings.HasPrefix(body, "/") {
		return "not a command", http.StatusAccepted
	}
	line, _, _ := strings.Cut(body, "\n")
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	cmd, arg = strings.ToLower(cmd), strings.TrimSpace(arg)
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
		return "unknown command", http.StatusAccepted
	}
	team := h.settings.ApproverTeam
	if team == "" {
		team = workflows.DefaultApproverTeam
	}
	org, slug, _ := strings.Cut(team, "/")
	m, _, err := h.gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, user)
	if err != nil || m.GetState() != "active" {
		var gerr *github.ErrorResponse
		if err != nil && !(errors.As(err, &gerr) && gerr.Response != nil && gerr.Response.StatusCode == http.StatusNotFound) {
			log.Error("could not check team membership", "err", err)
			return "could not check team membership; GitHub will redeliver", http.StatusServiceUnavailable
		}
		reply(fmt.Sprintf("only members of %s can use %s.", team, cmd))
		return "not authorised", http.StatusOK
	}
	op, ok := forms.ByLabel(labelNames(is.Labels))
	if !ok {
		reply("this issue is not a request (it has no single request label), so there is nothing to steer.")
		return "no request", http.StatusOK
	}
	ci := commandIssue{ref: ref, tracking: op == forms.OpUpgradeFleet, op: op}
	if !ci.tracking {
		req, err := forms.ParseRequest(op, is.GetBody())
		if err != nil || req.InstanceSlug() == "" {
			reply("this issue's request did not start, so there is nothing to steer.")
			return "no request", http.StatusOK
		}
		ci.slug = req.InstanceSlug()
	}
	c, err := ci.command(cmd, arg, user)
	if err != nil {
		reply(err.Error())
		return "bad command", http.StatusOK
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
		case err != nil:
			reply(fmt.Sprintf("%s does not answer (`%s`): %v", c.target, id, err))
			return "no operation", http.StatusOK
		case p.Parked == nil:
			reply(fmt.Sprintf("no step is parked; %s is %s.", c.target, p.State))
			return "nothing parked", http.StatusOK
		default:
			d.Step = p.Parked.Step
			c.arg = d
		}
	}
	handle, err := h.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: c.update,
		UpdateID: commentUpdateID(e), Args: []any{c.arg}, WaitForStage: client.WorkflowUpdateStageCompleted})
	var res string
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		log.Info("command applied", "workflowID", id)
		if res == "" {
			res = cmd[1:] + " accepted"
		}
		reply(res + ".")
		return "applied", http.StatusOK
	case errors.As(err, &app):
		reply(app.Message())
		return "refused", http.StatusOK
	case errors.As(err, &notFound):
		reply(fmt.Sprintf("%s is not running (`%s` ended, or never started).", c.target, id))
		return "not running", http.StatusOK
	}
	log.Error("could not send the command", "workflowID", id, "err", err)
	reply(fmt.Sprintf("could not reach `%s`: %v. Commands here: %s.", id, err, ci.help()))
	return "failed", http.StatusOK
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
