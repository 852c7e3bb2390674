package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/sla"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// slaAt records, at a workflow time, the operation's SLA view, its labels and comments.
type slaSnapshot struct {
	view     SLAView
	labels   []string
	warning  string
	breach   string
	captured bool
}

func snapshotSLA(t *testing.T, env *testsuite.TestWorkflowEnvironment, f *fakeCloud, at time.Duration) *slaSnapshot {
	s := &slaSnapshot{}
	env.RegisterDelayedCallback(func() {
		p := progress(t, env)
		if p.SLA == nil {
			t.Errorf("no SLA in progress at %v", at)
			return
		}
		f.mu.Lock()
		s.labels = slices.Clone(f.labels)
		f.mu.Unlock()
		s.view, s.warning, s.breach, s.captured = *p.SLA, f.comment("<!-- lifecycle:sla-warning:"), f.comment("<!-- lifecycle:sla-breach:"), true
	}, at)
	return s
}

// A teardown that nobody approves: its 15-working-day resolution clock counts working days only,
// so a Friday-afternoon request is due three Fridays later, warned at 80 % and then breached.
func TestSLAWarnsThenBreachesOnTheWorkingDayCalendar(t *testing.T) {
	env, f := newOpEnv(t)
	f.putConfig(activeConfig("acme", spec.Production, "5.9.0"))
	start := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC) // Friday
	env.SetStartTime(start)
	in := tdInput()
	in.Request.RequestedAt = start

	due := time.Date(2026, 12, 25, 16, 0, 0, 0, time.UTC) // 15 working days: three weekends skipped
	warn := start.Add(due.Sub(start) * 4 / 5)
	before := snapshotSLA(t, env, f, warn.Sub(start)-time.Minute)
	warned := snapshotSLA(t, env, f, warn.Sub(start)+time.Minute)
	breached := snapshotSLA(t, env, f, due.Sub(start)+time.Minute)
	env.RegisterDelayedCallback(env.CancelWorkflow, due.Sub(start)+time.Hour)
	env.ExecuteWorkflow(Teardown, in)

	if !before.captured || !warned.captured || !breached.captured {
		t.Fatal("snapshots not taken")
	}
	if !before.view.Resolution.Equal(due) || !before.view.Response.Equal(start.Add(24*time.Hour)) {
		t.Errorf("deadlines: response %v, resolution %v; want %v and %v", before.view.Response, before.view.Resolution, start.Add(24*time.Hour), due)
	}
	if before.view.Warned || before.warning != "" {
		t.Error("warned before 80 % of the window")
	}
	if !warned.view.Warned || warned.view.Breached || !strings.Contains(warned.warning, "SLA warning") || slices.Contains(warned.labels, SLABreachedLabel) {
		t.Errorf("at 80 %%: view %+v, warning %q, labels %v", warned.view, warned.warning, warned.labels)
	}
	if !breached.view.Breached || !strings.Contains(breached.breach, "SLA breached") || !slices.Contains(breached.labels, SLABreachedLabel) {
		t.Errorf("after the deadline: view %+v, breach comment %q, labels %v", breached.view, breached.breach, breached.labels)
	}
	if c := f.comment("<!-- lifecycle:status:"); !strings.Contains(c, "**breached**") {
		t.Errorf("the status comment does not show the breach:\n%s", c)
	}
}

// Trials: 1 hour inside office hours (Mon–Fri 07:00–22:00 GMT), else the next working day.
func TestTrialSLAFollowsOfficeHours(t *testing.T) {
	for _, tc := range []struct {
		name       string
		start, due time.Time
	}{
		{"inside office hours", time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)},
		// A Saturday request is due at the end of the next working day (Monday).
		{"on a weekend", time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, f := newOpEnv(t)
			env.SetStartTime(tc.start)
			f.fail("EnsureProject") // the create parks, so the clock runs out
			in := createRequest("acme", spec.Trial, "5.10.0")
			in.Request.RequestedAt = tc.start
			early := snapshotSLA(t, env, f, tc.due.Sub(tc.start)-time.Minute)
			late := snapshotSLA(t, env, f, tc.due.Sub(tc.start)+time.Minute)
			env.RegisterDelayedCallback(env.CancelWorkflow, tc.due.Sub(tc.start)+time.Hour)
			env.ExecuteWorkflow(Create, in)
			if early.view.Kind != "trial" || !early.view.Resolution.Equal(tc.due) {
				t.Errorf("trial SLA %+v, want resolution %v", early.view, tc.due)
			}
			if early.view.Breached || !late.view.Breached || !slices.Contains(late.labels, SLABreachedLabel) {
				t.Errorf("breach: before %+v, after %+v labels %v", early.view, late.view, late.labels)
			}
		})
	}
}

