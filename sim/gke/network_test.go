package gke_test

import (
	"context"
	"testing"

	"cloud.google.com/go/container/apiv1/containerpb"
	computev1 "google.golang.org/api/compute/v1"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/compute"
	"github.com/sourcegraph/lifecycle/sim/gke"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

// A new project has no "default" network (the organisation policy most organisations set): GKE
// refuses a cluster on it at once with INVALID_ARGUMENT; on a network the project has, and with the
// Backup for GKE agent add-on asked for, the cluster is created with both.
func TestClusterNeedsItsNetwork(t *testing.T) {
	s := start(t, sim.Timings{}, resourcemanager.New, compute.New, gke.New)
	createProject(t, s, project)
	c := newClient(t, s)
	ctx := context.Background()

	_, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1}})
	wantCode(t, err, codes.InvalidArgument, "CreateCluster on the missing default network")
	if msg, want := status.Convert(err).Message(), `Project "`+project+`" has no network named "default".`; msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
	_, err = c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1, Network: "vpc"}})
	wantCode(t, err, codes.InvalidArgument, "CreateCluster on a missing named network")

	cs, err := computev1.NewService(ctx, option.WithEndpoint(s.URL()+"/compute/v1/"), option.WithoutAuthentication())
	mustOK(t, err, "compute client")
	_, err = cs.Networks.Insert(project, &computev1.Network{Name: "vpc", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do()
	mustOK(t, err, "networks.insert")
	_, err = cs.Subnetworks.Insert(project, location, &computev1.Subnetwork{Name: "nodes", Network: "projects/" + project + "/global/networks/vpc", IpCidrRange: "10.0.0.0/20"}).Do()
	mustOK(t, err, "subnetworks.insert")

	op, err := c.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: "c1", InitialNodeCount: 1, Network: "vpc", Subnetwork: "nodes",
		AddonsConfig: &containerpb.AddonsConfig{GkeBackupAgentConfig: &containerpb.GkeBackupAgentConfig{Enabled: true}},
	}})
	mustOK(t, err, "CreateCluster on the project's network")
	waitOp(t, c, op)
	cl, err := c.GetCluster(ctx, &containerpb.GetClusterRequest{Name: parent + "/clusters/c1"})
	mustOK(t, err, "GetCluster")
	if cl.Network != "vpc" || cl.Subnetwork != "nodes" || !cl.GetAddonsConfig().GetGkeBackupAgentConfig().GetEnabled() {
		t.Fatalf("cluster network %q subnetwork %q addons %v", cl.Network, cl.Subnetwork, cl.AddonsConfig)
	}
}

// With -default-network every project has "default", and a cluster that names no network uses it.
func TestDefaultNetworkWhenConfigured(t *testing.T) {
	s, err := sim.Start(sim.Config{DefaultNetwork: true}, resourcemanager.New, compute.New, gke.New)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	createProject(t, s, project)
	c := newClient(t, s)
	op, err := c.CreateCluster(context.Background(), &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{Name: "c1", InitialNodeCount: 1}})
	mustOK(t, err, "CreateCluster on the default network")
	waitOp(t, c, op)
}
