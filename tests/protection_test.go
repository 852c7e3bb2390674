package tests

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// TestProtectedConfigRepoWaitsForAReview protects the config repo's main as a real one would be
// (two required checks of the simulated CI, ci/validate reported as a commit status and build as
// a GitHub Actions check run, and one approving review): the create waits for the checks without
// rebasing, parks with "needs a review" and the pull request's link, and goes on by itself once
// bob approves the pull request through GitHub's reviews API.
func TestProtectedConfigRepoWaitsForAReview(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-review"
	ctx := context.Background()
	bob := stack.GitHubAs("bob")
	if _, _, err := bob.Repositories.UpdateBranchProtection(ctx, "sourcegraph", "cloud", "main", &github.ProtectionRequest{
		RequiredStatusChecks: &github.RequiredStatusChecks{Checks: []*github.RequiredStatusCheck{
			{Context: "ci/validate"}, {Context: "build", AppID: github.Int64(15368)}}}, // 15368: GitHub Actions
		RequiredPullRequestReviews: &github.PullRequestReviewsEnforcementRequest{RequiredApprovingReviewCount: 1},
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = bob.Repositories.RemoveBranchProtection(ctx, "sourcegraph", "cloud", "main") })

	create := fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, devstack.SampleNewInstanceBody(slug))
	id := opID(forms.OpCreate, slug, create)
	// The create changes config.yaml twice (the config, then alerting): each pull request parks
	// the step until bob approves it on GitHub; nobody tells the workflow.
	approved := map[string]bool{}
	eventually(t, 3*time.Minute, "the create to finish, each config pull request approved", func() bool {
		p, err := progressOf(t, tc, id)
		if err != nil {
			return false
		}
		if p.State == "succeeded" {
			return true
		}
		pk := p.Parked
		if pk == nil || approved[pk.Review] {
			return false
		}
		if pk.ErrorType != "NeedsReview" || pk.Review == "" || !strings.HasPrefix(pk.Error, "needs a review: "+pk.Review) ||
			!strings.Contains(pk.Review, "/sourcegraph/cloud/pull/") {
			t.Fatalf("parked on %+v", pk)
		}
		if !strings.Contains(statusComment(t, create.GetNumber(), id), "needs a review: "+pk.Review) {
			return false // not on the issue yet
		}
		n, err := strconv.Atoi(pk.Review[strings.LastIndex(pk.Review, "/")+1:])
		if err != nil {
			t.Fatalf("review link %q", pk.Review)
		}
		if _, _, err := bob.PullRequests.CreateReview(ctx, "sourcegraph", "cloud", n, &github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err != nil {
			t.Fatal(err)
		}
		approved[pk.Review] = true
		return false
	})
	if len(approved) == 0 {
		t.Fatal("the create never waited for a review")
	}
	waitState(t, tc, slug, workflows.StateActive, time.Minute)
	var p workflows.Progress
	var err error
	if p, err = progressOf(t, tc, id); err != nil {
		t.Fatal(err)
	}
	if p.State != "succeeded" || len(p.Decisions) != 0 {
		t.Errorf("after the approval: state %s, decisions %+v (want none: it went on by itself)", p.State, p.Decisions)
	}
	for link := range approved {
		n, _ := strconv.Atoi(link[strings.LastIndex(link, "/")+1:])
		if merged, _, err := bob.PullRequests.IsMerged(ctx, "sourcegraph", "cloud", n); err != nil || !merged {
			t.Errorf("pull request #%d merged %v, %v", n, merged, err)
		}
		pr, _, err := bob.PullRequests.Get(ctx, "sourcegraph", "cloud", n)
		if err != nil {
			t.Fatal(err)
		}
		runs, _, err := bob.Checks.ListCheckRunsForRef(ctx, "sourcegraph", "cloud", pr.GetHead().GetSHA(), &github.ListCheckRunsOptions{CheckName: github.String("build")})
		if err != nil || runs.GetTotal() != 1 || runs.CheckRuns[0].GetConclusion() != "success" {
			t.Errorf("pull request #%d: the build check run: %+v, %v", n, runs, err)
		}
	}
}
