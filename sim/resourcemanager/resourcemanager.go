// Package resourcemanager simulates Cloud Resource Manager v3 Projects
// (google.cloud.resourcemanager.v3.Projects) over gRPC, for the real
// cloud.google.com/go/resourcemanager/apiv3 client.
//
// It is also the simulator's notion of "which projects exist": when this part is present, the GKE and
// Backup for GKE parts reject requests for projects that are not ACTIVE (CheckProject), the way Google's
// API front end rejects calls whose consumer project does not exist or is being deleted. Without this
// part any project is accepted, so tests of a single API need no project setup.
package resourcemanager

import (
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sourcegraph/lifecycle/sim"
)

// Name is the part's name in fault rules, the ledger and the state dump.
const Name = "resourcemanager"

// Part is the simulated Projects service.
type Part struct {
	resourcemanagerpb.UnimplementedProjectsServer
	s *sim.Sim

	// projects by project ID. A project stays here after DeleteProject (state DELETE_REQUESTED) and
	// after its purge PurgeAfter later: in GCP a project ID can never be used again, "including
	// deleted projects".
	projects map[string]*project
}

// project is one project plus what the API does not show as a field.
type project struct {
	pb *resourcemanagerpb.Project
	// ready is false while CreateProject's operation runs: the project is not gettable yet, and other
	// APIs do not accept it (CreateProjectMetadata.gettable/ready in the real API).
	ready bool
	// number is the numeric project number (pb.Name is "projects/<number>").
	number string
	// purged is set PurgeAfter after the deletion: the project is gone for everyone (get, undelete
	// and list do not see it), but its ID stays taken (create answers ALREADY_EXISTS).
	purged bool
}

// PurgeAfter is how long a deleted project stays in DELETE_REQUESTED, restorable with
// projects.undelete, before GCP deletes it for good ("after 30 days", v3 DeleteProject).
const PurgeAfter = 30 * 24 * time.Hour

// New builds the part.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s}
	p.Reset()
	return p
}

func (p *Part) Name() string        { return Name }
func (p *Part) Routes(*sim.Routes)  {}
func (p *Part) GRPC(g *grpc.Server) { resourcemanagerpb.RegisterProjectsServer(g, p) }

// Reset drops every project. Lock held.
func (p *Part) Reset() { p.projects = map[string]*project{} }

// ProjectView is one project in the state dump.
type ProjectView struct {
	ProjectID   string `json:"projectId"`
	Name        string `json:"name"`
	Parent      string `json:"parent,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	State       string `json:"state"`
	Ready       bool   `json:"ready"`
	// DeleteTime is when the project was deleted; PurgeTime when it is (or was) purged, after which
	// Purged is set: it is gone for good and its ID can never be used again.
	DeleteTime *time.Time        `json:"deleteTime,omitempty"`
	PurgeTime  *time.Time        `json:"purgeTime,omitempty"`
	Purged     bool              `json:"purged,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// Snapshot lists the projects. Lock held.
func (p *Part) Snapshot() any {
	out := make([]ProjectView, 0, len(p.projects))
	for _, id := range sim.SortedKeys(p.projects) {
		pr := p.projects[id]
		v := ProjectView{
			ProjectID: id, Name: pr.pb.Name, Parent: pr.pb.Parent, DisplayName: pr.pb.DisplayName,
			State: pr.pb.State.String(), Ready: pr.ready, Labels: pr.pb.Labels, Purged: pr.purged,
		}
		if dt := pr.pb.GetDeleteTime(); dt != nil {
			d, pt := dt.AsTime(), dt.AsTime().Add(PurgeAfter)
			v.DeleteTime, v.PurgeTime = &d, &pt
		}
		out = append(out, v)
	}
	return map[string]any{"projects": out}
}

// ProjectActive reports whether the project (by ID or number) exists, finished creating and is
// ACTIVE. Call with the sim lock held.
func (p *Part) ProjectActive(idOrNumber string) bool {
	pr := p.lookup(idOrNumber)
	return pr != nil && pr.ready && !pr.purged && pr.pb.State == resourcemanagerpb.Project_ACTIVE
}

// lookup finds a project by ID or by number (v3 accepts both in "projects/{project_id_or_number}").
func (p *Part) lookup(idOrNumber string) *project {
	if pr, ok := p.projects[idOrNumber]; ok {
		return pr
	}
	if _, err := strconv.ParseUint(idOrNumber, 10, 64); err != nil {
		return nil // project IDs start with a letter, so this cannot be a number
	}
	for _, pr := range p.projects {
		if pr.number == idOrNumber {
			return pr
		}
	}
	return nil
}

// CheckProject is what the GKE and Backup for GKE parts call first on every request: nil when no
// resourcemanager part is present (any project is accepted) or the project is ACTIVE with the
// service enabled (checkService); otherwise the
// error Google's API front end gives for a consumer project that does not exist, is still being
// created or is being deleted: PERMISSION_DENIED "Permission denied on resource project P." with an
// ErrorInfo of reason CONSUMER_INVALID. The front end deliberately does not distinguish "missing"
// from "not yours", hence not NOT_FOUND. service is e.g. "container.googleapis.com". Lock held.
func CheckProject(s *sim.Sim, service, project string) error {
	p, _ := s.Part(Name).(*Part)
	if p == nil || p.ProjectActive(project) {
		return checkService(s, service, project)
	}
	st := status.New(codes.PermissionDenied, fmt.Sprintf("Permission denied on resource project %s.", project))
	if d, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason:   "CONSUMER_INVALID",
		Domain:   "googleapis.com",
		Metadata: map[string]string{"consumer": "projects/" + project, "service": service},
	}); err == nil {
		st = d
	}
	return st.Err()
}

// ProjectIdentity returns a project's ID and number, given either (v3 names accept both), and
// whether it exists. Lock held.
func (p *Part) ProjectIdentity(idOrNumber string) (id, number string, ok bool) {
	pr := p.lookup(idOrNumber)
	if pr == nil {
		return "", "", false
	}
	return pr.pb.ProjectId, pr.number, true
}

// checkService answers like Google's API front end when the API is not enabled in the consumer
// project (or was enabled too recently to have propagated): PERMISSION_DENIED "<API title> has not
// been used in project N before or it is disabled. ...", with a Help link and an ErrorInfo of
// reason SERVICE_DISABLED, domain googleapis.com, metadata service and consumer. nil when no
// serviceusage part is present. Lock held.
func checkService(s *sim.Sim, service, project string) error {
	msg, number, disabled := s.ServiceDisabled(service, project)
	if !disabled {
		return nil
	}
	st := status.New(codes.PermissionDenied, msg)
	if d, err := st.WithDetails(
		&errdetails.Help{Links: []*errdetails.Help_Link{{Description: "Google developers console API activation", Url: sim.ActivationURL(service, number)}}},
		&errdetails.ErrorInfo{Reason: "SERVICE_DISABLED", Domain: "googleapis.com",
			Metadata: map[string]string{"consumer": "projects/" + number, "service": service}},
	); err == nil {
		st = d
	}
	return st.Err()
}

// clone returns a copy safe to hand to gRPC (handlers must never return stored messages: the server
// marshals them after the lock is released).
func clone(pb *resourcemanagerpb.Project) *resourcemanagerpb.Project {
	return proto.Clone(pb).(*resourcemanagerpb.Project)
}
