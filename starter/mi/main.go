// Command mi is the operator CLI of the dedicated-instance lifecycle. It talks to Temporal directly
// (the same Queries and Updates the starter and the slash commands use): list the instances, show
// one instance and its running operation, decide on a parked step, file a break-glass request
// without an issue form, and read or steer a fleet rollout.
//
// It is written for on-call at 3 a.m.: every error says what is wrong and what to type instead.
// Exit status: 0 done, 1 error, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sourcegraph/lifecycle/internal/codec"
	"github.com/sourcegraph/lifecycle/internal/config"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(os.Stdout, os.Stderr, os.Getenv).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// app is one invocation: where output goes, the environment, and how to reach Temporal (replaced
// by a fake in tests).
type app struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	tcfg           config.Temporal
	dial           func(ctx context.Context) (temporalAPI, func(), error)
	now            func() time.Time
}

func newApp(stdout, stderr io.Writer, getenv func(string) string) *app {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv, tcfg: config.TemporalFromEnv(), now: time.Now}
	if getenv(codec.EnvKeys) == "" && getenv(codec.EnvKeysFile) == "" && isLoopback(a.tcfg.Address) {
		a.tcfg.LocalKeysFile = localKeyRing()
	}
	a.dial = a.dialTemporal
	return a
}

