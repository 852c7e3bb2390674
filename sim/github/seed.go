package github

import (
	"fmt"
	"strings"
	"time"
)

// Push is one commit made straight onto a repository's default branch by someone with push rights,
// without a pull request: how files that predate the lifecycle service got there.
type Push struct {
	Message string
	Author  string // name
	Email   string
	Date    time.Time
	Files   map[string][]byte // path → content, all in this one commit
}

// PushDefaultBranch commits push onto the repository's default branch (creating the repository
// if needed, even with StrictRepos) and returns the commit SHA. Watchers hear of every changed
// file (sim.ConfigChanged), as after a merge. Lock held.
func (p *Part) PushDefaultBranch(full string, push Push) (string, error) {
	rp, err := p.createRepo(full, "", nil)
	if err != nil {
		return "", err
	}
	if len(push.Files) == 0 {
		return "", fmt.Errorf("push to %s: no files", full)
	}
	changes := make(map[string]*[]byte, len(push.Files))
	for path, content := range push.Files {
		if path = strings.Trim(path, "/"); path == "" {
			return "", fmt.Errorf("push to %s: empty file path", full)
		}
		changes[path] = &content
	}
	c, err := p.commitChanges(rp, rp.defaultBranch, changes, push.Message, signature{Name: push.Author, Email: push.Email, Date: push.Date})
	if err != nil {
		return "", err
	}
	return c.sha, nil
}

// ExistingFiles returns which of paths exist on the repository's default branch, by path. Lock held.
func (p *Part) ExistingFiles(full string, paths []string) []string {
	rp := p.repos[strings.ToLower(full)]
	if rp == nil {
		return nil
	}
	c := rp.resolve("")
	if c == nil {
		return nil
	}
	var out []string
	for _, path := range paths {
		if rp.blobAt(c.tree, path) != "" {
			out = append(out, path)
		}
	}
	return out
}
