package compute_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	rm "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	computev1 "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/compute"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

const project = "proj-net-test"

func start(t *testing.T) *computev1.Service {
	t.Helper()
	s, err := sim.Start(sim.Config{}, resourcemanager.New, compute.New)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	pc, err := rm.NewProjectsClient(ctx, option.WithEndpoint(s.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	op, err := pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: project, Parent: "folders/123"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	cs, err := computev1.NewService(ctx, option.WithEndpoint(s.URL()+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func wantAPIError(t *testing.T, err error, code int, reason, message string) {
	t.Helper()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != code || len(ge.Errors) == 0 || ge.Errors[0].Reason != reason || ge.Message != message {
		t.Fatalf("got %v, want %d %s %q", err, code, reason, message)
	}
}

// Networks and subnetworks through the real compute/v1 client: inserts answer DONE operations that
// globalOperations.get / regionOperations.get find; duplicates are 409 alreadyExists, missing ones
// 404 notFound, and a subnetwork on a missing network is 404 for the network.
func TestNetworksAndSubnetworks(t *testing.T) {
	cs := start(t)
	netPath := "projects/" + project + "/global/networks/vpc"
	_, err := cs.Networks.Get(project, "default").Do()
	wantAPIError(t, err, http.StatusNotFound, "notFound", "The resource 'projects/"+project+"/global/networks/default' was not found")

	_, err = cs.Subnetworks.Insert(project, "us-central1", &computev1.Subnetwork{Name: "nodes", Network: netPath, IpCidrRange: "10.0.0.0/20"}).Do()
	wantAPIError(t, err, http.StatusNotFound, "notFound", "The resource '"+netPath+"' was not found")

	op, err := cs.Networks.Insert(project, &computev1.Network{Name: "vpc", ForceSendFields: []string{"AutoCreateSubnetworks"}}).Do()
	if err != nil || op.OperationType != "insert" {
		t.Fatalf("networks.insert: %v %+v", err, op)
	}
	got, err := cs.GlobalOperations.Get(project, op.Name).Do()
	if err != nil || got.Status != "DONE" || got.TargetLink == "" {
		t.Fatalf("globalOperations.get: %v %+v", err, got)
	}
	_, err = cs.Networks.Insert(project, &computev1.Network{Name: "vpc"}).Do()
	wantAPIError(t, err, http.StatusConflict, "alreadyExists", "The resource '"+netPath+"' already exists")

	op, err = cs.Subnetworks.Insert(project, "us-central1", &computev1.Subnetwork{Name: "nodes", Network: netPath, IpCidrRange: "10.0.0.0/20"}).Do()
	if err != nil {
		t.Fatalf("subnetworks.insert: %v", err)
	}
	if got, err := cs.RegionOperations.Get(project, "us-central1", op.Name).Do(); err != nil || got.Status != "DONE" {
		t.Fatalf("regionOperations.get: %v %+v", err, got)
	}
	sn, err := cs.Subnetworks.Get(project, "us-central1", "nodes").Do()
	if err != nil || sn.IpCidrRange != "10.0.0.0/20" {
		t.Fatalf("subnetworks.get: %v %+v", err, sn)
	}
	_, err = cs.Subnetworks.Insert(project, "us-central1", &computev1.Subnetwork{Name: "nodes2", Network: netPath}).Do()
	wantAPIError(t, err, http.StatusBadRequest, "required", "Required field 'resource.ipCidrRange' not specified")
}
