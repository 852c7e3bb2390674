// Package sim is the one stand-in for the outside world (docs/design.md invariant 2): a single process
// that speaks the real wire protocols of GKE, Backup for GKE, Resource Manager (gRPC), Cloud SQL
// Admin, Cloudflare and GitHub (REST), and serves the instances themselves by Host header.
//
// Every API is a "part" registered from its own file. State lives in memory under one lock; time
// moves operations forward lazily: each request first settles whatever became due, so a client
// polling an operation sees PENDING → RUNNING → DONE exactly as the durations say.
package sim

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
)

// Config is what the simulator is started with. Zero values are usable: listen on random ports.
type Config struct {
	RESTAddr string // default 127.0.0.1:0
	GRPCAddr string // default 127.0.0.1:0

	Timings Timings

	// GitHub acts as GitHub: it delivers webhooks for issues and comments to this URL, signed
	// with WebhookSecret, like a repository webhook configured for those events.
	WebhookURL    string
	WebhookSecret string

	// ConfigRepo is the GitOps repository ("owner/name") the instances deploy from, and
	// ConfigEnv the environment folder under environments/.
	ConfigRepo string
	ConfigEnv  string

	// Seed makes rate-based fault injection repeatable.
	Seed int64

	// GKEBackgroundOps is the chance (0 to 1) that GKE has just started an operation of its own
	// (auto-upgrade, auto-repair, an add-on update) on an idle cluster when a mutating request
	// arrives, which then refuses the request. 0, the default, never does.
	GKEBackgroundOps float64

	// GKERegionalCPUs is every project's regional CPUS quota that GKE checks a cluster's, node
	// pool's or resize's nodes against; 0 is a new project's default (gke.DefaultRegionalCPUs, 24),
	// negative no limit. Seeded projects get at least what their clusters use.
	GKERegionalCPUs int

	// DefaultNetwork gives every project Compute Engine's auto-mode "default" network, as a project
	// outside an organisation that skips it (constraints/compute.skipDefaultNetworkCreation) gets.
	// Off by default: a cluster must name a network the create made.
	DefaultNetwork bool

	// ClientIP is the address a request to an instance comes from when it does not say
	// (ClientIPHeader); the zone's WAF rules are evaluated against it. Empty: DefaultClientIP.
	ClientIP string

	// CloudflarePlan is the plan of every simulated Cloudflare zone (free, pro, business,
	// enterprise), which sets its rule quotas. Empty: enterprise.
	CloudflarePlan string

	Logger *slog.Logger
}

// ClientIPHeader is the request header a client of the simulated edge sets to say which address
// it comes from (the simulator cannot see a real egress on the local stack). Cloudflare itself
// sends CF-Connecting-IP to the origin; this one is the simulator's own, so nothing real sets it.
const ClientIPHeader = "X-Sim-Client-IP"

// DefaultClientIP is the client address of a request without ClientIPHeader: an address on no
// one's allowlist (TEST-NET-2, RFC 5737), as a request from the open internet would be.
const DefaultClientIP = "198.51.100.254"

// Timings are how long simulated work takes. They can be changed at run time (POST /_sim/timings).
type Timings struct {
	GKEOperation     Duration `json:"gkeOperation"`
	SQLOperation     Duration `json:"sqlOperation"`
	BackupOperation  Duration `json:"backupOperation"`
	ProjectOperation Duration `json:"projectOperation"`
	// Rollout is how long after a version lands on the config repo's default branch the
	// instance starts answering it on /__version.
	Rollout Duration `json:"rollout"`
	// ServicePropagation is how long after Service Usage reports an API enabled (its
	// batchEnable operation done) that API still answers SERVICE_DISABLED in the project, as
	// enabling takes minutes to reach every Google front end.
	ServicePropagation Duration `json:"servicePropagation"`
}

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w (use Go syntax such as 250ms or 2s)", s, err)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Part is one simulated API (GKE, Cloud SQL, GitHub, ...), built by a PartFactory given to New.
// Handlers take the state lock with `defer s.Lock()()`.
type Part interface {
	// Name is the API name used in fault rules, the ledger and the state dump: "gke", "cloudsql", ...
	Name() string
	// Routes registers REST handlers; GRPC registers gRPC services. Either may do nothing.
	Routes(r *Routes)
	GRPC(g *grpc.Server)
	// Snapshot returns a JSON-able view of the part's state. Called with the lock held.
	Snapshot() any
	// Reset drops all state. Called with the lock held.
	Reset()
}

// PartFactory builds a part bound to a simulator.
type PartFactory func(*Sim) Part

// ConfigWatcher is implemented by parts that follow the config repo (the instances): the GitHub
// part calls ConfigChanged whenever a file changes on a repository's default branch.
type ConfigWatcher interface {
	ConfigChanged(repo, path string, content []byte)
}

// ProjectSeeder is implemented by parts that keep per-project settings a project made by seeding
// (a fleet that existed before the simulator started) already has: its billing account linked,
// its APIs enabled. Resource Manager calls ProjectSeeded for every project it seeds.
type ProjectSeeder interface {
	ProjectSeeded(projectID string)
}

