package activities

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
)

// projectsFixture starts the simulator and returns Projects activities polling fast.
func projectsFixture(t *testing.T) (*sim.Sim, *Projects, string) {
	t.Helper()
	s := startSim(t)
	p, err := NewProjects(context.Background(), cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.PollInterval = 10 * time.Millisecond
	p.Parent = "folders/123"
	return s, p, spec.ProjectID("acme")
}

func projectsInput(id string) EnsureProjectInput {
	return EnsureProjectInput{ProjectID: id, DisplayName: "Sourcegraph acme", Labels: map[string]string{"instance": "acme"}}
}

func TestProjectsEnsureTwiceCreatesOnce(t *testing.T) {
	s, p, id := projectsFixture(t)
	env := activityEnv(p)
	var first ProjectResult
	for i := 0; i < 2; i++ {
		v, err := env.ExecuteActivity(p.EnsureProject, projectsInput(id))
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		var res ProjectResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		if res.ProjectID != id || res.State != "ACTIVE" || res.Parent != "folders/123" || !strings.HasPrefix(res.Name, "projects/") {
			t.Fatalf("run %d: %+v", i, res)
		}
		if i == 0 {
			first = res
		} else if res != first {
			t.Fatalf("second run returned %+v, first %+v", res, first)
		}
	}
	if c := ledger(s, "resourcemanager/projects/"+id); c.Created != 1 || c.Mutated != 0 || c.Deleted != 0 {
		t.Fatalf("ledger %+v, want created once", c)
	}
}

func TestProjectsTransientErrorsAreRetried(t *testing.T) {
	for _, f := range []sim.Fault{
		{API: "resourcemanager", Method: "CreateProject", Code: "UNAVAILABLE", Count: 2},
		{API: "resourcemanager", Method: "CreateProject", Code: "RESOURCE_EXHAUSTED", RetryAfter: sim.Duration(20 * time.Millisecond), Count: 2},
	} {
		t.Run(f.Code, func(t *testing.T) {
			s, p, id := projectsFixture(t)
			fired := addFault(t, s, f)
			var res ProjectResult
			if err := runWithRetries(t, p, p.EnsureProject, projectsInput(id), &res); err != nil {
				t.Fatal(err)
			}
			if res.State != "ACTIVE" {
				t.Fatalf("result %+v", res)
			}
			if n := fired(); n != 2 {
				t.Fatalf("fault fired %d times, want 2", n)
			}
			if c := ledger(s, "resourcemanager/projects/"+id); c.Created != 1 {
				t.Fatalf("ledger %+v", c)
			}
		})
	}
}

func TestProjectsPermanentErrors(t *testing.T) {
	cases := []struct {
		fault sim.Fault
		typ   string
		fix   string
	}{
		{sim.Fault{API: "resourcemanager", Method: "CreateProject", Code: "PERMISSION_DENIED", Message: "The caller does not have permission"},
			ErrPermissionDenied, "service account roles"},
		{sim.Fault{API: "resourcemanager", Method: "CreateProject", Code: "INVALID_ARGUMENT", Message: "Invalid parent."},
			ErrInvalidArgument, "fix the input"},
		{sim.Fault{API: "resourcemanager", Method: "CreateProject", FailOperation: true, Message: "Billing account for project is not found."},
			ErrOperationFailed, "billing account"},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			s, p, id := projectsFixture(t)
			addFault(t, s, tc.fault)
			_, err := activityEnv(p).ExecuteActivity(p.EnsureProject, projectsInput(id))
			ae := appError(t, err, tc.typ, true)
			if !strings.Contains(ae.Error(), tc.fault.Message) || !strings.Contains(ae.Error(), tc.fix) {
				t.Fatalf("message %q should carry the cause and %q", ae.Error(), tc.fix)
			}
		})
	}
}

