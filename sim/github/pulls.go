package github

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// pull is the pull-request half of an issue: a head branch proposed onto a base branch. Merging
// applies what the head changed since its fork point (the merge base) onto the base's current
// tree, and refuses — like GitHub's "not mergeable" — when the base changed one of those paths
// differently in the meantime.
type pull struct {
	id         int64
	head, base string // branch names in the same repository
	headSHA    string // last seen head commit; frozen once merged or closed
	baseSHA    string
	draft      bool
	merged     bool
	mergedAt   time.Time
	mergedBy   *user
	mergeSHA   string
	reviews    []*review
}

// refresh follows the branches while the pull request is open.
func (rp *repo) refresh(is *issue) {
	pr := is.pull
	if is.state != "open" {
		return
	}
	if sha, ok := rp.refs["refs/heads/"+pr.head]; ok {
		pr.headSHA = sha
	}
	if sha, ok := rp.refs["refs/heads/"+pr.base]; ok {
		pr.baseSHA = sha
	}
}

// mergePlan is what merging pr does to its base (path → the head's blob, nil: deleted), or
// conflict when the base changed a path the head changed too.
func (rp *repo) mergePlan(pr *pull) (changes map[string]*change, conflict bool) {
	fork := rp.treeSHAOf(rp.mergeBase(pr.baseSHA, pr.headSHA))
	head, base := rp.treeSHAOf(pr.headSHA), rp.treeSHAOf(pr.baseSHA)
	changes = map[string]*change{}
	for _, p := range rp.changedPaths(fork, head) {
		was, now, theirs := rp.blobAt(fork, p), rp.blobAt(head, p), rp.blobAt(base, p)
		if theirs != was && theirs != now {
			return nil, true
		}
		changes[p] = nil
		if now != "" {
			changes[p] = &change{sha: now}
		}
	}
	return changes, false
}

type branchRefJSON struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref"`
	SHA   string    `json:"sha"`
	User  *userJSON `json:"user"`
	Repo  *repoJSON `json:"repo"`
}

func (p *Part) pullJSON(c *call, rp *repo, is *issue) map[string]any {
	rp.refresh(is)
	pr := is.pull
	ij := c.issueJSON(rp, is)
	api := fmt.Sprintf("%s/repos/%s/pulls/%d", c.api, rp.fullName(), is.number)
	owner := c.ownerJSON(p, rp.owner)
	repoJ := c.repoJSON(p, rp)
	out := map[string]any{
		"id": pr.id, "node_id": nodeID("PR", pr.id), "url": api, "html_url": ij.HTMLURL,
		"diff_url": ij.HTMLURL + ".diff", "patch_url": ij.HTMLURL + ".patch", "issue_url": ij.URL,
		"commits_url": api + "/commits", "comments_url": ij.CommentsURL, "review_comments_url": api + "/comments",
		"statuses_url": c.api + "/repos/" + rp.fullName() + "/statuses/" + pr.headSHA,
		"number":       is.number, "state": is.state, "locked": false, "title": is.title, "user": ij.User,
		"body": ij.Body, "labels": ij.Labels, "milestone": nil, "active_lock_reason": nil,
		"created_at": ij.CreatedAt, "updated_at": ij.UpdatedAt, "closed_at": ij.ClosedAt,
		"merged_at": tsOrNil(pr.mergedAt), "merge_commit_sha": strOrNil(pr.mergeSHA),
		"assignee": ij.Assignee, "assignees": ij.Assignees, "requested_reviewers": []any{}, "requested_teams": []any{},
		"head":               branchRefJSON{Label: rp.owner + ":" + pr.head, Ref: pr.head, SHA: pr.headSHA, User: owner, Repo: repoJ},
		"base":               branchRefJSON{Label: rp.owner + ":" + pr.base, Ref: pr.base, SHA: pr.baseSHA, User: owner, Repo: repoJ},
		"author_association": ij.AuthorAssociation, "draft": pr.draft, "merged": pr.merged,
		"merged_by": c.userJSON(pr.mergedBy), "comments": ij.Comments, "review_comments": 0,
		"maintainer_can_modify": false, "commits": 1, "additions": 0, "deletions": 0,
	}
	// mergeable is computed on demand, as GitHub does in the background: null when closed.
	out["mergeable"], out["mergeable_state"], out["rebaseable"] = nil, "unknown", nil
	if is.state == "open" {
		changes, conflict := rp.mergePlan(pr)
		out["mergeable"], out["rebaseable"], out["changed_files"] = !conflict, !conflict, len(changes)
		out["mergeable_state"] = "clean"
		if conflict {
			out["mergeable_state"] = "dirty"
		} else if rp.protectionBlocks(is) != "" {
			out["mergeable_state"] = "blocked"
		}
	}
	return out
}