// Sim is a running simulator.
type Sim struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	timings Timings
	parts   []Part
	byName  map[string]Part
	due     dueHeap
	seq     int64
	ledger  map[string]*Counts
	faults  *faultTable
	rng     *rand.Rand
	// offset is how far the simulator's clock is ahead of the machine's (Advance), in
	// nanoseconds; atomic so Now needs no lock.
	offset atomic.Int64

	restLn, grpcLn net.Listener
	httpSrv        *http.Server
	grpcSrv        *grpc.Server
	mux            *http.ServeMux
	bgCtx          context.Context
	bgCancel       context.CancelFunc
	bg             sync.WaitGroup
}

// Counts is how often a resource was created, mutated and deleted over the simulator's life. It
// survives deletion, so a test can tell "created exactly once" from "created, deleted, re-created".
type Counts struct {
	Created int `json:"created"`
	Mutated int `json:"mutated"`
	Deleted int `json:"deleted"`
}

// New builds a simulator with the given parts, without listening; Handler and GRPCServer expose it.
// Most callers want Start.
func New(cfg Config, parts ...PartFactory) *Sim {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConfigRepo == "" {
		cfg.ConfigRepo = "sourcegraph/cloud"
	}
	if cfg.ConfigEnv == "" {
		cfg.ConfigEnv = "prod"
	}
	if cfg.ClientIP == "" {
		cfg.ClientIP = DefaultClientIP
	}
	s := &Sim{cfg: cfg, log: cfg.Logger.With("component", "sim")}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	s.byName = map[string]Part{}
	s.resetLocked()
	s.mux = http.NewServeMux()
	s.grpcSrv = grpc.NewServer(grpc.UnaryInterceptor(s.unaryFaults))
	lro := &longrunningPart{s: s, ops: map[string]*longrunningpb.Operation{}}
	for _, p := range append([]Part{lro}, buildParts(s, parts)...) {
		s.parts = append(s.parts, p)
		s.byName[p.Name()] = p
		p.Routes(&Routes{s: s, mux: s.mux, api: p.Name()})
		p.GRPC(s.grpcSrv)
	}
	s.adminRoutes()
	return s
}

func buildParts(s *Sim, fs []PartFactory) []Part {
	out := make([]Part, 0, len(fs))
	for _, f := range fs {
		out = append(out, f(s))
	}
	return out
}

// resetLocked drops all state, faults and counters.
func (s *Sim) resetLocked() {
	s.timings = s.cfg.Timings
	s.offset.Store(0) // nothing stored is dated any more: the clock can start over
	s.due = nil
	s.ledger = map[string]*Counts{}
	s.faults = &faultTable{}
	s.rng = rand.New(rand.NewSource(s.cfg.Seed))
	for _, p := range s.parts {
		p.Reset()
	}
}

// Start listens on the configured addresses and serves until Close.
func Start(cfg Config, parts ...PartFactory) (*Sim, error) {
	if cfg.RESTAddr == "" {
		cfg.RESTAddr = "127.0.0.1:0"
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	s := New(cfg, parts...)
	var err error
	if s.restLn, err = net.Listen("tcp", cfg.RESTAddr); err != nil {
		return nil, fmt.Errorf("simulator REST listener on %s: %w", cfg.RESTAddr, err)
	}
	if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		s.restLn.Close()
		return nil, fmt.Errorf("simulator gRPC listener on %s: %w", cfg.GRPCAddr, err)
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go s.httpSrv.Serve(s.restLn)
	go s.grpcSrv.Serve(s.grpcLn)
	s.log.Info("simulator listening", "rest", s.URL(), "grpc", s.GRPCAddr())
	return s, nil
}

// URL is the REST base URL, e.g. http://127.0.0.1:8090.
func (s *Sim) URL() string { return "http://" + s.restLn.Addr().String() }

// GRPCAddr is the gRPC host:port (no scheme), as option.WithEndpoint wants it.
func (s *Sim) GRPCAddr() string { return s.grpcLn.Addr().String() }

// Close stops serving and waits for background deliveries.
func (s *Sim) Close() {
	s.bgCancel()
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.httpSrv.Shutdown(ctx)
		cancel()
	}
	s.grpcSrv.Stop()
	s.bg.Wait()
}

// Handler serves every REST API: instances by Host header, everything else by path.
func (s *Sim) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range s.parts {
			if hs, ok := p.(HostServer); ok && hs.ServeHost(w, r) {
				return
			}
		}
		s.mux.ServeHTTP(w, r)
	})
}

// HostServer is implemented by parts that answer requests by Host header (the instances). ServeHost
// returns false for requests that are not theirs.
type HostServer interface {
	ServeHost(w http.ResponseWriter, r *http.Request) bool
}

// GRPCServer exposes the gRPC server for callers embedding the simulator.
func (s *Sim) GRPCServer() *grpc.Server { return s.grpcSrv }

