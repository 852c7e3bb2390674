package activities

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	compute "google.golang.org/api/compute/v1"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	simgke "github.com/sourcegraph/lifecycle/sim/gke"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

const gkeTestSlug = "acme"

// gkeFixture starts the simulator with the instance's project in place and returns GKE activities
// polling fast.
func gkeFixture(t *testing.T) (*sim.Sim, *GKE, spec.GCPStatus) {
	t.Helper()
	return gkeFixtureAt(t, gkeTestSlug, "us-central1")
}

// gkeFixtureAt is gkeFixture for an instance's slug and region.
func gkeFixtureAt(t *testing.T, slug, region string) (*sim.Sim, *GKE, spec.GCPStatus) {
	t.Helper()
	s := startSim(t)
	ctx := context.Background()
	st := spec.StatusFor(slug, region).GCP
	p, err := NewProjects(ctx, cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.PollInterval = 10 * time.Millisecond
	if _, err := p.EnsureProject(ctx, EnsureProjectInput{ProjectID: st.ProjectID}); err != nil {
		t.Fatalf("EnsureProject: %v", err)
	}
	stack.MakeUsable(s, st.ProjectID)
	g, err := NewGKE(ctx, cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	g.PollInterval = 10 * time.Millisecond
	return s, g, st
}

func gkeEnsureInput(st spec.GCPStatus, size spec.Size) EnsureClusterInput {
	return EnsureClusterInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: st.NodePool, Size: size,
		Labels: map[string]string{"instance": gkeTestSlug}}
}

func gkeClusterKey(st spec.GCPStatus) string {
	return "gke/projects/" + st.ProjectID + "/locations/" + st.Region + "/clusters/" + st.Cluster
}

func TestGKEEnsureClusterTwiceCreatesOnce(t *testing.T) {
	s, g, st := gkeFixture(t)
	env := activityEnv(g)
	for i := 0; i < 2; i++ {
		v, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var res ClusterResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		// small means 2 nodes: 1 in each of the pool's 3 zones, 3 in all.
		if res.Status != "RUNNING" || res.MachineType != "n2-highmem-4" || res.PoolPerZone != 1 || res.PoolZones != 3 || res.PoolSize != 3 || res.NodeCount != 3 {
			t.Fatalf("run %d: unexpected cluster %+v", i, res)
		}
	}
	if c := ledger(s, gkeClusterKey(st)); c.Created != 1 || c.Mutated != 0 || c.Deleted != 0 {
		t.Fatalf("cluster ledger %+v, want created once and nothing else", c)
	}
	if c := ledger(s, gkeClusterKey(st)+"/nodePools/"+st.NodePool); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("node pool ledger %+v, want created once", c)
	}

	// GetCluster reports what is there, and a missing cluster without an error.
	v, err := env.ExecuteActivity(g.GetCluster, GetClusterInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: st.NodePool})
	if err != nil {
		t.Fatal(err)
	}
	var got ClusterResult
	if err := v.Get(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Exists || got.Status != "RUNNING" || got.PoolSize != 3 {
		t.Fatalf("GetCluster = %+v", got)
	}
	v, err = env.ExecuteActivity(g.GetCluster, GetClusterInput{Project: st.ProjectID, Region: st.Region, Cluster: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Get(&got); err != nil || got.Exists {
		t.Fatalf("GetCluster(missing) = %+v, %v; want Exists=false", got, err)
	}
}

func TestGKEEnsureClusterOtherSizeIsConflict(t *testing.T) {
	_, g, st := gkeFixture(t)
	env := activityEnv(g)
	if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	_, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Medium))
	ae := appError(t, err, ErrConflict, true)
	for _, want := range []string{"n2-highmem-4", "n2-highmem-8", "What to do"} {
		if !strings.Contains(ae.Error(), want) {
			t.Fatalf("message %q lacks %q", ae.Error(), want)
		}
	}
	_, err = env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, "huge"))
	appError(t, err, ErrInvalidArgument, true)
}

