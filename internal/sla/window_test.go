package sla

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestWindowStringAndParse(t *testing.T) {
	for _, tc := range []struct {
		w    Window
		want string
	}{
		{Window{}, "none"},
		{Elapsed(24 * time.Hour), "24h"},
		{Elapsed(90 * time.Minute), "1h30m"},
		{Elapsed(45 * time.Second), "45s"},
		{WorkingDays(1), "1 working day"},
		{WorkingDays(7), "7 working days"},
		{CalendarDays(3), "3 days"},
		{Weeks(2), "14 days"},
		{DuringOfficeHours(time.Hour, 1), "1h office hours else 1 working day"},
	} {
		if got := tc.w.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		back, err := ParseWindow(tc.want)
		if err != nil || back != tc.w {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", tc.want, back, err, tc.w)
		}
	}
	for in, want := range map[string]Window{
		"1 week":                               Weeks(1),
		"2 Weeks":                              Weeks(2),
		"3 calendar days":                      CalendarDays(3),
		"  10   working   days ":               WorkingDays(10),
		"30m office hours else 2 working days": DuringOfficeHours(30*time.Minute, 2),
	} {
		if got, err := ParseWindow(in); err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0 working days", "-1 days", "0s", "-24h", "seven days", "3 fortnights",
		"1h office hours else 0 working days", "0h office hours else 1 working day", "1 working", "24"} {
		if _, err := ParseWindow(in); err == nil || !strings.Contains(err.Error(), "working days") {
			t.Errorf("ParseWindow(%q) error = %v, want a clear error", in, err)
		}
	}
}

func TestWindowValidate(t *testing.T) {
	for _, w := range []Window{
		{Unit: UnitNone, Days: 1},
		{Unit: UnitElapsed},
		{Unit: UnitElapsed, Duration: time.Hour, Days: 1},
		{Unit: UnitWorkingDays},
		{Unit: UnitWorkingDays, Days: 1, Duration: time.Hour},
		{Unit: UnitCalendarDays, Days: -1},
		{Unit: UnitOfficeHours, Duration: time.Hour},
		{Unit: 99},
	} {
		if err := w.Validate(); err == nil {
			t.Errorf("%#v.Validate() = nil", w)
		}
	}
}

func TestWindowJSON(t *testing.T) {
	row := SLA{Response: Elapsed(24 * time.Hour), Resolution: WorkingDays(7)}
	b, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"Response":"24h","Resolution":"7 working days"}` {
		t.Errorf("json = %s", b)
	}
	var back SLA
	if err := json.Unmarshal(b, &back); err != nil || back != row {
		t.Errorf("round trip = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"Response":"soon"}`), &back); err == nil {
		t.Error("bad window accepted")
	}
	// A whole table, keyed by kind.
	b, err = json.Marshal(DefaultTable())
	if err != nil {
		t.Fatal(err)
	}
	var table Table
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	for _, k := range Kinds() {
		if table[k] != DefaultTable()[k] {
			t.Errorf("%s: round trip %v, want %v", k, table[k], DefaultTable()[k])
		}
	}
}
