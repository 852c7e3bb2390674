package spec

import (
	"strings"
	"testing"
	"time"
)

// wt is a UTC time in the week of Saturday 2024-06-01: wt("sat", 22, 0) etc. Days before sat
// fall in the following week (mon = 2024-06-03), so the week runs sat, sun, mon, ..., fri, and
// "sat+" is the Saturday after (2024-06-08).
func wt(day string, hour, min int) time.Time {
	offset := map[string]int{"sat": 0, "sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat+": 7, "sun+": 8}[day]
	return time.Date(2024, 6, 1+offset, hour, min, 0, 0, time.UTC)
}

func TestWeekHelper(t *testing.T) {
	for _, d := range []string{"sat", "sun", "mon", "tue", "wed", "thu", "fri", "sat+", "sun+"} {
		if got := strings.ToLower(wt(d, 0, 0).Weekday().String()[:3]); got != strings.TrimSuffix(d, "+") {
			t.Fatalf("wt(%q) is a %s", d, got)
		}
	}
}

func TestMaintenanceWindowContainsNext(t *testing.T) {
	satNight := MaintenanceWindow{Days: []string{"sat"}, StartHour: 22, Hours: 4}       // sat 22:00 – sun 02:00
	sunNight := MaintenanceWindow{Days: []string{"sun"}, StartHour: 23, Hours: 3}       // sun 23:00 – mon 02:00
	weekend := MaintenanceWindow{Days: []string{"sat", "sun"}, StartHour: 0, Hours: 24} // sat 00:00 – mon 00:00
	early := MaintenanceWindow{Days: []string{"sat"}, StartHour: 2, Hours: 4}           // sat 02:00 – 06:00
	nyc := time.FixedZone("EDT", -4*3600)
	const ns = time.Nanosecond

	for _, tc := range []struct {
		name     string
		w        MaintenanceWindow
		t        time.Time
		contains bool
		next     time.Time // zero: t itself
	}{
		{"before the start", satNight, wt("sat", 21, 59), false, wt("sat", 22, 0)},
		{"just before the start", satNight, wt("sat", 22, 0).Add(-ns), false, wt("sat", 22, 0)},
		{"start instant included", satNight, wt("sat", 22, 0), true, time.Time{}},
		{"before midnight", satNight, wt("sat", 23, 59), true, time.Time{}},
		{"midnight wrap", satNight, wt("sun", 0, 0), true, time.Time{}},
		{"after midnight", satNight, wt("sun", 1, 59), true, time.Time{}},
		{"just before the end", satNight, wt("sun", 2, 0).Add(-ns), true, time.Time{}},
		{"end instant excluded", satNight, wt("sun", 2, 0), false, wt("sat+", 22, 0)},
		{"mid-week", satNight, wt("wed", 12, 0), false, wt("sat+", 22, 0)},
		{"the listed day before the start", satNight, wt("sat", 3, 0), false, wt("sat", 22, 0)},

		{"week wrap: sun into mon", sunNight, wt("mon", 1, 30), true, time.Time{}},
		{"week wrap: end on mon excluded", sunNight, wt("mon", 2, 0), false, wt("sun+", 23, 0)},
		{"week wrap: sat waits for sun", sunNight, wt("sat", 23, 0), false, wt("sun", 23, 0)},
		{"week wrap: mon 00:00", sunNight, wt("mon", 0, 0), true, time.Time{}},

		{"next day, not today", early, wt("sat", 6, 0), false, wt("sat+", 2, 0)},
		{"later today", early, wt("sat", 1, 0), false, wt("sat", 2, 0)},
		{"fri waits for sat", early, wt("fri", 23, 0), false, wt("sat+", 2, 0)},

		{"24h: sat 00:00", weekend, wt("sat", 0, 0), true, time.Time{}},
		{"24h: sat→sun seam is continuous", weekend, wt("sun", 0, 0), true, time.Time{}},
		{"24h: last instant", weekend, wt("mon", 0, 0).Add(-ns), true, time.Time{}},
		{"24h: mon 00:00 excluded", weekend, wt("mon", 0, 0), false, wt("sat+", 0, 0)},
		{"24h: fri late", weekend, wt("fri", 23, 59), false, wt("sat+", 0, 0)},
		{"24h every day", MaintenanceWindow{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, StartHour: 7, Hours: 24}, wt("wed", 6, 59), true, time.Time{}},
		{"24h overlapping openings", MaintenanceWindow{Days: []string{"fri", "sat"}, StartHour: 6, Hours: 24}, wt("sat+", 6, 0), true, time.Time{}},
		{"24h overlapping: end of the last", MaintenanceWindow{Days: []string{"fri", "sat"}, StartHour: 6, Hours: 24}, wt("sun", 6, 0), false, wt("fri", 6, 0)},

		{"several days: the earliest", MaintenanceWindow{Days: []string{"thu", "tue"}, StartHour: 9, Hours: 1}, wt("mon", 12, 0), false, wt("tue", 9, 0)},
		{"several days: skip to the next", MaintenanceWindow{Days: []string{"thu", "tue"}, StartHour: 9, Hours: 1}, wt("tue", 10, 0), false, wt("thu", 9, 0)},
		{"duplicates", MaintenanceWindow{Days: []string{"sat", "sat"}, StartHour: 22, Hours: 4}, wt("sun", 1, 0), true, time.Time{}},
		{"unknown spelling next to a valid day is ignored", MaintenanceWindow{Days: []string{"Saturday", "sun"}, StartHour: 22, Hours: 4}, wt("sat", 23, 0), false, wt("sun", 22, 0)},

		// Non-UTC input: sat 18:00 EDT is sat 22:00 UTC.
		{"other location: start", satNight, time.Date(2024, 6, 1, 18, 0, 0, 0, nyc), true, time.Time{}},
		{"other location: before", satNight, time.Date(2024, 6, 1, 17, 0, 0, 0, nyc), false, wt("sat", 22, 0)},
		{"other location: local day differs", satNight, time.Date(2024, 6, 1, 21, 30, 0, 0, nyc), true, time.Time{}}, // sun 01:30 UTC

		// No constraint: Contains everywhere, Next(t) = t.
		{"no days", MaintenanceWindow{StartHour: 22, Hours: 4}, wt("wed", 12, 0), true, time.Time{}},
		{"only unknown days", MaintenanceWindow{Days: []string{"saturday", "Sun"}, StartHour: 22, Hours: 4}, wt("wed", 12, 0), true, time.Time{}},
		{"zero hours", MaintenanceWindow{Days: []string{"sat"}, StartHour: 22}, wt("wed", 12, 0), true, time.Time{}},
		{"25 hours", MaintenanceWindow{Days: []string{"sat"}, StartHour: 22, Hours: 25}, wt("wed", 12, 0), true, time.Time{}},
		{"start hour 24", MaintenanceWindow{Days: []string{"sat"}, StartHour: 24, Hours: 1}, wt("wed", 12, 0), true, time.Time{}},
		{"negative start hour", MaintenanceWindow{Days: []string{"sat"}, StartHour: -1, Hours: 1}, wt("wed", 12, 0), true, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.w.Contains(tc.t); got != tc.contains {
				t.Errorf("Contains(%s) = %v, want %v", tc.t, got, tc.contains)
			}
			got := tc.w.Next(tc.t)
			if tc.next.IsZero() {
				if got != tc.t { // t itself, location included
					t.Errorf("Next(%s) = %s, want t itself", tc.t, got)
				}
				return
			}
			if !got.Equal(tc.next) || got.Location() != time.UTC {
				t.Errorf("Next(%s) = %s, want %s", tc.t, got, tc.next)
			}
		})
	}
}

