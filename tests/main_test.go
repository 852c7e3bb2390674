// Package tests holds the end-to-end tests: the real Temporal dev server, the simulator, the
// worker and the starter run as processes (the same launcher as `make demo`), and each test drives
// them through the real entry points — issues filed in the simulated GitHub, webhooks, the
// Temporal client — and checks outcomes in Temporal and in the simulator's state.
package tests

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
)

// stack is shared by every test in the package: starting it costs a few seconds.
var stack *devstack.Stack

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("tests: end-to-end tests skipped in -short mode")
		return 0
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "lifecycle-e2e-")
	if err != nil {
		return fail(err)
	}
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "./worker", "./starter", "./sim/cmd/simulator", "./starter/mi")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fail(fmt.Errorf("building binaries: %w", err))
	}
	temporal, err := temporalCLI(root)
	if err != nil {
		return fail(err)
	}
	// A fixed test key ring, so recorded histories (make record-histories) stay readable by the
	// replay test; devstack keeps a key file it finds in the stack's directory.
	ring, err := os.ReadFile(filepath.Join(root, "tests", "replay", "testdata", "codec.keys"))
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "codec.keys"), ring, 0o600); err != nil {
		return fail(err)
	}
	opts := devstack.Options{
		Dir: dir, BinDir: bin, Temporal: temporal, InMemory: true, Headless: true,
		WebhookSecret: "e2e-secret",
		// Short waits, so a whole lifecycle runs in seconds: the teardown's grace period, the
		// uptime soaks (a soak that cannot pass gives up after 8 s), the rollout's bake time.
		Env: []string{"LIFECYCLE_TEARDOWN_GRACE=3s", "LIFECYCLE_SOAK_PROBES=2", "LIFECYCLE_SOAK_INTERVAL=500ms", "LIFECYCLE_SOAK_TIMEOUT=8s",
			// The fleet rollout: a second of bake between waves, the tracking issue edited often.
			"LIFECYCLE_ROLLOUT_BAKE=1s", "LIFECYCLE_ROLLOUT_REFRESH=300ms", "LIFECYCLE_VERSION_TIMEOUT=10s",
			// An attempt lost with a killed worker is retried within 10 s (the chaos tests).
			"LIFECYCLE_ACTIVITY_TIMEOUT=10s",
			// A step parked for a config pull request's review looks again every second.
			"LIFECYCLE_REVIEW_RECHECK=1s",
			// The starter's visibility gauges, counted every second.
			"LIFECYCLE_GAUGE_INTERVAL=1s",
			// The webhook redelivery sweeper runs every 2 s and reads the last 10 minutes.
			"LIFECYCLE_REDELIVERY_INTERVAL=2s", "LIFECYCLE_REDELIVERY_WINDOW=10m"},
		SimArgs: []string{"-gke-op", "100ms", "-sql-op", "100ms", "-backup-op", "50ms", "-project-op", "50ms", "-rollout", "100ms",
			"-service-propagation", "1s"},
	}
	if err := opts.UseFreePorts(); err != nil {
		return fail(err)
	}
	stack, err = devstack.Up(context.Background(), opts)
	if err != nil {
		if stack != nil {
			stack.Stop()
		}
		return fail(err)
	}
	code := m.Run()
	stack.Stop()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Println("tests: logs kept in", filepath.Join(dir, "logs"))
	}
	return code
}

// temporalCLI is the pinned Temporal CLI, built (and cached) by the Go tool from dev/tools.
func temporalCLI(root string) (string, error) {
	if p := os.Getenv("TEMPORAL_CLI"); p != "" {
		return p, nil
	}
	out, err := exec.Command("go", "tool", "-modfile="+filepath.Join(root, "dev/tools/go.mod"), "-n", "temporal").Output()
	if err != nil {
		return "", fmt.Errorf("building the pinned Temporal CLI (go tool -n temporal): %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "tests:", err)
	return 1
}

// persistentStack starts a second stack whose dev server keeps its history in a file database, so a
// test can stop and restart Temporal with its history without disturbing the shared stack; it has
// the shared stack's key ring and is stopped when the test ends.
func persistentStack(t *testing.T) (*devstack.Stack, client.Client) {
	t.Helper()
	dir := t.TempDir()
	ring, err := os.ReadFile(stack.CodecKeysFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/codec.keys", ring, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := stack.Opts
	opts.Dir, opts.InMemory = dir, false
	if err := opts.UseFreePorts(); err != nil {
		t.Fatal(err)
	}
	s, err := devstack.Up(context.Background(), opts)
	if s != nil {
		t.Cleanup(func() { _ = s.Stop() })
	}
	if err != nil {
		t.Fatal(err)
	}
	tc, err := s.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return s, tc
}
