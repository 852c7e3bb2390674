package gke_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	rm "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/gke"
	"github.com/sourcegraph/lifecycle/sim/gkebackup"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

// opDuration is long enough for a poller to see PENDING and RUNNING, short enough for a fast test.
const opDuration = 400 * time.Millisecond

const (
	project  = "proj-gke-test"
	location = "us-central1"
	parent   = "projects/" + project + "/locations/" + location
)

func start(t *testing.T, timings sim.Timings, parts ...sim.PartFactory) *sim.Sim {
	t.Helper()
	if parts == nil {
		parts = []sim.PartFactory{gke.New, gkebackup.New, resourcemanager.New}
	}
	s, err := sim.Start(sim.Config{Timings: timings}, parts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func clientOptions(s *sim.Sim) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.GRPCAddr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func newClient(t *testing.T, s *sim.Sim) *container.ClusterManagerClient {
	t.Helper()
	c, err := container.NewClusterManagerClient(context.Background(), clientOptions(s)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// createProject makes the project ACTIVE through the real Resource Manager client.
func createProject(t *testing.T, s *sim.Sim, id string) {
	t.Helper()
	ctx := context.Background()
	c, err := rm.NewProjectsClient(ctx, clientOptions(s)...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	op, err := c.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: id, Parent: "folders/123"}})
	if err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatalf("CreateProject wait: %v", err)
	}
}

// waitOp polls a GKE operation until DONE (as an activity would) and returns every status it saw.
func waitOp(t *testing.T, c *container.ClusterManagerClient, op *containerpb.Operation) (*containerpb.Operation, []containerpb.Operation_Status) {
	t.Helper()
	ctx := context.Background()
	seen := []containerpb.Operation_Status{op.Status}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: parent + "/operations/" + op.Name})
		if err != nil {
			t.Fatalf("GetOperation(%s): %v", op.Name, err)
		}
		if seen[len(seen)-1] != got.Status {
			seen = append(seen, got.Status)
		}
		if got.Status == containerpb.Operation_DONE {
			return got, seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s not DONE after 10s; statuses seen: %v", op.Name, seen)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// opDone reports whether the operation has completed (to tell whether an in-between state we just
// read must still hold).
func opDone(t *testing.T, c *container.ClusterManagerClient, op *containerpb.Operation) bool {
	t.Helper()
	got, err := c.GetOperation(context.Background(), &containerpb.GetOperationRequest{Name: parent + "/operations/" + op.Name})
	if err != nil {
		t.Fatal(err)
	}
	return got.Status == containerpb.Operation_DONE
}

func mustOK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCode(t *testing.T, err error, want codes.Code, what string) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: got code %v (%v), want %v", what, got, err, want)
	}
}

func part(s *sim.Sim) *gke.Part { return s.Part(gke.Name).(*gke.Part) }

func serving(s *sim.Sim, cluster string) bool {
	defer s.Lock()()
	return part(s).Serving(project, location, cluster)
}

