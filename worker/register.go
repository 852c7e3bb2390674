package main

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/workflows"
)

// registry is what both worker.Worker and Temporal's test environments offer.
type registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

// clients are the activity structs, each holding one real client.
type clients struct {
	github     *activities.GitHub
	configRepo *activities.ConfigRepo
	projects   *activities.Projects
	gke        *activities.GKE
	gkeBackup  *activities.GKEBackup
	cloudSQL   *activities.CloudSQL
	cloudflare *activities.Cloudflare
	uptime     *activities.Uptime
	// lifecycle is set once the worker's Temporal client is dialled.
	lifecycle *activities.Lifecycle
}

// newClients builds every activity struct from configuration, failing loudly at start-up rather
// than on the first activity.
func newClients(ctx context.Context, gcfg config.GitHub, cloud config.Cloud) (*clients, error) {
	if gcfg.Token == "" {
		return nil, errors.New("GITHUB_TOKEN is not set: activities need it to comment on issues and change the config repo")
	}
	if cloud.CloudflareToken == "" {
		return nil, errors.New("CLOUDFLARE_API_TOKEN is not set: activities need a token with DNS and zone WAF edit rights")
	}
	c := &clients{}
	var err error
	if c.github, err = activities.NewGitHub(gcfg.Token, gcfg.APIURL, nil); err != nil {
		return nil, err
	}
	if c.configRepo, err = activities.NewConfigRepo(c.github, cloud); err != nil {
		return nil, fmt.Errorf("config repo (CONFIG_REPO=%s): %w", cloud.ConfigRepo, err)
	}
	if c.projects, err = activities.NewProjects(ctx, cloud); err != nil {
		return nil, fmt.Errorf("Resource Manager client: %w", err)
	}
	if c.gke, err = activities.NewGKE(ctx, cloud); err != nil {
		return nil, fmt.Errorf("GKE client: %w", err)
	}
	if c.gkeBackup, err = activities.NewGKEBackup(ctx, cloud); err != nil {
		return nil, fmt.Errorf("Backup for GKE client: %w", err)
	}
	if c.cloudSQL, err = activities.NewCloudSQL(ctx, cloud); err != nil {
		return nil, fmt.Errorf("Cloud SQL Admin client: %w", err)
	}
	if c.cloudflare, err = activities.NewCloudflare(cloud); err != nil {
		return nil, fmt.Errorf("Cloudflare client: %w", err)
	}
	if c.uptime, err = activities.NewUptime(cloud); err != nil {
		return nil, fmt.Errorf("uptime prober: %w", err)
	}
	return c, nil
}

func (c *clients) close() {
	c.projects.Close()
	c.gke.Close()
	c.gkeBackup.Close()
}

// register puts every workflow and activity on the worker. Structs are registered whole: every
// exported method with an activity signature becomes an activity named after the method (the
// names are unique across structs), and helpers such as Close are skipped.
func register(r registry, c *clients) {
	for _, w := range workflows.Workflows() {
		r.RegisterWorkflowWithOptions(w.Func, workflow.RegisterOptions{Name: w.Name})
	}
	skip := activity.RegisterOptions{SkipInvalidStructFunctions: true}
	for _, a := range []any{c.github, c.configRepo, c.projects, c.gke, c.gkeBackup, c.cloudSQL, c.cloudflare, c.uptime} {
		r.RegisterActivityWithOptions(a, skip)
	}
	if c.lifecycle != nil {
		r.RegisterActivityWithOptions(c.lifecycle, skip)
	}
}
