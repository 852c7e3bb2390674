package forms

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// set replaces the answer of the section "### label" in body (which must have it).
func set(t testing.TB, body, label, value string) string {
	t.Helper()
	head := "### " + label + "\n"
	i := strings.Index(body, head)
	if i < 0 {
		t.Fatalf("no section %q in body", label)
	}
	start := i + len(head)
	end := len(body)
	if j := strings.Index(body[start:], "\n### "); j >= 0 {
		end = start + j + 1
	}
	return body[:start] + "\n" + value + "\n\n" + body[end:]
}

// setAll applies label/value pairs with set.
func setAll(t testing.TB, body string, kv ...string) string {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		body = set(t, body, kv[i], kv[i+1])
	}
	return body
}

// emptyAll answers every section of body with _No response_.
func emptyAll(body string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "### ") {
			out = append(out, line, "", NoResponse, "")
		}
	}
	return strings.Join(out, "\n")
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// formCase is one table row: a body and either the request it must parse to or the problems it
// must be rejected with.
type formCase struct {
	name string
	body string
	want Request  // when wantErr is empty
	errs []string // substrings that must all appear in the rejection comment
	n    int      // if > 0, the exact number of problems
}

func runFormCases(t *testing.T, op Operation, cases []formCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseRequest(op, c.body)
			if len(c.errs) == 0 {
				if err != nil {
					t.Fatalf("want valid, got:\n%s", Markdown(err))
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Fatalf("got  %#v\nwant %#v", got, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("want rejection with %q, parsed %#v", c.errs, got)
			}
			if got != nil {
				t.Fatalf("a rejected body must yield no request, got %#v", got)
			}
			md := Markdown(err)
			for _, want := range c.errs {
				if !strings.Contains(md, want) {
					t.Errorf("missing %q in:\n%s", want, md)
				}
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %T", err)
			}
			for _, e := range errs {
				var fe *spec.FieldError
				if !errors.As(e, &fe) || fe.Field == "" || fe.Fix == "" {
					t.Errorf("every problem must name its field and the fix: %#v", e)
				}
			}
			if c.n > 0 && len(errs) != c.n {
				t.Errorf("want %d problems, got %d:\n%s", c.n, len(errs), md)
			}
		})
	}
}

// slugCases are the Slug problems every form for an existing instance reports the same way.
func slugCases(t *testing.T, valid string) []formCase {
	return []formCase{
		{name: "slug with spaces and capitals", body: set(t, valid, FieldSlug, "Acme Corp"),
			errs: []string{"Slug `Acme Corp`: must be 3–30 lowercase letters, digits or single dashes"}, n: 1},
		{name: "slug is the hostname", body: set(t, valid, FieldSlug, "acme-corp.sourcegraphcloud.com"),
			errs: []string{"Slug `acme-corp.sourcegraphcloud.com`: write the instance's slug, not its address: `acme-corp`"}, n: 1},
		{name: "slug is a URL", body: set(t, valid, FieldSlug, "https://acme-corp.sourcegraphcloud.com/search"),
			errs: []string{"not its address: `acme-corp`"}, n: 1},
		{name: "slug empty", body: set(t, valid, FieldSlug, NoResponse), errs: []string{"Slug: is required"}, n: 1},
		{name: "slug trailing dash", body: set(t, valid, FieldSlug, "acme-"), errs: []string{"not end with a dash"}, n: 1},
		{name: "slug too long", body: set(t, valid, FieldSlug, strings.Repeat("a", 31)), errs: []string{"3–30"}, n: 1},
		{name: "slug with backticks is quoted safely", body: set(t, valid, FieldSlug, "acme`@here`"),
			errs: []string{"Slug `acme'@here'`"}, n: 1},
	}
}

// robustCases: the same valid body with CRLF line endings, extra white space, text before the
// first heading and unknown extra sections still parses to want.
func robustCases(t *testing.T, valid string, want Request) []formCase {
	spaced := strings.ReplaceAll(valid, "\n\n", "\n  \n\t\n")
	spaced = strings.ReplaceAll(spaced, "acme-corp\n", "   acme-corp   \n")
	return []formCase{
		{name: "valid", body: valid, want: want},
		{name: "CRLF line endings", body: crlf(valid), want: want},
		{name: "extra white space", body: spaced, want: want},
		{name: "preamble and unknown extra sections", body: "Filed from the CE playbook.\n\n" + valid +
			"### Anything else?\n\nThanks!\n\n### Slug\n\nsomeone-else\n", want: want},
	}
}
