package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
)

// HistoryCost is what a rollout wrote to Temporal, from the visibility store.
type HistoryCost struct {
	// PerUpgrade is every event the rollout caused (its own runs, the upgrade workflows, the
	// instance workflows) over the instances upgraded.
	PerUpgrade float64 `json:"eventsPerUpgrade"`
	// The parts: an upgrade workflow's history, an instance workflow's, the rollout's share.
	Upgrade  float64 `json:"upgradeWorkflow"`
	Instance float64 `json:"instanceWorkflow"`
	Rollout  float64 `json:"rolloutShare"`
	// Largest is the longest single history (a rollout run, usually) and LargestBytes the biggest.
	Largest          int64   `json:"largestEvents"`
	LargestID        string  `json:"largestWorkflow"`
	LargestBytes     int64   `json:"largestBytes"`
	LargestBytesID   string  `json:"largestBytesWorkflow"`
	LargestEventsPct float64 `json:"largestEventsPctOfLimit"`
	LargestBytesPct  float64 `json:"largestBytesPctOfLimit"`
	Workflows        int     `json:"workflows"`
	Events           int64   `json:"events"`
}

// historyCost lists every workflow run in the namespace (each stack is fresh, so all of them are
// this rollout's) and adds up their history lengths.
func historyCost(ctx context.Context, tc client.Client, upgraded int) (HistoryCost, error) {
	var h HistoryCost
	var byType = map[string]int64{}
	var counts = map[string]int{}
	var token []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1000, NextPageToken: token})
		if err != nil {
			return h, fmt.Errorf("listing workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			if e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING && e.GetHistoryLength() == 0 {
				// Running workflows' lengths are only in their description.
				d, err := tc.DescribeWorkflowExecution(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId())
				if err != nil {
					return h, err
				}
				e = d.GetWorkflowExecutionInfo()
			}
			n, b, id, typ := e.GetHistoryLength(), e.GetHistorySizeBytes(), e.GetExecution().GetWorkflowId(), e.GetType().GetName()
			h.Workflows++
			h.Events += n
			byType[typ] += n
			counts[typ]++
			if n > h.Largest {
				h.Largest, h.LargestID = n, id
			}
			if b > h.LargestBytes {
				h.LargestBytes, h.LargestBytesID = b, id
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	if upgraded == 0 {
		return h, fmt.Errorf("nothing was upgraded")
	}
	u := float64(upgraded)
	h.Upgrade, h.Instance, h.Rollout = float64(byType["Upgrade"])/u, float64(byType["InstanceLifecycle"])/u, float64(byType["FleetUpgrade"])/u
	h.PerUpgrade = h.Upgrade + h.Instance + h.Rollout
	h.LargestEventsPct = 100 * float64(h.Largest) / HistoryEventLimit
	h.LargestBytesPct = 100 * float64(h.LargestBytes) / HistoryBytesLimit
	return h, nil
}

// activityCalls are the activity types one workflow called, in order: activities and local
// activities (whose markers are decoded with the stack's data converter, as they are encrypted).
func activityCalls(ctx context.Context, s *devstack.Stack, tc client.Client, id string) ([]string, error) {
	opts, err := s.ClientOptions()
	if err != nil {
		return nil, err
	}
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var calls []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", id, err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			calls = append(calls, a.GetActivityType().GetName())
		}
		if m := e.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "LocalActivity" {
			var la struct{ ActivityType string }
			if err := opts.DataConverter.FromPayloads(m.GetDetails()["data"], &la); err != nil {
				return nil, fmt.Errorf("local activity marker in %s: %w", id, err)
			}
			calls = append(calls, la.ActivityType)
		}
	}
	return calls, nil
}

// checkServed checks in the simulator that every instance serves version: the rollout did the
// work it reports.
func checkServed(ctx context.Context, s *devstack.Stack, slugs []string, version string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.SimURL()+"/_sim/state", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st struct {
		Instances struct {
			Instances []struct {
				Slug, ServedVersion string
			} `json:"instances"`
		} `json:"instances"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("reading the simulator's state: %w", err)
	}
	served := map[string]string{}
	for _, in := range st.Instances.Instances {
		served[in.Slug] = in.ServedVersion
	}
	for _, slug := range slugs {
		if served[slug] != version {
			return fmt.Errorf("%s serves %q in the simulator, not %s", slug, served[slug], version)
		}
	}
	return nil
}
