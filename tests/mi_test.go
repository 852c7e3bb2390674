package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// runMi runs the mi binary against the stack as carol and returns its exit status and output.
func runMi(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(stack.Opts.BinDir, "mi"), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "LIFECYCLE_") && !strings.HasPrefix(kv, "MI_USER=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TEMPORAL_ADDRESS="+stack.TemporalAddr(), "TEMPORAL_NAMESPACE=default", "TEMPORAL_UI_URL="+stack.UIURL(), "MI_USER=carol",
		"LIFECYCLE_CODEC_KEYS_FILE="+stack.CodecKeysFile(), "GITHUB_TOKEN="+stack.GitHub().Token, "GITHUB_API_URL="+stack.GitHub().APIURL)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("mi %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errb.String()
}

// miOK runs mi and fails the test unless it exits 0.
func miOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errText := runMi(t, args...)
	if code != 0 {
		t.Fatalf("mi %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errText)
	}
	return out
}

// TestMiOperatorCLI drives the mi binary against the real stack: a break-glass request for an
// instance made before this service is answered clearly; an instance created through its issue
// is listed and shown; a break-glass suspend parks on an injected Backup for GKE fault, is shown
// parked, and a retry decision from mi finishes it.
func TestMiOperatorCLI(t *testing.T) {
	tc := temporalClient(t)

	// An instance made before this service is adopted by its first request of any kind, from its
	// config.yaml (on the pause channel, so that TestFleetUpgradeEndToEnd's rollouts of the shared
	// config repo leave it out).
	simJSON(t, http.MethodPost, "/_sim/fleet", strings.NewReader(`{"instances":[{"slug":"mi-a","version":"5.9.0","type":"internal","releaseChannel":"pause"}]}`), nil)
	// An issue that does not exist is refused before anything starts.
	code, _, errText := runMi(t, "start", "reload-frontend", "mi-a", "-issue", "sourcegraph/customer#9999")
	if code != 1 || !strings.Contains(errText, "issue sourcegraph/customer#9999 does not exist") {
		t.Errorf("mi start on an issue that does not exist: exit %d, stderr %q", code, errText)
	}
	adoptIssue, _, err := stack.GitHubAs("carol").Issues.Create(context.Background(), devstack.SampleOwner, devstack.SampleRepo,
		&github.IssueRequest{Title: github.String("Reload mi-a (mi)")})
	if err != nil {
		t.Fatal(err)
	}
	miOK(t, "start", "reload-frontend", "mi-a", "-issue", fmt.Sprint(adoptIssue.GetNumber()))
	adopted := waitState(t, tc, "mi-a", workflows.StateActive, 2*time.Minute)
	if adopted.AdoptedAt.IsZero() || adopted.Instance.Type != spec.Internal || adopted.Instance.Version != "5.9.0" ||
		len(adopted.History) != 1 || adopted.History[0].Operation != forms.OpReloadFrontend || adopted.History[0].Outcome != workflows.OutcomeSucceeded {
		t.Errorf("adopted mi-a: %+v", adopted)
	}
	// mi adopt takes an instance under management without an operation, and is idempotent.
	simJSON(t, http.MethodPost, "/_sim/fleet", strings.NewReader(`{"instances":[{"slug":"mi-b","version":"5.9.0","type":"production","releaseChannel":"pause"}]}`), nil)
	if out := miOK(t, "adopt", "mi-b", "mi-a"); !strings.Contains(out, "mi-b: adopted (active, production at 5.9.0)") || !strings.Contains(out, "mi-a: already managed (active)") {
		t.Errorf("mi adopt mi-b mi-a:\n%s", out)
	}
	if out := miOK(t, "adopt", "mi-b"); !strings.Contains(out, "mi-b: already managed (active)") {
		t.Errorf("mi adopt mi-b again:\n%s", out)
	}
	// A slug with no config.yaml has nothing to adopt: refused, and nothing is left running.
	code, _, errText = runMi(t, "start", "suspend", "mi-nosuch", "-reason", "x", "-issue", fmt.Sprint(adoptIssue.GetNumber()))
	if code != 1 || !strings.Contains(errText, "there is no instance `mi-nosuch` managed here") {
		t.Errorf("mi start suspend of an unknown slug: exit %d, stderr %q", code, errText)
	}
	// Mistakes exit 2 and say what to type, before reaching Temporal.
	if code, _, errText := runMi(t, "start", "suspend", "mi-a", "-reason", "x"); code != 2 || !strings.Contains(errText, "-issue owner/repo#N is required") {
		t.Errorf("mi start without -issue: exit %d, stderr %q", code, errText)
	}

	// An instance made by the lifecycle.
	const slug = "mi-life"
	create := fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, devstack.SampleNewInstanceBody(slug))
	waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)

	row := regexp.MustCompile(`(?m)^mi-life\s+production\s+active\s+` + regexp.QuoteMeta(devstack.LatestVersion) + `\s+-\s+-\s*$`)
	var out string
	eventually(t, 20*time.Second, "mi list to show mi-life active", func() bool {
		out = miOK(t, "list")
		return row.MatchString(out)
	})
	if out := miOK(t, "list", "-state", "suspended"); strings.Contains(out, slug) {
		t.Errorf("mi list -state suspended shows the active %s:\n%s", slug, out)
	}
	out = miOK(t, "status", slug)
	for _, want := range []string{"Instance mi-life: active", "production, mi-life.sourcegraphcloud.com", devstack.LatestVersion,
		"No operation is running.", "create  succeeded", fmt.Sprintf("sourcegraph/customer#%d", create.GetNumber())} {
		if !strings.Contains(out, want) {
			t.Errorf("mi status %s lacks %q:\n%s", slug, want, out)
		}
	}

	// A break-glass suspend on its own (unlabelled) issue parks on a Backup for GKE fault that
	// fires once.
	audit, _, err := stack.GitHubAs("carol").Issues.Create(context.Background(), devstack.SampleOwner, devstack.SampleRepo,
		&github.IssueRequest{Title: github.String("Break-glass suspend of " + slug + " (mi)"), Body: github.String("On-call suspends it with mi.")})
	if err != nil {
		t.Fatal(err)
	}
	simJSON(t, http.MethodPost, "/_sim/faults", strings.NewReader(`{"api":"gkebackup","method":"CreateBackup","match":"`+spec.ProjectID(slug)+
		`","status":403,"message":"backups.create denied (injected)","count":1}`), nil)
	t.Cleanup(func() { simJSON(t, http.MethodDelete, "/_sim/faults", nil, nil) })
	issue := fmt.Sprintf("sourcegraph/customer#%d", audit.GetNumber())
	out = miOK(t, "start", "suspend", slug, "-reason", "break-glass test", "-issue", issue)
	suspendID := workflows.OperationWorkflowID(forms.OpSuspend, slug, workflows.IssueKey(workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: audit.GetNumber()}))
	if !strings.Contains(out, "suspend of `mi-life` started") || !strings.Contains(out, suspendID) {
		t.Errorf("mi start suspend printed:\n%s", out)
	}
	// Who asked, through mi, and why are on the issue.
	var audited bool
	for _, c := range botComments(t, audit.GetNumber()) {
		audited = audited || strings.Contains(c.GetBody(), "Requested by @carol via `mi start`") && strings.Contains(c.GetBody(), "**Reason:** break-glass test")
	}
	if !audited {
		t.Errorf("mi start left no comment saying who asked and why on %s", issue)
	}
	eventually(t, 30*time.Second, "the suspend to park", func() bool {
		p, err := progressOf(t, tc, suspendID)
		return err == nil && p.Parked != nil
	})
	out = miOK(t, "status", slug)
	for _, want := range []string{"Instance mi-life: suspending", "Running: suspend (" + suspendID + "), requested by @carol on " + issue,
		`Parked on step "backups"`, "backups.create denied (injected)", "mi decide mi-life retry", "mi decide mi-life abort"} {
		if !strings.Contains(out, want) {
			t.Errorf("mi status of the parked suspend lacks %q:\n%s", want, out)
		}
	}
	eventually(t, 20*time.Second, "mi list -attention to show the parked suspend", func() bool {
		return regexp.MustCompile(`(?m)^mi-life\s.*parked \(suspend\)`).MatchString(miOK(t, "list", "-attention"))
	})
	if code, _, errText := runMi(t, "decide", slug, "skip"); code != 2 || !strings.Contains(errText, "a skip needs a reason") {
		t.Errorf("mi decide skip without a reason: exit %d, %q", code, errText)
	}
	if code, _, errText := runMi(t, "decide", slug, "restore"); code != 1 || !strings.Contains(errText, "refused the restore") {
		t.Errorf("mi decide restore on a suspend: exit %d, %q", code, errText)
	}
	out = miOK(t, "decide", slug, "retry")
	if !strings.Contains(out, `retry accepted for step "backups" (by @carol`) {
		t.Errorf("mi decide retry printed:\n%s", out)
	}
	r := waitState(t, tc, slug, workflows.StateSuspended, time.Minute)
	if p, _ := progressOf(t, tc, suspendID); len(p.Decisions) != 1 || p.Decisions[0].By != "carol" || p.Decisions[0].Step != "backups" {
		t.Errorf("decisions on the suspend: %+v", p.Decisions)
	}
	if r.Current != nil || r.History[len(r.History)-1].Requester != "carol" {
		t.Errorf("record after the suspend: %+v", r)
	}
	out = miOK(t, "status", slug)
	if !strings.Contains(out, "Instance mi-life: suspended") || !strings.Contains(out, "Cloud SQL run") {
		t.Errorf("mi status after the suspend:\n%s", out)
	}
	// The instance's own validator answers a request that does not fit.
	code, _, errText = runMi(t, "start", "suspend", slug, "-reason", "again", "-issue", fmt.Sprintf("sourcegraph/customer#%d", create.GetNumber()))
	if code != 1 || !strings.Contains(errText, "instance mi-life refused the suspend: `mi-life` is already suspended") {
		t.Errorf("a second suspend: exit %d, %q", code, errText)
	}
	if code, _, errText := runMi(t, "rollout", "999999"); code != 1 || !strings.Contains(errText, "there is no rollout upgrade-fleet/sourcegraph/customer/999999") {
		t.Errorf("mi rollout of an unknown issue: exit %d, %q", code, errText)
	}
}

// TestMiFindsTheLocalKeyRing: on the local stack, mi run from the repository (or below it) reads
// the stack's key ring from .local/codec.keys without LIFECYCLE_CODEC_KEYS_FILE being set.
func TestMiFindsTheLocalKeyRing(t *testing.T) {
	root := t.TempDir()
	ring, err := os.ReadFile(stack.CodecKeysFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, ".local"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".local", "codec.keys"), ring, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "starter")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{root, sub} {
		cmd := exec.Command(filepath.Join(stack.Opts.BinDir, "mi"), "list")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "LIFECYCLE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "TEMPORAL_ADDRESS="+stack.TemporalAddr())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("mi list in %s without LIFECYCLE_CODEC_KEYS_FILE: %v\n%s", dir, err, out)
		}
	}
}
