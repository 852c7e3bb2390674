package forms

import (
	"fmt"
	"testing"
)

const extendTrialBody = `### Slug

acme-corp

### Additional days

15

### Reason

The customer's security review takes two more weeks.

`

func TestParseExtendTrial(t *testing.T) {
	reason := "The customer's security review takes two more weeks."
	want := ExtendTrial{Slug: "acme-corp", Days: 15, Reason: reason}
	days := func(n int) ExtendTrial { return ExtendTrial{Slug: "acme-corp", Days: n, Reason: reason} }
	outOfRange := fmt.Sprintf("must be a whole number from %d to %d", MinExtendDays, MaxExtendDays)
	cases := robustCases(t, extendTrialBody, want)
	cases = append(cases, slugCases(t, extendTrialBody)...)
	cases = append(cases,
		formCase{name: "lower bound", body: set(t, extendTrialBody, FieldExtendDays, "1"), want: days(1)},
		formCase{name: "upper bound", body: set(t, extendTrialBody, FieldExtendDays, "30"), want: days(30)},
		formCase{name: "with unit", body: set(t, extendTrialBody, FieldExtendDays, "15 days"), want: days(15)},
		formCase{name: "with unit, capitals", body: set(t, extendTrialBody, FieldExtendDays, "1 Day"), want: days(1)},
		formCase{name: "zero", body: set(t, extendTrialBody, FieldExtendDays, "0"), errs: []string{"Additional days `0`: " + outOfRange}, n: 1},
		formCase{name: "above the bound", body: set(t, extendTrialBody, FieldExtendDays, "31"), errs: []string{"Additional days `31`: " + outOfRange}, n: 1},
		formCase{name: "way above", body: set(t, extendTrialBody, FieldExtendDays, "99999999999999999999"), errs: []string{outOfRange}, n: 1},
		formCase{name: "negative", body: set(t, extendTrialBody, FieldExtendDays, "-5"), errs: []string{"Additional days `-5`"}, n: 1},
		formCase{name: "explicit plus", body: set(t, extendTrialBody, FieldExtendDays, "+5"), errs: []string{"Additional days `+5`"}, n: 1},
		formCase{name: "words", body: set(t, extendTrialBody, FieldExtendDays, "fifteen"), errs: []string{"Additional days `fifteen`"}, n: 1},
		formCase{name: "fraction", body: set(t, extendTrialBody, FieldExtendDays, "1.5"), errs: []string{"Additional days `1.5`"}, n: 1},
		formCase{name: "two weeks", body: set(t, extendTrialBody, FieldExtendDays, "2 weeks"), errs: []string{"Additional days `2 weeks`"}, n: 1},
		formCase{name: "every field empty", body: emptyAll(extendTrialBody),
			errs: []string{"Slug: is required", "Additional days: is required", "Reason: is required"}, n: 3},
	)
	runFormCases(t, OpExtendTrial, cases)
	if r, err := ParseExtendTrial(extendTrialBody); err != nil || r != want {
		t.Fatalf("ParseExtendTrial = %#v, %v", r, err)
	}
}

const convertTrialBody = `### Slug

acme-corp

### Agreement date

2026-11-20

`

func TestParseConvertTrial(t *testing.T) {
	want := ConvertTrial{Slug: "acme-corp", AgreementDate: "2026-11-20"}
	cases := robustCases(t, convertTrialBody, want)
	cases = append(cases, slugCases(t, convertTrialBody)...)
	cases = append(cases,
		formCase{name: "agreement date missing", body: set(t, convertTrialBody, FieldAgreement, NoResponse),
			errs: []string{"Agreement date: is required"}, n: 1},
		formCase{name: "impossible date", body: set(t, convertTrialBody, FieldAgreement, "2026-02-30"),
			errs: []string{"Agreement date `2026-02-30`: must be a date written YYYY-MM-DD"}, n: 1},
		formCase{name: "date with time", body: set(t, convertTrialBody, FieldAgreement, "2026-11-20T10:00:00Z"),
			errs: []string{"Agreement date `2026-11-20T10:00:00Z`"}, n: 1},
		formCase{name: "every field empty", body: emptyAll(convertTrialBody),
			errs: []string{"Slug: is required", "Agreement date: is required"}, n: 2},
	)
	runFormCases(t, OpConvertTrial, cases)
	if r, err := ParseConvertTrial(convertTrialBody); err != nil || r != want {
		t.Fatalf("ParseConvertTrial = %#v, %v", r, err)
	}
}
