// Package gke simulates the GKE API (google.container.v1.ClusterManager) over gRPC, for the real
// cloud.google.com/go/container/apiv1 client: clusters, node pools and GKE's own operations.
//
// What it reproduces (sources in docs/fidelity.md):
//   - Mutations return a containerpb.Operation with a short name ("operation-<ms>-<hex>") that the
//     client polls with GetOperation("projects/P/locations/L/operations/<short>"). It goes PENDING →
//     RUNNING (after a quarter of Timings.GKEOperation) → DONE (at the end).
//   - One mutating operation per cluster at a time: a second one gets FAILED_PRECONDITION
//     "Operation operation-... is currently <verb> cluster C. Please wait and try again once it is done."
//   - GKE's own operations (auto-upgrade, auto-repair, add-on updates), started at random with
//     chance Config.GKEBackgroundOps (seeded; 0 by default) just before a mutating request; they
//     refuse it with FAILED_PRECONDITION "Cluster is running incompatible operation ..." and
//     ErrorInfo reason CLUSTER_ALREADY_HAS_OPERATION.
//   - Cluster PROVISIONING → RUNNING, STOPPING → gone; node pool PROVISIONING → RUNNING,
//     RECONCILING during a resize, STOPPING → gone. A failed operation (failOperation fault) ends DONE
//     with error and statusMessage, and leaves the resource it was working on in ERROR.
//   - Errors as GKE returns them: NOT_FOUND "Not found: <name>.", ALREADY_EXISTS, INVALID_ARGUMENT.
//   - Node pools count nodes per zone: initial_node_count and SetNodePoolSize's node_count apply to
//     each of the pool's locations (three zones of a regional cluster by default).
//   - The project's regional CPUS quota (Config.GKERegionalCPUs, 24 for a new project): a create or
//     resize asking for more vCPUs than are left is refused at once with PERMISSION_DENIED
//     "Insufficient regional quota to satisfy request: resource "CPUS": ...".
//   - A cluster on a network the project lacks (with a compute part mounted) is refused with
//     INVALID_ARGUMENT `Project "P" has no network named "N".`.
package gke

import (
	"fmt"
	"regexp"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

// Name is the part's name in fault rules, the ledger and the state dump.
const Name = "gke"

// service is the API's service name, as the front end reports it in errors.
const service = "container.googleapis.com"

// apiBase prefixes selfLink and targetLink, as in the real API's responses.
const apiBase = "https://container.googleapis.com/v1/"

// defaultVersion is the GKE version clusters get when the request does not name one.
const defaultVersion = "1.33.5-gke.1162000"

// Part is the simulated ClusterManager service.
type Part struct {
	containerpb.UnimplementedClusterManagerServer
	s *sim.Sim

	// clusters by full name "projects/P/locations/L/clusters/C"; node pools live in Cluster.NodePools.
	clusters map[string]*containerpb.Cluster
	// ops by full name "projects/P/locations/L/operations/<short>". Kept after DONE, like GKE does for
	// a while, so late pollers still get the outcome.
	ops map[string]*containerpb.Operation
	// busy maps a cluster's full name to the operation running on it (not DONE yet).
	busy map[string]*containerpb.Operation
	// background marks the operations GKE started by itself (by full name).
	background map[string]bool
	// backgroundRate is the chance that a mutating request finds GKE's own operation just started.
	backgroundRate float64
	// defaultCPUQuota is a project's regional CPUS quota unless cpuQuota (by "project/region") says
	// otherwise; negative is no limit.
	defaultCPUQuota int
	cpuQuota        map[string]int
}

// New builds the part.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s, backgroundRate: s.Config().GKEBackgroundOps, defaultCPUQuota: s.Config().GKERegionalCPUs}
	if p.defaultCPUQuota == 0 {
		p.defaultCPUQuota = DefaultRegionalCPUs
	}
	p.Reset()
	return p
}

func (p *Part) Name() string        { return Name }
func (p *Part) Routes(*sim.Routes)  {}
func (p *Part) GRPC(g *grpc.Server) { containerpb.RegisterClusterManagerServer(g, p) }

// Reset drops all clusters and operations. Lock held.
func (p *Part) Reset() {
	p.clusters = map[string]*containerpb.Cluster{}
	p.ops = map[string]*containerpb.Operation{}
	p.busy = map[string]*containerpb.Operation{}
	p.background = map[string]bool{}
	p.cpuQuota = map[string]int{}
}

// SetBackgroundOps changes the chance that GKE starts an operation of its own just before a
// mutating request (Config.GKEBackgroundOps). Lock held.
func (p *Part) SetBackgroundOps(rate float64) { p.backgroundRate = rate }