func TestClusterLifecycle(t *testing.T) {
	s := start(t, sim.Timings{GKEOperation: sim.Duration(opDuration)})
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()
	clusterName := parent + "/clusters/c1"
	poolName := clusterName + "/nodePools/primary"

	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name:      "c1",
		NodePools: []*containerpb.NodePool{{Name: "primary", InitialNodeCount: 3}},
	}})
	mustOK(t, err, "CreateCluster")
	if op.Status != containerpb.Operation_PENDING || op.OperationType != containerpb.Operation_CREATE_CLUSTER {
		t.Fatalf("CreateCluster returned %v %v, want PENDING CREATE_CLUSTER", op.Status, op.OperationType)
	}
	if !strings.HasPrefix(op.Name, "operation-") || strings.Contains(op.Name, "/") {
		t.Errorf("operation name %q is not GKE's short form", op.Name)
	}
	if !strings.HasSuffix(op.TargetLink, "/"+clusterName) || !strings.HasSuffix(op.SelfLink, "/operations/"+op.Name) || op.StartTime == "" {
		t.Errorf("operation links/times: target %q self %q start %q", op.TargetLink, op.SelfLink, op.StartTime)
	}

	// While the create runs: the cluster is PROVISIONING, a duplicate is ALREADY_EXISTS and any other
	// mutation is FAILED_PRECONDITION.
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster")
	_, dupErr := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1}})
	_, busyErr := c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: clusterName, NodePool: &containerpb.NodePool{Name: "extra", InitialNodeCount: 1}})
	if !opDone(t, c, op) {
		if cl.Status != containerpb.Cluster_PROVISIONING {
			t.Errorf("cluster status during create = %v, want PROVISIONING", cl.Status)
		}
		if serving(s, "c1") {
			t.Error("Serving during create = true")
		}
		wantCode(t, busyErr, codes.FailedPrecondition, "CreateNodePool during create")
		if msg := status.Convert(busyErr).Message(); !strings.Contains(msg, "Operation "+op.Name+" is currently creating cluster c1. Please wait") {
			t.Errorf("concurrent-operation message = %q", msg)
		}
	}
	wantCode(t, dupErr, codes.AlreadyExists, "duplicate CreateCluster")

	done, seen := waitOp(t, c, op)
	if !slices.Equal(seen, []containerpb.Operation_Status{containerpb.Operation_PENDING, containerpb.Operation_RUNNING, containerpb.Operation_DONE}) {
		t.Errorf("statuses seen = %v, want PENDING RUNNING DONE", seen)
	}
	if done.Error != nil || done.EndTime == "" {
		t.Errorf("done operation: error %v, end time %q", done.Error, done.EndTime)
	}

	cl, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster")
	if cl.Status != containerpb.Cluster_RUNNING || len(cl.NodePools) != 1 || cl.NodePools[0].Status != containerpb.NodePool_RUNNING || cl.CurrentNodeCount != 9 {
		// initial_node_count 3 is per zone: 3 in each of the regional cluster's 3 zones.
		t.Fatalf("after create: cluster %v, pools %v, nodes %d", cl.Status, cl.NodePools, cl.CurrentNodeCount)
	}
	if cl.Location != location || cl.Endpoint == "" || cl.CurrentMasterVersion == "" {
		t.Errorf("cluster fields: location %q endpoint %q version %q", cl.Location, cl.Endpoint, cl.CurrentMasterVersion)
	}
	if !serving(s, "c1") {
		t.Error("Serving after create = false")
	}
	dump, err := json.Marshal(s.Snapshot()["gke"])
	mustOK(t, err, "marshal snapshot")
	if !strings.Contains(string(dump), `"name":"`+clusterName+`","status":"RUNNING"`) || !strings.Contains(string(dump), `"serving":true`) {
		t.Errorf("snapshot = %s", dump)
	}

	for _, p := range []string{parent, "projects/" + project + "/locations/-"} {
		list, err := c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: p})
		mustOK(t, err, "ListClusters")
		if len(list.Clusters) != 1 || list.Clusters[0].Name != "c1" {
			t.Errorf("ListClusters(%s) = %v", p, list.Clusters)
		}
	}
	ops, err := c.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: parent})
	mustOK(t, err, "ListOperations")
	if len(ops.Operations) != 1 || ops.Operations[0].Name != op.Name {
		t.Errorf("ListOperations = %v", ops.Operations)
	}

	// Suspend: resize to 0, then resume to 2.
	for _, size := range []int32{0, 2} {
		op, err := c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: poolName, NodeCount: size})
		mustOK(t, err, "SetNodePoolSize")
		if op.OperationType != containerpb.Operation_SET_NODE_POOL_SIZE || !strings.HasSuffix(op.TargetLink, poolName) {
			t.Errorf("resize operation: %v %q", op.OperationType, op.TargetLink)
		}
		np, err := c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: poolName})
		mustOK(t, err, "GetNodePool")
		if !opDone(t, c, op) && np.Status != containerpb.NodePool_RECONCILING {
			t.Errorf("pool status during resize = %v, want RECONCILING", np.Status)
		}
		waitOp(t, c, op)
		np, err = c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: poolName})
		mustOK(t, err, "GetNodePool")
		if np.Status != containerpb.NodePool_RUNNING || np.InitialNodeCount != size {
			t.Errorf("after resize to %d: %v with %d nodes", size, np.Status, np.InitialNodeCount)
		}
		if got := serving(s, "c1"); got != (size > 0) {
			t.Errorf("Serving with %d nodes = %v", size, got)
		}
	}

	// A second pool, then its deletion.
	op, err = c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: clusterName, NodePool: &containerpb.NodePool{Name: "extra", InitialNodeCount: 1}})
	mustOK(t, err, "CreateNodePool")
	waitOp(t, c, op)
	pools, err := c.ListNodePools(ctx, &containerpb.ListNodePoolsRequest{Parent: clusterName})
	mustOK(t, err, "ListNodePools")
	if len(pools.NodePools) != 2 || pools.NodePools[1].Status != containerpb.NodePool_RUNNING {
		t.Errorf("ListNodePools = %v", pools.NodePools)
	}
	op, err = c.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: clusterName + "/nodePools/extra"})
	mustOK(t, err, "DeleteNodePool")
	waitOp(t, c, op)
	_, err = c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: clusterName + "/nodePools/extra"})
	wantCode(t, err, codes.NotFound, "GetNodePool after delete")

	op, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: clusterName})
	mustOK(t, err, "DeleteCluster")
	cl, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster while deleting")
	if !opDone(t, c, op) && cl.Status != containerpb.Cluster_STOPPING {
		t.Errorf("cluster status during delete = %v, want STOPPING", cl.Status)
	}
	waitOp(t, c, op)
	_, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	wantCode(t, err, codes.NotFound, "GetCluster after delete")
	if msg, want := status.Convert(err).Message(), "Not found: "+clusterName+"."; msg != want {
		t.Errorf("NotFound message = %q, want %q", msg, want)
	}
	func() {
		defer s.Lock()()
		if part(s).ClusterExists(project, location, "c1") {
			t.Error("ClusterExists after delete = true")
		}
	}()

	ledger := s.Ledger()
	if got := ledger["gke/"+clusterName]; got != (sim.Counts{Created: 1, Deleted: 1}) {
		t.Errorf("ledger for cluster = %+v", got)
	}
	if got := ledger["gke/"+poolName]; got != (sim.Counts{Created: 1, Mutated: 2, Deleted: 1}) {
		t.Errorf("ledger for pool = %+v", got)
	}
}

