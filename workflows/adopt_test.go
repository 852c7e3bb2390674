package workflows

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The fleet adoption asks every instance of the config repo once, in batches, and sorts the
// answers: newly adopted, already managed, refused (a tombstone, an unreadable config.yaml).
func TestAdoptFleetReportsWhatItAdoptedAndWhatItCouldNot(t *testing.T) {
	env, f := newOpEnv(t)
	var slugs []string
	for i := range 45 {
		slug := fmt.Sprintf("inst-%02d", i)
		slugs = append(slugs, slug)
		f.putConfig(activeConfig(slug, spec.Production, "5.9.0"))
	}
	managed := map[string]bool{"inst-03": true, "inst-30": true}
	gone := "instance `inst-07` was torn down on 2026-12-01 (sourcegraph/customer#5); file a new-instance request to create it again"
	var mu sync.Mutex
	asked := map[string]int{}
	env.RegisterActivityWithOptions(func(_ context.Context, in AdoptInput) (AdoptOutcome, error) {
		mu.Lock()
		defer mu.Unlock()
		asked[in.Slug]++
		switch {
		case in.Slug == "inst-07":
			return AdoptOutcome{Slug: in.Slug, Refused: gone}, nil
		case managed[in.Slug]:
			return AdoptOutcome{Slug: in.Slug, State: StateActive}, nil
		}
		return AdoptOutcome{Slug: in.Slug, State: StateActive, New: true}, nil
	}, activity.RegisterOptions{Name: "Adopt"})
	env.ExecuteWorkflow(AdoptFleet, AdoptFleetInput{By: "carol", Revision: CurrentRevision})
	var res AdoptFleetResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(slugs), func(s string) bool { return managed[s] || s == "inst-07" })
	if res.Listed != 45 || res.Managed != 2 || !slices.Equal(res.Adopted, want) {
		t.Errorf("listed %d, managed %d, adopted %v", res.Listed, res.Managed, res.Adopted)
	}
	if len(res.Refused) != 1 || res.Refused[0].Slug != "inst-07" || res.Refused[0].Refused != gone {
		t.Errorf("refused %+v", res.Refused)
	}
	for _, s := range slugs {
		if asked[s] != 1 {
			t.Errorf("%s asked %d times, want once", s, asked[s])
		}
	}
}