// An operation that finishes in time stops its clock: no warning or breach comes later.
func TestSLAStopsWhenTheOperationEnds(t *testing.T) {
	env, f := newOpEnv(t)
	f.putConfig(activeConfig("acme", spec.Production, "5.9.0"))
	env.SetStartTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	in := soAllowlistInput("203.0.113.0/24")
	in.Request.RequestedAt = env.Now()
	env.ExecuteWorkflow(UpdateAllowlist, in)
	var res OperationResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Outcome != OutcomeSucceeded {
		t.Fatalf("allowlist update: %+v %v", res.Outcome, err)
	}
	v := res.Progress.SLA
	if v == nil || v.Resolution.IsZero() || v.ResolvedAt.IsZero() || v.Breached || v.Warned {
		t.Errorf("SLA view after a quick operation: %+v", v)
	}
	if f.comment("<!-- lifecycle:sla-") != "" {
		t.Error("an SLA comment after the operation ended")
	}
}

// A step whose retries run out says how many attempts Temporal made, and then how many times an
// operator retried it.
func TestParkedStepSaysHowManyAttempts(t *testing.T) {
	env, f := newCreateEnv(t)
	f.mu.Lock()
	f.fails["EnsureSQLInstance"] = temporal.NewApplicationError("Cloud SQL is unavailable (injected)", "Transient")
	f.mu.Unlock()
	var first, second Parked
	env.RegisterDelayedCallback(func() {
		first = *progress(t, env).Parked
		env.UpdateWorkflow(UpdateDecide, "", &testsuite.TestUpdateCallback{OnAccept: func() {}, OnReject: func(error) {}, OnComplete: func(any, error) {}},
			Decision{Step: "database", Action: ActionRetry, By: "carol"})
	}, 2*time.Hour)
	env.RegisterDelayedCallback(func() {
		second = *progress(t, env).Parked
		env.CancelWorkflow()
	}, 4*time.Hour)
	env.ExecuteWorkflow(Create, createRequest("acme", spec.Production, "5.10.0"))
	if first.Step != "database" || first.Retries != "10 attempts (its retry limit)" {
		t.Errorf("first park: %+v", first)
	}
	if !strings.Contains(second.Retries, "on run 2 of the step (1 operator retries)") {
		t.Errorf("second park: %+v", second)
	}
	if n := len(inputsOf[any](f, "EnsureSQLInstance")); n != 20 {
		t.Errorf("EnsureSQLInstance ran %d times, want 2 × 10 attempts", n)
	}
	if c := f.comment("<!-- lifecycle:status:"); !strings.Contains(c, "failed after 10 attempts") {
		t.Errorf("status comment does not give the attempts:\n%s", c)
	}
}

// The SLA table's two clocks: the response counts from becoming aware (the filing), the
// resolution from the agreement. An instant answer to a back-dated agreement is on time, and the
// resolution still counts from the agreement.
func TestSLAResponseCountsFromTheFilingAndResolutionFromTheAgreement(t *testing.T) {
	env, f := srEnv(t, forms.OpSuspend)
	f.sqlState, f.poolSize = "ALWAYS", 2
	in := srInput(forms.OpSuspend, Settings{})
	in.Request.RequestedAt = srStart                                    // filed now, Monday 7 Dec
	in.Request.AgreedAt = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // agreed two weeks before
	in.Request.Suspend = &forms.Suspend{Slug: "acme", Reason: "budget", AgreementDate: "2026-11-23"}
	env.ExecuteWorkflow(Suspend, in)
	res := srResult(t, env)
	if res.Outcome != OutcomeSucceeded || res.Progress.SLA == nil {
		t.Fatalf("outcome %s, SLA %+v", res.Outcome, res.Progress.SLA)
	}
	v := *res.Progress.SLA
	if !v.Response.Equal(srStart.Add(24*time.Hour)) || v.ResponseLate {
		t.Errorf("response due %s (late: %t), want 24 h after the filing, met", formatTime(v.Response), v.ResponseLate)
	}
	if due := sla.DefaultPolicy().Calendar.AddWorkingDays(in.Request.AgreedAt, 15); !v.Resolution.Equal(due) {
		t.Errorf("resolution due %s, want %s (15 working days from the agreement)", formatTime(v.Resolution), formatTime(due))
	}
	if status := f.comment(statusMarker); strings.Contains(status, "(late)") {
		t.Errorf("an instant answer is shown late:\n%s", status)
	}
}
