package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/sla"
)

func TestSettingsFromEnv(t *testing.T) {
	tcfg := config.Temporal{UIURL: "http://ui:8233/", Namespace: "prod"}
	t.Setenv("LIFECYCLE_LATEST_VERSION", "5.10.0")
	t.Setenv("LIFECYCLE_TEARDOWN_GRACE", "3s")
	t.Setenv("LIFECYCLE_SOAK_PROBES", "2")
	t.Setenv("LIFECYCLE_SLA_HOLIDAYS", "2026-12-25,2027-01-01")
	t.Setenv("LIFECYCLE_RELEASE_REPO", "sourcegraph/releases")
	t.Setenv("LIFECYCLE_CANARY", "rctest-2")
	t.Setenv("LIFECYCLE_ROLLOUT_WAVES", "25, 50,100")
	t.Setenv("LIFECYCLE_ROLLOUT_BAKE", "2h")
	t.Setenv("LIFECYCLE_ROLLOUT_FAILURES", "0")
	t.Setenv("LIFECYCLE_ROLLOUT_REFRESH", "30s")
	t.Setenv("LIFECYCLE_ROLLOUT_HISTORY", "5000")
	t.Setenv("LIFECYCLE_UPGRADE_ESTIMATE", "45m")
	t.Setenv("LIFECYCLE_VERSION_TIMEOUT", "20m")
	s, err := settingsFromEnv(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.LatestVersion != "5.10.0" || s.TeardownGrace != 3*time.Second || s.SoakProbes != 2 || len(s.SLA.Holidays) != 2 ||
		s.WebUI != "http://ui:8233/namespaces/prod/workflows" {
		t.Errorf("settings %+v", s)
	}
	if s.ReleaseRepo != "sourcegraph/releases" || s.Canary != "rctest-2" || !slices.Equal(s.RolloutWaves, []int{25, 50, 100}) ||
		s.RolloutBake != 2*time.Hour || s.RolloutFailures != 0 || s.RolloutRefresh != 30*time.Second ||
		s.RolloutHistory != 5000 || s.UpgradeEstimate != 45*time.Minute || s.VersionTimeout != 20*time.Minute {
		t.Errorf("rollout settings %+v", s)
	}
	t.Setenv("LIFECYCLE_ROLLOUT_FAILURES", "3")
	if s, err = settingsFromEnv(tcfg); err != nil || s.RolloutFailures != 3 {
		t.Errorf("LIFECYCLE_ROLLOUT_FAILURES=3: got %d, %v", s.RolloutFailures, err)
	}
}

// Unset, the rollout settings stay zero: the workflows apply their defaults (Settings.withDefaults).
func TestSettingsFromEnvLeavesRolloutDefaultsToTheWorkflows(t *testing.T) {
	s, err := settingsFromEnv(config.Temporal{})
	if err != nil {
		t.Fatal(err)
	}
	if s.ReleaseRepo != "" || s.Canary != "" || s.RolloutWaves != nil || s.RolloutBake != 0 || s.RolloutFailures != 0 ||
		s.RolloutRefresh != 0 || s.RolloutHistory != 0 || s.UpgradeEstimate != 0 || s.VersionTimeout != 0 {
		t.Errorf("settings without the environment: %+v", s)
	}
}

func TestParseWaves(t *testing.T) {
	for v, want := range map[string][]int{"100": {100}, "10,40,100": {10, 40, 100}, " 1 , 2,100 ": {1, 2, 100}} {
		if got, err := parseWaves(v); err != nil || !slices.Equal(got, want) {
			t.Errorf("parseWaves(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"10,40", "0,100", "40,10,100", "10,10,100", "10,40,100,100", "10,,100", "10;40;100", "50,150", "ten,100", ","} {
		if got, err := parseWaves(v); err == nil {
			t.Errorf("parseWaves(%q) = %v, want an error", v, got)
		}
	}
}

func TestSettingsFromEnvNamesTheBadVariable(t *testing.T) {
	for name, val := range map[string]string{
		"LIFECYCLE_LATEST_VERSION":   "v5.10",
		"LIFECYCLE_TEARDOWN_GRACE":   "3 days",
		"LIFECYCLE_SOAK_PROBES":      "-1",
		"LIFECYCLE_APPROVER_TEAM":    "cloud",
		"LIFECYCLE_SLA_TIMEZONE":     "Mars/Olympus",
		"LIFECYCLE_SLA_HOLIDAYS":     "25/12/2026",
		"LIFECYCLE_RELEASE_REPO":     "sourcegraph",
		"LIFECYCLE_CANARY":           "RC_Test",
		"LIFECYCLE_ROLLOUT_WAVES":    "10,40",
		"LIFECYCLE_ROLLOUT_BAKE":     "1 hour",
		"LIFECYCLE_ROLLOUT_FAILURES": "-1",
		"LIFECYCLE_ROLLOUT_REFRESH":  "0s",
		"LIFECYCLE_ROLLOUT_HISTORY":  "999",
		"LIFECYCLE_UPGRADE_ESTIMATE": "30",
		"LIFECYCLE_VERSION_TIMEOUT":  "-5m",
		"LIFECYCLE_SLA_RESOLUTION":   "upgrade-monthly=soon",
		"LIFECYCLE_ACTIVITY_TIMEOUT": "ten seconds",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, val)
			_, err := settingsFromEnv(config.Temporal{})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%q: error %v, want one naming the variable", name, val, err)
			}
		})
	}
}

func TestSettingsFromEnvOverridesSLAResolutions(t *testing.T) {
	t.Setenv("LIFECYCLE_SLA_RESOLUTION", "upgrade-monthly=1 week; upgrade-patch=3 working days")
	s, err := settingsFromEnv(config.Temporal{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.SLA.Policy()
	if err != nil {
		t.Fatal(err)
	}
	release := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) // a Monday
	for kind, want := range map[sla.Kind]time.Time{
		sla.UpgradeMonthly: release.AddDate(0, 0, 7),
		sla.UpgradePatch:   time.Date(2026, 12, 10, 9, 0, 0, 0, time.UTC),
	} {
		d, err := p.Deadlines(kind, release)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Resolution.Equal(want) {
			t.Errorf("%s: resolution %s, want %s", kind, d.Resolution, want)
		}
	}
	for _, bad := range []string{"upgrade-monthly", "=1 week", "no-such-kind=1 week"} {
		t.Setenv("LIFECYCLE_SLA_RESOLUTION", bad)
		if _, err := settingsFromEnv(config.Temporal{}); err == nil || !strings.Contains(err.Error(), "LIFECYCLE_SLA_RESOLUTION") {
			t.Errorf("%q: error %v, want one naming the variable", bad, err)
		}
	}
}

func TestSettingsFromEnvWantsOwnerSlashNameForTheReleaseRepo(t *testing.T) {
	for _, v := range []string{"sourcegraph/sourcegraph/x", "/sourcegraph", "sourcegraph/", "source graph/sourcegraph"} {
		t.Setenv("LIFECYCLE_RELEASE_REPO", v)
		if _, err := settingsFromEnv(config.Temporal{}); err == nil || !strings.Contains(err.Error(), "owner/name") {
			t.Errorf("LIFECYCLE_RELEASE_REPO=%q: error %v, want one asking for owner/name", v, err)
		}
	}
}
