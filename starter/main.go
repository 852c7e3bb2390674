// The starter is the front door: it receives GitHub webhooks (issue forms, slash commands) and
// starts or signals workflows. Customer engineers never touch Temporal directly.
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

	"github.com/google/go-github/v55/github"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/metrics"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", config.Getenv("STARTER_LISTEN", "127.0.0.1:8080"), "address for webhooks, /healthz, /readyz and /metrics (STARTER_LISTEN)")
	flag.Parse()
	log := config.Logger("starter")
	tcfg := config.TemporalFromEnv()
	gcfg := config.GitHubFromEnv()
	if gcfg.WebhookSecret == "" {
		return errors.New("GITHUB_WEBHOOK_SECRET is not set: the starter refuses to accept unsigned webhooks; set it to the secret configured on the GitHub webhook")
	}
	if gcfg.Token == "" {
		return errors.New("GITHUB_TOKEN is not set: the starter needs it to answer on issues")
	}
	settings, err := settingsFromEnv(tcfg)
	if err != nil {
		return err
	}
	authz, err := authFromEnv()
	if err != nil {
		return err
	}
	served, err := reposFromEnv()
	if err != nil {
		return err
	}
	gaugeEvery := defaultGaugeInterval
	if v := os.Getenv("LIFECYCLE_GAUGE_INTERVAL"); v != "" {
		if gaugeEvery, err = time.ParseDuration(v); err != nil || gaugeEvery < time.Second {
			return fmt.Errorf("LIFECYCLE_GAUGE_INTERVAL=%q: want a Go duration of at least 1s, e.g. 30s (how often the starter counts workflows for its gauges)", v)
		}
	}
	metricsReg := metrics.New("starter")
	defer metricsReg.Close()
	tc, err := tcfg.Dial(context.Background(), log, metricsReg.SDKHandler())
	if err != nil {
		return err
	}
	defer tc.Close()
	gh, err := gcfg.Client(nil)
	if err != nil {
		return err
	}

	self, err := askBotLogin(gh, log)
	if err != nil {
		return err
	}
	driftRepo, err := config.DriftRepo()
	if err != nil {
		return err
	}

	hook := &webhook{self: self, secret: []byte(gcfg.WebhookSecret), temporal: boundedTemporal{tc, temporalBudget}, gh: gh, settings: settings,
		repos: served, auth: authz, members: newMemberships(gh, membershipTTL), metrics: metricsReg.SDKHandler(), log: log, driftRepo: driftRepo}
	srv := &http.Server{Addr: *listen, Handler: routes(hook, tc, metricsReg), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	gauges := &visibilityGauges{tc: tc, metrics: metricsReg.SDKHandler(), now: time.Now, log: log}
	go gauges.run(ctx, gaugeEvery)
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("starter listening", "addr", *listen, "temporal", tcfg.Address, "namespace", tcfg.Namespace,
		"requesterTeams", authz.requesterTeams, "requesterAllowlist", authz.allowlist, "approverTeam", hook.approverTeam(),
		"bot", self, "requestRepos", served.request, "trackingRepo", served.tracking)
	select {
	case err := <-errc:
		return fmt.Errorf("listening on %s: %w", *listen, err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// askBotLogin asks GitHub for the token's own login, a few times over about 30 s: the starter does
// not serve commands without knowing whose comments to ignore.
func askBotLogin(gh *github.Client, log *slog.Logger) (string, error) {
	var err error
	for attempt, wait := 1, time.Second; attempt <= 5; attempt, wait = attempt+1, wait*2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var login string
		login, err = botLogin(ctx, gh)
		cancel()
		if err == nil {
			return login, nil
		}
		log.Warn("could not ask GitHub for the bot's login (GET /user); retrying", "attempt", attempt, "err", err)
		if attempt < 5 {
			time.Sleep(wait)
		}
	}
	return "", fmt.Errorf("GITHUB_TOKEN: GitHub did not say whose token it is (GET /user), so the starter cannot tell its own comments from commands; check the token and GITHUB_API_URL: %w", err)
}

// routes are the starter's endpoints: GitHub deliveries, the health probes and Prometheus metrics
// (the Temporal client's and metrics.WebhooksReceived).
func routes(hook http.Handler, tc client.Client, reg *metrics.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/webhooks/github", hook)
	mux.Handle("GET /metrics", reg.Handler())
	config.HealthRoutes(mux, tc)
	return mux
}
