package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The rollout's texts: the plan comment, the live checklist in the tracking issue's body, the
// status comment (also the Web UI's current details) and the final summary.

// name is how an instance is named on the tracking issue: customers by their accounts link when
// the config has one (never customer names on tracking issues), others by slug.
func (r *rollout) name(in RolloutInstance) string {
	if r.byAccount(in) {
		return in.Account
	}
	return "`" + in.Slug + "`"
}

func (r *rollout) byAccount(in RolloutInstance) bool {
	return in.Type != spec.Internal && in.Account != ""
}

func (r *rollout) renderPlan(end time.Time) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("### 🗺️ Rollout plan: %s\n\n", r.st.Version))
	if r.st.Release != "" {
		b.WriteString("Release: " + r.st.Release + "\n\n")
	}
	if len(r.st.Waves) == 0 {
		b.WriteString("Nothing to upgrade.\n")
	}
	for i, w := range r.st.Waves {
		gate := ""
		if w.Gate {
			gate = " — waits for `/approve`"
		}
		b.WriteString(fmt.Sprintf("%d. **%s**: %d instance(s), expected done %s%s\n", i+1, w.Name, len(w.Instances), formatTime(w.Expected), gate))
	}
	if len(r.st.Waves) > 0 {
		b.WriteString(fmt.Sprintf("\nAt most %d upgrades at a time, %s of bake time between waves; any wave with more than %d failure(s) halts the rollout.\n",
			r.concurrency, r.s.RolloutBake, r.s.RolloutFailures))
		if s := r.s; s.GitHubWritesPerHour > 0 {
			pc := s.GitHubWritesPerChange
			if pc <= 0 {
				pc = DefaultGitHubWritesPerChange
			}
			b.WriteString(fmt.Sprintf("GitHub write budget: %d writes an hour, %d per upgrade, so about %d upgrades an hour; the dates count it.\n",
				s.GitHubWritesPerHour, pc, s.GitHubWritesPerHour/pc))
		}
		b.WriteString("Expected end: **" + formatTime(end) + "**")
		if sv := r.st.SLA; sv != nil && !sv.Resolution.IsZero() {
			verdict := "within the SLA"
			if end.After(sv.Resolution) {
				verdict = "⚠️ **after** the SLA deadline"
			}
			b.WriteString(fmt.Sprintf(", %s (%s: due %s)", verdict, sv.Kind, formatTime(sv.Resolution)))
		}
		b.WriteString(".\n")
		if !r.hasWave("canary") {
			b.WriteString(fmt.Sprintf("\n⚠️ The canary `%s` is not part of this rollout, so the internal wave goes first.\n", r.s.Canary))
		}
	}
	if len(r.st.Left) > 0 {
		b.WriteString(fmt.Sprintf("\n<details><summary>%d instance(s) left out</summary>\n\n", len(r.st.Left)))
		for _, l := range r.st.Left {
			b.WriteString(fmt.Sprintf("- `%s`: %s\n", l.Slug, l.Reason))
		}
		b.WriteString("\n</details>\n")
	}
	if r.req.Upgrade.DryRun {
		b.WriteString("\nThis is a dry run: nothing will be upgraded.\n")
	}
	return b.String()
}

func (r *rollout) hasWave(name string) bool {
	for _, w := range r.st.Waves {
		if w.Name == name {
			return true
		}
	}
	return false
}

// renderChecklist is the body section: one box per instance, ticked when upgraded. When the full
// list would pass GitHub's body limit it is compacted: each wave counts what is upgraded and what
// waits, and lists only what is in flight or needs a look (at most compactListed lines a wave);
// the whole state is the workflow's `rollout` query (the Web UI, `mi rollout`).
func (r *rollout) renderChecklist() string {
	full := r.checklist(false)
	if len(full) <= rolloutBodyLimit {
		return full
	}
	return r.checklist(true)
}

// compactListed bounds the instances a compacted wave lists; 12 waves of it stay far under the
// body limit (a line is under 200 characters).
const compactListed = 100

