// Package devstack starts and stops the local stack as real processes: the Temporal dev server
// (with its Web UI), the cloud simulator, the worker and the starter. `make demo` and the
// end-to-end tests both use it, so what the tests exercise is what a developer runs.
//
// Everything it starts is recorded under one folder (logs/<name>.log, pids/<name>.pid), so Down
// stops exactly what Up started.
package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/codec"
	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/workflows"
)

// Options say where things live and which ports to use.
type Options struct {
	Dir      string // state folder: logs, pids, Temporal database
	BinDir   string // worker, starter, simulator binaries
	Temporal string // path to the temporal CLI binary

	TemporalPort, UIPort, SimPort, SimGRPCPort, StarterPort, WorkerPort int
	// Worker2Port is the second worker process's health port (Workers 2).
	Worker2Port int

	WebhookSecret string
	// InMemory runs the dev server without a database file (tests); otherwise history persists
	// under Dir across restarts.
	InMemory bool
	// Headless turns the Web UI off (tests).
	Headless bool
	// SimArgs are extra simulator flags (timings).
	SimArgs []string
	// Env is added to every process's environment.
	Env []string
	// Prod runs a production-like Temporal (the server on PostgreSQL, prodtemporal.go) in place
	// of the dev server; nil runs the dev server.
	Prod *ProdTemporal
	// Workers is how many worker processes run: 2 adds "worker2" on the same task queue (a
	// benchmark kills one mid-rollout); 0 or 1 runs one.
	Workers int
}

// LatestVersion is the simulator's newest Sourcegraph release: the local stack's latest tested
// version (LIFECYCLE_LATEST_VERSION).
const LatestVersion = "5.10.0"

// Defaults are the local stack's ports (README.md).
func Defaults(root string) Options {
	return Options{
		Dir: filepath.Join(root, ".local"), BinDir: filepath.Join(root, "bin"), Temporal: filepath.Join(root, "bin", "temporal"),
		TemporalPort: 7233, UIPort: 8233, SimPort: 8090, SimGRPCPort: 8091, StarterPort: 8080, WorkerPort: 9090, Worker2Port: 9091,
		WebhookSecret: "local-webhook-secret",
	}
}

// RedeliveryHook is the webhook the local worker's redelivery sweeper reads: the simulator's
// configured webhook, hook 1 of the sample request repository.
const RedeliveryHook = SampleOwner + "/" + SampleRepo + ":1"

// Stack is a running local stack.
type Stack struct {
	Opts Options
}

// Addresses.
func (s *Stack) TemporalAddr() string { return fmt.Sprintf("127.0.0.1:%d", s.Opts.TemporalPort) }
func (s *Stack) UIURL() string        { return fmt.Sprintf("http://127.0.0.1:%d", s.Opts.UIPort) }
func (s *Stack) SimURL() string       { return fmt.Sprintf("http://127.0.0.1:%d", s.Opts.SimPort) }
func (s *Stack) SimGRPCAddr() string  { return fmt.Sprintf("127.0.0.1:%d", s.Opts.SimGRPCPort) }
func (s *Stack) StarterURL() string   { return fmt.Sprintf("http://127.0.0.1:%d", s.Opts.StarterPort) }
func (s *Stack) WorkerURL() string    { return fmt.Sprintf("http://127.0.0.1:%d", s.Opts.WorkerPort) }

// UIOrigins are the Web UI's origins: the dev server prints it as localhost, the stack as 127.0.0.1.
func (s *Stack) UIOrigins() []string {
	return []string{s.UIURL(), fmt.Sprintf("http://localhost:%d", s.Opts.UIPort)}
}

// Temporal is the connection configuration for this stack.
func (s *Stack) Temporal() config.Temporal {
	return config.Temporal{Address: s.TemporalAddr(), Namespace: "default", UIURL: s.UIURL()}
}

// ProbeEgress is the local worker's probe egress (LIFECYCLE_PROBE_EGRESS): the probes tell the
// simulator they come from it, and every allowlist admits it, so probes pass the simulated WAF.
// From the benchmarking range (RFC 2544), which no customer allowlist can hold.
const ProbeEgress = "198.18.0.10/32"

// The folder new projects go in and the billing account linked to them on the local stacks: any
// well-formed values do, the simulator keeps no folders or accounts of its own.
const (
	SimProjectParent  = "folders/100000000001"
	SimBillingAccount = "billingAccounts/0A1B2C-3D4E5F-000001"
)

