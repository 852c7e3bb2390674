package forms

import (
	"strconv"
	"strings"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Validate methods check a typed request with the form's own parser, so a request that reaches a
// workflow by another way in (the Temporal CLI, the Web UI, mi) meets exactly the rules of the
// issue form: the instance workflow's Update validator calls them. Each problem is a
// *spec.FieldError naming the form's field and the fix.

// fieldsOf builds a form's answers from label/value pairs, as GitHub would render them.
func fieldsOf(pairs ...string) Fields {
	f := Fields{values: map[string]string{}}
	for i := 0; i+1 < len(pairs); i += 2 {
		f.labels = append(f.labels, pairs[i])
		f.values[pairs[i]] = pairs[i+1]
	}
	return f
}

// ticked is a checkboxes answer with option ticked, or none when ok is false.
func ticked(option string, ok bool) string {
	if !ok {
		return ""
	}
	return "- [X] " + option
}

func (r ExtendTrial) Validate() error {
	days := strconv.Itoa(r.Days)
	if r.Days == 0 {
		days = "" // absent from the request: "is required"
	}
	_, err := parseExtendTrial(fieldsOf(FieldSlug, r.Slug, FieldExtendDays, days, FieldReason, r.Reason))
	return err
}

func (r ConvertTrial) Validate() error {
	_, err := parseConvertTrial(fieldsOf(FieldSlug, r.Slug, FieldAgreement, r.AgreementDate))
	return err
}

func (r Suspend) Validate() error {
	_, err := parseSuspend(fieldsOf(FieldSlug, r.Slug, FieldReason, r.Reason, FieldExpectedResume, r.ExpectedResume,
		FieldAgreement, r.AgreementDate))
	return err
}

func (r Resume) Validate() error {
	_, err := parseResume(fieldsOf(FieldSlug, r.Slug, FieldReason, r.Reason))
	return err
}

func (r Teardown) Validate() error {
	_, err := parseTeardown(fieldsOf(FieldSlug, r.Slug, FieldReason, r.Reason, FieldAgreement, r.AgreementDate,
		FieldAcknowledgement, ticked(OptionDataDeleted, r.Acknowledged)))
	return err
}

func (r AllowlistUpdate) Validate() error {
	_, err := parseAllowlistUpdate(fieldsOf(FieldSlug, r.Slug, FieldAllowlist, strings.Join(r.IPAllowlist, "\n"),
		FieldCustomerConfirmation, ticked(OptionRangesConfirmed, r.CustomerConfirmed)))
	return err
}

func (r ReloadFrontend) Validate() error {
	_, err := parseReloadFrontend(fieldsOf(FieldSlug, r.Slug, FieldReason, r.Reason))
	return err
}

func (r Telemetry) Validate() error {
	if !r.Enable {
		_, err := parseDisableTelemetry(fieldsOf(FieldSlug, r.Slug, FieldReason, r.Reason))
		return err
	}
	_, err := parseEnableTelemetry(fieldsOf(FieldSlug, r.Slug, FieldReason, r.Reason,
		FieldCustomerAgreement, ticked(OptionTelemetryAgreed, r.CustomerAgreed)))
	return err
}

// Validate checks a new-instance request. The form fills in a default domain, size and region;
// a typed request must carry them, since the workflow builds the instance from them as they are.
func (r NewInstance) Validate() error {
	tel := "No"
	if r.UserLevelTelemetry {
		tel = "Yes"
	}
	_, err := parseNewInstance(fieldsOf(FieldCustomer, r.Customer, FieldSlug, r.Slug, FieldDomain, r.Domain,
		FieldType, string(r.Type), FieldSize, string(r.Size), FieldRegion, r.Region, FieldVersion, r.Version,
		FieldAdminEmail, r.AdminEmail, FieldAllowlist, strings.Join(r.IPAllowlist, "\n"), FieldTelemetry, tel,
		FieldAgreement, r.AgreementDate, FieldLicense, r.LicenseKey))
	var errs Errors
	if err != nil {
		errs = append(errs, err.(Errors)...)
	}
	for _, f := range []struct{ label, v string }{{FieldDomain, r.Domain}, {FieldSize, string(r.Size)}, {FieldRegion, r.Region}} {
		if f.v == "" {
			errs = append(errs, &spec.FieldError{Field: f.label, Fix: requiredFix})
		}
	}
	return errs.Err()
}
