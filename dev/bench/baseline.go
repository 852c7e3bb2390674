package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// BaselineRun is the same rollout without Temporal: the same plan (workflows.PlanRollout), the
// same per-instance activity calls with the same inputs, called directly by goroutines, the same
// bake between waves, against a fresh simulator with the same latencies. Like the rollout, it asks
// for a batch of `concurrency` upgrades once the last batch is done, and the batch's version bumps
// share one pull request (ChangeConfigInput.Batch, the worker's default batch wait).
type BaselineRun struct {
	Makespan Duration `json:"makespan"`
	Planning Duration `json:"planning"`
	Waves    []int    `json:"waves"`
	Calls    []string `json:"calls"` // one instance's calls, in order
	// GitHubPerUpgrade is the GitHub API calls per instance (listing the fleet included).
	GitHubPerUpgrade float64 `json:"githubCallsPerUpgrade"`
}

func runBaseline(ctx context.Context, c Config, n int, l Latencies) (*BaselineRun, error) {
	c.logf("baseline of %d instances: starting the simulator alone", n)
	dir, err := os.MkdirTemp("", "lifecycle-baseline-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"logs", "pids"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	opts := devstack.Options{Dir: dir, BinDir: filepath.Join(c.Root, "bin"), InMemory: true, WebhookSecret: "bench-secret", SimArgs: simArgs(l)}
	if err := opts.UseFreePorts(); err != nil {
		return nil, err
	}
	s := &devstack.Stack{Opts: opts}
	if err := s.Start(ctx, "simulator"); err != nil {
		return nil, err
	}
	defer s.Stop()
	if l.Merge > 0 {
		if err := simPost(ctx, s.SimURL()+"/_sim/faults", map[string]any{"api": "github", "method": "pulls.merge", "latency": l.Merge.String()}); err != nil {
			return nil, err
		}
	}
	if _, err := s.SeedFleet(ctx, n); err != nil {
		return nil, err
	}
	cloud := s.Cloud()
	cloud.PollInterval = l.Poll
	cloud.ConfigBatchWait = config.DefaultConfigBatchWait
	acts, err := activities.NewSet(ctx, s.GitHub(), cloud)
	if err != nil {
		return nil, err
	}
	defer acts.Close()
	settings := workflows.Settings{SoakProbes: l.SoakProbes, SoakInterval: l.SoakInterval, RolloutBake: l.Bake}.WithDefaults()
	b := &baseline{acts: acts, s: settings, target: devstack.LatestVersion}

	start := time.Now()
	fleet, err := acts.ConfigRepo.ListFleet(ctx)
	if err != nil {
		return nil, err
	}
	waves, _ := workflows.PlanRollout(fleet, b.target, settings, false)
	byslug := map[string]activities.FleetEntry{}
	for _, e := range fleet {
		byslug[e.Slug] = e
	}
	res := &BaselineRun{Planning: Duration(time.Since(start))}
	for i, w := range waves {
		if i > 0 {
			time.Sleep(settings.RolloutBake)
		}
		res.Waves = append(res.Waves, len(w.Instances))
		for batch := range slices.Chunk(w.Instances, c.Concurrency) {
			group := fmt.Sprintf("baseline/%s/1", batch[0].Slug)
			errs := make(chan error, len(batch))
			var wg sync.WaitGroup
			for _, in := range batch {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := b.upgrade(ctx, byslug[in.Slug], group, len(batch)); err != nil {
						errs <- fmt.Errorf("%s: %w", in.Slug, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				return nil, err
			}
		}
	}
	res.Makespan = Duration(time.Since(start))
	res.Calls = b.calls
	calls, err := githubCalls(ctx, s.SimURL())
	if err != nil {
		return nil, err
	}
	res.GitHubPerUpgrade = float64(calls) / float64(n)
	return res, checkServed(ctx, s, slices.Collect(maps.Keys(byslug)), b.target)
}

type baseline struct {
	acts   *activities.Set
	s      workflows.Settings
	target string
	once   sync.Once
	calls  []string
}

// upgrade makes the calls the Upgrade workflow makes for a rollout, with the same inputs.
// The batch's bumps share one pull request, as a rollout's batch does.
func (b *baseline) upgrade(ctx context.Context, e activities.FleetEntry, batch string, size int) error {
	var calls []string
	call := func(name string, err error) error {
		calls = append(calls, name)
		return err
	}
	id := "upgrade/" + e.Slug + "/baseline"
	host, project := e.Domain, spec.ProjectID(e.Slug)
	if host == "" {
		host = spec.DefaultDomain(e.Slug)
	}
	rc, err := b.acts.ConfigRepo.ReadInstanceConfig(ctx, activities.ReadConfigInput{Slug: e.Slug})
	if err := call("ReadInstanceConfig", err); err != nil {
		return err
	}
	if rc.Config.Spec.SourcegraphVersion == b.target {
		return fmt.Errorf("already at %s", b.target)
	}
	p, err := b.acts.Uptime.Probe(ctx, activities.ProbeInput{Host: host})
	if err := call("Probe", err); err != nil {
		return err
	}
	if !p.Healthy {
		return fmt.Errorf("not healthy before the upgrade: %s", p.Error)
	}
	// Both backups at once, as the workflow takes them.
	var gkeErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, gkeErr = b.acts.GKEBackup.BackupGKE(ctx, activities.BackupGKEInput{Project: project, Region: e.Region, Plan: spec.BackupPlanName, Name: workflows.BackupName("pre-upgrade", b.target, id)})
	}()
	_, err = b.acts.CloudSQL.BackupSQL(ctx, activities.BackupSQLInput{Project: project, Instance: spec.SQLInstanceName, Key: "pre-upgrade-" + id + "/" + b.target})
	<-done
	if err := call("BackupSQL", err); err != nil {
		return err
	}
	if err := call("BackupGKE", gkeErr); err != nil {
		return err
	}
	rc, err = b.acts.ConfigRepo.ReadInstanceConfig(ctx, activities.ReadConfigInput{Slug: e.Slug})
	if err := call("ReadInstanceConfig", err); err != nil {
		return err
	}
	rc.Config.Spec.SourcegraphVersion = b.target
	_, err = b.acts.ConfigRepo.ChangeInstanceConfig(ctx, activities.ChangeConfigInput{Slug: e.Slug, Config: rc.Config, ChangeID: id + "/upgrade", BaseSHA: rc.SHA,
		Title: e.Slug + ": upgrade to " + b.target, Body: "upgrade of `" + e.Slug + "` (baseline)\n", Labels: []string{workflows.UpgradeLabel}, Batch: batch, BatchSize: size})
	if err := call("ChangeInstanceConfig", err); err != nil {
		return err
	}
	// The wait for the version and the soak, one call (workflows.RevisionLeanHistory).
	_, err = b.acts.Uptime.Soak(ctx, activities.SoakInput{Host: host, ExpectedVersion: b.target, Consecutive: b.s.SoakProbes, Interval: b.s.SoakInterval,
		Timeout: b.s.SoakTimeout, VersionTimeout: b.s.VersionTimeout})
	if err := call("Soak", err); err != nil {
		return err
	}
	b.once.Do(func() { b.calls = calls })
	return nil
}

// String lists calls compactly for the table.
func callList(calls []string) string { return strings.Join(calls, " → ") }
