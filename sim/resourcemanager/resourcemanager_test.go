package resourcemanager_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	rm "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/api/iterator"
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

func setup(t *testing.T, timings sim.Timings) (*sim.Sim, *rm.ProjectsClient, *container.ClusterManagerClient) {
	t.Helper()
	ctx := context.Background()
	s, err := sim.Start(sim.Config{Timings: timings}, gke.New, gkebackup.New, resourcemanager.New)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	opts := []option.ClientOption{
		option.WithEndpoint(s.GRPCAddr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
	pc, err := rm.NewProjectsClient(ctx, opts...)
	mustOK(t, err, "NewProjectsClient")
	t.Cleanup(func() { pc.Close() })
	cm, err := container.NewClusterManagerClient(ctx, opts...)
	mustOK(t, err, "NewClusterManagerClient")
	t.Cleanup(func() { cm.Close() })
	return s, pc, cm
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

func active(s *sim.Sim, id string) bool {
	defer s.Lock()()
	return s.Part(resourcemanager.Name).(*resourcemanager.Part).ProjectActive(id)
}

func TestProjectLifecycle(t *testing.T) {
	s, pc, cm := setup(t, sim.Timings{ProjectOperation: sim.Duration(300 * time.Millisecond)})
	ctx := context.Background()
	const id = "tenant-acme"
	clusters := &containerpb.ListClustersRequest{Parent: "projects/" + id + "/locations/-"}

	// GKE refuses a project Resource Manager does not know.
	_, err := cm.ListClusters(ctx, clusters)
	wantCode(t, err, codes.PermissionDenied, "ListClusters before the project exists")

	op, err := pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{
		ProjectId: id, Parent: "folders/123", DisplayName: "Acme", Labels: map[string]string{"tier": "production"},
	}})
	mustOK(t, err, "CreateProject")
	if op.Done() || !strings.HasPrefix(op.Name(), "projects/"+id+"/operations/") {
		t.Errorf("create operation %q done=%v, want a pending operation", op.Name(), op.Done())
	}
	if _, err := op.Metadata(); err != nil {
		t.Errorf("CreateProject metadata: %v", err)
	}
	// Until the operation completes the project is neither gettable nor usable.
	_, getErr := pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + id})
	activeEarly := active(s, id)
	if _, err := op.Poll(ctx); err == nil && !op.Done() {
		wantCode(t, getErr, codes.PermissionDenied, "GetProject while creating")
		if activeEarly {
			t.Error("ProjectActive while creating = true")
		}
	}
	_, err = pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: id, Parent: "folders/123"}})
	wantCode(t, err, codes.AlreadyExists, "duplicate CreateProject")

	var p *resourcemanagerpb.Project
	for deadline := time.Now().Add(10 * time.Second); !op.Done(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("CreateProject did not complete")
		}
		p, err = op.Poll(ctx)
		mustOK(t, err, "CreateProject poll")
	}
	if p.State != resourcemanagerpb.Project_ACTIVE || p.ProjectId != id || !strings.HasPrefix(p.Name, "projects/") || p.DisplayName != "Acme" {
		t.Fatalf("created project: %v", p)
	}
	if !active(s, id) {
		t.Error("ProjectActive after create = false")
	}
	byNumber, err := pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: p.Name})
	mustOK(t, err, "GetProject by number")
	byID, err := pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + id})
	mustOK(t, err, "GetProject by ID")
	if byNumber.ProjectId != id || byID.Name != p.Name {
		t.Errorf("by number %v, by ID %v", byNumber, byID)
	}
	_, err = cm.ListClusters(ctx, clusters)
	mustOK(t, err, "ListClusters in an ACTIVE project")

	it := pc.SearchProjects(ctx, &resourcemanagerpb.SearchProjectsRequest{Query: "labels.tier:production state:ACTIVE"})
	if got, err := it.Next(); err != nil || got.ProjectId != id {
		t.Errorf("SearchProjects: %v %v", got, err)
	}
	lit := pc.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: "folders/123"})
	if got, err := lit.Next(); err != nil || got.ProjectId != id {
		t.Errorf("ListProjects: %v %v", got, err)
	}

	// Delete: DELETE_REQUESTED at once, other APIs refuse it, the ID cannot be reused.
	s.SetTimings(sim.Timings{})
	dop, err := pc.DeleteProject(ctx, &resourcemanagerpb.DeleteProjectRequest{Name: "projects/" + id})
	mustOK(t, err, "DeleteProject")
	deleted, err := dop.Wait(ctx)
	mustOK(t, err, "DeleteProject wait")
	if deleted.State != resourcemanagerpb.Project_DELETE_REQUESTED || deleted.DeleteTime == nil {
		t.Errorf("deleted project: %v", deleted)
	}
	_, err = cm.ListClusters(ctx, clusters)
	wantCode(t, err, codes.PermissionDenied, "ListClusters in a deleted project")
	_, err = pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: id, Parent: "folders/123"}})
	wantCode(t, err, codes.AlreadyExists, "re-create a deleted project ID")
	_, err = pc.DeleteProject(ctx, &resourcemanagerpb.DeleteProjectRequest{Name: "projects/" + id})
	wantCode(t, err, codes.FailedPrecondition, "delete a deleted project")
	lit = pc.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: "folders/123"})
	if _, err := lit.Next(); err != iterator.Done {
		t.Errorf("ListProjects without show_deleted lists the deleted project (%v)", err)
	}

	uop, err := pc.UndeleteProject(ctx, &resourcemanagerpb.UndeleteProjectRequest{Name: "projects/" + id})
	mustOK(t, err, "UndeleteProject")
	restored, err := uop.Wait(ctx)
	mustOK(t, err, "UndeleteProject wait")
	if restored.State != resourcemanagerpb.Project_ACTIVE || restored.DeleteTime != nil {
		t.Errorf("undeleted project: %v", restored)
	}
	_, err = cm.ListClusters(ctx, clusters)
	mustOK(t, err, "ListClusters after undelete")

	dump, err := json.Marshal(s.Snapshot()[resourcemanager.Name])
	mustOK(t, err, "marshal snapshot")
	if !strings.Contains(string(dump), `"projectId":"`+id+`"`) {
		t.Errorf("snapshot = %s", dump)
	}
	ledger := s.Ledger()
	if got := ledger["resourcemanager/projects/"+id]; got != (sim.Counts{Created: 1, Mutated: 1, Deleted: 1}) {
		t.Errorf("ledger = %+v", got)
	}
}

