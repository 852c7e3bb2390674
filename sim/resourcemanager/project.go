package resourcemanager

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sourcegraph/lifecycle/sim"
)

// projectIDPattern is GCP's rule for project IDs: 6 to 30 characters, lowercase letters, digits and
// hyphens, starting with a letter and not ending with a hyphen.
var projectIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// errNoPermission is what v3 answers for a project that does not exist (or is not yet gettable):
// Resource Manager does not reveal whether a project ID exists to callers without access.
func errNoPermission() error {
	return status.Error(codes.PermissionDenied, "The caller does not have permission")
}

// projectFromName parses "projects/{project_id_or_number}" and finds the project, gettable or not.
func (p *Part) projectFromName(name string) (*project, error) {
	id, ok := strings.CutPrefix(name, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid project name %q: expected projects/{project_id_or_number}.", name)
	}
	pr := p.lookup(id)
	if pr == nil || !pr.ready || pr.purged {
		// A purged project is gone for good: answered as any project the caller cannot see.
		return nil, errNoPermission()
	}
	return pr, nil
}

func (p *Part) GetProject(_ context.Context, req *resourcemanagerpb.GetProjectRequest) (*resourcemanagerpb.Project, error) {
	defer p.s.Lock()()
	pr, err := p.projectFromName(req.GetName())
	if err != nil {
		return nil, err
	}
	return clone(pr.pb), nil
}

// CreateProject creates the project at once but keeps it invisible (not gettable, not accepted by
// other APIs) until the operation completes, after Timings.ProjectOperation; the operation's
// response is the ACTIVE project.
func (p *Part) CreateProject(ctx context.Context, req *resourcemanagerpb.CreateProjectRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	if req.GetProject() != nil && req.GetProject().GetParent() == "" {
		// The worker runs as a service account, and GCP refuses those a project without a parent
		// (only a user account may own a project outside an organisation).
		return nil, status.Error(codes.PermissionDenied, "Service accounts cannot create projects without a parent.")
	}
	now := p.s.Now()
	pr, err := p.newProject(req.GetProject(), now)
	if err != nil {
		return nil, err
	}
	id := pr.pb.ProjectId
	p.projects[id] = pr
	p.s.Created(Name, "projects/"+id)

	failMsg := sim.OperationFailure(ctx)
	meta := &resourcemanagerpb.CreateProjectMetadata{CreateTime: timestamppb.New(now)}
	return p.s.StartOperation("projects/"+id, meta, p.s.Timings().ProjectOperation.D(), "", func() (proto.Message, error) {
		if p.projects[id] != pr {
			return nil, status.Errorf(codes.Aborted, "Project %s was removed while it was being created.", id)
		}
		if failMsg != "" {
			// A failed creation leaves no project behind, so the ID can be used again.
			delete(p.projects, id)
			return nil, status.Error(codes.FailedPrecondition, failMsg)
		}
		pr.ready = true
		return clone(pr.pb), nil
	}), nil
}

// newProject validates a requested project and builds it ACTIVE but not yet ready, created at now.
// Lock held.
func (p *Part) newProject(in *resourcemanagerpb.Project, now time.Time) (*project, error) {
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Field [project] is required.")
	}
	id := in.GetProjectId()
	if !projectIDPattern.MatchString(id) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid project_id %q: a project ID has 6 to 30 lowercase letters, digits or hyphens, starts with a letter and does not end with a hyphen.", id)
	}
	if parent := in.GetParent(); parent != "" && !strings.HasPrefix(parent, "organizations/") && !strings.HasPrefix(parent, "folders/") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid parent %q: expected organizations/{id} or folders/{id}.", parent)
	}
	// A deleted project keeps its ID, in DELETE_REQUESTED and after its purge: GCP never lets an ID
	// be used again ("including deleted projects"), so a re-create with the same ID fails too.
	if _, exists := p.projects[id]; exists {
		return nil, status.Error(codes.AlreadyExists, "Requested entity already exists")
	}
	ts := timestamppb.New(now)
	number := strconv.FormatInt(100000000000+p.s.NextID(), 10)
	pb := &resourcemanagerpb.Project{
		Name:        "projects/" + number,
		Parent:      in.GetParent(),
		ProjectId:   id,
		State:       resourcemanagerpb.Project_ACTIVE,
		DisplayName: in.GetDisplayName(),
		CreateTime:  ts,
		UpdateTime:  ts,
		Labels:      in.GetLabels(),
	}
	if pb.DisplayName == "" {
		pb.DisplayName = id // GCP shows the ID when no display name is given
	}
	pr := &project{pb: pb, number: number}
	pr.rotateEtag(p.s)
	return pr, nil
}