// Part returns the part with that name, or nil.
func (s *Sim) Part(name string) Part { return s.byName[name] }

// Config is the configuration the simulator was started with.
func (s *Sim) Config() Config { return s.cfg }

// Logger is the simulator's logger.
func (s *Sim) Logger() *slog.Logger { return s.log }

// Timings are the current durations of simulated work. Lock held.
func (s *Sim) Timings() Timings { return s.timings }

// ConfigChanged tells every ConfigWatcher part that a file changed on a repository's default
// branch (content nil: deleted). Lock held.
func (s *Sim) ConfigChanged(repo, path string, content []byte) {
	for _, p := range s.parts {
		if w, ok := p.(ConfigWatcher); ok {
			w.ConfigChanged(repo, path, content)
		}
	}
}

// ProjectSeeded tells every ProjectSeeder part that a project was seeded. Lock held.
func (s *Sim) ProjectSeeded(projectID string) {
	for _, p := range s.parts {
		if ps, ok := p.(ProjectSeeder); ok {
			ps.ProjectSeeded(projectID)
		}
	}
}

// Lock takes the state lock and first settles everything that became due. Use as
// `defer s.Lock()()`.
func (s *Sim) Lock() func() {
	s.mu.Lock()
	s.settle()
	return s.mu.Unlock
}

// Chance reports true with probability p, from the seeded source (repeatable with Config.Seed).
// Lock held.
func (s *Sim) Chance(p float64) bool { return p > 0 && (p >= 1 || s.rng.Float64() < p) }

// Now is the simulator's clock: the machine's, plus whatever Advance added. Every part reads time
// here, so an advance moves all of them at once (operations, backup runs, project purges).
func (s *Sim) Now() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }

// Advance moves the simulator's clock forward by d (never back: stored times would then lie in
// the future) and settles what became due, e.g. the purge of a project deleted 30 days before.
func (s *Sim) Advance(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fmt.Errorf("advance %s: the clock only moves forward", d)
	}
	defer s.Lock()()
	s.offset.Add(int64(d))
	s.settle()
	return s.Now(), nil
}

// RewindClock sets the clock back to the machine's, for tests that share one simulator and must not
// leave it in the future. What happened meanwhile stays (a purged project stays purged), and times
// recorded meanwhile now lie ahead of the clock.
func (s *Sim) RewindClock() time.Time {
	defer s.Lock()()
	s.offset.Store(0)
	return s.Now()
}

// After schedules fn to run (under the lock) once d has passed. Lock held.
func (s *Sim) After(d time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.due, &dueItem{at: s.Now().Add(d), seq: s.seq, fn: fn})
}

// NextID returns a process-unique increasing number (for operation and resource IDs). Lock held.
func (s *Sim) NextID() int64 {
	s.seq++
	return s.seq
}

// settle runs every scheduled function that is due, in time order.
func (s *Sim) settle() {
	now := s.Now()
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		it := heap.Pop(&s.due).(*dueItem)
		it.fn()
	}
}

type dueItem struct {
	at  time.Time
	seq int64
	fn  func()
}

type dueHeap []*dueItem

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(*dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// Ledger keys are "<api>/<resource name>", e.g. "gke/projects/p/locations/l/clusters/c".
func (s *Sim) count(api, name string) *Counts {
	k := api + "/" + name
	c := s.ledger[k]
	if c == nil {
		c = &Counts{}
		s.ledger[k] = c
	}
	return c
}

// Created, Mutated and Deleted record a resource's life in the ledger. Lock held.
func (s *Sim) Created(api, name string) { s.count(api, name).Created++ }
func (s *Sim) Mutated(api, name string) { s.count(api, name).Mutated++ }
func (s *Sim) Deleted(api, name string) { s.count(api, name).Deleted++ }

// Ledger returns a copy of the counts, keyed "<api>/<resource name>".
func (s *Sim) Ledger() map[string]Counts {
	defer s.Lock()()
	out := make(map[string]Counts, len(s.ledger))
	for k, v := range s.ledger {
		out[k] = *v
	}
	return out
}

// Snapshot returns the JSON-able state of every API plus the ledger.
func (s *Sim) Snapshot() map[string]any {
	defer s.Lock()()
	out := map[string]any{}
	for _, p := range s.parts {
		out[p.Name()] = p.Snapshot()
	}
	keys := make([]string, 0, len(s.ledger))
	for k := range s.ledger {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ledger := make(map[string]Counts, len(keys))
	for _, k := range keys {
		ledger[k] = *s.ledger[k]
	}
	out["ledger"] = ledger
	out["timings"] = s.timings
	return out
}

// Reset drops all state, faults and counters, keeping listeners and configuration.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

// SetTimings changes how long simulated work takes from now on.
func (s *Sim) SetTimings(t Timings) {
	defer s.Lock()()
	s.timings = t
}

// GoBackground runs fn outside the lock until the simulator closes (webhook deliveries).
func (s *Sim) GoBackground(fn func(ctx context.Context)) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn(s.bgCtx)
	}()
}
