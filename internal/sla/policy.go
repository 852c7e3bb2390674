package sla

import (
	"fmt"
	"time"
)

// Kind is a request type with its own SLA row. The values are stable strings, for
// configuration, logs and search attributes.
type Kind string

const (
	NewInstance Kind = "new-instance"
	Trial       Kind = "trial"
	Suspend     Kind = "suspend"
	Resume      Kind = "resume"
	Teardown    Kind = "teardown"
	// UpgradeMonthly and UpgradePatch count from the release, not from a request: pass the
	// release time as the start.
	UpgradeMonthly  Kind = "upgrade-monthly"
	UpgradePatch    Kind = "upgrade-patch"
	AllowlistUpdate Kind = "allowlist-update"
	CustomDomain    Kind = "custom-domain"
	// SmallOp is any other operation (restart, telemetry, licence key, password reset...).
	SmallOp Kind = "small-op"
)

// Kinds lists the known kinds in a fixed order (iterate this, not a Table, for determinism).
func Kinds() []Kind {
	return []Kind{NewInstance, Trial, Suspend, Resume, Teardown, UpgradeMonthly, UpgradePatch,
		AllowlistUpdate, CustomDomain, SmallOp}
}

// ParseKind returns the known Kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("sla: unknown request kind %q (known: %v)", s, Kinds())
}

// SLA is one row of the table. A zero Window means no SLA of that sort.
type SLA struct {
	Response   Window // met by the first status comment on the issue
	Resolution Window
}

// Table maps each kind to its SLA. Look kinds up; don't range over it in workflow code.
type Table map[Kind]SLA

// DefaultTable returns a fresh copy of the SLA table of the lifecycle issue (the seeds' SLA table
// as of 2022-11; the handbook has since moved to 1 working day for creations, which a Config
// override can restore). Callers may modify the copy.
func DefaultTable() Table {
	return Table{
		NewInstance: {Response: Elapsed(24 * time.Hour), Resolution: WorkingDays(7)},
		// Signup trials: 1 h within office hours, else 1 working day, for both clocks.
		Trial:    {Response: DuringOfficeHours(time.Hour, 1), Resolution: DuringOfficeHours(time.Hour, 1)},
		Suspend:  {Response: Elapsed(24 * time.Hour), Resolution: WorkingDays(15)},
		Teardown: {Response: Elapsed(24 * time.Hour), Resolution: WorkingDays(15)},
		// The seeds have no resume row. A resume rebuilds the instance from its backups, so it
		// gets the creation SLA.
		Resume:         {Response: Elapsed(24 * time.Hour), Resolution: WorkingDays(7)},
		UpgradeMonthly: {Resolution: WorkingDays(10)},
		UpgradePatch:   {Resolution: Weeks(1)},
		// "1 working day / within 3 days" and "3 working days / within 2 weeks".
		AllowlistUpdate: {Response: WorkingDays(1), Resolution: CalendarDays(3)},
		CustomDomain:    {Response: WorkingDays(3), Resolution: Weeks(2)},
		// The seeds' catch-all row (new feature request): "within 24 h" / "depends on request".
		SmallOp: {Response: Elapsed(24 * time.Hour)},
	}
}

// Policy is everything a deadline depends on. The seeds' SLAs changed over time, so the table
// and calendars are values, not constants.
type Policy struct {
	Calendar    Calendar    // working days, for working-day and calendar-day windows
	OfficeHours OfficeHours // for office-hours windows (trials)
	Table       Table
}

// DefaultPolicy is UTC working days with no holidays, the Cloud team's office hours
// (Mon–Fri 07:00–22:00 GMT) and DefaultTable. It needs no tz database.
func DefaultPolicy() Policy {
	return Policy{OfficeHours: DefaultOfficeHours(), Table: DefaultTable()}
}

// Validate checks the rows of the known kinds and that office hours exist if a row needs them.
func (p Policy) Validate() error {
	for _, k := range Kinds() {
		row, ok := p.Table[k]
		if !ok {
			continue
		}
		if err := p.validateRow(k, row); err != nil {
			return err
		}
	}
	return nil
}

func (p Policy) validateRow(k Kind, row SLA) error {
	for _, w := range []struct {
		name string
		w    Window
	}{{"response", row.Response}, {"resolution", row.Resolution}} {
		if err := w.w.Validate(); err != nil {
			return fmt.Errorf("sla: %s %s: %w", k, w.name, err)
		}
		if w.w.Unit == UnitOfficeHours && p.OfficeHours.IsZero() {
			return fmt.Errorf("sla: %s %s is %q but the policy has no office hours", k, w.name, w.w)
		}
	}
	return nil
}