// Cloud is the cloud configuration the worker gets (its environment is built from it): every
// client pointed at the simulator.
func (s *Stack) Cloud() config.Cloud {
	return config.Cloud{GCPGRPCEndpoint: s.SimGRPCAddr(), GCPInsecure: true, SQLAdminEndpoint: s.SimURL() + "/",
		CloudBillingEndpoint: s.SimURL() + "/", ServiceUsageEndpoint: s.SimURL() + "/", ComputeEndpoint: s.SimURL() + "/compute/v1/",
		ProjectParent: SimProjectParent, BillingAccount: SimBillingAccount,
		CloudflareAPIURL: s.SimURL() + "/client/v4", CloudflareToken: "local-token", ProbeURL: s.SimURL(), ProbeEgress: []string{ProbeEgress},
		ConfigRepo: "sourcegraph/cloud", ConfigEnv: "prod"}
}

// GitHub is the worker's GitHub configuration: the bot's token on the simulated GitHub.
func (s *Stack) GitHub() config.GitHub {
	return config.GitHub{Token: "bot-token", APIURL: s.SimURL() + "/", WebhookSecret: s.Opts.WebhookSecret}
}

// UseFreePorts gives every process of the stack a TCP port on 127.0.0.1 that was free a moment
// ago (test and benchmark stacks; another process may still take one before the stack binds it).
func (o *Options) UseFreePorts() error {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for _, port := range []*int{&o.TemporalPort, &o.UIPort, &o.SimPort, &o.SimGRPCPort, &o.StarterPort, &o.WorkerPort, &o.Worker2Port} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns = append(lns, ln)
		*port = ln.Addr().(*net.TCPAddr).Port
	}
	if o.Prod != nil {
		return o.Prod.freePorts(&lns)
	}
	return nil
}

// firstIssueEpoch (2026-01-01 UTC) keeps clock-derived issue numbers short.
const firstIssueEpoch = 1767225600

// Processes in start order; Down stops them in reverse. postgres runs with a production-like
// Temporal only (Options.Prod), worker2 with Options.Workers 2.
var Processes = []string{"postgres", "temporal", "simulator", "worker", "worker2", "starter"}

