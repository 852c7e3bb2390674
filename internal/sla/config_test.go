package sla

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	p, err := Config{}.Policy()
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultPolicy()
	if p.Calendar.Location() != time.UTC || p.OfficeHours.String() != def.OfficeHours.String() {
		t.Errorf("zero Config = %v / %v, want UTC / %v", p.Calendar.Location(), p.OfficeHours, def.OfficeHours)
	}
	start := ts(t, time.UTC, "2026-03-06 21:30")
	for _, k := range Kinds() {
		a, err1 := p.Deadlines(k, start)
		b, err2 := def.Deadlines(k, start)
		if err1 != nil || err2 != nil || a != b {
			t.Errorf("%s: Config{} gives %+v (%v), DefaultPolicy %+v (%v)", k, a, err1, b, err2)
		}
	}
}

func TestConfigPolicy(t *testing.T) {
	var c Config
	err := json.Unmarshal([]byte(`{
		"timeZone": "America/New_York",
		"holidays": ["2026-11-26", "2026-12-25"],
		"officeHours": {"timeZone": "Europe/London", "open": "08:00", "close": "18:00", "holidays": ["2026-12-25"]},
		"overrides": [
			{"kind": "new-instance", "response": "1 working day", "resolution": "1 working day"},
			{"kind": "upgrade-patch", "resolution": "5 working days"},
			{"kind": "small-op", "response": "none"},
			{"kind": "upgrade-patch", "resolution": "2 weeks"}
		]}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Policy()
	if err != nil {
		t.Fatal(err)
	}
	ny := loadLoc(t, "America/New_York")
	if p.Calendar.Location().String() != "America/New_York" || len(p.Calendar.Holidays()) != 2 {
		t.Errorf("calendar = %v %v", p.Calendar.Location(), p.Calendar.Holidays())
	}
	if got := p.OfficeHours.String(); got != "Mon–Fri 08:00–18:00 Europe/London" {
		t.Errorf("office hours = %q", got)
	}
	for k, want := range map[Kind]SLA{
		NewInstance:  {WorkingDays(1), WorkingDays(1)},
		UpgradePatch: {Window{}, Weeks(2)}, // later overrides win
		SmallOp:      {},
		Suspend:      DefaultTable()[Suspend],
	} {
		if got := p.Table[k]; got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	d, err := p.Deadlines(NewInstance, ts(t, ny, "2026-11-25 16:00"))
	if err != nil {
		t.Fatal(err)
	}
	if want := ts(t, ny, "2026-11-27 16:00"); !d.Resolution.Equal(want) {
		t.Errorf("over Thanksgiving = %v, want %v", d.Resolution, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		c     Config
		field string
		want  string
	}{
		{Config{TimeZone: "Europe/Londn"}, "timeZone", `unknown time zone "Europe/Londn"`},
		{Config{TimeZone: "Local"}, "timeZone", "depends on the worker"},
		{Config{Holidays: []string{"2026-12-25", "25/12/2026"}}, "holidays[1]", "YYYY-MM-DD"},
		{Config{Holidays: []string{"2026-02-30"}}, "holidays[0]", "YYYY-MM-DD"},
		{Config{OfficeHours: OfficeHoursConfig{TimeZone: "Mars/Olympus"}}, "officeHours.timeZone", "unknown time zone"},
		{Config{OfficeHours: OfficeHoursConfig{Holidays: []string{"2026-1-1"}}}, "officeHours.holidays[0]", "YYYY-MM-DD"},
		{Config{OfficeHours: OfficeHoursConfig{Open: "22:00", Close: "07:00"}}, "officeHours", "end 07:00 must be after start 22:00"},
		{Config{OfficeHours: OfficeHoursConfig{Open: "23:00"}}, "officeHours", "end 22:00 must be after start 23:00"},
		{Config{OfficeHours: OfficeHoursConfig{Close: "10pm"}}, "officeHours.close", "HH:MM"},
		{Config{OfficeHours: OfficeHoursConfig{Open: "7"}}, "officeHours.open", "HH:MM"},
		{Config{Overrides: []Override{{Kind: "hotfix", Resolution: "1 day"}}}, "overrides[0].kind", `unknown request kind "hotfix"`},
		{Config{Overrides: []Override{{Kind: Trial}, {Kind: Trial, Response: "soon"}}}, "overrides[1].response", `window "soon"`},
		{Config{Overrides: []Override{{Kind: Trial, Resolution: "0 working days"}}}, "overrides[0].resolution", "window"},
	} {
		_, err := tc.c.Policy()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error = %v, want field %s and %q", tc.c, err, tc.field, tc.want)
			continue
		}
		if strings.Count(err.Error(), "sla:") != 1 {
			t.Errorf("error %q repeats the package prefix", err)
		}
	}
}

func TestLoadLocation(t *testing.T) {
	for name, want := range map[string]string{"": "UTC", "UTC": "UTC", "GMT": "GMT", "Asia/Tokyo": "Asia/Tokyo"} {
		loc, err := LoadLocation(name)
		if err != nil || loc.String() != want {
			t.Errorf("LoadLocation(%q) = %v, %v", name, loc, err)
		}
	}
	// GMT is fixed: no British Summer Time.
	if _, off := ts(t, GMT, "2026-07-01 12:00").Zone(); off != 0 {
		t.Errorf("GMT offset in July = %d", off)
	}
}
