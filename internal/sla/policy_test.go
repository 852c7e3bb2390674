package sla

import (
	"strings"
	"testing"
	"time"
)

// Every row of the default table, from a Monday morning and from a Saturday.
func TestDefaultTable(t *testing.T) {
	p := DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	utc := time.UTC
	mon := ts(t, utc, "2026-03-02 10:00")
	sat := ts(t, utc, "2026-03-07 10:00")
	type want struct{ response, resolution string }
	for _, tc := range []struct {
		kind  Kind
		start time.Time
		want  want
	}{
		{NewInstance, mon, want{"2026-03-03 10:00", "2026-03-11 10:00"}},
		{NewInstance, sat, want{"2026-03-08 10:00", "2026-03-18 00:00"}}, // 24 h counts the weekend; 7 WD end Tuesday
		{Trial, mon, want{"2026-03-02 11:00", "2026-03-02 11:00"}},
		{Trial, sat, want{"2026-03-10 00:00", "2026-03-10 00:00"}}, // out of hours: 1 working day, end of Monday
		{Suspend, mon, want{"2026-03-03 10:00", "2026-03-23 10:00"}},
		{Teardown, mon, want{"2026-03-03 10:00", "2026-03-23 10:00"}},
		{Teardown, sat, want{"2026-03-08 10:00", "2026-03-28 00:00"}}, // end of the third Friday
		{Resume, mon, want{"2026-03-03 10:00", "2026-03-11 10:00"}},
		{UpgradeMonthly, mon, want{"", "2026-03-16 10:00"}},
		{UpgradePatch, mon, want{"", "2026-03-09 10:00"}},
		{AllowlistUpdate, mon, want{"2026-03-03 10:00", "2026-03-05 10:00"}},
		{AllowlistUpdate, sat, want{"2026-03-10 00:00", "2026-03-10 10:00"}},
		{CustomDomain, mon, want{"2026-03-05 10:00", "2026-03-16 10:00"}},
		{SmallOp, mon, want{"2026-03-03 10:00", ""}},
	} {
		t.Run(string(tc.kind)+" "+tc.start.Weekday().String(), func(t *testing.T) {
			d, err := p.Deadlines(tc.kind, tc.start)
			if err != nil {
				t.Fatal(err)
			}
			check := func(name string, got time.Time, want string) {
				t.Helper()
				if want == "" {
					if !got.IsZero() {
						t.Errorf("%s = %v, want none", name, got)
					}
					return
				}
				if w := ts(t, utc, want); !got.Equal(w) {
					t.Errorf("%s = %v, want %v", name, got, w)
				}
			}
			check("Response", d.Response, tc.want.response)
			check("Resolution", d.Resolution, tc.want.resolution)
			if d.Kind != tc.kind || !d.Start.Equal(tc.start) {
				t.Errorf("Kind, Start = %v, %v", d.Kind, d.Start)
			}
			if tc.want.resolution == "" {
				if !d.Warn.IsZero() {
					t.Errorf("Warn = %v without a resolution SLA", d.Warn)
				}
			} else if want := tc.start.Add(d.Resolution.Sub(tc.start) * 4 / 5); !d.Warn.Equal(want) {
				t.Errorf("Warn = %v, want %v", d.Warn, want)
			}
		})
	}
	// Every known kind has a row.
	for _, k := range Kinds() {
		if _, ok := p.Table[k]; !ok {
			t.Errorf("no default SLA for %s", k)
		}
	}
}

