package devstack

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/workflows"
)

// ProdTemporal runs a production-like Temporal instead of the dev server: the Temporal server
// binary (the version the pinned CLI embeds, built from dev/tools/go.mod) with its four services
// in one process, on PostgreSQL for both the default and the visibility store, as a self-hosted
// cluster runs it. The stack starts PostgreSQL itself ("postgres" process, data under
// Dir/postgres), applies Temporal's schemas with Temporal's SQL tool, writes the server's config
// and registers the namespace and the search attributes through the operator API with the pinned
// CLI, as deploy/k8s/temporal-setup.yaml does on a real cluster. There is no Web UI.
type ProdTemporal struct {
	Server  string // the Temporal server binary (bin/temporal-server)
	SQLTool string // Temporal's SQL schema tool (bin/temporal-sql-tool)
	PGBin   string // PostgreSQL's programs: initdb, postgres, pg_isready
	Shards  int    // numHistoryShards (fixed for a cluster's life)

	PGPort int
	// The server's other ports: the frontend's HTTP API and the history, matching and internal
	// worker services' gRPC.
	FrontendHTTPPort, HistoryPort, MatchingPort, InternalWorkerPort int
	// MembershipPorts are the four services' ringpop ports. They must be below 32768: the SQL
	// schema stores them as a smallint (cluster_membership.rpc_port), so a kernel-chosen
	// ephemeral port fails the server's start.
	MembershipPorts [4]int
}

// PostgresBinDir is where Debian's postgresql package (15, bookworm) puts its programs.
const PostgresBinDir = "/usr/lib/postgresql/15/bin"

// NewProdTemporal is the production-like Temporal from bin/ (make build-prod puts the server
// and the SQL tool there) and Debian's PostgreSQL. It says what to install when one is missing.
func NewProdTemporal(binDir string) (*ProdTemporal, error) {
	p := &ProdTemporal{Server: filepath.Join(binDir, "temporal-server"), SQLTool: filepath.Join(binDir, "temporal-sql-tool"),
		PGBin: PostgresBinDir, Shards: 4}
	for _, b := range []string{p.Server, p.SQLTool} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%s is missing: `make build-prod` builds the Temporal server and its SQL tool from dev/tools/go.mod", b)
		}
	}
	for _, b := range []string{"initdb", "postgres", "pg_isready"} {
		if _, err := os.Stat(filepath.Join(p.PGBin, b)); err != nil {
			return nil, fmt.Errorf("PostgreSQL's %s is not in %s: install PostgreSQL 15 (`sudo apt-get install postgresql` on Debian 12)", b, p.PGBin)
		}
	}
	return p, nil
}

// UseDefaultPorts are the local stack's (`devstack up -prod`): PostgreSQL on 7432, the server's
// own defaults otherwise.
func (p *ProdTemporal) UseDefaultPorts() {
	p.PGPort, p.FrontendHTTPPort, p.HistoryPort, p.MatchingPort, p.InternalWorkerPort = 7432, 7243, 7234, 7235, 7239
	p.MembershipPorts = [4]int{6933, 6934, 6935, 6939}
}

// freePorts gives the server and PostgreSQL ports that were free a moment ago.
func (p *ProdTemporal) freePorts(lns *[]net.Listener) error {
	for _, port := range []*int{&p.PGPort, &p.FrontendHTTPPort, &p.HistoryPort, &p.MatchingPort, &p.InternalWorkerPort} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		*lns = append(*lns, ln)
		*port = ln.Addr().(*net.TCPAddr).Port
	}
	for i := range p.MembershipPorts {
		ln, err := listenBelow(32768)
		if err != nil {
			return err
		}
		*lns = append(*lns, ln)
		p.MembershipPorts[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return nil
}

// listenBelow finds a free port in [20000, limit), out of the kernel's ephemeral range.
func listenBelow(limit int) (net.Listener, error) {
	var err error
	for range 200 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(limit-20000))); err == nil {
			return ln, nil
		}
	}
	return nil, fmt.Errorf("no free port below %d: %w", limit, err)
}

func (s *Stack) pgData() string { return filepath.Join(s.Opts.Dir, "postgres") }

// pgUser is the account PostgreSQL runs as: the caller's, or the postgres account when the caller
// is root (initdb and postgres refuse to run as root).
func pgUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres account (Debian's postgresql package creates it): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// credential is the account a process runs as (nil: the caller's).
func (s *Stack) credential(name string) *syscall.Credential {
	if name != "postgres" {
		return nil
	}
	c, _ := pgUser()
	return c
}

