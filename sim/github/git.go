package github

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/sim"
)

// The repository is a tiny git: blobs, trees and commits are hashed exactly as git hashes them
// (sha1 of "<type> <len>\0<body>"), so every sha a client sees is a real content address, and a
// branch is a ref pointing at a commit. Files are plain path → blob sha maps at the edges; trees
// are stored per directory so GET /git/trees works for any subtree sha.

type tree struct {
	sha     string
	entries entries // immediate children, in git order
}

type treeEntry struct {
	name string
	dir  bool
	sha  string // blob or tree sha
}

type commit struct {
	sha       string
	tree      string
	parents   []string
	gen       int // 1 + the highest parent's: a commit's ancestors all have lower ones
	message   string
	author    signature
	committer signature
}

type signature struct {
	Name  string    `json:"name"`
	Email string    `json:"email"`
	Date  time.Time `json:"date"`
}

func (s signature) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"name":%q,"email":%q,"date":"%s"}`, s.Name, s.Email, s.Date.UTC().Format(time.RFC3339))), nil
}

func gitHash(kind string, body []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s %d\x00", kind, len(body))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// putBlob stores content and returns its git blob sha.
func (rp *repo) putBlob(content []byte) string {
	sha := gitHash("blob", content)
	if _, ok := rp.blobs[sha]; !ok {
		rp.blobs[sha] = append([]byte(nil), content...)
	}
	return sha
}

// writeTree stores the trees for a path → blob sha map and returns the root tree sha.
func (rp *repo) writeTree(files map[string]string) string {
	changes := make(map[string]*change, len(files))
	for path, sha := range files {
		changes[path] = &change{sha: sha}
	}
	return rp.updateTree("", changes)
}

// files flattens a tree into path → blob sha.
func (rp *repo) files(treeSHA string) map[string]string {
	out := map[string]string{}
	var walk func(sha, prefix string)
	walk = func(sha, prefix string) {
		t := rp.trees[sha]
		if t == nil {
			return
		}
		for e := range t.entries.all() {
			if e.dir {
				walk(e.sha, prefix+e.name+"/")
			} else {
				out[prefix+e.name] = e.sha
			}
		}
	}
	walk(treeSHA, "")
	return out
}

// lookup finds the entry at path in a tree ("" is the root itself).
func (rp *repo) lookup(treeSHA, path string) (treeEntry, bool) {
	cur := treeEntry{dir: true, sha: treeSHA}
	if path == "" {
		return cur, true
	}
	for _, part := range strings.Split(path, "/") {
		t := rp.trees[cur.sha]
		if !cur.dir || t == nil {
			return treeEntry{}, false
		}
		e, ok := t.entries.find(part)
		if !ok {
			return treeEntry{}, false
		}
		cur = e
	}
	return cur, true
}

func (rp *repo) newCommit(treeSHA string, parents []string, message string, sig signature) *commit {
	var body strings.Builder
	fmt.Fprintf(&body, "tree %s\n", treeSHA)
	for _, p := range parents {
		fmt.Fprintf(&body, "parent %s\n", p)
	}
	stamp := fmt.Sprintf("%s <%s> %d +0000", sig.Name, sig.Email, sig.Date.Unix())
	fmt.Fprintf(&body, "author %s\ncommitter %s\n\n%s\n", stamp, stamp, message)
	c := &commit{sha: gitHash("commit", []byte(body.String())), tree: treeSHA, parents: parents, gen: 1, message: message, author: sig, committer: sig}
	for _, p := range parents {
		c.gen = max(c.gen, rp.generation(p)+1)
	}
	rp.commits[c.sha] = c
	return c
}

// resolve finds the commit a ref names: "" (default branch), a branch, "heads/x", "refs/heads/x",
// a tag, or a commit sha (full or an unambiguous prefix of at least 7).
func (rp *repo) resolve(ref string) *commit {
	if ref == "" {
		ref = rp.defaultBranch
	}
	ref = strings.TrimPrefix(ref, "refs/")
	for _, full := range []string{"refs/" + ref, "refs/heads/" + ref, "refs/tags/" + ref} {
		if sha, ok := rp.refs[full]; ok {
			return rp.commits[sha]
		}
	}
	if c := rp.commits[ref]; c != nil {
		return c
	}
	if len(ref) >= 7 {
		var found *commit
		for sha, c := range rp.commits {
			if strings.HasPrefix(sha, ref) {
				if found != nil {
					return nil
				}
				found = c
			}
		}
		return found
	}
	return nil
}

func sortedPaths(files map[string]string) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// setRef points ref at sha and records what that means: the branch's ledger entry, and for the
// default branch every changed file (ledger + sim.ConfigChanged, the GitOps hook). Lock held.
func (p *Part) setRef(rp *repo, ref, sha string) {
	old, existed := rp.refs[ref]
	rp.refs[ref] = sha
	name, isBranch := strings.CutPrefix(ref, "refs/heads/")
	if !isBranch {
		return
	}
	switch {
	case !existed:
		p.s.Created("github", rp.key("branches/"+name))
	case old != sha:
		p.s.Mutated("github", rp.key("branches/"+name))
	}
	if name == rp.defaultBranch && old != sha {
		p.defaultBranchMoved(rp, old, sha)
	}
	if old != sha {
		p.headMoved(rp, name)
	}
}

func (p *Part) defaultBranchMoved(rp *repo, oldSHA, newSHA string) {
	rp.pushed = p.s.Now()
	before, after := rp.treeSHAOf(oldSHA), rp.treeSHAOf(newSHA)
	for _, path := range rp.changedPaths(before, after) {
		key := rp.key("contents/" + path)
		var content []byte
		was, sha := rp.blobAt(before, path), rp.blobAt(after, path)
		switch {
		case sha == "":
			p.s.Deleted("github", key)
		case was == "":
			p.s.Created("github", key)
		default:
			p.s.Mutated("github", key)
		}
		if sha != "" {
			content = append([]byte(nil), rp.blobs[sha]...)
		}
		p.s.ConfigChanged(rp.fullName(), path, content)
	}
}

// commitChanges commits path → content (nil: delete) onto a branch as one commit and moves the
// branch. Lock held.
func (p *Part) commitChanges(rp *repo, branch string, changes map[string]*[]byte, message string, sig signature) (*commit, error) {
	ref := "refs/heads/" + branch
	head, ok := rp.refs[ref]
	if !ok {
		return nil, fmt.Errorf("branch %s not found", branch)
	}
	blobs := make(map[string]*change, len(changes))
	for path, content := range changes {
		blobs[path] = nil
		if content != nil {
			blobs[path] = &change{sha: rp.putBlob(*content)}
		}
	}
	c := rp.newCommit(rp.updateTree(rp.treeSHAOf(head), blobs), []string{head}, message, sig)
	p.setRef(rp, ref, c.sha)
	return c, nil
}

// sig is the author/committer for a change made by the caller.
func (c *call) sig(now time.Time) signature {
	name := c.user.Name
	if name == "" {
		name = c.user.Login
	}
	return signature{Name: name, Email: c.user.Login + "@users.noreply.github.com", Date: now}
}

// ---- JSON ----

type refJSON struct {
	Ref    string `json:"ref"`
	NodeID string `json:"node_id"`
	URL    string `json:"url"`
	Object struct {
		Type string `json:"type"`
		SHA  string `json:"sha"`
		URL  string `json:"url"`
	} `json:"object"`
}

func (c *call) refJSON(rp *repo, ref string) refJSON {
	var out refJSON
	sha := rp.refs[ref]
	out.Ref, out.NodeID = ref, "REF_"+base64.RawStdEncoding.EncodeToString([]byte(rp.fullName()+":"+ref))
	out.URL = c.api + "/repos/" + rp.fullName() + "/git/" + ref
	out.Object.Type, out.Object.SHA = "commit", sha
	out.Object.URL = c.api + "/repos/" + rp.fullName() + "/git/commits/" + sha
	return out
}

type shaURL struct {
	SHA     string `json:"sha"`
	URL     string `json:"url"`
	HTMLURL string `json:"html_url,omitempty"`
}

type commitJSON struct {
	SHA          string         `json:"sha"`
	NodeID       string         `json:"node_id"`
	URL          string         `json:"url"`
	HTMLURL      string         `json:"html_url"`
	Author       signature      `json:"author"`
	Committer    signature      `json:"committer"`
	Message      string         `json:"message"`
	Tree         shaURL         `json:"tree"`
	Parents      []shaURL       `json:"parents"`
	Verification map[string]any `json:"verification"`
}

func (c *call) commitJSON(rp *repo, cm *commit) *commitJSON {
	base := c.api + "/repos/" + rp.fullName() + "/git/"
	out := &commitJSON{
		SHA: cm.sha, NodeID: "C_" + cm.sha[:20], URL: base + "commits/" + cm.sha,
		HTMLURL: c.web + "/" + rp.fullName() + "/commit/" + cm.sha,
		Author:  cm.author, Committer: cm.committer, Message: cm.message,
		Tree:         shaURL{SHA: cm.tree, URL: base + "trees/" + cm.tree},
		Parents:      []shaURL{},
		Verification: map[string]any{"verified": false, "reason": "unsigned", "signature": nil, "payload": nil},
	}
	for _, p := range cm.parents {
		out.Parents = append(out.Parents, shaURL{SHA: p, URL: base + "commits/" + p, HTMLURL: c.web + "/" + rp.fullName() + "/commit/" + p})
	}
	return out
}

type treeEntryJSON struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	Type string `json:"type"`
	SHA  string `json:"sha"`
	Size *int   `json:"size,omitempty"`
	URL  string `json:"url"`
}

func (c *call) treeJSON(rp *repo, sha string, recursive bool) map[string]any {
	base := c.api + "/repos/" + rp.fullName() + "/git/"
	entries := []treeEntryJSON{}
	var walk func(sha, prefix string)
	walk = func(sha, prefix string) {
		for e := range rp.entriesOf(sha).all() {
			j := treeEntryJSON{Path: prefix + e.name, SHA: e.sha}
			if e.dir {
				j.Mode, j.Type, j.URL = "040000", "tree", base+"trees/"+e.sha
			} else {
				size := len(rp.blobs[e.sha])
				j.Mode, j.Type, j.URL, j.Size = "100644", "blob", base+"blobs/"+e.sha, &size
			}
			entries = append(entries, j)
			if e.dir && recursive {
				walk(e.sha, prefix+e.name+"/")
			}
		}
	}
	walk(sha, "")
	return map[string]any{"sha": sha, "url": base + "trees/" + sha, "tree": entries, "truncated": false}
}

// ---- handlers ----

func (p *Part) getRef(c *call) (int, any) {
	ref := "refs/" + strings.TrimPrefix(c.r.PathValue("ref"), "refs/")
	if _, ok := c.repo.refs[ref]; !ok {
		return notFound()
	}
	return 200, c.refJSON(c.repo, ref)
}

// listRefs is GET /git/matching-refs/{prefix}: every ref starting with refs/{prefix}.
func (p *Part) listRefs(c *call) (int, any) {
	prefix := "refs/" + strings.TrimPrefix(c.r.PathValue("ref"), "refs/")
	out := []refJSON{}
	for _, ref := range sim.SortedKeys(c.repo.refs) {
		if strings.HasPrefix(ref, prefix) {
			out = append(out, c.refJSON(c.repo, ref))
		}
	}
	return 200, paginate(c, out)
}

func (p *Part) createRef(c *call) (int, any) {
	var req struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if !strings.HasPrefix(req.Ref, "refs/") || strings.Count(req.Ref, "/") < 2 || strings.HasSuffix(req.Ref, "/") {
		return fail(422, "Reference name is invalid")
	}
	if _, ok := c.repo.commits[req.SHA]; !ok {
		return fail(422, "Object does not exist")
	}
	if _, ok := c.repo.refs[req.Ref]; ok {
		return fail(422, "Reference already exists")
	}
	p.setRef(c.repo, req.Ref, req.SHA)
	c.hdr.Set("Location", c.api+"/repos/"+c.repo.fullName()+"/git/"+req.Ref)
	return 201, c.refJSON(c.repo, req.Ref)
}

func (p *Part) updateRef(c *call) (int, any) {
	ref := "refs/" + strings.TrimPrefix(c.r.PathValue("ref"), "refs/")
	var req struct {
		SHA   string `json:"sha"`
		Force bool   `json:"force"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	cur, ok := c.repo.refs[ref]
	if !ok {
		return fail(422, "Reference does not exist")
	}
	if _, ok := c.repo.commits[req.SHA]; !ok {
		return fail(422, "Object does not exist")
	}
	if !req.Force && !c.repo.isAncestor(cur, req.SHA) {
		return fail(422, "Update is not a fast forward")
	}
	p.setRef(c.repo, ref, req.SHA)
	return 200, c.refJSON(c.repo, ref)
}

