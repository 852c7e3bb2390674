package forms

import (
	"strings"

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
func ParseNewInstance(body string) (NewInstance, error) { return parseNewInstance(Parse(body)) }

func parseNewInstance(f Fields) (NewInstance, error) {
	c := &checker{f: f}
	var r NewInstance
	r.Customer = c.line(FieldCustomer, true)
	if r.Slug = c.req(FieldSlug); r.Slug != "" {
		c.add(spec.ValidateNewSlug(FieldSlug, r.Slug))
	}
	if r.Domain = strings.ToLower(c.opt(FieldDomain)); r.Domain != "" {
		c.add(spec.ValidateDomain(FieldDomain, r.Domain))
	} else if r.Slug != "" {
		r.Domain = spec.DefaultDomain(r.Slug)
	}
	if r.Type = spec.InstanceType(strings.ToLower(c.req(FieldType))); r.Type != "" {
		c.add(spec.ValidateInstanceType(FieldType, r.Type))
	}
	if r.Size = spec.Size(strings.ToLower(c.opt(FieldSize))); r.Size == "" {
		r.Size = spec.Small
	}
	c.add(spec.ValidateSize(FieldSize, r.Size))
	if r.Region = c.opt(FieldRegion); r.Region == "" {
		r.Region = spec.Regions[0]
	}
	c.add(spec.ValidateRegion(FieldRegion, r.Region))
	r.Version = c.version(FieldVersion, false)
	if r.AdminEmail = c.req(FieldAdminEmail); r.AdminEmail != "" {
		c.add(spec.ValidateEmail(FieldAdminEmail, r.AdminEmail))
	}
	r.IPAllowlist = c.cidrs(FieldAllowlist, false)
	r.UserLevelTelemetry = c.yesNo(FieldTelemetry)
	r.AgreementDate, _ = c.date(FieldAgreement, false)
	r.LicenseKey = c.opt(FieldLicense)
	return r, c.err()
}
