package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/workflows"
)

const reconcileUsage = `Usage: mi reconcile [-by LOGIN]

Puts config.yaml's IP allowlist back in Cloudflare on every hostname whose WAF rule differs (the
allowlist drift issue lists them; docs/operating.md "Allowlist drift"), the same as /reconcile on
that issue: it runs the ReconcileAllowlists workflow, which reads the drift afresh, repairs each
hostname, checks again and closes the drift issue when nothing differs. It waits for the result.
LIFECYCLE_DRIFT_REPO names the drift issue's repository (default sourcegraph/customer).

Flags:
  -by LOGIN   who asks, your GitHub login (default $MI_USER, else $USER)

Example:
  mi reconcile -by carol
`

// reconcileTimeout bounds the wait for the reconcile's result (the workflow goes on).
const reconcileTimeout = 10 * time.Minute

func (a *app) reconcile(ctx context.Context, args []string) error {
	fs := newFlags("reconcile")
	by := fs.String("by", "", "")
	rest, err := parseArgs("reconcile", fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("reconcile", "mi reconcile takes no arguments (it repairs every drifted hostname), got %s", quote(strings.Join(rest, " ")))
	}
	who := a.who(*by)
	if who == "" {
		return usagef("reconcile", "say who asks: add -by <your GitHub login>, or set MI_USER")
	}
	repo, err := config.DriftRepo()
	if err != nil {
		return err
	}
	tc, closeFn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	id := workflows.ReconcileWorkflowID(fmt.Sprintf("mi-%s-%d", who, a.now().UnixNano()))
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE, StaticSummary: "allowlist reconcile (mi, by @" + who + ")"},
		workflows.WorkflowReconcileAllowlists, workflows.ReconcileInput{Repo: repo, By: "@" + who + " (`mi reconcile`)", Revision: workflows.CurrentRevision})
	if err != nil {
		return callError("starting the reconcile", err)
	}
	fmt.Fprintf(a.stdout, "Reconciling the allowlists: %s\n", a.tcfg.WorkflowURL(id))
	wctx, cancel := context.WithTimeout(ctx, reconcileTimeout)
	defer cancel()
	var res workflows.ReconcileResult
	if err := run.Get(wctx, &res); err != nil {
		return callError("waiting for the reconcile (it goes on; see the link above)", err)
	}
	fmt.Fprintf(a.stdout, "Repaired %d hostname(s)", len(res.Repaired))
	if len(res.Repaired) > 0 {
		fmt.Fprintf(a.stdout, ": %s", strings.Join(res.Repaired, ", "))
	}
	fmt.Fprintln(a.stdout, ".")
	for _, f := range res.Failed {
		fmt.Fprintf(a.stdout, "Not repaired: %s\n", f)
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(a.stdout, "Left (a config.yaml cannot be read, it may list them): %s\n", strings.Join(res.Skipped, ", "))
	}
	fmt.Fprintf(a.stdout, "Checked again: %d hostname(s), %d still drift; drift issue %s", res.After.Checked, len(res.After.Drift), res.After.Issue.Action)
	if res.After.Issue.URL != "" {
		fmt.Fprintf(a.stdout, " (%s)", res.After.Issue.URL)
	}
	fmt.Fprintln(a.stdout, ".")
	if len(res.Failed) > 0 || len(res.After.Drift) > 0 {
		return fmt.Errorf("%d hostname(s) still differ from config.yaml (the drift issue lists them)", len(res.After.Drift))
	}
	return nil
}
