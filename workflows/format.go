package workflows

import (
	"strings"
	"time"
)

// Formatting shared by the status comments, the Web UI's details and refusals.

func issueText(i *IssueRef) string {
	if i == nil {
		return "no issue"
	}
	return i.String()
}

func statesText(states []InstanceState) string {
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = string(s)
	}
	return strings.Join(parts, " or ")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// formatTime is how times read on issues: in UTC, to the minute.
func formatTime(t time.Time) string { return t.UTC().Format("Mon 2 Jan 2006 15:04 MST") }
