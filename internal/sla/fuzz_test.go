package sla

import (
	"testing"
	"time"
)

// Zones with DST (New York, London, Santiago's midnight switch, Lord Howe's half hour), a
// half-hour offset (Kolkata) and none (UTC, Tokyo).
var fuzzZones = []string{"UTC", "America/New_York", "Europe/London", "Asia/Kolkata", "America/Santiago", "Australia/Lord_Howe", "Asia/Tokyo"}

// FuzzDeadlines checks the invariants of the calendar arithmetic for arbitrary starts, counts,
// zones and holidays: deadlines never precede the start; working-day deadlines end working
// time (the instant before them is on a working day); office deadlines end office time;
// both are exact inverses of the Between functions and strictly monotonic in n and d, and
// non-decreasing in the start.
func FuzzDeadlines(f *testing.F) {
	f.Add(int64(1772445600), uint8(7), uint16(60), uint8(0), uint8(1), uint64(0), uint32(3600))       // Monday 10:00 UTC
	f.Add(int64(1772832600), uint8(1), uint16(60), uint8(0), uint8(0), uint64(0), uint32(1))          // Friday 21:30 UTC
	f.Add(int64(1772870400), uint8(5), uint16(90), uint8(1), uint8(2), uint64(0b1011), uint32(86400)) // Saturday, New York
	f.Add(int64(1788667200), uint8(3), uint16(900), uint8(4), uint8(4), uint64(1<<20-1), uint32(7))   // Santiago, DST week
	f.Add(int64(1775350800), uint8(15), uint16(2000), uint8(5), uint8(3), uint64(1<<63), uint32(0))   // Lord Howe, April

	locs := make([]*time.Location, len(fuzzZones))
	for i, z := range fuzzZones {
		locs[i] = loadLoc(f, z)
	}
	kinds := Kinds()

	f.Fuzz(func(t *testing.T, unix int64, n8 uint8, mins uint16, zone, officeZone uint8, holidayMask uint64, delta uint32) {
		// Starts between 2000 and 2100, at nanosecond resolution.
		const lo, span = 946684800, 100 * 365 * 86400
		unix = lo + ((unix%span)+span)%span
		start := time.Unix(unix, int64(delta%1000)*1e6+int64(n8))
		n := int(n8 % 41)
		d := time.Duration(mins%(200*60)) * time.Minute
		loc := locs[int(zone)%len(locs)]

		// Holidays: the mask's bits over the 64 days from ten days before the start.
		first := toDay(DateOf(start.In(loc))) - 10
		var hs []Date
		for i := range 64 {
			if holidayMask&(1<<i) != 0 {
				hs = append(hs, fromDay(first+i))
			}
		}
		cal, err := NewCalendar(loc, hs...)
		if err != nil {
			t.Fatal(err)
		}
		officeCal, err := NewCalendar(locs[int(officeZone)%len(locs)], hs...)
		if err != nil {
			t.Fatal(err)
		}
		office, err := NewOfficeHours(officeCal, 7*time.Hour, 22*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		later := start.Add(time.Duration(delta) * time.Second)

		// Working days.
		wd := cal.AddWorkingDays(start, n)
		if n == 0 {
			if !wd.Equal(start) {
				t.Fatalf("AddWorkingDays(%v, 0) = %v", start, wd)
			}
		} else {
			if !wd.After(start) {
				t.Fatalf("AddWorkingDays(%v, %d) = %v, not after the start", start, n, wd)
			}
			if !cal.IsWorkingDay(wd.Add(-time.Nanosecond)) {
				t.Fatalf("AddWorkingDays(%v, %d) = %v: the instant before is not on a working day", start, n, wd)
			}
			if got := cal.WorkingDaysBetween(start, wd); got != n {
				t.Fatalf("WorkingDaysBetween(%v, %v) = %d, want %d", start, wd, got, n)
			}
			if got := cal.WorkingDaysBetween(start, wd.Add(-time.Nanosecond)); got != n-1 {
				t.Fatalf("WorkingDaysBetween(%v, %v - 1ns) = %d, want %d", start, wd, got, n-1)
			}
			if l := cal.AddWorkingDays(later, n); l.Before(wd) {
				t.Fatalf("AddWorkingDays not monotonic in the start: %v → %v, %v → %v", start, wd, later, l)
			}
		}
		if next := cal.AddWorkingDays(start, n+1); !next.After(wd) {
			t.Fatalf("AddWorkingDays(%v, %d) = %v, not after n=%d: %v", start, n+1, next, n, wd)
		}

		// Office hours.
		od := office.AddOfficeHours(start, d)
		if d == 0 {
			if !od.Equal(start) {
				t.Fatalf("AddOfficeHours(%v, 0) = %v", start, od)
			}
		} else {
			if !od.After(start) {
				t.Fatalf("AddOfficeHours(%v, %v) = %v, not after the start", start, d, od)
			}
			if !office.IsOpen(od.Add(-time.Nanosecond)) {
				t.Fatalf("AddOfficeHours(%v, %v) = %v: not inside office hours or at a window end", start, d, od)
			}
			if got := office.OfficeTimeBetween(start, od); got != d {
				t.Fatalf("OfficeTimeBetween(%v, %v) = %v, want %v", start, od, got, d)
			}
			if l := office.AddOfficeHours(later, d); l.Before(od) {
				t.Fatalf("AddOfficeHours not monotonic in the start: %v → %v, %v → %v", start, od, later, l)
			}
		}
		if next := office.AddOfficeHours(start, d+time.Minute); !next.After(od) {
			t.Fatalf("AddOfficeHours(%v, %v) = %v, not after %v: %v", start, d+time.Minute, next, d, od)
		}
		if open := office.NextOpen(start); open.Before(start) || !office.IsOpen(open) {
			t.Fatalf("NextOpen(%v) = %v", start, open)
		}

		// Every kind of the default table, in this calendar and office.
		p := DefaultPolicy()
		p.Calendar, p.OfficeHours = cal, office
		k := kinds[int(delta)%len(kinds)]
		dl, err := p.Deadlines(k, start)
		if err != nil {
			t.Fatal(err)
		}
		if !dl.Response.IsZero() && !dl.Response.After(start) {
			t.Fatalf("%s from %v: response %v not after the start", k, start, dl.Response)
		}
		if !dl.Resolution.IsZero() {
			if !dl.Resolution.After(start) || dl.Warn.Before(start) || !dl.Warn.Before(dl.Resolution) {
				t.Fatalf("%s from %v: warn %v, resolution %v out of order", k, start, dl.Warn, dl.Resolution)
			}
			if dl.State(start) != OnTrack || dl.State(dl.Warn) != Warning || dl.State(dl.Resolution) != Breached {
				t.Fatalf("%s from %v: states wrong", k, start)
			}
		}
	})
}
