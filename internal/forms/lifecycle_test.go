package forms

import (
	"strings"
	"testing"
)

const suspendBody = `### Slug

acme-corp

### Reason

The customer is pausing the rollout until their next budget cycle (Q2).
Account: https://github.com/sourcegraph/accounts/issues/1234

### Expected resume date

2027-02-01

### Agreement date

2026-11-20

`

func TestParseSuspend(t *testing.T) {
	reason := "The customer is pausing the rollout until their next budget cycle (Q2).\nAccount: https://github.com/sourcegraph/accounts/issues/1234"
	want := Suspend{Slug: "acme-corp", Reason: reason, ExpectedResume: "2027-02-01", AgreementDate: "2026-11-20"}
	cases := robustCases(t, suspendBody, want)
	cases = append(cases, slugCases(t, suspendBody)...)
	cases = append(cases,
		formCase{name: "optional dates empty", body: setAll(t, suspendBody, FieldExpectedResume, NoResponse, FieldAgreement, NoResponse),
			want: Suspend{Slug: "acme-corp", Reason: reason}},
		formCase{name: "every field empty", body: emptyAll(suspendBody),
			errs: []string{"Slug: is required", "Reason: is required"}, n: 2},
		formCase{name: "empty body", body: "", errs: []string{"Slug: is required", "Reason: is required"}, n: 2},
		formCase{name: "dates in other formats", body: setAll(t, suspendBody, FieldExpectedResume, "01/02/2027", FieldAgreement, "Nov 20"),
			errs: []string{"Expected resume date `01/02/2027`: must be a date written YYYY-MM-DD", "Agreement date `Nov 20`: must be a date"}, n: 2},
		formCase{name: "impossible date", body: set(t, suspendBody, FieldExpectedResume, "2027-02-30"),
			errs: []string{"Expected resume date `2027-02-30`"}, n: 1},
		formCase{name: "resume before agreement", body: set(t, suspendBody, FieldExpectedResume, "2026-11-01"),
			errs: []string{"Expected resume date `2026-11-01`: must be after the agreement date `2026-11-20`"}, n: 1},
		formCase{name: "reason too long", body: set(t, suspendBody, FieldReason, strings.Repeat("blah ", 401)),
			errs: []string{"Reason: must be at most 2000 characters"}, n: 1},
		formCase{name: "every problem at once", body: setAll(t, suspendBody, FieldSlug, "Acme", FieldReason, NoResponse, FieldAgreement, "tomorrow"),
			errs: []string{"Slug `Acme`", "Reason: is required", "Agreement date `tomorrow`"}, n: 3},
	)
	// A heading inside a fenced block in the reason is part of the reason, not a new field.
	fenced := set(t, suspendBody, FieldReason, "Logs:\n```\n### Slug\nother\n```")
	cases = append(cases, formCase{name: "heading inside a code fence", body: fenced,
		want: Suspend{Slug: "acme-corp", Reason: "Logs:\n```\n### Slug\nother\n```", ExpectedResume: "2027-02-01", AgreementDate: "2026-11-20"}})
	runFormCases(t, OpSuspend, cases)

	// The typed parser agrees with the router.
	if r, err := ParseSuspend(suspendBody); err != nil || r != want {
		t.Fatalf("ParseSuspend = %#v, %v", r, err)
	}
}

const resumeBody = `### Slug

acme-corp

### Reason

_No response_

`

func TestParseResume(t *testing.T) {
	want := Resume{Slug: "acme-corp"}
	cases := robustCases(t, resumeBody, want)
	cases = append(cases, slugCases(t, resumeBody)...)
	cases = append(cases,
		formCase{name: "with reason", body: set(t, resumeBody, FieldReason, "New budget cycle."),
			want: Resume{Slug: "acme-corp", Reason: "New budget cycle."}},
		formCase{name: "every field empty", body: emptyAll(resumeBody), errs: []string{"Slug: is required"}, n: 1},
	)
	runFormCases(t, OpResume, cases)
	if r, err := ParseResume(resumeBody); err != nil || r != want {
		t.Fatalf("ParseResume = %#v, %v", r, err)
	}
}

const teardownBody = `### Slug

acme-corp

### Reason

The trial ended and the customer decided not to continue.

### Agreement date

_No response_

### Acknowledgement

- [X] I understand the data will be permanently deleted

`

func TestParseTeardown(t *testing.T) {
	want := Teardown{Slug: "acme-corp", Reason: "The trial ended and the customer decided not to continue.", Acknowledged: true}
	unticked := "tick “I understand the data will be permanently deleted” to confirm"
	cases := robustCases(t, teardownBody, want)
	cases = append(cases, slugCases(t, teardownBody)...)
	cases = append(cases,
		formCase{name: "lower-case x", body: set(t, teardownBody, FieldAcknowledgement, "- [x] I understand the data will be permanently deleted"), want: want},
		formCase{name: "star bullet and extra spaces", body: set(t, teardownBody, FieldAcknowledgement, "*  [X]   I understand the data  will be permanently deleted "), want: want},
		formCase{name: "agreement date", body: set(t, teardownBody, FieldAgreement, "2026-11-20"),
			want: Teardown{Slug: want.Slug, Reason: want.Reason, Acknowledged: true, AgreementDate: "2026-11-20"}},
		formCase{name: "acknowledgement unticked", body: set(t, teardownBody, FieldAcknowledgement, "- [ ] I understand the data will be permanently deleted"),
			errs: []string{"Acknowledgement: " + unticked}, n: 1},
		formCase{name: "acknowledgement empty", body: set(t, teardownBody, FieldAcknowledgement, NoResponse),
			errs: []string{"Acknowledgement: " + unticked}, n: 1},
		formCase{name: "acknowledgement section removed", body: strings.Replace(teardownBody, "### Acknowledgement", "### Notes", 1),
			errs: []string{"Acknowledgement: " + unticked}, n: 1},
		formCase{name: "acknowledgement text edited", body: set(t, teardownBody, FieldAcknowledgement, "- [X] I understand the data will NOT be deleted"),
			errs: []string{"Acknowledgement: " + unticked}, n: 1},
		formCase{name: "every field empty", body: emptyAll(teardownBody),
			errs: []string{"Slug: is required", "Reason: is required", "Acknowledgement: tick"}, n: 3},
	)
	runFormCases(t, OpTeardown, cases)
	if r, err := ParseTeardown(teardownBody); err != nil || r != want {
		t.Fatalf("ParseTeardown = %#v, %v", r, err)
	}
	// Ticked only in the reason, not in its own field: not acknowledged.
	body := setAll(t, teardownBody, FieldReason, "- [X] I understand the data will be permanently deleted",
		FieldAcknowledgement, "- [ ] I understand the data will be permanently deleted")
	if _, err := ParseTeardown(body); err == nil || !strings.Contains(err.Error(), "Acknowledgement") {
		t.Fatalf("a tick outside the Acknowledgement field must not count: %v", err)
	}
}
