package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

const rolloutUsage = `Usage: mi rollout <issue-number|owner/repo#N|workflow-id> [status]
       mi rollout <rollout> pause|resume|abort|approve [-reason R] [-by LOGIN]
       mi rollout <rollout> retry <slug> [-by LOGIN]
       mi rollout <rollout> skip <slug> -reason R [-by LOGIN]

A fleet rollout (the FleetUpgrade workflow of an upgrade-tracking issue): its state, and the
controls the slash commands on the tracking issue send (the "control" Update).

The rollout is named by its tracking issue's number (sourcegraph/customer#N; another repository
with -repo owner/name, or as owner/repo#N) or by its workflow ID (upgrade-fleet/owner/repo/N).

Actions:
  status         phase, reason, waves with counts, parked and failed instances (the default)
  pause          no new upgrade starts; the ones in flight finish
  resume         after a pause, or past the failures of a halted wave
  abort          end the rollout (upgrades in flight finish on their own)
  approve        let the rollout past its approval gate (the first customer wave); not the
                 person who filed the tracking issue
  retry <slug>   ask again for an instance whose upgrade was refused, rolled back or failed
  skip <slug>    leave such an instance (or a pending one) out of the rollout: needs -reason
A parked upgrade is decided on the instance itself: mi decide <slug> retry|skip|rollback|restore.

Flags:
  -reason R      why (required for skip)
  -by LOGIN      who, your GitHub login (default $MI_USER, else $USER)
  -repo O/N      the tracking issue's repository when the rollout is given by number
                 (default sourcegraph/customer)

Examples:
  mi rollout 76
  mi rollout 76 pause -reason "error rate up on the canary"
  mi rollout 76 skip acme -reason "customer freeze until Monday"
  mi rollout upgrade-fleet/sourcegraph/customer/76 resume
`

// rolloutOptions is a parsed mi rollout line.
type rolloutOptions struct {
	Ref        string // as typed, for the commands mi suggests
	WorkflowID string
	Action     string
	Slug       string
	Reason     string
	By         string
}

var rolloutActions = []string{"status", workflows.ControlPause, workflows.ControlResume, workflows.ControlAbort,
	workflows.ControlApprove, workflows.ControlRetry, workflows.ControlSkip}

func (a *app) parseRollout(args []string) (rolloutOptions, error) {
	var o rolloutOptions
	var repo string
	fs := newFlags("rollout")
	fs.StringVar(&o.Reason, "reason", "", "")
	fs.StringVar(&o.By, "by", "", "")
	fs.StringVar(&repo, "repo", "", "")
	pos, err := parseArgs("rollout", fs, args)
	if err != nil {
		return o, err
	}
	if len(pos) == 0 {
		return o, usagef("rollout", "name the rollout by its tracking issue: mi rollout <issue-number> [status]")
	}
	o.Ref = pos[0]
	if o.WorkflowID, err = rolloutID(pos[0], repo); err != nil {
		return o, usagef("rollout", "%s", err)
	}
	o.Action = "status"
	if len(pos) > 1 {
		o.Action = strings.ToLower(pos[1])
	}
	valid := false
	for _, act := range rolloutActions {
		valid = valid || act == o.Action
	}
	if !valid {
		if _, ok := decideActions[o.Action]; ok {
			return o, usagef("rollout", "%q is a decision on one instance's parked upgrade: mi decide <slug> %s", o.Action, o.Action)
		}
		return o, usagef("rollout", "%q is not a rollout action; use %s", pos[1], strings.Join(rolloutActions, ", "))
	}
	o.Reason = strings.TrimSpace(o.Reason)
	rest := pos[min(2, len(pos)):]
	switch o.Action {
	case workflows.ControlRetry, workflows.ControlSkip:
		if len(rest) == 0 {
			return o, usagef("rollout", "name the instance: mi rollout %s %s <slug>", o.Ref, o.Action)
		}
		if len(rest) > 1 {
			return o, usagef("rollout", "too many arguments (%q); a reason goes in -reason: mi rollout %s %s %s -reason %s",
				strings.Join(rest[1:], " "), o.Ref, o.Action, rest[0], quote(strings.Join(rest[1:], " ")))
		}
		o.Slug = rest[0]
		if err := spec.ValidateSlug("slug", o.Slug); err != nil {
			return o, usagef("rollout", "%s", err)
		}
		if o.Action == workflows.ControlSkip && o.Reason == "" {
			return o, usagef("rollout", "say why %s is left out: mi rollout %s skip %s -reason \"customer freeze until Monday\"", o.Slug, o.Ref, o.Slug)
		}
	default:
		if len(rest) > 0 {
			if o.Action == "status" {
				return o, usagef("rollout", "status takes no more arguments (got %q); for one instance, type: mi status %s", strings.Join(rest, " "), rest[0])
			}
			return o, usagef("rollout", "%s takes no slug or words (got %q); a reason goes in -reason: mi rollout %s %s -reason %s",
				o.Action, strings.Join(rest, " "), o.Ref, o.Action, quote(strings.Join(rest, " ")))
		}
	}
	if o.Action != "status" {
		if o.By = a.who(o.By); o.By == "" {
			return o, usagef("rollout", "say who you are: add -by <your GitHub login>, or set MI_USER")
		}
	}
	return o, nil
}