// Deadline returns the end of window w started at start, in the calendar's zone; the zero time
// for a zero window.
func (p Policy) Deadline(w Window, start time.Time) (time.Time, error) {
	if err := w.Validate(); err != nil {
		return time.Time{}, err
	}
	loc := p.Calendar.Location()
	switch w.Unit {
	case UnitElapsed:
		return start.Add(w.Duration).In(loc), nil
	case UnitWorkingDays:
		return p.Calendar.AddWorkingDays(start, w.Days), nil
	case UnitCalendarDays:
		return p.Calendar.AddDays(start, w.Days), nil
	case UnitOfficeHours:
		if p.OfficeHours.IsZero() {
			return time.Time{}, fmt.Errorf("sla: window %q needs office hours and the policy has none", w)
		}
		if p.OfficeHours.IsOpen(start) {
			return p.OfficeHours.AddOfficeHours(start, w.Duration).In(loc), nil
		}
		return p.Calendar.AddWorkingDays(start, w.Days), nil
	}
	return time.Time{}, nil
}

// Deadlines are the SLA instants of one request. They serialize as RFC 3339, so a workflow
// computes them once and keeps them in its state.
type Deadlines struct {
	Kind Kind
	// Start is when the resolution clock starts (the agreement, when there is one); Aware is when
	// the response clock starts (the request became known: the issue was filed).
	Start time.Time
	Aware time.Time
	// Response is zero when the kind has no response SLA (upgrades).
	Response time.Time
	// Resolution is zero when the kind has no resolution SLA; Warn is then zero too.
	Resolution time.Time
	// Warn is Start + 80 % of (Resolution − Start) in elapsed time.
	Warn time.Time
}

// Deadlines computes the deadlines of a request of kind k that started at start (the issue's
// creation, or the release for upgrades; use workflow.Now(ctx) in workflows).
//
// Warn is 80 % of the window in elapsed (wall) time, not in working time: it is one durable
// timer of a known duration, it is strictly between Start and Resolution for every unit, and it
// gives people at least a fifth of the real time left. The price: for a working-day window it
// can land on a weekend, and the warning is then read on the next working day.
func (p Policy) Deadlines(k Kind, start time.Time) (Deadlines, error) {
	return p.DeadlinesOf(k, start, start)
}

// DeadlinesOf computes the deadlines with the two clocks of the SLA table: the response counts
// from becoming aware of the need (aware: the filing), the resolution from the agreement
// (agreed; zero: from aware). An instant answer to a request whose agreement is back-dated is then
// on time, and its resolution still counts from the agreement.
func (p Policy) DeadlinesOf(k Kind, aware, agreed time.Time) (Deadlines, error) {
	if agreed.IsZero() {
		agreed = aware
	}
	start := agreed
	row, ok := p.Table[k]
	if !ok {
		return Deadlines{}, fmt.Errorf("sla: no SLA for request kind %q", k)
	}
	if err := p.validateRow(k, row); err != nil {
		return Deadlines{}, err
	}
	loc := p.Calendar.Location()
	d := Deadlines{Kind: k, Start: start.In(loc), Aware: aware.In(loc)}
	var err error
	if d.Response, err = p.Deadline(row.Response, aware); err != nil {
		return Deadlines{}, err
	}
	if d.Resolution, err = p.Deadline(row.Resolution, start); err != nil {
		return Deadlines{}, err
	}
	if !d.Resolution.IsZero() {
		span := d.Resolution.Sub(start)
		d.Warn = start.Add(span - span/5).In(loc) // 80 %, in integer nanoseconds
	}
	return d, nil
}

// Status is where a request stands against its resolution deadline.
type Status uint8

const (
	OnTrack Status = iota
	Warning
	Breached
)

// String names the status ("on-track", "warning", "breached").
func (s Status) String() string {
	switch s {
	case OnTrack:
		return "on-track"
	case Warning:
		return "warning"
	case Breached:
		return "breached"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// State is the status at now against the resolution clock: Breached from Resolution on, Warning
// from Warn on, else OnTrack (always OnTrack without a resolution SLA). The bounds are
// inclusive because the timers fire at those instants and the workflow then reads workflow.Now.
// The response clock is separate: see ResponseMet.
func (d Deadlines) State(now time.Time) Status {
	switch {
	case d.Resolution.IsZero():
		return OnTrack
	case !now.Before(d.Resolution):
		return Breached
	case !now.Before(d.Warn):
		return Warning
	}
	return OnTrack
}

// ResponseMet reports whether a first response at respondedAt met the response SLA (always,
// without one). The first status comment on the issue is the response.
func (d Deadlines) ResponseMet(respondedAt time.Time) bool {
	return d.Response.IsZero() || respondedAt.Before(d.Response)
}
