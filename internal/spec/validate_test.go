package spec

import (
	"regexp"
	"strings"
	"testing"
)

func TestValidators(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		wantErr string // "" means valid
	}{
		{"slug ok", ValidateSlug("Slug", "acme-corp"), ""},
		{"slug spaces", ValidateSlug("Slug", "Acme Corp"), "Slug `Acme Corp`: must be 3–30 lowercase"},
		{"slug short", ValidateSlug("Slug", "ab"), "3–30"},
		{"slug trailing dash", ValidateSlug("Slug", "acme-"), "not end with a dash"},
		{"slug double dash", ValidateSlug("Slug", "ac--me"), "single dashes"},
		{"slug digit first", ValidateSlug("Slug", "1acme"), "start with a letter"},
		{"new slug ok", ValidateNewSlug("Slug", "acme-corp"), ""},
		{"new slug google", ValidateNewSlug("Slug", "google-lab"), "Slug `google-lab`: must not contain `google`: the slug is part of the instance's GCP project ID"},
		{"new slug ssl", ValidateNewSlug("Slug", "sslshop"), "must not contain `ssl`"},
		{"new slug null", ValidateNewSlug("Slug", "nullify"), "must not contain `null`"},
		{"new slug undefined", ValidateNewSlug("Slug", "undefined-co"), "must not contain `undefined`"},
		{"new slug still checked", ValidateNewSlug("Slug", "Acme"), "3–30"},
		{"existing slug kept", ValidateSlug("Slug", "sslshop"), ""},
		{"domain ok", ValidateDomain("Domain", "acme.sourcegraphcloud.com"), ""},
		{"domain scheme", ValidateDomain("Domain", "https://acme.com"), "without scheme"},
		{"domain single label", ValidateDomain("Domain", "acme"), "two labels"},
		{"version ok", ValidateVersion("V", "5.9.0"), ""},
		{"version rc", ValidateVersion("V", "5.9.0-rc.1"), ""},
		{"version v prefix", ValidateVersion("V", "v5.9.0"), "without the `v` prefix: `5.9.0`"},
		{"version partial", ValidateVersion("V", "5.9"), "full release version"},
		{"cidr ok", ValidateCIDR("IP allowlist", "142.250.217.104/29"), ""},
		{"cidr host bits", ValidateCIDR("IP allowlist", "142.250.217.110/29"), "network address for /29 is `142.250.217.104/29`"},
		{"cidr address", ValidateCIDR("IP allowlist", "203.0.113.7"), "`203.0.113.7/32`"},
		{"cidr v6", ValidateCIDR("IP allowlist", "2001:db8::/32"), ""},
		{"cidr everything", ValidateCIDR("IP allowlist", "0.0.0.0/0"), "whole internet"},
		{"cidr junk", ValidateCIDR("IP allowlist", "office"), "CIDR notation"},
		{"cidr dup", ValidateCIDRs("IP allowlist", []string{"10.0.0.0/8", "10.0.0.0/8"}), "listed twice"},
		// An instance behind Cloudflare sees only public source addresses: a private or
		// non-routable range admits nobody, so the allowlist refuses it.
		{"allowlist public", ValidateAllowlist("IP allowlist", []string{"203.0.113.0/24", "2001:db8:abcd::/48"}), ""},
		{"allowlist rfc1918 10", ValidateAllowlist("IP allowlist", []string{"203.0.113.0/24", "10.0.0.0/8"}), "IP allowlist `10.0.0.0/8`: is a private range (RFC 1918)"},
		{"allowlist rfc1918 172", ValidateAllowlist("IP allowlist", []string{"172.16.4.0/24"}), "RFC 1918"},
		{"allowlist rfc1918 192", ValidateAllowlist("IP allowlist", []string{"192.168.0.0/16"}), "RFC 1918"},
		{"allowlist covers private", ValidateAllowlist("IP allowlist", []string{"8.0.0.0/6"}), "RFC 1918"},
		{"allowlist cgnat", ValidateAllowlist("IP allowlist", []string{"100.64.0.0/10"}), "shared address space (RFC 6598)"},
		{"allowlist loopback", ValidateAllowlist("IP allowlist", []string{"127.0.0.1/32"}), "loopback"},
		{"allowlist loopback v6", ValidateAllowlist("IP allowlist", []string{"::1/128"}), "loopback"},
		{"allowlist link-local", ValidateAllowlist("IP allowlist", []string{"169.254.0.0/16"}), "link-local"},
		{"allowlist link-local v6", ValidateAllowlist("IP allowlist", []string{"fe80::/10"}), "link-local"},
		{"allowlist unique-local v6", ValidateAllowlist("IP allowlist", []string{"fd12:3456::/32"}), "unique-local"},
		{"allowlist says why", ValidateAllowlist("IP allowlist", []string{"10.0.0.0/8"}), "Cloudflare"},
		{"allowlist still checks form", ValidateAllowlist("IP allowlist", []string{"203.0.113.7/24"}), "network address"},
		{"region ok", ValidateRegion("Region", "europe-west3"), ""},
		{"region bad", ValidateRegion("Region", "us-east1"), "cannot be changed after creation"},
		{"email ok", ValidateEmail("E", "admin@acme.com"), ""},
		{"email display name", ValidateEmail("E", "Admin <admin@acme.com>"), "one email address"},
		{"email no tld", ValidateEmail("E", "admin@acme"), "one email address"},
		{"window ok", ValidateMaintenanceWindow("W", &MaintenanceWindow{Days: []string{"sat"}, StartHour: 2, Hours: 4}), ""},
		{"window bad day", ValidateMaintenanceWindow("W", &MaintenanceWindow{Days: []string{"saturday"}, StartHour: 2, Hours: 4}), "days must be"},
		{"window bad hour", ValidateMaintenanceWindow("W", &MaintenanceWindow{Days: []string{"sat"}, StartHour: 24, Hours: 4}), "start hour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			switch {
			case c.wantErr == "" && c.err != nil:
				t.Fatalf("want valid, got %v", c.err)
			case c.wantErr != "" && (c.err == nil || !strings.Contains(c.err.Error(), c.wantErr)):
				t.Fatalf("want error containing %q, got %v", c.wantErr, c.err)
			}
		})
	}
}

