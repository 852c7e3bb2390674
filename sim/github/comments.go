package github

import (
	"fmt"
	"strings"
	"time"
)

// comment is an issue (or pull request) comment. Its ledger key uses the comment ID, so a test can
// assert that a status comment was created once and then only edited in place.
type comment struct {
	id      int64
	issue   *issue
	body    string
	user    *user
	created time.Time
	updated time.Time
}

type commentJSON struct {
	ID                int64     `json:"id"`
	NodeID            string    `json:"node_id"`
	URL               string    `json:"url"`
	HTMLURL           string    `json:"html_url"`
	IssueURL          string    `json:"issue_url"`
	Body              string    `json:"body"`
	User              *userJSON `json:"user"`
	CreatedAt         Time      `json:"created_at"`
	UpdatedAt         Time      `json:"updated_at"`
	AuthorAssociation string    `json:"author_association"`
}

func (c *call) commentJSON(rp *repo, cm *comment) commentJSON {
	is := c.issueJSON(rp, cm.issue)
	return commentJSON{
		ID: cm.id, NodeID: nodeID("IC", cm.id),
		URL:      fmt.Sprintf("%s/repos/%s/issues/comments/%d", c.api, rp.fullName(), cm.id),
		HTMLURL:  fmt.Sprintf("%s#issuecomment-%d", is.HTMLURL, cm.id),
		IssueURL: is.URL, Body: cm.body, User: c.userJSON(cm.user),
		CreatedAt: ts(cm.created), UpdatedAt: ts(cm.updated), AuthorAssociation: association(rp, cm.user),
	}
}

func commentKey(rp *repo, id int64) string { return rp.key(fmt.Sprintf("issues/comments/%d", id)) }

type commentRequest struct {
	Body *string `json:"body"`
}

func (p *Part) createComment(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	var req commentRequest
	if !c.decode(&req) {
		return badJSON()
	}
	if req.Body == nil || strings.TrimSpace(*req.Body) == "" {
		return invalid(fieldError{Resource: "IssueComment", Code: "missing_field", Field: "body"})
	}
	if code, v, bad := tooLong("IssueComment", req.Body); bad {
		return code, v
	}
	now := p.s.Now()
	cm := &comment{id: p.s.NextID(), issue: is, body: *req.Body, user: c.user, created: now, updated: now}
	c.repo.comments[cm.id] = cm
	is.comments = append(is.comments, cm)
	is.updated = now
	p.s.Created("github", commentKey(c.repo, cm.id))
	out := c.commentJSON(c.repo, cm)
	p.emitComment(c, cm, "created", nil)
	c.hdr.Set("Location", out.URL)
	return 201, out
}

func (p *Part) listComments(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	var since time.Time
	if s := c.r.URL.Query().Get("since"); s != "" {
		since, _ = time.Parse(time.RFC3339, s)
	}
	var list []*comment
	for _, cm := range is.comments { // oldest first, as GitHub lists issue comments
		if !cm.updated.Before(since) {
			list = append(list, cm)
		}
	}
	out := []commentJSON{}
	for _, cm := range paginate(c, list) {
		out = append(out, c.commentJSON(c.repo, cm))
	}
	return 200, out
}

func (p *Part) commentFor(c *call) *comment {
	id, ok := pathNumber(c, "id")
	if !ok {
		return nil
	}
	return c.repo.comments[id]
}

func (p *Part) getComment(c *call) (int, any) {
	cm := p.commentFor(c)
	if cm == nil {
		return notFound()
	}
	return 200, c.commentJSON(c.repo, cm)
}

func (p *Part) editComment(c *call) (int, any) {
	cm := p.commentFor(c)
	if cm == nil {
		return notFound()
	}
	var req commentRequest
	if !c.decode(&req) {
		return badJSON()
	}
	if req.Body == nil || strings.TrimSpace(*req.Body) == "" {
		return invalid(fieldError{Resource: "IssueComment", Code: "missing_field", Field: "body"})
	}
	if code, v, bad := tooLong("IssueComment", req.Body); bad {
		return code, v
	}
	if *req.Body != cm.body {
		from := cm.body
		cm.body, cm.updated = *req.Body, p.s.Now()
		p.emitComment(c, cm, "edited", map[string]any{"changes": map[string]any{"body": map[string]string{"from": from}}})
	}
	// GitHub counts a PATCH as an edit even when the text is the same; so does the ledger.
	p.s.Mutated("github", commentKey(c.repo, cm.id))
	return 200, c.commentJSON(c.repo, cm)
}

func (p *Part) deleteComment(c *call) (int, any) {
	cm := p.commentFor(c)
	if cm == nil {
		return notFound()
	}
	delete(c.repo.comments, cm.id)
	is := cm.issue
	for i, x := range is.comments {
		if x == cm {
			is.comments = append(is.comments[:i:i], is.comments[i+1:]...)
			break
		}
	}
	p.s.Deleted("github", commentKey(c.repo, cm.id))
	p.emitComment(c, cm, "deleted", nil)
	return 204, nil
}
