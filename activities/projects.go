package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sourcegraph/lifecycle/internal/config"
)

// Projects manages the instance's dedicated GCP project through Resource Manager v3.
type Projects struct {
	client *resourcemanager.ProjectsClient
	// Parent is where new projects go, "folders/123" or "organizations/456" (GCP_PROJECT_PARENT);
	// empty: no parent, which GCP allows user accounts only, never a service account.
	Parent string
	// PollInterval is how often operations are polled (DefaultPollInterval when zero).
	PollInterval time.Duration
}

// NewProjects connects to Resource Manager (or the simulator, per config.Cloud) with Application
// Default Credentials.
func NewProjects(ctx context.Context, c config.Cloud) (*Projects, error) {
	cl, err := resourcemanager.NewProjectsClient(ctx, GCPOptions(c)...)
	if err != nil {
		return nil, fmt.Errorf("Resource Manager client: %w", err)
	}
	return &Projects{client: cl, Parent: c.ProjectParent}, nil
}

// Close releases the client's connections.
// Close releases the client (no return value, so it is not an activity).
func (p *Projects) Close() { p.client.Close() }

// EnsureProjectInput is the project an instance needs; ProjectID is the one its create chose
// (spec.NewProjectID), or spec.ProjectID(slug) for creates from before that.
type EnsureProjectInput struct {
	ProjectID   string            `json:"projectId"`
	DisplayName string            `json:"displayName,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// ProjectResult is a project as the workflows see it.
type ProjectResult struct {
	ProjectID string `json:"projectId"`
	Name      string `json:"name"` // projects/<number>
	State     string `json:"state"`
	Parent    string `json:"parent,omitempty"`
}

func projectResult(pr *resourcemanagerpb.Project) ProjectResult {
	return ProjectResult{ProjectID: pr.GetProjectId(), Name: pr.GetName(), State: pr.GetState().String(), Parent: pr.GetParent()}
}

// EnsureProject creates the project, or accepts it if it is already ACTIVE. Project IDs are global
// and stay reserved for ~30 days after deletion, so a deleted project is a human decision.
func (p *Projects) EnsureProject(ctx context.Context, in EnsureProjectInput) (ProjectResult, error) {
	what := "ensure GCP project " + in.ProjectID
	if in.ProjectID == "" {
		return ProjectResult{}, Permanent(ErrInvalidArgument, what+": no project ID given", "pass spec.ProjectID(slug)", nil)
	}
	if d, ok := resumeDetails[lroProgress](ctx); ok && d.Operation != "" {
		op := p.client.CreateProjectOperation(d.Operation)
		err := waitLongRunning(ctx, p.PollInterval, "create GCP project "+in.ProjectID, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, projectsOpFix)
		if err != nil && !errors.Is(err, errLROGone) {
			return ProjectResult{}, err
		}
	}
	for round := 0; round < 3; round++ {
		pr, err := p.client.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + in.ProjectID})
		switch {
		case err == nil:
			switch pr.GetState() {
			case resourcemanagerpb.Project_ACTIVE:
				return projectResult(pr), nil
			case resourcemanagerpb.Project_DELETE_REQUESTED:
				return ProjectResult{}, Permanent(ErrConflict,
					fmt.Sprintf("%s: the project exists but was deleted (DELETE_REQUESTED since %s); its ID cannot be reused until GCP purges it", what, pr.GetDeleteTime().AsTime().UTC().Format(time.RFC3339)),
					fmt.Sprintf("undelete it within 30 days of deletion (gcloud projects undelete %s) and retry, or abort this create and file a new request: a new create chooses a new random project ID", in.ProjectID), nil)
			default:
				return ProjectResult{}, Transient(ErrBusy, fmt.Sprintf("%s: project is in state %s", what, pr.GetState()), nil, 0)
			}
		case status.Code(err) == codes.PermissionDenied || status.Code(err) == codes.NotFound:
			// Resource Manager answers PERMISSION_DENIED for IDs that do not exist (it does not tell
			// callers which IDs exist), so this is the "not there yet" case: create it.
			res, created, err := p.createProject(ctx, in)
			if err != nil || created {
				return res, err
			}
		default:
			return ProjectResult{}, classify(what, err)
		}
	}
	return ProjectResult{}, Transient(ErrBusy, what+": the project kept changing while being ensured; retrying", nil, 0)
}

func (p *Projects) createProject(ctx context.Context, in EnsureProjectInput) (ProjectResult, bool, error) {
	what := "create GCP project " + in.ProjectID
	op, err := p.client.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{
		ProjectId: in.ProjectID, DisplayName: in.DisplayName, Labels: in.Labels, Parent: p.Parent,
	}})
	if status.Code(err) == codes.AlreadyExists {
		// It exists but we cannot read it (GetProject was denied just before): the ID is taken,
		// by another organisation or by a project deleted long ago; GCP never frees a project ID,
		// not even after the purge. Retrying the same ID cannot help, and the ID is already in
		// config.yaml, so this parks. (An earlier attempt of this very step whose operation a
		// worker crash lost would also read this way for the minute the create takes: hence the
		// one retry the fix allows.)
		return ProjectResult{}, false, Permanent(ErrConflict,
			what+": the project ID is taken (it exists, but this worker may not read it): another organisation owns it, or it belonged to a deleted project, and GCP never lets an ID be used again",
			"abort this create (its undo removes config.yaml) and file a new request: a new create chooses a new random project ID. "+
				"Only if a worker crashed while this step was creating the project, retry once after a minute first", err)
	}
	if err != nil {
		return ProjectResult{}, false, classify(what, err)
	}
	if err := waitLongRunning(ctx, p.PollInterval, what, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, projectsOpFix); err != nil {
		if errors.Is(err, errLROGone) {
			return ProjectResult{}, false, nil // re-read the project
		}
		return ProjectResult{}, false, err
	}
	pr, err := op.Poll(ctx) // done: decodes the response without another call
	if err != nil || pr == nil {
		return ProjectResult{}, false, nil
	}
	return projectResult(pr), true, nil
}

const projectsOpFix = "read the message (billing account, org policy or project quota are common causes), fix it, then retry the step"

// DeleteProjectInput names the project to delete.
type DeleteProjectInput struct {
	ProjectID string `json:"projectId"`
}

// DeleteProjectResult says whether this call deleted it or it was already gone, and when GCP
// recorded the deletion (zero when the project could not be read at all): the 30 days in which it
// can be undeleted run from DeleteTime.
type DeleteProjectResult struct {
	ProjectID   string    `json:"projectId"`
	AlreadyGone bool      `json:"alreadyGone"`
	State       string    `json:"state,omitempty"`
	DeleteTime  time.Time `json:"deleteTime,omitzero"`
}

// DeleteProject shuts the project down (DELETE_REQUESTED: GCP purges it after ~30 days, and until
// then it can be undeleted). A project already deleted or no longer visible is success:
// Resource Manager does not distinguish "gone" from "not ours".
func (p *Projects) DeleteProject(ctx context.Context, in DeleteProjectInput) (DeleteProjectResult, error) {
	what := "delete GCP project " + in.ProjectID
	res := DeleteProjectResult{ProjectID: in.ProjectID}
	if in.ProjectID == "" {
		return res, Permanent(ErrInvalidArgument, what+": no project ID given", "pass spec.ProjectID(slug)", nil)
	}
	if d, ok := resumeDetails[lroProgress](ctx); ok && d.Operation != "" {
		op := p.client.DeleteProjectOperation(d.Operation)
		err := waitLongRunning(ctx, p.PollInterval, what, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, projectsOpFix)
		if err != nil && !errors.Is(err, errLROGone) {
			return res, err
		}
	}
	pr, err := p.client.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + in.ProjectID})
	if c := status.Code(err); c == codes.PermissionDenied || c == codes.NotFound {
		res.AlreadyGone = true
		return res, nil
	}
	if err != nil {
		return res, classify(what, err)
	}
	if pr.GetState() == resourcemanagerpb.Project_DELETE_REQUESTED {
		res.AlreadyGone, res.State = true, pr.GetState().String()
		if dt := pr.GetDeleteTime(); dt != nil {
			res.DeleteTime = dt.AsTime().UTC()
		}
		return res, nil
	}
	op, err := p.client.DeleteProject(ctx, &resourcemanagerpb.DeleteProjectRequest{Name: "projects/" + in.ProjectID})
	if err != nil {
		return res, classify(what, err)
	}
	if err := waitLongRunning(ctx, p.PollInterval, what, op, func(ctx context.Context) error { _, err := op.Poll(ctx); return err }, projectsOpFix); err != nil && !errors.Is(err, errLROGone) {
		return res, err
	}
	res.State = resourcemanagerpb.Project_DELETE_REQUESTED.String()
	// The deletion time as GCP recorded it: read back, since the operation's response may be gone.
	if pr, err := p.client.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + in.ProjectID}); err == nil && pr.GetDeleteTime() != nil {
		res.DeleteTime = pr.GetDeleteTime().AsTime().UTC()
	}
	return res, nil
}
