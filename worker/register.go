package main

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/workflows"
)

// registry is what both worker.Worker and Temporal's test environments offer.
type registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// register puts every workflow and activity on the worker. Structs are registered whole: every
// exported method with an activity signature becomes an activity named after the method (the
// names are unique across structs), and helpers such as Close are skipped. asker is the activity
// through which the rollout asks instances for upgrades (it holds the worker's Temporal client).
func register(r registry, s *activities.Set, asker *workflows.Lifecycle) {
	for _, w := range workflows.Workflows() {
		r.RegisterWorkflowWithOptions(w.Func, workflow.RegisterOptions{Name: w.Name})
	}
	skip := activity.RegisterOptions{SkipInvalidStructFunctions: true}
	for _, a := range append(s.Structs(), asker) {
		r.RegisterActivityWithOptions(a, skip)
	}
}

// registerGitHubWrites puts the config repo's activities on the github-writes worker: the config
// changes that Settings.GitHubWritesQueue routes there.
func registerGitHubWrites(r registry, s *activities.Set) {
	r.RegisterActivityWithOptions(s.ConfigRepo, activity.RegisterOptions{SkipInvalidStructFunctions: true})
}