// Trials: 1 h of office time if filed in office hours (07:00–22:00 GMT), else 1 working day.
func TestTrialOfficeHours(t *testing.T) {
	p := DefaultPolicy()
	utc := time.UTC
	for _, tc := range []struct{ start, want string }{
		{"2026-03-02 06:59", "2026-03-03 06:59"}, // before opening: out of hours
		{"2026-03-02 07:00", "2026-03-02 08:00"},
		{"2026-03-02 21:00", "2026-03-02 22:00"},
		{"2026-03-02 21:30", "2026-03-03 07:30"}, // in hours, carried overnight
		{"2026-03-06 21:30", "2026-03-09 07:30"}, // Friday evening to Monday
		{"2026-03-02 22:00", "2026-03-03 22:00"}, // 22:00 is out of hours
		{"2026-03-06 23:00", "2026-03-09 23:00"},
		{"2026-03-07 12:00", "2026-03-10 00:00"}, // Saturday: end of Monday
	} {
		d, err := p.Deadlines(Trial, ts(t, utc, tc.start))
		if err != nil {
			t.Fatal(err)
		}
		if w := ts(t, utc, tc.want); !d.Resolution.Equal(w) || !d.Response.Equal(w) {
			t.Errorf("trial from %s: response %v, resolution %v, want %v", tc.start, d.Response, d.Resolution, w)
		}
	}
}

func TestWarnAndState(t *testing.T) {
	p := DefaultPolicy()
	start := ts(t, time.UTC, "2026-03-02 10:00")
	d, err := p.Deadlines(NewInstance, start)
	if err != nil {
		t.Fatal(err)
	}
	// 7 working days from Monday 10:00 is Wednesday week 10:00: 216 h; 80 % is 172 h 48 min.
	if want := ts(t, time.UTC, "2026-03-09 14:48"); !d.Warn.Equal(want) {
		t.Errorf("Warn = %v, want %v", d.Warn, want)
	}
	for _, tc := range []struct {
		now  time.Time
		want Status
	}{
		{start, OnTrack},
		{d.Warn.Add(-time.Nanosecond), OnTrack},
		{d.Warn, Warning},
		{d.Resolution.Add(-time.Nanosecond), Warning},
		{d.Resolution, Breached},
		{d.Resolution.Add(30 * 24 * time.Hour), Breached},
	} {
		if got := d.State(tc.now); got != tc.want {
			t.Errorf("State(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
	if !d.ResponseMet(start.Add(time.Minute)) || d.ResponseMet(d.Response) {
		t.Error("ResponseMet wrong")
	}

	// An elapsed-time window: allowlist "within 3 days" = 72 h, warn at 57 h 36 min.
	a, err := p.Deadlines(AllowlistUpdate, start)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(57*time.Hour + 36*time.Minute); !a.Warn.Equal(want) {
		t.Errorf("allowlist Warn = %v, want %v", a.Warn, want)
	}

	// No resolution SLA: always on track, no warning.
	s, err := p.Deadlines(SmallOp, start)
	if err != nil {
		t.Fatal(err)
	}
	if s.State(start.Add(365*24*time.Hour)) != OnTrack || !s.Warn.IsZero() {
		t.Error("SmallOp without a resolution SLA is not on track")
	}
	u, err := p.Deadlines(UpgradeMonthly, start)
	if err != nil {
		t.Fatal(err)
	}
	if !u.ResponseMet(start.Add(1000 * time.Hour)) {
		t.Error("an upgrade has no response SLA to miss")
	}
	for s, want := range map[Status]string{OnTrack: "on-track", Warning: "warning", Breached: "breached", 9: "Status(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q", s, s.String())
		}
	}
}

func TestPolicyErrors(t *testing.T) {
	p := DefaultPolicy()
	start := ts(t, time.UTC, "2026-03-02 10:00")
	if _, err := p.Deadlines("hotfix", start); err == nil || !strings.Contains(err.Error(), `"hotfix"`) {
		t.Errorf("unknown kind error = %v", err)
	}
	noOffice := DefaultPolicy()
	noOffice.OfficeHours = OfficeHours{}
	if err := noOffice.Validate(); err == nil || !strings.Contains(err.Error(), "no office hours") {
		t.Errorf("Validate without office hours = %v", err)
	}
	if _, err := noOffice.Deadlines(Trial, start); err == nil {
		t.Error("trial deadlines without office hours")
	}
	bad := DefaultPolicy()
	bad.Table[Suspend] = SLA{Resolution: WorkingDays(0)}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "suspend resolution") {
		t.Errorf("Validate with 0 working days = %v", err)
	}
	if _, err := bad.Deadlines(Suspend, start); err == nil {
		t.Error("Deadlines with 0 working days")
	}
	if _, err := ParseKind("teardown"); err != nil {
		t.Error(err)
	}
	if _, err := ParseKind("tear-down"); err == nil {
		t.Error("ParseKind accepted tear-down")
	}
	// DefaultTable returns a fresh copy each time.
	DefaultTable()[NewInstance] = SLA{}
	if DefaultTable()[NewInstance].Resolution != WorkingDays(7) {
		t.Error("DefaultTable is shared")
	}
}

