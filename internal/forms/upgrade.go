package forms

// The fleet upgrade's tracking issue: one per release, it drives the
// rollout (canary on rctest, other internal instances, then waves of trials before customers,
// 10 % → 40 % → 100 %) and carries its live checklist.

// Field labels and checkbox options of the upgrade-tracking form
// (.github/ISSUE_TEMPLATE/upgrade-tracking.yml).
const (
	FieldTargetVersion = "Target version"
	FieldDryRun        = "Dry run"
	OptionDryRun       = "Plan the waves and post the checklist without upgrading any instance"
	FieldConcurrency   = "Concurrency"
	FieldApproval      = "Approval"
	OptionApproval     = "Require approval before the first customer wave"
)

// Bounds of the number of instances upgraded at once: "You should not upgrade more than 5
// instances at a time, to limit the blast radius of issues".
const (
	MinConcurrency     = 1
	MaxConcurrency     = 5
	DefaultConcurrency = MaxConcurrency
)

// UpgradeTracking starts a fleet upgrade to Version.
type UpgradeTracking struct {
	Version         string `json:"version"` // e.g. 5.9.0, no v prefix
	DryRun          bool   `json:"dryRun,omitempty"`
	Concurrency     int    `json:"concurrency"` // MinConcurrency..MaxConcurrency
	RequireApproval bool   `json:"requireApproval,omitempty"`
}

func (UpgradeTracking) Operation() Operation { return OpUpgradeFleet }

// InstanceSlug is empty: the request is for the whole fleet.
func (UpgradeTracking) InstanceSlug() string { return "" }

// ParseUpgradeTracking parses and validates an upgrade-tracking form body.
func ParseUpgradeTracking(body string) (UpgradeTracking, error) {
	return parseUpgradeTracking(Parse(body))
}

func parseUpgradeTracking(f Fields) (UpgradeTracking, error) {
	c := &checker{f: f}
	r := UpgradeTracking{Version: c.version(FieldTargetVersion, true)}
	r.DryRun = c.f.Checked(FieldDryRun, OptionDryRun)
	r.Concurrency = c.number(FieldConcurrency, false, MinConcurrency, MaxConcurrency, DefaultConcurrency, "")
	r.RequireApproval = c.f.Checked(FieldApproval, OptionApproval)
	return r, c.err()
}
