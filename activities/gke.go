package activities

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// NodePoolShape is what a size tier means for the primary node pool.
type NodePoolShape struct {
	MachineType string `json:"machineType"`
	// NodeCount is the pool's intended total: the nodes the tier wants across all its zones. GKE
	// counts a regional pool per zone, so what is sent is NodesPerZone(NodeCount, zones).
	NodeCount  int32 `json:"nodeCount"`
	DiskSizeGB int32 `json:"diskSizeGb"`
}

// nodePoolTiers is the one place that maps size tiers to machines. EnsureCluster creates the pool
// with it, and a resume sizes the pool back with NodePoolFor(size).NodeCount (a total, which
// ResizeNodePool turns into a per-zone count).
var nodePoolTiers = map[spec.Size]NodePoolShape{
	spec.Small:  {MachineType: "n2-highmem-4", NodeCount: 2, DiskSizeGB: 100},
	spec.Medium: {MachineType: "n2-highmem-8", NodeCount: 3, DiskSizeGB: 200},
	spec.Large:  {MachineType: "n2-highmem-16", NodeCount: 4, DiskSizeGB: 300},
}

// DefaultZones is how many zones GKE spreads a regional cluster's node pools over when the
// request names no locations (all our regions have at least three).
const DefaultZones = 3

// NodesPerZone is the per-zone count GKE is sent for a pool meant to have total nodes over zones
// zones: GKE's initialNodeCount and SetNodePoolSize's nodeCount apply to each zone of the pool.
// A total that does not divide evenly is rounded up (2 over 3 zones is 1 per zone, 3 nodes): a
// regional pool has the same count in every zone, and rounding up keeps each zone serving instead
// of pinning the pool to fewer zones by name (docs/design.md "Node pool sizing").
func NodesPerZone(total int32, zones int) int32 {
	if total <= 0 {
		return 0
	}
	if zones < 1 {
		zones = 1
	}
	z := int32(zones)
	return (total + z - 1) / z
}

// NodePoolFor returns the primary node pool's shape for a size tier (deterministic: workflows may
// call it).
func NodePoolFor(size spec.Size) (NodePoolShape, error) {
	s, ok := nodePoolTiers[size]
	if !ok {
		return NodePoolShape{}, fmt.Errorf("unknown size tier %q (want small, medium or large)", size)
	}
	return s, nil
}

// GKE manages the instance's GKE cluster and its primary node pool.
type GKE struct {
	client *container.ClusterManagerClient
	// compute makes the cluster's VPC network (networks and subnetworks are Compute Engine's).
	compute *compute.Service
	// PollInterval is how often GKE operations are polled (DefaultPollInterval when zero).
	PollInterval time.Duration
}

// NewGKE connects to GKE (or the simulator, per config.Cloud) with Application Default Credentials.
func NewGKE(ctx context.Context, c config.Cloud) (*GKE, error) {
	cl, err := container.NewClusterManagerClient(ctx, GCPOptions(c)...)
	if err != nil {
		return nil, fmt.Errorf("GKE client: %w", err)
	}
	cs, err := compute.NewService(ctx, ComputeOptions(c)...)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("Compute Engine client: %w", err)
	}
	return &GKE{client: cl, compute: cs}, nil
}

// Close releases the client's connections.
// Close releases the client. It returns nothing on purpose: a method returning error would be
// registered as an activity.
func (g *GKE) Close() { g.client.Close() }

// gkeProgress is the heartbeat detail of every GKE activity: the (short) name of the operation it
// started, so a retry polls that operation instead of issuing the mutation again.
type gkeProgress struct {
	Operation string `json:"operation"`
}

// gkeClusterRef names a cluster.
type gkeClusterRef struct {
	Project string `json:"project"`
	Region  string `json:"region"`
	Cluster string `json:"cluster"`
}

func (r gkeClusterRef) parent() string { return "projects/" + r.Project + "/locations/" + r.Region }
func (r gkeClusterRef) name() string   { return r.parent() + "/clusters/" + r.Cluster }

