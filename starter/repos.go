package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/internal/forms"
)

// The starter serves issues from its own repositories only: instance requests from the request
// repositories, upgrade-tracking issues from the tracking repository. The webhook may be installed
// more widely (an organisation webhook, a public repository); a form filed anywhere else must not
// start a production change nor have the hand-off, with the admin's email, posted there.

// defaultRequestRepo is where the issue forms live when LIFECYCLE_REQUEST_REPOS and
// LIFECYCLE_TRACKING_REPO are unset.
const defaultRequestRepo = "sourcegraph/customer"

// repos are the served repositories, as lower-case owner/name (GitHub's names are case-insensitive).
type repos struct {
	request  []string
	tracking string
}

// reposFromEnv reads LIFECYCLE_REQUEST_REPOS (comma-separated) and LIFECYCLE_TRACKING_REPO. Unset
// variables keep the default; a bad value stops the starter with an error naming the variable.
func reposFromEnv() (repos, error) {
	r := repos{request: []string{defaultRequestRepo}, tracking: defaultRequestRepo}
	if v := os.Getenv("LIFECYCLE_REQUEST_REPOS"); v != "" {
		r.request = nil
		for _, f := range strings.Split(v, ",") {
			name := strings.ToLower(strings.TrimSpace(f))
			if name == "" {
				continue
			}
			if !validRepo(name) {
				return r, fmt.Errorf("LIFECYCLE_REQUEST_REPOS=%q: %q is not a repository: want comma-separated owner/name, e.g. sourcegraph/customer", v, name)
			}
			if !slices.Contains(r.request, name) {
				r.request = append(r.request, name)
			}
		}
		if len(r.request) == 0 {
			return r, fmt.Errorf("LIFECYCLE_REQUEST_REPOS=%q: want at least one owner/name, e.g. sourcegraph/customer (unset it for the default)", v)
		}
	}
	if v := os.Getenv("LIFECYCLE_TRACKING_REPO"); v != "" {
		name := strings.ToLower(strings.TrimSpace(v))
		if !validRepo(name) {
			return r, fmt.Errorf("LIFECYCLE_TRACKING_REPO=%q: want one repository as owner/name, e.g. sourcegraph/customer", v)
		}
		r.tracking = name
	}
	return r, nil
}

// validRepo reports whether s is owner/name with GitHub's characters.
func validRepo(s string) bool {
	owner, name, ok := strings.Cut(s, "/")
	return ok && validSlug(owner) && validSlug(name)
}

// repoName is a delivery's repository as lower-case owner/name.
func repoName(r *github.Repository) string {
	return strings.ToLower(r.GetOwner().GetLogin() + "/" + r.GetName())
}

// serves reports whether issues of the repository may be requests of any kind.
func (r repos) serves(repo string) bool {
	return repo == r.tracking || slices.Contains(r.request, repo)
}

// servesOp reports whether a request for op may be filed in the repository.
func (r repos) servesOp(repo string, op forms.Operation) bool {
	if op == forms.OpUpgradeFleet {
		return repo == r.tracking
	}
	return slices.Contains(r.request, repo)
}