// rolloutID resolves a rollout reference: an issue number (in repo, default sourcegraph/customer),
// owner/repo#N, or the workflow ID itself.
func rolloutID(ref, repo string) (string, error) {
	prefix := string(forms.OpUpgradeFleet) + "/" // RolloutWorkflowID's form: upgrade-fleet/owner/repo/N
	switch {
	case strings.HasPrefix(ref, prefix):
		if repo != "" {
			return "", fmt.Errorf("-repo applies to a rollout given by issue number, not to the workflow ID %s", ref)
		}
		parts := strings.Split(strings.TrimPrefix(ref, prefix), "/")
		if len(parts) != 3 {
			return "", fmt.Errorf("%q is not a rollout's workflow ID; it looks like %sowner/repo/N", ref, prefix)
		}
		if n, err := strconv.Atoi(parts[2]); err != nil || n <= 0 {
			return "", fmt.Errorf("%q is not a rollout's workflow ID; it looks like %sowner/repo/N", ref, prefix)
		}
		return ref, nil
	case strings.Contains(ref, "#"):
		if repo != "" {
			return "", fmt.Errorf("-repo applies to a rollout given by number; %s already names its repository", ref)
		}
		is, err := parseIssue(ref)
		if err != nil {
			return "", err
		}
		return workflows.RolloutWorkflowID(is), nil
	}
	n, err := strconv.Atoi(ref)
	if err != nil || n <= 0 {
		return "", fmt.Errorf("%q names no rollout: give the tracking issue's number (76), owner/repo#76, or the workflow ID (%s%s/%s/76)",
			ref, prefix, defaultOwner, defaultRepo)
	}
	is := workflows.IssueRef{Owner: defaultOwner, Repo: defaultRepo, Number: n}
	if repo != "" {
		if is.Owner, is.Repo, err = parseRepo(repo); err != nil {
			return "", err
		}
	}
	return workflows.RolloutWorkflowID(is), nil
}

