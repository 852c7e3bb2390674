package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/config"
)

func TestSettingsFromEnv(t *testing.T) {
	tcfg := config.Temporal{UIURL: "http://ui:8233/", Namespace: "prod"}
	t.Setenv("LIFECYCLE_LATEST_VERSION", "5.10.0")
	t.Setenv("LIFECYCLE_TEARDOWN_GRACE", "3s")
	t.Setenv("LIFECYCLE_SOAK_PROBES", "2")
	t.Setenv("LIFECYCLE_SLA_HOLIDAYS", "2026-12-25,2027-01-01")
	s, err := settingsFromEnv(tcfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.LatestVersion != "5.10.0" || s.TeardownGrace != 3*time.Second || s.SoakProbes != 2 || len(s.SLA.Holidays) != 2 ||
		s.WebUI != "http://ui:8233/namespaces/prod/workflows" {
		t.Errorf("settings %+v", s)
	}
}

func TestSettingsFromEnvNamesTheBadVariable(t *testing.T) {
	for name, val := range map[string]string{
		"LIFECYCLE_LATEST_VERSION": "v5.10",
		"LIFECYCLE_TEARDOWN_GRACE": "3 days",
		"LIFECYCLE_SOAK_PROBES":    "-1",
		"LIFECYCLE_APPROVER_TEAM":  "cloud",
		"LIFECYCLE_SLA_TIMEZONE":   "Mars/Olympus",
		"LIFECYCLE_SLA_HOLIDAYS":   "25/12/2026",
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
