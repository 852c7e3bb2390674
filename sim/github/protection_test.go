package github_test

import (
	"errors"
	"testing"
	"time"

	gh "github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/sim/github"
)

// protectedPull protects main of o/r with ci/validate and one approving review, and opens a pull
// request as the bot changing one file. It returns the pull request's number and head.
func protectedPull(t *testing.T, bot, admin *gh.Client) (int, string) {
	t.Helper()
	_, _, err := admin.Repositories.UpdateBranchProtection(ctx, "o", "r", "main", &gh.ProtectionRequest{
		RequiredStatusChecks:       &gh.RequiredStatusChecks{Contexts: []string{"ci/validate"}},
		RequiredPullRequestReviews: &gh.PullRequestReviewsEnforcementRequest{RequiredApprovingReviewCount: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := bot.Repositories.GetBranch(ctx, "o", "r", "main", false)
	if err != nil || !b.GetProtected() {
		t.Fatalf("branch main: protected %v, %v", b.GetProtected(), err)
	}
	ref, _, err := bot.Git.GetRef(ctx, "o", "r", "heads/main")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bot.Git.CreateRef(ctx, "o", "r", &gh.Reference{Ref: gh.String("refs/heads/change"), Object: ref.Object}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bot.Repositories.CreateFile(ctx, "o", "r", "a.txt", &gh.RepositoryContentFileOptions{
		Message: gh.String("change"), Content: []byte("a"), Branch: gh.String("change")}); err != nil {
		t.Fatal(err)
	}
	pr, _, err := bot.PullRequests.Create(ctx, "o", "r", &gh.NewPullRequest{Title: gh.String("change"), Head: gh.String("change"), Base: gh.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	return pr.GetNumber(), pr.GetHead().GetSHA()
}

func merge405(t *testing.T, err error, want string) {
	t.Helper()
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 405 || er.Message != want {
		t.Fatalf("want 405 %q, got %v", want, err)
	}
}

// TestBranchProtectionRequiresReviewsAndChecks drives go-github against a protected branch:
// the merge is refused with GitHub's messages until another user approves and the required
// status check reports success.
func TestBranchProtectionRequiresReviewsAndChecks(t *testing.T) {
	e := startWith(t, func(o *github.Options) { o.CIDelay = -1 }) // the test reports CI itself
	bot, bob := e.client(t, "bot-token"), e.client(t, "bob-token")
	n, head := protectedPull(t, bot, bob)

	p, _, err := bot.Repositories.GetBranchProtection(ctx, "o", "r", "main")
	if err != nil || p.GetRequiredPullRequestReviews().RequiredApprovingReviewCount != 1 ||
		len(p.GetRequiredStatusChecks().Contexts) != 1 {
		t.Fatalf("protection: %+v, %v", p, err)
	}
	if _, _, err := bot.Repositories.GetBranchProtection(ctx, "o", "r", "change"); !errors.Is(err, gh.ErrBranchNotProtected) {
		t.Fatalf("an unprotected branch: want go-github's ErrBranchNotProtected (404 Branch not protected), got %v", err)
	}

	_, _, err = bot.PullRequests.Merge(ctx, "o", "r", n, "", nil)
	merge405(t, err, "At least 1 approving review is required by reviewers with write access.")
	pr, _, _ := bot.PullRequests.Get(ctx, "o", "r", n)
	if pr.GetMergeableState() != "blocked" {
		t.Fatalf("mergeable_state %q, want blocked", pr.GetMergeableState())
	}

	// The author cannot approve; another user can.
	_, _, err = bot.PullRequests.CreateReview(ctx, "o", "r", n, &gh.PullRequestReviewRequest{Event: gh.String("APPROVE")})
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Message != "Can not approve your own pull request" {
		t.Fatalf("self-approval: %v", err)
	}
	rv, _, err := bob.PullRequests.CreateReview(ctx, "o", "r", n, &gh.PullRequestReviewRequest{Event: gh.String("APPROVE")})
	if err != nil || rv.GetState() != "APPROVED" || rv.GetCommitID() != head {
		t.Fatalf("approval: %+v, %v", rv, err)
	}
	reviews, _, err := bot.PullRequests.ListReviews(ctx, "o", "r", n, nil)
	if err != nil || len(reviews) != 1 || reviews[0].GetUser().GetLogin() != "bob" {
		t.Fatalf("reviews: %v, %v", reviews, err)
	}

	_, _, err = bot.PullRequests.Merge(ctx, "o", "r", n, "", nil)
	merge405(t, err, `Required status check "ci/validate" is expected.`)
	cs, _, err := bot.Repositories.GetCombinedStatus(ctx, "o", "r", head, nil)
	if err != nil || cs.GetState() != "pending" || cs.GetTotalCount() != 0 {
		t.Fatalf("combined status before CI: %+v, %v", cs, err)
	}
	for _, st := range []string{"pending", "failure"} {
		if _, _, err := bot.Repositories.CreateStatus(ctx, "o", "r", head, &gh.RepoStatus{State: gh.String(st), Context: gh.String("ci/validate")}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = bot.PullRequests.Merge(ctx, "o", "r", n, "", nil)
	merge405(t, err, `Required status check "ci/validate" is failing.`)
	if _, _, err := bot.Repositories.CreateStatus(ctx, "o", "r", head, &gh.RepoStatus{State: gh.String("bogus")}); status(err) != 422 {
		t.Fatalf("a bad state: want 422, got %v", err)
	}
	if _, _, err := bot.Repositories.CreateStatus(ctx, "o", "r", head, &gh.RepoStatus{State: gh.String("success"), Context: gh.String("ci/validate")}); err != nil {
		t.Fatal(err)
	}
	cs, _, err = bot.Repositories.GetCombinedStatus(ctx, "o", "r", head, nil)
	if err != nil || cs.GetState() != "success" || cs.GetTotalCount() != 1 {
		t.Fatalf("combined status after CI: %+v, %v", cs, err)
	}
	if _, _, err := bot.PullRequests.Merge(ctx, "o", "r", n, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Repositories.RemoveBranchProtection(ctx, "o", "r", "main"); err != nil {
		t.Fatal(err)
	}
}

// TestSimulatedCIReportsRequiredChecks: the simulated CI reports the required contexts pending
// at once and success after the delay.
func TestSimulatedCIReportsRequiredChecks(t *testing.T) {
	e := startWith(t, func(o *github.Options) { o.CIDelay = 200 * time.Millisecond })
	bot, bob := e.client(t, "bot-token"), e.client(t, "bob-token")
	n, head := protectedPull(t, bot, bob)
	cs, _, err := bot.Repositories.GetCombinedStatus(ctx, "o", "r", head, nil)
	if err != nil || cs.GetState() != "pending" || cs.GetTotalCount() != 1 {
		t.Fatalf("combined status while CI runs: %+v, %v", cs, err)
	}
	eventually(t, "CI to pass", func() bool {
		cs, _, err := bot.Repositories.GetCombinedStatus(ctx, "o", "r", head, nil)
		return err == nil && cs.GetState() == "success"
	})
	if _, _, err := bob.PullRequests.CreateReview(ctx, "o", "r", n, &gh.PullRequestReviewRequest{Event: gh.String("APPROVE")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bot.PullRequests.Merge(ctx, "o", "r", n, "", nil); err != nil {
		t.Fatal(err)
	}
}