// EnsureClusterInput is the cluster an instance needs.
type EnsureClusterInput struct {
	Project  string            `json:"project"`
	Region   string            `json:"region"`
	Cluster  string            `json:"cluster"`
	NodePool string            `json:"nodePool"`
	Size     spec.Size         `json:"size"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// ClusterResult is a cluster as the workflows see it.
type ClusterResult struct {
	Name        string `json:"name"` // projects/P/locations/L/clusters/C
	Exists      bool   `json:"exists"`
	Status      string `json:"status,omitempty"` // PROVISIONING, RUNNING, RECONCILING, STOPPING, ERROR, DEGRADED
	Message     string `json:"message,omitempty"`
	Version     string `json:"version,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
	NodeCount   int32  `json:"nodeCount"` // nodes of all running pools
	NodePool    string `json:"nodePool,omitempty"`
	MachineType string `json:"machineType,omitempty"`
	PoolSize    int32  `json:"poolSize"` // the node pool's total size over its zones (0 while suspended)
	// PoolPerZone and PoolZones are how GKE counts it: PoolSize = PoolPerZone × PoolZones.
	PoolPerZone int32 `json:"poolPerZone,omitempty"`
	PoolZones   int   `json:"poolZones,omitempty"`
}

// EnsureCluster creates the cluster with its primary node pool, or accepts the one that exists if
// its pool has the tier's machine type. The pool's size is not reconciled: a suspended instance
// keeps 0 nodes when its create workflow is re-run.
func (g *GKE) EnsureCluster(ctx context.Context, in EnsureClusterInput) (ClusterResult, error) {
	ref := gkeClusterRef{in.Project, in.Region, in.Cluster}
	what := "ensure GKE cluster " + ref.name()
	shape, err := NodePoolFor(in.Size)
	if err != nil {
		return ClusterResult{}, Permanent(ErrInvalidArgument, what+": "+err.Error(), "fix the size in the instance's config", nil)
	}
	if in.NodePool == "" {
		return ClusterResult{}, Permanent(ErrInvalidArgument, what+": no node pool name given", "pass the node pool name (spec.NodePoolName)", nil)
	}
	if err := g.resume(ctx, ref, what); err != nil {
		return ClusterResult{}, err
	}
	// Each round reads the cluster and takes at most one step towards it; a handful suffices
	// (create cluster, maybe add the pool, read back).
	for round := 0; round < 5; round++ {
		c, err := g.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: ref.name()})
		if gcpNotFound(err) {
			// The cluster's network first: new projects often have no "default" one.
			if err := g.ensureNetwork(ctx, in.Project, in.Region); err != nil {
				return ClusterResult{}, err
			}
			op, err := g.client.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: ref.parent(), Cluster: gkeClusterSpec(in, shape)})
			if status.Code(err) == codes.AlreadyExists {
				continue // created concurrently: inspect it
			}
			if err != nil {
				return ClusterResult{}, gkeClassify("create GKE cluster "+ref.name(), ref, err)
			}
			if err := g.waitOp(ctx, ref, op.GetName(), "create GKE cluster "+ref.name()); err != nil {
				return ClusterResult{}, err
			}
			continue
		}
		if err != nil {
			return ClusterResult{}, classify(what, err)
		}
		switch c.GetStatus() {
		case containerpb.Cluster_ERROR:
			return ClusterResult{}, Permanent(ErrPrecondition,
				fmt.Sprintf("%s: the cluster is in ERROR: %s", what, gkeConditions(c)),
				"read the message above (often quota or an org policy), fix its cause, delete the cluster (DeleteCluster), then retry this step", nil)
		case containerpb.Cluster_STOPPING:
			return ClusterResult{}, Transient(ErrBusy, what+": the cluster is being deleted; retrying recreates it once it is gone", nil, 0)
		case containerpb.Cluster_PROVISIONING:
			// An earlier attempt's operation whose name we lost: wait for the cluster itself.
			// (RECONCILING, e.g. an auto-upgrade, is a usable cluster: fall through.)
			if err := pollUntil(ctx, g.PollInterval, gkeProgress{}, func() (bool, error) {
				c, err = g.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: ref.name()})
				if err != nil {
					return false, classify(what, err)
				}
				return c.GetStatus() != containerpb.Cluster_PROVISIONING, nil
			}); err != nil {
				return ClusterResult{}, err
			}
			continue
		}
		np := gkeFindPool(c, in.NodePool)
		if np == nil {
			op, err := g.client.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: ref.name(), NodePool: gkeNodePoolSpec(in, shape)})
			if err != nil && status.Code(err) != codes.AlreadyExists {
				return ClusterResult{}, gkeClassify("create GKE node pool "+ref.name()+"/nodePools/"+in.NodePool, ref, err)
			}
			if op != nil {
				if err := g.waitOp(ctx, ref, op.GetName(), "create GKE node pool "+ref.name()+"/nodePools/"+in.NodePool); err != nil {
					return ClusterResult{}, err
				}
			}
			continue
		}
		if got := np.GetConfig().GetMachineType(); got != "" && got != shape.MachineType {
			return ClusterResult{}, Permanent(ErrConflict,
				fmt.Sprintf("%s: node pool %s exists with machine type %s, but size %q needs %s", what, in.NodePool, got, in.Size, shape.MachineType),
				"changing the size tier of an existing cluster is a migration, not a create: fix the size in the request or migrate the node pool by hand", nil)
		}
		return gkeClusterResult(ref, c, in.NodePool), nil
	}
	return ClusterResult{}, Transient(ErrBusy, what+": the cluster kept changing while being ensured; retrying", nil, 0)
}

