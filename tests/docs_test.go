package tests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	"github.com/yuin/goldmark"
	gast "github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/codec"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// testedInfo marks a fenced block whose every command TestDocumentedCommands runs (docs/operating.md
// describes the convention).
const testedInfo = "sh tested"

// documentedCommands returns the commands of a Markdown file's tested blocks, in order: one per
// line, a line ending in a backslash joined with the next, blank lines and comments left out.
func documentedCommands(t *testing.T, path string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := goldmark.New().Parser().Parse(text.NewReader(src))
	var cmds []string
	err = gast.Walk(doc, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
		fb, ok := n.(*gast.FencedCodeBlock)
		if !entering || !ok || fb.Info == nil || strings.TrimSpace(string(fb.Info.Segment.Value(src))) != testedInfo {
			return gast.WalkContinue, nil
		}
		var cur string
		for i := 0; i < fb.Lines().Len(); i++ {
			seg := fb.Lines().At(i)
			line := strings.TrimRight(string(seg.Value(src)), "\n")
			if cont, ok := strings.CutSuffix(line, "\\"); ok {
				cur += cont
				continue
			}
			cur += line
			if c := strings.TrimSpace(cur); c != "" && !strings.HasPrefix(c, "#") {
				cmds = append(cmds, c)
			}
			cur = ""
		}
		return gast.WalkSkipChildren, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cmds
}

// ciphertext is what a payload looks like to a client without the key ring (or the codec
// endpoint): its encoding, in clear or base64.
var ciphertext = regexp.MustCompile(regexp.QuoteMeta(codec.EncodingEncrypted) + "|" + regexp.QuoteMeta(codec.MetadataKeyID) + "|YmluYXJ5L2VuY3J5cHRlZA")

// failure is how the Temporal CLI and mi report an error.
var failure = regexp.MustCompile(`(?m)level=ERROR|^Error:|\bERROR\b`)

// TestDocumentedCommands runs every command of the README's and docs/operating.md's tested blocks
// against the stack, as on-call would type them after `make demo`: from a folder laid out like
// the repository (bin/ with the binaries, .local/codec.keys), with the documented ports and issue
// number replaced by this stack's. It first makes what the commands act on: the instance acme,
// and a break-glass suspend of it (issue #42 in the text) parked on its backups step. A command
// fails the test when it exits non-zero, prints an error or prints a payload still encrypted; the
// one decision the commands send must be applied exactly once.
func TestDocumentedCommands(t *testing.T) {
	var cmds []string
	for _, f := range []string{"../README.md", "../docs/operating.md"} {
		c := documentedCommands(t, f)
		if len(c) == 0 {
			t.Fatalf("%s has no %q block: the test would prove nothing", f, testedInfo)
		}
		cmds = append(cmds, c...)
	}

	tc := temporalClient(t)
	const slug = "acme"
	fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, devstack.SampleNewInstanceBody(slug))
	waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)
	audit, _, err := stack.GitHubAs("carol").Issues.Create(context.Background(), devstack.SampleOwner, devstack.SampleRepo,
		&github.IssueRequest{Title: github.String("Break-glass suspend of " + slug), Body: github.String("Unpaid invoice.")})
	if err != nil {
		t.Fatal(err)
	}
	simJSON(t, http.MethodPost, "/_sim/faults", strings.NewReader(`{"api":"gkebackup","method":"CreateBackup","match":"`+spec.ProjectID(slug)+
		`","status":403,"message":"backups.create denied (injected)","count":1}`), nil)
	t.Cleanup(func() { simJSON(t, http.MethodDelete, "/_sim/faults", nil, nil) })
	miOK(t, "start", "suspend", slug, "-reason", "unpaid invoice", "-issue", fmt.Sprintf("sourcegraph/customer#%d", audit.GetNumber()))
	suspendID := workflows.OperationWorkflowID(forms.OpSuspend, slug, workflows.IssueKey(workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: audit.GetNumber()}))
	eventually(t, 60*time.Second, "the suspend to park", func() bool {
		p, err := progressOf(t, tc, suspendID)
		return err == nil && p.Parked != nil && p.Parked.Step == "backups"
	})
	eventually(t, 20*time.Second, "the visibility store to show acme needing attention", func() bool {
		return regexp.MustCompile(`(?m)^acme\s`).MatchString(miOK(t, "list", "-attention"))
	})

	// A folder like the repository after `make demo`.
	root := t.TempDir()
	for _, d := range []string{"bin", ".local"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"temporal": stack.Opts.Temporal, "mi": filepath.Join(stack.Opts.BinDir, "mi")} {
		if err := os.Symlink(target, filepath.Join(root, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}
	ring, err := os.ReadFile(stack.CodecKeysFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".local", "codec.keys"), ring, 0o600); err != nil {
		t.Fatal(err)
	}
	defaults := devstack.Defaults(root)
	replace := []string{
		"sourcegraph/customer/42", "sourcegraph/customer/" + strconv.Itoa(audit.GetNumber()),
		"sourcegraph/customer#42", "sourcegraph/customer#" + strconv.Itoa(audit.GetNumber()),
	}
	for _, p := range [][2]int{{defaults.TemporalPort, stack.Opts.TemporalPort}, {defaults.UIPort, stack.Opts.UIPort},
		{defaults.StarterPort, stack.Opts.StarterPort}, {defaults.WorkerPort, stack.Opts.WorkerPort},
		{defaults.SimPort, stack.Opts.SimPort}, {defaults.SimGRPCPort, stack.Opts.SimGRPCPort}} {
		for _, host := range []string{"127.0.0.1", "localhost"} {
			replace = append(replace, fmt.Sprintf("%s:%d", host, p[0]), fmt.Sprintf("%s:%d", host, p[1]))
		}
	}
	subst := strings.NewReplacer(replace...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "LIFECYCLE_") && !strings.HasPrefix(kv, "MI_USER=") {
			env = append(env, kv)
		}
	}
	// The documented commands use the default address; this stack's is elsewhere.
	env = append(env, "TEMPORAL_ADDRESS="+stack.TemporalAddr())

	for _, doc := range cmds {
		run := subst.Replace(doc)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "sh", "-c", run)
		cmd.Dir, cmd.Env = root, env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		cancel()
		all := out.String() + errb.String()
		shown := all
		if len(shown) > 2000 {
			shown = shown[:2000] + "…"
		}
		switch {
		case err != nil:
			t.Errorf("documented command failed (%v):\n  %s\nran as:\n  %s\n%s", err, doc, run, shown)
		case failure.MatchString(all):
			t.Errorf("documented command printed an error:\n  %s\n%s", doc, shown)
		case ciphertext.MatchString(all):
			t.Errorf("documented command printed encrypted payloads (a codec endpoint or key ring is missing):\n  %s\n%s", doc, shown)
		default:
			t.Logf("ok: %s", doc)
		}
	}

	// The documents' decision on the parked step was applied once, and the suspend finished.
	waitState(t, tc, slug, workflows.StateSuspended, time.Minute)
	if p, err := progressOf(t, tc, suspendID); err != nil || len(p.Decisions) != 1 {
		t.Errorf("decisions on %s after the documented commands: %+v (%v); want exactly one", suspendID, p.Decisions, err)
	}
}
