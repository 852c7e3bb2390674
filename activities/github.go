// Package activities is the only code that touches the outside world: one struct per external
// system, holding its real client (docs/design.md invariant 1).
package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/internal/config"
)

// GitHub talks to the GitHub REST API: issue comments, labels, issue state, team membership and
// releases. The config repo has its own struct (ConfigRepo) that shares this client.
//
// Every exported method is registered as an activity, so helpers stay unexported and method names
// stay unique across all activity structs.
type GitHub struct {
	client *github.Client
}

// NewGitHub builds the activity struct. baseURL is empty for github.com, or a GitHub Enterprise /
// simulator URL such as http://127.0.0.1:8090/.
func NewGitHub(token, baseURL string, hc *http.Client) (*GitHub, error) {
	c, err := config.GitHub{Token: token, APIURL: baseURL}.Client(hc)
	if err != nil {
		return nil, err
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

// CommentResult identifies the comment. Action says what UpsertComment/EditComment did:
// "created", "edited" or "unchanged" (empty for Comment).
type CommentResult struct {
	ID     int64  `json:"id"`
	URL    string `json:"url"`
	Action string `json:"action,omitempty"`
}

// Comment posts a comment on an issue. It is not idempotent (a retry after a lost response posts
// again): use it for one-off answers, and UpsertComment for anything a workflow may repeat.
func (g *GitHub) Comment(ctx context.Context, in CommentInput) (CommentResult, error) {
	what := fmt.Sprintf("comment on %s/%s#%d", in.Owner, in.Repo, in.Number)
	var c *github.IssueComment
	err := ghDo(ctx, func() (err error) {
		c, _, err = g.client.Issues.CreateComment(ctx, in.Owner, in.Repo, in.Number, &github.IssueComment{Body: github.String(in.Body)})
		return err
	})
	if err != nil {
		return CommentResult{}, classify(what, err)
	}
	return CommentResult{ID: c.GetID(), URL: c.GetHTMLURL(), Action: "created"}, nil
}

// UpsertCommentInput is the status comment of one workflow on one issue.
type UpsertCommentInput struct {
	Owner  string `json:"owner"`
	Repo   string `json:"repo"`
	Number int    `json:"number"`
	// Marker is a hidden HTML comment on the comment's first line that identifies it, e.g.
	// `<!-- lifecycle:status:<workflowID> -->`. It is what makes the activity idempotent.
	Marker string `json:"marker"`
	Body   string `json:"body"`
	// CommentID is an optional hint: the ID a previous call returned. It saves listing the issue's
	// comments; if that comment is gone the marker search runs as usual.
	CommentID int64 `json:"commentId,omitempty"`
}

// UpsertComment keeps one comment per marker on the issue (docs/design.md invariant 7): it edits the
// comment carrying the marker, or creates it. An identical body is left alone, so re-running a
// workflow step neither creates a second comment nor counts as an edit.
func (g *GitHub) UpsertComment(ctx context.Context, in UpsertCommentInput) (CommentResult, error) {
	what := fmt.Sprintf("status comment on %s/%s#%d", in.Owner, in.Repo, in.Number)
	if err := ghCheckIssue(in.Owner, in.Repo, in.Number); err != nil {
		return CommentResult{}, err
	}
	if !ghMarkerRE.MatchString(in.Marker) {
		return CommentResult{}, Permanent(ErrInvalidArgument, fmt.Sprintf("%s: marker %q is not a one-line HTML comment", what, in.Marker),
			"pass a marker such as `<!-- lifecycle:status:<workflowID> -->`", nil)
	}
	body := in.Body
	if !ghHasMarker(body, in.Marker) {
		body = in.Marker + "\n" + body
	}
	existing, err := g.findMarkedComment(ctx, in)
	if err != nil {
		return CommentResult{}, classify(what, err)
	}
	if existing == nil {
		var c *github.IssueComment
		err := ghDo(ctx, func() (err error) {
			c, _, err = g.client.Issues.CreateComment(ctx, in.Owner, in.Repo, in.Number, &github.IssueComment{Body: &body})
			return err
		})
		if err != nil {
			return CommentResult{}, classify("create "+what, err)
		}
		return CommentResult{ID: c.GetID(), URL: c.GetHTMLURL(), Action: "created"}, nil
	}
	return g.editIfChanged(ctx, in.Owner, in.Repo, existing, body, what)
}

// findMarkedComment returns the oldest comment on the issue whose first line is the marker.
func (g *GitHub) findMarkedComment(ctx context.Context, in UpsertCommentInput) (*github.IssueComment, error) {
	if in.CommentID != 0 {
		var c *github.IssueComment
		err := ghDo(ctx, func() (err error) {
			c, _, err = g.client.Issues.GetComment(ctx, in.Owner, in.Repo, in.CommentID)
			return err
		})
		switch {
		case err == nil && ghHasMarker(c.GetBody(), in.Marker) && strings.HasSuffix(c.GetIssueURL(), fmt.Sprintf("/issues/%d", in.Number)):
			return c, nil
		case err != nil && ghStatus(err) != http.StatusNotFound:
			return nil, err
		}
		// Deleted by someone, or not ours after all: search by marker.
	}
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		var cs []*github.IssueComment
		var resp *github.Response
		err := ghDo(ctx, func() (err error) {
			cs, resp, err = g.client.Issues.ListComments(ctx, in.Owner, in.Repo, in.Number, opts)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if ghHasMarker(c.GetBody(), in.Marker) {
				return c, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}

// editIfChanged PATCHes the comment only when the body differs: GitHub records every PATCH as an
// edit (and sends an issue_comment webhook), even with the same text.
func (g *GitHub) editIfChanged(ctx context.Context, owner, repo string, c *github.IssueComment, body, what string) (CommentResult, error) {
	if c.GetBody() == body {
		return CommentResult{ID: c.GetID(), URL: c.GetHTMLURL(), Action: "unchanged"}, nil
	}
	var out *github.IssueComment
	err := ghDo(ctx, func() (err error) {
		out, _, err = g.client.Issues.EditComment(ctx, owner, repo, c.GetID(), &github.IssueComment{Body: &body})
		return err
	})
	if err != nil {
		return CommentResult{}, classify("edit "+what, err)
	}
	return CommentResult{ID: out.GetID(), URL: out.GetHTMLURL(), Action: "edited"}, nil
}

// EditCommentInput replaces the body of a known comment.
type EditCommentInput struct {
	Owner string `json:"owner"`
	Repo  string `json:"repo"`
	ID    int64  `json:"id"`
	Body  string `json:"body"`
}

// EditComment replaces a comment's body (no-op when it already has it). A deleted comment is a
// permanent NotFound: the caller decides whether to post a new one (UpsertComment does that).
func (g *GitHub) EditComment(ctx context.Context, in EditCommentInput) (CommentResult, error) {
	what := fmt.Sprintf("comment %d on %s/%s", in.ID, in.Owner, in.Repo)
	if in.Owner == "" || in.Repo == "" || in.ID == 0 || strings.TrimSpace(in.Body) == "" {
		return CommentResult{}, Permanent(ErrInvalidArgument, "edit "+what+": owner, repo, id and a non-empty body are required", "fix the caller", nil)
	}
	var c *github.IssueComment
	err := ghDo(ctx, func() (err error) {
		c, _, err = g.client.Issues.GetComment(ctx, in.Owner, in.Repo, in.ID)
		return err
	})
	if err != nil {
		return CommentResult{}, classify("read "+what, err)
	}
	return g.editIfChanged(ctx, in.Owner, in.Repo, c, in.Body, what)
}

// LabelsInput names labels on an issue (or pull request).
type LabelsInput struct {
	Owner  string   `json:"owner"`
	Repo   string   `json:"repo"`
	Number int      `json:"number"`
	Labels []string `json:"labels"`
}

// LabelsResult is the issue's labels after the change.
type LabelsResult struct {
	Labels []string `json:"labels"`
}

// AddLabels adds labels (GitHub creates unknown ones). Adding a label the issue already has is a
// no-op on GitHub's side, so the call is idempotent as is.
func (g *GitHub) AddLabels(ctx context.Context, in LabelsInput) (LabelsResult, error) {
	what := fmt.Sprintf("add labels %v to %s/%s#%d", in.Labels, in.Owner, in.Repo, in.Number)
	if err := ghCheckIssue(in.Owner, in.Repo, in.Number); err != nil {
		return LabelsResult{}, err
	}
	if len(in.Labels) == 0 {
		return LabelsResult{}, Permanent(ErrInvalidArgument, what+": no labels given", "pass at least one label", nil)
	}
	var ls []*github.Label
	err := ghDo(ctx, func() (err error) {
		ls, _, err = g.client.Issues.AddLabelsToIssue(ctx, in.Owner, in.Repo, in.Number, in.Labels)
		return err
	})
	if err != nil {
		return LabelsResult{}, classify(what, err)
	}
	return LabelsResult{Labels: ghLabelNames(ls)}, nil
}

// RemoveLabelInput names one label to take off an issue.
type RemoveLabelInput struct {
	Owner  string `json:"owner"`
	Repo   string `json:"repo"`
	Number int    `json:"number"`
	Label  string `json:"label"`
}

// RemoveLabel takes a label off an issue; a label that is not there is success (a retry after a
// lost response finds it gone).
func (g *GitHub) RemoveLabel(ctx context.Context, in RemoveLabelInput) error {
	what := fmt.Sprintf("remove label %q from %s/%s#%d", in.Label, in.Owner, in.Repo, in.Number)
	if err := ghCheckIssue(in.Owner, in.Repo, in.Number); err != nil {
		return err
	}
	err := ghDo(ctx, func() (err error) {
		// go-github v55 does not escape the name; labels such as "lifecycle/running" need it.
		_, err = g.client.Issues.RemoveLabelForIssue(ctx, in.Owner, in.Repo, in.Number, url.PathEscape(in.Label))
		return err
	})
	// GitHub answers 404 "Label does not exist" when the issue lacks the label; a missing issue is
	// a plain 404 "Not Found" and stays an error.
	if ghStatus(err) == http.StatusNotFound && strings.Contains(strings.ToLower(ghMessage(err)), "label does not exist") {
		return nil
	}
	return classify(what, err)
}

// IssueStateInput opens or closes an issue. StateReason is "completed" or "not_planned" when
// closing (default completed), ignored when opening.
type IssueStateInput struct {
	Owner       string `json:"owner"`
	Repo        string `json:"repo"`
	Number      int    `json:"number"`
	State       string `json:"state"` // open | closed
	StateReason string `json:"stateReason,omitempty"`
}

// IssueStateResult is the issue's state afterwards; Changed is false when it already was so.
type IssueStateResult struct {
	State       string `json:"state"`
	StateReason string `json:"stateReason,omitempty"`
	Changed     bool   `json:"changed"`
}

// SetIssueState closes (teardown closes the request issue "directly after") or
// reopens an issue. It reads first, so an issue already in that state is not touched: no
// duplicate closed/reopened events on the issue's timeline.
func (g *GitHub) SetIssueState(ctx context.Context, in IssueStateInput) (IssueStateResult, error) {
	what := fmt.Sprintf("set %s/%s#%d %s", in.Owner, in.Repo, in.Number, in.State)
	if err := ghCheckIssue(in.Owner, in.Repo, in.Number); err != nil {
		return IssueStateResult{}, err
	}
	reason := in.StateReason
	switch {
	case in.State == "closed" && reason == "":
		reason = "completed"
	case in.State == "closed" && (reason == "completed" || reason == "not_planned"):
	case in.State == "open":
		reason = ""
	default:
		return IssueStateResult{}, Permanent(ErrInvalidArgument, fmt.Sprintf("%s: state %q / state_reason %q", what, in.State, in.StateReason),
			`state must be "open" or "closed"; state_reason "completed" or "not_planned"`, nil)
	}
	is, err := g.getIssue(ctx, in.Owner, in.Repo, in.Number)
	if err != nil {
		return IssueStateResult{}, classify(what, err)
	}
	if is.GetState() == in.State && (in.State == "open" || is.GetStateReason() == reason) {
		return IssueStateResult{State: is.GetState(), StateReason: is.GetStateReason()}, nil
	}
	req := &github.IssueRequest{State: &in.State}
	if reason != "" {
		req.StateReason = &reason
	}
	err = ghDo(ctx, func() (err error) {
		is, _, err = g.client.Issues.Edit(ctx, in.Owner, in.Repo, in.Number, req)
		return err
	})
	if err != nil {
		return IssueStateResult{}, classify(what, err)
	}
	return IssueStateResult{State: is.GetState(), StateReason: is.GetStateReason(), Changed: true}, nil
}

func (g *GitHub) getIssue(ctx context.Context, owner, repo string, number int) (*github.Issue, error) {
	var is *github.Issue
	err := ghDo(ctx, func() (err error) {
		is, _, err = g.client.Issues.Get(ctx, owner, repo, number)
		return err
	})
	return is, err
}

// EditIssueBodyInput replaces an issue's body, or only a marked section of it.
type EditIssueBodyInput struct {
	Owner  string `json:"owner"`
	Repo   string `json:"repo"`
	Number int    `json:"number"`
	Body   string `json:"body"`
	// Section, if set, is a one-line HTML comment such as `<!-- lifecycle:checklist -->`: only the
	// block from that line to its closing `<!-- /lifecycle:checklist -->` is replaced (appended
	// when absent), so a live checklist never clobbers what a person wrote in the issue.
	Section string `json:"section,omitempty"`
}

// EditIssueBodyResult says whether the body changed.
type EditIssueBodyResult struct {
	Changed bool `json:"changed"`
}

// EditIssueBody keeps a live checklist in an issue's body (the fleet upgrade's tracking issue). It
// reads the body and PATCHes only when the result differs, so repeated updates with the same
// progress do not spam the issue's history. A person editing the issue between the read and the
// write loses that edit outside the section; the window is one round trip.
func (g *GitHub) EditIssueBody(ctx context.Context, in EditIssueBodyInput) (EditIssueBodyResult, error) {
	what := fmt.Sprintf("edit the body of %s/%s#%d", in.Owner, in.Repo, in.Number)
	if err := ghCheckIssue(in.Owner, in.Repo, in.Number); err != nil {
		return EditIssueBodyResult{}, err
	}
	if in.Section != "" && !ghMarkerRE.MatchString(in.Section) {
		return EditIssueBodyResult{}, Permanent(ErrInvalidArgument, fmt.Sprintf("%s: section %q is not a one-line HTML comment", what, in.Section),
			"pass a section marker such as `<!-- lifecycle:checklist -->`", nil)
	}
	is, err := g.getIssue(ctx, in.Owner, in.Repo, in.Number)
	if err != nil {
		return EditIssueBodyResult{}, classify(what, err)
	}
	body := in.Body
	if in.Section != "" {
		body = ghReplaceSection(is.GetBody(), in.Section, in.Body)
	}
	if body == is.GetBody() {
		return EditIssueBodyResult{}, nil
	}
	err = ghDo(ctx, func() (err error) {
		_, _, err = g.client.Issues.Edit(ctx, in.Owner, in.Repo, in.Number, &github.IssueRequest{Body: &body})
		return err
	})
	if err != nil {
		return EditIssueBodyResult{}, classify(what, err)
	}
	return EditIssueBodyResult{Changed: true}, nil
}

// ghReplaceSection replaces (or appends) the block `start … end` where end is start with "/"
// after "<!-- ".
func ghReplaceSection(body, start, content string) string {
	end := strings.Replace(start, "<!-- ", "<!-- /", 1)
	block := start + "\n" + strings.TrimRight(content, "\n") + "\n" + end
	i := strings.Index(body, start)
	if i < 0 {
		if body == "" {
			return block
		}
		return strings.TrimRight(body, "\n") + "\n\n" + block
	}
	j := strings.Index(body[i:], end)
	if j < 0 {
		return body[:i] + block // the closing line was deleted by hand: the section runs to the end
	}
	return body[:i] + block + body[i+j+len(end):]
}

// TeamMemberInput asks whether User belongs to Org's team Team (the team's slug).
type TeamMemberInput struct {
	Org  string `json:"org"`
	Team string `json:"team"`
	User string `json:"user"`
}

// IsTeamMember decides who may request or approve an operation (e.g. sourcegraph/ce for
// requests, sourcegraph/cloud for teardown approval). Only an active membership counts: a
// pending invitation is not yet a member. GitHub answers 404 for non-members and for teams the
// token cannot see alike, so 404 is "no", not an error.
func (g *GitHub) IsTeamMember(ctx context.Context, in TeamMemberInput) (bool, error) {
	what := fmt.Sprintf("check whether %s is in %s/%s", in.User, in.Org, in.Team)
	if in.Org == "" || in.Team == "" || in.User == "" {
		return false, Permanent(ErrInvalidArgument, what+": org, team and user are required", "fix the caller", nil)
	}
	var m *github.Membership
	err := ghDo(ctx, func() (err error) {
		m, _, err = g.client.Teams.GetTeamMembershipBySlug(ctx, in.Org, in.Team, in.User)
		return err
	})
	if ghStatus(err) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, classify(what, err)
	}
	return m.GetState() == "active", nil
}

// ReleaseInput names a release by tag. A bare version such as 5.9.0 is looked up as v5.9.0, the
// form Sourcegraph tags releases with (config.yaml stores versions without the v).
type ReleaseInput struct {
	Owner string `json:"owner"`
	Repo  string `json:"repo"`
	Tag   string `json:"tag"`
}

// ReleaseResult is what workflows need of a release.
type ReleaseResult struct {
	Tag         string    `json:"tag"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Draft       bool      `json:"draft"`
	Prerelease  bool      `json:"prerelease"`
	PublishedAt time.Time `json:"publishedAt"`
}

// GetRelease confirms a requested version exists before anything is changed (docs/design.md invariant
// 9). A missing release is a permanent NotFound that names the tag and the fix.
func (g *GitHub) GetRelease(ctx context.Context, in ReleaseInput) (ReleaseResult, error) {
	tag := in.Tag
	if tag != "" && tag[0] >= '0' && tag[0] <= '9' {
		tag = "v" + tag
	}
	what := fmt.Sprintf("look up release %s of %s/%s", tag, in.Owner, in.Repo)
	if in.Owner == "" || in.Repo == "" || tag == "" {
		return ReleaseResult{}, Permanent(ErrInvalidArgument, what+": owner, repo and tag are required", "fix the caller", nil)
	}
	var r *github.RepositoryRelease
	err := ghDo(ctx, func() (err error) {
		r, _, err = g.client.Repositories.GetReleaseByTag(ctx, in.Owner, in.Repo, tag)
		return err
	})
	if ghStatus(err) == http.StatusNotFound {
		return ReleaseResult{}, Permanent(ErrNotFound,
			fmt.Sprintf("release %s does not exist in %s/%s", tag, in.Owner, in.Repo),
			fmt.Sprintf("check the version on the issue (releases are tagged like v5.9.0, see https://github.com/%s/%s/releases); if the release is still being cut, retry once it is published", in.Owner, in.Repo), err)
	}
	if err != nil {
		return ReleaseResult{}, classify(what, err)
	}
	return ReleaseResult{Tag: r.GetTagName(), Name: r.GetName(), URL: r.GetHTMLURL(), Draft: r.GetDraft(),
		Prerelease: r.GetPrerelease(), PublishedAt: r.GetPublishedAt().Time}, nil
}

// ---- helpers shared by the GitHub-backed activities (GitHub, ConfigRepo) ----

// ghMarkerRE is a one-line hidden HTML comment.
var ghMarkerRE = regexp.MustCompile(`^<!-- [^\n]*\S -->$`)

// ghHasMarker: the marker is the comment's whole first line.
func ghHasMarker(body, marker string) bool {
	first, _, _ := strings.Cut(body, "\n")
	return strings.TrimRight(first, "\r") == marker
}

func ghCheckIssue(owner, repo string, number int) error {
	if owner == "" || repo == "" || number <= 0 {
		return Permanent(ErrInvalidArgument, fmt.Sprintf("issue %s/%s#%d: owner, repo and a positive number are required", owner, repo, number), "fix the caller", nil)
	}
	return nil
}

func ghLabelNames(ls []*github.Label) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.GetName())
	}
	return out
}

// ghLocalWaitMax bounds how long a call waits in-process for go-github's own rate-limit gate.
const ghLocalWaitMax = 10 * time.Second

// ghDo runs one go-github call. go-github v55 remembers a primary rate limit (X-RateLimit-Remaining
// 0, also after a 429) and a secondary limit's Retry-After, and then refuses further calls locally,
// without sending them, until the reset. Temporal's retry can come before that reset (the reset is
// rounded to whole seconds, and the test server skips time), which would burn attempts on requests
// never sent. So a short local refusal is waited out here, and a long one goes back classified
// (RateLimited, NextRetryDelay = the reset) for Temporal to wait.
//
// A passing failure of one request (a 5xx, or a 429 asking for at most ghQuickRetryMax) is also
// retried here, a few times: a config change makes about fifteen calls, and failing the whole
// attempt on any one of them would make it start over from its first read every time. Every call
// made through ghDo is safe to repeat (creations find what an earlier try made), as an activity's
// retry already requires.
func ghDo(ctx context.Context, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		wait, local := ghLocalRefusal(err)
		if !local {
			wait, local = ghPassing(err, attempt)
			if wait > ghQuickRetryMax {
				local = false
			}
		}
		if !local || wait > ghLocalWaitMax || attempt >= 3 {
			return err
		}
		t := time.NewTimer(wait + 20*time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// ghQuickRetryMax is the longest Retry-After ghDo waits out itself; a longer one is Temporal's.
const ghQuickRetryMax = 2 * time.Second

// ghPassing reports whether err is a failure worth one more try at once (5xx, a 429 with a short
// Retry-After) and how long to wait before it.
func ghPassing(err error, attempt int) (time.Duration, bool) {
	backoff := time.Duration(250<<attempt) * time.Millisecond
	if ab := new(github.AbuseRateLimitError); errors.As(err, &ab) {
		if ra := ab.GetRetryAfter(); ra > 0 {
			return ra, true
		}
		return 0, false // no Retry-After: GitHub wants a minute or more (classify)
	}
	er := new(github.ErrorResponse)
	if !errors.As(err, &er) || er.Response == nil {
		return 0, false
	}
	switch st := er.Response.StatusCode; {
	case st == http.StatusTooManyRequests:
		if secs, perr := strconv.Atoi(er.Response.Header.Get("Retry-After")); perr == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
		return 0, false
	case st == http.StatusInternalServerError, st == http.StatusBadGateway, st == http.StatusServiceUnavailable, st == http.StatusGatewayTimeout:
		return backoff, true
	}
	return 0, false
}

// ghLocalRefusal reports whether err is go-github declining to send a request because of a rate
// limit it saw earlier, and for how long it will keep declining.
func ghLocalRefusal(err error) (time.Duration, bool) {
	const marker = "not making remote request"
	if rl := new(github.RateLimitError); errors.As(err, &rl) && strings.Contains(rl.Message, marker) {
		return max(time.Until(rl.Rate.Reset.Time), 0), true
	}
	if ab := new(github.AbuseRateLimitError); errors.As(err, &ab) && strings.Contains(ab.Message, marker) {
		return max(ab.GetRetryAfter(), 0), true
	}
	return 0, false
}

// ghStatus is the HTTP status of a GitHub error answer, or 0 (rate-limit errors are their own types
// and never look like a 403 here).
func ghStatus(err error) int {
	if er := new(github.ErrorResponse); errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

func ghMessage(err error) string {
	if er := new(github.ErrorResponse); errors.As(err, &er) {
		return er.Message
	}
	return ""
}

// DriftIssueInput is the one issue that reports allowlist drift (docs/operating.md "Allowlist
// drift"): found by its label among the repository's open issues.
type DriftIssueInput struct {
	Owner string `json:"owner"`
	Repo  string `json:"repo"`
	Label string `json:"label"`
	Title string `json:"title"`
	// Body is the report; empty means no drift: the open issue, if any, gets CloseComment and is
	// closed.
	Body         string `json:"body,omitempty"`
	CloseComment string `json:"closeComment,omitempty"`
}

// DriftIssueResult says what EnsureDriftIssue did: "created", "edited", "unchanged", "closed" or
// "none" (no drift and no open issue). Number is the issue's (0 for "none").
type DriftIssueResult struct {
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	Action string `json:"action"`
}

// ghIssueBodyMax is GitHub's limit on an issue's body, in characters (code points; a longer body
// is refused with 422 "body is too long", docs/fidelity.md).
const ghIssueBodyMax = 65536

// EnsureDriftIssue opens the drift issue, or edits the body of the open one (the oldest open issue
// with the label), so repeated checks keep one issue; with no drift it closes that issue with a
// comment. A retry after a lost response finds the issue it created by its label, so it never opens
// a second.
func (g *GitHub) EnsureDriftIssue(ctx context.Context, in DriftIssueInput) (DriftIssueResult, error) {
	what := fmt.Sprintf("drift issue in %s/%s", in.Owner, in.Repo)
	if in.Owner == "" || in.Repo == "" || in.Label == "" {
		return DriftIssueResult{}, Permanent(ErrInvalidArgument, what+": owner, repo and label are required", "set LIFECYCLE_DRIFT_REPO to owner/name", nil)
	}
	if n := utf8.RuneCountInString(in.Body); n > ghIssueBodyMax {
		return DriftIssueResult{}, Permanent(ErrInvalidArgument, fmt.Sprintf("%s: body of %d characters is over GitHub's %d", what, n, ghIssueBodyMax),
			"list fewer instances in detail", nil)
	}
	var open *github.Issue
	opts := &github.IssueListByRepoOptions{State: "open", Labels: []string{in.Label}, Sort: "created", Direction: "asc", ListOptions: github.ListOptions{PerPage: 100}}
	for open == nil {
		var page []*github.Issue
		var resp *github.Response
		err := ghDo(ctx, func() (err error) {
			page, resp, err = g.client.Issues.ListByRepo(ctx, in.Owner, in.Repo, opts)
			return err
		})
		if err != nil {
			return DriftIssueResult{}, classify("list "+what, err)
		}
		for _, is := range page {
			if !is.IsPullRequest() { // the issues API lists pull requests too
				open = is
				break
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	switch {
	case in.Body == "" && open == nil:
		return DriftIssueResult{Action: "none"}, nil
	case in.Body == "":
		n := open.GetNumber()
		if in.CloseComment != "" {
			if err := ghDo(ctx, func() error {
				_, _, err := g.client.Issues.CreateComment(ctx, in.Owner, in.Repo, n, &github.IssueComment{Body: github.String(in.CloseComment)})
				return err
			}); err != nil {
				return DriftIssueResult{}, classify("comment on "+what, err)
			}
		}
		closed, reason := "closed", "completed"
		if err := ghDo(ctx, func() error {
			_, _, err := g.client.Issues.Edit(ctx, in.Owner, in.Repo, n, &github.IssueRequest{State: &closed, StateReason: &reason})
			return err
		}); err != nil {
			return DriftIssueResult{}, classify("close "+what, err)
		}
		return DriftIssueResult{Number: n, URL: open.GetHTMLURL(), Action: "closed"}, nil
	case open == nil:
		var is *github.Issue
		err := ghDo(ctx, func() (err error) {
			is, _, err = g.client.Issues.Create(ctx, in.Owner, in.Repo, &github.IssueRequest{Title: &in.Title, Body: &in.Body, Labels: &[]string{in.Label}})
			return err
		})
		if err != nil {
			return DriftIssueResult{}, classify("open "+what, err)
		}
		return DriftIssueResult{Number: is.GetNumber(), URL: is.GetHTMLURL(), Action: "created"}, nil
	case open.GetBody() == in.Body:
		return DriftIssueResult{Number: open.GetNumber(), URL: open.GetHTMLURL(), Action: "unchanged"}, nil
	}
	n := open.GetNumber()
	if err := ghDo(ctx, func() error {
		_, _, err := g.client.Issues.Edit(ctx, in.Owner, in.Repo, n, &github.IssueRequest{Body: &in.Body})
		return err
	}); err != nil {
		return DriftIssueResult{}, classify("edit "+what, err)
	}
	return DriftIssueResult{Number: n, URL: open.GetHTMLURL(), Action: "edited"}, nil
}
