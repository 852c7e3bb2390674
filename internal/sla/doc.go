// Package sla computes the response and resolution deadlines of lifecycle requests
// (docs/design.md invariant 8). Workflows turn them into durable timers, so the clocks live in
// workflow history and survive worker restarts.
//
// The package is pure and deterministic so that workflow code may call it and replay gets the
// same answer: it never reads the clock (callers pass workflow.Now(ctx)), starts no goroutines,
// does no I/O except in LoadLocation / Config.Policy (see below), and never ranges over a map.
//
// # Rules
//
// SLA time is counted, never guessed: a deadline is the earliest instant at which the window's
// amount of SLA time has elapsed since the start. That one rule gives all the cases below.
//
// Working days (Calendar): a working day is a Monday to Friday calendar date, in the calendar's
// time zone, that is not a holiday. Working-day SLA time runs through the whole of every working
// day (00:00–24:00) and stops on weekends and holidays. So, for n >= 1 working days:
//
//   - a start during a working day keeps its wall-clock time: the deadline is the n-th next
//     working day at the same clock time (Friday 15:00 + 1 → Monday 15:00; Tuesday 10:00 + 1
//     with a Wednesday holiday → Thursday 10:00);
//   - a start on a weekend or holiday (or at 00:00 of a working day) starts the clock at the
//     beginning of the next working day, and the deadline is the end (24:00) of the n-th working
//     day counting that one (Saturday + 1 → end of Monday; Sunday + 5 → end of Friday). The end
//     of a day is reported as the first instant of the next calendar date (Tue 00:00 for "end of
//     Monday"), which is exact for timers.
//
// That is what a customer engineer says ("filed on Saturday, due end of Monday"), and it never
// gives a weekend request more time than a Monday-morning one.
//
// Office hours (OfficeHours): a daily window [open, close) of wall-clock time on the working
// days of the office's own calendar (its own zone and holidays); trials default to Mon–Fri
// 07:00–22:00 GMT. Office SLA time runs only inside the window, so 1 h from Friday 21:30 is
// Monday 07:30 and 1 h from Saturday is Monday 08:00. 07:00 is open, 22:00 is closed.
//
// Trials follow the seeds literally: 1 h of office time if filed during office hours, else 1
// working day. So a trial filed at 06:59 is due 24 h later and one filed at 07:00 is due at
// 08:00; that step is the seeds' rule, not an accident.
//
// Wall-clock times that do not exist (the hour skipped when DST starts) move forward by the
// gap, as a wall clock does (02:30 on a spring-forward night is 03:30); a repeated hour (DST
// end) uses its first occurrence, so two starts in the repeated hour share a deadline. Calendar
// days (CalendarDays windows, "within 3 days") also keep the wall-clock time; Elapsed windows
// ("24 hours") are exact durations.
//
// # Time zones and replay
//
// UTC and GMT (DefaultPolicy) need no zone data. Other zones come from the tz database on the
// worker (time.LoadLocation), or from time/tzdata if the binary embeds it. Workflow code that
// computes a deadline recomputes it on replay, so a tz rules change for a configured zone
// between a run and its replay could move it. With such zones, compute Deadlines inside
// workflow.SideEffect (they serialize as RFC 3339) so history pins them.
package sla
