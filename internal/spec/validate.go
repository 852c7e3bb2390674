package spec

import (
	"fmt"
	"net/mail"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// FieldError names the field that is wrong and how to fix it; it is what the requester reads on
// the issue (docs/design.md invariant 9).
type FieldError struct {
	Field string // the issue-form label, e.g. "Slug"
	Value string
	Fix   string
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Fix)
	}
	return fmt.Sprintf("%s `%s`: %s", e.Field, e.Value, e.Fix)
}

var slugRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,28}[a-z0-9]$`)

// ValidateSlug: 3-30 lowercase letters, digits or dashes, starting with a letter.
func ValidateSlug(field, s string) error {
	if !slugRE.MatchString(s) || strings.Contains(s, "--") {
		return &FieldError{field, s, "must be 3–30 lowercase letters, digits or single dashes, start with a letter and not end with a dash (e.g. `acme-corp`)"}
	}
	return nil
}

// projectIDRestricted are the strings Resource Manager refuses anywhere in a project ID
// (cloud.google.com/resource-manager/docs/creating-managing-projects: "cannot contain restricted
// strings, such as google, null, undefined, and ssl"). A slug is part of its project's ID.
var projectIDRestricted = []string{"google", "null", "undefined", "ssl"}

// ValidateNewSlug is ValidateSlug for a new instance, whose slug becomes part of its GCP project
// ID. Existing instances keep their slugs: only a create is refused.
func ValidateNewSlug(field, s string) error {
	if err := ValidateSlug(field, s); err != nil {
		return err
	}
	for _, w := range projectIDRestricted {
		if strings.Contains(s, w) {
			return &FieldError{field, s, fmt.Sprintf("must not contain `%s`: the slug is part of the instance's GCP project ID, and Google Cloud refuses project IDs containing google, null, undefined or ssl; choose another slug", w)}
		}
	}
	return nil
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateDomain checks a hostname such as acme.sourcegraphcloud.com.
func ValidateDomain(field, d string) error {
	fix := "must be a lowercase hostname with at least two labels, without scheme or path (e.g. `acme.sourcegraphcloud.com`)"
	if len(d) > 253 || strings.ContainsAny(d, "/:@ ") {
		return &FieldError{field, d, fix}
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return &FieldError{field, d, fix}
	}
	for _, l := range labels {
		if !labelRE.MatchString(l) {
			return &FieldError{field, d, fix}
		}
	}
	return nil
}

// ValidateVersion accepts a Sourcegraph release version without the v prefix: 5.9.0 or 5.9.0-rc.1.
func ValidateVersion(field, v string) error {
	if strings.HasPrefix(v, "v") {
		return &FieldError{field, v, fmt.Sprintf("write the version without the `v` prefix: `%s`", strings.TrimPrefix(v, "v"))}
	}
	if !semver.IsValid("v"+v) || strings.Count(strings.SplitN(v, "-", 2)[0], ".") != 2 {
		return &FieldError{field, v, "must be a full release version such as `5.9.0` or `5.9.0-rc.1`"}
	}
	return nil
}

// CompareVersions returns -1, 0 or +1 like strings.Compare, by semantic version.
func CompareVersions(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// ValidateCIDR requires a network address: 142.250.217.110/29 is rejected with the correct
// 142.250.217.104/29 suggested, since the customer must confirm the fix.
func ValidateCIDR(field, c string) error {
	p, err := netip.ParsePrefix(c)
	if err != nil {
		if a, aerr := netip.ParseAddr(c); aerr == nil {
			return &FieldError{field, c, fmt.Sprintf("is an address, not a range; write `%s/%d` for this one address", a, a.BitLen())}
		}
		return &FieldError{field, c, "must be an IPv4 or IPv6 range in CIDR notation, e.g. `203.0.113.0/24`"}
	}
	if m := p.Masked(); m != p {
		return &FieldError{field, c, fmt.Sprintf("is not a valid range: the network address for /%d is `%s`; confirm the corrected range with the customer", p.Bits(), m)}
	}
	if p.Bits() == 0 {
		return &FieldError{field, c, "would allow the whole internet; list the customer's ranges instead"}
	}
	return nil
}

// nonPublic are the ranges an IP allowlist refuses. Cloudflare sees only the public address a
// request comes from, so a private or non-routable range matches nobody and locks every user out.
var nonPublic = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("10.0.0.0/8"), "a private range (RFC 1918)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private range (RFC 1918)"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private range (RFC 1918)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (RFC 6598) for carrier-grade NAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback range"},
	{netip.MustParsePrefix("::1/128"), "the IPv6 loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local range"},
	{netip.MustParsePrefix("fe80::/10"), "an IPv6 link-local range"},
	{netip.MustParsePrefix("fc00::/7"), "an IPv6 unique-local range"},
}

// ValidatePublicCIDR checks c as ValidateCIDR does and refuses a range that is, or contains,
// a private or non-routable one.
func ValidatePublicCIDR(field, c string) error {
	if err := ValidateCIDR(field, c); err != nil {
		return err
	}
	p := netip.MustParsePrefix(c)
	for _, np := range nonPublic {
		if np.prefix.Addr().Is4() == p.Addr().Is4() && p.Overlaps(np.prefix) {
			return &FieldError{field, c, "is " + np.what + ": the instance is behind Cloudflare, which sees only the public address a user " +
				"connects from, so this range would let nobody in. Ask the customer for the public ranges of their office or VPN egress"}
		}
	}
	return nil
}

// ValidateAllowlist checks an instance's IP allowlist as requested: public ranges, no duplicates.
func ValidateAllowlist(field string, cidrs []string) error {
	for _, c := range cidrs {
		if err := ValidatePublicCIDR(field, c); err != nil {
			return err
		}
	}
	return ValidateCIDRs(field, cidrs)
}

// ValidateCIDRs checks each range and rejects duplicates.
func ValidateCIDRs(field string, cidrs []string) error {
	seen := map[string]bool{}
	for _, c := range cidrs {
		if err := ValidateCIDR(field, c); err != nil {
			return err
		}
		if seen[c] {
			return &FieldError{field, c, "is listed twice"}
		}
		seen[c] = true
	}
	return nil
}

// ValidateRegion checks the region is one Cloud instances run in.
func ValidateRegion(field, r string) error {
	if !slices.Contains(Regions, r) {
		return &FieldError{field, r, "must be one of " + strings.Join(Regions, ", ") + " (the region cannot be changed after creation)"}
	}
	return nil
}

// ValidateSize checks the size tier.
func ValidateSize(field string, s Size) error {
	switch s {
	case Small, Medium, Large:
		return nil
	}
	return &FieldError{field, string(s), "must be small, medium or large"}
}

// ValidateInstanceType checks the instance type.
func ValidateInstanceType(field string, t InstanceType) error {
	switch t {
	case Production, Trial, Internal:
		return nil
	}
	return &FieldError{field, string(t), "must be production, trial or internal"}
}

// ValidateEmail checks a single plain address (no display name).
func ValidateEmail(field, e string) error {
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") {
		return &FieldError{field, e, "must be one email address such as `admin@acme.com`"}
	}
	return nil
}

// ValidateMaintenanceWindow checks days and hours.
func ValidateMaintenanceWindow(field string, w *MaintenanceWindow) error {
	if w == nil {
		return nil
	}
	if len(w.Days) == 0 {
		return &FieldError{field, "", "list at least one day (mon..sun)"}
	}
	for _, d := range w.Days {
		if !slices.Contains(windowDays[:], d) { // the spellings Contains and Next understand
			return &FieldError{field, d, "days must be mon, tue, wed, thu, fri, sat or sun"}
		}
	}
	if w.StartHour < 0 || w.StartHour > 23 || w.Hours < 1 || w.Hours > 24 {
		return &FieldError{field, fmt.Sprintf("%02d:00+%dh", w.StartHour, w.Hours), "start hour must be 0–23 UTC and length 1–24 hours"}
	}
	return nil
}

var accountLinkRE = regexp.MustCompile(`^https://github\.com/sourcegraph/accounts/issues/[1-9][0-9]*$`)

// ValidateAccountLink checks a customer's sourcegraph/accounts link, the only way tracking issues
// and commits may name a customer: https://github.com/sourcegraph/accounts/issues/NNN.
func ValidateAccountLink(field, s string) error {
	if !accountLinkRE.MatchString(s) {
		return &FieldError{field, s, "must be a sourcegraph/accounts issue link such as `https://github.com/sourcegraph/accounts/issues/123` (never a customer name)"}
	}
	return nil
}
