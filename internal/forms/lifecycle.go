package forms

import "time"

// Suspend, resume and teardown requests.

// Field labels and checkbox options of the suspend, resume and teardown forms
// (.github/ISSUE_TEMPLATE/{suspend,resume,teardown}.yml). They also use FieldSlug, FieldReason
// and FieldAgreement.
const (
	FieldExpectedResume  = "Expected resume date"
	FieldAcknowledgement = "Acknowledgement"
	// OptionDataDeleted must be ticked on a teardown request (the requester accepts
	// the data "will be permanently deleted").
	OptionDataDeleted = "I understand the data will be permanently deleted"
)

// Suspend asks to take an instance's workloads down while keeping its data.
type Suspend struct {
	Slug   string `json:"slug"`
	Reason string `json:"reason"`
	// ExpectedResume is when the customer expects to come back (YYYY-MM-DD), if known. Backup for
	// GKE keeps backups 90 days, so longer suspensions need a plan for them.
	ExpectedResume string `json:"expectedResume,omitempty"`
	// AgreementDate starts the SLA clock (15 working days), YYYY-MM-DD; empty: the filing date.
	AgreementDate string `json:"agreementDate,omitempty"`
}

func (Suspend) Operation() Operation   { return OpSuspend }
func (r Suspend) InstanceSlug() string { return r.Slug }

// ParseSuspend parses and validates a suspend form body, reporting every bad field.
func ParseSuspend(body string) (Suspend, error) { return parseSuspend(Parse(body)) }

func parseSuspend(f Fields) (Suspend, error) {
	c := &checker{f: f}
	r := Suspend{Slug: c.slug(), Reason: c.text(FieldReason, true)}
	var resume, agreed time.Time
	r.ExpectedResume, resume = c.date(FieldExpectedResume, false)
	r.AgreementDate, agreed = c.date(FieldAgreement, false)
	if !resume.IsZero() && !agreed.IsZero() && !resume.After(agreed) {
		c.fail(FieldExpectedResume, r.ExpectedResume, "must be after the agreement date `"+r.AgreementDate+"`")
	}
	return r, c.err()
}

// Resume asks to bring a suspended instance back (and catch its version up).
type Resume struct {
	Slug   string `json:"slug"`
	Reason string `json:"reason,omitempty"`
}

func (Resume) Operation() Operation   { return OpResume }
func (r Resume) InstanceSlug() string { return r.Slug }

// ParseResume parses and validates a resume form body.
func ParseResume(body string) (Resume, error) { return parseResume(Parse(body)) }

func parseResume(f Fields) (Resume, error) {
	c := &checker{f: f}
	r := Resume{Slug: c.slug(), Reason: c.text(FieldReason, false)}
	return r, c.err()
}

// Teardown asks to delete an instance and all its data. A second authorised person approves it in
// the workflow, and a grace period lets anyone cancel it.
type Teardown struct {
	Slug   string `json:"slug"`
	Reason string `json:"reason"`
	// Acknowledged is always true on a valid request: the requester ticked OptionDataDeleted.
	Acknowledged  bool   `json:"acknowledged"`
	AgreementDate string `json:"agreementDate,omitempty"`
}

func (Teardown) Operation() Operation   { return OpTeardown }
func (r Teardown) InstanceSlug() string { return r.Slug }

// ParseTeardown parses and validates a teardown form body.
func ParseTeardown(body string) (Teardown, error) { return parseTeardown(Parse(body)) }

func parseTeardown(f Fields) (Teardown, error) {
	c := &checker{f: f}
	r := Teardown{Slug: c.slug(), Reason: c.text(FieldReason, true)}
	r.AgreementDate, _ = c.date(FieldAgreement, false)
	r.Acknowledged = c.confirm(FieldAcknowledgement, OptionDataDeleted)
	return r, c.err()
}
