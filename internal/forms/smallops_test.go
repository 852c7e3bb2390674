package forms

import (
	"strings"
	"testing"
)

const allowlistBody = `### Slug

acme-corp

### IP allowlist

203.0.113.0/24
198.51.100.16/28
2001:db8:abcd::/48

### Customer confirmation

- [X] The customer confirmed this exact list of ranges, including any corrected network addresses

`

func TestParseAllowlistUpdate(t *testing.T) {
	list := []string{"203.0.113.0/24", "198.51.100.16/28", "2001:db8:abcd::/48"}
	want := AllowlistUpdate{Slug: "acme-corp", IPAllowlist: list, CustomerConfirmed: true}
	withList := func(l ...string) AllowlistUpdate {
		return AllowlistUpdate{Slug: "acme-corp", IPAllowlist: l, CustomerConfirmed: true}
	}
	cases := robustCases(t, allowlistBody, want)
	cases = append(cases, slugCases(t, allowlistBody)...)
	cases = append(cases,
		formCase{name: "bullets and commas", body: set(t, allowlistBody, FieldAllowlist, "- 203.0.113.0/24, 198.51.100.16/28\n* 2001:db8:abcd::/48\n\n"), want: want},
		formCase{name: "IPv6 in capitals is made canonical", body: set(t, allowlistBody, FieldAllowlist, "2001:DB8:ABCD:0000::/48"),
			want: withList("2001:db8:abcd::/48")},
		formCase{name: "single address as /32", body: set(t, allowlistBody, FieldAllowlist, "203.0.113.7/32"), want: withList("203.0.113.7/32")},
		formCase{name: "host bits set suggests the network address", body: set(t, allowlistBody, FieldAllowlist, "142.250.217.110/29"),
			errs: []string{"IP allowlist `142.250.217.110/29`: is not a valid range: the network address for /29 is `142.250.217.104/29`; confirm the corrected range with the customer"}, n: 1},
		formCase{name: "every bad range is reported", body: set(t, allowlistBody, FieldAllowlist, "203.0.113.7/24\n198.51.100.16/28\n10.1.2.3\noffice VPN\n0.0.0.0/0"),
			errs: []string{"`203.0.113.7/24`", "`203.0.113.0/24`", "`10.1.2.3`: is an address, not a range; write `10.1.2.3/32`",
				"`office VPN`: must be an IPv4 or IPv6 range", "`0.0.0.0/0`: would allow the whole internet"}, n: 4},
		formCase{name: "private and non-routable ranges are refused", body: set(t, allowlistBody, FieldAllowlist, "203.0.113.0/24\n10.0.0.0/8\n100.64.0.0/10\nfd00::/8"),
			errs: []string{"IP allowlist `10.0.0.0/8`: is a private range (RFC 1918)", "`100.64.0.0/10`: is shared address space (RFC 6598)", "`fd00::/8`: is an IPv6 unique-local range"}, n: 3},
		formCase{name: "duplicates, also across notations", body: set(t, allowlistBody, FieldAllowlist, "2001:db8::/32\n2001:DB8::/32"),
			errs: []string{"IP allowlist `2001:DB8::/32`: is listed twice"}, n: 1},
		formCase{name: "annotated range", body: set(t, allowlistBody, FieldAllowlist, "203.0.113.0/24 (London office)"),
			errs: []string{"IP allowlist `203.0.113.0/24 (London office)`: must be an IPv4 or IPv6 range"}, n: 1},
		formCase{name: "zone and backtick are quoted safely", body: set(t, allowlistBody, FieldAllowlist, "fe80::1%`eth0`"),
			errs: []string{"IP allowlist `fe80::1%'eth0'`: must be an IPv4 or IPv6 range"}, n: 1},
		formCase{name: "prefix length out of range", body: set(t, allowlistBody, FieldAllowlist, "203.0.113.0/33"),
			errs: []string{"`203.0.113.0/33`: must be an IPv4 or IPv6 range"}, n: 1},
		formCase{name: "list empty", body: set(t, allowlistBody, FieldAllowlist, NoResponse), errs: []string{"IP allowlist: is required"}, n: 1},
		formCase{name: "list only bullets", body: set(t, allowlistBody, FieldAllowlist, "-\n- ,"), errs: []string{"IP allowlist: list at least one range"}, n: 1},
		formCase{name: "not confirmed", body: set(t, allowlistBody, FieldCustomerConfirmation, "- [ ] "+OptionRangesConfirmed),
			errs: []string{"Customer confirmation: tick “The customer confirmed this exact list"}, n: 1},
		formCase{name: "every field empty", body: emptyAll(allowlistBody),
			errs: []string{"Slug: is required", "IP allowlist: is required", "Customer confirmation: tick"}, n: 3},
	)
	runFormCases(t, OpUpdateAllowlist, cases)
	if r, err := ParseAllowlistUpdate(allowlistBody); err != nil || strings.Join(r.IPAllowlist, ",") != strings.Join(list, ",") {
		t.Fatalf("ParseAllowlistUpdate = %#v, %v", r, err)
	}
}