// ClusterExists reports whether the cluster is known, whatever its status (it may be provisioning,
// in error or being deleted). Call with the sim lock held (from another part's handler, which has
// taken it with `defer s.Lock()()`).
func (p *Part) ClusterExists(project, location, cluster string) bool {
	_, ok := p.clusters[clusterRef{project, location, cluster}.name()]
	return ok
}

// Serving reports whether the cluster can run workloads: it is RUNNING and at least one RUNNING
// node pool has nodes. A cluster whose pools were resized to 0 (a suspended instance) is not
// serving. Call with the sim lock held.
func (p *Part) Serving(project, location, cluster string) bool {
	c, ok := p.clusters[clusterRef{project, location, cluster}.name()]
	if !ok || c.Status != containerpb.Cluster_RUNNING {
		return false
	}
	for _, np := range c.NodePools {
		if np.Status == containerpb.NodePool_RUNNING && poolNodes(np) > 0 {
			return true
		}
	}
	return false
}

// ClusterView and NodePoolView are the state dump's view of a cluster.
type ClusterView struct {
	Name             string         `json:"name"`
	Status           string         `json:"status"`
	StatusMessage    string         `json:"statusMessage,omitempty"`
	Version          string         `json:"version"`
	CurrentNodeCount int32          `json:"currentNodeCount"`
	Serving          bool           `json:"serving"`
	NodePools        []NodePoolView `json:"nodePools"`
	RunningOperation string         `json:"runningOperation,omitempty"`
}

type NodePoolView struct {
	Name          string `json:"name"`
	Status        string `json:"status"`
	StatusMessage string `json:"statusMessage,omitempty"`
	// NodeCount is the pool's total: NodesPerZone in each of its Zones.
	NodeCount    int32 `json:"nodeCount"`
	NodesPerZone int32 `json:"nodesPerZone"`
	Zones        int   `json:"zones"`
}

// OperationView is the state dump's view of an operation.
type OperationView struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Status string `json:"status"`
	Target string `json:"target"`
	Error  string `json:"error,omitempty"`
}

// Snapshot lists clusters with their node pools, and all operations. Lock held.
func (p *Part) Snapshot() any {
	clusters := make([]ClusterView, 0, len(p.clusters))
	for _, name := range sim.SortedKeys(p.clusters) {
		c := p.clusters[name]
		ref, _ := parseClusterName(name)
		v := ClusterView{
			Name: name, Status: c.Status.String(), StatusMessage: c.StatusMessage, Version: c.CurrentMasterVersion,
			CurrentNodeCount: c.CurrentNodeCount, Serving: p.Serving(ref.project, ref.location, ref.cluster),
			NodePools: []NodePoolView{},
		}
		if op := p.busy[name]; op != nil {
			v.RunningOperation = op.Name
		}
		for _, np := range c.NodePools {
			v.NodePools = append(v.NodePools, NodePoolView{Name: np.Name, Status: np.Status.String(), StatusMessage: np.StatusMessage,
				NodeCount: poolNodes(np), NodesPerZone: np.InitialNodeCount, Zones: len(np.Locations)})
		}
		clusters = append(clusters, v)
	}
	ops := make([]OperationView, 0, len(p.ops))
	for _, name := range sim.SortedKeys(p.ops) {
		op := p.ops[name]
		v := OperationView{Name: name, Type: op.OperationType.String(), Status: op.Status.String(), Target: strings.TrimPrefix(op.TargetLink, apiBase)}
		if op.Error != nil {
			v.Error = op.Error.Message
		}
		ops = append(ops, v)
	}
	return map[string]any{"clusters": clusters, "operations": ops}
}

// clusterRef names a cluster.
type clusterRef struct{ project, location, cluster string }

func (r clusterRef) parent() string { return "projects/" + r.project + "/locations/" + r.location }
func (r clusterRef) name() string   { return r.parent() + "/clusters/" + r.cluster }

// poolRef names a node pool.
type poolRef struct {
	clusterRef
	pool string
}

func (r poolRef) name() string { return r.clusterRef.name() + "/nodePools/" + r.pool }

// splitName matches "a/x/b/y/..." against the collection IDs ("projects", "locations", ...) and
// returns the IDs in between, or false.
func splitName(name string, collections ...string) ([]string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 2*len(collections) {
		return nil, false
	}
	ids := make([]string, len(collections))
	for i, c := range collections {
		if parts[2*i] != c || parts[2*i+1] == "" {
			return nil, false
		}
		ids[i] = parts[2*i+1]
	}
	return ids, true
}