// TestMaintenanceWindowValidatedDaysAreUnderstood: every spelling ValidateMaintenanceWindow
// accepts opens a window, on the weekday it names.
func TestMaintenanceWindowValidatedDaysAreUnderstood(t *testing.T) {
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		w := MaintenanceWindow{Days: []string{d}, StartHour: 0, Hours: 1}
		if err := ValidateMaintenanceWindow("W", &w); err != nil {
			t.Fatal(err)
		}
		if got := w.Next(wt("sat", 12, 0)); strings.ToLower(got.Weekday().String()[:3]) != d || got.Hour() != 0 {
			t.Errorf("%s: Next = %s", d, got)
		}
	}
}

// refStartsAt is an independent oracle: an opening starts at h.
func refStartsAt(w MaintenanceWindow, h time.Time) bool {
	h = h.UTC()
	if h.Minute() != 0 || h.Second() != 0 || h.Nanosecond() != 0 || h.Hour() != w.StartHour {
		return false
	}
	day := strings.ToLower(h.Weekday().String()[:3])
	for _, d := range w.Days {
		if d == day {
			return true
		}
	}
	return false
}

// refValid: the window constrains anything (at least one day spelled mon..sun, hours in range).
func refValid(w MaintenanceWindow) bool {
	if w.StartHour < 0 || w.StartHour > 23 || w.Hours < 1 || w.Hours > 24 {
		return false
	}
	for _, d := range w.Days {
		for _, s := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			if d == s {
				return true
			}
		}
	}
	return false
}

