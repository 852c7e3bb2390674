package resourcemanager

import (
	"time"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
)

// ProjectExists reports whether the project ID is taken, in any state: a deleted project keeps its
// ID. Lock held.
func (p *Part) ProjectExists(id string) bool {
	_, ok := p.projects[id]
	return ok
}

// SeedProject adds an ACTIVE, ready project as if its creation had finished at created, with no
// operation left behind: for fleets that existed before the simulator started. It validates like
// CreateProject (a parent is not required: seeding is not a service account's call), and the
// other parts are told (sim.ProjectSeeder) so its billing and APIs are ready too. Lock held.
func (p *Part) SeedProject(in *resourcemanagerpb.Project, created time.Time) error {
	pr, err := p.newProject(in, created)
	if err != nil {
		return err
	}
	pr.ready = true
	p.projects[pr.pb.ProjectId] = pr
	p.s.Created(Name, "projects/"+pr.pb.ProjectId)
	// A project that existed before the simulator started was made usable back then: billing
	// linked, APIs enabled.
	p.s.ProjectSeeded(pr.pb.ProjectId)
	return nil
}
