package sla

import (
	"strings"
	"testing"
	"time"
)

func TestNewOfficeHoursErrors(t *testing.T) {
	for _, tc := range []struct {
		open, close time.Duration
		want        string
	}{
		{22 * time.Hour, 7 * time.Hour, "end 07:00 must be after start 22:00"},
		{7 * time.Hour, 7 * time.Hour, "end 07:00 must be after start 07:00"},
		{-time.Hour, 7 * time.Hour, "start -01:00 must be between"},
		{7 * time.Hour, 25 * time.Hour, "end 25:00 must be at most 24:00"},
		{24 * time.Hour, 24 * time.Hour, "start 24:00 must be between"},
	} {
		_, err := NewOfficeHours(Calendar{}, tc.open, tc.close)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewOfficeHours(%v, %v) error = %v, want %q", tc.open, tc.close, err, tc.want)
		}
	}
	if _, err := NewOfficeHours(Calendar{}, 0, 24*time.Hour); err != nil {
		t.Errorf("00:00–24:00 rejected: %v", err)
	}
}

func TestOfficeHoursIsOpen(t *testing.T) {
	o := DefaultOfficeHours()
	if s := o.String(); s != "Mon–Fri 07:00–22:00 GMT" {
		t.Errorf("String() = %q", s)
	}
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-03-02 06:59:59", false},
		{"2026-03-02 07:00", true}, // 07:00 is open
		{"2026-03-02 12:00", true},
		{"2026-03-02 21:59:59", true},
		{"2026-03-02 22:00", false}, // 22:00 is closed
		{"2026-03-07 12:00", false}, // Saturday
		{"2026-03-08 12:00", false}, // Sunday
	} {
		if got := o.IsOpen(ts(t, time.UTC, tc.at)); got != tc.want {
			t.Errorf("IsOpen(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
	if (OfficeHours{}).IsOpen(ts(t, time.UTC, "2026-03-02 12:00")) {
		t.Error("zero OfficeHours is open")
	}
}

func TestAddOfficeHours(t *testing.T) {
	gmt := DefaultOfficeHours()
	london := loadLoc(t, "Europe/London")
	londonOffice, err := NewOfficeHours(mustCalendar(t, london, "2026-05-25"), 7*time.Hour, 22*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kolkata := loadLoc(t, "Asia/Kolkata")
	indiaOffice, err := NewOfficeHours(mustCalendar(t, kolkata), 9*time.Hour+30*time.Minute, 18*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	gmtHol, err := NewOfficeHours(mustCalendar(t, GMT, "2026-03-09"), 7*time.Hour, 22*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	utc := time.UTC
	for _, tc := range []struct {
		name  string
		o     OfficeHours
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"inside", gmt, ts(t, utc, "2026-03-02 10:00"), time.Hour, ts(t, utc, "2026-03-02 11:00")},
		{"07:00 exactly", gmt, ts(t, utc, "2026-03-02 07:00"), time.Hour, ts(t, utc, "2026-03-02 08:00")},
		{"before opening", gmt, ts(t, utc, "2026-03-02 03:00"), time.Hour, ts(t, utc, "2026-03-02 08:00")},
		{"ends at 22:00", gmt, ts(t, utc, "2026-03-02 21:00"), time.Hour, ts(t, utc, "2026-03-02 22:00")},
		{"22:00 exactly", gmt, ts(t, utc, "2026-03-02 22:00"), time.Hour, ts(t, utc, "2026-03-03 08:00")},
		{"overnight carry", gmt, ts(t, utc, "2026-03-02 21:30"), time.Hour, ts(t, utc, "2026-03-03 07:30")},
		{"Friday evening to Monday", gmt, ts(t, utc, "2026-03-06 21:30"), time.Hour, ts(t, utc, "2026-03-09 07:30")},
		{"Saturday", gmt, ts(t, utc, "2026-03-07 12:00"), time.Hour, ts(t, utc, "2026-03-09 08:00")},
		{"Sunday night", gmt, ts(t, utc, "2026-03-08 23:59"), time.Hour, ts(t, utc, "2026-03-09 08:00")},
		{"a day and a third", gmt, ts(t, utc, "2026-03-02 07:00"), 20 * time.Hour, ts(t, utc, "2026-03-03 12:00")},
		{"a full week of office time", gmt, ts(t, utc, "2026-03-02 07:00"), 75 * time.Hour, ts(t, utc, "2026-03-06 22:00")},
		{"zero", gmt, ts(t, utc, "2026-03-07 12:00"), 0, ts(t, utc, "2026-03-07 12:00")},
		{"holiday Monday", gmtHol, ts(t, utc, "2026-03-06 21:30"), time.Hour, ts(t, utc, "2026-03-10 07:30")},
		// The GMT office does not move with British Summer Time; a London office does.
		{"GMT in summer", gmt, ts(t, london, "2026-07-06 07:30"), time.Hour, ts(t, utc, "2026-07-06 08:00")},
		{"London in summer", londonOffice, ts(t, utc, "2026-07-06 05:30"), time.Hour, ts(t, london, "2026-07-06 08:00")},
		{"London: BST starts over the weekend", londonOffice, ts(t, london, "2026-03-27 21:30"), time.Hour, ts(t, london, "2026-03-30 07:30")},
		{"London: bank holiday", londonOffice, ts(t, london, "2026-05-22 21:30"), time.Hour, ts(t, london, "2026-05-26 07:30")},
		{"Kolkata: half-hour zone", indiaOffice, ts(t, utc, "2026-03-02 12:00"), time.Hour, ts(t, kolkata, "2026-03-03 10:00")}, // 17:30 IST: 30 min today, 30 min tomorrow
		{"Kolkata: inside", indiaOffice, ts(t, kolkata, "2026-03-02 09:30"), 8*time.Hour + 30*time.Minute, ts(t, kolkata, "2026-03-02 18:00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.o.AddOfficeHours(tc.start, tc.d)
			if !got.Equal(tc.want) {
				t.Errorf("AddOfficeHours(%v, %v) = %v, want %v", tc.start, tc.d, got, tc.want)
			}
			if tc.d > 0 {
				if got := tc.o.OfficeTimeBetween(tc.start, got); got != tc.d {
					t.Errorf("OfficeTimeBetween(start, deadline) = %v, want %v", got, tc.d)
				}
			}
		})
	}
	// London office at 07:30 BST on 30 March is 06:30 UTC.
	if got := londonOffice.AddOfficeHours(ts(t, london, "2026-03-27 21:30"), time.Hour); !got.Equal(ts(t, utc, "2026-03-30 06:30")) {
		t.Errorf("London after BST start = %v, want 06:30 UTC", got.UTC())
	}
}

func TestNextOpen(t *testing.T) {
	o := DefaultOfficeHours()
	for _, tc := range []struct{ at, want string }{
		{"2026-03-02 06:00", "2026-03-02 07:00"},
		{"2026-03-02 07:00", "2026-03-02 07:00"},
		{"2026-03-02 12:34", "2026-03-02 12:34"},
		{"2026-03-02 22:00", "2026-03-03 07:00"},
		{"2026-03-06 22:00", "2026-03-09 07:00"},
		{"2026-03-07 09:00", "2026-03-09 07:00"},
	} {
		if got := o.NextOpen(ts(t, time.UTC, tc.at)); !got.Equal(ts(t, time.UTC, tc.want)) {
			t.Errorf("NextOpen(%s) = %v, want %s", tc.at, got, tc.want)
		}
	}
}

func TestParseClock(t *testing.T) {
	for s, want := range map[string]time.Duration{"07:00": 7 * time.Hour, "22:00": 22 * time.Hour, "00:00": 0, "24:00": 24 * time.Hour, "09:30": 9*time.Hour + 30*time.Minute} {
		if got, err := ParseClock(s); err != nil || got != want {
			t.Errorf("ParseClock(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "7:00", "7am", "25:00", "07:60", "07:00:00", "24:01"} {
		if _, err := ParseClock(s); err == nil {
			t.Errorf("ParseClock(%q) succeeded", s)
		}
	}
}
