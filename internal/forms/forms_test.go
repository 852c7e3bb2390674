package forms

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

const validBody = `### Customer name

Acme Corporation

### Slug

acme

### Domain

_No response_

### Instance type

Trial

### Size

_No response_

### Region

europe-west3

### Sourcegraph version

5.9.0

### Customer admin email

admin@acme.com

### IP allowlist

203.0.113.0/24
- 198.51.100.16/28

### User-level telemetry

Yes

### Agreement date

2026-11-20
`

func TestParseNewInstance(t *testing.T) {
	r, err := ParseNewInstance(strings.ReplaceAll(validBody, "\n", "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := NewInstance{Customer: "Acme Corporation", Slug: "acme", Domain: "acme.sourcegraphcloud.com", Type: spec.Trial, Size: spec.Small,
		Region: "europe-west3", Version: "5.9.0", AdminEmail: "admin@acme.com", UserLevelTelemetry: true, AgreementDate: "2026-11-20"}
	if r.Customer != want.Customer || r.Slug != want.Slug || r.Domain != want.Domain || r.Type != want.Type || r.Size != want.Size ||
		r.Region != want.Region || r.Version != want.Version || r.AdminEmail != want.AdminEmail || !r.UserLevelTelemetry || r.AgreementDate != want.AgreementDate {
		t.Fatalf("got %+v", r)
	}
	if len(r.IPAllowlist) != 2 || r.IPAllowlist[1] != "198.51.100.16/28" {
		t.Fatalf("allowlist: %v", r.IPAllowlist)
	}
}

func TestParseNewInstanceReportsEveryBadField(t *testing.T) {
	body := strings.NewReplacer("acme\n", "Acme Corp\n", "Trial", "enterprise", "europe-west3", "mars-north1",
		"5.9.0", "v5.9.0", "admin@acme.com", "not-an-email", "203.0.113.0/24", "203.0.113.7/24", "Yes", "maybe",
		"2026-11-20", "20/11/2026", "Acme Corporation", NoResponse).Replace(validBody)
	_, err := ParseNewInstance(body)
	if err == nil {
		t.Fatal("want errors")
	}
	md := Markdown(err)
	for _, want := range []string{"Customer name: is required", "Slug `Acme Corp`", "Instance type `enterprise`", "Region `mars-north1`",
		"without the `v` prefix", "Customer admin email `not-an-email`", "`203.0.113.0/24`", "User-level telemetry `maybe`", "YYYY-MM-DD"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "\n- ") + 1; n != 9 {
		t.Errorf("want 9 problems listed, got %d:\n%s", n, md)
	}
}

func TestParseIgnoresPreambleAndKeepsFirstDuplicate(t *testing.T) {
	f := Parse("intro text\n### A\n\none\n### B\n\n_No response_\n### A\n\ntwo")
	if v, _ := f.Get("A"); v != "one" {
		t.Fatalf("A = %q", v)
	}
	if v, ok := f.Get("B"); !ok || v != "" {
		t.Fatalf("B = %q %v", v, ok)
	}
	if _, ok := f.Get("C"); ok {
		t.Fatal("C must be absent")
	}
	if got := strings.Join(f.Labels(), ","); got != "A,B" {
		t.Fatalf("labels %s", got)
	}
}

func TestParseNewInstanceTable(t *testing.T) {
	want := NewInstance{Customer: "Acme Corporation", Slug: "acme", Domain: "acme.sourcegraphcloud.com", Type: spec.Trial, Size: spec.Small,
		Region: "europe-west3", Version: "5.9.0", AdminEmail: "admin@acme.com", IPAllowlist: []string{"203.0.113.0/24", "198.51.100.16/28"},
		UserLevelTelemetry: true, AgreementDate: "2026-11-20"}
	with := func(edit func(*NewInstance)) NewInstance {
		r := want
		r.IPAllowlist = slices.Clone(want.IPAllowlist)
		edit(&r)
		return r
	}
	cases := []formCase{
		{name: "valid", body: validBody, want: want},
		{name: "CRLF", body: crlf(validBody), want: want},
		{name: "extra white space", body: strings.ReplaceAll(strings.ReplaceAll(validBody, "\n\n", "\n \t\n"), "acme\n", "  acme \n"), want: want},
		{name: "unknown extra sections", body: validBody + "\n### Anything else?\n\nNo\n", want: want},
		{name: "defaults", body: setAll(t, validBody, FieldRegion, NoResponse, FieldVersion, NoResponse, FieldAllowlist, NoResponse,
			FieldTelemetry, NoResponse, FieldAgreement, NoResponse),
			want: with(func(r *NewInstance) {
				r.Region, r.Version, r.IPAllowlist, r.UserLevelTelemetry, r.AgreementDate = "us-central1", "", nil, false, ""
			})},
		{name: "custom domain, size, licence", body: strings.Replace(setAll(t, validBody, FieldDomain, "Sourcegraph.Acme.com", FieldSize, "Large"),
			"### Agreement date", "### License key\n\nslk_abc123\n\n### Agreement date", 1),
			want: with(func(r *NewInstance) {
				r.Domain, r.Size, r.LicenseKey = "sourcegraph.acme.com", spec.Large, "slk_abc123"
			})},
		{name: "every field empty", body: emptyAll(validBody),
			errs: []string{"Customer name: is required", "Slug: is required", "Instance type: is required", "Customer admin email: is required"}, n: 4},
		{name: "empty body", body: "", n: 4,
			errs: []string{"Customer name: is required", "Slug: is required", "Instance type: is required", "Customer admin email: is required"}},
		{name: "customer name on two lines", body: set(t, validBody, FieldCustomer, "Acme\nCorporation"),
			errs: []string{"Customer name `Acme Corporation`: must be a single line"}, n: 1},
		{name: "domain with scheme", body: set(t, validBody, FieldDomain, "https://acme.com"), errs: []string{"Domain `https://acme.com`"}, n: 1},
		{name: "size unknown", body: set(t, validBody, FieldSize, "huge"), errs: []string{"Size `huge`: must be small, medium or large"}, n: 1},
		{name: "bad ranges each reported", body: set(t, validBody, FieldAllowlist, "142.250.217.110/29\n10.0.0.1"),
			errs: []string{"`142.250.217.104/29`", "`10.0.0.1/32`"}, n: 2},
		{name: "bad date", body: set(t, validBody, FieldAgreement, "2026-13-01"), errs: []string{"Agreement date `2026-13-01`"}, n: 1},
	}
	runFormCases(t, OpCreate, cases)
}

func TestParseCheckboxes(t *testing.T) {
	got := ParseCheckboxes("- [X] one\n- [ ] two\n* [x] three\n+ [X]four\n  -   [ ]  five  \n[X] no bullet\n- [?] odd\nsome text\n- [X]")
	want := []Checkbox{{"one", true}, {"two", false}, {"three", true}, {"four", true}, {"five", false}, {"", true}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %#v", got)
	}
	f := Parse("### Options\n\n- [X] Dry  run\n- [ ] Approve\n")
	if !f.Checked("Options", "dry run") || f.Checked("Options", "Approve") || f.Checked("Options", "Other") || f.Checked("Missing", "Dry run") {
		t.Fatal("Checked")
	}
}

func TestParseLineEndingsAndFences(t *testing.T) {
	for name, body := range map[string]string{
		"LF":   "### A\n\none\n\n### B\n\ntwo\n",
		"CRLF": "### A\r\n\r\none\r\n\r\n### B\r\n\r\ntwo\r\n",
		"CR":   "### A\r\rone\r\r### B\r\rtwo\r",
		"BOM":  "\ufeff### A\n\none\n\n### B\n\ntwo\n",
	} {
		f := Parse(body)
		a, _ := f.Get("A")
		b, _ := f.Get("B")
		if a != "one" || b != "two" {
			t.Errorf("%s: A=%q B=%q", name, a, b)
		}
	}
	f := Parse("### A\n\n~~~~\n### B\n```\n### C\n~~~~\n\n### D\n\nd\n")
	if a, _ := f.Get("A"); a != "~~~~\n### B\n```\n### C\n~~~~" {
		t.Errorf("A = %q", a)
	}
	if got := strings.Join(f.Labels(), ","); got != "A,D" {
		t.Errorf("labels %s", got)
	}
	// An unclosed fence runs to the end, as GitHub renders it.
	if got := strings.Join(Parse("### A\n\n```\n### B\n\nb\n").Labels(), ","); got != "A" {
		t.Errorf("labels %s", got)
	}
}

func TestMarkdownIsOneLinePerProblem(t *testing.T) {
	_, err := ParseNewInstance(setAll(t, validBody, FieldSlug, "Acme`\n- injected", FieldCustomer, strings.Repeat("x", 500)))
	md := Markdown(err)
	lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 problems, got:\n%s", md)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "- ") || strings.Count(l, "`")%2 != 0 || len(l) > 400 {
			t.Errorf("unsafe line %q", l)
		}
	}
	if got := Markdown(errors.New("a\nb")); got != "- a b" {
		t.Errorf("plain error: %q", got)
	}
}

// A new instance's slug becomes part of its GCP project ID, which Google Cloud refuses when it
// contains google, null, undefined or ssl: the form says so, naming the field.
func TestNewInstanceSlugWithARestrictedString(t *testing.T) {
	body := strings.Replace(validBody, "acme\n", "ssl-shop\n", 1)
	_, err := ParseNewInstance(body)
	if md := Markdown(err); err == nil || !strings.Contains(md, "Slug `ssl-shop`: must not contain `ssl`") {
		t.Fatalf("want the slug refused, got %v", err)
	}
}