func (r *rollout) checklist(compact bool) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("## Rollout of %s (%s)\n", r.st.Version, r.st.Phase))
	if compact {
		b.WriteString("\nA large fleet: each wave shows its counts and the instances in flight or needing a look; " +
			"every instance is in the workflow's `rollout` query (Web UI, `mi rollout`).\n")
	}
	for i, w := range r.st.Waves {
		b.WriteString(fmt.Sprintf("\n**Wave %d: %s**%s\n", i+1, w.Name, waveMark(w, i, r.st.Wave)))
		if compact && !w.EndedAt.IsZero() {
			ok, other := w.Upgraded, 0
			for _, in := range w.Instances {
				if in.Status == UpgradeSucceeded {
					ok++
				} else {
					other++
				}
			}
			b.WriteString(fmt.Sprintf("- [x] %d upgraded, %d other (see the workflow's `rollout` query)\n", ok, other))
			continue
		}
		upgraded, pending, listed, unlisted := w.Upgraded, 0, 0, 0
		if !compact && w.Upgraded > 0 {
			b.WriteString(fmt.Sprintf("- [x] %d upgraded\n", w.Upgraded))
		}
		for _, in := range w.Instances {
			if compact {
				switch {
				case in.Status == UpgradeSucceeded:
					upgraded++
					continue
				case in.Status == UpgradePending:
					pending++
					continue
				case listed == compactListed:
					unlisted++
					continue
				}
				listed++
			}
			box := " "
			if in.Status == UpgradeSucceeded || in.Status == UpgradeSkipped {
				box = "x"
			}
			b.WriteString(fmt.Sprintf("- [%s] %s %s", box, r.name(in), statusMark(in.Status)))
			if in.PRURL != "" && !compact {
				b.WriteString(" " + in.PRURL)
			}
			// The run's ID holds the slug: an instance named by its accounts link gets no run link.
			if in.Status != UpgradePending && !compact && !r.byAccount(in) {
				if u := r.s.RunURL(UpgradeWorkflowID(in.Slug, r.req.Issue, in.Attempt)); u != "" {
					b.WriteString(" ([run](" + u + "))")
				}
			}
			if in.Error != "" {
				b.WriteString(": " + oneLine(in.Error))
			}
			b.WriteString("\n")
		}
		if compact && upgraded > 0 {
			b.WriteString(fmt.Sprintf("- [x] %d upgraded\n", upgraded))
		}
		if unlisted > 0 {
			b.WriteString(fmt.Sprintf("- [ ] %d more in flight or needing a look (see the workflow's `rollout` query)\n", unlisted))
		}
		if pending > 0 {
			b.WriteString(fmt.Sprintf("- [ ] %d waiting\n", pending))
		}
	}
	return b.String()
}

func waveMark(w Wave, i, current int) string {
	switch {
	case !w.EndedAt.IsZero():
		return " ✅"
	case i == current && !w.StartedAt.IsZero():
		return " ⏳"
	case w.Gate:
		return " (waits for `/approve`)"
	}
	return ""
}

func statusMark(s UpgradeStatus) string {
	switch s {
	case UpgradeSucceeded:
		return "✅ upgraded"
	case UpgradeRunning:
		return "⏳ upgrading"
	case UpgradeParked:
		return "⚠️ **parked**"
	case UpgradeSkipped:
		return "⏭️ skipped"
	case UpgradeRejected:
		return "❌ not started"
	case UpgradeRolledBack:
		return "↩️ rolled back"
	case UpgradeFailed:
		return "❌ failed"
	}
	return ""
}

