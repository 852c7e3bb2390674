// Package stack assembles the whole simulated outside world: every API part on one simulator.
package stack

import (
	"github.com/sourcegraph/lifecycle/internal/sim"
	"github.com/sourcegraph/lifecycle/internal/sim/cloudflare"
	"github.com/sourcegraph/lifecycle/internal/sim/cloudsql"
	"github.com/sourcegraph/lifecycle/internal/sim/github"
	"github.com/sourcegraph/lifecycle/internal/sim/gke"
	"github.com/sourcegraph/lifecycle/internal/sim/gkebackup"
	"github.com/sourcegraph/lifecycle/internal/sim/instances"
	"github.com/sourcegraph/lifecycle/internal/sim/resourcemanager"
)

// Parts are every simulated API, in registration order, with GitHub seeded by gh.
func Parts(gh github.Options) []sim.PartFactory {
	return []sim.PartFactory{resourcemanager.New, gke.New, gkebackup.New, cloudsql.New, cloudflare.New, github.WithOptions(gh), instances.New}
}

// Start runs a simulator with every part and GitHub's default seed.
func Start(cfg sim.Config) (*sim.Sim, error) { return StartWith(cfg, github.DefaultOptions()) }

// StartWith runs a simulator with every part and GitHub seeded by gh.
func StartWith(cfg sim.Config, gh github.Options) (*sim.Sim, error) {
	return sim.Start(cfg, Parts(gh)...)
}
