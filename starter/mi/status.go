package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

const statusUsage = `Usage: mi status <slug>

Shows an instance: its state, type, domain, version, trial clock, backups, the last operations
and, when an operation runs, its steps — the parked step with its error and the commands that
answer it — and its SLA line.

Examples:
  mi status acme
`

func parseSlugArg(cmd string, pos []string, what string) (string, error) {
	if len(pos) == 0 {
		return "", usagef(cmd, "name the instance: mi %s <slug>%s (mi list shows the slugs)", cmd, what)
	}
	slug := pos[0]
	if err := spec.ValidateSlug("slug", slug); err != nil {
		return "", usagef(cmd, "%s", err)
	}
	return slug, nil
}

func parseStatus(args []string) (string, error) {
	pos, err := parseArgs("status", newFlags("status"), args)
	if err != nil {
		return "", err
	}
	slug, err := parseSlugArg("status", pos, "")
	if err != nil {
		return "", err
	}
	if len(pos) > 1 {
		return "", usagef("status", "mi status takes one slug (got %q)", strings.Join(pos, " "))
	}
	return slug, nil
}

func (a *app) status(ctx context.Context, args []string) error {
	slug, err := parseStatus(args)
	if err != nil {
		return err
	}
	tc, closeFn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	rec, err := record(ctx, tc, slug)
	if err != nil {
		return err
	}
	var p *workflows.Progress
	var perr error
	if c := rec.Current; c != nil && c.WorkflowID != "" {
		pr, err := progress(ctx, tc, c.WorkflowID)
		if err == nil {
			p = &pr
		}
		perr = err
	}
	renderStatus(a.stdout, rec, p, perr, a.tcfg.WorkflowURL, a.now())
	return nil
}

// renderStatus writes an instance's record and, when an operation runs, its progress (or why it
// could not be read).
func renderStatus(w io.Writer, rec workflows.InstanceRecord, p *workflows.Progress, perr error, link func(string) string, now time.Time) {
	in := rec.Instance
	state := string(rec.State)
	if state == "" {
		state = "no instance (not created yet, or its create was rejected or aborted)"
	}
	fmt.Fprintf(w, "Instance %s: %s\n\n", in.Slug, state)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	if in.Domain != "" || in.Type != "" {
		row("instance", fmt.Sprintf("%s, %s, %s, %s", dash(string(in.Type)), dash(in.Domain), dash(in.Region), dash(string(in.Size))))
	}
	row("version", dash(in.Version))
	if in.Issue != nil {
		row("created on", in.Issue.String())
	}
	if t := rec.Trial; t != nil {
		v := "expires " + when(t.ExpiresAt, now)
		if t.Expired {
			v = "expired " + when(t.ExpiresAt, now) + " (extend it with: mi start extend-trial " + in.Slug + " -days N -reason R -issue owner/repo#N)"
		}
		if len(t.Reminded) > 0 {
			v += fmt.Sprintf("; reminders sent at %s day(s) before", joinInts(t.Reminded))
		}
		if len(t.Skipped) > 0 {
			v += fmt.Sprintf("; not sent at %s day(s) before (their time had passed, or the comment failed)", joinInts(t.Skipped))
		}
		row("trial", v)
	}
	if !rec.SuspendedAt.IsZero() {
		v := "since " + when(rec.SuspendedAt, now)
		if rec.SuspendIssue != nil {
			v += " (asked on " + rec.SuspendIssue.String() + ")"
		}
		row("suspended", v)
	}
	if b := rec.Backups; b != nil {
		row("backups", fmt.Sprintf("Cloud SQL run %d, Backup for GKE %s, taken %s", b.SQLBackupRunID, dash(b.GKEBackup), when(b.TakenAt, now)))
	} else {
		row("backups", "none on record")
	}
	if rec.NeedsAttention {
		row("attention", "an operation workflow failed outright: the instance may not match its resources; read that workflow's history (below) before the next request")
	}
	row("workflow", workflows.InstanceWorkflowID(in.Slug)+"  "+link(workflows.InstanceWorkflowID(in.Slug)))
	tw.Flush()

	if c := rec.Current; c != nil {
		fmt.Fprintf(w, "\nRunning: %s (%s), requested by @%s on %s, started %s\n", c.Operation, c.WorkflowID, c.Requester, issueText(c.Issue), when(c.StartedAt, now))
		if c.Rollout != "" {
			fmt.Fprintf(w, "  part of the fleet rollout %s (mi rollout %s status)\n", c.Rollout, c.Rollout)
		}
		fmt.Fprintf(w, "  %s\n", link(c.WorkflowID))
		switch {
		case p != nil:
			fmt.Fprintln(w)
			renderProgress(w, *p)
		case perr != nil:
			fmt.Fprintf(w, "\n  progress unavailable: %v\n", perr)
		}
	} else {
		fmt.Fprintln(w, "\nNo operation is running.")
	}

	if n := len(rec.History); n > 0 {
		fmt.Fprintln(w, "\nRecent operations (newest first):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for i := n - 1; i >= 0 && i >= n-10; i-- {
			h := rec.History[i]
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t@%s\t%s\n", when(h.EndedAt, time.Time{}), h.Operation, dash(string(h.Outcome)), issueText(h.Issue), h.Requester, dash(h.WorkflowID))
		}
		tw.Flush()
	}
}