const reloadBody = `### Slug

acme-corp

### Reason

The site admin changed the auth providers and the change has not taken effect.

`

func TestParseReloadFrontend(t *testing.T) {
	want := ReloadFrontend{Slug: "acme-corp", Reason: "The site admin changed the auth providers and the change has not taken effect."}
	cases := robustCases(t, reloadBody, want)
	cases = append(cases, slugCases(t, reloadBody)...)
	cases = append(cases,
		formCase{name: "no reason", body: set(t, reloadBody, FieldReason, NoResponse), want: ReloadFrontend{Slug: "acme-corp"}},
		formCase{name: "every field empty", body: emptyAll(reloadBody), errs: []string{"Slug: is required"}, n: 1},
	)
	runFormCases(t, OpReloadFrontend, cases)
}

const enableTelemetryBody = `### Slug

acme-corp

### Reason

_No response_

### Customer agreement

- [X] The customer agreed in writing to share user-level usage data with Sourcegraph

`

const disableTelemetryBody = `### Slug

acme-corp

### Reason

The customer withdrew their agreement.

`

func TestParseTelemetry(t *testing.T) {
	on := Telemetry{Slug: "acme-corp", Enable: true, CustomerAgreed: true}
	cases := robustCases(t, enableTelemetryBody, on)
	cases = append(cases, slugCases(t, enableTelemetryBody)...)
	cases = append(cases,
		formCase{name: "no agreement", body: set(t, enableTelemetryBody, FieldCustomerAgreement, "- [ ] "+OptionTelemetryAgreed),
			errs: []string{"Customer agreement: tick “The customer agreed in writing"}, n: 1},
		formCase{name: "every field empty", body: emptyAll(enableTelemetryBody), errs: []string{"Slug: is required", "Customer agreement: tick"}, n: 2},
	)
	runFormCases(t, OpEnableTelemetry, cases)

	off := Telemetry{Slug: "acme-corp", Reason: "The customer withdrew their agreement."}
	cases = robustCases(t, disableTelemetryBody, off)
	cases = append(cases, slugCases(t, disableTelemetryBody)...)
	cases = append(cases,
		formCase{name: "every field empty", body: emptyAll(disableTelemetryBody), errs: []string{"Slug: is required"}, n: 1})
	runFormCases(t, OpDisableTelemetry, cases)

	if on.Operation() != OpEnableTelemetry || off.Operation() != OpDisableTelemetry {
		t.Fatal("Telemetry.Operation must follow Enable")
	}
	// The disable form ignores a stray agreement tick; the enable form needs it.
	if r, err := ParseDisableTelemetry(enableTelemetryBody); err != nil || r.Enable || r.CustomerAgreed {
		t.Fatalf("ParseDisableTelemetry = %#v, %v", r, err)
	}
	if _, err := ParseEnableTelemetry(disableTelemetryBody); err == nil {
		t.Fatal("enabling telemetry without the customer's agreement must be rejected")
	}
}