func gkeClusterSpec(in EnsureClusterInput, shape NodePoolShape) *containerpb.Cluster {
	return &containerpb.Cluster{
		Name:           in.Cluster,
		Description:    "Sourcegraph dedicated instance (managed by the lifecycle service)",
		ResourceLabels: in.Labels,
		ReleaseChannel: &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR},
		Network:        spec.NetworkName,
		Subnetwork:     spec.SubnetworkName,
		// The Backup for GKE agent, which the backup plan needs: installed with the cluster rather
		// than when the first plan is made, which is slower.
		AddonsConfig: &containerpb.AddonsConfig{GkeBackupAgentConfig: &containerpb.GkeBackupAgentConfig{Enabled: true}},
		NodePools:    []*containerpb.NodePool{gkeNodePoolSpec(in, shape)},
	}
}

func gkeNodePoolSpec(in EnsureClusterInput, shape NodePoolShape) *containerpb.NodePool {
	return &containerpb.NodePool{
		Name:             in.NodePool,
		InitialNodeCount: NodesPerZone(shape.NodeCount, DefaultZones),
		Config: &containerpb.NodeConfig{
			MachineType:    shape.MachineType,
			DiskSizeGb:     shape.DiskSizeGB,
			OauthScopes:    []string{"https://www.googleapis.com/auth/cloud-platform"},
			ResourceLabels: in.Labels,
		},
		Management: &containerpb.NodeManagement{AutoRepair: true, AutoUpgrade: true},
	}
}

func gkeFindPool(c *containerpb.Cluster, name string) *containerpb.NodePool {
	for _, np := range c.GetNodePools() {
		if np.GetName() == name {
			return np
		}
	}
	return nil
}

// gkeConditions is what GKE says about the cluster's status: its conditions' messages (the
// deprecated statusMessage's replacement).
func gkeConditions(c *containerpb.Cluster) string {
	var msgs []string
	for _, cond := range c.GetConditions() {
		if m := cond.GetMessage(); m != "" {
			msgs = append(msgs, m)
		}
	}
	return strings.Join(msgs, "; ")
}

