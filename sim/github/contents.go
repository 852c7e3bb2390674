package github

import (
	"encoding/base64"
	"net/url"
	"path"
	"strings"
)

// The contents API is the convenient front of the git store: each PUT or DELETE is one commit on
// a branch (default: the default branch). It enforces GitHub's optimistic concurrency: updating or
// deleting an existing file needs the blob sha the caller last read.

type contentJSON struct {
	Type        string            `json:"type"`
	Encoding    string            `json:"encoding,omitempty"`
	Size        int               `json:"size"`
	Name        string            `json:"name"`
	Path        string            `json:"path"`
	Content     *string           `json:"content,omitempty"`
	SHA         string            `json:"sha"`
	URL         string            `json:"url"`
	GitURL      string            `json:"git_url"`
	HTMLURL     string            `json:"html_url"`
	DownloadURL *string           `json:"download_url"`
	Links       map[string]string `json:"_links"`
}

func (c *call) contentJSON(rp *repo, ref, p string, e treeEntry, withContent bool) contentJSON {
	api := c.api + "/repos/" + rp.fullName()
	out := contentJSON{
		Type: "file", Name: path.Base(p), Path: p, SHA: e.sha,
		URL:     api + "/contents/" + (&url.URL{Path: p}).String() + "?ref=" + url.QueryEscape(ref),
		HTMLURL: c.web + "/" + rp.fullName() + "/blob/" + ref + "/" + p,
		GitURL:  api + "/git/blobs/" + e.sha,
	}
	if e.dir {
		out.Type = "dir"
		out.HTMLURL = c.web + "/" + rp.fullName() + "/tree/" + ref + "/" + p
		out.GitURL = api + "/git/trees/" + e.sha
	} else {
		out.Size = len(rp.blobs[e.sha])
		dl := c.web + "/" + rp.fullName() + "/raw/" + ref + "/" + p
		out.DownloadURL = &dl
		if withContent {
			s := wrap64(rp.blobs[e.sha])
			out.Content, out.Encoding = &s, "base64"
		}
	}
	out.Links = map[string]string{"self": out.URL, "git": out.GitURL, "html": out.HTMLURL}
	return out
}

func (p *Part) getContents(c *call) (int, any) {
	ref := c.r.URL.Query().Get("ref")
	if ref == "" {
		ref = c.repo.defaultBranch
	}
	cm := c.repo.resolve(ref)
	if cm == nil {
		return fail(404, "No commit found for the ref "+ref)
	}
	fp := strings.Trim(c.r.PathValue("path"), "/")
	e, ok := c.repo.lookup(cm.tree, fp)
	if !ok {
		return notFound()
	}
	if !e.dir {
		return 200, c.contentJSON(c.repo, ref, fp, e, true)
	}
	// A directory is listed as an array of its immediate children.
	out := []contentJSON{}
	for child := range c.repo.entriesOf(e.sha).all() {
		cp := child.name
		if fp != "" {
			cp = fp + "/" + child.name
		}
		out = append(out, c.contentJSON(c.repo, ref, cp, child, false))
	}
	return 200, out
}

type fileRequest struct {
	Message   string     `json:"message"`
	Content   *string    `json:"content"`
	SHA       string     `json:"sha"`
	Branch    string     `json:"branch"`
	Committer *signature `json:"committer"`
	Author    *signature `json:"author"`
}

// missing is GitHub's wording for a required contents-API parameter that was not sent.
func missing(field string) (int, any) {
	return fail(422, "Invalid request.\n\n\""+field+"\" wasn't supplied.")
}

// prepare validates a contents write and returns the branch and the file's current blob sha ("" if
// absent), or the error answer.
func (p *Part) prepareWrite(c *call, req *fileRequest, fp string) (branch, current string, status int, body any) {
	if req.Message == "" {
		status, body = missing("message")
		return
	}
	branch = req.Branch
	if branch == "" {
		branch = c.repo.defaultBranch
	}
	head, ok := c.repo.refs["refs/heads/"+branch]
	if !ok {
		status, body = fail(404, "Branch "+branch+" not found")
		return
	}
	if e, ok := c.repo.lookup(c.repo.commits[head].tree, fp); ok {
		if e.dir {
			status, body = fail(422, "Invalid request.\n\n\"path\" is a directory.")
			return
		}
		current = e.sha
	}
	return branch, current, 0, nil
}

// signatureFor is the commit author: the request's committer/author if given, else the caller.
func (p *Part) signatureFor(c *call, req *fileRequest) signature {
	sig := c.sig(p.s.Now())
	for _, s := range []*signature{req.Author, req.Committer} {
		if s != nil && s.Name != "" {
			sig.Name, sig.Email = s.Name, s.Email
			break
		}
	}
	return sig
}

func (p *Part) putContents(c *call) (int, any) {
	fp := strings.Trim(c.r.PathValue("path"), "/")
	var req fileRequest
	if !c.decode(&req) {
		return badJSON()
	}
	if fp == "" {
		return notFound()
	}
	if req.Content == nil {
		return missing("content")
	}
	content, err := base64.StdEncoding.DecodeString(*req.Content)
	if err != nil {
		return fail(422, "content is not valid Base64")
	}
	branch, current, st, body := p.prepareWrite(c, &req, fp)
	if st != 0 {
		return st, body
	}
	switch {
	case current != "" && req.SHA == "":
		return missing("sha")
	case current != "" && req.SHA != current:
		return fail(409, fp+" is at "+current+" but expected "+req.SHA)
	}
	cm, err := p.commitChanges(c.repo, branch, map[string]*[]byte{fp: &content}, req.Message, p.signatureFor(c, &req))
	if err != nil {
		return fail(404, err.Error())
	}
	e, _ := c.repo.lookup(cm.tree, fp)
	status := 201
	if current != "" {
		status = 200
	}
	fc := c.contentJSON(c.repo, branch, fp, e, false)
	return status, map[string]any{"content": fc, "commit": c.commitJSON(c.repo, cm)}
}

func (p *Part) deleteContents(c *call) (int, any) {
	fp := strings.Trim(c.r.PathValue("path"), "/")
	var req fileRequest
	if !c.decode(&req) {
		return badJSON()
	}
	branch, current, st, body := p.prepareWrite(c, &req, fp)
	switch {
	case st != 0:
		return st, body
	case req.SHA == "":
		return missing("sha")
	case current == "":
		return notFound()
	case req.SHA != current:
		return fail(409, fp+" is at "+current+" but expected "+req.SHA)
	}
	cm, err := p.commitChanges(c.repo, branch, map[string]*[]byte{fp: nil}, req.Message, p.signatureFor(c, &req))
	if err != nil {
		return fail(404, err.Error())
	}
	return 200, map[string]any{"content": nil, "commit": c.commitJSON(c.repo, cm)}
}
