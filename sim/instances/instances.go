// Package instances simulates the Sourcegraph instances themselves, answered by Host header
// (<slug>.<domain>) on the simulator's REST port:
//
//	/__version  the running version (text), as the frontend's healthCheckMiddleware serves it
//	/healthz    200 "ok" when healthy
//	/sign-in    the sign-in page
//	/           302 to /sign-in?returnTo=%2F
//
// Nothing here is set by hand: an instance answers only once the config repo's default branch
// holds its config.yaml (the GitOps deploy), its GKE cluster serves with nodes, its Cloud SQL
// instance runs, and its DNS record exists. A proxied hostname's WAF allowlist rule applies: a
// client outside it (X-Sim-Client-IP, or the -client-ip default) gets Cloudflare's 403 block page;
// past it, a DNS record pointing at the holding page serves the holding page (a Single Redirect to
// it runs before the WAF, so it redirects everyone). A version lands
// Timings.Rollout after it was merged; a release marked bad
// (POST /_sim/releases/{version} {"bad":true}, optionally "instances":[slugs] to break it only
// there) rolls out but never becomes healthy.
//
// Fault-rule API name "instances", methods "__version", "healthz", "sign-in", "root".
package instances

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
)

// Part is the simulated fleet of running instances.
type Part struct {
	s *sim.Sim
	// bySlug is what the config repo's default branch says, with each version's landing time.
	bySlug map[string]*instance
	byHost map[string]string
	// bad: version → the slugs it is bad for; an empty set means every instance.
	bad map[string]map[string]bool
	mux *http.ServeMux
	// rays numbers the block pages' Ray IDs.
	rays uint64
}

type instance struct {
	cfg      *spec.Config
	rollouts []rollout // in merge order; the last one whose time has come is served
	restarts int
	probes   int
}

type rollout struct {
	version string
	at      time.Time // merged on the default branch
}

// New is the sim.PartFactory for the instances.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s}
	p.Reset()
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET /__version", p.handleVersion)
	p.mux.HandleFunc("GET /healthz", p.handleHealthz)
	p.mux.HandleFunc("GET /sign-in", p.handleSignIn)
	p.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if st := p.get(r); st.status != 0 {
			p.fail(w, st)
			return
		}
		http.Redirect(w, r, "/sign-in?returnTo=%2F", http.StatusFound)
	})
	return p
}

func (p *Part) Name() string        { return "instances" }
func (p *Part) GRPC(g *grpc.Server) {}
func (p *Part) Reset() {
	p.bySlug = map[string]*instance{}
	p.byHost = map[string]string{}
	p.bad = map[string]map[string]bool{}
}

// Routes registers the admin endpoint that marks releases bad or good.
func (p *Part) Routes(r *sim.Routes) {
	r.Handle("releases.set", "POST /_sim/releases/{version}", func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Bad bool `json:"bad"`
			// Instances narrows the change to these slugs: a release that breaks only some
			// instances (say, one customer's data trips a migration).
			Instances []string `json:"instances"`
		}
		if err := sim.DecodeJSON(req, &body); err != nil {
			sim.WriteJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		v := req.PathValue("version")
		defer p.s.Lock()()
		set, known := p.bad[v]
		switch {
		case body.Bad && len(body.Instances) == 0:
			p.bad[v] = map[string]bool{}
		case body.Bad:
			if !known {
				set = map[string]bool{}
				p.bad[v] = set
			}
			if !known || len(set) > 0 { // bad for everyone already covers them
				for _, slug := range body.Instances {
					set[slug] = true
				}
			}
		case len(body.Instances) == 0 || (known && len(set) == 0):
			delete(p.bad, v)
		default:
			for _, slug := range body.Instances {
				delete(set, slug)
			}
			if len(set) == 0 {
				delete(p.bad, v)
			}
		}
		sim.WriteJSON(w, 200, map[string]any{"version": v, "bad": body.Bad, "instances": body.Instances})
	})
}

var instancePaths = map[string]bool{"/__version": true, "/healthz": true, "/sign-in": true, "/": true}

var configPathRE = regexp.MustCompile(`^environments/([^/]+)/deployments/([^/]+)/config\.yaml$`)

// ConfigChanged follows the config repo's default branch: this is the GitOps deploy.
func (p *Part) ConfigChanged(repo, path string, content []byte) {
	cfg := p.s.Config()
	m := configPathRE.FindStringSubmatch(path)
	if repo != cfg.ConfigRepo || m == nil || m[1] != cfg.ConfigEnv {
		return
	}
	slug := m[2]
	inst := p.bySlug[slug]
	if content == nil {
		if inst != nil {
			delete(p.byHost, inst.cfg.Spec.Domain.PrimaryDNSName)
			delete(p.bySlug, slug)
		}
		return
	}
	c, err := spec.Parse(content)
	if err != nil {
		p.s.Logger().Warn("config repo holds an unreadable config.yaml; instance not deployed", "path", path, "err", err)
		return
	}
	if inst == nil {
		inst = &instance{}
		p.bySlug[slug] = inst
	} else {
		delete(p.byHost, inst.cfg.Spec.Domain.PrimaryDNSName)
		if inst.cfg.Spec.FrontendRestartedAt != c.Spec.FrontendRestartedAt {
			inst.restarts++
		}
	}
	inst.cfg = c
	p.byHost[c.Spec.Domain.PrimaryDNSName] = slug
	v := c.Spec.SourcegraphVersion
	if n := len(inst.rollouts); v != "" && (n == 0 || inst.rollouts[n-1].version != v) {
		inst.rollouts = append(inst.rollouts, rollout{version: v, at: p.s.Now()})
		p.s.Mutated("instances", slug)
	}
}