// renderProgress is the operation's checklist (the status comment's text, as on the issue), then
// the exact commands that answer a parked step.
func renderProgress(w io.Writer, p workflows.Progress) {
	fmt.Fprint(w, terminalText(workflows.RenderProgress(p, "")))
	pk := p.Parked
	if pk == nil {
		return
	}
	fmt.Fprintf(w, "\nParked on step %q since %s. Decide with one of:\n", pk.Step, when(pk.Since, time.Time{}))
	fmt.Fprint(w, aligned("  ", decideCommands(p.Slug, *pk, p.Operation)))
}

// decideCommands are the decisions a parked step accepts: command lines with what each does.
func decideCommands(slug string, pk workflows.Parked, operation string) [][2]string {
	cmds := [][2]string{{fmt.Sprintf("mi decide %s retry", slug), "run the step again (after fixing the cause)"},
		{fmt.Sprintf("mi decide %s skip -reason \"...\"", slug), "go on without it (you did it by hand)"}}
	if pk.Aborting {
		return cmds
	}
	if operation == string(forms.OpUpgrade) {
		cmds = append(cmds, [2]string{fmt.Sprintf("mi decide %s rollback", slug), "undo the upgrade: the old version serves again"})
	} else {
		cmds = append(cmds, [2]string{fmt.Sprintf("mi decide %s abort", slug), "undo the completed steps and end the operation"})
	}
	if pk.Restore {
		cmds = append(cmds, [2]string{fmt.Sprintf("mi decide %s restore", slug), "roll back and restore the pre-change backups"})
	}
	return cmds
}

// aligned lays out command lines with their explanations in a column.
func aligned(indent string, cmds [][2]string) string {
	width := 0
	for _, c := range cmds {
		width = max(width, len(c[0]))
	}
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&b, "%s%-*s   %s\n", indent, width, c[0], c[1])
	}
	return b.String()
}

// terminalText takes the markdown emphasis and callout markers out of a status comment.
// The issue's "Reply /retry ..." line is left out: mi prints its own commands after it.
func terminalText(md string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(md, "\n") {
		switch {
		case strings.HasPrefix(line, "> [!WARNING]"), strings.HasPrefix(line, "> Reply "), strings.TrimSpace(line) == ">":
			continue
		case strings.HasPrefix(line, "> "):
			line = "  " + strings.TrimPrefix(line, "> ")
		}
		b.WriteString(strings.TrimPrefix(line, "### "))
	}
	return strings.ReplaceAll(b.String(), "**", "")
}

func issueText(i *workflows.IssueRef) string {
	if i == nil {
		return "no issue"
	}
	return i.String()
}

// when is a time for people: UTC, plus how long ago or ahead when now is set.
func when(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	s := t.UTC().Format("2006-01-02 15:04 UTC")
	if now.IsZero() {
		return s
	}
	d := t.Sub(now)
	switch {
	case d > 0:
		return s + " (in " + humanDuration(d) + ")"
	case d < 0:
		return s + " (" + humanDuration(-d) + " ago)"
	}
	return s
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	}
	return fmt.Sprintf("%d s", int(d.Seconds()))
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
