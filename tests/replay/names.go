package replay

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/sourcegraph/lifecycle/workflows"
)

// A recorded history's file name says what it covers: <WorkflowType>.r<revision>[.<path>].json,
// e.g. Create.r3.parked-retried.json. The path names what the run went through (parked, retried,
// skipped, aborted, cancelled, paused, continued, failed; "plain" for none); the histories
// recorded before revisions were named (Create.r0.json) have none.

// FileName is the file name of a history of typ at revision rev that took path.
func FileName(typ string, rev int, path string) string {
	if path == "" {
		return fmt.Sprintf("%s.r%d.json", typ, rev)
	}
	return fmt.Sprintf("%s.r%d.%s.json", typ, rev, path)
}

// ParseName reads a history's file name back; ok is false for a name not made by FileName.
func ParseName(name string) (typ string, rev int, path string, ok bool) {
	parts := strings.Split(strings.TrimSuffix(name, ".json"), ".")
	if !strings.HasSuffix(name, ".json") || len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "r") {
		return "", 0, "", false
	}
	rev, err := strconv.Atoi(parts[1][1:])
	if err != nil || rev < 0 {
		return "", 0, "", false
	}
	if len(parts) == 3 {
		if path = parts[2]; path == "" {
			return "", 0, "", false
		}
	}
	return parts[0], rev, path, true
}

// Classify reads a run's revision (its input's Revision) and the path it took from its history.
func Classify(dc converter.DataConverter, h *historypb.History) (int, string, error) {
	events := h.GetEvents()
	if len(events) == 0 {
		return 0, "", errors.New("empty history")
	}
	var in struct {
		Revision int  `json:"revision"`
		Adopt    bool `json:"adopt"` // an entity started to adopt an instance made before this service
	}
	if err := fromFirst(dc, events[0].GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
		return 0, "", fmt.Errorf("reading the input's revision: %w", err)
	}
	tags := map[string]bool{}
	if in.Adopt {
		tags["adopted"] = true
	}
	for _, ev := range events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			req := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput()
			var arg struct {
				Action string `json:"action"`
			}
			switch req.GetName() {
			case workflows.UpdateDecide, workflows.UpdateRolloutControl:
				if err := fromFirst(dc, req.GetArgs(), &arg); err != nil {
					return 0, "", fmt.Errorf("reading a %s update: %w", req.GetName(), err)
				}
				if req.GetName() == workflows.UpdateDecide {
					tags["parked"] = true
				}
			case workflows.UpdateCancel:
				arg.Action = "cancel"
			}
			switch strings.ToLower(arg.Action) {
			case workflows.ActionRetry:
				tags["retried"] = true
			case workflows.ActionSkip:
				tags["skipped"] = true
			case workflows.ActionAbort, workflows.ActionRestore:
				tags["aborted"] = true
			case workflows.ControlPause:
				tags["paused"] = true
			case "cancel":
				tags["cancelled"] = true
			}
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			// A version marker of a change whose new path deserves its own recorded history.
			m := ev.GetMarkerRecordedEventAttributes()
			if m.GetMarkerName() == "Version" {
				var id string
				if err := fromFirst(dc, m.GetDetails()["change-id"], &id); err == nil {
					if tag, ok := versionTags[id]; ok {
						tags[tag] = true
					}
				}
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			tags["continued"] = true
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
			tags["failed"] = true
		}
	}
	path := strings.Join(slices.Sorted(maps.Keys(tags)), "-")
	if path == "" {
		path = "plain"
	}
	return in.Revision, path, nil
}

// versionTags name the version markers (workflow.GetVersion change IDs) that make a path of their
// own: histories of a workflow type with and without such a change each keep a replay test.
var versionTags = map[string]string{
	"parallel-backups":  "parallelbackups",
	"project-bootstrap": "bootstrap",
	"random-project-id": "projectid",
	"honest-teardown":   "honestteardown",
	"github-writes":     "ghwrites",
	"batch-fill":        "batchfill",
	"async-publish":     "asyncpub",
	"async-comments":    "asynccomments",
}

// fromFirst decodes the first of payloads.
func fromFirst(dc converter.DataConverter, p *commonpb.Payloads, v any) error {
	if len(p.GetPayloads()) == 0 {
		return errors.New("no payload")
	}
	return dc.FromPayload(p.GetPayloads()[0], v)
}