func (p *Part) deleteRef(c *call) (int, any) {
	ref := "refs/" + strings.TrimPrefix(c.r.PathValue("ref"), "refs/")
	if _, ok := c.repo.refs[ref]; !ok {
		return fail(422, "Reference does not exist")
	}
	if ref == "refs/heads/"+c.repo.defaultBranch {
		return fail(422, "Cannot delete the default branch")
	}
	p.deleteRefLocked(c.repo, ref)
	return 204, nil
}

func (p *Part) deleteRefLocked(rp *repo, ref string) {
	delete(rp.refs, ref)
	if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		p.s.Deleted("github", rp.key("branches/"+name))
	}
}

func (p *Part) getCommit(c *call) (int, any) {
	cm := c.repo.commits[c.r.PathValue("sha")]
	if cm == nil {
		return notFound()
	}
	return 200, c.commitJSON(c.repo, cm)
}

func (p *Part) createCommit(c *call) (int, any) {
	var req struct {
		Message string     `json:"message"`
		Tree    string     `json:"tree"`
		Parents []string   `json:"parents"`
		Author  *signature `json:"author"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if req.Message == "" {
		return invalid(fieldError{Resource: "Commit", Code: "missing_field", Field: "message"})
	}
	if c.repo.trees[req.Tree] == nil {
		return fail(422, "Tree SHA does not exist")
	}
	for _, parent := range req.Parents {
		if c.repo.commits[parent] == nil {
			return fail(422, "Parent SHA does not exist or is not a commit object")
		}
	}
	sig := c.sig(p.s.Now())
	if req.Author != nil && req.Author.Name != "" {
		sig.Name, sig.Email = req.Author.Name, req.Author.Email
	}
	cm := c.repo.newCommit(req.Tree, append([]string(nil), req.Parents...), req.Message, sig)
	return 201, c.commitJSON(c.repo, cm)
}

// getTree accepts a tree sha, a commit sha or a branch/tag name, like GitHub's tree-ish.
func (p *Part) getTree(c *call) (int, any) {
	ish := c.r.PathValue("sha")
	sha := ish
	if c.repo.trees[sha] == nil {
		cm := c.repo.resolve(ish)
		if cm == nil {
			return notFound()
		}
		sha = cm.tree
	}
	_, recursive := c.r.URL.Query()["recursive"] // GitHub: any value, even 0, means recursive
	return 200, c.treeJSON(c.repo, sha, recursive)
}

func (p *Part) createTree(c *call) (int, any) {
	var req struct {
		BaseTree string `json:"base_tree"`
		Tree     []struct {
			Path    string  `json:"path"`
			Mode    string  `json:"mode"`
			Type    string  `json:"type"`
			SHA     *string `json:"sha"`
			Content *string `json:"content"`
		} `json:"tree"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if req.BaseTree != "" && c.repo.trees[req.BaseTree] == nil {
		return fail(422, "base_tree is not a valid tree oid")
	}
	changes := map[string]*change{}
	for _, e := range req.Tree {
		path := strings.Trim(e.Path, "/")
		if path == "" {
			return invalid(fieldError{Resource: "Tree", Code: "missing_field", Field: "path"})
		}
		switch {
		case e.Content != nil:
			changes[path] = &change{sha: c.repo.putBlob([]byte(*e.Content))}
		case e.SHA == nil: // "sha": null deletes the path
			changes[path] = nil
		case e.Type == "tree" || e.Mode == "040000":
			if c.repo.trees[*e.SHA] == nil {
				return fail(422, "tree.sha "+*e.SHA+" is not a valid tree")
			}
			changes[path] = &change{sha: *e.SHA, dir: true}
		default:
			if _, ok := c.repo.blobs[*e.SHA]; !ok {
				return fail(422, "tree.sha "+*e.SHA+" is not a valid blob")
			}
			changes[path] = &change{sha: *e.SHA}
		}
	}
	return 201, c.treeJSON(c.repo, c.repo.updateTree(req.BaseTree, changes), false)
}

func (p *Part) getBlob(c *call) (int, any) {
	sha := c.r.PathValue("sha")
	b, ok := c.repo.blobs[sha]
	if !ok {
		return notFound()
	}
	return 200, map[string]any{
		"sha": sha, "node_id": "B_" + sha[:20], "size": len(b), "encoding": "base64",
		"url": c.api + "/repos/" + c.repo.fullName() + "/git/blobs/" + sha, "content": wrap64(b),
	}
}

func (p *Part) createBlob(c *call) (int, any) {
	var req struct {
		Content  *string `json:"content"`
		Encoding string  `json:"encoding"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if req.Content == nil {
		return invalid(fieldError{Resource: "Blob", Code: "missing_field", Field: "content"})
	}
	b := []byte(*req.Content)
	if req.Encoding == "base64" {
		var err error
		if b, err = base64.StdEncoding.DecodeString(*req.Content); err != nil {
			return invalid(fieldError{Resource: "Blob", Code: "invalid", Field: "content"})
		}
	}
	sha := c.repo.putBlob(b)
	return 201, map[string]string{"sha": sha, "url": c.api + "/repos/" + c.repo.fullName() + "/git/blobs/" + sha}
}

// wrap64 base64-encodes like GitHub: 60 characters per line, each ending in a newline.
func wrap64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 60 {
		out.WriteString(s[:60] + "\n")
		s = s[60:]
	}
	if s != "" {
		out.WriteString(s + "\n")
	}
	return out.String()
}
