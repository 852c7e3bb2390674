package sla

import (
	"fmt"
	"time"
)

// GMT is the zone of the Cloud team's office hours. A fixed zone, so it needs no tz database and
// never shifts with British Summer Time (the seeds say GMT, not UK time).
var GMT = time.FixedZone("GMT", 0)

// OfficeHours is a daily window of wall-clock time, [Open, Close), on the working days of its
// own calendar. It is separate from the request calendar because the people on the clock (the
// Cloud team, for trials) keep their own zone and hours. The zero value has no office hours.
type OfficeHours struct {
	cal         Calendar
	open, close time.Duration // wall-clock times of day, 0 <= open < close <= 24h
}

// NewOfficeHours returns the window [open, close) of wall-clock time (07:00 is 7*time.Hour) on
// the working days of cal. It rejects a window that is empty or outside 00:00–24:00.
func NewOfficeHours(cal Calendar, open, close time.Duration) (OfficeHours, error) {
	switch {
	case open < 0 || open >= 24*time.Hour:
		return OfficeHours{}, fmt.Errorf("sla: office hours start %s must be between 00:00 and 24:00", formatClock(open))
	case close > 24*time.Hour:
		return OfficeHours{}, fmt.Errorf("sla: office hours end %s must be at most 24:00", formatClock(close))
	case close <= open:
		return OfficeHours{}, fmt.Errorf("sla: office hours end %s must be after start %s", formatClock(close), formatClock(open))
	}
	return OfficeHours{cal: cal, open: open, close: close}, nil
}

// DefaultOfficeHours is the Cloud team's office hours from the seeds' SLA table: Monday to
// Friday, 07:00–22:00 GMT, no holidays.
func DefaultOfficeHours() OfficeHours {
	return OfficeHours{cal: Calendar{loc: GMT}, open: 7 * time.Hour, close: 22 * time.Hour}
}

// IsZero reports whether o is the zero value (no office hours configured).
func (o OfficeHours) IsZero() bool { return o.close == 0 }

// Calendar returns the calendar (zone, holidays) the window applies to.
func (o OfficeHours) Calendar() Calendar { return o.cal }

// Open and Close return the window's wall-clock bounds.
func (o OfficeHours) Open() time.Duration  { return o.open }
func (o OfficeHours) Close() time.Duration { return o.close }

// String describes the window, e.g. "Mon–Fri 07:00–22:00 GMT".
func (o OfficeHours) String() string {
	if o.IsZero() {
		return "no office hours"
	}
	return fmt.Sprintf("Mon–Fri %s–%s %s", formatClock(o.open), formatClock(o.close), o.cal.Location())
}

// IsOpen reports whether t is inside office hours. The window is half-open: 07:00 is open, 22:00
// is closed, so a request filed at 22:00 sharp is an out-of-hours request.
func (o OfficeHours) IsOpen(t time.Time) bool {
	if o.IsZero() {
		return false
	}
	d := o.cal.dayOf(t)
	if !o.cal.isWorking(d) {
		return false
	}
	ws, we := o.window(d)
	return !t.Before(ws) && t.Before(we)
}

// NextOpen returns t if the office is open at t, else the next opening time.
func (o OfficeHours) NextOpen(t time.Time) time.Time {
	if o.IsZero() {
		return t
	}
	t = t.In(o.cal.Location())
	for d := o.cal.dayOf(t); ; d = o.cal.addWorking(d, 1) {
		if !o.cal.isWorking(d) {
			continue
		}
		ws, we := o.window(d)
		if t.Before(ws) {
			return ws
		}
		if t.Before(we) {
			return t
		}
	}
}

// AddOfficeHours returns the earliest instant at which d of office time has elapsed since t:
// only time inside the window counts. From Friday 21:30, 1 h is Monday 07:30; from Saturday it
// is Monday 08:00; from 21:00 it is 22:00, the end of the window. d <= 0 (or zero office hours)
// returns t. The result is in the office's zone.
func (o OfficeHours) AddOfficeHours(t time.Time, d time.Duration) time.Time {
	if d <= 0 || o.IsZero() {
		return t
	}
	t = t.In(o.cal.Location())
	day := o.cal.dayOf(t)
	for {
		if o.cal.isWorking(day) {
			ws, we := o.window(day)
			if t.Before(ws) {
				t = ws
			}
			if left := we.Sub(t); left > 0 {
				if d <= left {
					return t.Add(d)
				}
				d -= left
			}
		}
		day = o.cal.addWorking(day, 1)
		t = o.cal.startOfDay(day)
	}
}

// OfficeTimeBetween returns how much office time lies in [a, b) (zero if b is not after a). It is
// the inverse of AddOfficeHours: OfficeTimeBetween(t, AddOfficeHours(t, d)) == d.
func (o OfficeHours) OfficeTimeBetween(a, b time.Time) time.Duration {
	if o.IsZero() || !b.After(a) {
		return 0
	}
	var total time.Duration
	for d, last := o.cal.dayOf(a), o.cal.dayOf(b); d <= last; d = o.cal.addWorking(d, 1) {
		if !o.cal.isWorking(d) {
			continue
		}
		ws, we := o.window(d)
		if a.After(ws) {
			ws = a
		}
		if b.Before(we) {
			we = b
		}
		if we.After(ws) {
			total += we.Sub(ws)
		}
	}
	return total
}

// window is the office window on day d as instants.
func (o OfficeHours) window(d int) (time.Time, time.Time) {
	return o.cal.at(d, o.open), o.cal.at(d, o.close)
}

// ParseClock parses a wall-clock time of day "HH:MM" (00:00 to 24:00) for office hours.
func ParseClock(s string) (time.Duration, error) {
	if s == "24:00" {
		return 24 * time.Hour, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("sla: office hours time %q is not HH:MM (00:00 to 24:00)", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func formatClock(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	s := fmt.Sprintf("%s%02d:%02d", sign, int(d/time.Hour), int(d/time.Minute%60))
	if r := d % time.Minute; r != 0 {
		s += fmt.Sprintf(":%02d", int(r/time.Second))
		if r%time.Second != 0 {
			s = fmt.Sprintf("%s.%09d", s, int(r%time.Second))
		}
	}
	return s
}
