package workflows

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// driftEnv is a test environment with a fleet of three (acme with an allowlist, open without one,
// broken with an unreadable config.yaml) and Cloudflare answering drift from the given function.
type driftEnv struct {
	env    *testsuite.TestWorkflowEnvironment
	issues []activities.DriftIssueInput
	sets   []activities.SetAllowlistInput
	notes  []string
}

func newDriftEnv(t *testing.T, drift func(call int, want map[string][]string) []activities.AllowlistDrift) *driftEnv {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	d := &driftEnv{env: s.NewTestWorkflowEnvironment()}
	d.env.RegisterWorkflowWithOptions(CheckAllowlistDrift, workflow.RegisterOptions{Name: WorkflowCheckAllowlistDrift})
	d.env.RegisterWorkflowWithOptions(ReconcileAllowlists, workflow.RegisterOptions{Name: WorkflowReconcileAllowlists})
	d.env.RegisterActivityWithOptions(func(_ context.Context, _ activities.FleetPageInput) (activities.FleetPage, error) {
		return activities.FleetPage{Entries: []activities.FleetEntry{
			{Slug: "acme", IPAllowlist: []string{"203.0.113.0/24"}},
			{Slug: "broken", Error: "yaml: line 3"},
			{Slug: "open", Domain: "open.example.com"},
		}}, nil
	}, activity.RegisterOptions{Name: "ListFleetPage"})
	calls := 0
	d.env.RegisterActivityWithOptions(func(_ context.Context, in activities.CheckAllowlistsInput) (activities.CheckAllowlistsOutput, error) {
		calls++
		return activities.CheckAllowlistsOutput{Drift: drift(calls, in.Want)}, nil
	}, activity.RegisterOptions{Name: "CheckAllowlists"})
	d.env.RegisterActivityWithOptions(func(_ context.Context, in activities.DriftIssueInput) (activities.DriftIssueResult, error) {
		d.issues = append(d.issues, in)
		if in.Body == "" {
			return activities.DriftIssueResult{Number: 7, Action: "closed"}, nil
		}
		return activities.DriftIssueResult{Number: 7, Action: "created"}, nil
	}, activity.RegisterOptions{Name: "EnsureDriftIssue"})
	d.env.RegisterActivityWithOptions(func(_ context.Context, in activities.SetAllowlistInput) (activities.SetAllowlistOutput, error) {
		d.sets = append(d.sets, in)
		return activities.SetAllowlistOutput{Changed: true}, nil
	}, activity.RegisterOptions{Name: "SetAllowlist"})
	d.env.RegisterActivityWithOptions(func(_ context.Context, in activities.UpsertCommentInput) (activities.CommentResult, error) {
		d.notes = append(d.notes, in.Body)
		return activities.CommentResult{ID: 1, Action: "created"}, nil
	}, activity.RegisterOptions{Name: "UpsertComment"})
	return d
}

var acmeHost = spec.DefaultDomain("acme")

// someDrift: acme's rule is gone, and rules are left for a hostname no config.yaml lists and for
// the unreadable instance's default hostname (which must not be reported: its config may list it).
func someDrift(_ int, want map[string][]string) []activities.AllowlistDrift {
	return []activities.AllowlistDrift{
		{Host: acmeHost, Want: append([]string{"192.0.2.0/24"}, want[acmeHost]...), Reason: "allowlist rule missing"},
		{Host: spec.DefaultDomain("broken"), Have: []string{"198.51.100.0/24"}, Reason: "allowlist rule for a hostname config.yaml does not list as active"},
		{Host: "gone.example.com", Have: []string{"198.51.100.0/24"}, Reason: "allowlist rule for a hostname config.yaml does not list as active"},
	}
}