func TestGKETransientErrorsAreRetried(t *testing.T) {
	for _, f := range []sim.Fault{
		{API: "gke", Method: "CreateCluster", Code: "UNAVAILABLE", Count: 2},
		{API: "gke", Method: "CreateCluster", Code: "RESOURCE_EXHAUSTED", RetryAfter: sim.Duration(20 * time.Millisecond), Count: 2},
	} {
		t.Run(f.Code, func(t *testing.T) {
			s, g, st := gkeFixture(t)
			fired := addFault(t, s, f)
			var res ClusterResult
			if err := runWithRetries(t, g, g.EnsureCluster, gkeEnsureInput(st, spec.Small), &res); err != nil {
				t.Fatalf("EnsureCluster with retries: %v", err)
			}
			if res.Status != "RUNNING" {
				t.Fatalf("cluster %+v", res)
			}
			if n := fired(); n != 2 {
				t.Fatalf("fault fired %d times, want 2", n)
			}
			if c := ledger(s, gkeClusterKey(st)); c.Created != 1 {
				t.Fatalf("ledger %+v, want one create", c)
			}
		})
	}
}

func TestGKERateLimitCarriesRetryAfter(t *testing.T) {
	s, g, st := gkeFixture(t)
	addFault(t, s, sim.Fault{API: "gke", Method: "CreateCluster", Code: "RESOURCE_EXHAUSTED", RetryAfter: sim.Duration(7 * time.Second), Count: 1})
	_, err := activityEnv(g).ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
	ae := appError(t, err, ErrRateLimited, false)
	if ae.NextRetryDelay() != 7*time.Second {
		t.Fatalf("NextRetryDelay = %v, want the server's 7s", ae.NextRetryDelay())
	}
}

func TestGKEPermanentErrors(t *testing.T) {
	cases := []struct {
		fault   sim.Fault
		typ     string
		wantMsg string
	}{
		{sim.Fault{API: "gke", Method: "CreateCluster", Code: "PERMISSION_DENIED",
			Message: `Insufficient regional quota to satisfy request: resource "CPUS": request requires '12.0' and is short '4.0'.`},
			ErrQuotaExceeded, "quota increase"},
		{sim.Fault{API: "gke", Method: "CreateCluster", Code: "INVALID_ARGUMENT", Message: "Invalid value for field 'cluster.network'."},
			ErrInvalidArgument, "fix the input"},
		{sim.Fault{API: "gke", Method: "CreateCluster", Code: "PERMISSION_DENIED", Message: "Required 'container.clusters.create' permission."},
			ErrPermissionDenied, "service account roles"},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			s, g, st := gkeFixture(t)
			addFault(t, s, tc.fault)
			_, err := activityEnv(g).ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
			ae := appError(t, err, tc.typ, true)
			if !strings.Contains(ae.Error(), tc.wantMsg) || !strings.Contains(ae.Error(), tc.fault.Message) {
				t.Fatalf("message %q should carry the cause and %q", ae.Error(), tc.wantMsg)
			}
			if c := ledger(s, gkeClusterKey(st)); c.Created != 0 {
				t.Fatalf("ledger %+v, want nothing created", c)
			}
		})
	}
}

