package main

import (
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
	if h := os.Getenv("LIFECYCLE_SLA_HOLIDAYS"); h != "" {
		s.SLA.Holidays = strings.Split(h, ",")
	}
	if _, err := s.SLA.Policy(); err != nil {
		return s, fmt.Errorf("LIFECYCLE_SLA_TIMEZONE / LIFECYCLE_SLA_HOLIDAYS: %w", err)
	}
	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"LIFECYCLE_TEARDOWN_GRACE", &s.TeardownGrace},
		{"LIFECYCLE_SOAK_INTERVAL", &s.SoakInterval},
		{"LIFECYCLE_SOAK_TIMEOUT", &s.SoakTimeout},
		{"LIFECYCLE_BACKUP_RETENTION", &s.BackupRetention},
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
	}{
		{"LIFECYCLE_TRIAL_DAYS", &s.TrialDays},
		{"LIFECYCLE_SOAK_PROBES", &s.SoakProbes},
	}
	for _, n := range ints {
		v := os.Getenv(n.name)
		if v == "" {
			continue
		}
		parsed, err := strconv.Atoi(v)
		if err != nil || parsed <= 0 {
			return s, fmt.Errorf("%s=%q: want a positive whole number", n.name, v)
		}
		*n.dst = parsed
	}
	return s, nil
}
