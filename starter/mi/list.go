package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

const listUsage = `Usage: mi list [-state S] [-type T] [-attention]

Lists the instances this service runs (their InstanceLifecycle workflows, from Temporal
visibility), one line each, sorted by slug: slug, type, state, version, running operation and
what needs attention. The version comes from each instance's "instance" query (8 at a time); "?"
means the query failed (a worker down, a busy workflow): try "mi status <slug>".

Flags:
  -state S     only instances in this state: provisioning, active, suspending, suspended,
               resuming, tearing-down, upgrading
  -type T      only instances of this type: production, trial, internal
  -attention   only instances that need a human: a running operation parked on a failed step
               ("parked"), or an operation workflow that failed outright ("op failed")

Instances made before this service appear once a rollout (or a request) has adopted them.

Examples:
  mi list
  mi list -attention
  mi list -state suspended -type trial
`

// listOptions are the filters of mi list.
type listOptions struct {
	State     string
	Type      string
	Attention bool
}

// listStates are the states a running instance workflow can be in.
var listStates = []workflows.InstanceState{workflows.StateProvisioning, workflows.StateActive, workflows.StateSuspending,
	workflows.StateSuspended, workflows.StateResuming, workflows.StateTearingDown, workflows.StateUpgrading}

func parseList(args []string) (listOptions, error) {
	var o listOptions
	fs := newFlags("list")
	fs.StringVar(&o.State, "state", "", "")
	fs.StringVar(&o.Type, "type", "", "")
	fs.BoolVar(&o.Attention, "attention", false, "")
	pos, err := parseArgs("list", fs, args)
	if err != nil {
		return o, err
	}
	if len(pos) > 0 {
		return o, usagef("list", "mi list takes no arguments, only flags (got %q); for one instance, type: mi status %s", strings.Join(pos, " "), pos[0])
	}
	o.State, o.Type = strings.ToLower(strings.TrimSpace(o.State)), strings.ToLower(strings.TrimSpace(o.Type))
	if o.State != "" && !slices.Contains(listStates, workflows.InstanceState(o.State)) {
		if o.State == string(workflows.StateDeleted) {
			return o, usagef("list", "-state deleted: a torn-down instance's workflow has ended, so it is not listed; its record stays readable with: mi status <slug>")
		}
		return o, usagef("list", "-state %q is not a state; use one of %s", o.State, statesList())
	}
	if o.Type != "" {
		if err := spec.ValidateInstanceType("-type", spec.InstanceType(o.Type)); err != nil {
			return o, usagef("list", "%s", err)
		}
	}
	return o, nil
}

func statesList() string {
	s := make([]string, len(listStates))
	for i, st := range listStates {
		s[i] = string(st)
	}
	return strings.Join(s, ", ")
}

// listQuery is the visibility query of the instance workflows that match the filters. The values
// were checked against fixed lists, so they need no escaping.
func listQuery(o listOptions) string {
	q := []string{"WorkflowType = 'InstanceLifecycle'", "ExecutionStatus = 'Running'"}
	if o.State != "" {
		q = append(q, fmt.Sprintf("%s = '%s'", workflows.SAInstanceState.GetName(), o.State))
	}
	if o.Type != "" {
		q = append(q, fmt.Sprintf("%s = '%s'", workflows.SAInstanceType.GetName(), o.Type))
	}
	return strings.Join(q, " AND ")
}

// parkedQuery finds the running operation workflows parked on a step (the runner sets
// NeedsAttention on them; the instance's own NeedsAttention is only for failed workflows).
const parkedQuery = "NeedsAttention = true AND ExecutionStatus = 'Running' AND WorkflowType != 'InstanceLifecycle'"

// listRow is one instance in the table.
type listRow struct {
	Slug, Type, State, Version, Operation string
	// Failed: an operation workflow failed outright (the instance's NeedsAttention). Parked: the
	// running operation waits for a decision.
	Failed bool
	Parked string
}

func (r listRow) attention() string {
	var a []string
	if r.Parked != "" {
		a = append(a, "parked ("+r.Parked+")")
	}
	if r.Failed {
		a = append(a, "op failed")
	}
	return strings.Join(a, ", ")
}

func (a *app) list(ctx context.Context, args []string) error {
	o, err := parseList(args)
	if err != nil {
		return err
	}
	tc, closeFn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	rows, err := listRows(ctx, tc, o, a.stderr)
	if err != nil {
		return err
	}
	renderList(a.stdout, rows, o)
	return nil
}