func TestProjectsDeletedProjectNeedsAHuman(t *testing.T) {
	s, p, id := projectsFixture(t)
	env := activityEnv(p)
	if _, err := env.ExecuteActivity(p.EnsureProject, projectsInput(id)); err != nil {
		t.Fatal(err)
	}
	for i, wantGone := range []bool{false, true} {
		v, err := env.ExecuteActivity(p.DeleteProject, DeleteProjectInput{ProjectID: id})
		if err != nil {
			t.Fatalf("delete %d: %v", i, err)
		}
		var r DeleteProjectResult
		if err := v.Get(&r); err != nil || r.AlreadyGone != wantGone || r.State != "DELETE_REQUESTED" {
			t.Fatalf("delete %d: %+v, %v", i, r, err)
		}
	}
	if c := ledger(s, "resourcemanager/projects/"+id); c.Created != 1 || c.Deleted != 1 {
		t.Fatalf("ledger %+v, want one create and one delete", c)
	}
	_, err := env.ExecuteActivity(p.EnsureProject, projectsInput(id))
	ae := appError(t, err, ErrConflict, true)
	for _, want := range []string{"DELETE_REQUESTED", "undelete", "new random project ID"} {
		if !strings.Contains(ae.Error(), want) {
			t.Fatalf("message %q lacks %q", ae.Error(), want)
		}
	}
	// A project that never existed is gone already.
	v, err := env.ExecuteActivity(p.DeleteProject, DeleteProjectInput{ProjectID: spec.ProjectID("never")})
	var r DeleteProjectResult
	if err != nil || v.Get(&r) != nil || !r.AlreadyGone {
		t.Fatalf("delete of a missing project: %+v, %v", r, err)
	}
}

// A project purged 30 days after its deletion keeps its ID: a create of that ID finds it taken (get
// denied, create ALREADY_EXISTS), which no retry can change, so it parks with what to do.
func TestProjectsPurgedIDIsTakenForGood(t *testing.T) {
	s, p, id := projectsFixture(t)
	env := activityEnv(p)
	if _, err := env.ExecuteActivity(p.EnsureProject, projectsInput(id)); err != nil {
		t.Fatal(err)
	}
	before := s.Now()
	v, err := env.ExecuteActivity(p.DeleteProject, DeleteProjectInput{ProjectID: id})
	var r DeleteProjectResult
	if err != nil || v.Get(&r) != nil || r.DeleteTime.Before(before.Add(-time.Second)) || r.DeleteTime.After(s.Now()) {
		t.Fatalf("delete: %+v, %v; want the deletion time GCP recorded", r, err)
	}
	if _, err := s.Advance(31 * 24 * time.Hour); err != nil {
		t.Fatal(err)
	}
	_, err = env.ExecuteActivity(p.EnsureProject, projectsInput(id))
	ae := appError(t, err, ErrConflict, true)
	for _, want := range []string{"taken", "abort this create", "new random project ID"} {
		if !strings.Contains(ae.Error(), want) {
			t.Fatalf("message %q lacks %q", ae.Error(), want)
		}
	}
}

// projectsHeartbeats records the operation names an activity heartbeats.
type projectsHeartbeats struct {
	mu  sync.Mutex
	ops []string
}

func (h *projectsHeartbeats) listen(_ *activity.Info, d converter.EncodedValues) {
	var p lroProgress
	if d.HasValues() && d.Get(&p) == nil && p.Operation != "" {
		h.mu.Lock()
		h.ops = append(h.ops, p.Operation)
		h.mu.Unlock()
	}
}

func (h *projectsHeartbeats) first() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ops) == 0 {
		return ""
	}
	return h.ops[0]
}

func TestProjectsEnsureResumesFromHeartbeat(t *testing.T) {
	s, p, id := projectsFixture(t)
	s.SetTimings(sim.Timings{ProjectOperation: sim.Duration(300 * time.Millisecond)})
	creates := addFault(t, s, sim.Fault{API: "resourcemanager", Method: "CreateProject", Latency: sim.Duration(time.Nanosecond)})
	addFault(t, s, sim.Fault{API: "longrunning", Method: "GetOperation", Code: "INTERNAL", Count: 1})

	var hb projectsHeartbeats
	env := activityEnv(p)
	env.SetOnActivityHeartbeatListener(hb.listen)
	_, err := env.ExecuteActivity(p.EnsureProject, projectsInput(id))
	appError(t, err, ErrTransient, false)
	op := hb.first()
	if !strings.HasPrefix(op, "projects/"+id+"/operations/") {
		t.Fatalf("heartbeat operation %q", op)
	}

	polls := addFault(t, s, sim.Fault{API: "longrunning", Method: "GetOperation", Match: op, Latency: sim.Duration(time.Nanosecond)})
	env2 := activityEnv(p)
	env2.SetHeartbeatDetails(lroProgress{Operation: op})
	v, err := env2.ExecuteActivity(p.EnsureProject, projectsInput(id))
	if err != nil {
		t.Fatal(err)
	}
	var res ProjectResult
	if err := v.Get(&res); err != nil || res.State != "ACTIVE" {
		t.Fatalf("%+v, %v", res, err)
	}
	if n := creates(); n != 1 {
		t.Fatalf("CreateProject called %d times, want 1", n)
	}
	if polls() == 0 {
		t.Fatalf("the resumed attempt did not poll %s", op)
	}
}
