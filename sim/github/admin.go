package github

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/sourcegraph/lifecycle/sim"
)

// adminRoutes builds the /_sim/github/ admin API (see the package doc). It is served from
// ServeHost rather than through sim.Routes so that fault rules never apply to it.
func (p *Part) adminRoutes() {
	m := http.NewServeMux()
	bad := func(w http.ResponseWriter, err error) { sim.WriteJSON(w, 400, map[string]string{"error": err.Error()}) }

	m.HandleFunc("GET /_sim/github/users", func(w http.ResponseWriter, r *http.Request) {
		defer p.s.Lock()()
		sim.WriteJSON(w, 200, p.sortedUsers())
	})
	m.HandleFunc("POST /_sim/github/users", func(w http.ResponseWriter, r *http.Request) {
		var u User
		if err := sim.DecodeJSON(r, &u); err != nil {
			bad(w, err)
			return
		}
		if u.Login == "" || u.Token == "" {
			bad(w, errors.New(`user needs "login" and "token"`))
			return
		}
		defer p.s.Lock()()
		p.addUser(u)
		sim.WriteJSON(w, 201, u)
	})

	m.HandleFunc("GET /_sim/github/writes", func(w http.ResponseWriter, r *http.Request) {
		defer p.s.Lock()()
		sim.WriteJSON(w, 200, p.writeCounts())
	})
	m.HandleFunc("GET /_sim/github/repos", func(w http.ResponseWriter, r *http.Request) {
		defer p.s.Lock()()
		out := []map[string]any{}
		for _, k := range sim.SortedKeys(p.repos) {
			rp := p.repos[k]
			var files []string
			if c := rp.resolve(""); c != nil {
				files = sortedPaths(rp.files(c.tree))
			}
			out = append(out, map[string]any{"full_name": rp.fullName(), "default_branch": rp.defaultBranch, "branches": rp.branches(), "files": files})
		}
		sim.WriteJSON(w, 200, out)
	})
	m.HandleFunc("POST /_sim/github/repos", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			FullName      string            `json:"full_name"`
			DefaultBranch string            `json:"default_branch"`
			Files         map[string]string `json:"files"`
		}
		if err := sim.DecodeJSON(r, &req); err != nil {
			bad(w, err)
			return
		}
		defer p.s.Lock()()
		rp, err := p.createRepo(req.FullName, req.DefaultBranch, req.Files)
		if err != nil {
			bad(w, err)
			return
		}
		sim.WriteJSON(w, 201, map[string]any{"full_name": rp.fullName(), "default_branch": rp.defaultBranch,
			"head": rp.refs["refs/heads/"+rp.defaultBranch]})
	})

	m.HandleFunc("POST /_sim/github/releases", func(w http.ResponseWriter, r *http.Request) {
		var rel Release
		if err := sim.DecodeJSON(r, &rel); err != nil {
			bad(w, err)
			return
		}
		defer p.s.Lock()()
		created, err := p.addRelease(rel, nil)
		if errors.Is(err, errReleaseExists) {
			sim.WriteJSON(w, 409, map[string]string{"error": "release " + rel.Tag + " already exists on " + rel.Repo})
			return
		}
		if err != nil {
			bad(w, err)
			return
		}
		sim.WriteJSON(w, 201, map[string]any{"id": created.id, "repo": rel.Repo, "tag_name": created.tag})
	})

	m.HandleFunc("GET /_sim/github/deliveries", func(w http.ResponseWriter, r *http.Request) {
		defer p.s.Lock()()
		out := []Delivery{}
		for _, d := range p.deliveries {
			if d.matches(r.URL.Query()) {
				out = append(out, d.Delivery)
			}
		}
		sim.WriteJSON(w, 200, out)
	})
	m.HandleFunc("GET /_sim/github/deliveries/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		defer p.s.Lock()()
		for _, d := range p.deliveries {
			if d.ID == id {
				sim.WriteJSON(w, 200, d.detail())
				return
			}
		}
		sim.WriteJSON(w, 404, map[string]string{"error": "no delivery " + r.PathValue("id")})
	})
	m.HandleFunc("POST /_sim/github/deliveries/{id}/redeliver", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		defer p.s.Lock()()
		d, ok := p.redeliver(id)
		if !ok {
			sim.WriteJSON(w, 404, map[string]string{"error": "no delivery " + r.PathValue("id")})
			return
		}
		sim.WriteJSON(w, 202, d.Delivery)
	})
	m.HandleFunc("/_sim/github/", func(w http.ResponseWriter, r *http.Request) {
		sim.WriteJSON(w, 404, map[string]string{"error": "unknown admin endpoint " + r.Method + " " + r.URL.Path +
			" (see the package doc of sim/github: " + strings.Join([]string{"users", "repos", "releases", "deliveries"}, ", ") + ")"})
	})
	p.admin = m
}

// compile-time checks that the part plugs into the simulator's optional interfaces.
var (
	_ sim.Part       = (*Part)(nil)
	_ sim.HostServer = (*Part)(nil)
)
