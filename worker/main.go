// The worker runs the lifecycle workflows and the activities that hold the real cloud clients.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/codec"
	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/metrics"
	"github.com/sourcegraph/lifecycle/workflows"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// workerOptions: pollers scale with the backlog (the SDK's autoscaling, which the server steers),
// so a rollout's burst of workflow tasks (a wave's instance and upgrade workflows all at once) does
// not queue behind the SDK's default two pollers per queue. LIFECYCLE_WORKER_POLLERS=N fixes the
// number instead (benchmarks compare the two).
func workerOptions() (worker.Options, error) {
	if os.Getenv("LIFECYCLE_WORKER_POLLERS") != "" {
		n, err := config.IntEnv("LIFECYCLE_WORKER_POLLERS", 0)
		if err != nil {
			return worker.Options{}, err
		}
		return worker.Options{MaxConcurrentWorkflowTaskPollers: n, MaxConcurrentActivityTaskPollers: n}, nil
	}
	auto := worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	return worker.Options{WorkflowTaskPollerBehavior: auto, ActivityTaskPollerBehavior: auto}, nil
}

// DefaultStickyCacheSize is how many workflow executions the worker keeps in memory between their
// tasks (LIFECYCLE_STICKY_CACHE_SIZE). The SDK's default, 10,000, holds a whole large fleet's
// instance workflows open (817 MB with 10,000 open, docs/benchmarks.md; 331 MB at 2,000, 265 MB
// at 1,000); an evicted workflow's next task replays its history instead, which costs CPU but
// bounds memory. A rollout has at most 5 upgrades in flight, and a 10,000-instance rollout took no
// longer at 1,000 than at 2,000.
const DefaultStickyCacheSize = 1000

func stickyCacheSize() (int, error) {
	return config.IntEnv("LIFECYCLE_STICKY_CACHE_SIZE", DefaultStickyCacheSize)
}

// GitHub's secondary limits allow 80 content-creating requests a minute and 500 an hour per
// token (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api): over
// hours, the hour is what binds. Config changes get most of it; the rest is left to status
// comments, checklist edits and labels, which do not go through the queue.
const (
	defaultGitHubWritesPerHour   = workflows.DefaultGitHubWritesPerHour
	defaultGitHubWritesPerChange = workflows.DefaultGitHubWritesPerChange
)

// githubWriteRate is the github-writes queue's rate in config changes a second:
// LIFECYCLE_GITHUB_WRITES_PER_HOUR over LIFECYCLE_GITHUB_WRITES_PER_CHANGE writes each.
func githubWriteRate() (float64, error) {
	perHour, err := config.IntEnv("LIFECYCLE_GITHUB_WRITES_PER_HOUR", defaultGitHubWritesPerHour)
	if err != nil {
		return 0, err
	}
	perChange, err := config.IntEnv("LIFECYCLE_GITHUB_WRITES_PER_CHANGE", defaultGitHubWritesPerChange)
	if err != nil {
		return 0, err
	}
	if perHour <= 0 || perChange <= 0 {
		return 0, fmt.Errorf("LIFECYCLE_GITHUB_WRITES_PER_HOUR=%d and LIFECYCLE_GITHUB_WRITES_PER_CHANGE=%d: both must be positive whole numbers (defaults %d and %d)",
			perHour, perChange, defaultGitHubWritesPerHour, defaultGitHubWritesPerChange)
	}
	return float64(perHour) / 3600 / float64(perChange), nil
}

