package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

func TestRolloutStart(t *testing.T) {
	ref := workflows.IssueRef{Owner: "sourcegraph", Repo: "customer", Number: 12}
	created := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	is := &github.Issue{Number: github.Int(12), User: &github.User{Login: github.String("dave")},
		CreatedAt: &github.Timestamp{Time: created}}
	up := forms.UpgradeTracking{Version: "5.10.0", Concurrency: 3, RequireApproval: true}
	settings := workflows.Settings{Canary: "rctest", RolloutWaves: []int{50, 100}}

	opts, in := rolloutStart(ref, is, up, settings)
	if opts.ID != workflows.RolloutWorkflowID(ref) || opts.TaskQueue != workflows.TaskQueue {
		t.Errorf("started %q on %q", opts.ID, opts.TaskQueue)
	}
	if opts.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE ||
		opts.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL {
		t.Errorf("a redelivered issue could start a second rollout: reuse %s, conflict %s", opts.WorkflowIDReusePolicy, opts.WorkflowIDConflictPolicy)
	}
	if op, _ := opts.TypedSearchAttributes.GetKeyword(workflows.SAOperation); op != "upgrade-fleet" {
		t.Errorf("Operation search attribute %q", op)
	}
	if issue, _ := opts.TypedSearchAttributes.GetKeyword(workflows.SAIssue); issue != "sourcegraph/customer#12" {
		t.Errorf("Issue search attribute %q", issue)
	}
	for _, s := range []string{opts.StaticSummary, opts.StaticDetails} {
		if !strings.Contains(s, "5.10.0") || !strings.Contains(s, "sourcegraph/customer#12") {
			t.Errorf("summary or details %q: want the version and the issue", s)
		}
	}
	r := in.Request
	if r.Issue != ref || r.Requester != "dave" || !r.RequestedAt.Equal(created) || r.Upgrade != up ||
		r.Settings.Canary != "rctest" || len(r.Settings.RolloutWaves) != 2 || in.State != nil {
		t.Errorf("input %+v", in)
	}
}