func (p *Part) pullFor(c *call) *issue {
	is := c.repo.issue(c)
	if is == nil || is.pull == nil {
		return nil
	}
	return is
}

func pullKey(rp *repo, n int64) string { return rp.key(fmt.Sprintf("pulls/%d", n)) }

func (p *Part) createPull(c *call) (int, any) {
	var req struct {
		Title *string `json:"title"`
		Head  string  `json:"head"`
		Base  string  `json:"base"`
		Body  *string `json:"body"`
		Draft bool    `json:"draft"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	rp := c.repo
	head := req.Head
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, rp.owner) { // forks are not simulated
			return invalid(fieldError{Resource: "PullRequest", Code: "invalid", Field: "head"})
		}
		head = branch
	}
	if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
		return invalid(fieldError{Resource: "PullRequest", Code: "missing_field", Field: "title"})
	}
	if code, v, bad := tooLong("Issue", req.Body); bad {
		return code, v
	}
	headSHA, ok := rp.refs["refs/heads/"+head]
	if !ok || head == "" {
		return invalid(fieldError{Resource: "PullRequest", Code: "invalid", Field: "head"})
	}
	baseSHA, ok := rp.refs["refs/heads/"+req.Base]
	if !ok || req.Base == "" {
		return invalid(fieldError{Resource: "PullRequest", Code: "invalid", Field: "base"})
	}
	for _, n := range rp.numbers() {
		if o := rp.issues[n]; o.pull != nil && o.state == "open" && o.pull.head == head && o.pull.base == req.Base {
			return invalid(fieldError{Resource: "PullRequest", Code: "custom",
				Message: fmt.Sprintf("A pull request already exists for %s:%s.", rp.owner, head)})
		}
	}
	if rp.isAncestor(headSHA, baseSHA) {
		return invalid(fieldError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("No commits between %s and %s", req.Base, head)})
	}
	now := p.s.Now()
	rp.lastNumber++
	is := &issue{id: p.s.NextID(), number: rp.lastNumber, title: *req.Title, state: "open", user: c.user,
		created: now, updated: now,
		pull: &pull{id: p.s.NextID(), head: head, base: req.Base, headSHA: headSHA, baseSHA: baseSHA, draft: req.Draft}}
	if req.Body != nil {
		is.body = *req.Body
	}
	rp.addIssue(is)
	p.s.Created("github", pullKey(rp, is.number))
	p.runCI(rp, is)
	out := p.pullJSON(c, rp, is)
	c.hdr.Set("Location", out["url"].(string))
	return 201, out
}

func (p *Part) getPull(c *call) (int, any) {
	is := p.pullFor(c)
	if is == nil {
		return notFound()
	}
	return 200, p.pullJSON(c, c.repo, is)
}

func (p *Part) editPull(c *call) (int, any) {
	is := p.pullFor(c)
	if is == nil {
		return notFound()
	}
	var req struct {
		issueRequest
		Base *string `json:"base"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if req.Base != nil && *req.Base != is.pull.base {
		if _, ok := c.repo.refs["refs/heads/"+*req.Base]; !ok {
			return invalid(fieldError{Resource: "PullRequest", Code: "invalid", Field: "base"})
		}
		is.pull.base = *req.Base
		p.s.Mutated("github", pullKey(c.repo, is.number))
	}
	c.repo.refresh(is) // freeze the shas as they are if this closes it
	return p.applyIssueEdit(c, c.repo, is, req.issueRequest)
}

func (p *Part) listPulls(c *call) (int, any) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	// GitHub only filters by head in the documented "owner:branch" form.
	headOwner, headBranch, byHead := strings.Cut(q.Get("head"), ":")
	var list []*issue
	for _, n := range c.repo.numbers() {
		is := c.repo.issues[n]
		if is.pull == nil || (state != "all" && is.state != state) {
			continue
		}
		if byHead && (!strings.EqualFold(headOwner, c.repo.owner) || is.pull.head != headBranch) {
			continue
		}
		if b := q.Get("base"); b != "" && is.pull.base != b {
			continue
		}
		list = append(list, is)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].number > list[j].number }) // newest first
	if q.Get("direction") == "asc" {
		sort.SliceStable(list, func(i, j int) bool { return list[i].number < list[j].number })
	}
	out := []map[string]any{}
	for _, is := range paginate(c, list) {
		out = append(out, p.pullJSON(c, c.repo, is))
	}
	return 200, out
}