func (a *app) rollout(ctx context.Context, args []string) error {
	o, err := a.parseRollout(args)
	if err != nil {
		return err
	}
	tc, closeFn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	var st workflows.RolloutState
	if err := query(ctx, tc, o.WorkflowID, workflows.QueryRollout, &st); err != nil {
		if isNotFound(err) {
			return fmt.Errorf("there is no rollout %s: check the tracking issue's number (and -repo); a rollout starts when an issue labelled mi/upgrade-tracking is filed", o.WorkflowID)
		}
		return callError("reading the rollout "+o.WorkflowID, err)
	}
	if o.Action == "status" {
		renderRollout(a.stdout, o.WorkflowID, o.Ref, st, a.tcfg.WorkflowURL(o.WorkflowID), a.now())
		return nil
	}
	if o.Slug != "" {
		if in, ok := findRolloutInstance(st, o.Slug); ok && in.Status == workflows.UpgradeParked {
			return fmt.Errorf("the upgrade of %s is parked at step %q: decide on the upgrade itself, with one of:\n%s",
				o.Slug, in.Step, strings.TrimSuffix(aligned("  ", decideCommands(o.Slug, workflows.Parked{Step: in.Step, Restore: in.Backups != nil}, "upgrade")), "\n"))
		}
	}
	c := workflows.RolloutControl{Action: o.Action, Slug: o.Slug, By: o.By, Reason: o.Reason}
	var msg string
	err = update(ctx, tc, client.UpdateWorkflowOptions{WorkflowID: o.WorkflowID, UpdateName: workflows.UpdateRolloutControl, Args: []any{c}}, &msg)
	if rej, ok := rejection(err); ok {
		return fmt.Errorf("the rollout refused the %s: %s", o.Action, rej)
	}
	if isNotFound(err) {
		return fmt.Errorf("the rollout %s has ended (%s): there is nothing to %s", o.WorkflowID, st.Phase, o.Action)
	}
	if err != nil {
		return callError("sending the "+o.Action+" to "+o.WorkflowID, err)
	}
	fmt.Fprintf(a.stdout, "%s (by @%s).\nFollow it with: mi rollout %s\n", msg, o.By, o.Ref)
	return nil
}

func findRolloutInstance(st workflows.RolloutState, slug string) (workflows.RolloutInstance, bool) {
	for _, w := range st.Waves {
		for _, in := range w.Instances {
			if in.Slug == slug {
				return in, true
			}
		}
	}
	return workflows.RolloutInstance{}, false
}

// waveCounts counts a wave's instances by what they need.
type waveCounts struct {
	total, upgraded, running, parked, failed, skipped, pending int
}

func countWave(w workflows.Wave) waveCounts {
	c := waveCounts{total: len(w.Instances) + w.Upgraded, upgraded: w.Upgraded}
	for _, in := range w.Instances {
		switch in.Status {
		case workflows.UpgradeSucceeded:
			c.upgraded++
		case workflows.UpgradeRunning:
			c.running++
		case workflows.UpgradeParked:
			c.parked++
		case workflows.UpgradeRejected, workflows.UpgradeRolledBack, workflows.UpgradeFailed:
			c.failed++
		case workflows.UpgradeSkipped:
			c.skipped++
		default:
			c.pending++
		}
	}
	return c
}

func waveState(st workflows.RolloutState, i int) string {
	w := st.Waves[i]
	switch {
	case !w.EndedAt.IsZero():
		return "done"
	case i == st.Wave && !w.StartedAt.IsZero():
		return "current"
	case w.Gate && st.Approved == nil:
		return "waits for approve"
	}
	return "next"
}

