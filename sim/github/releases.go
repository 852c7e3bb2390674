package github

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// release is a GitHub release; creating one also tags the default branch's head, as GitHub does
// when target_commitish names a branch.
type release struct {
	id                 int64
	tag, target, name  string
	body               string
	draft, prerelease  bool
	created, published time.Time
	author             *user
}

var errReleaseExists = errors.New("release already exists")

// addRelease creates a release (and its repository if needed). Lock held.
func (p *Part) addRelease(r Release, author *user) (*release, error) {
	rp := p.repos[strings.ToLower(r.Repo)]
	if rp == nil {
		var err error
		if rp, err = p.createRepo(r.Repo, "", nil); err != nil {
			return nil, err
		}
	}
	if r.Tag == "" {
		return nil, fmt.Errorf("release needs a tag_name")
	}
	if rp.releaseByTag(r.Tag) != nil {
		return nil, errReleaseExists
	}
	now := p.s.Now()
	rel := &release{id: p.s.NextID(), tag: r.Tag, target: rp.defaultBranch, name: r.Name, body: r.Body,
		draft: r.Draft, prerelease: r.Prerelease, created: now, author: author}
	if !r.Draft {
		rel.published = now
	}
	if _, ok := rp.refs["refs/tags/"+r.Tag]; !ok {
		p.setRef(rp, "refs/tags/"+r.Tag, rp.refs["refs/heads/"+rp.defaultBranch])
	}
	rp.releases = append(rp.releases, rel)
	p.s.Created("github", rp.key("releases/"+r.Tag))
	return rel, nil
}

// AddRelease creates a release, as the admin API does, for tests that run the simulator in-process.
func (p *Part) AddRelease(r Release) error {
	defer p.s.Lock()()
	_, err := p.addRelease(r, nil)
	return err
}

func (rp *repo) releaseByTag(tag string) *release {
	for _, r := range rp.releases {
		if r.tag == tag {
			return r
		}
	}
	return nil
}

// newestFirst orders releases as GitHub lists them.
func (rp *repo) newestFirst() []*release {
	out := append([]*release(nil), rp.releases...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.After(out[j].created)
		}
		return out[i].id > out[j].id
	})
	return out
}

func (p *Part) releaseJSON(c *call, rp *repo, r *release) map[string]any {
	api := fmt.Sprintf("%s/repos/%s/releases/%d", c.api, rp.fullName(), r.id)
	author := c.userJSON(r.author)
	if author == nil {
		author = c.ownerJSON(p, rp.owner)
	}
	return map[string]any{
		"url": api, "html_url": c.web + "/" + rp.fullName() + "/releases/tag/" + r.tag,
		"assets_url": api + "/assets", "upload_url": c.web + "/api/uploads/repos/" + rp.fullName() + fmt.Sprintf("/releases/%d/assets{?name,label}", r.id),
		"tarball_url": c.api + "/repos/" + rp.fullName() + "/tarball/" + r.tag,
		"zipball_url": c.api + "/repos/" + rp.fullName() + "/zipball/" + r.tag,
		"id":          r.id, "node_id": nodeID("RE", r.id), "tag_name": r.tag, "target_commitish": r.target,
		"name": strOrNil(r.name), "body": strOrNil(r.body), "draft": r.draft, "prerelease": r.prerelease,
		"created_at": ts(r.created), "published_at": tsOrNil(r.published), "author": author, "assets": []any{},
	}
}

func (p *Part) createRelease(c *call) (int, any) {
	var req struct {
		TagName    string `json:"tag_name"`
		Name       string `json:"name"`
		Body       string `json:"body"`
		Draft      bool   `json:"draft"`
		Prerelease bool   `json:"prerelease"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if req.TagName == "" {
		return invalid(fieldError{Resource: "Release", Code: "missing_field", Field: "tag_name"})
	}
	rel, err := p.addRelease(Release{Repo: c.repo.fullName(), Tag: req.TagName, Name: req.Name, Body: req.Body,
		Draft: req.Draft, Prerelease: req.Prerelease}, c.user)
	if errors.Is(err, errReleaseExists) {
		return invalid(fieldError{Resource: "Release", Code: "already_exists", Field: "tag_name"})
	}
	if err != nil {
		return fail(422, err.Error())
	}
	return 201, p.releaseJSON(c, c.repo, rel)
}

func (p *Part) listReleases(c *call) (int, any) {
	out := []map[string]any{}
	for _, r := range paginate(c, c.repo.newestFirst()) {
		out = append(out, p.releaseJSON(c, c.repo, r))
	}
	return 200, out
}

func (p *Part) getRelease(c *call) (int, any) {
	id, _ := pathNumber(c, "id")
	for _, r := range c.repo.releases {
		if r.id == id {
			return 200, p.releaseJSON(c, c.repo, r)
		}
	}
	return notFound()
}

func (p *Part) getReleaseByTag(c *call) (int, any) {
	r := c.repo.releaseByTag(c.r.PathValue("tag"))
	if r == nil {
		return notFound()
	}
	return 200, p.releaseJSON(c, c.repo, r)
}

// latestRelease is the newest release that is neither a draft nor a prerelease.
func (p *Part) latestRelease(c *call) (int, any) {
	for _, r := range c.repo.newestFirst() {
		if !r.draft && !r.prerelease {
			return 200, p.releaseJSON(c, c.repo, r)
		}
	}
	return notFound()
}
