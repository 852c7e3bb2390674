package gke_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sourcegraph/lifecycle/sim"
)

// n2Pool is a node pool of n2-highmem-<cpus> machines, perZone nodes in each zone.
func n2Pool(name string, perZone int32, machine string) *containerpb.NodePool {
	return &containerpb.NodePool{Name: name, InitialNodeCount: perZone, Config: &containerpb.NodeConfig{MachineType: machine}}
}

// A regional pool's initial_node_count and SetNodePoolSize's node_count are per zone: the cluster's
// node count is that times the pool's zones (three by default).
func TestNodeCountIsPerZone(t *testing.T) {
	s := start(t, sim.Timings{})
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()
	clusterName := parent + "/clusters/c1"
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: "c1", NodePools: []*containerpb.NodePool{n2Pool("primary", 1, "n2-highmem-2")},
	}})
	mustOK(t, err, "CreateCluster")
	waitOp(t, c, op)
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster")
	np := cl.NodePools[0]
	if len(cl.Locations) != 3 || len(np.Locations) != 3 || np.InitialNodeCount != 1 || cl.CurrentNodeCount != 3 {
		t.Fatalf("cluster locations %v, pool locations %v, per zone %d, nodes %d; want 3 zones × 1 = 3 nodes",
			cl.Locations, np.Locations, np.InitialNodeCount, cl.CurrentNodeCount)
	}
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: clusterName + "/nodePools/primary", NodeCount: 2})
	mustOK(t, err, "SetNodePoolSize 2")
	waitOp(t, c, op)
	cl, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster")
	if cl.NodePools[0].InitialNodeCount != 2 || cl.CurrentNodeCount != 6 {
		t.Fatalf("after resize to 2: per zone %d, nodes %d; want 2 per zone, 6 nodes", cl.NodePools[0].InitialNodeCount, cl.CurrentNodeCount)
	}

	// A pool pinned to one zone counts once.
	op, err = c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: clusterName, NodePool: &containerpb.NodePool{
		Name: "one-zone", InitialNodeCount: 1, Locations: []string{location + "-a"}, Config: &containerpb.NodeConfig{MachineType: "e2-medium"},
	}})
	mustOK(t, err, "CreateNodePool in one zone")
	waitOp(t, c, op)
	cl, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster")
	if cl.CurrentNodeCount != 7 {
		t.Fatalf("nodes with a one-zone pool of 1 = %d, want 7", cl.CurrentNodeCount)
	}
}

// GKE checks the project's regional CPUS quota (24 for a new project) before it starts a create or
// resize, and refuses the request at once with PERMISSION_DENIED and the quota's figures.
func TestRegionalCPUQuota(t *testing.T) {
	s := start(t, sim.Timings{})
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()

	// 2 per zone × 3 zones × 16 vCPUs = 96 > 24.
	_, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: "big", NodePools: []*containerpb.NodePool{n2Pool("primary", 2, "n2-highmem-16")},
	}})
	wantCode(t, err, codes.PermissionDenied, "CreateCluster over quota")
	want := "Insufficient regional quota to satisfy request: resource \"CPUS\": request requires '96.0' and is short '72.0'. " +
		"project has a quota of '24.0' with '24.0' available. View and manage quotas at https://console.cloud.google.com/iam-admin/quotas?usage=USED&project=" + project + "."
	if msg := status.Convert(err).Message(); msg != want {
		t.Fatalf("quota message\n got %q\nwant %q", msg, want)
	}
	if _, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/big"}); status.Code(err) != codes.NotFound {
		t.Fatalf("a refused create left a cluster behind: %v", err)
	}

	// 1 per zone of n2-highmem-4 is 12 vCPUs: fits; growing to 2 per zone needs 12 more of the 12 left.
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: "small", NodePools: []*containerpb.NodePool{n2Pool("primary", 1, "n2-highmem-4")},
	}})
	mustOK(t, err, "CreateCluster within quota")
	waitOp(t, c, op)
	pool := parent + "/clusters/small/nodePools/primary"
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: 2})
	mustOK(t, err, "SetNodePoolSize to the quota")
	waitOp(t, c, op)
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: 3})
	wantCode(t, err, codes.PermissionDenied, "SetNodePoolSize over quota")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "resource \"CPUS\": request requires '12.0' and is short '12.0'. project has a quota of '24.0' with '0.0' available") {
		t.Fatalf("resize quota message %q", msg)
	}
	// Scaling to zero frees the quota; scaling back fits again.
	for _, n := range []int32{0, 2} {
		op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: n})
		mustOK(t, err, "SetNodePoolSize")
		waitOp(t, c, op)
	}

	// A granted quota increase lets the big one through.
	func() {
		defer s.Lock()()
		part(s).SetRegionalCPUQuota(project, location, 200)
	}()
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: "big", NodePools: []*containerpb.NodePool{n2Pool("primary", 2, "n2-highmem-16")},
	}})
	mustOK(t, err, "CreateCluster after a quota increase")
}

// A seeded cluster larger than the default quota stands for an instance whose project had its
// increase granted: it can be scaled to zero and back.
func TestSeededClusterKeepsItsQuota(t *testing.T) {
	s := start(t, sim.Timings{})
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()
	func() {
		defer s.Lock()()
		if err := part(s).SeedCluster(project, location, &containerpb.Cluster{
			Name: "seeded", NodePools: []*containerpb.NodePool{n2Pool("primary", 2, "n2-highmem-16")},
		}, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}()
	pool := parent + "/clusters/seeded/nodePools/primary"
	for _, n := range []int32{0, 2} {
		op, err := c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: n})
		mustOK(t, err, "SetNodePoolSize on the seeded cluster")
		waitOp(t, c, op)
	}
}