// ServeHost answers requests addressed to an instance's hostname.
func (p *Part) ServeHost(w http.ResponseWriter, r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" || host == "localhost" || net.ParseIP(host) != nil || strings.HasPrefix(r.URL.Path, "/_sim/") {
		return false
	}
	// The simulator itself may be reached by a name (e.g. "simulator:8090" in docker compose), so
	// only a configured instance's host, or an instance path on an unknown host (answered "no such
	// instance"), is ours; everything else is an API request.
	unlock := p.s.Lock()
	_, known := p.byHost[host]
	unlock()
	if !known && !instancePaths[r.URL.Path] {
		return false
	}
	p.mux.ServeHTTP(w, r)
	return true
}

// state is what a request to the instance finds.
type state struct {
	slug    string
	host    string
	version string // served version, "" if none has landed yet
	status  int    // 0: healthy; otherwise the status every page answers with
	reason  string
	holding bool
	bad     bool
	blocked bool // by a WAF custom rule: Cloudflare's block page, not the instance's answer
}

// lookup decides, from the other parts' state, what the instance serves to a request from
// client (the zero Addr: no request, so no WAF rule applies). Lock held.
func (p *Part) lookup(host string, client netip.Addr) state {
	slug, ok := p.byHost[host]
	if !ok {
		return state{status: http.StatusNotFound, reason: fmt.Sprintf("no instance is configured for %s in the config repo", host)}
	}
	inst := p.bySlug[slug]
	inst.probes++
	// The served version is a fact of the deploy, whether or not the instance is up right now.
	st := state{slug: slug, host: host, version: servedVersion(inst.rollouts, p.s.Now(), p.s.Timings().Rollout.D())}
	down := func(status int, reason string) state {
		st.status, st.reason = status, reason
		return st
	}
	// A suspended instance shows the holding page either way Cloudflare can send it there: a
	// redirect rule for the hostname, or the DNS record pointed at the holding page host.
	cf, _ := p.s.Part("cloudflare").(interface {
		Record(hostname string) (content string, proxied bool, ok bool)
		HoldingPage(hostname string) (target string, ok bool)
		Blocked(hostname string, client netip.Addr) (ruleID string, blocked bool)
	})
	if cf != nil {
		content, proxied, ok := cf.Record(host)
		if !ok {
			return down(530, "DNS record for "+host+" does not exist (Cloudflare error 1016)")
		}
		// Redirect rules run in an earlier phase than WAF custom rules, so a suspended instance
		// with a redirect shows its holding page to everyone.
		if _, redirected := cf.HoldingPage(host); redirected {
			st.holding = true
			return down(http.StatusServiceUnavailable, "instance is suspended (holding page)")
		}
		// Only proxied traffic passes Cloudflare's WAF; a DNS-only record goes straight to the origin.
		if client.IsValid() && proxied {
			if _, blocked := cf.Blocked(host, client); blocked {
				st.blocked = true
				return down(http.StatusForbidden, "Access denied (Cloudflare error 1020): "+client.String()+" is not on the IP allowlist of "+host)
			}
		}
		// A record pointed at the holding page is still the hostname's, so its WAF rules apply
		// first: clients outside the allowlist get the block page, the others the holding page.
		if content == spec.HoldingPageHost {
			st.holding = true
			return down(http.StatusServiceUnavailable, "instance is suspended (holding page)")
		}
	}
	g := inst.cfg.Status.GCP
	if gke, ok := p.s.Part("gke").(interface {
		Serving(project, location, cluster string) bool
	}); ok && !gke.Serving(g.ProjectID, g.Region, g.Cluster) {
		return down(http.StatusBadGateway, "GKE cluster or its nodes are not running")
	}
	if sql, ok := p.s.Part("cloudsql").(interface {
		Serving(project, instance string) bool
	}); ok && !sql.Serving(g.ProjectID, g.CloudSQL) {
		return down(http.StatusBadGateway, "Cloud SQL instance is not running")
	}
	if st.version == "" {
		return down(http.StatusServiceUnavailable, "deployment is rolling out")
	}
	if set, ok := p.bad[st.version]; ok && (len(set) == 0 || set[slug]) {
		st.bad = true
		return down(http.StatusServiceUnavailable, "release "+st.version+" is marked bad: pods crash-loop")
	}
	return st
}

