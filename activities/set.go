package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/sourcegraph/lifecycle/internal/config"
)

// Set is every activity struct, each holding one real client. The worker registers it whole; the
// benchmark's no-Temporal baseline calls the same methods directly.
type Set struct {
	GitHub     *GitHub
	ConfigRepo *ConfigRepo
	Projects   *Projects
	Bootstrap  *Bootstrap
	GKE        *GKE
	GKEBackup  *GKEBackup
	CloudSQL   *CloudSQL
	Cloudflare *Cloudflare
	Uptime     *Uptime
}

// NewSet builds every activity struct from configuration, failing loudly at start-up rather than
// on the first activity.
func NewSet(ctx context.Context, gcfg config.GitHub, cloud config.Cloud) (*Set, error) {
	if gcfg.Token == "" {
		return nil, errors.New("GITHUB_TOKEN is not set: activities need it to comment on issues and change the config repo")
	}
	if cloud.CloudflareToken == "" {
		return nil, errors.New("CLOUDFLARE_API_TOKEN is not set: activities need a token with DNS and zone WAF edit rights")
	}
	if err := cloud.RequireProjectSettings(); err != nil {
		return nil, err
	}
	s := &Set{}
	var err error
	if s.GitHub, err = NewGitHub(gcfg.Token, gcfg.APIURL, nil); err != nil {
		return nil, err
	}
	if s.ConfigRepo, err = NewConfigRepo(s.GitHub, cloud); err != nil {
		return nil, fmt.Errorf("config repo (CONFIG_REPO=%s): %w", cloud.ConfigRepo, err)
	}
	if s.Projects, err = NewProjects(ctx, cloud); err != nil {
		return nil, fmt.Errorf("Resource Manager client: %w", err)
	}
	if s.Bootstrap, err = NewBootstrap(ctx, cloud); err != nil {
		return nil, err
	}
	if s.GKE, err = NewGKE(ctx, cloud); err != nil {
		return nil, fmt.Errorf("GKE client: %w", err)
	}
	if s.GKEBackup, err = NewGKEBackup(ctx, cloud); err != nil {
		return nil, fmt.Errorf("Backup for GKE client: %w", err)
	}
	if s.CloudSQL, err = NewCloudSQL(ctx, cloud); err != nil {
		return nil, fmt.Errorf("Cloud SQL Admin client: %w", err)
	}
	if s.Cloudflare, err = NewCloudflare(cloud); err != nil {
		return nil, fmt.Errorf("Cloudflare client: %w", err)
	}
	if s.Uptime, err = NewUptime(cloud); err != nil {
		return nil, fmt.Errorf("uptime prober: %w", err)
	}
	if p := cloud.PollInterval; p > 0 {
		s.Projects.PollInterval, s.GKE.PollInterval, s.GKEBackup.PollInterval, s.CloudSQL.PollInterval = p, p, p, p
		s.Bootstrap.PollInterval = p
	}
	return s, nil
}

// Structs are the activity structs to register.
func (s *Set) Structs() []any {
	return []any{s.GitHub, s.ConfigRepo, s.Projects, s.Bootstrap, s.GKE, s.GKEBackup, s.CloudSQL, s.Cloudflare, s.Uptime}
}

// Close releases the gRPC clients' connections.
func (s *Set) Close() {
	s.Projects.Close()
	s.GKE.Close()
	s.GKEBackup.Close()
}
