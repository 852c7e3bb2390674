package sla

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit is how a Window counts SLA time.
type Unit uint8

const (
	// UnitNone: no SLA (upgrades have no response SLA). The zero Window.
	UnitNone Unit = iota
	// UnitElapsed: an exact duration ("within 24 hours"), weekends included.
	UnitElapsed
	// UnitWorkingDays: Days working days of the policy's calendar.
	UnitWorkingDays
	// UnitCalendarDays: Days calendar days at the same wall-clock time ("within 3 days",
	// "within 2 weeks").
	UnitCalendarDays
	// UnitOfficeHours: Duration of office time if the request arrives during office hours,
	// else Days working days (trials: "1 hour within office hours, or 1 working day if
	// requested outside of working hours").
	UnitOfficeHours
)

// String names the unit.
func (u Unit) String() string {
	switch u {
	case UnitNone:
		return "none"
	case UnitElapsed:
		return "elapsed"
	case UnitWorkingDays:
		return "working days"
	case UnitCalendarDays:
		return "calendar days"
	case UnitOfficeHours:
		return "office hours"
	}
	return fmt.Sprintf("Unit(%d)", uint8(u))
}

// Window is one SLA window. Build it with Elapsed, WorkingDays, CalendarDays, Weeks or
// DuringOfficeHours. It marshals as text ("7 working days"), so tables and workflow inputs
// read well in JSON and in the Web UI.
type Window struct {
	Unit     Unit
	Days     int           // UnitWorkingDays, UnitCalendarDays; the fallback for UnitOfficeHours
	Duration time.Duration // UnitElapsed; office time for UnitOfficeHours
}

// Elapsed is a window of exactly d, nights and weekends included.
func Elapsed(d time.Duration) Window { return Window{Unit: UnitElapsed, Duration: d} }

// WorkingDays is a window of n working days.
func WorkingDays(n int) Window { return Window{Unit: UnitWorkingDays, Days: n} }

// CalendarDays is a window of n calendar days at the same wall-clock time.
func CalendarDays(n int) Window { return Window{Unit: UnitCalendarDays, Days: n} }

// Weeks is n calendar weeks ("within 1 week").
func Weeks(n int) Window { return CalendarDays(7 * n) }

// DuringOfficeHours is d of office time for a request made during office hours, else
// elseWorkingDays working days.
func DuringOfficeHours(d time.Duration, elseWorkingDays int) Window {
	return Window{Unit: UnitOfficeHours, Duration: d, Days: elseWorkingDays}
}

// IsZero reports whether w is "no SLA".
func (w Window) IsZero() bool { return w == Window{} }

// Validate reports a window that cannot produce a deadline.
func (w Window) Validate() error {
	switch w.Unit {
	case UnitNone:
		if w.Days != 0 || w.Duration != 0 {
			return fmt.Errorf("sla: window with no unit has days or duration set")
		}
	case UnitElapsed:
		if w.Duration <= 0 || w.Days != 0 {
			return fmt.Errorf("sla: elapsed window needs a positive duration and no days, got %s and %d days", w.Duration, w.Days)
		}
	case UnitWorkingDays, UnitCalendarDays:
		if w.Days <= 0 || w.Duration != 0 {
			return fmt.Errorf("sla: %s window needs a positive number of days and no duration, got %d and %s", w.Unit, w.Days, w.Duration)
		}
	case UnitOfficeHours:
		if w.Duration <= 0 || w.Days <= 0 {
			return fmt.Errorf("sla: office hours window needs a positive duration and fallback working days, got %s and %d", w.Duration, w.Days)
		}
	default:
		return fmt.Errorf("sla: unknown window unit %d", uint8(w.Unit))
	}
	return nil
}

// String renders w in the syntax ParseWindow reads: "none", "24h", "7 working days",
// "3 days", "1h office hours else 1 working day".
func (w Window) String() string {
	switch w.Unit {
	case UnitNone:
		return "none"
	case UnitElapsed:
		return formatDuration(w.Duration)
	case UnitWorkingDays:
		return plural(w.Days, "working day")
	case UnitCalendarDays:
		return plural(w.Days, "day")
	case UnitOfficeHours:
		return formatDuration(w.Duration) + " office hours else " + plural(w.Days, "working day")
	}
	return fmt.Sprintf("Window{%d, %d, %s}", uint8(w.Unit), w.Days, w.Duration)
}

// ParseWindow reads a window for configuration (the output of String, plus "N weeks" and
// "N calendar days"). It validates the result.
func ParseWindow(s string) (Window, error) {
	in := strings.Join(strings.Fields(strings.ToLower(s)), " ")
	var w Window
	var err error
	if in == "none" {
		return Window{}, nil
	}
	if head, tail, ok := strings.Cut(in, " office hours else "); ok {
		var d time.Duration
		var n int
		if d, err = time.ParseDuration(head); err == nil {
			n, err = parseCount(tail, "working day")
		}
		w = DuringOfficeHours(d, n)
	} else if n, e := parseCount(in, "working day"); e == nil {
		w = WorkingDays(n)
	} else if n, e := parseCount(in, "calendar day"); e == nil {
		w = CalendarDays(n)
	} else if n, e := parseCount(in, "day"); e == nil {
		w = CalendarDays(n)
	} else if n, e := parseCount(in, "week"); e == nil {
		w = Weeks(n)
	} else {
		var d time.Duration
		d, err = time.ParseDuration(in)
		w = Elapsed(d)
	}
	if err == nil {
		err = w.Validate()
	}
	if err != nil {
		return Window{}, fmt.Errorf("sla: window %q: want none, a duration (24h), N working days, N days, N weeks or \"1h office hours else 1 working day\"", s)
	}
	return w, nil
}

// MarshalText renders w with String.
func (w Window) MarshalText() ([]byte, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return []byte(w.String()), nil
}

// UnmarshalText parses w with ParseWindow.
func (w *Window) UnmarshalText(b []byte) error {
	v, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// parseCount reads "N unit" or "N units".
func parseCount(s, unit string) (int, error) {
	num, rest, ok := strings.Cut(s, " ")
	if !ok || (rest != unit && rest != unit+"s") {
		return 0, fmt.Errorf("not %s", unit)
	}
	return strconv.Atoi(num)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// formatDuration drops Go's trailing zero units: 24h, not 24h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
