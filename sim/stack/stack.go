// Package stack assembles the whole simulated outside world: every API part on one simulator.
//
// It can also start from a fleet that already exists: SeedFleet, or POST /_sim/fleet with
// {"instances":[{"slug":"acme","version":"5.9.0"}, ...]}, makes instances as if the create workflow
// had made them long ago (config.yaml on the config repo's default branch, all in one commit;
// project, cluster, Cloud SQL, backup plan and DNS record in their final states) and already
// serving their version. Fields: slug and version (required), type (production), releaseChannel
// (stable), domain (<slug>.sourcegraphcloud.com), region (us-central1), size (small),
// maintenanceWindow {"days","startHour","hours"}, alerting (true), labels (metadata.labels). It
// answers 201 with the seeded instances and the commit, or 400 {"error","field"} naming the first
// bad or taken field, in which case nothing was seeded.
package stack

import (
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/cloudbilling"
	"github.com/sourcegraph/lifecycle/sim/cloudflare"
	"github.com/sourcegraph/lifecycle/sim/cloudsql"
	"github.com/sourcegraph/lifecycle/sim/compute"
	"github.com/sourcegraph/lifecycle/sim/github"
	"github.com/sourcegraph/lifecycle/sim/gke"
	"github.com/sourcegraph/lifecycle/sim/gkebackup"
	"github.com/sourcegraph/lifecycle/sim/instances"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
	"github.com/sourcegraph/lifecycle/sim/serviceusage"
)

// Parts are every simulated API, in registration order, with GitHub seeded by gh, and the fleet
// seeding endpoint.
func Parts(gh github.Options) []sim.PartFactory {
	return []sim.PartFactory{resourcemanager.New, cloudbilling.New, serviceusage.New, compute.New, gke.New, gkebackup.New, cloudsql.New, cloudflare.New, github.WithOptions(gh), instances.New, newFleetPart}
}

// Start runs a simulator with every part and GitHub's default seed.
func Start(cfg sim.Config) (*sim.Sim, error) { return StartWith(cfg, github.DefaultOptions()) }

// StartWith runs a simulator with every part and GitHub seeded by gh.
func StartWith(cfg sim.Config, gh github.Options) (*sim.Sim, error) {
	return sim.Start(cfg, Parts(gh)...)
}

// MakeUsable does in-process what the create workflow's billing and services steps do through
// the APIs: links the project to cloudbilling.SeededAccount and enables every API of
// serviceusage.KnownServices at once, without the propagation delay. For tests that create a
// project through Resource Manager and then call the other APIs in it.
func MakeUsable(s *sim.Sim, projectID string) {
	defer s.Lock()()
	s.ProjectSeeded(projectID)
}