// DeleteProject marks the project DELETE_REQUESTED at once, as GCP does, and purges it PurgeAfter
// later on the simulator's clock (POST /_sim/clock moves it): until then UndeleteProject restores
// it; after, it is gone and its ID stays taken. Other APIs stop accepting it immediately.
func (p *Part) DeleteProject(ctx context.Context, req *resourcemanagerpb.DeleteProjectRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	pr, err := p.projectFromName(req.GetName())
	if err != nil {
		return nil, err
	}
	if pr.pb.State != resourcemanagerpb.Project_ACTIVE {
		return nil, status.Errorf(codes.FailedPrecondition, "Project %s is not active (state %s); it cannot be deleted again.", pr.pb.ProjectId, pr.pb.State)
	}
	now := timestamppb.New(p.s.Now())
	pr.pb.State = resourcemanagerpb.Project_DELETE_REQUESTED
	pr.pb.DeleteTime = now
	pr.pb.UpdateTime = now
	pr.rotateEtag(p.s)
	p.s.Deleted(Name, "projects/"+pr.pb.ProjectId)
	deleted := pr.pb.DeleteTime
	p.s.After(PurgeAfter, func() {
		// Only the deletion that scheduled this purge: an undelete (and a later delete) replaces
		// DeleteTime.
		if pr.pb.State == resourcemanagerpb.Project_DELETE_REQUESTED && pr.pb.DeleteTime == deleted {
			pr.purged = true
		}
	})
	return p.projectOperation(ctx, pr, &resourcemanagerpb.DeleteProjectMetadata{}), nil
}

// UndeleteProject brings a DELETE_REQUESTED project back to ACTIVE, within PurgeAfter of its
// deletion; a purged project is not found (PERMISSION_DENIED, as for any project one cannot see).
func (p *Part) UndeleteProject(ctx context.Context, req *resourcemanagerpb.UndeleteProjectRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	pr, err := p.projectFromName(req.GetName())
	if err != nil {
		return nil, err
	}
	if pr.pb.State != resourcemanagerpb.Project_DELETE_REQUESTED {
		return nil, status.Errorf(codes.FailedPrecondition, "Project %s is not in state DELETE_REQUESTED (state %s); only deleted projects can be undeleted.", pr.pb.ProjectId, pr.pb.State)
	}
	pr.pb.State = resourcemanagerpb.Project_ACTIVE
	pr.pb.DeleteTime = nil
	pr.pb.UpdateTime = timestamppb.New(p.s.Now())
	pr.rotateEtag(p.s)
	p.s.Mutated(Name, "projects/"+pr.pb.ProjectId)
	return p.projectOperation(ctx, pr, &resourcemanagerpb.UndeleteProjectMetadata{}), nil
}

// projectOperation starts the operation of a state change that already happened; it completes with
// the project as it is then. A failOperation fault only makes the operation report an error.
func (p *Part) projectOperation(ctx context.Context, pr *project, meta proto.Message) *longrunningpb.Operation {
	id := pr.pb.ProjectId
	return p.s.StartOperation("projects/"+id, meta, p.s.Timings().ProjectOperation.D(), sim.OperationFailure(ctx), func() (proto.Message, error) {
		return clone(pr.pb), nil
	})
}

