package workflows

import (
	"net/url"
	"strings"
)

// The deployment's settings, as every request carries them.

// WithDefaults fills every unset field with its default.
func (s Settings) WithDefaults() Settings {
	if s.TrialDays <= 0 {
		s.TrialDays = DefaultTrialDays
	}
	if s.TrialReminders == nil {
		s.TrialReminders = DefaultTrialReminders
	}
	if s.TeardownGrace <= 0 {
		s.TeardownGrace = DefaultTeardownGrace
	}
	if s.SoakProbes <= 0 {
		s.SoakProbes = DefaultSoakProbes
	}
	if s.SoakInterval <= 0 {
		s.SoakInterval = DefaultSoakInterval
	}
	if s.SoakTimeout <= 0 {
		s.SoakTimeout = DefaultSoakTimeout
	}
	if s.ApproverTeam == "" {
		s.ApproverTeam = DefaultApproverTeam
	}
	if s.BackupRetention <= 0 {
		s.BackupRetention = DefaultBackupRetention
	}
	if s.ReleaseRepo == "" {
		s.ReleaseRepo = DefaultReleaseRepo
	}
	if s.Canary == "" {
		s.Canary = DefaultCanary
	}
	if len(s.RolloutWaves) == 0 {
		s.RolloutWaves = DefaultRolloutWaves
	}
	if s.RolloutBake <= 0 {
		s.RolloutBake = DefaultRolloutBake
	}
	if s.RolloutFailures < 0 {
		s.RolloutFailures = 0
	}
	if s.RolloutRefresh <= 0 {
		s.RolloutRefresh = DefaultRolloutRefresh
	}
	if s.RolloutHistory <= 0 {
		s.RolloutHistory = DefaultRolloutHistory
	}
	if s.UpgradeEstimate <= 0 {
		s.UpgradeEstimate = DefaultUpgradeEstimate
	}
	if s.ReviewRecheck <= 0 {
		s.ReviewRecheck = DefaultReviewRecheck
	}
	if s.VersionTimeout <= 0 {
		s.VersionTimeout = DefaultVersionTimeout
	}
	return s
}

// RunURL links a workflow's page in the Web UI ("" without a Web UI prefix).
func (s Settings) RunURL(workflowID string) string {
	if s.WebUI == "" {
		return ""
	}
	return strings.TrimRight(s.WebUI, "/") + "/" + url.PathEscape(workflowID)
}