func (p *Part) mergePull(c *call) (int, any) {
	is := p.pullFor(c)
	if is == nil {
		return notFound()
	}
	var req struct {
		CommitTitle   string  `json:"commit_title"`
		CommitMessage *string `json:"commit_message"`
		SHA           string  `json:"sha"`
		MergeMethod   string  `json:"merge_method"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	switch req.MergeMethod {
	case "":
		req.MergeMethod = "merge"
	case "merge", "squash", "rebase":
	default:
		return invalid(fieldError{Resource: "PullRequest", Code: "invalid", Field: "merge_method"})
	}
	rp, pr := c.repo, is.pull
	if is.state != "open" || pr.merged {
		return fail(405, "Pull Request is not mergeable")
	}
	rp.refresh(is)
	if _, ok := rp.refs["refs/heads/"+pr.head]; !ok {
		return fail(405, "Pull Request is not mergeable")
	}
	if req.SHA != "" && req.SHA != pr.headSHA {
		return fail(409, "Head branch was modified. Review and try the merge again.")
	}
	changes, conflict := rp.mergePlan(pr)
	if conflict {
		return fail(405, "Pull Request is not mergeable")
	}
	if why := rp.protectionBlocks(is); why != "" {
		return 405, apiError{Message: why, DocumentationURL: protectionDocs}
	}
	title := req.CommitTitle
	parents := []string{pr.baseSHA}
	if req.MergeMethod == "merge" {
		// A true merge commit keeps the head as a parent, so later merge bases see it.
		parents = append(parents, pr.headSHA)
		if title == "" {
			title = fmt.Sprintf("Merge pull request #%d from %s/%s", is.number, rp.owner, pr.head)
		}
	} else if title == "" {
		title = fmt.Sprintf("%s (#%d)", is.title, is.number)
	}
	msg := title
	if req.CommitMessage != nil && *req.CommitMessage != "" {
		msg += "\n\n" + *req.CommitMessage
	}
	now := p.s.Now()
	cm := rp.newCommit(rp.updateTree(rp.treeSHAOf(pr.baseSHA), changes), parents, msg, c.sig(now))
	p.setRef(rp, "refs/heads/"+pr.base, cm.sha)
	pr.merged, pr.mergedAt, pr.mergedBy, pr.mergeSHA = true, now, c.user, cm.sha
	pr.baseSHA = cm.sha
	is.state, is.closed, is.closedBy, is.updated = "closed", now, c.user, now
	p.s.Mutated("github", pullKey(rp, is.number))
	if rp.deleteBranchOnMerge && pr.head != rp.defaultBranch {
		p.deleteRefLocked(rp, "refs/heads/"+pr.head)
	}
	return 200, map[string]any{"sha": cm.sha, "merged": true, "message": "Pull Request successfully merged"}
}

func (p *Part) isMerged(c *call) (int, any) {
	is := p.pullFor(c)
	if is == nil || !is.pull.merged {
		return notFound()
	}
	return 204, nil
}