func TestFaults(t *testing.T) {
	s := start(t, sim.Timings{})
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()
	clusterName := parent + "/clusters/c1"

	// 429 with a retry hint: not retried by the client, details visible through apierror.
	if _, err := s.AddFault(sim.Fault{API: "gke", Method: "CreateCluster", Code: "RESOURCE_EXHAUSTED", RetryAfter: sim.Duration(3 * time.Second), Count: 1}); err != nil {
		t.Fatal(err)
	}
	req := &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 2}}
	_, err := c.CreateCluster(ctx, req)
	wantCode(t, err, codes.ResourceExhausted, "CreateCluster under quota fault")
	ae, ok := apierror.FromError(err)
	if !ok || ae.Reason() != "RATE_LIMIT_EXCEEDED" || ae.Details().RetryInfo.GetRetryDelay().AsDuration() != 3*time.Second {
		t.Fatalf("apierror details of %v: %+v", err, ae)
	}
	op, err := c.CreateCluster(ctx, req)
	mustOK(t, err, "CreateCluster after the fault")
	waitOp(t, c, op)
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster")
	if len(cl.NodePools) != 1 || cl.NodePools[0].Name != "default-pool" || cl.NodePools[0].InitialNodeCount != 2 {
		t.Errorf("initial_node_count did not make a default-pool of 2: %v", cl.NodePools)
	}

	// UNAVAILABLE on a read is retried by the GAPIC client: the call succeeds, the server saw 3 calls.
	f, err := s.AddFault(sim.Fault{API: "gke", Method: "GetCluster", Code: "UNAVAILABLE", Count: 2})
	mustOK(t, err, "AddFault")
	_, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
	mustOK(t, err, "GetCluster under 2×UNAVAILABLE")
	if fired := firedCount(s, f.ID); fired != 2 {
		t.Errorf("UNAVAILABLE fault fired %d times, want 2", fired)
	}

	// Mutations are not retried.
	f, err = s.AddFault(sim.Fault{API: "gke", Method: "SetNodePoolSize", Code: "UNAVAILABLE", Count: 1})
	mustOK(t, err, "AddFault")
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: clusterName + "/nodePools/default-pool", NodeCount: 0})
	wantCode(t, err, codes.Unavailable, "SetNodePoolSize under UNAVAILABLE")
	if fired := firedCount(s, f.ID); fired != 1 {
		t.Errorf("mutation fault fired %d times, want 1", fired)
	}

	// A failed operation: DONE with error and statusMessage, the cluster in ERROR, deletable.
	_, err = s.AddFault(sim.Fault{API: "gke", Method: "CreateCluster", FailOperation: true, Message: "Timed out waiting for cluster initialization.", Count: 1})
	mustOK(t, err, "AddFault")
	op, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "broken", InitialNodeCount: 1}})
	mustOK(t, err, "CreateCluster with failOperation")
	done, _ := waitOp(t, c, op)
	if done.Error == nil || done.Error.Message != "Timed out waiting for cluster initialization." || done.StatusMessage == "" {
		t.Fatalf("failed operation: error %v, statusMessage %q", done.Error, done.StatusMessage)
	}
	cl, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/broken"})
	mustOK(t, err, "GetCluster broken")
	if cl.Status != containerpb.Cluster_ERROR || cl.StatusMessage == "" {
		t.Errorf("failed cluster: %v %q", cl.Status, cl.StatusMessage)
	}
	if serving(s, "broken") {
		t.Error("Serving(broken) = true")
	}
	op, err = c.DeleteCluster(ctx, &containerpb.DeleteClusterRequest{Name: parent + "/clusters/broken"})
	mustOK(t, err, "DeleteCluster broken")
	if done, _ := waitOp(t, c, op); done.Error != nil {
		t.Errorf("delete of a failed cluster: %v", done.Error)
	}
}

