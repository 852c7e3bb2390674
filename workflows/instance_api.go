package workflows

import (
	"fmt"
	"time"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/sla"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The instance contract: one long-lived entity workflow per instance owns its lifecycle state and
// runs each requested operation as a child workflow, one at a time (docs/design.md invariant 3).

// Messages of the instance workflow.
const (
	// UpdateRequest asks the instance for an operation (OperationRequest → RequestAccepted). Its
	// validator rejects a request that conflicts with the instance's state or with the running
	// operation; a rejected request never enters history and starts nothing.
	UpdateRequest = "request"
	// QueryInstance returns the InstanceRecord: state, trial clock, running and past operations.
	QueryInstance = "instance"
	// UpdateAdopt (AdoptRequest → AdoptAnswer) takes an instance made before this service under
	// management without any operation: sent with the entity's start by `mi adopt`. An instance
	// already managed answers its record.
	UpdateAdopt = "adopt"
)

// AdoptRequest asks an entity to adopt its instance; By is who asked.
type AdoptRequest struct {
	By string `json:"by"`
}

// AdoptAnswer is the adopted (or already managed) instance. New is set on the first answer of
// the run that adopted it.
type AdoptAnswer struct {
	Record InstanceRecord `json:"record"`
	New    bool           `json:"new,omitempty"`
}

// Messages of the teardown workflow (besides decide and progress, which every operation has).
const (
	// UpdateApprove approves a teardown (Approval); the approver must not be the requester.
	UpdateApprove = "approve"
	// UpdateCancel cancels a teardown before its grace period ends (Approval: by + reason).
	UpdateCancel = "cancel"
)

// InstanceWorkflowID is the entity workflow's ID: one per slug, so a second create for the same
// slug reaches the same workflow and is rejected there.
func InstanceWorkflowID(slug string) string { return "instance/" + slug }

// OperationWorkflowID names one operation's child workflow, e.g.
// "suspend/acme/sourcegraph/customer/42". key is the issue for requested operations, or a fixed
// word for the ones the instance starts itself ("trial-expired").
func OperationWorkflowID(op forms.Operation, slug, key string) string {
	return fmt.Sprintf("%s/%s/%s", op, slug, key)
}

// IssueKey is the part of an operation's workflow ID that names its issue.
func IssueKey(i IssueRef) string { return fmt.Sprintf("%s/%s/%d", i.Owner, i.Repo, i.Number) }

// InstanceState is where an instance is in its lifecycle (the InstanceState search attribute).
type InstanceState string

const (
	StateNone         InstanceState = ""             // no instance (before create, or after an aborted create)
	StateProvisioning InstanceState = "provisioning" // create running
	StateActive       InstanceState = "active"
	StateSuspending   InstanceState = "suspending"
	StateSuspended    InstanceState = "suspended"
	StateResuming     InstanceState = "resuming"
	StateTearingDown  InstanceState = "tearing-down"
	StateUpgrading    InstanceState = "upgrading"
	StateDeleted      InstanceState = "deleted" // the tombstone: the workflow ends, its record stays queryable
)

// Settings are the deployment's knobs, sent by the starter with every request so a changed
// setting applies to the next request without touching running workflows. Zero values take the
// defaults (Settings.withDefaults).
type Settings struct {
	// WebUI is the prefix of a workflow's page in the Temporal Web UI; the workflow ID is appended
	// (path-escaped). Empty: no links.
	WebUI string `json:"webUI,omitempty"`
	// SLA is the SLA policy (working-day calendar, office hours, table overrides).
	SLA sla.Config `json:"sla,omitzero"`
	// TrialDays is a new trial's length (default 30).
	TrialDays int `json:"trialDays,omitempty"`
	// TrialReminders are the days before expiry at which the trial issue is reminded (default 7, 1).
	TrialReminders []int `json:"trialReminders,omitempty"`
	// ApproverTeam is the GitHub team ("org/team") whose members may approve a teardown
	// (default sourcegraph/cloud).
	ApproverTeam string `json:"approverTeam,omitempty"`
	// TeardownGrace is the wait between approval and the first destructive step (default 72 h).
	TeardownGrace time.Duration `json:"teardownGrace,omitempty"`
	// SoakProbes and SoakInterval shape the uptime soak after create and resume (default 3 probes
	// 10 s apart); SoakTimeout bounds it (default 15 min).
	SoakProbes   int           `json:"soakProbes,omitempty"`
	SoakInterval time.Duration `json:"soakInterval,omitempty"`
	SoakTimeout  time.Duration `json:"soakTimeout,omitempty"`
	// BackupRetention bounds how long a suspension can last before the newest on-demand backups
	// expire (default 90 days: Backup for GKE's retention). Resume warns when it is near.
	BackupRetention time.Duration `json:"backupRetention,omitempty"`
	// LatestVersion is the latest tested version (bumped after the internal
	// instances are upgraded): new instances get it when the form leaves the version empty, and a
	// resumed instance that is behind catches up to it.
	LatestVersion string `json:"latestVersion,omitempty"`

	// The fleet rollout (FleetUpgrade).
	// ReleaseRepo is where releases are tagged (default sourcegraph/sourcegraph).
	ReleaseRepo string `json:"releaseRepo,omitempty"`
	// Canary is the instance upgraded first, alone (default rctest).
	Canary string `json:"canary,omitempty"`
	// RolloutWaves are the cumulative percentages of trials, then of customers, per wave
	// (default 10, 40, 100).
	RolloutWaves []int `json:"rolloutWaves,omitempty"`
	// RolloutBake is the wait between waves (default 1 h).
	RolloutBake time.Duration `json:"rolloutBake,omitempty"`
	// RolloutFailures is how many failed instances a wave tolerates before the rollout halts
	// (default 0: any failure halts it before the next wave).
	RolloutFailures int `json:"rolloutFailures,omitempty"`
	// RolloutRefresh is the least time between two edits of the tracking issue (default 10 s), so
	// a large wave does not edit it once per instance.
	RolloutRefresh time.Duration `json:"rolloutRefresh,omitempty"`
	// RolloutHistory is the history length at which a rollout continues as new (default 4,000).
	RolloutHistory int `json:"rolloutHistory,omitempty"`
	// UpgradeEstimate is the plan's estimate of one instance's upgrade (default 30 min).
	UpgradeEstimate time.Duration `json:"upgradeEstimate,omitempty"`
	// VersionTimeout bounds the wait for an upgraded instance to report its new version
	// (default 30 min).
	VersionTimeout time.Duration `json:"versionTimeout,omitempty"`
	// ActivityTimeout, when set, caps activities' start-to-close and heartbeat timeouts, so an
	// attempt lost with a killed worker is retried within it (test stacks; 0 keeps the defaults,
	// sized for real clouds).
	ActivityTimeout time.Duration `json:"activityTimeout,omitempty"`
	// ReviewRecheck is how often a step parked for a config pull request's review runs again
	// by itself (default 5 min).
	ReviewRecheck time.Duration `json:"reviewRecheck,omitempty"`
	// GitHubWritesQueue, when set, is the task queue config changes (pull request + merge, about
	// 7 GitHub writes each) are scheduled on: the worker serves it with a rate limit that the
	// Temporal server enforces across all workers, one GitHub write budget for the deployment.
	// The starter sets GitHubWritesQueue; empty (runs started before it existed) keeps them on
	// TaskQueue, so those runs replay. Never defaulted (WithDefaults) for that reason.
	GitHubWritesQueue string `json:"githubWritesQueue,omitempty"`
	// GitHubWritesPerHour and GitHubWritesPerChange are that queue's budget as the worker sizes
	// it (LIFECYCLE_GITHUB_WRITES_PER_HOUR, _PER_CHANGE): the rollout plan's expected dates count
	// it. 0 (runs started before it existed): not counted.
	GitHubWritesPerHour   int `json:"githubWritesPerHour,omitempty"`
	GitHubWritesPerChange int `json:"githubWritesPerChange,omitempty"`
}

// OperationRequest is one request for one instance, parsed and validated by the starter. Exactly
// one of the typed fields is set, the one for Operation.
type OperationRequest struct {
	Operation forms.Operation `json:"operation"`
	Slug      string          `json:"slug"`
	// Issue is where the request was filed; nil for requests the system makes itself (trial expiry).
	Issue     *IssueRef `json:"issue,omitempty"`
	Requester string    `json:"requester"`
	// RequestedAt is when the issue was filed: the SLA's response clock starts here (and its
	// resolution clock, without AgreedAt).
	RequestedAt time.Time `json:"requestedAt"`
	// AgreedAt is the form's agreement date, when it gives one: the SLA's resolution clock starts
	// here. (Requests from before this field carried the agreement date in RequestedAt.)
	AgreedAt time.Time `json:"agreedAt,omitzero"`
	Settings Settings  `json:"settings,omitzero"`

	Create       *forms.NewInstance     `json:"create,omitempty"`
	Suspend      *forms.Suspend         `json:"suspend,omitempty"`
	Resume       *forms.Resume          `json:"resume,omitempty"`
	Teardown     *forms.Teardown        `json:"teardown,omitempty"`
	ExtendTrial  *forms.ExtendTrial     `json:"extendTrial,omitempty"`
	ConvertTrial *forms.ConvertTrial    `json:"convertTrial,omitempty"`
	Allowlist    *forms.AllowlistUpdate `json:"allowlist,omitempty"`
	Reload       *forms.ReloadFrontend  `json:"reload,omitempty"`
	Telemetry    *forms.Telemetry       `json:"telemetry,omitempty"`
	Upgrade      *UpgradeRequest        `json:"upgrade,omitempty"`
	// Attempt numbers a repeated request of the same issue (a rollout asking an instance again
	// after a refusal or a rollback); 0 and 1 are the first. It keeps each attempt's workflow ID
	// apart.
	Attempt int `json:"attempt,omitempty"`
	// RequestID is unique to one hand-over of the request (the starter makes one per delivery). The
	// answer echoes it; Temporal answers a repeated Update ID with the first answer, so a sender
	// seeing another ID knows its delivery repeated a request already started.
	RequestID string `json:"requestId,omitempty"`
}

// inRollout reports whether a fleet rollout asked for this request.
func (r OperationRequest) inRollout() bool { return r.Upgrade != nil && r.Upgrade.Rollout != "" }

// RequestAccepted is the answer to an accepted request: the operation's workflow.
type RequestAccepted struct {
	WorkflowID string `json:"workflowId"`
	Message    string `json:"message"`
	// RequestID is the accepted request's (OperationRequest.RequestID).
	RequestID string `json:"requestId,omitempty"`
}

// Instance is the instance as its operations need it: what was declared at create, kept by the
// entity workflow.
type Instance struct {
	Slug    string            `json:"slug"`
	Type    spec.InstanceType `json:"type,omitempty"`
	Domain  string            `json:"domain,omitempty"`
	Region  string            `json:"region,omitempty"`
	Size    spec.Size         `json:"size,omitempty"`
	Version string            `json:"version,omitempty"`
	// ProjectID is the instance's GCP project, chosen once by its create (random-project-id) and
	// recorded in config.yaml's status.gcp.projectId; an adoption reads it from there. Empty for
	// instances that recorded none: their project is spec.ProjectID(slug) (instanceProject).
	ProjectID string `json:"projectId,omitempty"`
	// Issue is the create request's issue: trial reminders and expiry notices go there.
	Issue *IssueRef `json:"issue,omitempty"`
}

// TrialClock is a trial's expiry. Extend moves ExpiresAt; convert to paid removes the clock.
type TrialClock struct {
	ExpiresAt time.Time `json:"expiresAt"`
	// Reminded lists the reminders posted on the trial's issue, as days before expiry.
	Reminded []int `json:"reminded,omitempty"`
	// Skipped lists the reminders that were not posted: their time had passed when the clock
	// was set (a trial or extension shorter than the reminder), or the comment could not be posted.
	// Runs before this field existed listed them in Reminded.
	Skipped []int `json:"skipped,omitempty"`
	// Expired is set once the expiry suspension has been started.
	Expired bool `json:"expired,omitempty"`
}

// OperationRef is one operation run by the instance.
type OperationRef struct {
	Operation  forms.Operation `json:"operation"`
	WorkflowID string          `json:"workflowId"`
	Issue      *IssueRef       `json:"issue,omitempty"`
	Requester  string          `json:"requester"`
	StartedAt  time.Time       `json:"startedAt"`
	EndedAt    time.Time       `json:"endedAt,omitzero"`
	Outcome    Outcome         `json:"outcome,omitempty"`
	// Rollout is the fleet rollout that asked for the operation (an upgrade), told if it fails.
	Rollout string `json:"rollout,omitempty"`
	// Attempt is the request's attempt (0: the first).
	Attempt int `json:"attempt,omitempty"`
}

// InstanceRecord is the entity workflow's state: what the instance query returns, what
// continue-as-new carries, and the tombstone once the instance is deleted.
type InstanceRecord struct {
	Instance Instance      `json:"instance"`
	State    InstanceState `json:"state"`
	Trial    *TrialClock   `json:"trial,omitempty"`
	// Current is the running operation, nil when idle.
	Current *OperationRef `json:"current,omitempty"`
	// History holds the last operations, newest last (bounded, so continue-as-new stays small).
	History []OperationRef `json:"history,omitempty"`
	// Backups are the newest on-demand backups (suspend, teardown): resume and restore start here.
	Backups *BackupRecord `json:"backups,omitempty"`
	// SuspendedAt is when the current suspension finished; SuspendIssue is where it was asked, and
	// where the backup-retention warning goes (RetentionWarned once it went).
	SuspendedAt     time.Time `json:"suspendedAt,omitzero"`
	SuspendIssue    *IssueRef `json:"suspendIssue,omitempty"`
	RetentionWarned bool      `json:"retentionWarned,omitempty"`
	// Settings are the latest request's: the trial and retention timers use them.
	Settings Settings `json:"settings,omitzero"`
	// AdoptedAt is when the entity adopted an instance made before this service, from its
	// config.yaml.
	AdoptedAt time.Time `json:"adoptedAt,omitzero"`
	// NeedsAttention is set when an operation workflow failed outright (not parked: failed), so
	// the instance's state may not match its resources.
	NeedsAttention bool `json:"needsAttention,omitempty"`
}

// BackupRecord is one pair of on-demand backups taken before a risky step (invariant 6).
type BackupRecord struct {
	SQLBackupRunID int64     `json:"sqlBackupRunId,omitempty"`
	GKEBackup      string    `json:"gkeBackup,omitempty"`
	TakenAt        time.Time `json:"takenAt"`
}

// InstanceInput starts (or continues) the entity workflow.
type InstanceInput struct {
	Record InstanceRecord `json:"record"`
	// Adopt: the instance was made before this service (no entity yet). The entity reads its
	// config.yaml before it decides on the request that started it, and refuses it when there is
	// none.
	Adopt bool `json:"adopt,omitempty"`
	// Revision is how the run makes its calls (CurrentRevision when started or continued; absent
	// in runs started before the field existed, which took revision 0's path).
	Revision int `json:"revision,omitempty"`
}

// Outcome is how an operation ended.
type Outcome string

const (
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeRejected: the operation's own validation (e.g. domain already taken) refused it
	// before it changed anything.
	OutcomeRejected Outcome = "rejected"
	// OutcomeAborted: an operator aborted it and its compensations ran.
	OutcomeAborted Outcome = "aborted"
	// OutcomeCancelled: cancelled before it changed anything (a teardown in its grace period).
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeFailed: the child workflow itself failed (a bug, or it was terminated).
	OutcomeFailed Outcome = "failed"
)

// OperationInput is every operation workflow's input.
type OperationInput struct {
	Request  OperationRequest `json:"request"`
	Instance Instance         `json:"instance"`
	// Backups are the instance's newest on-demand backups (resume restores from them if needed).
	Backups *BackupRecord `json:"backups,omitempty"`
	// Revision is how the operation makes its calls (CurrentRevision when started).
	Revision int `json:"revision,omitempty"`
}

// OperationResult is what an operation did, for the instance's record.
type OperationResult struct {
	Outcome Outcome `json:"outcome"`
	// Reason explains a rejection or a cancellation.
	Reason string `json:"reason,omitempty"`
	// Instance is the instance after the operation (create fills in the resolved version; resume
	// may have caught the version up; convert changes the type).
	Instance Instance `json:"instance"`
	// Backups taken by the operation, if any.
	Backups *BackupRecord `json:"backups,omitempty"`
	// TrialExpiresAt is set by a trial's create: the trial clock starts at the hand-off.
	TrialExpiresAt time.Time `json:"trialExpiresAt,omitzero"`
	Progress       Progress  `json:"progress"`
}

// Approval is an approval or a cancellation of a teardown.
type Approval struct {
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}
