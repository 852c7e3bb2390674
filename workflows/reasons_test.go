package workflows

import (
	"errors"
	"strings"
	"testing"

	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// A rejection tells people a short reason and what to do; the error chain (types, URLs, status
// lines) goes to the run's details and the log.

// chainParts are what an error chain shows and an issue comment must not.
var chainParts = []string{"(type:", "retryable", "http://", "404 Not Found", "dial tcp"}

func noChain(t *testing.T, where, text string) {
	t.Helper()
	for _, p := range chainParts {
		if strings.Contains(text, p) {
			t.Errorf("%s carries the error chain (%q):\n%s", where, p, text)
		}
	}
}

// runDetails is the run's current details, as the Web UI shows them.
func runDetails(t *testing.T, env *testsuite.TestWorkflowEnvironment) string {
	t.Helper()
	v, err := env.QueryWorkflow("__temporal_workflow_metadata")
	if err != nil {
		t.Fatal(err)
	}
	var md sdkpb.WorkflowMetadata
	if err := v.Get(&md); err != nil {
		t.Fatal(err)
	}
	return md.GetCurrentDetails()
}

func TestCreateRejectionCarriesNoErrorChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"release missing", activities.Permanent(activities.ErrNotFound, "release v9.9.9 does not exist in sourcegraph/sourcegraph",
			"check the version on the issue", errors.New("GET http://127.0.0.1:8090/api/v3/repos/sourcegraph/sourcegraph/releases/tags/v9.9.9: 404 Not Found []")),
			[]string{"Sourcegraph version `9.9.9`", "has no release in sourcegraph/sourcegraph", "choose a released version"}},
		{"GitHub down", temporal.NewNonRetryableApplicationError("look up release v9.9.9 of sourcegraph/sourcegraph: network error", activities.ErrTransient,
			errors.New("Get \"http://127.0.0.1:8090/api/v3/repos/sourcegraph/sourcegraph/releases/tags/v9.9.9\": dial tcp 127.0.0.1:8090: connect: connection refused")),
			[]string{"Sourcegraph version `9.9.9`", "could not confirm the release exists: GitHub did not answer", "File the request again"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, f := newCreateEnv(t)
			f.mu.Lock()
			f.fails["GetRelease"] = tc.err
			f.mu.Unlock()
			env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, "9.9.9"))
			res := createResult(t, env)
			if res.Outcome != OutcomeRejected {
				t.Fatalf("outcome %s", res.Outcome)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.Reason, w) {
					t.Errorf("reason %q, want it to contain %q", res.Reason, w)
				}
			}
			noChain(t, "the rejection", res.Reason)
			noChain(t, "the status comment", f.comment(statusMarker))
			if d := runDetails(t, env); !strings.Contains(d, "127.0.0.1:8090") {
				t.Errorf("the run's details must keep the error chain:\n%s", d)
			}
		})
	}
}