func firedCount(s *sim.Sim, id int64) int {
	for _, f := range s.Faults() {
		if f.ID == id {
			return f.Fired
		}
	}
	return -1
}

func TestValidationAndProjects(t *testing.T) {
	s := start(t, sim.Timings{})
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()

	_, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Cluster: &containerpb.Cluster{Name: "c1"}})
	wantCode(t, err, codes.InvalidArgument, "CreateCluster without parent")
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "Bad_Name"}})
	wantCode(t, err, codes.InvalidArgument, "CreateCluster with a bad name")
	_, err = c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/nope"})
	wantCode(t, err, codes.NotFound, "GetCluster unknown")
	_, err = c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: parent + "/operations/operation-1-deadbeef"})
	wantCode(t, err, codes.NotFound, "GetOperation unknown")
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: parent + "/clusters/nope/nodePools/p", NodeCount: -1})
	wantCode(t, err, codes.InvalidArgument, "negative node count")

	// With a zero duration an operation is PENDING in the response and DONE on the next request.
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1"}})
	mustOK(t, err, "CreateCluster")
	if op.Status != containerpb.Operation_PENDING {
		t.Errorf("zero-duration op returned %v, want PENDING", op.Status)
	}
	if !opDone(t, c, op) {
		t.Error("zero-duration op not DONE on the next request")
	}

	// The deprecated project_id/zone/cluster_id fields address the same cluster.
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{ProjectId: project, Zone: location, ClusterId: "c1"})
	mustOK(t, err, "GetCluster by deprecated fields")
	if cl.Status != containerpb.Cluster_RUNNING || cl.NodePools[0].InitialNodeCount != 3 {
		t.Errorf("deprecated-field GetCluster: %v, pools %v", cl.Status, cl.NodePools)
	}

	// A project Resource Manager does not know is refused like Google's front end does.
	_, err = c.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/missing-project/locations/" + location})
	wantCode(t, err, codes.PermissionDenied, "ListClusters in a missing project")
	if ae, ok := apierror.FromError(err); !ok || ae.Reason() != "CONSUMER_INVALID" {
		t.Errorf("missing project error %v: want ErrorInfo reason CONSUMER_INVALID", err)
	}

	// Without a resourcemanager part, any project is accepted.
	s2 := start(t, sim.Timings{}, gke.New)
	c2 := newClient(t, s2)
	_, err = c2.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: "projects/anything/locations/europe-west1-b", Cluster: &containerpb.Cluster{Name: "c1"}})
	mustOK(t, err, "CreateCluster without resource manager")
}

