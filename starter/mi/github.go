package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/workflows"
)

// githubTimeout bounds each GitHub call of mi start.
const githubTimeout = 15 * time.Second

// githubClient is the bot's go-github client from the same GITHUB_TOKEN and GITHUB_API_URL the
// worker and the starter read. mi start needs it: the issue is checked before anything starts, and
// who asked and why is written on it.
func (a *app) githubClient() (*github.Client, error) {
	token := strings.TrimSpace(a.getenv("GITHUB_TOKEN"))
	if token == "" {
		return nil, errors.New("GITHUB_TOKEN is not set: mi start checks the -issue on GitHub and records the request on it. " +
			"Set GITHUB_TOKEN to the bot's token (the worker's), and GITHUB_API_URL for GitHub Enterprise or the local stack's simulator")
	}
	return config.GitHub{Token: token, APIURL: strings.TrimSpace(a.getenv("GITHUB_API_URL"))}.Client(nil)
}

// checkIssue makes sure the request's issue exists and is open: its comments are the request's
// audit trail, and a request on a missing or closed issue would be followed by no one.
func checkIssue(ctx context.Context, gh *github.Client, ref workflows.IssueRef) error {
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	is, resp, err := gh.Issues.Get(ctx, ref.Owner, ref.Repo, ref.Number)
	switch {
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("issue %s does not exist (or the bot's GITHUB_TOKEN cannot see it): nothing was started. "+
			"File an issue for this request (no request label needed) and name it with -issue", ref)
	case err != nil:
		return fmt.Errorf("could not read issue %s on GitHub, so nothing was started (check GITHUB_TOKEN and GITHUB_API_URL): %v", ref, err)
	case is.IsPullRequest():
		return fmt.Errorf("%s is a pull request, not an issue: nothing was started. Name the issue for this request with -issue", ref)
	case is.GetState() != "open":
		return fmt.Errorf("issue %s is %s: nothing was started. Reopen it, or file a new issue for this request and name it with -issue", ref, is.GetState())
	}
	return nil
}

// miMarker tags mi's comments on an issue.
const miMarker = "<!-- lifecycle:mi-start -->"

// auditComment is what mi start writes on the issue once the request is accepted: who asked, how,
// why, and the instance's answer (the operation's own status comment follows).
func auditComment(o startOptions, answer string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n### Break-glass request: `%s` of `%s`\n\nRequested by @%s via `mi start` (not an issue form).\n\n", miMarker, o.Op, o.Slug, o.By)
	if r := strings.TrimSpace(o.Reason); r != "" {
		fmt.Fprintf(&b, "**Reason:** %s\n", r)
	} else {
		b.WriteString("**Reason:** none given (`mi start … -reason R` records one)\n")
	}
	if first, _, _ := strings.Cut(answer, "\n"); first != "" {
		fmt.Fprintf(&b, "\n%s\n", first)
	}
	return b.String()
}

// recordOnIssue writes the audit comment. The request already runs when this is called, so a
// failure is a warning, with the text to paste by hand.
func (a *app) recordOnIssue(ctx context.Context, gh *github.Client, ref workflows.IssueRef, body string) {
	ctx, cancel := context.WithTimeout(ctx, githubTimeout)
	defer cancel()
	if _, _, err := gh.Issues.CreateComment(ctx, ref.Owner, ref.Repo, ref.Number, &github.IssueComment{Body: &body}); err != nil {
		fmt.Fprintf(a.stderr, "warning: the request runs, but recording it on %s failed (%v); paste this there:\n%s\n", ref, err, body)
	}
}
