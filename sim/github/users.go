package github

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// user is an account: a login with a token and team memberships.
type user struct {
	User
	id      int64
	created time.Time
}

// addUser adds or replaces an account. Lock held.
func (p *Part) addUser(u User) *user {
	key := strings.ToLower(u.Login)
	old := p.users[key]
	if old != nil {
		delete(p.tokens, old.Token)
	}
	nu := &user{User: u, id: p.s.NextID(), created: p.s.Now()}
	if old != nil {
		nu.id, nu.created = old.id, old.created
	}
	nu.Teams = append([]string(nil), u.Teams...)
	p.users[key] = nu
	if u.Token != "" {
		p.tokens[u.Token] = nu
	}
	return nu
}

// AddUser adds or replaces an account (for tests that run the simulator in-process).
func (p *Part) AddUser(u User) {
	defer p.s.Lock()()
	p.addUser(u)
}

// authenticate maps the Authorization header to a user; on failure it returns GitHub's message.
func (p *Part) authenticate(r *http.Request) (*user, string) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, "Requires authentication"
	}
	scheme, tok, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "bearer", "token":
	default:
		return nil, "Bad credentials"
	}
	if u := p.tokens[strings.TrimSpace(tok)]; u != nil {
		return u, ""
	}
	return nil, "Bad credentials"
}

// inTeam reports whether u belongs to org/team (case-insensitive, as GitHub slugs are).
func (u *user) inTeam(org, team string) bool {
	want := strings.ToLower(org + "/" + team)
	for _, t := range u.Teams {
		if strings.ToLower(t) == want {
			return true
		}
	}
	return false
}

// userJSON is GitHub's "simple user".
type userJSON struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	AvatarURL string `json:"avatar_url"`
	URL       string `json:"url"`
	HTMLURL   string `json:"html_url"`
	Type      string `json:"type"`
	SiteAdmin bool   `json:"site_admin"`
}

func (c *call) userJSON(u *user) *userJSON {
	if u == nil {
		return nil
	}
	return &userJSON{
		Login: u.Login, ID: u.id, NodeID: nodeID("U", u.id),
		AvatarURL: c.web + "/avatars/" + u.Login,
		URL:       c.api + "/users/" + u.Login, HTMLURL: c.web + "/" + u.Login,
		Type: "User",
	}
}

// ownerJSON is a repository owner: a user if one has that login, else an organization.
func (c *call) ownerJSON(p *Part, login string) *userJSON {
	if u := p.users[strings.ToLower(login)]; u != nil {
		return c.userJSON(u)
	}
	id := int64(len(login)) // stable, and never shown as a person
	for _, ch := range login {
		id = id*31 + int64(ch)
	}
	if id < 0 {
		id = -id
	}
	return &userJSON{Login: login, ID: id, NodeID: nodeID("O", id), AvatarURL: c.web + "/avatars/" + login,
		URL: c.api + "/users/" + login, HTMLURL: c.web + "/" + login, Type: "Organization"}
}

// nodeID imitates GraphQL node IDs: opaque, stable and distinct per kind.
func nodeID(kind string, id int64) string { return fmt.Sprintf("%s_kwDO%08X", kind, id) }

func (p *Part) getAuthenticatedUser(c *call) (int, any) {
	return 200, c.fullUser(c.user)
}

func (p *Part) getUser(c *call) (int, any) {
	u := p.users[strings.ToLower(c.r.PathValue("username"))]
	if u == nil {
		return notFound()
	}
	return 200, c.fullUser(u)
}

func (c *call) fullUser(u *user) any {
	return struct {
		*userJSON
		Name      *string `json:"name"`
		CreatedAt Time    `json:"created_at"`
		UpdatedAt Time    `json:"updated_at"`
	}{c.userJSON(u), strOrNil(u.Name), ts(u.created), ts(u.created)}
}

// rateWindow counts a user's requests in the current hour, to fill the rate-limit headers.
type rateWindow struct {
	reset time.Time
	used  int
}

// defaultRateLimit is github.com's for a personal or bot token.
const defaultRateLimit = 5000

func (p *Part) rateLimit() int {
	if p.opts.RateLimit > 0 {
		return p.opts.RateLimit
	}
	return defaultRateLimit
}

// rateHeaders counts the request against u (nil: unauthenticated, limit 60) and sets GitHub's
// rate-limit headers. The limit is reported, not refused: at 0 go-github stops sending until the
// reset, as it does with GitHub. Fault injection refuses requests.
func (p *Part) rateHeaders(h http.Header, u *user) {
	key, limit := "", 60
	if u != nil {
		key, limit = strings.ToLower(u.Login), p.rateLimit()
	}
	now := p.s.Now()
	w := p.rate[key]
	if w == nil || !now.Before(w.reset) {
		w = &rateWindow{reset: now.Add(p.scaled(time.Hour))}
		p.rate[key] = w
	}
	w.used++
	setRate(h, limit, w.used, w.reset)
}

func setRate(h http.Header, limit, used int, reset time.Time) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Used", strconv.Itoa(min(used, limit)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

func (p *Part) getRateLimit(c *call) (int, any) {
	w := p.rate[strings.ToLower(c.user.Login)]
	limit := p.rateLimit()
	core := map[string]any{"limit": limit, "used": w.used, "remaining": max(limit-w.used, 0), "reset": w.reset.Unix(), "resource": "core"}
	return 200, map[string]any{"resources": map[string]any{"core": core}, "rate": core}
}

// sortedUsers lists accounts by login, for the admin API.
func (p *Part) sortedUsers() []User {
	out := make([]User, 0, len(p.users))
	for _, u := range p.users {
		out = append(out, u.User)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Login < out[j].Login })
	return out
}