// GKE runs operations of its own (auto-upgrade, auto-repair, add-on updates). A request that
// arrives during one is refused with FAILED_PRECONDITION "Cluster is running incompatible
// operation ..." and ErrorInfo reason CLUSTER_ALREADY_HAS_OPERATION; once it is done the request
// goes through. The rate is off by default.
func TestBackgroundOperations(t *testing.T) {
	s := start(t, sim.Timings{GKEOperation: sim.Duration(50 * time.Millisecond)})
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()
	clusterName := parent + "/clusters/c1"
	poolName := clusterName + "/nodePools/primary"
	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: "c1", NodePools: []*containerpb.NodePool{{Name: "primary", InitialNodeCount: 1}},
	}})
	mustOK(t, err, "CreateCluster")
	waitOp(t, c, op)

	func() { defer s.Lock()(); part(s).SetBackgroundOps(1) }()
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: poolName, NodeCount: 2})
	wantCode(t, err, codes.FailedPrecondition, "SetNodePoolSize during a background operation")
	ae, ok := apierror.FromError(err)
	if !ok || ae.Reason() != "CLUSTER_ALREADY_HAS_OPERATION" || ae.Domain() != "container.googleapis.com" {
		t.Fatalf("error details: %v", err)
	}
	msg := status.Convert(err).Message()
	if !strings.HasPrefix(msg, "Cluster is running incompatible operation operation-") || !strings.HasSuffix(msg, ".") {
		t.Fatalf("message %q", msg)
	}
	bgName := strings.TrimSuffix(strings.TrimPrefix(msg, "Cluster is running incompatible operation "), ".")

	// The operation is GKE's own: listed, of a type the client did not ask for, and it ends.
	func() { defer s.Lock()(); part(s).SetBackgroundOps(0) }()
	ops, err := c.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: parent})
	mustOK(t, err, "ListOperations")
	var bg *containerpb.Operation
	for _, o := range ops.Operations {
		if o.Name == bgName {
			bg = o
		}
	}
	if bg == nil || !slices.Contains([]containerpb.Operation_Type{containerpb.Operation_UPGRADE_MASTER, containerpb.Operation_AUTO_REPAIR_NODES, containerpb.Operation_UPDATE_CLUSTER}, bg.OperationType) {
		t.Fatalf("background operation %q not listed as GKE's own: %v", bgName, bg)
	}
	waitOp(t, c, bg)
	op, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: poolName, NodeCount: 2})
	mustOK(t, err, "SetNodePoolSize after the background operation")

	// A client's own operation in the way still gets the "is currently ... Please wait" form.
	_, err = c.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: poolName, NodeCount: 3})
	wantCode(t, err, codes.FailedPrecondition, "SetNodePoolSize during a resize")
	if msg := status.Convert(err).Message(); !strings.Contains(msg, "Operation "+op.Name+" is currently") || !strings.Contains(msg, "Please wait") {
		t.Fatalf("message %q", msg)
	}
}
