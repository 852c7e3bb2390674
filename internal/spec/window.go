package spec

import "time"

// windowDays are the accepted spellings of MaintenanceWindow.Days, indexed by time.Weekday.
var windowDays = [7]string{
	time.Sunday: "sun", time.Monday: "mon", time.Tuesday: "tue", time.Wednesday: "wed",
	time.Thursday: "thu", time.Friday: "fri", time.Saturday: "sat",
}

// openDays returns the weekdays on which w opens as a bit set (bit i is time.Weekday(i)), or 0
// when w constrains nothing: no day is one of windowDays (unknown spellings are ignored), or
// StartHour or Hours is out of range.
func (w MaintenanceWindow) openDays() uint8 {
	if w.StartHour < 0 || w.StartHour > 23 || w.Hours < 1 || w.Hours > 24 {
		return 0
	}
	var set uint8
	for _, d := range w.Days {
		for i, s := range windowDays {
			if d == s {
				set |= 1 << i
			}
		}
	}
	return set
}

// startOn is the opening start time (StartHour:00 UTC) on the UTC calendar day k days after u's.
func (w MaintenanceWindow) startOn(u time.Time, k int) time.Time {
	y, m, d := u.Date()
	return time.Date(y, m, d+k, w.StartHour, 0, 0, 0, time.UTC)
}

// Contains reports whether t (in any location; the window is in UTC) falls inside an opening.
// Each listed day opens at StartHour:00 UTC for Hours hours, [start, start+Hours): the start
// instant is inside, the end instant is not. An opening may run past midnight into the next day
// (sat 22:00 for 4 h covers sun 00:00–02:00, and sun into mon), and 24-hour openings on
// consecutive days join into one continuous window.
//
// A window that constrains nothing (no day spelled mon..sun, or StartHour outside 0–23 or Hours
// outside 1–24, which ValidateMaintenanceWindow rejects) contains every instant, consistent with
// Next returning t. Unknown day spellings next to valid ones are ignored. Callers validate
// first; a nil *MaintenanceWindow means no window and is for the caller to handle.
//
// Contains is pure and deterministic (no clock, no map iteration), so workflow code may call it.
func (w MaintenanceWindow) Contains(t time.Time) bool {
	days := w.openDays()
	if days == 0 {
		return true
	}
	u := t.UTC()
	length := time.Duration(w.Hours) * time.Hour
	// Hours <= 24, so an opening covering u started today or yesterday (UTC).
	for k := -1; k <= 0; k++ {
		s := w.startOn(u, k)
		if days&(1<<s.Weekday()) != 0 && !u.Before(s) && u.Before(s.Add(length)) {
			return true
		}
	}
	return false
}

// Next returns t itself when Contains(t); otherwise the start of the earliest opening after t,
// in UTC. The result is never before t and less than 7 days after it. A window that
// constrains nothing (see Contains), including one with no valid days, returns t: there is no
// constraint to wait for.
//
// Next is pure and deterministic (no clock, no map iteration), so workflow code may call it.
func (w MaintenanceWindow) Next(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	days := w.openDays() // non-zero: Contains is true otherwise
	u := t.UTC()
	for k := 0; k <= 7; k++ {
		if s := w.startOn(u, k); s.After(u) && days&(1<<s.Weekday()) != 0 {
			return s
		}
	}
	return t // unreachable: some day of the next 7 (+ today) matches
}
