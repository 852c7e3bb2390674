package forms

import (
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