// localKeyRing is the local stack's key ring (.local/codec.keys, which `make demo` writes at the
// repository's root), looked for from the working directory up; "" when there is none.
func localKeyRing() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		f := filepath.Join(dir, ".local", "codec.keys")
		if _, err := os.Stat(f); err == nil {
			return f
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

// isLoopback says whether a Temporal address is this machine's: only then can a local stack's
// key ring be the right one.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dialTemporal connects with the TEMPORAL_* settings every binary of the service reads.
func (a *app) dialTemporal(ctx context.Context) (temporalAPI, func(), error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// The SDK logs through this; a CLI shows only its warnings.
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := a.tcfg.Dial(ctx, log, nil)
	var connect *config.ConnectError
	if err != nil && !errors.As(err, &connect) {
		// A setting stopped it before it dialled (key ring, TLS files): its message names it.
		if a.tcfg.LocalKeysFile == "" && isLoopback(a.tcfg.Address) && errors.As(err, new(*config.NoKeyRingError)) {
			return nil, nil, fmt.Errorf("%w\n  on the local stack, run mi from the repository: it reads .local/codec.keys, which `make demo` writes", err)
		}
		return nil, nil, err
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w\n  check TEMPORAL_ADDRESS (now %q) and TEMPORAL_NAMESPACE (now %q); a remote cluster needs TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY or TEMPORAL_API_KEY",
			err, a.tcfg.Address, a.tcfg.Namespace)
	}
	return c, c.Close, nil
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	usage   string
	run     func(a *app, ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"list", "instances, one line each (state, version, running operation, attention)", listUsage, (*app).list},
		{"status", "an instance's record and the progress of its running operation", statusUsage, (*app).status},
		{"decide", "answer the parked step of an instance's running operation", decideUsage, (*app).decide},
		{"start", "break-glass: request an operation without an issue form", startUsage, (*app).start},
		{"rollout", "a fleet rollout's state, and its controls", rolloutUsage, (*app).rollout},
		{"adopt", "take instances made before this service under management", adoptUsage, (*app).adopt},
		{"reconcile", "put config.yaml's IP allowlists back in Cloudflare (allowlist drift)", reconcileUsage, (*app).reconcile},
		{"help", "this text, or a command's help", helpUsage, nil},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

const rootUsage = `mi — the operator CLI of the dedicated-instance lifecycle (Temporal workflows)

Usage:
  mi list [-state S] [-type T] [-attention]
  mi status <slug>
  mi decide <slug> retry|skip|abort|rollback|restore [-reason R] [-by LOGIN]
  mi start <operation> <slug> -issue owner/repo#N [operation flags]
  mi rollout <issue-number|workflow-id> status|pause|resume|abort|approve|retry <slug>|skip <slug> [-reason R]
  mi adopt <slug>...|-all [-by LOGIN]
  mi reconcile [-by LOGIN]
  mi help [command]

Commands:
%s
Typical night:
  mi list -attention          what needs a human
  mi status acme              what is running on acme, where it is parked and why
  mi decide acme retry        after fixing the cause (or: skip -reason R, abort, rollback, restore)

Connection (the same variables as the worker and the starter):
  TEMPORAL_ADDRESS    default 127.0.0.1:7233
  TEMPORAL_NAMESPACE  default "default"
  TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY  mTLS for a self-hosted cluster
  TEMPORAL_API_KEY    Temporal Cloud
  TEMPORAL_UI_URL     base of the Web UI links mi prints
Who you are: commands that change something take -by LOGIN (your GitHub login), default $MI_USER,
else $USER; it is recorded with the decision or request.

Exit status: 0 done, 1 error (the message says what to do), 2 usage error.
Run "mi help <command>" for a command's flags and examples.
`

const helpUsage = `Usage: mi help [command]

Prints the overview, or the help of one command (list, status, decide, start, rollout, adopt, reconcile).
`

// rootShortUsage is printed after a mistake in the command name: the lines to choose from.
func rootShortUsage() string {
	full := rootUsageText()
	end := strings.Index(full, "\nCommands:")
	return full[strings.Index(full, "Usage:"):end] + "\nRun \"mi help\" for the overview, \"mi help <command>\" for a command's flags.\n"
}

func rootUsageText() string {
	var b strings.Builder
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	return fmt.Sprintf(rootUsage, b.String())
}

// usageError is a mistake on the command line: the message, then the command's usage, exit 2.
type usageError struct {
	cmd string
	msg string
	// usage replaces the command's usage when a shorter one fits better (one operation of start).
	usage string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// run executes one command line and returns the exit status.
func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, "mi: say what to do.\n\n"+rootShortUsage())
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 {
			fmt.Fprint(a.stdout, rootUsageText())
			return exitOK
		}
		c, ok := findCommand(args[1])
		if !ok {
			fmt.Fprintf(a.stderr, "mi help: there is no command %q; the commands are %s.\n", args[1], commandNames())
			return exitUsage
		}
		fmt.Fprint(a.stdout, c.usage)
		return exitOK
	}
	c, ok := findCommand(name)
	if !ok || c.run == nil {
		fmt.Fprintf(a.stderr, "mi: there is no command %q. %s\n\n%s", name, suggest(args), rootShortUsage())
		return exitUsage
	}
	err := c.run(a, ctx, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(a.stdout, c.usage)
		return exitOK
	case errors.As(err, &ue):
		usage := c.usage
		if ue.usage != "" {
			usage = ue.usage
		}
		fmt.Fprintf(a.stderr, "mi %s: %s\n\n%s", c.name, ue.msg, usage)
		return exitUsage
	}
	fmt.Fprintf(a.stderr, "mi %s: %s\n", c.name, err)
	return exitError
}

func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

// suggest turns a likely slip (an operation or an action typed as the command) into the command
// line meant.
func suggest(args []string) string {
	name, rest := args[0], strings.Join(args[1:], " ")
	if rest == "" {
		rest = "<slug>"
	}
	if _, ok := startOps[name]; ok {
		return fmt.Sprintf("To request a %s, type: mi start %s %s -issue owner/repo#N", name, name, rest)
	}
	switch name {
	case "retry", "skip", "abort", "rollback", "restore":
		return fmt.Sprintf("To decide on a parked step, type: mi decide %s %s", rest, name)
	case "pause", "resume", "approve":
		return fmt.Sprintf("To steer a fleet rollout, type: mi rollout <issue-number> %s", name)
	case "ls":
		return "Did you mean: mi list"
	case "show", "get", "describe", "info":
		return "Did you mean: mi status " + rest
	}
	return "The commands are " + commandNames() + "."
}