// listRows reads the instances from visibility, marks the ones whose operation is parked, and
// fills in each version from the instance query.
func listRows(ctx context.Context, tc temporalAPI, o listOptions, warn io.Writer) ([]listRow, error) {
	var rows []listRow
	err := eachExecution(ctx, tc, listQuery(o), func(sa map[string]*commonpb.Payload, workflowID string) {
		r := listRow{Slug: saString(sa, workflows.SAInstanceSlug.GetName()), Type: saString(sa, workflows.SAInstanceType.GetName()),
			State: saString(sa, workflows.SAInstanceState.GetName()), Operation: saString(sa, workflows.SAOperation.GetName()),
			Failed: saBool(sa, workflows.SANeedsAttention.GetName())}
		if r.Slug == "" {
			r.Slug = strings.TrimPrefix(workflowID, "instance/")
		}
		rows = append(rows, r)
	})
	if err != nil {
		return nil, callError("listing the instance workflows (visibility query "+listQuery(o)+")", err)
	}
	parked := map[string]string{}
	err = eachExecution(ctx, tc, parkedQuery, func(sa map[string]*commonpb.Payload, workflowID string) {
		if slug := saString(sa, workflows.SAInstanceSlug.GetName()); slug != "" {
			op := saString(sa, workflows.SAOperation.GetName())
			if op == "" {
				op = strings.SplitN(workflowID, "/", 2)[0]
			}
			parked[slug] = op
		}
	})
	if err != nil {
		fmt.Fprintf(warn, "warning: could not list the parked operations (%v); the attention column shows failed workflows only\n", err)
	}
	keep := rows[:0]
	for _, r := range rows {
		r.Parked = parked[r.Slug]
		if o.Attention && r.attention() == "" {
			continue
		}
		keep = append(keep, r)
	}
	rows = keep
	slices.SortFunc(rows, func(x, y listRow) int { return strings.Compare(x.Slug, y.Slug) })
	fillVersions(ctx, tc, rows, 8)
	return rows, nil
}

// eachExecution pages through a visibility query.
func eachExecution(ctx context.Context, tc temporalAPI, q string, fn func(sa map[string]*commonpb.Payload, workflowID string)) error {
	var token []byte
	for {
		resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return err
		}
		for _, e := range resp.GetExecutions() {
			fn(e.GetSearchAttributes().GetIndexedFields(), e.GetExecution().GetWorkflowId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return nil
		}
	}
}

func saString(sa map[string]*commonpb.Payload, name string) string {
	var s string
	if p, ok := sa[name]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	}
	return s
}

func saBool(sa map[string]*commonpb.Payload, name string) bool {
	var b bool
	if p, ok := sa[name]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &b)
	}
	return b
}

// fillVersions queries each instance's record, at most parallel at a time; "?" when it fails.
func fillVersions(ctx context.Context, tc temporalAPI, rows []listRow, parallel int) {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range rows {
		wg.Add(1)
		sem <- struct{}{}
		go func(r *listRow) {
			defer func() { <-sem; wg.Done() }()
			var rec workflows.InstanceRecord
			if err := query(ctx, tc, workflows.InstanceWorkflowID(r.Slug), workflows.QueryInstance, &rec); err != nil || rec.Instance.Version == "" {
				r.Version = "?"
				return
			}
			r.Version = rec.Instance.Version
		}(&rows[i])
	}
	wg.Wait()
}

// renderList writes the table.
func renderList(w io.Writer, rows []listRow, o listOptions) {
	if len(rows) == 0 {
		if o != (listOptions{}) {
			fmt.Fprintf(w, "No running instance workflow matches the filter (%s).\n", filtersText(o))
		} else {
			fmt.Fprintln(w, "No running instance workflow. (Instances made before this service appear once a rollout adopts them.)")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tTYPE\tSTATE\tVERSION\tOPERATION\tATTENTION")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Slug, dash(r.Type), dash(r.State), dash(r.Version), dash(r.Operation), dash(r.attention()))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d instance(s)", len(rows))
	if o != (listOptions{}) {
		fmt.Fprintf(w, " (filter: %s)", filtersText(o))
	}
	fmt.Fprintln(w, ".")
}

func filtersText(o listOptions) string {
	var f []string
	if o.State != "" {
		f = append(f, "state "+o.State)
	}
	if o.Type != "" {
		f = append(f, "type "+o.Type)
	}
	if o.Attention {
		f = append(f, "needs attention")
	}
	return strings.Join(f, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
