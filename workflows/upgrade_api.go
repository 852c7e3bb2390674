package workflows

import (
	"fmt"
	"time"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The upgrade contract. One instance's upgrade (Upgrade) is an operation of the instance entity,
// like suspend or resume, so it also holds the instance's one-operation lock (invariant 3). The
// fleet rollout (FleetUpgrade) asks each instance's entity for it, and each upgrade reports back
// to the rollout by signal: a few signals per instance, never more than the rollout has in flight.

// Messages of the fleet rollout.
const (
	// QueryRollout returns the RolloutState: phase, waves, every instance's result.
	QueryRollout = "rollout"
	// UpdateRolloutControl pauses, resumes, aborts or approves the rollout (RolloutControl → message).
	UpdateRolloutControl = "control"
	// SignalUpgradeReport carries an UpgradeReport from an instance's upgrade to its rollout.
	SignalUpgradeReport = "upgrade-report"
)

// RolloutWorkflowID is the fleet rollout of a tracking issue: one per issue, so a redelivered
// webhook finds the running rollout.
func RolloutWorkflowID(tracking IssueRef) string {
	return string(forms.OpUpgradeFleet) + "/" + IssueKey(tracking)
}

// UpgradeWorkflowID is one instance's upgrade started by a rollout (or on-call) for an issue;
// attempts after the first (a rollout's /retry) get their own ID.
func UpgradeWorkflowID(slug string, issue IssueRef, attempt int) string {
	id := OperationWorkflowID(forms.OpUpgrade, slug, IssueKey(issue))
	if attempt > 1 {
		id += fmt.Sprintf("/%d", attempt)
	}
	return id
}

// UpgradeRequest is the payload of an upgrade request (OperationRequest.Upgrade).
type UpgradeRequest struct {
	// Version is the target, without the v (e.g. 5.10.0).
	Version string `json:"version"`
	// Force upgrades an instance on the pause or insiders release channel, which a fleet rollout
	// leaves alone (the target must still be a published release).
	Force bool `json:"force,omitempty"`
	// Rollout is the fleet rollout's workflow ID ("" for an upgrade asked for alone). The upgrade
	// reports to it, and leaves the tracking issue to it rather than commenting there itself.
	Rollout string `json:"rollout,omitempty"`
	// Batch names the rollout's batch this upgrade was asked in, BatchSize how many were asked
	// together: the version bump tells the config repo, which merges the batch's bumps as one pull
	// request as soon as all of them have arrived (activities.ChangeConfigInput.Batch).
	Batch     string `json:"batch,omitempty"`
	BatchSize int    `json:"batchSize,omitempty"`
}

// UpgradeStatus is where one instance's upgrade stands, as its rollout sees it.
type UpgradeStatus string

const (
	UpgradePending    UpgradeStatus = "pending"     // planned, not asked yet
	UpgradeRunning    UpgradeStatus = "running"     // asked and accepted
	UpgradeParked     UpgradeStatus = "parked"      // a step waits for an operator decision
	UpgradeSucceeded  UpgradeStatus = "succeeded"   // serving the target version, soaked
	UpgradeSkipped    UpgradeStatus = "skipped"     // nothing to do (already there, paused channel) or left out by an operator
	UpgradeRejected   UpgradeStatus = "rejected"    // refused before changing anything (unhealthy, busy instance)
	UpgradeRolledBack UpgradeStatus = "rolled-back" // aborted by an operator: the old version serves again
	UpgradeFailed     UpgradeStatus = "failed"      // the workflow failed outright; check its history
)

// failed reports whether the status counts against the rollout's failure threshold.
func (s UpgradeStatus) failed() bool {
	switch s {
	case UpgradeParked, UpgradeRejected, UpgradeRolledBack, UpgradeFailed:
		return true
	}
	return false
}

// done reports whether the upgrade has ended (parked has not: a decision may still finish it).
func (s UpgradeStatus) done() bool {
	switch s {
	case UpgradeSucceeded, UpgradeSkipped, UpgradeRejected, UpgradeRolledBack, UpgradeFailed:
		return true
	}
	return false
}

// UpgradeReport is what an instance's upgrade tells its rollout: when it parks, when a decision
// sends it on, and when it ends.
type UpgradeReport struct {
	Slug       string        `json:"slug"`
	WorkflowID string        `json:"workflowId"`
	Status     UpgradeStatus `json:"status"`
	From       string        `json:"from,omitempty"`
	To         string        `json:"to,omitempty"`
	// Step and Error say where and why it parked or failed; Reason why it was skipped or rejected.
	Step    string        `json:"step,omitempty"`
	Error   string        `json:"error,omitempty"`
	Reason  string        `json:"reason,omitempty"`
	PR      int           `json:"pr,omitempty"`
	PRURL   string        `json:"prUrl,omitempty"`
	Backups *BackupRecord `json:"backups,omitempty"`
	At      time.Time     `json:"at"`
}

// RolloutRequest is a fleet upgrade asked for on a tracking issue.
type RolloutRequest struct {
	Issue       IssueRef              `json:"issue"`
	Requester   string                `json:"requester"`
	RequestedAt time.Time             `json:"requestedAt"`
	Settings    Settings              `json:"settings,omitzero"`
	Upgrade     forms.UpgradeTracking `json:"upgrade"`
}

// RolloutInput starts a rollout; State is set when it continues as new.
type RolloutInput struct {
	Request RolloutRequest `json:"request"`
	State   *RolloutState  `json:"state,omitempty"`
	// Revision is how the rollout makes its calls (CurrentRevision when started).
	Revision int `json:"revision,omitempty"`
}

// RolloutPhase is where the whole rollout stands.
type RolloutPhase string

const (
	PhasePlanning RolloutPhase = "planning"
	PhasePlanned  RolloutPhase = "planned" // a dry run ends here
	PhaseRunning  RolloutPhase = "running"
	PhaseBaking   RolloutPhase = "baking"  // between waves
	PhaseWaiting  RolloutPhase = "waiting" // for an instance's maintenance window
	PhaseApproval RolloutPhase = "awaiting-approval"
	PhasePaused   RolloutPhase = "paused"
	PhaseHalted   RolloutPhase = "halted" // failures passed the threshold; waits for them to clear, /resume or /abort
	PhaseDone     RolloutPhase = "done"
	PhaseAborted  RolloutPhase = "aborted"
	PhaseRejected RolloutPhase = "rejected" // the request was refused (unknown release, downgrade)
)

// RolloutState is the rollout's whole state: what the query returns and continue-as-new carries.
type RolloutState struct {
	Version string       `json:"version"`
	Release string       `json:"release,omitempty"` // the release's URL
	Phase   RolloutPhase `json:"phase"`
	// Reason explains a rejection, a halt or an abort.
	Reason string `json:"reason,omitempty"`
	Waves  []Wave `json:"waves"`
	// Wave is the index of the current wave (len(Waves) once all are done).
	Wave int `json:"wave"`
	// Left are the fleet's instances the plan leaves out, with why.
	Left []LeftOut `json:"left,omitempty"`
	// Paused, Approved and Aborted record the controls in force.
	Paused   *RolloutControl  `json:"paused,omitempty"`
	Approved *RolloutControl  `json:"approved,omitempty"`
	Aborted  *RolloutControl  `json:"aborted,omitempty"`
	Controls []RolloutControl `json:"controls,omitempty"`
	// EarlierControls counts the controls dropped from Controls, which keeps the last maxControls
	// (a /retry per failed instance would otherwise grow it, and the state continue-as-new carries,
	// without bound).
	EarlierControls int `json:"earlierControls,omitempty"`
	// BakeUntil is when the next wave may start.
	BakeUntil time.Time `json:"bakeUntil,omitzero"`
	StartedAt time.Time `json:"startedAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	SLA       *SLAView  `json:"sla,omitempty"`
	// Runs counts the workflow runs (1 + continue-as-new).
	Runs int `json:"runs"`
	// CommentID is the status comment on the tracking issue.
	CommentID int64 `json:"commentId,omitempty"`
}

// Wave is one step of the rollout: the canary, the other internal instances, then percentages of
// trials and of customers.
type Wave struct {
	Name      string            `json:"name"`
	Instances []RolloutInstance `json:"instances"`
	// Upgraded counts the instances dropped from Instances once upgraded (large fleets only).
	Upgraded int `json:"upgraded,omitempty"`
	// Gate: the wave waits for /approve (the first customer wave, when the form asks for it).
	Gate      bool      `json:"gate,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
	// Expected is the plan's estimate of the wave's end.
	Expected time.Time `json:"expected,omitzero"`
}

// RolloutInstance is one instance in a wave.
type RolloutInstance struct {
	Slug string            `json:"slug"`
	Type spec.InstanceType `json:"type"`
	// Account is the customer's sourcegraph/accounts link: tracking issues name customers by it,
	// never by slug, when the config has one.
	Account string `json:"account,omitempty"`
	// Domain (empty: the default for the slug), Region and Size are what the instance's entity
	// workflow is adopted with, if it has none; cleared once asked.
	Domain  string                  `json:"domain,omitempty"`
	Region  string                  `json:"region,omitempty"`
	Size    spec.Size               `json:"size,omitempty"`
	From    string                  `json:"from"`
	Window  *spec.MaintenanceWindow `json:"window,omitempty"`
	Status  UpgradeStatus           `json:"status"`
	Step    string                  `json:"step,omitempty"`
	Error   string                  `json:"error,omitempty"`
	PR      int                     `json:"pr,omitempty"`
	PRURL   string                  `json:"prUrl,omitempty"`
	Backups *BackupRecord           `json:"backups,omitempty"`
	EndedAt time.Time               `json:"endedAt,omitzero"`
	// Accepted is set when an operator resumed the rollout past this instance's failure.
	Accepted bool `json:"accepted,omitempty"`
	// Attempt counts the rollout's requests for this instance (0: not asked yet); a /retry asks again.
	Attempt int `json:"attempt,omitempty"`
}

// LeftOut is an instance the plan does not upgrade.
type LeftOut struct {
	Slug   string `json:"slug"`
	Reason string `json:"reason"`
}

// Rollout control actions.
const (
	ControlPause   = "pause"
	ControlResume  = "resume"
	ControlAbort   = "abort"
	ControlApprove = "approve"
	// ControlRetry asks again for the upgrade of an instance whose upgrade was refused, rolled back
	// or failed (Slug); ControlSkip leaves such an instance out of the rollout, with a reason.
	// A parked upgrade is decided on the upgrade itself (decide), not here.
	ControlRetry = "retry"
	ControlSkip  = "skip"
)

// RolloutControl is an operator's control of the rollout.
type RolloutControl struct {
	Action string    `json:"action"`
	Slug   string    `json:"slug,omitempty"` // retry and skip
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// RolloutResult is the final state.
type RolloutResult = RolloutState

// instances counts the instances in the waves, upgraded and compacted ones included.
func (st RolloutState) instances() int {
	n := 0
	for _, w := range st.Waves {
		n += len(w.Instances) + w.Upgraded
	}
	return n
}
