package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/workflows"
)

const decideUsage = `Usage: mi decide <slug> retry|skip|abort|rollback|restore [-reason R] [-by LOGIN] [-step S]

Answers the parked step of the instance's running operation (the same "decide" Update as the
/retry, /skip, /abort, /rollback and /restore slash commands). mi finds the operation and its
parked step itself; "mi status <slug>" shows them first.

Actions:
  retry     run the parked step again (after fixing its cause)
  skip      go on without the step: needs -reason (what you did by hand)
  abort     undo the completed steps in reverse and end the operation
  rollback  the same as abort (an upgrade's word: the old version serves again)
  restore   roll back and also restore the pre-change backups (upgrades, where offered)

Flags:
  -reason R    why; required for skip, recorded with any decision
  -by LOGIN    who decides, your GitHub login (default $MI_USER, else $USER)
  -step S      only decide if S is the parked step (a guard against a step that moved on)

Examples:
  mi decide acme retry
  mi decide acme skip -reason "DNS record created by hand in Cloudflare"
  mi decide acme rollback -reason "5.10.0 breaks the customer's SSO"
`

// decideOptions is a parsed mi decide line.
type decideOptions struct {
	Slug, Action, Reason, By, Step string
}

var decideActions = map[string]string{
	"retry":    workflows.ActionRetry,
	"skip":     workflows.ActionSkip,
	"abort":    workflows.ActionAbort,
	"rollback": workflows.ActionAbort,
	"restore":  workflows.ActionRestore,
}

func (a *app) parseDecide(args []string) (decideOptions, error) {
	var o decideOptions
	fs := newFlags("decide")
	fs.StringVar(&o.Reason, "reason", "", "")
	fs.StringVar(&o.By, "by", "", "")
	fs.StringVar(&o.Step, "step", "", "")
	pos, err := parseArgs("decide", fs, args)
	if err != nil {
		return o, err
	}
	if o.Slug, err = parseSlugArg("decide", pos, " retry|skip|abort|rollback|restore"); err != nil {
		return o, err
	}
	switch {
	case len(pos) < 2:
		return o, usagef("decide", "say what to do with the parked step: mi decide %s retry|skip|abort|rollback|restore", o.Slug)
	case len(pos) > 2:
		return o, usagef("decide", "too many arguments (%q); a reason goes in -reason: mi decide %s %s -reason %s",
			strings.Join(pos[2:], " "), o.Slug, pos[1], quote(strings.Join(pos[2:], " ")))
	}
	o.Action = strings.ToLower(pos[1])
	if _, ok := decideActions[o.Action]; !ok {
		return o, usagef("decide", "%q is not a decision; use retry, skip, abort, rollback or restore", pos[1])
	}
	o.Reason = strings.TrimSpace(o.Reason)
	if o.Action == "skip" && o.Reason == "" {
		return o, usagef("decide", "a skip needs a reason (what was done instead): mi decide %s skip -reason \"DNS record created by hand\"", o.Slug)
	}
	if o.By = a.who(o.By); o.By == "" {
		return o, usagef("decide", "say who decides: add -by <your GitHub login>, or set MI_USER")
	}
	return o, nil
}

func (a *app) decide(ctx context.Context, args []string) error {
	o, err := a.parseDecide(args)
	if err != nil {
		return err
	}
	tc, closeFn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	msg, err := sendDecision(ctx, tc, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, msg)
	return nil
}

// sendDecision finds the instance's running operation and its parked step and sends the decision.
func sendDecision(ctx context.Context, tc temporalAPI, o decideOptions) (string, error) {
	rec, err := record(ctx, tc, o.Slug)
	if err != nil {
		return "", err
	}
	cur := rec.Current
	if cur == nil || cur.WorkflowID == "" {
		last := "it has run no operation yet"
		if n := len(rec.History); n > 0 {
			h := rec.History[n-1]
			last = fmt.Sprintf("its last operation, %s, ended %s (%s)", h.Operation, dash(string(h.Outcome)), when(h.EndedAt, time.Time{}))
		}
		return "", fmt.Errorf("instance %s has no running operation, so nothing is parked (it is %s; %s). `mi status %s` shows it",
			o.Slug, dash(string(rec.State)), last, o.Slug)
	}
	p, err := progress(ctx, tc, cur.WorkflowID)
	if err != nil {
		return "", err
	}
	pk := p.Parked
	if pk == nil {
		return "", fmt.Errorf("the %s of %s (%s) has no parked step: it is %s, nothing to decide. `mi status %s` shows its steps",
			cur.Operation, o.Slug, cur.WorkflowID, p.State, o.Slug)
	}
	if o.Step != "" && o.Step != pk.Step {
		return "", fmt.Errorf("-step %q is not the parked step: %q is (%s). Check with `mi status %s`, then decide on %q",
			o.Step, pk.Step, pk.Title, o.Slug, pk.Step)
	}
	d := workflows.Decision{Step: pk.Step, Action: decideActions[o.Action], By: o.By, Reason: o.Reason}
	var result string
	err = update(ctx, tc, client.UpdateWorkflowOptions{WorkflowID: cur.WorkflowID, UpdateName: workflows.UpdateDecide, Args: []any{d}}, &result)
	if msg, ok := rejection(err); ok {
		return "", fmt.Errorf("the %s of %s refused the %s of step %q: %s", cur.Operation, o.Slug, o.Action, pk.Step, msg)
	}
	if err != nil {
		return "", callError("sending the decision to "+cur.WorkflowID, err)
	}
	return fmt.Sprintf("%s (by @%s on %s, operation %s).\nFollow it with: mi status %s", result, o.By, cur.Operation, cur.WorkflowID, o.Slug), nil
}
