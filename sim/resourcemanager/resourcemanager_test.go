package resourcemanager_test

import (
	"context"
	"encoding/json"
	"net/http"
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

// A deleted project can be undeleted for 30 days; on day 31 it is purged: gone for every caller,
// and its ID can never be used again. The test moves the simulator's clock through its admin API.
func TestProjectPurgedAfter30Days(t *testing.T) {
	s, pc, _ := setup(t, sim.Timings{ProjectOperation: sim.Duration(10 * time.Millisecond)})
	ctx := context.Background()
	create := func(id string) error {
		op, err := pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: id, Parent: "folders/1"}})
		if err != nil {
			return err
		}
		_, err = op.Wait(ctx)
		return err
	}
	del := func(id string) {
		op, err := pc.DeleteProject(ctx, &resourcemanagerpb.DeleteProjectRequest{Name: "projects/" + id})
		mustOK(t, err, "DeleteProject "+id)
		_, err = op.Wait(ctx)
		mustOK(t, err, "DeleteProject wait "+id)
	}
	advance := func(d string) {
		resp, err := http.Post(s.URL()+"/_sim/clock", "application/json", strings.NewReader(`{"advance":"`+d+`"}`))
		mustOK(t, err, "POST /_sim/clock")
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST /_sim/clock %s: %s", d, resp.Status)
		}
	}

	// Within the window: the ID is still taken, and undelete brings the project back.
	mustOK(t, create("tenant-undo"), "create tenant-undo")
	del("tenant-undo")
	wantCode(t, create("tenant-undo"), codes.AlreadyExists, "re-create while DELETE_REQUESTED")
	advance("719h")
	op, err := pc.UndeleteProject(ctx, &resourcemanagerpb.UndeleteProjectRequest{Name: "projects/tenant-undo"})
	mustOK(t, err, "UndeleteProject on day 30")
	pr, err := op.Wait(ctx)
	mustOK(t, err, "UndeleteProject wait")
	if pr.GetState() != resourcemanagerpb.Project_ACTIVE || !active(s, "tenant-undo") {
		t.Fatalf("undeleted project: state %v, want ACTIVE", pr.GetState())
	}

	// Past the window: purged. Get and undelete are denied as for any project one cannot see;
	// create still says the ID exists; listings do not show it, even with showDeleted.
	mustOK(t, create("tenant-gone"), "create tenant-gone")
	del("tenant-gone")
	advance("720h")
	_, err = pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/tenant-gone"})
	wantCode(t, err, codes.PermissionDenied, "GetProject of a purged project")
	_, err = pc.UndeleteProject(ctx, &resourcemanagerpb.UndeleteProjectRequest{Name: "projects/tenant-gone"})
	wantCode(t, err, codes.PermissionDenied, "UndeleteProject of a purged project")
	wantCode(t, create("tenant-gone"), codes.AlreadyExists, "re-create of a purged project's ID")
	it := pc.ListProjects(ctx, &resourcemanagerpb.ListProjectsRequest{Parent: "folders/1", ShowDeleted: true})
	for {
		p, err := it.Next()
		if err == iterator.Done {
			break
		}
		mustOK(t, err, "ListProjects")
		if p.GetProjectId() == "tenant-gone" {
			t.Fatal("ListProjects shows a purged project")
		}
	}
	// The undeleted project is untouched by the clock.
	if !active(s, "tenant-undo") {
		t.Fatal("the undeleted project was purged")
	}
	// The state dump says when and that it was purged.
	var st struct {
		Resourcemanager struct {
			Projects []resourcemanager.ProjectView `json:"projects"`
		} `json:"resourcemanager"`
	}
	resp, err := http.Get(s.URL() + "/_sim/state")
	mustOK(t, err, "GET /_sim/state")
	defer resp.Body.Close()
	mustOK(t, json.NewDecoder(resp.Body).Decode(&st), "decode state")
	found := false
	for _, v := range st.Resourcemanager.Projects {
		found = found || v.ProjectID == "tenant-gone"
		if v.ProjectID == "tenant-gone" && (!v.Purged || v.PurgeTime == nil || v.DeleteTime == nil || !v.PurgeTime.Equal(v.DeleteTime.Add(resourcemanager.PurgeAfter))) {
			t.Fatalf("state of the purged project: %+v", v)
		}
	}
	if !found {
		t.Fatal("GET /_sim/state does not list the purged project")
	}
	// The clock never goes back.
	resp2, err := http.Post(s.URL()+"/_sim/clock", "application/json", strings.NewReader(`{"advance":"-1h"}`))
	mustOK(t, err, "POST /_sim/clock back")
	resp2.Body.Close()
	if resp2.StatusCode != 400 {
		t.Fatalf("POST /_sim/clock -1h: %s, want 400", resp2.Status)
	}
	// A test sharing the simulator sets it back when done; what happened meanwhile stays.
	req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/_sim/clock", nil)
	resp3, err := http.DefaultClient.Do(req)
	mustOK(t, err, "DELETE /_sim/clock")
	resp3.Body.Close()
	if d := time.Until(s.Now()); resp3.StatusCode != 200 || d > time.Minute {
		t.Fatalf("DELETE /_sim/clock: %s, clock still %s ahead", resp3.Status, d)
	}
	_, err = pc.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/tenant-gone"})
	wantCode(t, err, codes.PermissionDenied, "GetProject of a purged project after the rewind")
}
