package forms

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// fuzzSeeds are realistic bodies of every form plus malformed ones.
func fuzzSeeds(t testing.TB) []string {
	seeds := []string{
		validBody, suspendBody, resumeBody, teardownBody, extendTrialBody, convertTrialBody, allowlistBody,
		reloadBody, enableTelemetryBody, disableTelemetryBody, upgradeBody,
		"", "###", "### ", "### \n\n", "### Slug", "### Slug\n\n_No response_", "### Slug\r\n\r\nacme\r\n",
		"### Slug\n\n```\n### Reason\n", "### Acknowledgement\n\n- [X] ", "- [X] I understand the data will be permanently deleted",
		"### Additional days\n\n-0", "### IP allowlist\n\n::/0,0.0.0.0/1,fe80::1%eth0/64\n",
		"### Target version\n\nv\n### Concurrency\n\n+5\n",
		crlf(teardownBody), strings.ReplaceAll(allowlistBody, "/24", "/33"), strings.ReplaceAll(upgradeBody, "5.9.0", "v5.9.0"),
	}
	for _, f := range loadForms(t) {
		seeds = append(seeds, exampleBody(t, f))
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fields := Parse(body)
		seen := map[string]bool{}
		for _, label := range fields.Labels() {
			if label == "" || seen[label] || label != strings.TrimSpace(label) || strings.ContainsAny(label, "\r\n") {
				t.Fatalf("bad label %q (labels %q)", label, fields.Labels())
			}
			seen[label] = true
			v, ok := fields.Get(label)
			if !ok || v != strings.TrimSpace(v) || v == NoResponse || strings.Contains(v, "\r") {
				t.Fatalf("bad value %q for %q", v, label)
			}
			for _, item := range ParseList(v) {
				if item == "" || item != strings.TrimSpace(item) || strings.ContainsAny(item, ",\n") {
					t.Fatalf("bad list item %q", item)
				}
			}
			for _, c := range ParseCheckboxes(v) {
				if c.Label != strings.TrimSpace(c.Label) || strings.Contains(c.Label, "\n") {
					t.Fatalf("bad checkbox %q", c.Label)
				}
			}
		}
	})
}

// FuzzParseRequest: no body makes a parser panic, and whatever a parser accepts passes the
// validators again, checked here independently of the parser's code. A rejection names only
// fields of the form, one problem per comment line, with balanced code spans.
func FuzzParseRequest(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	formLabels := map[Operation]map[string]bool{}
	for _, form := range loadForms(f) {
		op := form.op(f)
		formLabels[op] = map[string]bool{}
		for _, it := range form.fieldItems() {
			formLabels[op][it.Attributes.Label] = true
		}
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, op := range Operations() {
			req, err := ParseRequest(op, body)
			if err == nil {
				revalidate(t, op, req)
				continue
			}
			if req != nil {
				t.Fatalf("%s: rejected body yielded a request %#v", op, req)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("%s: want Errors, got %T %v", op, err, err)
			}
			for _, e := range errs {
				var fe *spec.FieldError
				if !errors.As(e, &fe) || !formLabels[op][fe.Field] || fe.Fix == "" {
					t.Fatalf("%s: problem %q must name a field of the form and the fix", op, e)
				}
			}
			md := Markdown(err)
			lines := strings.Split(strings.TrimSuffix(md, "\n"), "\n")
			if len(lines) != len(errs) {
				t.Fatalf("%s: %d problems but %d comment lines:\n%s", op, len(errs), len(lines), md)
			}
			for _, l := range lines {
				if !strings.HasPrefix(l, "- ") || strings.Count(l, "`")%2 != 0 || utf8.RuneCountInString(l) > 500 || !utf8.ValidString(l) {
					t.Fatalf("%s: unsafe comment line %q", op, l)
				}
			}
		}
	})
}

// revalidate checks an accepted request with the spec validators and the documented bounds.
func revalidate(t *testing.T, op Operation, req Request) {
	t.Helper()
	if req == nil {
		t.Fatalf("%s: accepted body yielded no request", op)
	}
	if req.Operation() != op {
		t.Fatalf("%s: accepted as %T, operation %s", op, req, req.Operation())
	}
	bad := func(what string, err error) {
		if err != nil {
			t.Fatalf("%s: accepted a request with invalid %s: %v (%#v)", op, what, err, req)
		}
	}
	must := func(what string, ok bool) {
		if !ok {
			t.Fatalf("%s: accepted a request with invalid %s (%#v)", op, what, req)
		}
	}
	slug := func(s string) { bad("slug", spec.ValidateSlug("Slug", s)) }
	date := func(what, d string, required bool) {
		if d == "" {
			must(what+" (required)", !required)
			return
		}
		_, err := time.Parse("2006-01-02", d)
		bad(what, err)
	}
	reason := func(s string, required bool) {
		must("reason", (!required || s != "") && utf8.RuneCountInString(s) <= 2000)
	}
	cidrs := func(l []string, required bool) {
		must("allowlist (required)", !required || len(l) > 0)
		bad("allowlist", spec.ValidateCIDRs("IP allowlist", l))
		for _, c := range l {
			must("allowlist (canonical)", netip.MustParsePrefix(c).String() == c)
		}
	}
	switch r := req.(type) {
	case NewInstance:
		must("customer", r.Customer != "" && !strings.Contains(r.Customer, "\n") && utf8.RuneCountInString(r.Customer) <= 200)
		slug(r.Slug)
		bad("domain", spec.ValidateDomain("Domain", r.Domain))
		bad("type", spec.ValidateInstanceType("Instance type", r.Type))
		bad("size", spec.ValidateSize("Size", r.Size))
		bad("region", spec.ValidateRegion("Region", r.Region))
		if r.Version != "" {
			bad("version", spec.ValidateVersion("Sourcegraph version", r.Version))
		}
		bad("email", spec.ValidateEmail("Customer admin email", r.AdminEmail))
		cidrs(r.IPAllowlist, false)
		date("agreement date", r.AgreementDate, false)
	case Suspend:
		slug(r.Slug)
		reason(r.Reason, true)
		date("expected resume date", r.ExpectedResume, false)
		date("agreement date", r.AgreementDate, false)
		must("resume after agreement", r.ExpectedResume == "" || r.AgreementDate == "" || r.ExpectedResume > r.AgreementDate)
	case Resume:
		slug(r.Slug)
		reason(r.Reason, false)
	case Teardown:
		slug(r.Slug)
		reason(r.Reason, true)
		must("acknowledgement", r.Acknowledged)
		date("agreement date", r.AgreementDate, false)
	case ExtendTrial:
		slug(r.Slug)
		must("days", r.Days >= MinExtendDays && r.Days <= MaxExtendDays)
		reason(r.Reason, true)
	case ConvertTrial:
		slug(r.Slug)
		date("agreement date", r.AgreementDate, true)
	case AllowlistUpdate:
		slug(r.Slug)
		cidrs(r.IPAllowlist, true)
		must("customer confirmation", r.CustomerConfirmed)
	case ReloadFrontend:
		slug(r.Slug)
		reason(r.Reason, false)
	case Telemetry:
		slug(r.Slug)
		must("customer agreement", !r.Enable || r.CustomerAgreed)
		reason(r.Reason, false)
	case UpgradeTracking:
		bad("version", spec.ValidateVersion("Target version", r.Version))
		must("concurrency", r.Concurrency >= MinConcurrency && r.Concurrency <= MaxConcurrency)
	default:
		t.Fatalf("%s: unexpected request type %T", op, req)
	}
}