func TestProjectIDFitsGCPLimits(t *testing.T) {
	for _, slug := range []string{"acme", "a-very-long-customer-slug-xyz", "abcdefghijklmnopqrstuvwxyz0123"} {
		id := ProjectID(slug)
		if len(id) < 6 || len(id) > 30 || strings.HasSuffix(id, "-") {
			t.Errorf("ProjectID(%q) = %q: must be 6–30 chars, no trailing dash", slug, id)
		}
	}
	if ProjectID("abcdefghijklmnopqrstuvwxyz0123") == ProjectID("abcdefghijklmnopqrstuvwxyz0124") {
		t.Error("long slugs sharing a prefix must get different project IDs")
	}
}

// A new instance's project ID follows GCP's rules for every slug the form accepts, and its random
// part never holds a restricted string.
func TestNewProjectIDFitsGCPLimits(t *testing.T) {
	gcp := regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	for _, slug := range []string{"abc", "acme", "a-very-long-customer-slug-xyz", "abcdefghijklmnopqrs-uvwxyz0123", "abcdefghijklmnopqrstuvwxyz0123"} {
		for range 200 {
			suffix := RandomProjectSuffix()
			id := NewProjectID(slug, suffix)
			if !gcp.MatchString(id) || strings.Contains(id, "--") || !strings.HasSuffix(id, "-"+suffix) || !strings.HasPrefix(id, "src-"+slug[:min(len(slug), 3)]) {
				t.Fatalf("NewProjectID(%q, %q) = %q: not a valid GCP project ID of this slug", slug, suffix, id)
			}
			if containsRestricted(suffix) || len(suffix) != ProjectSuffixLen {
				t.Fatalf("suffix %q", suffix)
			}
		}
	}
	if got := InstanceProjectID("", "acme"); got != "src-acme" {
		t.Errorf("InstanceProjectID without a recorded ID = %q, want the slug's src-acme", got)
	}
	if got := InstanceProjectID("src-acme-x1y2z3", "acme"); got != "src-acme-x1y2z3" {
		t.Errorf("InstanceProjectID with a recorded ID = %q", got)
	}
	if got := StatusForProject("src-acme-x1y2z3", "us-central1").GCP.IngressHost; got != "src-acme-x1y2z3.ingress."+DefaultDomainSuffix {
		t.Errorf("ingress host %q does not follow the project ID", got)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	c := &Config{APIVersion: APIVersion, Kind: Kind,
		Metadata: Metadata{Name: "acme", Labels: map[string]string{"instance-type": "trial"}},
		Spec: Spec{SourcegraphVersion: "5.9.0", Domain: Domain{PrimaryDNSName: "acme.sourcegraphcloud.com"},
			Infrastructure: Infrastructure{GCP: GCP{Region: "us-central1"}}, Size: Small, IPAllowlist: []string{"203.0.113.0/24"}},
		Status: StatusFor("acme", "us-central1")}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Type() != Trial || back.Status.GCP.ProjectID != "src-acme" || back.Spec.IPAllowlist[0] != "203.0.113.0/24" {
		t.Fatalf("round trip lost data: %+v", back)
	}
	if _, err := Parse([]byte("apiVersion: sourcegraph.com/v1\nkind: SourcegraphCloud\nspec:\n  sourcegraphVersionn: 1.0.0\n")); err == nil {
		t.Fatal("unknown fields must be rejected")
	}
}