// renderRollout writes a rollout's state: phase, reason, waves with counts, the instances that need
// a decision (with the commands), and the controls.
func renderRollout(w io.Writer, id, ref string, st workflows.RolloutState, link string, now time.Time) {
	fmt.Fprintf(w, "Rollout %s: upgrade to %s, %s\n\n", id, dash(st.Version), st.Phase)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	if st.Reason != "" {
		row("reason", st.Reason)
	}
	if st.Release != "" {
		row("release", st.Release)
	}
	row("started", when(st.StartedAt, now))
	if !st.EndedAt.IsZero() {
		row("ended", when(st.EndedAt, now))
	}
	if c := st.Paused; c != nil {
		row("paused", controlText(*c))
	}
	if c := st.Approved; c != nil {
		row("approved", controlText(*c))
	}
	if c := st.Aborted; c != nil {
		row("aborted", controlText(*c))
	}
	if !st.BakeUntil.IsZero() && st.EndedAt.IsZero() && st.Phase == workflows.PhaseBaking {
		row("next wave", "after "+when(st.BakeUntil, now))
	}
	if st.SLA != nil {
		row("SLA", strings.Replace(strings.TrimPrefix(strings.ReplaceAll(st.SLA.String(), "**", ""), "SLA ("), "): ", ": ", 1))
	}
	row("workflow", link)
	tw.Flush()

	if len(st.Waves) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tWAVE\tINSTANCES\tUPGRADED\tUPGRADING\tPARKED\tFAILED\tSKIPPED\tPENDING\tSTATE")
		for i, wave := range st.Waves {
			c := countWave(wave)
			fmt.Fprintf(tw, "  %d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", i+1, wave.Name, c.total, c.upgraded, c.running, c.parked, c.failed, c.skipped, c.pending, waveState(st, i))
		}
		tw.Flush()
	} else if st.Phase != workflows.PhasePlanning {
		fmt.Fprintln(w, "\nNo waves: nothing to upgrade.")
	}

	var parked, failed []string
	for _, wave := range st.Waves {
		for _, in := range wave.Instances {
			switch in.Status {
			case workflows.UpgradeParked:
				s := fmt.Sprintf("  %s (%s) parked at step %q: %s\n", in.Slug, in.Type, in.Step, oneLine(in.Error))
				s += aligned("      ", decideCommands(in.Slug, workflows.Parked{Step: in.Step, Restore: in.Backups != nil}, "upgrade"))
				parked = append(parked, s)
			case workflows.UpgradeRejected, workflows.UpgradeRolledBack, workflows.UpgradeFailed:
				s := fmt.Sprintf("  %s (%s) %s", in.Slug, in.Type, in.Status)
				if in.Step != "" {
					s += fmt.Sprintf(" at step %q", in.Step)
				}
				if in.Error != "" {
					s += ": " + oneLine(in.Error)
				}
				s += "\n"
				if in.Accepted {
					s += "      accepted: the rollout was resumed past it\n"
				}
				if st.EndedAt.IsZero() {
					s += aligned("      ", [][2]string{{fmt.Sprintf("mi rollout %s retry %s", ref, in.Slug), "ask for its upgrade again"},
						{fmt.Sprintf("mi rollout %s skip %s -reason \"...\"", ref, in.Slug), "leave it out of the rollout"}})
				}
				failed = append(failed, s)
			}
		}
	}
	if len(parked) > 0 {
		fmt.Fprintf(w, "\nParked upgrades (%d), decided on the instance:\n%s", len(parked), strings.Join(parked, ""))
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nRefused, rolled back or failed (%d):\n%s", len(failed), strings.Join(failed, ""))
	}
	if n := len(st.Left); n > 0 {
		fmt.Fprintf(w, "\nLeft out by the plan (%d):\n", n)
		for i, l := range st.Left {
			if i == 10 {
				fmt.Fprintf(w, "  ... and %d more (the plan comment on the tracking issue lists them all)\n", n-10)
				break
			}
			fmt.Fprintf(w, "  %s: %s\n", l.Slug, l.Reason)
		}
	}
	if st.EndedAt.IsZero() && st.Phase != workflows.PhasePlanning {
		var ctl []string
		if st.Paused == nil {
			ctl = append(ctl, "pause")
		}
		if st.Paused != nil || st.Phase == workflows.PhaseHalted {
			ctl = append(ctl, "resume")
		}
		ctl = append(ctl, "abort")
		for _, wave := range st.Waves {
			if wave.Gate && st.Approved == nil {
				ctl = append(ctl, "approve")
				break
			}
		}
		fmt.Fprintf(w, "\nControls: mi rollout %s %s [-reason R]\n", ref, strings.Join(ctl, "|"))
	}
}

func controlText(c workflows.RolloutControl) string {
	s := "by @" + c.By
	if !c.At.IsZero() {
		s += " at " + when(c.At, time.Time{})
	}
	if c.Reason != "" {
		s += ": " + c.Reason
	}
	return s
}

// oneLine keeps an error on one line of the table.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