// ListProjects lists the direct children of an organization or folder.
func (p *Part) ListProjects(_ context.Context, req *resourcemanagerpb.ListProjectsRequest) (*resourcemanagerpb.ListProjectsResponse, error) {
	defer p.s.Lock()()
	parent := req.GetParent()
	if !strings.HasPrefix(parent, "organizations/") && !strings.HasPrefix(parent, "folders/") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid parent %q: expected organizations/{id} or folders/{id}.", parent)
	}
	var all []*resourcemanagerpb.Project
	for _, id := range sim.SortedKeys(p.projects) {
		pr := p.projects[id]
		if !pr.ready || pr.purged || pr.pb.Parent != parent {
			continue
		}
		if pr.pb.State != resourcemanagerpb.Project_ACTIVE && !req.GetShowDeleted() {
			continue
		}
		all = append(all, clone(pr.pb))
	}
	page, next, err := paginate(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &resourcemanagerpb.ListProjectsResponse{Projects: page, NextPageToken: next}, nil
}

// SearchProjects supports the query terms callers use in practice, ANDed: id:, projectId:, name:,
// displayName:, state:, parent: and labels.KEY: (values may be quoted; no wildcards).
func (p *Part) SearchProjects(_ context.Context, req *resourcemanagerpb.SearchProjectsRequest) (*resourcemanagerpb.SearchProjectsResponse, error) {
	defer p.s.Lock()()
	terms, err := parseQuery(req.GetQuery())
	if err != nil {
		return nil, err
	}
	var all []*resourcemanagerpb.Project
	for _, id := range sim.SortedKeys(p.projects) {
		pr := p.projects[id]
		if pr.ready && !pr.purged && matches(pr.pb, terms) {
			all = append(all, clone(pr.pb))
		}
	}
	page, next, err := paginate(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &resourcemanagerpb.SearchProjectsResponse{Projects: page, NextPageToken: next}, nil
}

type queryTerm struct{ key, value string }

func parseQuery(q string) ([]queryTerm, error) {
	var terms []queryTerm
	for _, f := range strings.Fields(q) {
		if strings.EqualFold(f, "AND") {
			continue
		}
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			k, v, ok = strings.Cut(f, "=")
		}
		k = strings.ToLower(k)
		known := k == "id" || k == "projectid" || k == "name" || k == "displayname" || k == "state" || k == "parent" || strings.HasPrefix(k, "labels.")
		if !ok || !known {
			return nil, status.Errorf(codes.InvalidArgument, "Unsupported query term %q (the simulator supports id:, projectId:, name:, displayName:, state:, parent:, labels.KEY:).", f)
		}
		terms = append(terms, queryTerm{key: k, value: strings.Trim(v, `"'`)})
	}
	return terms, nil
}

func matches(pb *resourcemanagerpb.Project, terms []queryTerm) bool {
	for _, t := range terms {
		var got string
		switch {
		case t.key == "id" || t.key == "projectid":
			got = pb.ProjectId
		case t.key == "name" || t.key == "displayname":
			got = pb.DisplayName
		case t.key == "state":
			got = pb.State.String()
		case t.key == "parent":
			got = pb.Parent
		default:
			got = pb.Labels[strings.TrimPrefix(t.key, "labels.")]
		}
		if !strings.EqualFold(got, t.value) {
			return false
		}
	}
	return true
}

// paginate serves a sorted listing page by page; the page token is the offset of the next page.
func paginate[T any](all []T, size int32, token string) ([]T, string, error) {
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(all) {
			return nil, "", status.Errorf(codes.InvalidArgument, "Invalid page token %q.", token)
		}
		start = n
	}
	end := len(all)
	if size > 0 && start+int(size) < end {
		end = start + int(size)
	}
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

// rotateEtag gives the project a new etag; every change does, so read-modify-write callers notice.
func (pr *project) rotateEtag(s *sim.Sim) {
	pr.pb.Etag = fmt.Sprintf(`W/"%08x"`, uint32(s.NextID()*2654435761))
}
