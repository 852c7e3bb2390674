package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v55/github"
)

// Who may ask the starter for what. Filing a request (an issue form) is open to the requester
// teams and the allowlist; steering one (slash commands) to the approver team
// (workflows.Settings.ApproverTeam). These are the starter's own settings: the workflows never
// see them, so they are not part of workflows.Settings.

// defaultRequesterTeams are the teams whose members may file requests when
// LIFECYCLE_REQUESTER_TEAMS is unset: customer engineering and the Cloud team.
var defaultRequesterTeams = []string{"sourcegraph/ce", "sourcegraph/cloud"}

// membershipTTL is how long a team-membership answer is reused. Short: someone just added to a
// team waits at most this long, and someone removed loses access as quickly.
const membershipTTL = 5 * time.Minute

// auth holds who may file requests.
type auth struct {
	// requesterTeams are "org/team" slugs; a member of any of them may file a request.
	requesterTeams []string
	// allowlist are GitHub logins (lower case) who may file requests without being on a team.
	allowlist []string
}

// authFromEnv reads LIFECYCLE_REQUESTER_TEAMS and LIFECYCLE_REQUESTER_ALLOWLIST. Unset variables
// keep the defaults; a bad value stops the starter with an error naming the variable and the fix.
func authFromEnv() (auth, error) {
	a := auth{requesterTeams: slices.Clone(defaultRequesterTeams)}
	if v := os.Getenv("LIFECYCLE_REQUESTER_TEAMS"); v != "" {
		teams, err := parseTeams(v)
		if err != nil {
			return a, fmt.Errorf("LIFECYCLE_REQUESTER_TEAMS=%q: %w", v, err)
		}
		a.requesterTeams = teams
	}
	if v := os.Getenv("LIFECYCLE_REQUESTER_ALLOWLIST"); v != "" {
		logins, err := parseLogins(v)
		if err != nil {
			return a, fmt.Errorf("LIFECYCLE_REQUESTER_ALLOWLIST=%q: %w", v, err)
		}
		a.allowlist = logins
	}
	return a, nil
}

