package github

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// repo is one repository: issues and pull requests (one number sequence), comments, labels,
// releases, hooks and the git object store.
type repo struct {
	id            int64
	owner, name   string
	defaultBranch string
	created       time.Time
	pushed        time.Time

	lastNumber int64
	issues     map[int64]*issue // by number; pull requests are issues with pull set
	order      []int64          // issue numbers, ascending
	comments   map[int64]*comment
	labels     map[string]*label // by lower-case name
	releases   []*release        // oldest first
	hooks      []*hook

	blobs   map[string][]byte
	trees   map[string]*tree
	commits map[string]*commit
	refs    map[string]string // "refs/heads/main" → commit sha

	// deleteBranchOnMerge is the repository setting delete_branch_on_merge: a merged pull
	// request's head branch is deleted by GitHub.
	deleteBranchOnMerge bool
	protection          map[string]*protection // by branch name
	statuses            map[string][]*status   // by commit sha, oldest first
	checkRuns           map[string][]*checkRun // by commit sha, oldest first
}

func (rp *repo) fullName() string { return rp.owner + "/" + rp.name }

// key is the ledger key of something in this repository, e.g. key("issues/3").
func (rp *repo) key(rest string) string { return "repos/" + rp.fullName() + "/" + rest }

// repoFor returns the repository, creating it on first use unless StrictRepos. Lock held.
func (p *Part) repoFor(full string) *repo {
	if rp := p.repos[strings.ToLower(full)]; rp != nil {
		return rp
	}
	if p.opts.StrictRepos {
		return nil
	}
	rp, err := p.createRepo(full, "", nil)
	if err != nil {
		return nil
	}
	return rp
}

// createRepo creates the repository if needed (default branch with an empty initial commit) and
// commits files onto its default branch in one commit. Lock held.
func (p *Part) createRepo(full, defaultBranch string, files map[string]string) (*repo, error) {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("repository name %q must be owner/name", full)
	}
	rp := p.repos[strings.ToLower(full)]
	if rp == nil {
		if defaultBranch == "" {
			defaultBranch = "main"
		}
		now := p.s.Now()
		rp = &repo{
			id: p.s.NextID(), owner: owner, name: name, defaultBranch: defaultBranch, created: now, pushed: now,
			issues: map[int64]*issue{}, comments: map[int64]*comment{}, labels: map[string]*label{},
			blobs: map[string][]byte{}, trees: map[string]*tree{}, commits: map[string]*commit{}, refs: map[string]string{},
		}
		if p.opts.FirstIssueNumber > 1 {
			rp.lastNumber = p.opts.FirstIssueNumber - 1
		}
		p.repos[strings.ToLower(full)] = rp
		p.s.Created("github", "repos/"+full)
		root := rp.writeTree(map[string]string{})
		c := rp.newCommit(root, nil, "Initial commit", signature{Name: "GitHub", Email: "noreply@github.com", Date: now})
		p.setRef(rp, "refs/heads/"+defaultBranch, c.sha)
	}
	if len(files) > 0 {
		changes := map[string]*[]byte{}
		for path, content := range files {
			b := []byte(content)
			changes[path] = &b
		}
		if _, err := p.commitChanges(rp, rp.defaultBranch, changes, "Seed files", signature{Name: "GitHub", Email: "noreply@github.com", Date: p.s.Now()}); err != nil {
			return nil, err
		}
	}
	return rp, nil
}

// CreateRepo creates a repository (if needed) and commits files onto its default branch, as the
// admin API does, for tests that run the simulator in-process.
func (p *Part) CreateRepo(full string, files map[string]string) error {
	defer p.s.Lock()()
	_, err := p.createRepo(full, "", files)
	return err
}

// File returns a file's content on a branch ("" = default branch), for in-process tests.
func (p *Part) File(full, branch, path string) ([]byte, bool) {
	defer p.s.Lock()()
	rp := p.repos[strings.ToLower(full)]
	if rp == nil {
		return nil, false
	}
	c := rp.resolve(branch)
	if c == nil {
		return nil, false
	}
	sha := rp.blobAt(c.tree, path)
	if sha == "" {
		return nil, false
	}
	return append([]byte(nil), rp.blobs[sha]...), true
}

type repoJSON struct {
	ID            int64     `json:"id"`
	NodeID        string    `json:"node_id"`
	Name          string    `json:"name"`
	FullName      string    `json:"full_name"`
	Private       bool      `json:"private"`
	Owner         *userJSON `json:"owner"`
	HTMLURL       string    `json:"html_url"`
	Description   *string   `json:"description"`
	Fork          bool      `json:"fork"`
	URL           string    `json:"url"`
	CloneURL      string    `json:"clone_url"`
	DefaultBranch string    `json:"default_branch"`
	Visibility    string    `json:"visibility"`
	HasIssues     bool      `json:"has_issues"`
	Archived      bool      `json:"archived"`
	// DeleteBranchOnMerge is only shown to users who can administer the repository on GitHub;
	// every simulated user can.
	DeleteBranchOnMerge bool `json:"delete_branch_on_merge"`
	CreatedAt           Time `json:"created_at"`
	UpdatedAt           Time `json:"updated_at"`
	PushedAt            Time `json:"pushed_at"`
}

