package forms

import (
	"strings"
	"testing"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// A typed request (sent by the Temporal CLI, the Web UI or mi) meets the form's rules.
func TestValidateHoldsTypedRequestsToTheFormRules(t *testing.T) {
	good := NewInstance{Customer: "Acme", Slug: "acme", Domain: "acme.sourcegraphcloud.com", Type: spec.Trial, Size: spec.Small,
		Region: spec.Regions[0], AdminEmail: "admin@acme.com", IPAllowlist: []string{"203.0.113.0/24"}}
	for _, tc := range []struct {
		name      string
		v         interface{ Validate() error }
		wantField string // "" : valid
	}{
		{"extend", ExtendTrial{Slug: "acme", Days: 15, Reason: "evaluation"}, ""},
		{"extend by -9 days", ExtendTrial{Slug: "acme", Days: -9, Reason: "evaluation"}, FieldExtendDays},
		{"extend by 31 days", ExtendTrial{Slug: "acme", Days: 31, Reason: "evaluation"}, FieldExtendDays},
		{"extend without days", ExtendTrial{Slug: "acme", Reason: "evaluation"}, FieldExtendDays},
		{"extend without reason", ExtendTrial{Slug: "acme", Days: 3}, FieldReason},
		{"convert", ConvertTrial{Slug: "acme", AgreementDate: "2026-12-01"}, ""},
		{"convert with a bad date", ConvertTrial{Slug: "acme", AgreementDate: "1 Dec"}, FieldAgreement},
		{"suspend", Suspend{Slug: "acme", Reason: "unpaid"}, ""},
		{"suspend without reason", Suspend{Slug: "acme"}, FieldReason},
		{"suspend resuming before the agreement", Suspend{Slug: "acme", Reason: "x", AgreementDate: "2026-12-01", ExpectedResume: "2026-11-01"}, FieldExpectedResume},
		{"resume with a bad slug", Resume{Slug: "Acme Corp"}, FieldSlug},
		{"teardown", Teardown{Slug: "acme", Reason: "churned", Acknowledged: true}, ""},
		{"teardown not acknowledged", Teardown{Slug: "acme", Reason: "churned"}, FieldAcknowledgement},
		{"allowlist", AllowlistUpdate{Slug: "acme", IPAllowlist: []string{"203.0.113.0/24"}, CustomerConfirmed: true}, ""},
		{"allowlist with host bits", AllowlistUpdate{Slug: "acme", IPAllowlist: []string{"203.0.113.7/24"}, CustomerConfirmed: true}, FieldAllowlist},
		{"allowlist not confirmed", AllowlistUpdate{Slug: "acme", IPAllowlist: []string{"203.0.113.0/24"}}, FieldCustomerConfirmation},
		{"allowlist empty", AllowlistUpdate{Slug: "acme", CustomerConfirmed: true}, FieldAllowlist},
		{"reload", ReloadFrontend{Slug: "acme"}, ""},
		{"enable telemetry", Telemetry{Slug: "acme", Enable: true, CustomerAgreed: true}, ""},
		{"enable telemetry without agreement", Telemetry{Slug: "acme", Enable: true}, FieldCustomerAgreement},
		{"disable telemetry", Telemetry{Slug: "acme"}, ""},
		{"create", good, ""},
		{"create with a bad email", func() NewInstance { n := good; n.AdminEmail = "acme"; return n }(), FieldAdminEmail},
		{"create without a domain", func() NewInstance { n := good; n.Domain = ""; return n }(), FieldDomain},
		{"create of an unknown type", func() NewInstance { n := good; n.Type = "free"; return n }(), FieldType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.v.Validate()
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("rejected a valid request: %v", err)
			case tc.wantField != "" && err == nil:
				t.Fatalf("accepted %+v, want a problem with %s", tc.v, tc.wantField)
			case tc.wantField != "" && !strings.HasPrefix(err.Error(), tc.wantField):
				t.Fatalf("problem %q does not name %s", err, tc.wantField)
			}
		})
	}
}
