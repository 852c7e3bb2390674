// Command bench runs the benchmarks of issue 8 (make bench): fleet rollouts on the real stack with
// set simulator latencies, the same calls without Temporal, history cost, worker memory and
// webhook latency. It prints a table and writes the figures as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sourcegraph/lifecycle/internal/bench"
)

func main() {
	root, _ := os.Getwd()
	sizes := flag.String("sizes", "100,1000", "fleet sizes rolled out with the set latencies (comma-separated)")
	history := flag.Int("history", 10000, "fleet size rolled out with near-zero latencies for the largest history (0 skips)")
	conc := flag.Int("concurrency", 5, "upgrades in flight (the runbooks allow at most 5)")
	rate := flag.Int("webhook-rate", 50, "webhook deliveries per second on the largest fleet's stack (0 skips)")
	dur := flag.Duration("webhook-for", 20*time.Second, "how long the webhook deliveries run")
	noBaseline := flag.Bool("no-baseline", false, "skip the goroutine-pool baseline runs")
	var env envList
	flag.Var(&env, "env", "KEY=VALUE added to every process of the stacks (repeatable), e.g. LIFECYCLE_WORKER_POLLERS=2")
	out := flag.String("out", filepath.Join(root, ".local", "bench.json"), "where the JSON goes")
	flag.Parse()

	cfg := bench.Config{Root: root, HistorySize: *history, Concurrency: *conc, Latencies: bench.DefaultLatencies,
		Webhook: bench.WebhookLoad{Rate: *rate, Duration: *dur}, Log: os.Stderr, SkipBaseline: *noBaseline, Env: env}
	for _, f := range strings.Split(*sizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fail(fmt.Errorf("-sizes: %q is not a fleet size (use e.g. 100,1000)", f))
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	if *conc < 1 || *conc > 5 {
		fail(fmt.Errorf("-concurrency %d: a rollout runs 1 to 5 upgrades at a time", *conc))
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "temporal")); err != nil {
		fail(fmt.Errorf("bin/temporal is missing: run from the repository root after `make build` (make bench does both)"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := bench.Run(ctx, cfg)
	if res != nil {
		res.Print(os.Stdout)
		if werr := write(*out, res); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		} else {
			fmt.Println("\nfigures written to", *out)
		}
	}
	if err != nil {
		fail(err)
	}
}

type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func write(path string, res *bench.Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
