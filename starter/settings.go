package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/sla"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// settingsFromEnv reads the lifecycle knobs the starter sends with every request
// (workflows.Settings). Unset variables keep the workflows' defaults; a bad value stops the
// starter with an error naming the variable and the fix.
func settingsFromEnv(tcfg config.Temporal) (workflows.Settings, error) {
	s := workflows.Settings{
		LatestVersion: os.Getenv("LIFECYCLE_LATEST_VERSION"),
		ApproverTeam:  os.Getenv("LIFECYCLE_APPROVER_TEAM"),
		SLA:           sla.Config{TimeZone: os.Getenv("LIFECYCLE_SLA_TIMEZONE")},
		// Config changes share the worker's rate-limited GitHub write budget.
		GitHubWritesQueue: workflows.GitHubWritesQueue,
	}
	// The worker sizes the github-writes queue from the same variables; plans count the budget.
	var err error
	if s.GitHubWritesPerHour, err = config.IntEnv("LIFECYCLE_GITHUB_WRITES_PER_HOUR", workflows.DefaultGitHubWritesPerHour); err != nil {
		return s, err
	}
	if s.GitHubWritesPerChange, err = config.IntEnv("LIFECYCLE_GITHUB_WRITES_PER_CHANGE", workflows.DefaultGitHubWritesPerChange); err != nil {
		return s, err
	}
	if tcfg.UIURL != "" {
		s.WebUI = fmt.Sprintf("%s/namespaces/%s/workflows", strings.TrimRight(tcfg.UIURL, "/"), tcfg.Namespace)
	}
	if s.LatestVersion != "" {
		if err := spec.ValidateVersion("LIFECYCLE_LATEST_VERSION", s.LatestVersion); err != nil {
			return s, err
		}
	}
	if s.ApproverTeam != "" && strings.Count(s.ApproverTeam, "/") != 1 {
		return s, fmt.Errorf("LIFECYCLE_APPROVER_TEAM=%q: want org/team, e.g. sourcegraph/cloud", s.ApproverTeam)
	}
	if v := os.Getenv("LIFECYCLE_RELEASE_REPO"); v != "" {
		owner, name, _ := strings.Cut(v, "/")
		if owner == "" || name == "" || strings.Contains(name, "/") || strings.ContainsAny(v, " \t") {
			return s, fmt.Errorf("LIFECYCLE_RELEASE_REPO=%q: want owner/name of the repository where releases are tagged, e.g. sourcegraph/sourcegraph", v)
		}
		s.ReleaseRepo = v
	}
	if v := os.Getenv("LIFECYCLE_CANARY"); v != "" {
		if err := spec.ValidateSlug("LIFECYCLE_CANARY", v); err != nil {
			return s, err
		}
		s.Canary = v
	}
	if v := os.Getenv("LIFECYCLE_ROLLOUT_WAVES"); v != "" {
		waves, err := parseWaves(v)
		if err != nil {
			return s, fmt.Errorf("LIFECYCLE_ROLLOUT_WAVES=%q: %w", v, err)
		}
		s.RolloutWaves = waves
	}
	if h := os.Getenv("LIFECYCLE_SLA_HOLIDAYS"); h != "" {
		s.SLA.Holidays = strings.Split(h, ",")
	}
	// LIFECYCLE_SLA_RESOLUTION replaces rows of the SLA table's resolution windows, e.g.
	// "upgrade-monthly=1 week;upgrade-patch=3 working days" (";" because windows may hold commas).
	if v := os.Getenv("LIFECYCLE_SLA_RESOLUTION"); v != "" {
		for _, part := range strings.Split(v, ";") {
			kind, window, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || strings.TrimSpace(kind) == "" || strings.TrimSpace(window) == "" {
				return s, fmt.Errorf("LIFECYCLE_SLA_RESOLUTION=%q: want kind=window pairs separated by \";\", e.g. upgrade-monthly=1 week;upgrade-patch=3 working days", v)
			}
			s.SLA.Overrides = append(s.SLA.Overrides, sla.Override{Kind: sla.Kind(strings.TrimSpace(kind)), Resolution: strings.TrimSpace(window)})
		}
	}
	if _, err := s.SLA.Policy(); err != nil {
		return s, fmt.Errorf("LIFECYCLE_SLA_TIMEZONE / LIFECYCLE_SLA_HOLIDAYS / LIFECYCLE_SLA_RESOLUTION: %w", err)
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"LIFECYCLE_TEARDOWN_GRACE", &s.TeardownGrace},
		{"LIFECYCLE_SOAK_INTERVAL", &s.SoakInterval},
		{"LIFECYCLE_SOAK_TIMEOUT", &s.SoakTimeout},
		{"LIFECYCLE_BACKUP_RETENTION", &s.BackupRetention},
		{"LIFECYCLE_ROLLOUT_BAKE", &s.RolloutBake},
		{"LIFECYCLE_ROLLOUT_REFRESH", &s.RolloutRefresh},
		{"LIFECYCLE_UPGRADE_ESTIMATE", &s.UpgradeEstimate},
		{"LIFECYCLE_VERSION_TIMEOUT", &s.VersionTimeout},
		{"LIFECYCLE_ACTIVITY_TIMEOUT", &s.ActivityTimeout},
		{"LIFECYCLE_REVIEW_RECHECK", &s.ReviewRecheck},
	}
	for _, d := range durations {
		v := os.Getenv(d.name)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed <= 0 {
			return s, fmt.Errorf("%s=%q: want a positive Go duration such as 72h or 30s", d.name, v)
		}
		*d.dst = parsed
	}
	ints := []struct {
		name string
		dst  *int
		min  int
		want string
	}{
		{"LIFECYCLE_TRIAL_DAYS", &s.TrialDays, 1, "a positive whole number"},
		{"LIFECYCLE_SOAK_PROBES", &s.SoakProbes, 1, "a positive whole number"},
		{"LIFECYCLE_ROLLOUT_FAILURES", &s.RolloutFailures, 0, "a whole number, 0 or more (0: any failed instance halts the rollout)"},
		{"LIFECYCLE_ROLLOUT_HISTORY", &s.RolloutHistory, 1000, "a whole number of at least 1000 (history events before the rollout continues as new)"},
	}
	for _, n := range ints {
		v := os.Getenv(n.name)
		if v == "" {
			continue
		}
		parsed, err := strconv.Atoi(v)
		if err != nil || parsed < n.min {
			return s, fmt.Errorf("%s=%q: want %s", n.name, v, n.want)
		}
		*n.dst = parsed
	}
	return s, nil
}

// parseWaves parses the rollout's cumulative wave percentages, e.g. "10,40,100".
func parseWaves(v string) ([]int, error) {
	bad := errors.New("want ascending whole percentages from 1 to 100, comma-separated and ending in 100, e.g. 10,40,100")
	var waves []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100 || (len(waves) > 0 && n <= waves[len(waves)-1]) {
			return nil, bad
		}
		waves = append(waves, n)
	}
	if waves[len(waves)-1] != 100 {
		return nil, bad
	}
	return waves, nil
}
