package forms

// Small operations: IP allowlist update, frontend reload, telemetry on/off.

// Field labels and checkbox options of the small-operation forms
// (.github/ISSUE_TEMPLATE/{update-ip-allowlist,reload-frontend,enable-telemetry,disable-telemetry}.yml).
// They also use FieldSlug, FieldAllowlist and FieldReason.
const (
	FieldCustomerConfirmation = "Customer confirmation"
	// OptionRangesConfirmed: "we need customer confirmation of the corrected subnet".
	OptionRangesConfirmed = "The customer confirmed this exact list of ranges, including any corrected network addresses"

	FieldCustomerAgreement = "Customer agreement"
	// OptionTelemetryAgreed: user-level telemetry sends per-user usage data to Sourcegraph.
	OptionTelemetryAgreed = "The customer agreed in writing to share user-level usage data with Sourcegraph"
)

// AllowlistUpdate replaces an instance's ingress IP allowlist (Cloudflare WAF) with IPAllowlist.
type AllowlistUpdate struct {
	Slug string `json:"slug"`
	// IPAllowlist is the complete new list (replace semantics), canonical CIDRs, at least one.
	IPAllowlist []string `json:"ipAllowlist"`
	// CustomerConfirmed is always true on a valid request.
	CustomerConfirmed bool `json:"customerConfirmed"`
}

func (AllowlistUpdate) Operation() Operation   { return OpUpdateAllowlist }
func (r AllowlistUpdate) InstanceSlug() string { return r.Slug }

// ParseAllowlistUpdate parses and validates an IP-allowlist-update form body.
func ParseAllowlistUpdate(body string) (AllowlistUpdate, error) {
	return parseAllowlistUpdate(Parse(body))
}

func parseAllowlistUpdate(f Fields) (AllowlistUpdate, error) {
	c := &checker{f: f}
	r := AllowlistUpdate{Slug: c.slug()}
	r.IPAllowlist = c.cidrs(FieldAllowlist, true)
	r.CustomerConfirmed = c.confirm(FieldCustomerConfirmation, OptionRangesConfirmed)
	return r, c.err()
}

// ReloadFrontend restarts the instance's frontend so it reloads its site configuration.
type ReloadFrontend struct {
	Slug   string `json:"slug"`
	Reason string `json:"reason,omitempty"`
}

func (ReloadFrontend) Operation() Operation   { return OpReloadFrontend }
func (r ReloadFrontend) InstanceSlug() string { return r.Slug }

// ParseReloadFrontend parses and validates a reload-frontend form body.
func ParseReloadFrontend(body string) (ReloadFrontend, error) {
	return parseReloadFrontend(Parse(body))
}

func parseReloadFrontend(f Fields) (ReloadFrontend, error) {
	c := &checker{f: f}
	r := ReloadFrontend{Slug: c.slug(), Reason: c.text(FieldReason, false)}
	return r, c.err()
}

// Telemetry turns user-level telemetry on (Enable) or off. The two directions are two forms with
// two labels; both parse to this type.
type Telemetry struct {
	Slug   string `json:"slug"`
	Enable bool   `json:"enable"`
	// CustomerAgreed is true on every valid enable request; disabling needs no agreement.
	CustomerAgreed bool   `json:"customerAgreed,omitempty"`
	Reason         string `json:"reason,omitempty"`
}

func (r Telemetry) Operation() Operation {
	if r.Enable {
		return OpEnableTelemetry
	}
	return OpDisableTelemetry
}
func (r Telemetry) InstanceSlug() string { return r.Slug }

// ParseEnableTelemetry parses and validates an enable-telemetry form body.
func ParseEnableTelemetry(body string) (Telemetry, error) { return parseEnableTelemetry(Parse(body)) }

// ParseDisableTelemetry parses and validates a disable-telemetry form body.
func ParseDisableTelemetry(body string) (Telemetry, error) {
	return parseDisableTelemetry(Parse(body))
}

func parseEnableTelemetry(f Fields) (Telemetry, error) {
	c := &checker{f: f}
	r := Telemetry{Slug: c.slug(), Enable: true, Reason: c.text(FieldReason, false)}
	r.CustomerAgreed = c.confirm(FieldCustomerAgreement, OptionTelemetryAgreed)
	return r, c.err()
}

func parseDisableTelemetry(f Fields) (Telemetry, error) {
	c := &checker{f: f}
	r := Telemetry{Slug: c.slug(), Reason: c.text(FieldReason, false)}
	return r, c.err()
}