func TestProjectErrorsAndFaults(t *testing.T) {
	s, pc, _ := setup(t, sim.Timings{})
	ctx := context.Background()

	_, err := pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: "Bad_ID", Parent: "folders/123"}})
	wantCode(t, err, codes.InvalidArgument, "CreateProject with an invalid ID")
	_, err = pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/never-created"})
	wantCode(t, err, codes.PermissionDenied, "GetProject unknown")
	_, err = pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "never-created"})
	wantCode(t, err, codes.InvalidArgument, "GetProject malformed name")

	// A failed creation leaves no project, so the ID can be used again.
	_, err = s.AddFault(sim.Fault{API: "resourcemanager", Method: "CreateProject", FailOperation: true, Message: "billing account closed", Count: 1})
	mustOK(t, err, "AddFault")
	op, err := pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: "tenant-fail", Parent: "folders/123"}})
	mustOK(t, err, "CreateProject")
	_, err = op.Wait(ctx)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "billing account closed") {
		t.Fatalf("failed CreateProject wait: %v", err)
	}
	op, err = pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: "tenant-fail", Parent: "folders/123"}})
	mustOK(t, err, "CreateProject again")
	_, err = op.Wait(ctx)
	mustOK(t, err, "CreateProject again wait")

	// UNAVAILABLE on GetProject is retried by the client.
	f, err := s.AddFault(sim.Fault{API: "resourcemanager", Method: "GetProject", Code: "UNAVAILABLE", Count: 2})
	mustOK(t, err, "AddFault")
	_, err = pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/tenant-fail"})
	mustOK(t, err, "GetProject under 2×UNAVAILABLE")
	for _, got := range s.Faults() {
		if got.ID == f.ID && got.Fired != 2 {
			t.Errorf("UNAVAILABLE fault fired %d times, want 2", got.Fired)
		}
	}
}