func TestGKEFailedOperation(t *testing.T) {
	s, g, st := gkeFixture(t)
	addFault(t, s, sim.Fault{API: "gke", Method: "CreateCluster", FailOperation: true, Count: 1,
		Message: "Timed out waiting for cluster initialization."})
	env := activityEnv(g)
	_, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
	ae := appError(t, err, ErrOperationFailed, true)
	for _, want := range []string{"operations/operation-", "CREATE_CLUSTER", "Timed out waiting for cluster initialization", "DeleteCluster"} {
		if !strings.Contains(ae.Error(), want) {
			t.Fatalf("message %q lacks %q", ae.Error(), want)
		}
	}
	// The cluster is left in ERROR: a re-run says so (and how to fix it) instead of creating again.
	_, err = env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
	ae = appError(t, err, ErrPrecondition, true)
	if !strings.Contains(ae.Error(), "ERROR") || !strings.Contains(ae.Error(), "delete the cluster") {
		t.Fatalf("message %q", ae.Error())
	}
	// Following the fix works: delete, then ensure creates it again.
	if _, err := env.ExecuteActivity(g.DeleteCluster, DeleteClusterInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	if c := ledger(s, gkeClusterKey(st)); c.Created != 2 || c.Deleted != 1 {
		t.Fatalf("ledger %+v, want created, deleted, created", c)
	}
}

func TestGKEResizeNodePool(t *testing.T) {
	s, g, st := gkeFixture(t)
	env := activityEnv(g)
	if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	poolKey := gkeClusterKey(st) + "/nodePools/" + st.NodePool
	resize := func(n int32) ResizeNodePoolResult {
		t.Helper()
		v, err := env.ExecuteActivity(g.ResizeNodePool, ResizeNodePoolInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: st.NodePool, NodeCount: n})
		if err != nil {
			t.Fatalf("resize to %d: %v", n, err)
		}
		var r ResizeNodePoolResult
		if err := v.Get(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := resize(0); r.Operation == "" || r.NodeCount != 0 {
		t.Fatalf("suspend: %+v, want an operation", r)
	}
	if r := resize(0); r.Operation != "" {
		t.Fatalf("second suspend ran operation %s; want none", r.Operation)
	}
	if c := ledger(s, poolKey); c.Mutated != 1 {
		t.Fatalf("pool ledger %+v, want one mutation for two suspends", c)
	}
	v, err := env.ExecuteActivity(g.GetCluster, GetClusterInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: st.NodePool})
	if err != nil {
		t.Fatal(err)
	}
	var got ClusterResult
	if err := v.Get(&got); err != nil || got.PoolSize != 0 || got.NodeCount != 0 {
		t.Fatalf("suspended cluster %+v, %v", got, err)
	}
	// Re-running create on a suspended instance leaves it suspended.
	if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	shape, _ := NodePoolFor(spec.Small)
	if r := resize(shape.NodeCount); r.NodeCount != 2 || r.PerZone != 1 || r.Nodes != 3 || r.Operation == "" {
		t.Fatalf("resume: %+v, want 1 per zone (3 nodes) for a total of 2", r)
	}
	if raw := gkeRawPool(t, g, st); raw.GetInitialNodeCount() != 1 {
		t.Fatalf("GKE was sent node_count %d, want the per-zone 1", raw.GetInitialNodeCount())
	}
	if c := ledger(s, poolKey); c.Mutated != 2 {
		t.Fatalf("pool ledger %+v, want two mutations", c)
	}

	_, err = env.ExecuteActivity(g.ResizeNodePool, ResizeNodePoolInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: "nope", NodeCount: 1})
	appError(t, err, ErrNotFound, true)
}

func TestGKEBusyClusterIsRetryable(t *testing.T) {
	s, g, st := gkeFixture(t)
	env := activityEnv(g)
	if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	s.SetTimings(sim.Timings{GKEOperation: sim.Duration(time.Second)})
	pool := gkeClusterKey(st)[len("gke/"):] + "/nodePools/" + st.NodePool
	if _, err := g.client.SetNodePoolSize(context.Background(), &containerpb.SetNodePoolSizeRequest{Name: pool, NodeCount: 2}); err != nil {
		t.Fatal(err)
	}
	_, err := env.ExecuteActivity(g.ResizeNodePool, ResizeNodePoolInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: st.NodePool, NodeCount: 0})
	ae := appError(t, err, ErrBusy, false)
	if !strings.Contains(ae.Error(), "Please wait and try again") {
		t.Fatalf("message %q", ae.Error())
	}
}

// GKE's own operations (auto-upgrade, auto-repair) refuse ours with "Cluster is running
// incompatible operation" and reason CLUSTER_ALREADY_HAS_OPERATION: that is Busy, retried.
func TestGKEBackgroundOperationIsBusy(t *testing.T) {
	s, g, st := gkeFixture(t)
	env := activityEnv(g)
	if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	func() { defer s.Lock()(); s.Part(simgke.Name).(*simgke.Part).SetBackgroundOps(1) }()
	_, err := env.ExecuteActivity(g.ResizeNodePool, ResizeNodePoolInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: st.NodePool, NodeCount: 0})
	ae := appError(t, err, ErrBusy, false)
	if !strings.Contains(ae.Error(), "incompatible operation") {
		t.Fatalf("message %q", ae.Error())
	}
}

func TestGKEDeleteClusterTwice(t *testing.T) {
	s, g, st := gkeFixture(t)
	env := activityEnv(g)
	if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	in := DeleteClusterInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster}
	for i, wantGone := range []bool{false, true} {
		v, err := env.ExecuteActivity(g.DeleteCluster, in)
		if err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
		var r DeleteClusterResult
		if err := v.Get(&r); err != nil || r.AlreadyGone != wantGone {
			t.Fatalf("delete %d: %+v, %v; want AlreadyGone=%v", i, r, err, wantGone)
		}
	}
	if c := ledger(s, gkeClusterKey(st)); c.Created != 1 || c.Deleted != 1 {
		t.Fatalf("ledger %+v, want one create and one delete", c)
	}
}

