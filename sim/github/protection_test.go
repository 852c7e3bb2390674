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
	return protectedPullWith(t, bot, admin, &gh.ProtectionRequest{
		RequiredStatusChecks:       &gh.RequiredStatusChecks{Contexts: []string{"ci/validate"}},
		RequiredPullRequestReviews: &gh.PullRequestReviewsEnforcementRequest{RequiredApprovingReviewCount: 1},
	})
}

// protectedPullWith protects main of o/r as asked and opens a pull request as the bot changing
// one file. It returns the pull request's number and head.
func protectedPullWith(t *testing.T, bot, admin *gh.Client, prot *gh.ProtectionRequest) (int, string) {
	t.Helper()
	if _, _, err := admin.Repositories.UpdateBranchProtection(ctx, "o", "r", "main", prot); err != nil {
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

// TestRequiredCheckReportedAsCheckRun: a required check pinned to GitHub Actions (app_id 15368) is
// reported by the simulated CI as a check run, not a commit status, as Actions does. go-github's
// ListCheckRunsForRef sees it in_progress then completed; the merge waits for it with the same
// 405, and the combined status never shows it.
func TestRequiredCheckReportedAsCheckRun(t *testing.T) {
	e := startWith(t, func(o *github.Options) { o.CIDelay = 300 * time.Millisecond })
	bot, bob := e.client(t, "bot-token"), e.client(t, "bob-token")
	n, head := protectedPullWith(t, bot, bob, &gh.ProtectionRequest{RequiredStatusChecks: &gh.RequiredStatusChecks{
		Checks: []*gh.RequiredStatusCheck{{Context: "build", AppID: gh.Int64(github.GitHubActionsAppID)}}}})
	p, _, err := bot.Repositories.GetBranchProtection(ctx, "o", "r", "main")
	if err != nil || len(p.GetRequiredStatusChecks().Checks) != 1 || p.GetRequiredStatusChecks().Checks[0].GetAppID() != 15368 {
		t.Fatalf("protection: %+v, %v", p.GetRequiredStatusChecks(), err)
	}

	runs, _, err := bot.Checks.ListCheckRunsForRef(ctx, "o", "r", head, nil)
	if err != nil || runs.GetTotal() != 1 || len(runs.CheckRuns) != 1 {
		t.Fatalf("check runs while CI runs: %+v, %v", runs, err)
	}
	cr := runs.CheckRuns[0]
	if cr.GetName() != "build" || cr.GetStatus() != "in_progress" || cr.Conclusion != nil || cr.CompletedAt != nil ||
		cr.GetHeadSHA() != head || cr.GetApp().GetID() != 15368 || cr.GetApp().GetSlug() != "github-actions" || cr.StartedAt == nil {
		t.Fatalf("check run while CI runs: %+v", cr)
	}
	_, _, err = bot.PullRequests.Merge(ctx, "o", "r", n, "", nil)
	merge405(t, err, `Required status check "build" is expected.`)
	if cs, _, err := bot.Repositories.GetCombinedStatus(ctx, "o", "r", head, nil); err != nil || cs.GetTotalCount() != 0 {
		t.Fatalf("a check run is no commit status: %+v, %v", cs, err)
	}

	eventually(t, "the check run to complete", func() bool {
		runs, _, err := bot.Checks.ListCheckRunsForRef(ctx, "o", "r", "change", &gh.ListCheckRunsOptions{CheckName: gh.String("build")})
		return err == nil && runs.GetTotal() == 1 && runs.CheckRuns[0].GetStatus() == "completed"
	})
	runs, _, err = bot.Checks.ListCheckRunsForRef(ctx, "o", "r", head, &gh.ListCheckRunsOptions{Status: gh.String("completed")})
	if err != nil || runs.GetTotal() != 1 || runs.CheckRuns[0].GetConclusion() != "success" || runs.CheckRuns[0].CompletedAt == nil {
		t.Fatalf("check run after CI: %+v, %v", runs, err)
	}
	if runs, _, err := bot.Checks.ListCheckRunsForRef(ctx, "o", "r", head, &gh.ListCheckRunsOptions{Status: gh.String("queued")}); err != nil || runs.GetTotal() != 0 || runs.CheckRuns == nil {
		t.Fatalf("filtered by status: %+v, %v", runs, err)
	}
	if _, _, err := bot.Checks.ListCheckRunsForRef(ctx, "o", "r", "no-such-ref", nil); status(err) != 422 {
		t.Fatalf("an unknown ref: want 422, got %v", err)
	}
	if _, _, err := bot.PullRequests.Merge(ctx, "o", "r", n, "", nil); err != nil {
		t.Fatal(err)
	}
}

// TestRequiredChecksCountStatusesAndCheckRuns: a required context no app is pinned to is
// satisfied by a commit status or a check run of that name; when both exist both must pass, and
// a check run completed without success, neutral or skipped fails it. A check pinned to an app
// counts that app's check runs only.
func TestRequiredChecksCountStatusesAndCheckRuns(t *testing.T) {
	e := startWith(t, func(o *github.Options) { o.CIDelay = -1 }) // the test reports CI itself
	bot, bob := e.client(t, "bot-token"), e.client(t, "bob-token")
	n, head := protectedPullWith(t, bot, bob, &gh.ProtectionRequest{RequiredStatusChecks: &gh.RequiredStatusChecks{
		Checks: []*gh.RequiredStatusCheck{{Context: "test"}, {Context: "build", AppID: gh.Int64(github.GitHubActionsAppID)}}}})
	report := func(run github.CheckRun) {
		t.Helper()
		if err := e.part.ReportCheckRun("o/r", head, run); err != nil {
			t.Fatal(err)
		}
	}
	setStatus := func(ctxName, state string) {
		t.Helper()
		if _, _, err := bot.Repositories.CreateStatus(ctx, "o", "r", head, &gh.RepoStatus{State: gh.String(state), Context: gh.String(ctxName)}); err != nil {
			t.Fatal(err)
		}
	}
	merge := func(want string) {
		t.Helper()
		_, _, err := bot.PullRequests.Merge(ctx, "o", "r", n, "", nil)
		merge405(t, err, want)
	}

	// "test": a check run alone satisfies it; a status of the same name must pass too.
	report(github.CheckRun{Name: "test", Status: "queued", AppID: 42})
	merge(`Required status check "test" is expected.`)
	report(github.CheckRun{Name: "test", Status: "completed", Conclusion: "failure", AppID: 42})
	merge(`Required status check "test" is failing.`)
	report(github.CheckRun{Name: "test", Status: "completed", Conclusion: "neutral", AppID: 42})
	merge(`Required status check "build" is expected.`)
	setStatus("test", "failure")
	merge(`Required status check "test" is failing.`)
	setStatus("test", "success")

	// "build" is pinned to GitHub Actions: neither a status nor another app's run counts.
	setStatus("build", "success")
	report(github.CheckRun{Name: "build", Status: "completed", Conclusion: "success", AppID: 42})
	merge(`Required status check "build" is expected.`)
	report(github.CheckRun{Name: "build", Status: "completed", Conclusion: "timed_out"})
	merge(`Required status check "build" is failing.`)
	report(github.CheckRun{Name: "build", Status: "completed", Conclusion: "skipped"})

	all, _, err := bot.Checks.ListCheckRunsForRef(ctx, "o", "r", head, &gh.ListCheckRunsOptions{Filter: gh.String("all")})
	latest, _, err2 := bot.Checks.ListCheckRunsForRef(ctx, "o", "r", head, &gh.ListCheckRunsOptions{AppID: gh.Int64(42)})
	if err != nil || err2 != nil || all.GetTotal() != 6 || latest.GetTotal() != 2 {
		t.Fatalf("filter=all: %d runs (%v); latest of app 42: %d runs (%v)", all.GetTotal(), err, latest.GetTotal(), err2)
	}
	if err := e.part.ReportCheckRun("o/r", head, github.CheckRun{Name: "x", Status: "done"}); err == nil {
		t.Fatal("a bad status must be refused")
	}
	if _, _, err := bot.PullRequests.Merge(ctx, "o", "r", n, "", nil); err != nil {
		t.Fatal(err)
	}
}
