package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/google/go-github/v55/github"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/workflows"
)

// onReconcile serves the allowlist drift issue: `/reconcile` from a member of the approver team
// starts ReconcileAllowlists, once per comment (its workflow ID names the comment, and a closed
// run's ID is not reused, so a redelivery never runs it twice). Any other command there, or
// `/reconcile` elsewhere, gets an answer saying where each belongs.
func (h *webhook) onReconcile(ctx context.Context, log *slog.Logger, e *github.IssueCommentEvent, cmd string, reply func(string)) answer {
	is := e.GetIssue()
	repo := repoName(e.GetRepo())
	driftRepo := h.driftRepo
	if driftRepo == "" {
		driftRepo = workflows.DefaultDriftRepo
	}
	if repo != driftRepo {
		return h.otherRepository(log, e.GetRepo(), is)
	}
	onDriftIssue := slices.Contains(labelNames(is.Labels), workflows.DriftLabel)
	team := h.approverTeam()
	user := e.GetComment().GetUser().GetLogin()
	member, err := h.members.isMember(ctx, team, user)
	if err != nil {
		log.Error("could not check team membership", "err", err)
		return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not check team membership; the redelivery sweeper sends it again"}
	}
	switch {
	case !member:
		reply(fmt.Sprintf("only members of %s can use %s.", team, cmd))
		return answer{http.StatusOK, outcomeUnauthorised, "not authorised"}
	case !onDriftIssue:
		reply(fmt.Sprintf("`/reconcile` works on the allowlist drift issue only (label `%s`); on-call can run `mi reconcile`.", workflows.DriftLabel))
		return answer{http.StatusOK, outcomeInvalid, "not the drift issue"}
	case cmd != "/reconcile":
		reply(fmt.Sprintf("`%s` is not a command for the allowlist drift issue. Command here: `/reconcile`, which puts config.yaml's allowlists back in Cloudflare.", cmd))
		return answer{http.StatusOK, outcomeInvalid, "bad command"}
	}
	id := e.GetComment().GetID()
	if id == 0 {
		reply("this comment has no ID to tell its /reconcile apart from others; comment again.")
		return answer{http.StatusOK, outcomeInvalid, "comment without an ID"}
	}
	wid := workflows.ReconcileWorkflowID(fmt.Sprintf("comment-%d", id))
	in := workflows.ReconcileInput{Repo: driftRepo, Issue: is.GetNumber(), By: "@" + user + " (`/reconcile`)", Revision: workflows.CurrentRevision}
	_, err = h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary: "allowlist reconcile by @" + user}, workflows.WorkflowReconcileAllowlists, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		return answer{http.StatusOK, outcomeDuplicate, "already started"}
	case err != nil:
		log.Error("could not start the reconcile", "workflowID", wid, "err", err)
		return answer{http.StatusServiceUnavailable, outcomeUnavailable, "could not start the reconcile; the redelivery sweeper sends it again"}
	}
	log.Info("reconcile started", "workflowID", wid)
	reply(fmt.Sprintf("reconcile started (`%s`): config.yaml's allowlists go back on every drifted hostname, the result is commented here, and this issue closes when nothing differs.", wid))
	return answer{http.StatusOK, outcomeAccepted, "reconcile started"}
}