// gkeHeartbeatRecorder captures the details of the first heartbeat an activity sends.
type gkeHeartbeatRecorder struct {
	mu      sync.Mutex
	details *gkeProgress
}

func (r *gkeHeartbeatRecorder) listen(_ *activity.Info, d converter.EncodedValues) {
	var p gkeProgress
	if d.HasValues() && d.Get(&p) == nil && p.Operation != "" {
		r.mu.Lock()
		if r.details == nil {
			r.details = &p
		}
		r.mu.Unlock()
	}
}

func (r *gkeHeartbeatRecorder) get() *gkeProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.details
}

// A worker that loses the activity while GKE creates the cluster: the retry gets the heartbeat
// details and keeps polling the same operation, without a second CreateCluster.
func TestGKEEnsureClusterResumesFromHeartbeat(t *testing.T) {
	s, g, st := gkeFixture(t)
	s.SetTimings(sim.Timings{GKEOperation: sim.Duration(300 * time.Millisecond)})
	creates := countCalls(t, s, "gke", "CreateCluster", "")
	// The first attempt dies while polling (INTERNAL is not retried by the client).
	addFault(t, s, sim.Fault{API: "gke", Method: "GetOperation", Code: "INTERNAL", Count: 1})

	var rec gkeHeartbeatRecorder
	env := activityEnv(g)
	env.SetOnActivityHeartbeatListener(rec.listen)
	_, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
	appError(t, err, ErrTransient, false)
	d := rec.get()
	if d == nil || !strings.HasPrefix(d.Operation, "operation-") {
		t.Fatalf("first attempt heartbeat %+v, want the operation name", d)
	}

	// The retry: same input, the recorded details. It must poll that operation.
	polls := countCalls(t, s, "gke", "GetOperation", d.Operation)
	env2 := activityEnv(g)
	env2.SetHeartbeatDetails(*d)
	v, err := env2.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
	if err != nil {
		t.Fatalf("resumed attempt: %v", err)
	}
	var res ClusterResult
	if err := v.Get(&res); err != nil || res.Status != "RUNNING" {
		t.Fatalf("resumed attempt: %+v, %v", res, err)
	}
	if n := creates(); n != 1 {
		t.Fatalf("CreateCluster called %d times, want 1", n)
	}
	if n := polls(); n == 0 {
		t.Fatalf("the resumed attempt did not poll operation %s", d.Operation)
	}
	if c := ledger(s, gkeClusterKey(st)); c.Created != 1 {
		t.Fatalf("ledger %+v, want one create", c)
	}
}

// The same under Temporal's retry policy: the server hands the last heartbeat to the next attempt.
func TestGKEResizeResumesAcrossRetries(t *testing.T) {
	s, g, st := gkeFixture(t)
	if _, err := g.EnsureCluster(context.Background(), gkeEnsureInput(st, spec.Small)); err != nil {
		t.Fatal(err)
	}
	s.SetTimings(sim.Timings{GKEOperation: sim.Duration(200 * time.Millisecond)})
	resizes := countCalls(t, s, "gke", "SetNodePoolSize", "")
	addFault(t, s, sim.Fault{API: "gke", Method: "GetOperation", Code: "INTERNAL", Count: 1})
	var res ResizeNodePoolResult
	in := ResizeNodePoolInput{Project: st.ProjectID, Region: st.Region, Cluster: st.Cluster, NodePool: st.NodePool, NodeCount: 0}
	if err := runWithRetries(t, g, g.ResizeNodePool, in, &res); err != nil {
		t.Fatal(err)
	}
	if n := resizes(); n != 1 {
		t.Fatalf("SetNodePoolSize called %d times, want 1 (the retry resumes)", n)
	}
	if res.Operation == "" || res.NodeCount != 0 {
		t.Fatalf("result %+v", res)
	}
	if c := ledger(s, gkeClusterKey(st)+"/nodePools/"+st.NodePool); c.Mutated != 1 {
		t.Fatalf("pool ledger %+v, want one mutation", c)
	}
}