func run() error {
	listen := flag.String("listen", config.Getenv("WORKER_LISTEN", "127.0.0.1:9090"), "address for /healthz, /readyz and /metrics (WORKER_LISTEN)")
	flag.Parse()
	log := config.Logger("worker")
	stopProfile, err := config.StartCPUProfile("worker")
	if err != nil {
		return err
	}
	defer stopProfile()
	tcfg := config.TemporalFromEnv()
	gcfg := config.GitHubFromEnv()
	cloud, err := config.CloudFromEnv()
	if err != nil {
		return err
	}
	acts, err := activities.NewSet(context.Background(), gcfg, cloud)
	if err != nil {
		return err
	}
	defer acts.Close()
	metricsReg := metrics.New("worker")
	defer metricsReg.Close()
	tc, err := tcfg.Dial(context.Background(), log, metricsReg.SDKHandler())
	if err != nil {
		return err
	}
	defer tc.Close()

	wopts, err := workerOptions()
	if err != nil {
		return err
	}
	cacheSize, err := stickyCacheSize()
	if err != nil {
		return err
	}
	// Process-wide and read when the first worker starts, so set before worker.New.
	worker.SetStickyWorkflowCacheSize(cacheSize)
	w := worker.New(tc, workflows.TaskQueue, wopts)
	register(w, acts, workflows.NewLifecycle(tc))
	// Config changes (GitHub writes) on their own queue, at a rate the server enforces across
	// every worker of the deployment.
	wrate, err := githubWriteRate()
	if err != nil {
		return err
	}
	wopts.DisableWorkflowWorker, wopts.TaskQueueActivitiesPerSecond = true, wrate
	ww := worker.New(tc, workflows.GitHubWritesQueue, wopts)
	registerGitHubWrites(ww, acts)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsReg.Handler())
	config.HealthRoutes(mux, tc)
	// The codec server: the Web UI (TEMPORAL_UI's codec endpoint) decodes payloads through it.
	if cdc, err := codec.FromEnv(); err == nil && cdc != nil {
		mux.Handle("/codec/", codec.Handler(cdc, os.Getenv("LIFECYCLE_CODEC_CORS_ORIGIN"), os.Getenv("LIFECYCLE_CODEC_TOKEN")))
		log.Info("codec server on /codec", "key", cdc.KeyID())
	}
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health endpoint stopped", "addr", *listen, "err", err)
		}
	}()

	if err := redeliverySchedule(context.Background(), tc, log); err != nil {
		return err
	}
	if err := driftSchedule(context.Background(), tc, log); err != nil {
		return err
	}
	if err := w.Start(); err != nil {
		return fmt.Errorf("starting worker on task queue %s: %w", workflows.TaskQueue, err)
	}
	if err := ww.Start(); err != nil {
		w.Stop()
		return fmt.Errorf("starting worker on task queue %s: %w", workflows.GitHubWritesQueue, err)
	}
	log.Info("worker started", "taskQueue", workflows.TaskQueue, "githubWritesQueue", workflows.GitHubWritesQueue,
		"configChangesPerSecond", wrate, "temporal", tcfg.Address, "namespace", tcfg.Namespace, "health", *listen)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("shutting down: finishing in-flight tasks")
	ww.Stop()
	w.Stop()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	log.Info("worker stopped cleanly")
	return err
}

// redeliverySchedule creates (or updates) the webhook redelivery sweeper's Schedule when
// LIFECYCLE_REDELIVERY_HOOKS names the webhooks to sweep. The worker owns it, not the starter: the
// sweep runs here, with the bot's token, which may read and redeliver the hooks' deliveries.
func redeliverySchedule(ctx context.Context, tc client.Client, log *slog.Logger) error {
	v := os.Getenv("LIFECYCLE_REDELIVERY_HOOKS")
	if v == "" {
		log.Warn("LIFECYCLE_REDELIVERY_HOOKS is not set: failed webhook deliveries are not redelivered (GitHub does not retry them)")
		return nil
	}
	hooks, err := activities.ParseHooks(v)
	if err != nil {
		return fmt.Errorf("LIFECYCLE_REDELIVERY_HOOKS=%q: %w", v, err)
	}
	every, err := config.DurationEnv("LIFECYCLE_REDELIVERY_INTERVAL", workflows.DefaultRedeliveryInterval)
	if err != nil || every < time.Second {
		return fmt.Errorf("LIFECYCLE_REDELIVERY_INTERVAL=%q: want a Go duration of at least 1s, e.g. 5m", os.Getenv("LIFECYCLE_REDELIVERY_INTERVAL"))
	}
	window, err := config.DurationEnv("LIFECYCLE_REDELIVERY_WINDOW", workflows.DefaultRedeliveryWindow)
	if err != nil || window <= 0 || window > workflows.DefaultRedeliveryWindow {
		return fmt.Errorf("LIFECYCLE_REDELIVERY_WINDOW=%q: want a Go duration up to 72h (GitHub keeps 3 days of deliveries), e.g. 72h", os.Getenv("LIFECYCLE_REDELIVERY_WINDOW"))
	}
	if err := workflows.EnsureRedeliverySchedule(ctx, tc, hooks, every, window); err != nil {
		return fmt.Errorf("creating the webhook redelivery schedule %s: %w", workflows.RedeliveryScheduleID, err)
	}
	log.Info("webhook redelivery sweeper scheduled", "schedule", workflows.RedeliveryScheduleID, "hooks", v, "every", every, "window", window)
	return nil
}

// driftSchedule creates (or updates) the allowlist drift check's Schedule: every
// LIFECYCLE_DRIFT_INTERVAL it compares config.yaml's allowlists with Cloudflare and keeps one issue
// in LIFECYCLE_DRIFT_REPO. The worker owns it: the check runs here, with Cloudflare's token.
func driftSchedule(ctx context.Context, tc client.Client, log *slog.Logger) error {
	every, err := config.DurationEnv("LIFECYCLE_DRIFT_INTERVAL", workflows.DefaultDriftInterval)
	if err != nil || every < time.Second {
		return fmt.Errorf("LIFECYCLE_DRIFT_INTERVAL=%q: want a Go duration of at least 1s, e.g. 1h", os.Getenv("LIFECYCLE_DRIFT_INTERVAL"))
	}
	repo, err := config.DriftRepo()
	if err != nil {
		return err
	}
	if err := workflows.EnsureDriftSchedule(ctx, tc, repo, every); err != nil {
		return fmt.Errorf("creating the allowlist drift schedule %s: %w", workflows.DriftScheduleID, err)
	}
	log.Info("allowlist drift check scheduled", "schedule", workflows.DriftScheduleID, "repo", repo, "every", every)
	return nil
}