func (c *call) repoJSON(p *Part, rp *repo) *repoJSON {
	return &repoJSON{
		ID: rp.id, NodeID: nodeID("R", rp.id), Name: rp.name, FullName: rp.fullName(),
		Owner: c.ownerJSON(p, rp.owner), HTMLURL: c.web + "/" + rp.fullName(),
		URL: c.api + "/repos/" + rp.fullName(), CloneURL: c.web + "/" + rp.fullName() + ".git",
		DefaultBranch: rp.defaultBranch, Visibility: "public", HasIssues: true, DeleteBranchOnMerge: rp.deleteBranchOnMerge,
		CreatedAt: ts(rp.created), UpdatedAt: ts(rp.pushed), PushedAt: ts(rp.pushed),
	}
}

func (p *Part) getRepo(c *call) (int, any) { return 200, c.repoJSON(p, c.repo) }

// editRepo is PATCH /repos/{o}/{r}; of its settings only delete_branch_on_merge is simulated.
func (p *Part) editRepo(c *call) (int, any) {
	var req struct {
		DeleteBranchOnMerge *bool `json:"delete_branch_on_merge"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if req.DeleteBranchOnMerge != nil {
		c.repo.deleteBranchOnMerge = *req.DeleteBranchOnMerge
	}
	return 200, c.repoJSON(p, c.repo)
}

func (p *Part) listBranches(c *call) (int, any) {
	type branchJSON struct {
		Name      string            `json:"name"`
		Commit    map[string]string `json:"commit"`
		Protected bool              `json:"protected"`
	}
	names := c.repo.branches()
	out := make([]branchJSON, 0, len(names))
	for _, n := range paginate(c, names) {
		sha := c.repo.refs["refs/heads/"+n]
		out = append(out, branchJSON{Name: n, Commit: map[string]string{"sha": sha, "url": c.api + "/repos/" + c.repo.fullName() + "/commits/" + sha},
			Protected: c.repo.protection[n] != nil})
	}
	return 200, out
}

func (p *Part) getBranch(c *call) (int, any) {
	name := c.r.PathValue("branch")
	sha, ok := c.repo.refs["refs/heads/"+name]
	if !ok {
		return fail(404, "Branch not found")
	}
	cm := c.commitJSON(c.repo, c.repo.commits[sha])
	return 200, map[string]any{
		"name":      name,
		"commit":    map[string]any{"sha": sha, "node_id": cm.NodeID, "commit": cm, "url": c.api + "/repos/" + c.repo.fullName() + "/commits/" + sha, "html_url": cm.HTMLURL, "parents": cm.Parents},
		"protected": c.repo.protection[name] != nil,
		"_links":    map[string]string{"self": c.api + "/repos/" + c.repo.fullName() + "/branches/" + name, "html": c.web + "/" + c.repo.fullName() + "/tree/" + name},
	}
}

// branches lists branch names in order.
func (rp *repo) branches() []string {
	var out []string
	for ref := range rp.refs {
		if name, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// snapshot is the trimmed state of the repository for /_sim/state. Lock held.
func (rp *repo) snapshot() map[string]any {
	var issues, pulls []map[string]any
	for _, n := range rp.numbers() {
		is := rp.issues[n]
		if is.pull != nil {
			pulls = append(pulls, map[string]any{
				"number": n, "title": is.title, "state": is.state, "merged": is.pull.merged,
				"head": is.pull.head, "base": is.pull.base,
			})
			continue
		}
		bodies := make([]string, 0, len(is.comments))
		for _, cm := range is.comments {
			bodies = append(bodies, fmt.Sprintf("#%d %s: %s", cm.id, cm.user.Login, trim(cm.body, 160)))
		}
		issues = append(issues, map[string]any{
			"number": n, "title": is.title, "state": is.state, "labels": is.labels,
			"user": is.user.Login, "comments": len(is.comments), "commentBodies": bodies,
		})
	}
	branches := map[string]string{}
	for _, b := range rp.branches() {
		branches[b] = rp.refs["refs/heads/"+b]
	}
	var files []string
	if c := rp.resolve(""); c != nil {
		files = append(files, sortedPaths(rp.files(c.tree))...)
	}
	var releases []string
	for _, r := range rp.releases {
		releases = append(releases, r.tag)
	}
	return map[string]any{
		"defaultBranch": rp.defaultBranch, "issues": issues, "pulls": pulls, "branches": branches,
		"files": files, "releases": releases, "hooks": len(rp.hooks),
	}
}

// numbers lists issue and pull request numbers in order (callers do not change it).
func (rp *repo) numbers() []int64 { return rp.order }

// addIssue files an issue or pull request; numbers only grow, so the order stays sorted without
// sorting 10,000 numbers on every list call.
func (rp *repo) addIssue(is *issue) {
	rp.issues[is.number] = is
	rp.order = append(rp.order, is.number)
}