// gkePoolZones is how many zones the pool has nodes in: its own locations, else the cluster's,
// else GKE's default for a regional cluster.
func gkePoolZones(c *containerpb.Cluster, np *containerpb.NodePool) int {
	if n := len(np.GetLocations()); n > 0 {
		return n
	}
	if n := len(c.GetLocations()); n > 0 {
		return n
	}
	return DefaultZones
}

// gkeLiveNodes is the cluster's current node count.
func gkeLiveNodes(c *containerpb.Cluster) int32 {
	//lint:ignore SA1019 GKE's API has no other live node count: its replacement is the Kubernetes API, which the worker does not call.
	return c.GetCurrentNodeCount()
}

func gkeClusterResult(ref gkeClusterRef, c *containerpb.Cluster, pool string) ClusterResult {
	r := ClusterResult{
		Name: ref.name(), Exists: true, Status: c.GetStatus().String(), Message: gkeConditions(c),
		Version: c.GetCurrentMasterVersion(), Endpoint: c.GetEndpoint(), NodeCount: gkeLiveNodes(c),
	}
	if np := gkeFindPool(c, pool); np != nil {
		r.NodePool, r.MachineType = np.GetName(), np.GetConfig().GetMachineType()
		r.PoolPerZone, r.PoolZones = np.GetInitialNodeCount(), gkePoolZones(c, np)
		r.PoolSize = r.PoolPerZone * int32(r.PoolZones)
	}
	return r
}

// GetClusterInput names the cluster and, optionally, the node pool to report on.
type GetClusterInput struct {
	Project  string `json:"project"`
	Region   string `json:"region"`
	Cluster  string `json:"cluster"`
	NodePool string `json:"nodePool,omitempty"`
}

// GetCluster reports the cluster's status and size; a missing cluster is Exists=false, not an
// error, so workflows can branch on it.
func (g *GKE) GetCluster(ctx context.Context, in GetClusterInput) (ClusterResult, error) {
	ref := gkeClusterRef{in.Project, in.Region, in.Cluster}
	c, err := g.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: ref.name()})
	if gcpNotFound(err) {
		return ClusterResult{Name: ref.name()}, nil
	}
	if err != nil {
		return ClusterResult{}, classify("get GKE cluster "+ref.name(), err)
	}
	return gkeClusterResult(ref, c, in.NodePool), nil
}

// ResizeNodePoolInput sizes a node pool: 0 to suspend, NodePoolFor(size).NodeCount to resume.
// NodeCount is the total wanted over the pool's zones (what the workflows have always passed);
// the activity sends GKE NodesPerZone of it.
type ResizeNodePoolInput struct {
	Project   string `json:"project"`
	Region    string `json:"region"`
	Cluster   string `json:"cluster"`
	NodePool  string `json:"nodePool"`
	NodeCount int32  `json:"nodeCount"`
}

// ResizeNodePoolResult is the pool's size afterwards; Operation is empty when it already had it.
type ResizeNodePoolResult struct {
	NodePool  string `json:"nodePool"`  // full name
	NodeCount int32  `json:"nodeCount"` // the total requested
	// PerZone is the count sent to GKE, and Nodes the pool's total afterwards (PerZone × its zones,
	// at least NodeCount).
	PerZone   int32  `json:"perZone"`
	Nodes     int32  `json:"nodes"`
	Operation string `json:"operation,omitempty"`
}

