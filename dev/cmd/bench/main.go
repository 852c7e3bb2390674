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

	"github.com/sourcegraph/lifecycle/dev/bench"
)

func main() {
	root, _ := os.Getwd()
	sizes := flag.String("sizes", "100,1000", "fleet sizes rolled out with the set latencies (comma-separated; \"none\" skips)")
	history := flag.Int("history", 10000, "fleet size rolled out with near-zero latencies for the largest history (0 skips)")
	conc := flag.Int("concurrency", 5, "upgrades in flight (the upgrade form allows at most 5)")
	var hooks hookList
	flag.Var(&hooks, "webhook", "FLEET:RATE:DURATION, e.g. 1000:50:20s: signed deliveries at RATE per second for DURATION, on the stack of the FLEET-instance rollout (repeatable; default 100:10:10s and 1000:50:20s; \"none\" skips)")
	noBaseline := flag.Bool("no-baseline", false, "skip the goroutine-pool baseline runs")
	var env envList
	flag.Var(&env, "env", "KEY=VALUE added to every process of the stacks (repeatable), e.g. LIFECYCLE_WORKER_POLLERS=2")
	ghLimits := flag.Int("github-limits", 1000, "fleet size rolled out once more with GitHub's secondary limits on, time-scaled (0 skips)")
	ghScale := flag.Float64("github-time-scale", bench.DefaultGitHubTimeScale, "for the -github-limits run: every GitHub rate-limit window shrunk by this factor, and the worker's write budget scaled to match")
	out := flag.String("out", "", "where the JSON goes (default .local/bench.json, .local/bench-prod.json with -topology prod)")
	topology := flag.String("topology", bench.TopologyDev, "where Temporal runs: dev (the CLI's dev server, in memory) or prod (the Temporal server on PostgreSQL, two workers, one SIGKILLed mid-rollout; make bench-prod)")
	docsPlot := flag.Bool("docs-plot", false, "also copy the plot to docs/bench.png (for docs/benchmarks.md)")
	flag.Parse()
	if *topology != bench.TopologyDev && *topology != bench.TopologyProd {
		fail(fmt.Errorf("-topology %q: use dev or prod", *topology))
	}
	if *out == "" {
		*out = filepath.Join(root, ".local", jsonName(*topology))
	}

	cfg := bench.Config{Root: root, HistorySize: *history, Concurrency: *conc, Latencies: bench.DefaultLatencies,
		Webhooks: hooks.loads, Log: os.Stderr, SkipBaseline: *noBaseline, Env: env, Topology: *topology, GitHubTimeScale: *ghScale, GitHubLimits: *ghLimits}
	if !hooks.set {
		cfg.Webhooks = []bench.WebhookLoad{{Fleet: 100, Rate: 10, Duration: 10 * time.Second}, {Fleet: 1000, Rate: 50, Duration: 20 * time.Second}}
	}
	for _, f := range strings.Split(*sizes, ",") {
		if f = strings.TrimSpace(f); f == "" || f == "none" {
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
			if err := plot(root, *out, res, *docsPlot); err != nil {
				fmt.Fprintln(os.Stderr, "bench: plot:", err)
			}
		}
	}
	if err != nil {
		fail(err)
	}
}

type hookList struct {
	loads []bench.WebhookLoad
	set   bool
}

func (h *hookList) String() string { return fmt.Sprint(h.loads) }
func (h *hookList) Set(v string) error {
	h.set = true
	if v == "none" {
		return nil
	}
	f := strings.Split(v, ":")
	if len(f) != 3 {
		return fmt.Errorf("%q: want FLEET:RATE:DURATION, e.g. 1000:50:20s", v)
	}
	fleet, err1 := strconv.Atoi(f[0])
	rate, err2 := strconv.Atoi(f[1])
	d, err3 := time.ParseDuration(f[2])
	if err1 != nil || err2 != nil || err3 != nil || fleet < 1 || rate < 1 || d < time.Second {
		return fmt.Errorf("%q: want FLEET:RATE:DURATION with a fleet size from -sizes, deliveries per second and a duration of at least 1s", v)
	}
	h.loads = append(h.loads, bench.WebhookLoad{Fleet: fleet, Rate: rate, Duration: d})
	return nil
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

func jsonName(topology string) string {
	if topology == bench.TopologyProd {
		return "bench-prod.json"
	}
	return "bench.json"
}

// plot draws this run and the other topology's latest run (its JSON beside this one's, if any) as
// bench.png beside the JSON, and copies it to docs/bench.png when asked.
func plot(root, out string, res *bench.Results, docs bool) error {
	runs := []*bench.Results{res}
	other := bench.TopologyProd
	if res.Topology == bench.TopologyProd {
		other = bench.TopologyDev
	}
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(out), jsonName(other))); err == nil {
		o, err := bench.ReadResults(b)
		if err != nil {
			return fmt.Errorf("reading the %s run's figures: %w", other, err)
		}
		if o.Topology == bench.TopologyDev {
			runs = []*bench.Results{o, res} // the dev server first, always the same colour
		} else {
			runs = append(runs, o)
		}
	}
	png := filepath.Join(filepath.Dir(out), "bench.png")
	if err := bench.Plot(png, runs...); err != nil {
		return err
	}
	fmt.Println("plot written to", png)
	if !docs {
		return nil
	}
	b, err := os.ReadFile(png)
	if err != nil {
		return err
	}
	dst := filepath.Join(root, "docs", "bench.png")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		return err
	}
	fmt.Println("plot copied to", dst)
	return nil
}
