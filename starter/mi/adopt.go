package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

const adoptUsage = `Usage: mi adopt <slug>... [-by LOGIN]
       mi adopt -all [-by LOGIN]

Takes instances made before this service under management, from their config.yaml in the config
repo: each instance's workflow starts and reads the file (type, version, region, size, suspended
or active). No operation runs. It is idempotent: an instance already managed only answers its
state, and a torn-down instance is never brought back. Any request for an instance (an issue
form, mi start, a rollout) adopts it too; this adopts ahead of time, and says what it could not.

Flags:
  -all        every instance of the config repo (runs the AdoptFleet workflow, visible in the
              Web UI as adopt-fleet, and waits for its report)
  -by LOGIN   who adopts, your GitHub login (default $MI_USER, else $USER)

Examples:
  mi adopt acme globex
  mi adopt -all
`

// adoptFleetTimeout bounds the wait for the fleet adoption's report (the workflow goes on).
const adoptFleetTimeout = 30 * time.Minute

func (a *app) adopt(ctx context.Context, args []string) error {
	fs := newFlags("adopt")
	all := fs.Bool("all", false, "")
	by := fs.String("by", "", "")
	slugs, err := parseArgs("adopt", fs, args)
	if err != nil {
		return err
	}
	switch {
	case *all && len(slugs) > 0:
		return usagef("adopt", "give slugs or -all, not both")
	case !*all && len(slugs) == 0:
		return usagef("adopt", "name the instances to adopt (mi adopt acme globex), or -all for the whole config repo")
	}
	for _, s := range slugs {
		if err := spec.ValidateSlug("slug", s); err != nil {
			return usagef("adopt", "%v", err)
		}
	}
	who := a.who(*by)
	if who == "" {
		return usagef("adopt", "say who adopts: add -by <your GitHub login>, or set MI_USER")
	}
	tc, closeFn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	if *all {
		return a.adoptFleet(ctx, tc, who)
	}
	failed := 0
	for _, slug := range slugs {
		uctx, cancel := context.WithTimeout(ctx, updateTimeout)
		ans, err := workflows.AdoptInstance(uctx, tc, slug, who, fmt.Sprintf("mi/adopt/%s/%d", who, a.now().UnixNano()))
		cancel()
		var refused *workflows.Refused
		switch {
		case errors.As(err, &refused):
			failed++
			fmt.Fprintf(a.stdout, "%s: not adopted: %s\n", slug, refused.Reason)
		case err != nil:
			return callError("adopting "+slug, err)
		case ans.New:
			fmt.Fprintf(a.stdout, "%s: adopted (%s, %s at %s)\n", slug, ans.Record.State, ans.Record.Instance.Type, ans.Record.Instance.Version)
		default:
			fmt.Fprintf(a.stdout, "%s: already managed (%s)\n", slug, ans.Record.State)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d instances could not be adopted (reasons above)", failed, len(slugs))
	}
	return nil
}

// adoptFleet runs the AdoptFleet workflow (one at a time: a second mi adopt -all joins the
// running one) and prints its report.
func (a *app) adoptFleet(ctx context.Context, tc temporalAPI, by string) error {
	settings, err := a.settingsFor(workflows.Settings{})
	if err != nil {
		return err
	}
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.AdoptFleetWorkflowID, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            "adopt the fleet (mi, by @" + by + ")",
	}, workflows.WorkflowAdoptFleet, workflows.AdoptFleetInput{By: by, Settings: settings, Revision: workflows.CurrentRevision})
	if err != nil {
		return callError("starting the fleet adoption", err)
	}
	fmt.Fprintf(a.stdout, "Adopting the fleet: %s\n", a.tcfg.WorkflowURL(workflows.AdoptFleetWorkflowID))
	wctx, cancel := context.WithTimeout(ctx, adoptFleetTimeout)
	defer cancel()
	var res workflows.AdoptFleetResult
	if err := run.Get(wctx, &res); err != nil {
		return callError("waiting for the fleet adoption (it goes on; see the link above)", err)
	}
	fmt.Fprintf(a.stdout, "%d instances in the config repo: %d adopted, %d already managed, %d not adopted.\n",
		res.Listed, len(res.Adopted), res.Managed, len(res.Refused))
	if len(res.Adopted) > 0 {
		fmt.Fprintf(a.stdout, "Adopted: %s\n", strings.Join(res.Adopted, ", "))
	}
	for _, r := range res.Refused {
		fmt.Fprintf(a.stdout, "Not adopted: %s: %s\n", r.Slug, r.Refused)
	}
	if len(res.Refused) > 0 {
		return fmt.Errorf("%d instances could not be adopted (reasons above)", len(res.Refused))
	}
	return nil
}