// Up starts every process not already running and waits until each is healthy.
func Up(ctx context.Context, o Options) (*Stack, error) {
	s := &Stack{Opts: o}
	for _, d := range []string{"logs", "pids"} {
		if err := os.MkdirAll(filepath.Join(o.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := s.ensureCodecKeys(); err != nil {
		return nil, err
	}
	if err := s.checkPorts(); err != nil {
		return nil, err
	}
	for _, name := range Processes {
		if !s.wanted(name) {
			continue
		}
		if err := s.Start(ctx, name); err != nil {
			return s, err
		}
	}
	return s, nil
}

// checkPorts fails early, naming the port and its owner, instead of a confusing crash later.
func (s *Stack) checkPorts() error {
	ports := []struct {
		port int
		what string
	}{
		{s.Opts.TemporalPort, "Temporal gRPC"}, {s.Opts.SimPort, "simulator REST"}, {s.Opts.SimGRPCPort, "simulator gRPC"},
		{s.Opts.StarterPort, "starter"}, {s.Opts.WorkerPort, "worker health"},
	}
	if !s.Opts.Headless && s.Opts.Prod == nil {
		ports = append(ports, struct {
			port int
			what string
		}{s.Opts.UIPort, "Temporal Web UI"})
	}
	for _, p := range ports {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.port))
		if err != nil {
			return fmt.Errorf("port %d (%s) is already in use: is a stack already running? `make stop` stops the one `make demo` started; otherwise free the port", p.port, p.what)
		}
		ln.Close()
	}
	return nil
}

// command builds the command line and health check of one process.
func (s *Stack) command(name string) (args []string, env []string, health func(context.Context) error, err error) {
	o := s.Opts
	common := []string{
		"TEMPORAL_ADDRESS=" + s.TemporalAddr(), "TEMPORAL_NAMESPACE=default", "TEMPORAL_UI_URL=" + s.UIURL(),
		"GITHUB_API_URL=" + s.SimURL() + "/", "GITHUB_WEBHOOK_SECRET=" + o.WebhookSecret,
		codec.EnvKeysFile + "=" + s.CodecKeysFile(),
		// The simulator enforces no write limits unless asked (-github-secondary-limits): config
		// changes are not throttled here, nor counted in plans (a stack that turns the limits on
		// sets its own budget through Options.Env).
		"LIFECYCLE_GITHUB_WRITES_PER_HOUR=10000000",
	}
	switch name {
	case "postgres":
		args, health = s.postgresCommand()
		return args, nil, health, nil
	case "temporal":
		if o.Prod != nil {
			args, health = s.prodTemporalCommand()
			return args, nil, health, nil
		}
		args = []string{o.Temporal, "server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(o.TemporalPort),
			"--ui-port", strconv.Itoa(o.UIPort), "--log-level", "warn", "--namespace", "default",
			// Eager activities: a workflow task's completion hands the worker its next activity
			// directly, one matching round trip less per step (make bench measures it).
			"--dynamic-config-value", "system.enableActivityEagerExecution=true"}
		if o.Headless {
			args = append(args, "--headless")
		} else {
			// The Web UI decodes payloads through the worker's codec server.
			args = append(args, "--ui-codec-endpoint", s.WorkerURL()+"/codec")
		}
		if !o.InMemory {
			// WAL + synchronous=normal: ~3x the throughput of SQLite's default fsync mode (docs/design.md).
			args = append(args, "--db-filename", filepath.Join(o.Dir, "temporal.db"),
				"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
		}
		for _, sa := range workflows.SearchAttributeTypes {
			args = append(args, "--search-attribute", sa.Name+"="+cliType(sa.Type))
		}
		return args, nil, func(ctx context.Context) error {
			if err := temporalOK(ctx, s.TemporalAddr()); err != nil || o.Headless {
				return err
			}
			return httpOK(ctx, s.UIURL()+"/")
		}, nil
	case "simulator":
		args = []string{filepath.Join(o.BinDir, "simulator"),
			"-rest", fmt.Sprintf("127.0.0.1:%d", o.SimPort), "-grpc", s.SimGRPCAddr(),
			"-webhook-url", s.StarterURL() + "/webhooks/github"}
		if !o.InMemory {
			// Temporal's history persists but the simulator's GitHub does not: start issue numbers
			// from the clock so a new issue never reuses a number (and workflow ID) of an old run.
			args = append(args, "-github-first-issue", strconv.FormatInt(time.Now().Unix()-firstIssueEpoch, 10))
		}
		args = append(args, o.SimArgs...)
		return args, []string{"SIM_WEBHOOK_SECRET=" + o.WebhookSecret}, func(ctx context.Context) error { return httpOK(ctx, s.SimURL()+"/_sim/healthz") }, nil
	case "worker", "worker2":
		port := o.WorkerPort
		if name == "worker2" {
			port = o.Worker2Port
		}
		args = []string{filepath.Join(o.BinDir, "worker"), "-listen", fmt.Sprintf("127.0.0.1:%d", port)}
		// Every cloud client points at the simulator; the simulator accepts any Cloudflare token.
		c, gh := s.Cloud(), s.GitHub()
		env := append(common, "GITHUB_TOKEN="+gh.Token, "GCP_GRPC_ENDPOINT="+c.GCPGRPCEndpoint, "GCP_INSECURE=true",
			"SQLADMIN_ENDPOINT="+c.SQLAdminEndpoint, "CLOUDBILLING_ENDPOINT="+c.CloudBillingEndpoint, "SERVICEUSAGE_ENDPOINT="+c.ServiceUsageEndpoint, "COMPUTE_ENDPOINT="+c.ComputeEndpoint,
			config.EnvProjectParent+"="+c.ProjectParent, config.EnvBillingAccount+"="+c.BillingAccount, "CLOUDFLARE_API_URL="+c.CloudflareAPIURL, "CLOUDFLARE_API_TOKEN="+c.CloudflareToken,
			"INSTANCE_PROBE_URL="+c.ProbeURL, "LIFECYCLE_PROBE_EGRESS="+strings.Join(c.ProbeEgress, ","), "LIFECYCLE_CODEC_CORS_ORIGIN="+strings.Join(s.UIOrigins(), ","),
			// The simulator's webhook is hook 1 of the request repository: the worker's sweeper
			// redelivers what the starter could not take (GitHub tries each delivery once).
			"LIFECYCLE_REDELIVERY_HOOKS="+RedeliveryHook)
		return args, env, func(ctx context.Context) error { return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", port)) }, nil
	case "starter":
		args = []string{filepath.Join(o.BinDir, "starter"), "-listen", fmt.Sprintf("127.0.0.1:%d", o.StarterPort)}
		// The simulator's newest release is the latest tested version new instances get.
		// A local rollout bakes 20 s between waves rather than an hour, so `up -fleet` shows every wave.
		return args, append(common, "GITHUB_TOKEN=bot-token", "LIFECYCLE_LATEST_VERSION="+LatestVersion, "LIFECYCLE_ROLLOUT_BAKE=20s"),
			func(ctx context.Context) error { return httpOK(ctx, s.StarterURL()+"/readyz") }, nil
	}
	return nil, nil, nil, fmt.Errorf("unknown process %q (one of %s)", name, strings.Join(Processes, ", "))
}

// Start starts one process detached from the caller (it outlives `devstack up`) and waits until
// it is healthy. A process already running (live pid file) is left alone.
func (s *Stack) Start(ctx context.Context, name string) error {
	if _, ok := s.running(name); ok {
		return nil
	}
	if err := s.prepare(ctx, name); err != nil {
		return err
	}
	args, env, health, err := s.command(name)
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.Opts.Dir, "logs", name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	// Options.Env comes last so a caller (a test) can override any default.
	cmd.Env = append(append(os.Environ(), env...), s.Opts.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.credential(name)}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s (%s): %w", name, args[0], err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(s.pidFile(name), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		if err := health(deadline); err == nil {
			return s.ready(ctx, name)
		}
		select {
		case err := <-exited:
			os.Remove(s.pidFile(name))
			return fmt.Errorf("%s exited during start-up (%v); last log lines from %s:\n%s", name, err, logPath, tail(logPath, 15))
		case <-deadline.Done():
			return fmt.Errorf("%s did not become healthy within 90s; see %s:\n%s", name, logPath, tail(logPath, 15))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Kill sends sig to one process's group (SIGKILL for chaos tests, SIGTERM to stop).
func (s *Stack) Kill(name string, sig syscall.Signal) error {
	pid, ok := s.running(name)
	if !ok {
		return fmt.Errorf("%s is not running", name)
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if !alive(pid) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	os.Remove(s.pidFile(name))
	return nil
}

// Down stops every process Up started (SIGTERM, then SIGKILL after 10 s), in reverse order.
func Down(dir string) (stopped []string, err error) {
	s := &Stack{Opts: Options{Dir: dir}}
	for i := len(Processes) - 1; i >= 0; i-- {
		name := Processes[i]
		pid, ok := s.running(name)
		if !ok {
			os.Remove(s.pidFile(name))
			continue
		}
		syscall.Kill(-pid, syscall.SIGTERM)
		for j := 0; j < 200 && alive(pid); j++ {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		os.Remove(s.pidFile(name))
		stopped = append(stopped, fmt.Sprintf("%s (pid %d)", name, pid))
	}
	return stopped, nil
}

// Stop stops this stack (see Down).
func (s *Stack) Stop() error { _, err := Down(s.Opts.Dir); return err }

// PID is the process ID of one running process (the benchmarks read its memory from /proc).
func (s *Stack) PID(name string) (int, bool) { return s.running(name) }

func (s *Stack) pidFile(name string) string { return filepath.Join(s.Opts.Dir, "pids", name+".pid") }

// running reads the pid file and checks the process is alive and is ours (its command line names
// the binary), so a recycled pid is never signalled.
func (s *Stack) running(name string) (int, bool) {
	b, err := os.ReadFile(s.pidFile(name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !alive(pid) {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	// worker2 runs the worker binary.
	if err == nil && !strings.Contains(string(cmdline), strings.TrimSuffix(name, "2")) {
		return 0, false
	}
	return pid, true
}

func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	// A zombie still answers kill(0); treat it as gone.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && b[i+2] == 'Z' {
			return false
		}
	}
	return true
}

func cliType(t enums.IndexedValueType) string {
	switch t {
	case enums.INDEXED_VALUE_TYPE_KEYWORD:
		return "Keyword"
	case enums.INDEXED_VALUE_TYPE_BOOL:
		return "Bool"
	case enums.INDEXED_VALUE_TYPE_DATETIME:
		return "Datetime"
	case enums.INDEXED_VALUE_TYPE_INT:
		return "Int"
	case enums.INDEXED_VALUE_TYPE_DOUBLE:
		return "Double"
	case enums.INDEXED_VALUE_TYPE_KEYWORD_LIST:
		return "KeywordList"
	default:
		return "Text"
	}
}

func httpOK(ctx context.Context, url string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// temporalOK asks the frontend service itself: the port opens before the server can answer.
func temporalOK(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietLogger{}}) // health only: no payloads
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// quietLogger drops the SDK's logs during polling.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
