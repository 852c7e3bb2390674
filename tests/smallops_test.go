package tests

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// waitOp waits until the instance has finished the operation asked on the issue, and returns how.
func waitOp(t *testing.T, tc client.Client, slug string, op forms.Operation, is *github.Issue, within time.Duration) workflows.OperationRef {
	t.Helper()
	var found workflows.OperationRef
	eventually(t, within, fmt.Sprintf("%s of %s (issue #%d) to finish", op, slug, is.GetNumber()), func() bool {
		r, err := instance(t, tc, slug)
		if err != nil {
			return false
		}
		i := slices.IndexFunc(r.History, func(h workflows.OperationRef) bool {
			return h.Operation == op && h.Issue != nil && h.Issue.Number == is.GetNumber()
		})
		if i < 0 {
			return false
		}
		found = r.History[i]
		return true
	})
	return found
}

// configOf reads the instance's config.yaml from the config repo's default branch.
func configOf(t *testing.T, slug string) *spec.Config {
	t.Helper()
	fc, _, _, err := stack.GitHubAs("bob").Repositories.GetContents(context.Background(), "sourcegraph", "cloud", spec.ConfigPath("prod", slug), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fc.GetContent()
	if err != nil {
		t.Fatal(err)
	}
	c, err := spec.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSmallOperationsEndToEnd runs the small operations on a trial through their issue forms:
// reload frontend, telemetry on, IP allowlist, convert to paid, telemetry off, each checked in
// the simulator or the config repo.
func TestSmallOperationsEndToEnd(t *testing.T) {
	tc := temporalClient(t)
	const slug = "e2e-small"
	body := strings.Replace(devstack.SampleNewInstanceBody(slug), "### "+forms.FieldType+"\n\nproduction", "### "+forms.FieldType+"\n\ntrial", 1)
	fileIssue(t, "alice", forms.OpCreate, "New trial: "+slug, body)
	rec := waitState(t, tc, slug, workflows.StateActive, 90*time.Second)
	if rec.Trial == nil || rec.Instance.Type != spec.Trial {
		t.Fatalf("want an active trial, got %+v", rec)
	}
	type simInst struct {
		Slug             string `json:"slug"`
		FrontendRestarts int    `json:"frontendRestarts"`
		Telemetry        bool   `json:"telemetry"`
		Type             string `json:"type"`
	}
	simOf := func() simInst {
		var st struct {
			Instances struct {
				Instances []simInst `json:"instances"`
			} `json:"instances"`
		}
		simJSON(t, http.MethodGet, "/_sim/state", nil, &st)
		for _, in := range st.Instances.Instances {
			if in.Slug == slug {
				return in
			}
		}
		t.Fatalf("%s is not in the simulator", slug)
		return simInst{}
	}
	run := func(op forms.Operation, title, body string) {
		t.Helper()
		is := fileIssue(t, "alice", op, title, body)
		if ref := waitOp(t, tc, slug, op, is, 60*time.Second); ref.Outcome != workflows.OutcomeSucceeded {
			t.Fatalf("%s: %s (see %s)", op, ref.Outcome, ref.WorkflowID)
		}
	}

	run(forms.OpReloadFrontend, "Reload frontend: "+slug, fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\nSite config changed.\n", slug))
	if got := simOf().FrontendRestarts; got != 1 {
		t.Fatalf("frontend restarts %d, want 1", got)
	}
	run(forms.OpEnableTelemetry, "Telemetry on: "+slug, fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\n_No response_\n\n### Customer agreement\n\n- [X] %s\n", slug, forms.OptionTelemetryAgreed))
	if !simOf().Telemetry {
		t.Fatal("telemetry is still off")
	}
	run(forms.OpUpdateAllowlist, "Allowlist: "+slug, fmt.Sprintf("### Slug\n\n%s\n\n### IP allowlist\n\n192.0.2.0/24\n\n### Customer confirmation\n\n- [X] %s\n", slug, forms.OptionRangesConfirmed))
	if got := configOf(t, slug).Spec.IPAllowlist; !slices.Equal(got, []string{"192.0.2.0/24"}) {
		t.Fatalf("config.yaml allowlist %v", got)
	}
	run(forms.OpConvertTrial, "Convert to paid: "+slug, fmt.Sprintf("### Slug\n\n%s\n\n### Agreement date\n\n%s\n", slug, time.Now().UTC().Format(time.DateOnly)))
	if r, _ := instance(t, tc, slug); r.Instance.Type != spec.Production || r.Trial != nil {
		t.Fatalf("after convert: type %s, trial %+v", r.Instance.Type, r.Trial)
	}
	if got := simOf().Type; got != string(spec.Production) {
		t.Fatalf("the simulator's config says %s", got)
	}
	run(forms.OpDisableTelemetry, "Telemetry off: "+slug, fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\nThe customer withdrew their agreement.\n", slug))
	if simOf().Telemetry {
		t.Fatal("telemetry is still on")
	}
}