// refContains: some opening started at a whole hour in (t-Hours, t].
func refContains(w MaintenanceWindow, t time.Time) bool {
	h := t.UTC().Truncate(time.Hour)
	for i := 0; i < w.Hours; i++ {
		if refStartsAt(w, h.Add(-time.Duration(i)*time.Hour)) {
			return true
		}
	}
	return false
}

func FuzzMaintenanceWindow(f *testing.F) {
	sat := wt("sat", 22, 0).Unix()
	f.Add(uint8(1<<time.Saturday), 22, 4, sat, uint32(0), 0)
	f.Add(uint8(1<<time.Saturday), 22, 4, sat-1, uint32(999999999), 3600)
	f.Add(uint8(1<<time.Sunday), 23, 3, wt("mon", 2, 0).Unix(), uint32(0), -5*3600)
	f.Add(uint8(1<<time.Saturday|1<<time.Sunday), 0, 24, wt("fri", 23, 59).Unix(), uint32(1), 0)
	f.Add(uint8(0x7f), 7, 24, int64(0), uint32(0), 0)
	f.Add(uint8(0x80|1<<time.Monday), 5, 1, int64(-1), uint32(5), 12*3600)
	f.Add(uint8(0), 0, 1, int64(1e9), uint32(0), 0)
	f.Add(uint8(1<<time.Wednesday), 24, 0, int64(1e9), uint32(0), 0)
	f.Fuzz(func(t *testing.T, mask uint8, startHour, hours int, sec int64, nsec uint32, offset int) {
		w := MaintenanceWindow{StartHour: startHour, Hours: hours}
		for d := time.Sunday; d <= time.Saturday; d++ {
			if mask&(1<<d) != 0 {
				w.Days = append(w.Days, strings.ToLower(d.String()[:3]))
			}
		}
		if mask&0x80 != 0 {
			w.Days = append(w.Days, "saturday") // an unknown spelling is ignored
		}
		const span = 400 * 365 * 24 * 3600 // keep t within ±400 years of 1970
		loc := time.FixedZone("fz", (offset%(18*3600)+18*3600)%(18*3600)-9*3600)
		tm := time.Unix(sec%span, int64(nsec%1e9)).In(loc)

		c, n := w.Contains(tm), w.Next(tm)
		if w.Contains(tm) != c || !w.Next(tm).Equal(n) {
			t.Fatal("not deterministic")
		}
		if !refValid(w) {
			if !c || n != tm {
				t.Fatalf("%+v constrains nothing, yet Contains(%s)=%v Next=%s", w, tm, c, n)
			}
			return
		}
		if c != refContains(w, tm) {
			t.Fatalf("%+v: Contains(%s)=%v, the oracle says %v", w, tm, c, !c)
		}
		if n.Before(tm) {
			t.Fatalf("%+v: Next(%s)=%s is before t", w, tm, n)
		}
		if d := n.Sub(tm); d >= 7*24*time.Hour {
			t.Fatalf("%+v: Next(%s)=%s is %s away", w, tm, n, d)
		}
		if !w.Contains(n) {
			t.Fatalf("%+v: Next(%s)=%s is not in the window", w, tm, n)
		}
		if c {
			if n != tm {
				t.Fatalf("%+v: Contains(%s) but Next=%s", w, tm, n)
			}
			return
		}
		if !refStartsAt(w, n) {
			t.Fatalf("%+v: Next(%s)=%s is not an opening start", w, tm, n)
		}
		// Openings start on whole hours: none starts, and the window is closed, at every whole
		// hour strictly between t and Next(t).
		for h := tm.UTC().Truncate(time.Hour).Add(time.Hour); h.Before(n); h = h.Add(time.Hour) {
			if refStartsAt(w, h) || w.Contains(h) {
				t.Fatalf("%+v: an opening starts or is open at %s, between t=%s and Next=%s", w, h, tm, n)
			}
		}
	})
}
