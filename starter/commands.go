package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// Slash commands on a request's issue steer its running operation: the same Updates the Temporal
// CLI and Web UI send (DESIGN.md invariant 5), for members of the approver team only.
const commandHelp = "`/retry`, `/skip <reason>`, `/abort [reason]`, `/approve`, `/cancel <reason>`"

// onComment runs a slash command from a new comment on a request's issue.
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
	switch cmd {
	case "/retry", "/skip", "/abort", "/approve", "/cancel":
	default:
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
	req, err := forms.ParseRequest(op, is.GetBody())
	if err != nil || req.InstanceSlug() == "" {
		reply("this issue's request did not start, so there is nothing to steer.")
		return "no request", http.StatusOK
	}
	id := workflows.OperationWorkflowID(op, req.InstanceSlug(), workflows.IssueKey(ref))
	var name string
	var arg0 any
	switch cmd {
	case "/approve":
		name, arg0 = workflows.UpdateApprove, workflows.Approval{By: user, Reason: arg}
	case "/cancel":
		name, arg0 = workflows.UpdateCancel, workflows.Approval{By: user, Reason: arg}
	default:
		v, err := h.temporal.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
		var p workflows.Progress
		if err == nil {
			err = v.Get(&p)
		}
		if err != nil {
			reply(fmt.Sprintf("no operation of this issue answers (`%s`): %v", id, err))
			return "no operation", http.StatusOK
		}
		if p.Parked == nil {
			reply(fmt.Sprintf("no step is parked; the operation is %s.", p.State))
			return "nothing parked", http.StatusOK
		}
		name, arg0 = workflows.UpdateDecide, workflows.Decision{Step: p.Parked.Step, Action: strings.TrimPrefix(cmd, "/"), By: user, Reason: arg}
	}
	handle, err := h.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: name, Args: []any{arg0},
		WaitForStage: client.WorkflowUpdateStageCompleted})
	var res string
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	var app *temporal.ApplicationError
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
	}
	log.Error("could not send the command", "workflowID", id, "err", err)
	reply(fmt.Sprintf("could not reach `%s`: %v. Known commands: %s.", id, err, commandHelp))
	return "failed", http.StatusOK
}

func labelNames(ls []*github.Label) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.GetName())
	}
	return out
}
