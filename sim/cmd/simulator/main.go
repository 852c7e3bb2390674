// Command simulator runs the cloud simulator alone: GKE, Backup for GKE and Resource Manager over
// gRPC; Cloud SQL Admin, Cloud Billing, Service Usage, Cloudflare, GitHub and the instances over REST; /_sim/ for inspection and
// fault injection.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/sim"
	simcf "github.com/sourcegraph/lifecycle/sim/cloudflare"
	simgithub "github.com/sourcegraph/lifecycle/sim/github"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

func main() {
	var cfg sim.Config
	flag.StringVar(&cfg.RESTAddr, "rest", "127.0.0.1:8090", "REST listen address (GitHub under /api/v3, Cloudflare under /client/v4, Cloud SQL under /v1, instances by Host, /_sim)")
	flag.StringVar(&cfg.GRPCAddr, "grpc", "127.0.0.1:8091", "gRPC listen address (GKE, Backup for GKE, Resource Manager, longrunning)")
	flag.StringVar(&cfg.WebhookURL, "webhook-url", "", "where simulated GitHub delivers issue and comment webhooks (empty: none)")
	flag.StringVar(&cfg.ConfigRepo, "config-repo", "sourcegraph/cloud", "the GitOps config repo instances deploy from")
	flag.StringVar(&cfg.ConfigEnv, "config-env", "prod", "environment folder in the config repo")
	flag.Int64Var(&cfg.Seed, "seed", 1, "seed for rate-based fault injection and GKE's background operations")
	flag.Float64Var(&cfg.GKEBackgroundOps, "gke-background-ops", 0, "chance (0 to 1) that GKE has just started an operation of its own (auto-upgrade, auto-repair) when a mutating request reaches an idle cluster, refusing it as Busy; 0 never does")
	flag.IntVar(&cfg.GKERegionalCPUs, "gke-regional-cpus", 0, "every project's regional CPUS quota that GKE checks a create's or resize's nodes against (0: a new project's default, 24; negative: no limit); seeded projects get at least what their clusters use")
	flag.BoolVar(&cfg.DefaultNetwork, "default-network", false, "every project has Compute Engine's auto-mode \"default\" network; off by default, as in an organisation that skips it (constraints/compute.skipDefaultNetworkCreation): a cluster must name a network the create made")
	flag.StringVar(&cfg.ClientIP, "client-ip", sim.DefaultClientIP, "client address of a request to an instance without the "+sim.ClientIPHeader+" header; the zone's WAF custom rules (the IP allowlists) are evaluated against it")
	flag.StringVar(&cfg.CloudflarePlan, "cloudflare-plan", "enterprise", "plan of the simulated Cloudflare zones (free, pro, business, enterprise): their WAF custom rule and Single Redirect quotas")
	gkeOp := flag.Duration("gke-op", 3*time.Second, "how long GKE operations take")
	sqlOp := flag.Duration("sql-op", 2*time.Second, "how long Cloud SQL operations take")
	backupOp := flag.Duration("backup-op", time.Second, "how long Backup for GKE operations take")
	projectOp := flag.Duration("project-op", time.Second, "how long project creation and Service Usage's enabling of APIs take")
	propagation := flag.Duration("service-propagation", 5*time.Second, "how long after Service Usage reports an API enabled that its calls in the project still get SERVICE_DISABLED (real GCP: up to minutes)")
	firstIssue := flag.Int64("github-first-issue", 1, "number of the first issue in each simulated repository (set it higher when Temporal's history outlives the simulator, so issue numbers never repeat)")
	rateLimit := flag.Int("github-rate-limit", 5000, "GitHub API requests per hour per user before the simulated GitHub reports the limit exhausted")
	secondary := flag.Bool("github-secondary-limits", false, "enforce GitHub's secondary limits on content-creating requests (POST, PATCH, PUT, DELETE) per user; off because the service does not budget its writes yet")
	writesPerMinute := flag.Int("github-writes-per-minute", simgithub.DefaultWritesPerMinute, "with -github-secondary-limits: content-creating requests a minute per user (0: no cap)")
	writesPerHour := flag.Int("github-writes-per-hour", simgithub.DefaultWritesPerHour, "with -github-secondary-limits: content-creating requests an hour per user (0: no cap)")
	secondaryStatus := flag.String("github-secondary-status", "403", "status of a secondary-limit refusal: 403, 429 or alternate")
	secondaryRetryAfter := flag.String("github-secondary-retry-after", "never", "when a secondary-limit refusal carries Retry-After: never, always or alternate (two without, two with)")
	webhookTimeout := flag.Duration("github-webhook-timeout", simgithub.DefaultWebhookTimeout, "how long simulated GitHub waits for a webhook answer before it records the delivery as failed (GitHub: 10s); each delivery is tried once")
	timeScale := flag.Float64("github-time-scale", 1, "shrink GitHub's rate-limit windows (the primary hour, the secondary minute and hour) by this factor")
	ciDelay := flag.Duration("github-ci-delay", 2*time.Second, "how long the simulated CI takes to report a protected branch's required status checks on a pull request (pending at once, success after this; a check pinned to an app as a check run; scaled by -github-time-scale; negative: never)")
	rollout := flag.Duration("rollout", 2*time.Second, "delay between a version merging in the config repo and the instance serving it")
	flag.Parse()
	if _, err := netip.ParseAddr(cfg.ClientIP); err != nil {
		fmt.Fprintf(os.Stderr, "simulator: -client-ip %q is not an IP address (e.g. %s)\n", cfg.ClientIP, sim.DefaultClientIP)
		os.Exit(2)
	}
	if !slices.Contains(simcf.Plans, cfg.CloudflarePlan) {
		fmt.Fprintf(os.Stderr, "simulator: -cloudflare-plan %q is not one of %s\n", cfg.CloudflarePlan, strings.Join(simcf.Plans, ", "))
		os.Exit(2)
	}
	cfg.WebhookSecret = os.Getenv("SIM_WEBHOOK_SECRET")
	if cfg.WebhookURL != "" && cfg.WebhookSecret == "" {
		fmt.Fprintln(os.Stderr, "simulator: -webhook-url is set but SIM_WEBHOOK_SECRET is empty; GitHub signs deliveries, so set the secret the starter expects")
		os.Exit(2)
	}
	cfg.Timings = sim.Timings{GKEOperation: sim.Duration(*gkeOp), SQLOperation: sim.Duration(*sqlOp),
		BackupOperation: sim.Duration(*backupOp), ProjectOperation: sim.Duration(*projectOp), Rollout: sim.Duration(*rollout),
		ServicePropagation: sim.Duration(*propagation)}
	cfg.Logger = config.Logger("simulator")
	stopProfile, err := config.StartCPUProfile("simulator")
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(2)
	}
	defer stopProfile()

	gh := simgithub.DefaultOptions()
	gh.FirstIssueNumber = *firstIssue
	gh.RateLimit = *rateLimit
	gh.TimeScale = *timeScale
	if *webhookTimeout <= 0 {
		fmt.Fprintln(os.Stderr, "simulator: -github-webhook-timeout must be more than 0 (GitHub's is 10s)")
		os.Exit(2)
	}
	gh.WebhookTimeout = *webhookTimeout
	gh.CIDelay = *ciDelay
	if *timeScale <= 0 {
		fmt.Fprintln(os.Stderr, "simulator: -github-time-scale must be more than 0 (1 is real time)")
		os.Exit(2)
	}
	limits := simgithub.SecondaryLimits{WritesPerMinute: *writesPerMinute, WritesPerHour: *writesPerHour,
		Status: *secondaryStatus, RetryAfter: *secondaryRetryAfter}
	if err := limits.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(2)
	}
	if *secondary {
		gh.Secondary = limits
	}
	s, err := stack.StartWith(cfg, gh)
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	s.Close()
}
