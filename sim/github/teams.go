package github

import (
	"sort"
	"strings"
)

// Teams exist only through their members: a team is every "org/slug" some user lists. That is all
// the service asks of GitHub (is this person in sourcegraph/ce?), and it keeps seeding to one list.

func (p *Part) teamMembers(org, team string) []*user {
	var out []*user
	for _, u := range p.users {
		if u.inTeam(org, team) {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Login < out[j].Login })
	return out
}

// getTeamMembership answers like GitHub: 200 {"state":"active","role":"member"} for a member and
// 404 otherwise — also for a team that does not exist, which GitHub does not tell apart either.
func (p *Part) getTeamMembership(c *call) (int, any) {
	org, team := c.r.PathValue("org"), c.r.PathValue("team")
	u := p.users[strings.ToLower(c.r.PathValue("username"))]
	if u == nil || !u.inTeam(org, team) {
		return notFound()
	}
	return 200, map[string]any{
		"url":   c.api + "/organizations/" + org + "/team/" + team + "/memberships/" + u.Login,
		"role":  "member",
		"state": "active",
	}
}

func (p *Part) listTeamMembers(c *call) (int, any) {
	members := p.teamMembers(c.r.PathValue("org"), c.r.PathValue("team"))
	if len(members) == 0 {
		return notFound()
	}
	out := make([]*userJSON, 0, len(members))
	for _, u := range paginate(c, members) {
		out = append(out, c.userJSON(u))
	}
	return 200, out
}

// isOrgMember: 204 when the user is in any team of the organization, 404 otherwise.
func (p *Part) isOrgMember(c *call) (int, any) {
	org := strings.ToLower(c.r.PathValue("org"))
	if u := p.users[strings.ToLower(c.r.PathValue("username"))]; u != nil {
		for _, t := range u.Teams {
			if o, _, _ := strings.Cut(strings.ToLower(t), "/"); o == org {
				return 204, nil
			}
		}
	}
	return notFound()
}
