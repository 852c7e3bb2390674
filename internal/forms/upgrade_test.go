package forms

import (
	"fmt"
	"testing"
)

const upgradeBody = `### Target version

5.9.0

### Dry run

- [ ] Plan the waves and post the checklist without upgrading any instance

### Concurrency

_No response_

### Approval

- [X] Require approval before the first customer wave

`

func TestParseUpgradeTracking(t *testing.T) {
	want := UpgradeTracking{Version: "5.9.0", Concurrency: DefaultConcurrency, RequireApproval: true}
	outOfRange := fmt.Sprintf("must be a whole number from %d to %d", MinConcurrency, MaxConcurrency)
	cases := robustCases(t, upgradeBody, want)
	cases = append(cases,
		formCase{name: "release candidate", body: set(t, upgradeBody, FieldTargetVersion, "5.10.0-rc.1"),
			want: UpgradeTracking{Version: "5.10.0-rc.1", Concurrency: 5, RequireApproval: true}},
		formCase{name: "dry run, concurrency 2, no approval", body: setAll(t, upgradeBody,
			FieldDryRun, "- [x] "+OptionDryRun, FieldConcurrency, "2", FieldApproval, "- [ ] "+OptionApproval),
			want: UpgradeTracking{Version: "5.9.0", DryRun: true, Concurrency: 2}},
		formCase{name: "checkbox sections empty", body: setAll(t, upgradeBody, FieldDryRun, NoResponse, FieldApproval, NoResponse),
			want: UpgradeTracking{Version: "5.9.0", Concurrency: 5}},
		formCase{name: "v prefix", body: set(t, upgradeBody, FieldTargetVersion, "v5.9.0"),
			errs: []string{"Target version `v5.9.0`: write the version without the `v` prefix: `5.9.0`"}, n: 1},
		formCase{name: "partial version", body: set(t, upgradeBody, FieldTargetVersion, "5.9"),
			errs: []string{"Target version `5.9`: must be a full release version such as `5.9.0`"}, n: 1},
		formCase{name: "latest is not a version", body: set(t, upgradeBody, FieldTargetVersion, "latest"),
			errs: []string{"Target version `latest`"}, n: 1},
		formCase{name: "version with markdown", body: set(t, upgradeBody, FieldTargetVersion, "v5.9.0`\n@sourcegraph/cloud"),
			errs: []string{"Target version `v5.9.0' @sourcegraph/cloud`: must be a full release version"}, n: 1},
		formCase{name: "version empty", body: set(t, upgradeBody, FieldTargetVersion, NoResponse), errs: []string{"Target version: is required"}, n: 1},
		formCase{name: "concurrency zero", body: set(t, upgradeBody, FieldConcurrency, "0"), errs: []string{"Concurrency `0`: " + outOfRange}, n: 1},
		formCase{name: "concurrency above the cap", body: set(t, upgradeBody, FieldConcurrency, "10"), errs: []string{"Concurrency `10`: " + outOfRange}, n: 1},
		formCase{name: "concurrency words", body: set(t, upgradeBody, FieldConcurrency, "all"), errs: []string{"Concurrency `all`"}, n: 1},
		formCase{name: "every field empty", body: emptyAll(upgradeBody), errs: []string{"Target version: is required"}, n: 1},
		formCase{name: "two problems", body: setAll(t, upgradeBody, FieldTargetVersion, "v6.0.0", FieldConcurrency, "6"),
			errs: []string{"`6.0.0`", "Concurrency `6`"}, n: 2},
	)
	runFormCases(t, OpUpgradeFleet, cases)
	if r, err := ParseUpgradeTracking(upgradeBody); err != nil || r != want || r.InstanceSlug() != "" {
		t.Fatalf("ParseUpgradeTracking = %#v, %v", r, err)
	}
}