// A US calendar: a request filed Friday evening in New York is Saturday in UTC.
func TestPolicyInNewYork(t *testing.T) {
	ny := loadLoc(t, "America/New_York")
	p := DefaultPolicy()
	p.Calendar = mustCalendar(t, ny, "2026-11-26") // Thanksgiving
	start := ts(t, ny, "2026-11-20 19:00")         // Friday, 00:00 Saturday UTC
	d, err := p.Deadlines(NewInstance, start)
	if err != nil {
		t.Fatal(err)
	}
	// Mon 23, Tue 24, Wed 25, (Thu 26 holiday), Fri 27, Mon 30, Tue 1, Wed 2 → Wednesday 19:00.
	if want := ts(t, ny, "2026-12-02 19:00"); !d.Resolution.Equal(want) || d.Resolution.Location() != ny {
		t.Errorf("Resolution = %v, want %v", d.Resolution, want)
	}
	// The UTC calendar (no holidays) sees a Saturday start: the end of the 7th working day,
	// Tuesday 1 December, is 2 December 00:00 UTC.
	u, _ := DefaultPolicy().Deadlines(NewInstance, start)
	if want := ts(t, time.UTC, "2026-12-02 00:00"); !u.Resolution.Equal(want) {
		t.Errorf("UTC Resolution = %v, want %v", u.Resolution, want)
	}
}

// The handbook's current SLAs (R1 HEAD) as an override of the default table.
func TestTableOverride(t *testing.T) {
	p := DefaultPolicy()
	p.Table[NewInstance] = SLA{Response: WorkingDays(1), Resolution: WorkingDays(1)}
	p.Table[Trial] = SLA{Response: WorkingDays(1), Resolution: WorkingDays(1)}
	start := ts(t, time.UTC, "2026-03-06 15:00")
	for _, k := range []Kind{NewInstance, Trial} {
		d, err := p.Deadlines(k, start)
		if err != nil {
			t.Fatal(err)
		}
		if want := ts(t, time.UTC, "2026-03-09 15:00"); !d.Resolution.Equal(want) || !d.Response.Equal(want) {
			t.Errorf("%s: %v / %v, want %v", k, d.Response, d.Resolution, want)
		}
	}
}

// The response counts from becoming aware, the resolution from the agreement.
func TestDeadlinesOfKeepsTheTwoClocksApart(t *testing.T) {
	p := DefaultPolicy()
	aware := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	agreed := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	d, err := p.DeadlinesOf(Suspend, aware, agreed)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Response.Equal(aware.Add(24*time.Hour)) || !d.Aware.Equal(aware) {
		t.Errorf("response %s from %s, want 24 h after %s", d.Response, d.Aware, aware)
	}
	if want := p.Calendar.AddWorkingDays(agreed, 15); !d.Resolution.Equal(want) || !d.Start.Equal(agreed) {
		t.Errorf("resolution %s from %s, want %s from the agreement", d.Resolution, d.Start, want)
	}
	same, _ := p.DeadlinesOf(Suspend, aware, time.Time{})
	old, _ := p.Deadlines(Suspend, aware)
	if !same.Resolution.Equal(old.Resolution) || !same.Response.Equal(old.Response) {
		t.Errorf("without an agreement both clocks start when aware: %+v vs %+v", same, old)
	}
}