// The check reads each instance's wanted allowlist from config.yaml (hostname from its domain, or
// the default), and reports the drift on one issue: each instance and what differs, and how to fix.
func TestCheckAllowlistDriftReportsEachInstance(t *testing.T) {
	var asked map[string][]string
	d := newDriftEnv(t, func(call int, want map[string][]string) []activities.AllowlistDrift {
		asked = want
		return someDrift(call, want)
	})
	d.env.ExecuteWorkflow(CheckAllowlistDrift, DriftInput{Repo: "sourcegraph/customer", Revision: CurrentRevision})
	if err := d.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 2 || !slices.Equal(asked[acmeHost], []string{"203.0.113.0/24"}) || asked["open.example.com"] != nil {
		t.Fatalf("asked Cloudflare about %v, want acme's ranges and open's hostname without", asked)
	}
	if len(d.issues) != 1 {
		t.Fatalf("issue calls = %+v", d.issues)
	}
	in := d.issues[0]
	if in.Owner != "sourcegraph" || in.Repo != "customer" || in.Label != DriftLabel || in.Title != DriftIssueTitle {
		t.Errorf("issue = %+v", in)
	}
	for _, want := range []string{"`acme`", acmeHost, "allowlist rule missing", "missing 192.0.2.0/24, 203.0.113.0/24", "gone.example.com",
		"not in config.yaml 198.51.100.0/24", "cannot be read", "broken", "`/reconcile`", "`mi reconcile`"} {
		if !strings.Contains(in.Body, want) {
			t.Errorf("drift issue body lacks %q:\n%s", want, in.Body)
		}
	}
	if strings.Contains(in.Body, spec.DefaultDomain("broken")) {
		t.Errorf("the unreadable instance's hostname is reported as drift:\n%s", in.Body)
	}
	var res DriftResult
	if err := d.env.GetWorkflowResult(&res); err != nil || res.Checked != 2 || len(res.Drift) != 2 || res.Issue.Number != 7 {
		t.Fatalf("result %+v, %v", res, err)
	}
}

// No drift: the open issue, if any, is closed with a comment saying so.
func TestCheckAllowlistDriftClosesTheIssueWhenClean(t *testing.T) {
	d := newDriftEnv(t, func(int, map[string][]string) []activities.AllowlistDrift { return nil })
	d.env.ExecuteWorkflow(CheckAllowlistDrift, DriftInput{Repo: "sourcegraph/customer", Revision: CurrentRevision})
	if err := d.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(d.issues) != 1 || d.issues[0].Body != "" || !strings.Contains(d.issues[0].CloseComment, "No drift any more") {
		t.Fatalf("issue calls = %+v", d.issues)
	}
}

// A reconcile puts config.yaml's ranges back on each drifted hostname, leaves a rule of an unlisted
// hostname while some config.yaml is unreadable, comments its result, and checks again (closing
// the issue when clean).
func TestReconcileAllowlistsRepairsAndChecksAgain(t *testing.T) {
	d := newDriftEnv(t, func(call int, want map[string][]string) []activities.AllowlistDrift {
		if call > 1 {
			return nil
		}
		return someDrift(call, want)
	})
	d.env.ExecuteWorkflow(ReconcileAllowlists, ReconcileInput{Repo: "sourcegraph/customer", Issue: 7, By: "@alice", Revision: CurrentRevision})
	if err := d.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(d.sets) != 1 || d.sets[0].Host != acmeHost || !slices.Equal(d.sets[0].CIDRs, []string{"203.0.113.0/24"}) {
		t.Fatalf("SetAllowlist calls = %+v, want acme's config.yaml ranges only", d.sets)
	}
	if len(d.notes) != 1 || !strings.Contains(d.notes[0], "@alice") || !strings.Contains(d.notes[0], "1 repaired") || !strings.Contains(d.notes[0], "gone.example.com") {
		t.Fatalf("result comments = %q", d.notes)
	}
	if len(d.issues) != 1 || d.issues[0].Body != "" {
		t.Fatalf("the check after must close the issue: %+v", d.issues)
	}
	var res ReconcileResult
	if err := d.env.GetWorkflowResult(&res); err != nil || len(res.Repaired) != 1 || len(res.Skipped) != 1 || res.After.Issue.Action != "closed" {
		t.Fatalf("result %+v, %v", res, err)
	}
}

// A fleet's worth of drift stays under GitHub's 65,536 characters: the first hostnames in detail,
// the rest counted.
func TestDriftBodyStaysUnderGitHubsLimit(t *testing.T) {
	var drift []activities.AllowlistDrift
	w := driftWant{slugOf: map[string]string{}}
	for i := range 5000 {
		var have []string
		for j := range 40 {
			have = append(have, fmt.Sprintf("10.%d.%d.0/24", i%250, j))
		}
		drift = append(drift, activities.AllowlistDrift{Host: fmt.Sprintf("host-%04d.sourcegraph.com", i), Have: have, Reason: "allowlist ranges differ"})
	}
	for i := range 3000 {
		w.unreadable = append(w.unreadable, fmt.Sprintf("broken-%d", i))
	}
	body := driftBody(drift, w)
	if len(body) > 65536 {
		t.Fatalf("body is %d characters", len(body))
	}
	if !strings.Contains(body, "more hostname(s)") || !strings.Contains(body, "`/reconcile`") {
		t.Fatalf("body must count the rest and say how to fix:\n%s", body[len(body)-600:])
	}
}