// servedVersion is the newest rollout whose delay has passed, or "".
func servedVersion(rollouts []rollout, now time.Time, delay time.Duration) string {
	for i := len(rollouts) - 1; i >= 0; i-- {
		if !now.Before(rollouts[i].at.Add(delay)) {
			return rollouts[i].version
		}
	}
	return ""
}

func (p *Part) get(r *http.Request) state {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	client, err := clientAddr(r, p.s.Config().ClientIP)
	if err != nil {
		return state{status: http.StatusBadRequest, reason: err.Error()}
	}
	defer p.s.Lock()()
	return p.lookup(host, client)
}

// clientAddr is the address the request comes from: the simulator's client header, else def.
func clientAddr(r *http.Request, def string) (netip.Addr, error) {
	v := r.Header.Get(sim.ClientIPHeader)
	if v == "" {
		v = def
	}
	a, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s %q is not an IP address; send the client's address, e.g. %s: 192.0.2.10", sim.ClientIPHeader, v, sim.ClientIPHeader)
	}
	return a.Unmap(), nil
}

func (p *Part) handleVersion(w http.ResponseWriter, r *http.Request) {
	st := p.get(r)
	// A bad release still answers its version (the new pods are up); health says the rest.
	if st.status != 0 && !st.bad {
		p.fail(w, st)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, st.version)
}

func (p *Part) handleHealthz(w http.ResponseWriter, r *http.Request) {
	st := p.get(r)
	if st.status != 0 {
		p.fail(w, st)
		return
	}
	fmt.Fprint(w, "ok")
}

func (p *Part) handleSignIn(w http.ResponseWriter, r *http.Request) {
	st := p.get(r)
	if st.status != 0 {
		p.fail(w, st)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Sign in - Sourcegraph</title></head><body><h1>Sign in to Sourcegraph</h1><p>%s</p></body></html>", st.slug)
}

func (p *Part) fail(w http.ResponseWriter, st state) {
	if st.blocked {
		p.blockPage(w, st)
		return
	}
	if st.holding {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(st.status)
		fmt.Fprint(w, "<!DOCTYPE html><html><body><h1>This Sourcegraph instance is paused</h1><p>Contact your Sourcegraph account team to resume it.</p></body></html>")
		return
	}
	http.Error(w, st.reason, st.status)
}

// blockPage answers as Cloudflare does for a request a WAF custom rule with action block stopped
// (no custom response): 403 with its "Access denied" page, error code 1020 and a Ray ID.
func (p *Part) blockPage(w http.ResponseWriter, st state) {
	unlock := p.s.Lock()
	p.rays++
	ray := fmt.Sprintf("%016x", p.rays)
	unlock()
	host := st.host
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.Header().Set("Server", "cloudflare")
	w.Header().Set("CF-RAY", ray+"-SIM")
	w.Header().Set("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Access denied | %s used Cloudflare to restrict access</title></head><body>"+
		"<h1>Access denied</h1><p>Error code 1020</p><p>You do not have access to %s.</p>"+
		"<p>The site owner may have set restrictions that prevent you from accessing the site.</p>"+
		"<p>Ray ID: %s</p></body></html>", html.EscapeString(host), html.EscapeString(host), ray)
}

// Snapshot lists every configured instance and what it serves right now, with each version it
// was given and when that version merged.
func (p *Part) Snapshot() any {
	out := make([]map[string]any, 0, len(p.bySlug))
	for _, slug := range sim.SortedKeys(p.bySlug) {
		inst := p.bySlug[slug]
		st := p.lookup(inst.cfg.Spec.Domain.PrimaryDNSName, netip.Addr{})
		inst.probes-- // a snapshot is not a probe
		status := "serving"
		switch {
		case st.holding:
			status = "holding-page"
		case st.bad:
			status = "unhealthy"
		case st.status != 0:
			status = "unavailable"
		}
		versions := make([]string, 0, len(inst.rollouts))
		rollouts := make([]map[string]any, 0, len(inst.rollouts))
		for _, r := range inst.rollouts {
			versions = append(versions, r.version)
			rollouts = append(rollouts, map[string]any{"version": r.version, "mergedAt": r.at})
		}
		out = append(out, map[string]any{
			"slug":              slug,
			"host":              inst.cfg.Spec.Domain.PrimaryDNSName,
			"type":              inst.cfg.Type(),
			"configuredVersion": inst.cfg.Spec.SourcegraphVersion,
			"servedVersion":     st.version,
			"versionHistory":    versions,
			"rollouts":          rollouts, // with merge times, to order them against backups
			"status":            status,
			"reason":            st.reason,
			"alerting":          inst.cfg.Spec.Debug.EnableAlerting,
			"telemetry":         inst.cfg.Spec.UserLevelTelemetry,
			"frontendRestarts":  inst.restarts,
			"probes":            inst.probes,
		})
	}
	badFor := map[string][]string{}
	for _, v := range sim.SortedKeys(p.bad) {
		badFor[v] = sim.SortedKeys(p.bad[v]) // empty: every instance
	}
	return map[string]any{"instances": out, "badReleases": sim.SortedKeys(p.bad), "badFor": badFor}
}