// gkeRawPool reads the instance's node pool as GKE reports it.
func gkeRawPool(t *testing.T, g *GKE, st spec.GCPStatus) *containerpb.NodePool {
	t.Helper()
	np, err := g.client.GetNodePool(context.Background(), &containerpb.GetNodePoolRequest{Name: gkeClusterKey(st)[len("gke/"):] + "/nodePools/" + st.NodePool})
	if err != nil {
		t.Fatal(err)
	}
	return np
}

// NodesPerZone rounds a total up over the zones: every zone of a regional pool gets the same count.
func TestNodesPerZone(t *testing.T) {
	for _, c := range []struct {
		total int32
		zones int
		want  int32
	}{{0, 3, 0}, {1, 3, 1}, {2, 3, 1}, {3, 3, 1}, {4, 3, 2}, {6, 3, 2}, {7, 3, 3}, {4, 1, 4}, {4, 0, 4}} {
		if got := NodesPerZone(c.total, c.zones); got != c.want {
			t.Errorf("NodesPerZone(%d, %d) = %d, want %d", c.total, c.zones, got, c.want)
		}
	}
}

// A project whose regional CPUS quota is too small for the tier: GKE refuses the create at once
// with PERMISSION_DENIED; the activity says which quota and how to fix it, and does not retry.
func TestGKEQuotaShortfallIsPermanent(t *testing.T) {
	_, g, st := gkeFixture(t)
	env := activityEnv(g)
	// large: 4 nodes → 2 per zone × 3 zones × 16 vCPUs = 96, over a new project's 24.
	_, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Large))
	ae := appError(t, err, ErrQuotaExceeded, true)
	for _, want := range []string{"CPUS", "region us-central1", "request requires '96.0'", "request a quota increase", st.ProjectID} {
		if !strings.Contains(ae.Error(), want) {
			t.Fatalf("message %q lacks %q", ae.Error(), want)
		}
	}
}

// The create makes the cluster's own VPC network and subnetwork first (new projects often have no
// "default" network), puts the cluster on them with the Backup for GKE agent enabled, and a
// re-run makes neither again.
func TestGKEEnsureClusterMakesItsNetwork(t *testing.T) {
	s, g, st := gkeFixture(t)
	env := activityEnv(g)
	for i := 0; i < 2; i++ {
		if _, err := env.ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small)); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	raw, err := g.client.GetCluster(context.Background(), &containerpb.GetClusterRequest{Name: gkeClusterKey(st)[len("gke/"):]})
	if err != nil {
		t.Fatal(err)
	}
	if raw.Network != spec.NetworkName || raw.Subnetwork != spec.SubnetworkName || !raw.GetAddonsConfig().GetGkeBackupAgentConfig().GetEnabled() {
		t.Fatalf("cluster network %q subnetwork %q addons %v", raw.Network, raw.Subnetwork, raw.AddonsConfig)
	}
	for _, key := range []string{
		"compute/projects/" + st.ProjectID + "/global/networks/" + spec.NetworkName,
		"compute/projects/" + st.ProjectID + "/regions/" + st.Region + "/subnetworks/" + spec.SubnetworkName,
	} {
		if c := ledger(s, key); c.Created != 1 {
			t.Errorf("%s ledger %+v, want created once over two runs", key, c)
		}
	}
}

// A subnetwork of our name with another range was not made by us: a conflict to look at, not
// something to overwrite.
func TestGKEEnsureNetworkForeignSubnetworkIsConflict(t *testing.T) {
	_, g, st := gkeFixture(t)
	ctx := context.Background()
	if _, err := g.compute.Networks.Insert(st.ProjectID, &compute.Network{Name: spec.NetworkName}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.compute.Subnetworks.Insert(st.ProjectID, st.Region, &compute.Subnetwork{Name: spec.SubnetworkName,
		Network: "projects/" + st.ProjectID + "/global/networks/" + spec.NetworkName, IpCidrRange: "192.168.0.0/24"}).Context(ctx).Do(); err != nil {
		t.Fatal(err)
	}
	_, err := activityEnv(g).ExecuteActivity(g.EnsureCluster, gkeEnsureInput(st, spec.Small))
	ae := appError(t, err, ErrConflict, true)
	if !strings.Contains(ae.Error(), "192.168.0.0/24") {
		t.Fatalf("message %q", ae.Error())
	}
}
