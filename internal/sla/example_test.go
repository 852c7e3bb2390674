package sla_test

import (
	"fmt"
	"time"

	"github.com/sourcegraph/lifecycle/internal/sla"
)

// A workflow computes the deadlines once from workflow.Now(ctx), keeps them in its state, and
// sets durable timers for Warn and Resolution.
func ExamplePolicy_Deadlines() {
	p := sla.DefaultPolicy()
	start := time.Date(2026, 3, 6, 21, 30, 0, 0, time.UTC) // Friday evening; workflow.Now(ctx) in a workflow
	for _, k := range []sla.Kind{sla.NewInstance, sla.Trial, sla.UpgradeMonthly} {
		d, err := p.Deadlines(k, start)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-15s response %-16s resolution %s (%v), warn %s\n", k, fmtTime(d.Response),
			fmtTime(d.Resolution), p.Table[k].Resolution, fmtTime(d.Warn))
	}
	// Output:
	// new-instance    response Sat 07 Mar 21:30 resolution Tue 17 Mar 21:30 (7 working days), warn Sun 15 Mar 16:42
	// trial           response Mon 09 Mar 07:30 resolution Mon 09 Mar 07:30 (1h office hours else 1 working day), warn Sun 08 Mar 19:54
	// upgrade-monthly response -                resolution Fri 20 Mar 21:30 (10 working days), warn Wed 18 Mar 02:18
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("Mon 02 Jan 15:04")
}

func ExampleCalendar_AddWorkingDays() {
	us, _ := sla.LoadLocation("America/New_York")
	thanksgiving, _ := sla.ParseDate("2026-11-26")
	cal, _ := sla.NewCalendar(us, thanksgiving)
	for _, start := range []time.Time{
		time.Date(2026, 11, 25, 16, 0, 0, 0, us), // Wednesday afternoon
		time.Date(2026, 11, 28, 10, 0, 0, 0, us), // Saturday
	} {
		fmt.Println(start.Format("Mon 15:04"), "+ 2 working days →", cal.AddWorkingDays(start, 2).Format("Mon 02 Jan 15:04"))
	}
	// Output:
	// Wed 16:00 + 2 working days → Mon 30 Nov 16:00
	// Sat 10:00 + 2 working days → Wed 02 Dec 00:00
}
