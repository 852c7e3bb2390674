package sla

import (
	"fmt"
	"strings"
	"time"
)

// Config is the serializable form of a Policy, for configuration files and workflow inputs (a
// Policy holds *time.Location values, which do not serialize). The zero Config is
// DefaultPolicy.
type Config struct {
	// TimeZone of the working-day calendar, an IANA name; "" means UTC.
	TimeZone string `json:"timeZone,omitempty"`
	// Holidays are YYYY-MM-DD dates in TimeZone.
	Holidays    []string          `json:"holidays,omitempty"`
	OfficeHours OfficeHoursConfig `json:"officeHours,omitzero"`
	// Overrides replace rows of DefaultTable, in order (later entries win). A slice, not a map,
	// so that applying it never depends on map order.
	Overrides []Override `json:"overrides,omitempty"`
}

// OfficeHoursConfig configures the office-hours window. Empty fields take the defaults:
// GMT, 07:00, 22:00, no holidays.
type OfficeHoursConfig struct {
	TimeZone string   `json:"timeZone,omitempty"`
	Open     string   `json:"open,omitempty"`  // HH:MM
	Close    string   `json:"close,omitempty"` // HH:MM, 24:00 allowed
	Holidays []string `json:"holidays,omitempty"`
}

// Override replaces one kind's SLA. Windows use ParseWindow's syntax; "" keeps the default
// and "none" removes that SLA.
type Override struct {
	Kind       Kind   `json:"kind"`
	Response   string `json:"response,omitempty"`
	Resolution string `json:"resolution,omitempty"`
}

// Policy builds and validates the policy. Errors name the offending field. It loads time zones,
// which reads the tz database: call it once (at worker start, or once per workflow run) and keep
// the Policy.
func (c Config) Policy() (Policy, error) {
	cal, err := newCalendar("timeZone", c.TimeZone, "holidays", c.Holidays)
	if err != nil {
		return Policy{}, err
	}
	oc := c.OfficeHours
	zone := oc.TimeZone
	if zone == "" {
		zone = "GMT"
	}
	officeCal, err := newCalendar("officeHours.timeZone", zone, "officeHours.holidays", oc.Holidays)
	if err != nil {
		return Policy{}, err
	}
	open, close := 7*time.Hour, 22*time.Hour
	if oc.Open != "" {
		if open, err = ParseClock(oc.Open); err != nil {
			return Policy{}, configError("officeHours.open", err)
		}
	}
	if oc.Close != "" {
		if close, err = ParseClock(oc.Close); err != nil {
			return Policy{}, configError("officeHours.close", err)
		}
	}
	office, err := NewOfficeHours(officeCal, open, close)
	if err != nil {
		return Policy{}, configError("officeHours", err)
	}
	p := Policy{Calendar: cal, OfficeHours: office, Table: DefaultTable()}
	for i, o := range c.Overrides {
		k, err := ParseKind(string(o.Kind))
		if err != nil {
			return Policy{}, configError(fmt.Sprintf("overrides[%d].kind", i), err)
		}
		row := p.Table[k]
		if o.Response != "" {
			if row.Response, err = ParseWindow(o.Response); err != nil {
				return Policy{}, configError(fmt.Sprintf("overrides[%d].response", i), err)
			}
		}
		if o.Resolution != "" {
			if row.Resolution, err = ParseWindow(o.Resolution); err != nil {
				return Policy{}, configError(fmt.Sprintf("overrides[%d].resolution", i), err)
			}
		}
		p.Table[k] = row
	}
	if err := p.Validate(); err != nil {
		return Policy{}, configError("table", err)
	}
	return p, nil
}

func newCalendar(zoneField, zone, holidaysField string, holidays []string) (Calendar, error) {
	loc, err := LoadLocation(zone)
	if err != nil {
		return Calendar{}, configError(zoneField, err)
	}
	dates := make([]Date, len(holidays))
	for i, h := range holidays {
		if dates[i], err = ParseDate(h); err != nil {
			return Calendar{}, configError(fmt.Sprintf("%s[%d]", holidaysField, i), err)
		}
	}
	return NewCalendar(loc, dates...)
}

// LoadLocation resolves an IANA zone name. "" and "UTC" are UTC and "GMT" is the fixed GMT zone,
// none of which need the tz database. "Local" is refused: it differs between workers, and a
// deadline must not depend on which worker computed it.
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "GMT":
		return GMT, nil
	case "Local":
		return nil, fmt.Errorf("sla: time zone %q depends on the worker; name a zone such as Europe/London", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("sla: unknown time zone %q (want an IANA name such as America/New_York): %w", name, err)
	}
	return loc, nil
}

// ConfigError names the configuration field that is wrong.
type ConfigError struct {
	Field string // e.g. "officeHours.close", "holidays[2]"
	Err   error
}

func (e *ConfigError) Error() string {
	return "sla: config " + e.Field + ": " + strings.TrimPrefix(e.Err.Error(), "sla: ")
}

func (e *ConfigError) Unwrap() error { return e.Err }

func configError(field string, err error) error { return &ConfigError{Field: field, Err: err} }
