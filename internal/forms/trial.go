package forms

// Trial requests: extend a trial, convert it to a paid (production) instance.

// Field labels of the extend-trial and convert-trial forms
// (.github/ISSUE_TEMPLATE/{extend-trial,convert-trial}.yml). They also use FieldSlug,
// FieldReason and FieldAgreement.
const (
	FieldExtendDays = "Additional days"
)

// Bounds of a trial extension, in days. A trial runs 30 days by default, and the playbook extends
// in steps of 15 and decides "extend, convert or terminate" at 30: one request
// may add up to one more default trial period. Longer needs a new decision, so a new request
// (the workflow adds each extension to the timer).
const (
	MinExtendDays = 1
	MaxExtendDays = 30
)

// ExtendTrial moves a trial's expiry timer (trialAdditionalDays).
type ExtendTrial struct {
	Slug   string `json:"slug"`
	Days   int    `json:"days"` // MinExtendDays..MaxExtendDays
	Reason string `json:"reason"`
}

func (ExtendTrial) Operation() Operation   { return OpExtendTrial }
func (r ExtendTrial) InstanceSlug() string { return r.Slug }

// ParseExtendTrial parses and validates an extend-trial form body.
func ParseExtendTrial(body string) (ExtendTrial, error) { return parseExtendTrial(Parse(body)) }

func parseExtendTrial(f Fields) (ExtendTrial, error) {
	c := &checker{f: f}
	r := ExtendTrial{Slug: c.slug()}
	r.Days = c.number(FieldExtendDays, true, MinExtendDays, MaxExtendDays, 0, "day")
	r.Reason = c.text(FieldReason, true)
	return r, c.err()
}

// ConvertTrial makes a trial a paid production instance: the instance-type label becomes
// production and the trial's expiry timer is cancelled.
type ConvertTrial struct {
	Slug string `json:"slug"`
	// AgreementDate is when the paid agreement was signed (YYYY-MM-DD); it is required, since a
	// conversion without one would keep an instance Sourcegraph pays for.
	AgreementDate string `json:"agreementDate"`
}

func (ConvertTrial) Operation() Operation   { return OpConvertTrial }
func (r ConvertTrial) InstanceSlug() string { return r.Slug }

// ParseConvertTrial parses and validates a convert-trial form body.
func ParseConvertTrial(body string) (ConvertTrial, error) { return parseConvertTrial(Parse(body)) }

func parseConvertTrial(f Fields) (ConvertTrial, error) {
	c := &checker{f: f}
	r := ConvertTrial{Slug: c.slug()}
	r.AgreementDate, _ = c.date(FieldAgreement, true)
	return r, c.err()
}
