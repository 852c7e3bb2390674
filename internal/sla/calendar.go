package sla

import (
	"fmt"
	"slices"
	"time"
)

// Date is a calendar date with no time zone: holidays are dates, and the same date starts at
// different instants in different zones.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses a strict YYYY-MM-DD date, the format of holidays in configuration.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != len(time.DateOnly) {
		return Date{}, fmt.Errorf("sla: holiday %q is not a date in YYYY-MM-DD form", s)
	}
	return DateOf(t), nil
}

// DateOf returns t's date in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// valid reports whether d names a real date (time.Date would silently normalise 2026-02-30).
func (d Date) valid() bool {
	return d.Month >= time.January && d.Month <= time.December && d.Day >= 1 &&
		fromDay(toDay(d)) == d
}

// day numbers: days since 1970-01-01 in the proleptic Gregorian calendar. Working on integers
// keeps the date arithmetic exact and independent of DST.
func toDay(d Date) int {
	return int(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

func fromDay(n int) Date { return DateOf(time.Unix(int64(n)*86400, 0).UTC()) }

// weekdayMon0 is the weekday with Monday = 0 ... Sunday = 6 (1970-01-01 was a Thursday).
func weekdayMon0(n int) int { return ((n+3)%7 + 7) % 7 }

// Calendar says which days are working days: Monday to Friday in its time zone, minus its
// holidays. The zero Calendar is UTC with no holidays. Build others with NewCalendar.
type Calendar struct {
	loc      *time.Location
	holidays []int // sorted, unique day numbers
}

// NewCalendar returns a calendar in loc (nil means UTC) with the given holidays, which are
// dates in loc. Duplicates are fine; invalid dates are an error.
func NewCalendar(loc *time.Location, holidays ...Date) (Calendar, error) {
	c := Calendar{loc: loc}
	for _, h := range holidays {
		if !h.valid() {
			return Calendar{}, fmt.Errorf("sla: holiday %04d-%02d-%02d is not a valid date", h.Year, int(h.Month), h.Day)
		}
		c.holidays = append(c.holidays, toDay(h))
	}
	slices.Sort(c.holidays)
	c.holidays = slices.Compact(c.holidays)
	return c, nil
}

// Location returns the calendar's time zone.
func (c Calendar) Location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// Holidays returns the calendar's holidays in date order.
func (c Calendar) Holidays() []Date {
	out := make([]Date, len(c.holidays))
	for i, h := range c.holidays {
		out[i] = fromDay(h)
	}
	return out
}

// IsHoliday reports whether t falls on a holiday in the calendar's zone.
func (c Calendar) IsHoliday(t time.Time) bool { return c.isHoliday(c.dayOf(t)) }

// IsWorkingDay reports whether t falls on a working day (Mon–Fri, not a holiday) in the
// calendar's zone: Monday 02:00 UTC is still Sunday in New York.
func (c Calendar) IsWorkingDay(t time.Time) bool { return c.isWorking(c.dayOf(t)) }

// AddWorkingDays returns the earliest instant at which n working days of SLA time have
// elapsed since t (see the package doc): a start during a working day keeps its clock time n
// working days later; a start on a weekend, on a holiday or at 00:00 of a working day is due at
// the end of the n-th working day from the next start of a working day. n <= 0 returns t.
// The result is in the calendar's zone.
func (c Calendar) AddWorkingDays(t time.Time, n int) time.Time {
	if n <= 0 {
		return t
	}
	t = t.In(c.Location())
	d := c.dayOf(t)
	if c.isWorking(d) && !t.Equal(c.startOfDay(d)) {
		return c.at(c.addWorking(d, n), clockOf(t))
	}
	if !c.isWorking(d) {
		d = c.addWorking(d, 1)
	}
	// The first working day is d itself; the deadline is the end of the n-th.
	return c.startOfDay(c.addWorking(d, n-1) + 1)
}

// WorkingDaysBetween returns how many whole working days of SLA time lie between a and b: the
// n with AddWorkingDays(a, n) <= b < AddWorkingDays(a, n+1). It is negative when b is before
// a, so WorkingDaysBetween(deadline, now) is how many working days a breach is overdue.
func (c Calendar) WorkingDaysBetween(a, b time.Time) int {
	if b.Before(a) {
		return -c.WorkingDaysBetween(b, a)
	}
	a, b = a.In(c.Location()), b.In(c.Location())
	da, db := c.dayOf(a), c.dayOf(b)
	if c.isWorking(da) && !a.Equal(c.startOfDay(da)) {
		// Deadlines are the working days after da at a's clock time.
		n := c.countWorking(da+1, db)
		if db > da && c.isWorking(db) && !b.Before(c.at(db, clockOf(a))) {
			n++
		}
		return n
	}
	// Deadlines are the ends of the working days from da on; the end of day x is <= b iff x < db.
	return c.countWorking(da, db)
}

// AddDays returns t plus n calendar days at the same wall-clock time in the calendar's zone:
// "within 3 days" of Thursday 10:00 is Sunday 10:00 even when DST starts in between.
func (c Calendar) AddDays(t time.Time, n int) time.Time {
	t = t.In(c.Location())
	return c.at(c.dayOf(t)+n, clockOf(t))
}

func (c Calendar) dayOf(t time.Time) int { return toDay(DateOf(t.In(c.Location()))) }

func (c Calendar) isHoliday(d int) bool {
	_, found := slices.BinarySearch(c.holidays, d)
	return found
}

func (c Calendar) isWorking(d int) bool { return weekdayMon0(d) < 5 && !c.isHoliday(d) }

// addWorking returns the n-th working day strictly after day d (d itself for n <= 0). It jumps
// over whole weeks, then makes up for the holidays it jumped over, so it stays cheap for any n.
func (c Calendar) addWorking(d, n int) int {
	for n > 0 {
		e := addWeekdays(d, n)
		n = c.weekdayHolidays(d+1, e+1)
		d = e
	}
	return d
}

// addWeekdays returns the n-th Monday-to-Friday day strictly after d (n >= 1).
func addWeekdays(d, n int) int {
	w := weekdayMon0(d)
	if w > 4 { // a weekend day: the same weekdays follow it as follow the Friday before
		d -= w - 4
		w = 4
	}
	d += 7 * (n / 5)
	if r := n % 5; w+r > 4 {
		d += r + 2
	} else {
		d += r
	}
	return d
}

// weekdayHolidays counts the holidays in days [from, to) that fall Monday to Friday.
func (c Calendar) weekdayHolidays(from, to int) int {
	i, _ := slices.BinarySearch(c.holidays, from)
	n := 0
	for ; i < len(c.holidays) && c.holidays[i] < to; i++ {
		if weekdayMon0(c.holidays[i]) < 5 {
			n++
		}
	}
	return n
}

// countWorking counts the working days in days [from, to).
func (c Calendar) countWorking(from, to int) int {
	if to <= from {
		return 0
	}
	span := to - from
	n := 5 * (span / 7)
	for d := from + 7*(span/7); d < to; d++ {
		if weekdayMon0(d) < 5 {
			n++
		}
	}
	return n - c.weekdayHolidays(from, to)
}

// startOfDay is the first instant of day d in the calendar's zone. That is 00:00 except where
// DST starts at midnight (America/Santiago): there 00:00 does not exist and the day starts at
// 01:00.
func (c Calendar) startOfDay(d int) time.Time { return c.at(d, 0) }

// at returns wall-clock time clock (0 to 24h) on day d. Go's time.Date maps a time in a DST
// gap backwards, sometimes onto the previous day; at moves it forwards by the gap instead, as
// a wall clock does.
func (c Calendar) at(d int, clock time.Duration) time.Time {
	if clock >= 24*time.Hour {
		return c.at(d+1, clock-24*time.Hour)
	}
	loc := c.Location()
	date := fromDay(d)
	h, m, s, ns := int(clock/time.Hour), int(clock/time.Minute%60), int(clock/time.Second%60), int(clock%time.Second)
	t := time.Date(date.Year, date.Month, date.Day, h, m, s, ns, loc)
	if th, tm, ts := t.Clock(); DateOf(t) == date && th == h && tm == m && ts == s {
		return t
	}
	// In a gap. Today time.Date reads the wall time with the offset after the transition, which
	// lands before the gap; reading it with the offset of that earlier instant (the one before
	// the transition) lands after it. Keep the later of the two, whichever way Go resolves gaps.
	_, off := t.Zone()
	wall := time.Date(date.Year, date.Month, date.Day, h, m, s, ns, time.UTC)
	if r := wall.Add(-time.Duration(off) * time.Second).In(loc); r.After(t) {
		return r
	}
	return t
}

// clockOf is t's wall-clock time of day in its location.
func clockOf(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second +
		time.Duration(t.Nanosecond())
}
