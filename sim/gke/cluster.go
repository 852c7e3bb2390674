package gke

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/compute"
)

// defaultNodeCount is the size of the "default-pool" GKE creates when a request names no node
// pools and no initial_node_count (what gcloud and the console default to as well).
const defaultNodeCount = 3

// CreateCluster accepts the cluster as PROVISIONING with its node pools, and makes both RUNNING when
// the CREATE_CLUSTER operation is done (the initial nodes come up with the cluster).
func (p *Part) CreateCluster(ctx context.Context, req *containerpb.CreateClusterRequest) (*containerpb.Operation, error) {
	defer p.s.Lock()()
	proj, loc, err := parseLocation(req.GetParent(), req.GetProjectId(), req.GetZone())
	if err != nil {
		return nil, err
	}
	in := req.GetCluster()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Required field \"cluster\" is missing.")
	}
	if err := validName("Cluster", in.GetName()); err != nil {
		return nil, err
	}
	if err := p.checkProject(proj); err != nil {
		return nil, err
	}
	ref := clusterRef{proj, loc, in.GetName()}
	if err := p.checkNetwork(proj, in.GetNetwork()); err != nil {
		return nil, err
	}
	c, err := p.newCluster(ref, in, p.s.Now())
	if err != nil {
		return nil, err
	}
	if err := p.checkCPUQuota(proj, loc, poolsCPUs(c.NodePools)); err != nil {
		return nil, err
	}
	p.addCluster(ref, c)

	return p.startOp(ctx, ref, containerpb.Operation_CREATE_CLUSTER, ref.name(), func(failure string) {
		if p.clusters[ref.name()] != c {
			return
		}
		if failure != "" {
			// GKE leaves a cluster whose creation failed in ERROR; the caller has to delete it.
			c.Status, c.StatusMessage = containerpb.Cluster_ERROR, failure
			c.Conditions = []*containerpb.StatusCondition{{Message: failure}}
			for _, np := range c.NodePools {
				np.Status, np.StatusMessage = containerpb.NodePool_ERROR, failure
			}
		} else {
			c.Status = containerpb.Cluster_RUNNING
			for _, np := range c.NodePools {
				np.Status = containerpb.NodePool_RUNNING
			}
		}
		p.refreshCluster(c)
	}), nil
}

// newCluster validates a requested cluster and builds it PROVISIONING with its node pools, created
// at now, filling in what GKE sets. Lock held.
func (p *Part) newCluster(ref clusterRef, in *containerpb.Cluster, now time.Time) (*containerpb.Cluster, error) {
	if _, exists := p.clusters[ref.name()]; exists {
		return nil, status.Errorf(codes.AlreadyExists, "Already exists: %s.", ref.name())
	}
	if len(in.GetNodePools()) > 0 && in.GetInitialNodeCount() > 0 {
		return nil, status.Error(codes.InvalidArgument, "Cluster.initial_node_count cannot be set together with Cluster.node_pools; set NodePool.initial_node_count instead.")
	}
	c := cloneCluster(in)
	c.Location, c.Zone = ref.location, ref.location
	c.SelfLink = apiBase + ref.name()
	c.Id = fmt.Sprintf("%016x", uint64(p.s.NextID())*0x9e3779b97f4a7c15)
	c.CreateTime = timestamp(now)
	c.Status = containerpb.Cluster_PROVISIONING
	c.StatusMessage = ""
	seq := p.s.NextID()
	c.Endpoint = fmt.Sprintf("34.%d.%d.%d", 64+seq/65536%64, seq/256%256, seq%256) // a plausible public IP
	if c.CurrentMasterVersion = c.InitialClusterVersion; c.CurrentMasterVersion == "" || c.CurrentMasterVersion == "latest" {
		c.CurrentMasterVersion = defaultVersion
	}
	c.CurrentNodeVersion = c.CurrentMasterVersion
	if c.Network == "" {
		c.Network = "default"
	}
	if c.Subnetwork == "" {
		c.Subnetwork = "default"
	}
	if len(c.Locations) == 0 {
		c.Locations = defaultNodeLocations(ref.location)
	}
	if len(c.NodePools) == 0 {
		n := c.InitialNodeCount
		if n == 0 {
			n = defaultNodeCount
		}
		c.NodePools = []*containerpb.NodePool{{Name: "default-pool", InitialNodeCount: n, Config: c.NodeConfig}}
	}
	seen := map[string]bool{}
	for _, np := range c.NodePools {
		if err := validName("NodePool", np.GetName()); err != nil {
			return nil, err
		}
		if seen[np.Name] {
			return nil, status.Errorf(codes.InvalidArgument, "Node pool names must be unique; %q is given twice.", np.Name)
		}
		seen[np.Name] = true
		if np.InitialNodeCount < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'node_pool.initial_node_count': %d. Must be non-negative.", np.InitialNodeCount)
		}
		p.initPool(ref, c, np)
	}
	p.refreshCluster(c)
	return c, nil
}