// parseTeams parses comma-separated org/team slugs.
func parseTeams(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		t := strings.TrimSpace(f)
		if t == "" {
			continue
		}
		org, team, ok := strings.Cut(t, "/")
		if !ok || !validSlug(org) || !validSlug(team) {
			return nil, fmt.Errorf("%q is not a team: want comma-separated org/team slugs, e.g. sourcegraph/ce,sourcegraph/cloud", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("want at least one org/team, e.g. sourcegraph/ce,sourcegraph/cloud (unset it for the default)")
	}
	return out, nil
}

// parseLogins parses comma-separated GitHub logins (a leading @ is allowed), lower-cased.
func parseLogins(v string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(v, ",") {
		l := strings.TrimPrefix(strings.TrimSpace(f), "@")
		if l == "" {
			continue
		}
		if !validLogin(l) {
			return nil, fmt.Errorf("%q is not a GitHub login: want comma-separated logins (letters, digits, dashes), e.g. alice,bob", l)
		}
		if l = strings.ToLower(l); !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// validLogin reports whether s can be a GitHub user's login: 1–39 letters, digits or single
// dashes, not starting or ending with a dash. Anything else (an app's "name[bot]", a forged
// payload) is nobody's team member and is never put into an API path.
func validLogin(s string) bool {
	if len(s) == 0 || len(s) > 39 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validSlug reports whether s can be an organisation's login or a team's slug.
func validSlug(s string) bool {
	if len(s) == 0 || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// allowlisted reports whether login is on the requester allowlist.
func (a auth) allowlisted(login string) bool {
	return login != "" && slices.Contains(a.allowlist, strings.ToLower(login))
}

// teamsText names the requester teams for a comment: `a/b` or `c/d`.
func (a auth) teamsText() string {
	names := make([]string, len(a.requesterTeams))
	for i, t := range a.requesterTeams {
		names[i] = "`" + t + "`"
	}
	switch len(names) {
	case 0:
		return "no team"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// memberships answers "is this login an active member of this team?" through the GitHub API, and
// remembers each answer, yes or no, for a short while: one issue brings several deliveries
// (opened, then one per label), and each would otherwise ask GitHub again. Errors are not
// remembered. Safe for concurrent use.
type memberships struct {
	gh  *github.Client
	ttl time.Duration
	now func() time.Time // time.Now; tests move it

	mu      sync.Mutex
	answers map[membershipKey]membershipAnswer
}

type membershipKey struct{ team, login string }

type membershipAnswer struct {
	member  bool
	expires time.Time
}

// maxMemberships bounds the cache; expired answers are dropped first when it is full.
const maxMemberships = 10000

func newMemberships(gh *github.Client, ttl time.Duration) *memberships {
	return &memberships{gh: gh, ttl: ttl, now: time.Now, answers: map[membershipKey]membershipAnswer{}}
}

// isMember reports whether login is an active member of team ("org/team"). A login or team
// GitHub could not have is answered no without asking; a 404 (not a member, or no such team: GitHub
// does not tell them apart) is no; any other failure is an error.
func (m *memberships) isMember(ctx context.Context, team, login string) (bool, error) {
	org, slug, ok := strings.Cut(team, "/")
	if !ok || !validSlug(org) || !validSlug(slug) || !validLogin(login) {
		return false, nil
	}
	key := membershipKey{strings.ToLower(team), strings.ToLower(login)}
	if member, ok := m.cached(key); ok {
		return member, nil
	}
	ms, _, err := m.gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, login)
	if err != nil {
		var gerr *github.ErrorResponse
		if !errors.As(err, &gerr) || gerr.Response == nil || gerr.Response.StatusCode != http.StatusNotFound {
			return false, fmt.Errorf("checking whether %s is a member of %s: %w", login, team, err)
		}
	}
	member := err == nil && ms.GetState() == "active"
	m.remember(key, member)
	return member, nil
}

func (m *memberships) cached(key membershipKey) (member, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.answers[key]
	if !ok || !m.now().Before(a.expires) {
		return false, false
	}
	return a.member, true
}

func (m *memberships) remember(key membershipKey, member bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.answers) >= maxMemberships {
		for k, a := range m.answers {
			if !now.Before(a.expires) {
				delete(m.answers, k)
			}
		}
		if len(m.answers) >= maxMemberships {
			clear(m.answers)
		}
	}
	m.answers[key] = membershipAnswer{member: member, expires: now.Add(m.ttl)}
}

// mayRequest reports whether login may file requests: on the allowlist, or an active member of
// a requester team. An error means GitHub could not say (and no team said yes).
func (h *webhook) mayRequest(ctx context.Context, login string) (bool, error) {
	if h.auth.allowlisted(login) {
		return true, nil
	}
	var errs []error
	for _, team := range h.auth.requesterTeams {
		ok, err := h.members.isMember(ctx, team, login)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return true, nil
		}
	}
	return false, errors.Join(errs...)
}

// requesterRefusalMarker tags the answer to a request from someone who may not file one: one
// comment per issue, however many deliveries it brings.
const requesterRefusalMarker = "<!-- lifecycle:requester-refusal -->"

// requesterRefusal is the comment on a request filed by someone who may not file one.
func (h *webhook) requesterRefusal(login string) string {
	who := "the author of this issue is"
	if login != "" {
		who = "@" + login + " is"
	}
	return fmt.Sprintf("### Request not started\n\nThank you for the request. Lifecycle requests can only be filed by members of %s "+
		"(the issue's author is the requester), and %s not one of them, so nothing was started.\n\n"+
		"Please ask a member of `%s` (the Cloud team) to file the request for you, or ask your team's maintainers to add you to one of these teams "+
		"and then file a new issue.\n", h.auth.teamsText(), who, h.approverTeam())
}