// ResizeNodePool sets the pool's node count. Setting a size is idempotent by nature; a pool
// already at the size is left alone, so no operation runs. (The pool should be the cluster's only
// one: the live node count checked is the cluster's.)
func (g *GKE) ResizeNodePool(ctx context.Context, in ResizeNodePoolInput) (ResizeNodePoolResult, error) {
	ref := gkeClusterRef{in.Project, in.Region, in.Cluster}
	name := ref.name() + "/nodePools/" + in.NodePool
	what := fmt.Sprintf("resize GKE node pool %s to %d nodes in all", name, in.NodeCount)
	if in.NodeCount < 0 {
		return ResizeNodePoolResult{}, Permanent(ErrInvalidArgument, what+": negative node count", "pass 0 to suspend or the tier's node count to resume", nil)
	}
	res := ResizeNodePoolResult{NodePool: name, NodeCount: in.NodeCount}
	if d, ok := resumeDetails[gkeProgress](ctx); ok && d.Operation != "" {
		res.Operation = d.Operation
	}
	if err := g.resume(ctx, ref, what); err != nil {
		return ResizeNodePoolResult{}, err
	}
	c, err := g.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: ref.name()})
	var np *containerpb.NodePool
	if err == nil {
		np = gkeFindPool(c, in.NodePool)
	}
	if gcpNotFound(err) || (err == nil && np == nil) {
		return ResizeNodePoolResult{}, Permanent(ErrNotFound, what+": the node pool or its cluster does not exist",
			"create the cluster first (EnsureCluster), or check the instance's project/region in its config", err)
	}
	if err != nil {
		return ResizeNodePoolResult{}, classify(what, err)
	}
	zones := gkePoolZones(c, np)
	res.PerZone = NodesPerZone(in.NodeCount, zones)
	res.Nodes = res.PerZone * int32(zones)
	// Real GKE leaves initial_node_count at its creation value after a resize (the simulator keeps
	// it current), so it only counts as "already there" when the cluster's live node count agrees
	// on whether there are nodes at all. Otherwise resize: setting the same size again is harmless.
	if np.GetInitialNodeCount() == res.PerZone && (res.PerZone == 0) == (gkeLiveNodes(c) == 0) &&
		np.GetStatus() == containerpb.NodePool_RUNNING {
		return res, nil
	}
	op, err := g.client.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: name, NodeCount: res.PerZone})
	if err != nil {
		return ResizeNodePoolResult{}, gkeClassify(what, ref, err)
	}
	res.Operation = op.GetName()
	if err := g.waitOp(ctx, ref, op.GetName(), what); err != nil {
		return ResizeNodePoolResult{}, err
	}
	return res, nil
}

// DeleteClusterInput names the cluster to delete.
type DeleteClusterInput struct {
	Project string `json:"project"`
	Region  string `json:"region"`
	Cluster string `json:"cluster"`
}

// DeleteClusterResult says whether this call deleted it or it was already gone.
type DeleteClusterResult struct {
	Name        string `json:"name"`
	AlreadyGone bool   `json:"alreadyGone"`
}

// DeleteCluster deletes the cluster and waits until it is gone. A cluster (or project) that is
// already gone is success. GKE has no server-side deletion protection; the teardown's approval is
// the guard.
func (g *GKE) DeleteCluster(ctx context.Context, in DeleteClusterInput) (DeleteClusterResult, error) {
	ref := gkeClusterRef(in)
	what := "delete GKE cluster " + ref.name()
	res := DeleteClusterResult{Name: ref.name()}
	if err := g.resume(ctx, ref, what); err != nil {
		return res, err
	}
	c, err := g.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: ref.name()})
	if gcpNotFound(err) {
		res.AlreadyGone = true
		return res, nil
	}
	if err != nil {
		return res, classify(what, err)
	}
	if c.GetStatus() != containerpb.Cluster_STOPPING {
		op, err := g.client.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: ref.name()})
		if gcpNotFound(err) {
			return res, nil
		}
		if err != nil {
			return res, classify(what, err)
		}
		if err := g.waitOp(ctx, ref, op.GetName(), what); err != nil {
			return res, err
		}
	}
	// Deleting already (an earlier attempt whose operation we lost), or done: wait until it is gone.
	return res, pollUntil(ctx, g.PollInterval, gkeProgress{}, func() (bool, error) {
		_, err := g.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: ref.name()})
		if gcpNotFound(err) {
			return true, nil
		}
		return false, classify(what, err)
	})
}