// checkNetwork refuses a cluster on a network the project does not have (the "default" one when
// the request names none), as GKE does before it starts: INVALID_ARGUMENT (HTTP 400)
// `Project "P" has no network named "N".`. Without a compute part there is no network to check.
// Lock held.
func (p *Part) checkNetwork(project, network string) error {
	cp, _ := p.s.Part(compute.Name).(*compute.Part)
	if cp == nil {
		return nil
	}
	if network == "" {
		network = compute.DefaultNetwork
	}
	if i := strings.LastIndexByte(network, '/'); i >= 0 {
		network = network[i+1:]
	}
	if !cp.NetworkExists(project, network) {
		return status.Errorf(codes.InvalidArgument, "Project %q has no network named %q.", project, network)
	}
	return nil
}

// addCluster stores a new cluster and records it and its node pools in the ledger. Lock held.
func (p *Part) addCluster(ref clusterRef, c *containerpb.Cluster) {
	p.clusters[ref.name()] = c
	p.s.Created(Name, ref.name())
	for _, np := range c.NodePools {
		p.s.Created(Name, poolRef{ref, np.Name}.name())
	}
}

// zonePattern tells a zone ("us-central1-a") from a region ("us-central1").
var zonePattern = regexp.MustCompile(`-[a-z]$`)

// defaultNodeLocations is where GKE puts nodes when the request does not say: the zone of a zonal
// cluster, or three zones of a regional one.
func defaultNodeLocations(loc string) []string {
	if zonePattern.MatchString(loc) {
		return []string{loc}
	}
	return []string{loc + "-a", loc + "-b", loc + "-c"}
}

func (p *Part) GetCluster(_ context.Context, req *containerpb.GetClusterRequest) (*containerpb.Cluster, error) {
	defer p.s.Lock()()
	ref, err := parseCluster(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	if err := p.checkProject(ref.project); err != nil {
		return nil, err
	}
	c, err := p.cluster(ref)
	if err != nil {
		return nil, err
	}
	return cloneCluster(c), nil
}

// ListClusters lists a location's clusters; location "-" lists all of the project's.
func (p *Part) ListClusters(_ context.Context, req *containerpb.ListClustersRequest) (*containerpb.ListClustersResponse, error) {
	defer p.s.Lock()()
	proj, loc, err := parseLocation(req.GetParent(), req.GetProjectId(), req.GetZone())
	if err != nil {
		return nil, err
	}
	if err := p.checkProject(proj); err != nil {
		return nil, err
	}
	resp := &containerpb.ListClustersResponse{}
	for _, name := range sim.SortedKeys(p.clusters) {
		if inLocation(name, proj, loc) {
			resp.Clusters = append(resp.Clusters, cloneCluster(p.clusters[name]))
		}
	}
	return resp, nil
}

// DeleteCluster puts the cluster and its node pools in STOPPING; the cluster is gone (NOT_FOUND)
// when the DELETE_CLUSTER operation is done. GKE has no server-side deletion protection.
func (p *Part) DeleteCluster(ctx context.Context, req *containerpb.DeleteClusterRequest) (*containerpb.Operation, error) {
	defer p.s.Lock()()
	ref, err := parseCluster(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	if err := p.checkProject(ref.project); err != nil {
		return nil, err
	}
	c, err := p.cluster(ref)
	if err != nil {
		return nil, err
	}
	if err := p.checkIdle(ref); err != nil {
		return nil, err
	}
	c.Status, c.StatusMessage = containerpb.Cluster_STOPPING, ""
	for _, np := range c.NodePools {
		np.Status = containerpb.NodePool_STOPPING
		p.s.Deleted(Name, poolRef{ref, np.Name}.name())
	}
	p.refreshCluster(c)
	p.s.Deleted(Name, ref.name())

	return p.startOp(ctx, ref, containerpb.Operation_DELETE_CLUSTER, ref.name(), func(failure string) {
		if p.clusters[ref.name()] != c {
			return
		}
		if failure != "" {
			c.Status, c.StatusMessage = containerpb.Cluster_ERROR, failure
			c.Conditions = []*containerpb.StatusCondition{{Message: failure}}
			p.refreshCluster(c)
			return
		}
		delete(p.clusters, ref.name())
	}), nil
}