// wanted says whether Up starts this process with these options.
func (s *Stack) wanted(name string) bool {
	switch name {
	case "postgres":
		return s.Opts.Prod != nil
	case "worker2":
		return s.Opts.Workers > 1
	}
	return true
}

// prepare does what must exist before a process starts: PostgreSQL's data folder (initdb, once)
// and the server's configuration.
func (s *Stack) prepare(ctx context.Context, name string) error {
	p := s.Opts.Prod
	if p == nil {
		return nil
	}
	switch name {
	case "postgres":
		data := s.pgData()
		if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
			return nil
		}
		cred, err := pgUser()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(data, 0o700); err != nil {
			return err
		}
		if cred != nil {
			// The postgres account must reach its folder through the stack's.
			if err := os.Chmod(s.Opts.Dir, 0o711); err != nil {
				return err
			}
			if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
		// Trust on 127.0.0.1 only: a throwaway cluster for this stack, reached by its own processes.
		if err := s.run(ctx, "initdb", cred, filepath.Join(p.PGBin, "initdb"), "-D", data, "-U", "temporal",
			"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
			return err
		}
	case "temporal":
		return s.writeServerConfig()
	}
	return nil
}

// ready finishes a process's start once it is healthy: the schemas on a new database, the
// namespace and search attributes on the server.
func (s *Stack) ready(ctx context.Context, name string) error {
	p := s.Opts.Prod
	if p == nil {
		return nil
	}
	switch name {
	case "postgres":
		// Once per data folder: a marker beside it says the schemas are on (a start that failed
		// after initdb applies them at the next).
		done := filepath.Join(s.Opts.Dir, "postgres.schema-done")
		if _, err := os.Stat(done); err == nil {
			return nil
		}
		// What Temporal's docs and its auto-setup image do: create each database, version 0.0,
		// then every versioned step of the schema embedded in the tool (the server module's
		// schema/postgresql/v12 at the same version).
		for _, db := range []struct{ name, schema string }{{"temporal", "postgresql/v12/temporal"}, {"temporal_visibility", "postgresql/v12/visibility"}} {
			base := []string{p.SQLTool, "--plugin", "postgres12", "--ep", "127.0.0.1", "-p", strconv.Itoa(p.PGPort), "-u", "temporal", "--db", db.name}
			for _, step := range [][]string{{"create-database"}, {"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", db.schema}} {
				if err := s.run(ctx, "schema", nil, append(base, step...)...); err != nil {
					return err
				}
			}
		}
		return os.WriteFile(done, nil, 0o644)
	case "temporal":
		return s.registerNamespace(ctx)
	}
	return nil
}

// run runs a set-up command to its end, its output appended to logs/<log>.log.
func (s *Stack) run(ctx context.Context, log string, cred *syscall.Credential, args ...string) error {
	logPath := filepath.Join(s.Opts.Dir, "logs", log+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	// Started from the stack's folder: a postgres-account process may not read the caller's.
	cmd.Dir = s.Opts.Dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w; last lines of %s:\n%s", strings.Join(args, " "), err, logPath, tail(logPath, 10))
	}
	return nil
}