// resume waits for the operation a previous attempt of this activity started (from its heartbeat
// details), so a retry does not issue the mutation again. An operation GKE no longer knows is
// ignored: the activity then re-reads the state and decides afresh.
func (g *GKE) resume(ctx context.Context, ref gkeClusterRef, what string) error {
	d, ok := resumeDetails[gkeProgress](ctx)
	if !ok || d.Operation == "" {
		return nil
	}
	err := g.waitOp(ctx, ref, d.Operation, what)
	if errors.Is(err, errGKEOpGone) {
		return nil
	}
	return err
}

var errGKEOpGone = errors.New("GKE operation not found")

// waitOp polls a GKE operation (short name, as GKE returns it) until DONE, heartbeating its name.
func (g *GKE) waitOp(ctx context.Context, ref gkeClusterRef, short, what string) error {
	full := ref.parent() + "/operations/" + short
	details := gkeProgress{Operation: short}
	heartbeat(ctx, details) // first, so a crash right after the mutation still leaves the name behind
	return pollUntil(ctx, g.PollInterval, details, func() (bool, error) {
		op, err := g.client.GetOperation(ctx, &containerpb.GetOperationRequest{Name: full})
		if status.Code(err) == codes.NotFound {
			return false, errGKEOpGone
		}
		if err != nil {
			return false, classify("poll GKE operation "+full+" ("+what+")", err)
		}
		if op.GetStatus() != containerpb.Operation_DONE {
			return false, nil
		}
		// GKE reports a failed operation in error (google.rpc.Status); statusMessage is deprecated.
		msg := op.GetError().GetMessage()
		if op.GetError().GetCode() != 0 || msg != "" {
			return false, Permanent(ErrOperationFailed,
				fmt.Sprintf("%s: GKE operation %s (%s) failed: %s", what, full, op.GetOperationType(), msg),
				"read the operation's message (quota, org policy, IP ranges are common causes), fix the cause; a cluster left in ERROR must be deleted (DeleteCluster) before the step is retried", nil)
		}
		return true, nil
	})
}

// gcpNotFound reports whether a gRPC error from a Google API says the resource is gone: NOT_FOUND,
// or the API front end's answer for a project that no longer exists or is being deleted
// (PERMISSION_DENIED with reason CONSUMER_INVALID).
func gcpNotFound(err error) bool {
	if err == nil {
		return false
	}
	if status.Code(err) == codes.NotFound {
		return true
	}
	var ae *apierror.APIError
	return errors.As(err, &ae) && ae.Reason() == "CONSUMER_INVALID"
}

// gkeQuotaResource finds the quota GKE names in an "Insufficient regional quota to satisfy
// request: resource \"CPUS\": ..." refusal.
var gkeQuotaResource = regexp.MustCompile(`(?i)insufficient (regional|project) quota to satisfy request: resource "([A-Z0-9_]+)"`)

// gkeClassify is classify for GKE's mutations, with its quota refusal made plain: GKE checks the
// project's Compute Engine quota for the nodes a create or resize asks for and answers
// PERMISSION_DENIED at once when it is short. Retrying cannot help; only a quota increase can.
func gkeClassify(what string, ref gkeClusterRef, err error) error {
	if status.Code(err) == codes.PermissionDenied {
		if m := gkeQuotaResource.FindStringSubmatch(status.Convert(err).Message()); m != nil {
			scope := "region " + ref.Region
			if strings.EqualFold(m[1], "project") {
				scope = "all regions"
			}
			return Permanent(ErrQuotaExceeded,
				fmt.Sprintf("%s: the project's %s quota (%s) is too small for the nodes requested: %s", what, m[2], scope, status.Convert(err).Message()),
				fmt.Sprintf("request a quota increase for %s in %s of project %s (console: IAM & Admin > Quotas, https://console.cloud.google.com/iam-admin/quotas?project=%s), wait for it to be granted, then retry this step; or pick a smaller size", m[2], scope, ref.Project, ref.Project), err)
		}
	}
	return classify(what, err)
}