// parseLocation reads "projects/P/locations/L", or the deprecated project_id + zone fields.
func parseLocation(parent, project, zone string) (proj, loc string, err error) {
	if parent != "" {
		ids, ok := splitName(parent, "projects", "locations")
		if !ok {
			return "", "", status.Errorf(codes.InvalidArgument, "Invalid parent %q: expected projects/{project}/locations/{location}.", parent)
		}
		return ids[0], ids[1], nil
	}
	if project == "" || zone == "" {
		return "", "", status.Error(codes.InvalidArgument, "Required field \"parent\" is missing (projects/{project}/locations/{location}).")
	}
	return project, zone, nil
}

func parseClusterName(name string) (clusterRef, bool) {
	ids, ok := splitName(name, "projects", "locations", "clusters")
	if !ok {
		return clusterRef{}, false
	}
	return clusterRef{ids[0], ids[1], ids[2]}, true
}

// parseCluster reads "projects/P/locations/L/clusters/C", or the deprecated project_id, zone and
// cluster_id fields.
func parseCluster(name, project, zone, cluster string) (clusterRef, error) {
	if name != "" {
		ref, ok := parseClusterName(name)
		if !ok {
			return clusterRef{}, status.Errorf(codes.InvalidArgument, "Invalid cluster name %q: expected projects/{project}/locations/{location}/clusters/{cluster}.", name)
		}
		return ref, nil
	}
	if project == "" || zone == "" || cluster == "" {
		return clusterRef{}, status.Error(codes.InvalidArgument, "Required field \"name\" is missing (projects/{project}/locations/{location}/clusters/{cluster}).")
	}
	return clusterRef{project, zone, cluster}, nil
}

// parsePool reads ".../clusters/C/nodePools/N", or the deprecated fields.
func parsePool(name, project, zone, cluster, pool string) (poolRef, error) {
	if name != "" {
		ids, ok := splitName(name, "projects", "locations", "clusters", "nodePools")
		if !ok {
			return poolRef{}, status.Errorf(codes.InvalidArgument, "Invalid node pool name %q: expected projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{node_pool}.", name)
		}
		return poolRef{clusterRef{ids[0], ids[1], ids[2]}, ids[3]}, nil
	}
	if project == "" || zone == "" || cluster == "" || pool == "" {
		return poolRef{}, status.Error(codes.InvalidArgument, "Required field \"name\" is missing (projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{node_pool}).")
	}
	return poolRef{clusterRef{project, zone, cluster}, pool}, nil
}

// namePattern is GKE's rule for cluster and node pool names (RFC 1035 label, at most 40 characters).
var namePattern = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)

func validName(kind, name string) error {
	if name == "" {
		return status.Errorf(codes.InvalidArgument, "%s.name must be specified.", kind)
	}
	if !namePattern.MatchString(name) {
		return status.Errorf(codes.InvalidArgument, "Invalid value for field '%s.name': %q. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (only alphanumerics and '-' allowed, must start with a letter and end with an alphanumeric, and must be no longer than 40 characters).", strings.ToLower(kind), name)
	}
	return nil
}

// notFound is GKE's NOT_FOUND wording.
func notFound(name string) error {
	return status.Errorf(codes.NotFound, "Not found: %s.", name)
}

// checkProject rejects projects that do not exist when a resourcemanager part is present.
func (p *Part) checkProject(project string) error {
	return resourcemanager.CheckProject(p.s, service, project)
}

// cluster finds a cluster or answers NOT_FOUND.
func (p *Part) cluster(ref clusterRef) (*containerpb.Cluster, error) {
	c, ok := p.clusters[ref.name()]
	if !ok {
		return nil, notFound(ref.name())
	}
	return c, nil
}

// pool finds a node pool in its cluster or answers NOT_FOUND.
func (p *Part) pool(ref poolRef) (*containerpb.Cluster, *containerpb.NodePool, error) {
	c, err := p.cluster(ref.clusterRef)
	if err != nil {
		return nil, nil, err
	}
	for _, np := range c.NodePools {
		if np.Name == ref.pool {
			return c, np, nil
		}
	}
	return nil, nil, notFound(ref.name())
}

// refreshCluster recomputes what depends on the node pools and gives the cluster a new etag.
func (p *Part) refreshCluster(c *containerpb.Cluster) {
	var n int32
	for _, np := range c.NodePools {
		if np.Status == containerpb.NodePool_RUNNING || np.Status == containerpb.NodePool_RECONCILING || np.Status == containerpb.NodePool_RUNNING_WITH_ERROR {
			n += poolNodes(np)
		}
	}
	c.CurrentNodeCount = n
	c.Etag = p.etag()
}

func (p *Part) etag() string { return fmt.Sprintf("%08x", uint32(p.s.NextID()*2654435761)) }

func cloneCluster(c *containerpb.Cluster) *containerpb.Cluster {
	return proto.Clone(c).(*containerpb.Cluster)
}

func clonePool(np *containerpb.NodePool) *containerpb.NodePool {
	return proto.Clone(np).(*containerpb.NodePool)
}
