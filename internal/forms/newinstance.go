package forms

import (
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// NewInstanceLabel marks a "new instance" issue form.
const NewInstanceLabel = "mi/new-instance-request"

// NewInstance is a validated "new instance" request. Labels are the form's field labels.
type NewInstance struct {
	Customer           string            `json:"customer"`
	Slug               string            `json:"slug"`
	Domain             string            `json:"domain"`
	Type               spec.InstanceType `json:"type"`
	Size               spec.Size         `json:"size"`
	Region             string            `json:"region"`
	Version            string            `json:"version,omitempty"` // empty: the latest tested release
	AdminEmail         string            `json:"adminEmail"`
	IPAllowlist        []string          `json:"ipAllowlist,omitempty"`
	UserLevelTelemetry bool              `json:"userLevelTelemetry"`
	AgreementDate      string            `json:"agreementDate,omitempty"` // YYYY-MM-DD
	LicenseKey         string            `json:"licenseKey,omitempty"`
}

// Field labels of the new-instance form (.github/ISSUE_TEMPLATE/new-instance.yml).
const (
	FieldCustomer   = "Customer name"
	FieldSlug       = "Slug"
	FieldDomain     = "Domain"
	FieldType       = "Instance type"
	FieldSize       = "Size"
	FieldRegion     = "Region"
	FieldVersion    = "Sourcegraph version"
	FieldAdminEmail = "Customer admin email"
	FieldAllowlist  = "IP allowlist"
	FieldTelemetry  = "User-level telemetry"
	FieldAgreement  = "Agreement date"
	FieldLicense    = "License key"
)

// ParseNewInstance parses and validates a new-instance form body, reporting every bad field.
func ParseNewInstance(body string) (NewInstance, error) {
	f := Parse(body)
	var errs Errors
	req := func(label string) string {
		v, ok := f.Get(label)
		if !ok || v == "" {
			errs = append(errs, &spec.FieldError{Field: label, Fix: "is required; edit the issue and fill it in"})
		}
		return v
	}
	opt := func(label string) string { v, _ := f.Get(label); return v }
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	r := NewInstance{
		Customer:   req(FieldCustomer),
		Slug:       strings.TrimSpace(req(FieldSlug)),
		Domain:     strings.ToLower(opt(FieldDomain)),
		Type:       spec.InstanceType(strings.ToLower(req(FieldType))),
		Size:       spec.Size(strings.ToLower(opt(FieldSize))),
		Region:     opt(FieldRegion),
		Version:    opt(FieldVersion),
		AdminEmail: req(FieldAdminEmail),
		LicenseKey: opt(FieldLicense),
	}
	if r.Slug != "" {
		check(spec.ValidateSlug(FieldSlug, r.Slug))
	}
	if r.Domain == "" && r.Slug != "" {
		r.Domain = spec.DefaultDomain(r.Slug)
	} else if r.Domain != "" {
		check(spec.ValidateDomain(FieldDomain, r.Domain))
	}
	if r.Type != "" {
		check(spec.ValidateInstanceType(FieldType, r.Type))
	}
	if r.Size == "" {
		r.Size = spec.Small
	}
	check(spec.ValidateSize(FieldSize, r.Size))
	if r.Region == "" {
		r.Region = spec.Regions[0]
	}
	check(spec.ValidateRegion(FieldRegion, r.Region))
	if r.Version != "" {
		check(spec.ValidateVersion(FieldVersion, r.Version))
	}
	if r.AdminEmail != "" {
		check(spec.ValidateEmail(FieldAdminEmail, r.AdminEmail))
	}
	r.IPAllowlist = ParseList(opt(FieldAllowlist))
	check(spec.ValidateCIDRs(FieldAllowlist, r.IPAllowlist))
	switch t := strings.ToLower(opt(FieldTelemetry)); t {
	case "", "no", "disabled", "false":
	case "yes", "enabled", "true":
		r.UserLevelTelemetry = true
	default:
		errs = append(errs, &spec.FieldError{Field: FieldTelemetry, Value: t, Fix: "must be Yes or No"})
	}
	if d := opt(FieldAgreement); d != "" {
		if _, err := time.Parse("2006-01-02", d); err != nil {
			errs = append(errs, &spec.FieldError{Field: FieldAgreement, Value: d, Fix: "must be a date written YYYY-MM-DD, e.g. `2026-11-20`"})
		}
		r.AgreementDate = d
	}
	return r, errs.Err()
}
