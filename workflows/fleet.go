package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The fleet as the config repo lists it.

// listFleet reads every instance's config.yaml from the config repo.
// From revision 1 a page at a time: a fleet of 10,000 is over the 2 MB limit on one result.
func listFleet(ctx workflow.Context, summary string) ([]activities.FleetEntry, error) {
	var fleet []activities.FleetEntry
	if revision(ctx) < RevisionLocalActivities {
		err := workflow.ExecuteActivity(withActivity(ctx, CloudCall, summary), (*activities.ConfigRepo).ListFleet).Get(ctx, &fleet)
		return fleet, withAttempts(err, ActivityOptions(CloudCall))
	}
	after := ""
	for {
		var page activities.FleetPage
		err := workflow.ExecuteActivity(withActivity(ctx, CloudCall, summary), (*activities.ConfigRepo).ListFleetPage,
			activities.FleetPageInput{After: after, Limit: activities.FleetPageSize}).Get(ctx, &page)
		if err != nil {
			return nil, withAttempts(err, ActivityOptions(CloudCall))
		}
		fleet = append(fleet, page.Entries...)
		if page.Next == "" {
			return fleet, nil
		}
		after = page.Next
	}
}

// fleetVersion is the highest valid version among the fleet's running, stable-channel
// production and trial instances ("" if none).
func fleetVersion(fleet []activities.FleetEntry) string {
	best := ""
	for _, e := range fleet {
		switch {
		case e.Error != "", e.Suspended:
			continue
		case e.ReleaseChannel != "" && e.ReleaseChannel != string(spec.Stable):
			continue
		case e.Type != string(spec.Production) && e.Type != string(spec.Trial):
			continue
		case spec.ValidateVersion("version", e.Version) != nil:
			continue
		}
		if best == "" || spec.CompareVersions(e.Version, best) > 0 {
			best = e.Version
		}
	}
	return best
}
