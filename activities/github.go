// Package activities is the only code that touches the outside world: one struct per external
// system, holding its real client (DESIGN.md invariant 1).
package activities

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-github/v55/github"
)

// GitHub talks to the GitHub REST API: issue comments, labels, the config repo.
type GitHub struct {
	client *github.Client
}

// NewGitHub builds the activity struct. baseURL is empty for github.com, or a GitHub Enterprise /
// simulator URL such as http://127.0.0.1:8090/.
func NewGitHub(token, baseURL string, hc *http.Client) (*GitHub, error) {
	c := github.NewClient(hc).WithAuthToken(token)
	if baseURL != "" {
		var err error
		if c, err = c.WithEnterpriseURLs(baseURL, baseURL); err != nil {
			return nil, fmt.Errorf("GitHub base URL %q: %w", baseURL, err)
		}
	}
	return &GitHub{client: c}, nil
}

// CommentInput is a new comment on an issue.
type CommentInput struct {
	Owner  string `json:"owner"`
	Repo   string `json:"repo"`
	Number int    `json:"number"`
	Body   string `json:"body"`
}

// CommentResult identifies the comment.
type CommentResult struct {
	ID  int64  `json:"id"`
	URL string `json:"url"`
}

// Comment posts a comment on an issue.
func (g *GitHub) Comment(ctx context.Context, in CommentInput) (CommentResult, error) {
	c, _, err := g.client.Issues.CreateComment(ctx, in.Owner, in.Repo, in.Number, &github.IssueComment{Body: github.String(in.Body)})
	if err != nil {
		return CommentResult{}, fmt.Errorf("comment on %s/%s#%d: %w", in.Owner, in.Repo, in.Number, err)
	}
	return CommentResult{ID: c.GetID(), URL: c.GetHTMLURL()}, nil
}