// renderStatus is the status comment and the Web UI's details.
func (r *rollout) renderStatus(runURL string) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("### Fleet upgrade to %s: %s\n\n", r.st.Version, r.st.Phase))
	if r.st.Reason != "" {
		b.WriteString(r.st.Reason + "\n\n")
	}
	counts := map[UpgradeStatus]int{}
	total := 0
	for _, w := range r.st.Waves {
		counts[UpgradeSucceeded] += w.Upgraded
		total += w.Upgraded
		for _, in := range w.Instances {
			counts[in.Status]++
			total++
		}
	}
	if total > 0 {
		b.WriteString(fmt.Sprintf("- %d instance(s) in %d wave(s): %d upgraded, %d upgrading, %d parked, %d skipped, %d not started, %d rolled back, %d failed, %d pending\n",
			total, len(r.st.Waves), counts[UpgradeSucceeded], counts[UpgradeRunning], counts[UpgradeParked], counts[UpgradeSkipped],
			counts[UpgradeRejected], counts[UpgradeRolledBack], counts[UpgradeFailed], counts[UpgradePending]))
	}
	if r.st.Wave < len(r.st.Waves) && r.st.EndedAt.IsZero() {
		b.WriteString(fmt.Sprintf("- current wave: **%s** (%d of %d)\n", r.st.Waves[r.st.Wave].Name, r.st.Wave+1, len(r.st.Waves)))
	}
	for _, w := range r.st.Waves {
		for _, in := range w.Instances {
			if in.Status == UpgradeParked {
				b.WriteString(fmt.Sprintf("- ⚠️ %s is parked at *%s*: `%s`. Reply `/retry %s`, `/skip %s <reason>`, `/rollback %s` or `/restore %s`.\n",
					r.name(in), in.Step, oneLine(in.Error), in.Slug, in.Slug, in.Slug, in.Slug))
			}
		}
	}
	if len(r.st.Left) > 0 {
		b.WriteString(fmt.Sprintf("- %d instance(s) left out (see the plan)\n", len(r.st.Left)))
	}
	if r.st.SLA != nil {
		b.WriteString("\n" + r.st.SLA.String() + "\n")
	}
	if r.st.EndedAt.IsZero() && r.st.Phase != PhasePlanning {
		b.WriteString("\nControls (members of " + r.s.ApproverTeam + "): `/pause`, `/resume`, `/abort <reason>`")
		if r.hasGate() && r.st.Approved == nil {
			b.WriteString(", `/approve`")
		}
		b.WriteString(".\n")
	}
	if runURL != "" {
		b.WriteString("\nRun: " + runURL + "\n")
	}
	return b.String()
}

func (r *rollout) hasGate() bool {
	for _, w := range r.st.Waves {
		if w.Gate {
			return true
		}
	}
	return false
}

func (r *rollout) summaryLine() string {
	ok, other := 0, 0
	for _, w := range r.st.Waves {
		ok += w.Upgraded
		for _, in := range w.Instances {
			if in.Status == UpgradeSucceeded {
				ok++
			} else {
				other++
			}
		}
	}
	if other == 0 {
		return fmt.Sprintf("all %d instance(s) upgraded to %s", ok, r.st.Version)
	}
	return fmt.Sprintf("%d instance(s) upgraded to %s, %d not (see the checklist)", ok, r.st.Version, other)
}

// renderSummary is the final comment: the result and every instance that needs a follow-up.
func (r *rollout) renderSummary() string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("### Fleet upgrade to %s: %s\n\n%s.\n", r.st.Version, r.st.Phase, r.st.Reason))
	var follow []string
	for _, w := range r.st.Waves {
		for _, in := range w.Instances {
			if in.Status != UpgradeSucceeded && in.Status != UpgradeSkipped {
				line := fmt.Sprintf("- %s: %s", r.name(in), in.Status)
				if in.Error != "" {
					line += " — " + oneLine(in.Error)
				}
				follow = append(follow, line)
			}
		}
	}
	if len(follow) > 0 {
		b.WriteString("\nNeeds a follow-up:\n" + strings.Join(follow, "\n") + "\n")
	}
	if sv := r.st.SLA; sv != nil {
		b.WriteString("\n" + sv.String() + "\n")
	}
	return b.String()
}
