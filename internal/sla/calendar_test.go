package sla

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func loadLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// ts parses "2006-01-02 15:04[:05]" in loc.
func ts(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04"
	if strings.Count(s, ":") == 2 {
		layout += ":05"
	}
	v, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustCalendar(t testing.TB, loc *time.Location, holidays ...string) Calendar {
	t.Helper()
	var ds []Date
	for _, h := range holidays {
		d, err := ParseDate(h)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	c, err := NewCalendar(loc, ds...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseDate(t *testing.T) {
	for _, s := range []string{"2026-12-25", "2024-02-29", "0001-01-01"} {
		d, err := ParseDate(s)
		if err != nil || d.String() != s {
			t.Errorf("ParseDate(%q) = %v, %v", s, d, err)
		}
	}
	for _, s := range []string{"", "2026-1-05", "2026-02-30", "2025-02-29", "26-01-01", "2026/01/01", " 2026-01-01",
		"2026-01-01 ", "2026-13-01", "2026-01-01T00:00:00Z", "25 December"} {
		if _, err := ParseDate(s); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
			t.Errorf("ParseDate(%q) error = %v, want a YYYY-MM-DD error", s, err)
		}
	}
	if _, err := NewCalendar(nil, Date{2026, time.February, 30}); err == nil {
		t.Error("NewCalendar accepted 2026-02-30")
	}
}

func TestCalendarBasics(t *testing.T) {
	var zero Calendar
	if zero.Location() != time.UTC {
		t.Errorf("zero Calendar location = %v, want UTC", zero.Location())
	}
	c := mustCalendar(t, nil, "2026-12-25", "2026-01-01", "2026-12-25")
	if got := c.Holidays(); len(got) != 2 || got[0].String() != "2026-01-01" || got[1].String() != "2026-12-25" {
		t.Errorf("Holidays() = %v, want sorted and deduplicated", got)
	}
	ny := mustCalendar(t, loadLoc(t, "America/New_York"), "2026-07-03")
	for _, tc := range []struct {
		cal  Calendar
		at   time.Time
		want bool
	}{
		{c, ts(t, time.UTC, "2026-03-02 00:00"), true},                  // Monday
		{c, ts(t, time.UTC, "2026-03-06 23:59:59"), true},               // Friday
		{c, ts(t, time.UTC, "2026-03-07 12:00"), false},                 // Saturday
		{c, ts(t, time.UTC, "2026-03-08 12:00"), false},                 // Sunday
		{c, ts(t, time.UTC, "2026-12-25 12:00"), false},                 // holiday on a Friday
		{ny, ts(t, time.UTC, "2026-03-09 02:00"), false},                // Sunday 22:00 in New York
		{ny, ts(t, time.UTC, "2026-03-07 02:00"), true},                 // Friday 21:00 in New York
		{ny, ts(t, time.UTC, "2026-07-03 15:00"), false},                // Independence Day (observed) in New York
		{ny, ts(t, time.UTC, "2026-07-04 02:00"), false},                // still 3 July in New York
		{c, ts(t, time.UTC, "2026-07-03 15:00"), true},                  // not a holiday in the UTC calendar
		{c, ts(t, loadLoc(t, "Asia/Tokyo"), "2026-03-09 08:00"), false}, // Sunday 23:00 UTC
	} {
		if got := tc.cal.IsWorkingDay(tc.at); got != tc.want {
			t.Errorf("%v IsWorkingDay(%v) = %v, want %v", tc.cal.Location(), tc.at, got, tc.want)
		}
	}
	if !c.IsHoliday(ts(t, time.UTC, "2026-01-01 09:00")) || c.IsHoliday(ts(t, time.UTC, "2026-01-02 09:00")) {
		t.Error("IsHoliday wrong")
	}
}

func TestAddWorkingDays(t *testing.T) {
	utc := time.UTC
	ny := loadLoc(t, "America/New_York")
	plain := Calendar{}
	hol := mustCalendar(t, utc, "2026-03-04", "2026-03-09", "2026-12-24", "2026-12-25", "2026-12-28", "2026-01-01")
	usCal := mustCalendar(t, ny, "2026-05-25", "2026-07-03")
	for _, tc := range []struct {
		name  string
		cal   Calendar
		start time.Time
		n     int
		want  time.Time
	}{
		{"same clock next day", plain, ts(t, utc, "2026-03-02 10:00"), 1, ts(t, utc, "2026-03-03 10:00")},
		{"Friday to Monday", plain, ts(t, utc, "2026-03-06 15:00"), 1, ts(t, utc, "2026-03-09 15:00")},
		{"five is a week", plain, ts(t, utc, "2026-03-06 15:00"), 5, ts(t, utc, "2026-03-13 15:00")},
		{"seven from Monday", plain, ts(t, utc, "2026-03-02 10:00"), 7, ts(t, utc, "2026-03-11 10:00")},
		{"fifteen from Monday", plain, ts(t, utc, "2026-03-02 10:00"), 15, ts(t, utc, "2026-03-23 10:00")},
		{"late Friday", plain, ts(t, utc, "2026-03-06 23:59:59"), 1, ts(t, utc, "2026-03-09 23:59:59")},
		{"Saturday: end of Monday", plain, ts(t, utc, "2026-03-07 10:00"), 1, ts(t, utc, "2026-03-10 00:00")},
		{"Sunday + 5: end of Friday", plain, ts(t, utc, "2026-03-08 23:59"), 5, ts(t, utc, "2026-03-14 00:00")},
		{"Monday 00:00 is a whole day", plain, ts(t, utc, "2026-03-02 00:00"), 1, ts(t, utc, "2026-03-03 00:00")},
		{"Monday 00:00 + 5: end of Friday", plain, ts(t, utc, "2026-03-02 00:00"), 5, ts(t, utc, "2026-03-07 00:00")},
		{"Monday 00:00:01 + 5", plain, ts(t, utc, "2026-03-02 00:00:01"), 5, ts(t, utc, "2026-03-09 00:00:01")},
		{"zero", plain, ts(t, utc, "2026-03-07 10:00"), 0, ts(t, utc, "2026-03-07 10:00")},
		{"negative", plain, ts(t, utc, "2026-03-07 10:00"), -3, ts(t, utc, "2026-03-07 10:00")},
		{"over a Wednesday holiday", hol, ts(t, utc, "2026-03-03 10:00"), 1, ts(t, utc, "2026-03-05 10:00")},
		{"start on a holiday", hol, ts(t, utc, "2026-03-04 10:00"), 1, ts(t, utc, "2026-03-06 00:00")},
		{"holiday Monday after the weekend", hol, ts(t, utc, "2026-03-06 15:00"), 1, ts(t, utc, "2026-03-10 15:00")},
		{"weekend then holiday Monday", hol, ts(t, utc, "2026-03-07 15:00"), 1, ts(t, utc, "2026-03-11 00:00")},
		{"end of day before a holiday", hol, ts(t, utc, "2026-03-03 00:00"), 1, ts(t, utc, "2026-03-04 00:00")},
		{"Christmas", hol, ts(t, utc, "2026-12-23 16:00"), 3, ts(t, utc, "2026-12-31 16:00")},
		{"New Year", hol, ts(t, utc, "2026-12-31 16:00"), 1, ts(t, utc, "2027-01-01 16:00")}, // 2027-01-01 is not a listed holiday
		{"New York: Sunday evening is weekend", usCal, ts(t, utc, "2026-03-02 03:00"), 1, ts(t, ny, "2026-03-03 00:00")},
		{"New York: Memorial Day", usCal, ts(t, ny, "2026-05-22 17:00"), 1, ts(t, ny, "2026-05-26 17:00")},
		{"New York: July 3rd observed", usCal, ts(t, ny, "2026-07-02 09:00"), 2, ts(t, ny, "2026-07-07 09:00")},
		// DST: the wall-clock time is kept, so the elapsed time is 71 h or 73 h.
		{"New York: DST starts", usCal, ts(t, ny, "2026-03-06 10:00"), 1, ts(t, ny, "2026-03-09 10:00")},
		{"New York: DST ends", usCal, ts(t, ny, "2026-10-30 10:00"), 1, ts(t, ny, "2026-11-02 10:00")},
		{"New York: 01:30 EDT on the repeated hour's day", usCal, ts(t, ny, "2026-10-30 01:30"), 1, ts(t, ny, "2026-11-02 01:30")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cal.AddWorkingDays(tc.start, tc.n)
			if !got.Equal(tc.want) {
				t.Errorf("AddWorkingDays(%v, %d) = %v, want %v", tc.start, tc.n, got, tc.want)
			}
			if tc.n > 0 {
				if got.Location() != tc.cal.Location() {
					t.Errorf("result in %v, want %v", got.Location(), tc.cal.Location())
				}
				if n := tc.cal.WorkingDaysBetween(tc.start, got); n != tc.n {
					t.Errorf("WorkingDaysBetween(start, deadline) = %d, want %d", n, tc.n)
				}
				if n := tc.cal.WorkingDaysBetween(tc.start, got.Add(-time.Nanosecond)); n != tc.n-1 {
					t.Errorf("WorkingDaysBetween(start, deadline-1ns) = %d, want %d", n, tc.n-1)
				}
			}
		})
	}
	// Elapsed times across DST, to show the wall clock was kept.
	if d := ts(t, ny, "2026-03-09 10:00").Sub(ts(t, ny, "2026-03-06 10:00")); d != 71*time.Hour {
		t.Errorf("DST start span = %v, want 71h", d)
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	utc := time.UTC
	c := mustCalendar(t, utc, "2026-03-04")
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2026-03-02 10:00", "2026-03-02 18:00", 0},
		{"2026-03-02 10:00", "2026-03-03 09:59", 0},
		{"2026-03-02 10:00", "2026-03-03 10:00", 1},
		{"2026-03-02 10:00", "2026-03-05 10:00", 2}, // Wednesday is a holiday
		{"2026-03-07 10:00", "2026-03-09 23:59", 0}, // Saturday to Monday night
		{"2026-03-07 10:00", "2026-03-10 00:00", 1},
		{"2026-03-07 10:00", "2026-03-07 11:00", 0},
		{"2026-03-10 00:00", "2026-03-02 10:00", -4}, // b before a: minus the forward count
	} {
		a, b := ts(t, utc, tc.a), ts(t, utc, tc.b)
		if got := c.WorkingDaysBetween(a, b); got != tc.want {
			t.Errorf("WorkingDaysBetween(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestAddDays(t *testing.T) {
	ny := mustCalendar(t, loadLoc(t, "America/New_York"))
	for _, tc := range []struct {
		start string
		n     int
		want  time.Time
	}{
		{"2026-03-05 10:00", 3, ts(t, ny.Location(), "2026-03-08 10:00")},
		// 02:30 does not exist on 8 March in New York: it moves forward to 03:30 EDT.
		{"2026-03-05 02:30", 3, time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC)},
		// 01:30 happens twice on 1 November: the first (EDT) is used.
		{"2026-10-29 01:30", 3, time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)},
	} {
		got := ny.AddDays(ts(t, ny.Location(), tc.start), tc.n)
		if !got.Equal(tc.want) {
			t.Errorf("AddDays(%s, %d) = %v, want %v", tc.start, tc.n, got, tc.want)
		}
	}
}

// America/Santiago starts DST at midnight: 2026-09-06 begins at 01:00, and time.Date maps
// 00:00 onto the previous day. The calendar must not.
func TestMidnightDSTGap(t *testing.T) {
	c := mustCalendar(t, loadLoc(t, "America/Santiago"))
	d := toDay(Date{2026, time.September, 6})
	sod := c.startOfDay(d)
	if got := DateOf(sod.In(c.Location())); got != (Date{2026, time.September, 6}) {
		t.Fatalf("startOfDay = %v, on %v", sod, got)
	}
	if h, _, _ := sod.In(c.Location()).Clock(); h != 1 {
		t.Errorf("startOfDay = %v, want 01:00 -03", sod)
	}
	if prev := sod.Add(-time.Nanosecond); c.dayOf(prev) != d-1 {
		t.Errorf("the instant before startOfDay is on day %v, want the previous day", fromDay(c.dayOf(prev)))
	}
	// Saturday 00:30 + 1 calendar day: 00:30 does not exist on Sunday, so 01:30.
	got := c.AddDays(ts(t, c.Location(), "2026-09-05 00:30"), 1)
	if want := time.Date(2026, 9, 6, 4, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("AddDays over the midnight gap = %v, want %v", got, want)
	}
}

// addWorking's week jumps must agree with walking day by day.
func TestAddWorkingMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := toDay(Date{2026, time.January, 1})
	for round := 0; round < 200; round++ {
		var hs []Date
		for i := r.IntN(40); i > 0; i-- {
			hs = append(hs, fromDay(base+r.IntN(120)))
		}
		c, err := NewCalendar(nil, hs...)
		if err != nil {
			t.Fatal(err)
		}
		d := base + r.IntN(100)
		n := r.IntN(30)
		want := d
		for i := 0; i < n; i++ {
			want++
			for !c.isWorking(want) {
				want++
			}
		}
		if got := c.addWorking(d, n); got != want {
			t.Fatalf("addWorking(%v, %d) = %v, want %v (holidays %v)", fromDay(d), n, fromDay(got), fromDay(want), hs)
		}
		to := d + r.IntN(60)
		count := 0
		for x := d; x < to; x++ {
			if c.isWorking(x) {
				count++
			}
		}
		if got := c.countWorking(d, to); got != count {
			t.Fatalf("countWorking(%v, %v) = %d, want %d", fromDay(d), fromDay(to), got, count)
		}
	}
}