// postgresCommand runs postgres in the foreground (the stack's pid file and log hold it, and
// Down stops it as any other process), on 127.0.0.1 only, without a Unix socket.
func (s *Stack) postgresCommand() ([]string, func(context.Context) error) {
	p := s.Opts.Prod
	port := strconv.Itoa(p.PGPort)
	args := []string{filepath.Join(p.PGBin, "postgres"), "-D", s.pgData(), "-p", port,
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
		// The server's four services each hold a pool per store (maxConns below).
		"-c", "max_connections=200"}
	return args, func(ctx context.Context) error {
		return exec.CommandContext(ctx, filepath.Join(p.PGBin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", port).Run()
	}
}

// serverEnv is the server's environment name: its config file is temporal-config/<env>.yaml.
const serverEnv = "lifecycle"

func (s *Stack) serverConfigDir() string { return filepath.Join(s.Opts.Dir, "temporal-config") }

func (s *Stack) prodTemporalCommand() ([]string, func(context.Context) error) {
	return []string{s.Opts.Prod.Server, "--root", s.Opts.Dir, "--config", "temporal-config", "--env", serverEnv, "--allow-no-auth", "start"},
		func(ctx context.Context) error { return temporalOK(ctx, s.TemporalAddr()) }
}

// writeServerConfig writes the server's static config and its dynamic config file. The settings
// are the server's defaults but for what a self-hosted cluster of this service sets (eager
// activities, docs/benchmarks.md).
func (s *Stack) writeServerConfig() error {
	p, o := s.Opts.Prod, s.Opts
	dir := s.serverConfigDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dynamic := filepath.Join(dir, "dynamic.yaml")
	if err := os.WriteFile(dynamic, []byte("system.enableActivityEagerExecution:\n  - value: true\n"), 0o644); err != nil {
		return err
	}
	store := func(db string, conns int) string {
		return fmt.Sprintf(`      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: "127.0.0.1:%d"
        connectProtocol: tcp
        user: temporal
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h
`, db, p.PGPort, conns, conns)
	}
	svc := func(name string, grpc, membership int, extra string) string {
		return fmt.Sprintf("  %s:\n    rpc:\n      grpcPort: %d\n      membershipPort: %d\n      bindOnLocalHost: true\n%s", name, grpc, membership, extra)
	}
	cfg := "log:\n  stdout: true\n  level: warn\n" +
		fmt.Sprintf("persistence:\n  defaultStore: default\n  visibilityStore: visibility\n  numHistoryShards: %d\n  datastores:\n", p.Shards) +
		"    default:\n" + store("temporal", 20) + "    visibility:\n" + store("temporal_visibility", 10) +
		"global:\n  membership:\n    maxJoinDuration: 30s\n    broadcastAddress: \"127.0.0.1\"\n" +
		"services:\n" +
		svc("frontend", o.TemporalPort, p.MembershipPorts[0], fmt.Sprintf("      httpPort: %d\n", p.FrontendHTTPPort)) +
		svc("history", p.HistoryPort, p.MembershipPorts[1], "") +
		svc("matching", p.MatchingPort, p.MembershipPorts[2], "") +
		svc("worker", p.InternalWorkerPort, p.MembershipPorts[3], "") +
		"clusterMetadata:\n  enableGlobalNamespace: false\n  failoverVersionIncrement: 10\n  masterClusterName: active\n  currentClusterName: active\n" +
		"  clusterInformation:\n    active:\n      enabled: true\n      initialFailoverVersion: 1\n      rpcName: frontend\n" +
		fmt.Sprintf("      rpcAddress: %q\n", s.TemporalAddr()) +
		"dcRedirectionPolicy:\n  policy: noop\n" +
		fmt.Sprintf("dynamicConfigClient:\n  filepath: %q\n  pollInterval: 10s\n", dynamic)
	return os.WriteFile(filepath.Join(dir, serverEnv+".yaml"), []byte(cfg), 0o644)
}

// registerNamespace registers the namespace and every custom search attribute with the pinned
// CLI's operator commands (what deploy/k8s/temporal-setup.yaml runs), then waits until the
// frontend accepts a visibility query on all of them: the server caches both for a few seconds.
func (s *Stack) registerNamespace(ctx context.Context) error {
	addr := []string{"--address", s.TemporalAddr(), "--namespace", "default"}
	ns := append([]string{s.Opts.Temporal, "operator", "namespace", "create", "--retention", "72h"}, addr...)
	if err := s.run(ctx, "temporal-setup", nil, ns...); err != nil && !strings.Contains(err.Error(), "already") {
		return err
	}
	sa := append([]string{s.Opts.Temporal, "operator", "search-attribute", "create"}, addr...)
	var query []string
	for _, a := range workflows.SearchAttributeTypes {
		sa = append(sa, "--name", a.Name, "--type", cliType(a.Type))
		query = append(query, a.Name+" = "+queryLiteral(a.Type))
	}
	if err := s.run(ctx, "temporal-setup", nil, sa...); err != nil {
		return err
	}
	tc, err := client.DialContext(ctx, client.Options{HostPort: s.TemporalAddr(), Namespace: "default", Logger: quietLogger{}})
	if err != nil {
		return err
	}
	defer tc.Close()
	deadline := time.Now().Add(60 * time.Second)
	q := strings.Join(query, " AND ")
	for {
		_, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", PageSize: 1, Query: q})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the namespace or its search attributes are not usable 60 s after registration: %w", err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}

// queryLiteral is a value of the type, for the visibility query that checks registration.
func queryLiteral(t enums.IndexedValueType) string {
	switch t {
	case enums.INDEXED_VALUE_TYPE_BOOL:
		return "true"
	case enums.INDEXED_VALUE_TYPE_INT, enums.INDEXED_VALUE_TYPE_DOUBLE:
		return "0"
	case enums.INDEXED_VALUE_TYPE_DATETIME:
		return "'2026-01-01T00:00:00Z'"
	default:
		return "'x'"
	}
}
