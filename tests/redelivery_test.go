package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// simDeliveries reads a stack's delivery log (the simulator's admin API).
func simDeliveries(t *testing.T, s *devstack.Stack) []simLogged {
	t.Helper()
	resp, err := http.Get(s.SimURL() + "/_sim/github/deliveries?repo=" + devstack.SampleOwner + "/" + devstack.SampleRepo)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ds []simLogged
	if err := json.NewDecoder(resp.Body).Decode(&ds); err != nil {
		t.Fatal(err)
	}
	return ds
}

type simLogged struct {
	ID           int64   `json:"id"`
	GUID         string  `json:"guid"`
	Event        string  `json:"event"`
	Action       string  `json:"action"`
	Status       string  `json:"status"`
	ResponseCode int     `json:"response_code"`
	Duration     float64 `json:"duration"`
	Redelivery   bool    `json:"redelivery"`
}

// createRuns counts the Create workflows of an issue in Temporal's visibility.
func createRuns(t *testing.T, tc client.Client, number int) int {
	t.Helper()
	ref := workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: number}
	resp, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s' AND Issue = '%s'", workflows.WorkflowCreate, ref)})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetExecutions())
}

// GitHub tries each delivery once. With Temporal stopped for 60 s while 10 issues are filed, the
// starter answers every delivery 5xx within a second (GitHub records them failed); once Temporal is
// back, the worker's redelivery sweeper alone (a Temporal Schedule) has them redelivered, and each
// issue starts its create exactly once. Redelivering every event once more starts nothing.
//
// A dedicated stack with a persistent dev server: Temporal is really stopped (SIGTERM, connection
// refused) and restarted with its history, and the shared stack's tests are not disturbed.
func TestWebhookRedeliveryAfterTemporalOutage(t *testing.T) {
	ctx := context.Background()
	s2, tc := persistentStack(t)
	// The worker made the sweeper's Schedule at start.
	if _, err := tc.ScheduleClient().GetHandle(ctx, workflows.RedeliveryScheduleID).Describe(ctx); err != nil {
		t.Fatalf("the worker did not create the redelivery schedule: %v", err)
	}

	if err := s2.Kill("temporal", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	const n = 10
	issues := make([]*github.Issue, n)
	slugs := make([]string, n)
	for i := range issues {
		slugs[i] = fmt.Sprintf("redeliver-%d", i)
		var err error
		if issues[i], err = s2.FileNewInstance(ctx, slugs[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Every delivery is tried once and answered 5xx quickly: the starter cannot reach Temporal.
	var failed []simLogged
	eventually(t, 40*time.Second, "every delivery of the 10 issues to be attempted", func() bool {
		failed = failed[:0]
		for _, d := range simDeliveries(t, s2) {
			if d.Event == "issues" {
				if d.Status == "pending" {
					return false
				}
				failed = append(failed, d)
			}
		}
		return len(failed) >= n
	})
	for _, d := range failed {
		if d.Status != "failed" || d.ResponseCode < 500 || d.Redelivery {
			t.Errorf("delivery %d (%s.%s) with Temporal down: %s, code %d, redelivery %t; want a failed first delivery answered 5xx",
				d.ID, d.Event, d.Action, d.Status, d.ResponseCode, d.Redelivery)
		}
		if d.Duration > 1.0 {
			t.Errorf("delivery %d answered after %.2fs; the starter answers within 1 s", d.ID, d.Duration)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The outage lasts 60 s in all.
	time.Sleep(time.Until(stopped.Add(60 * time.Second)))
	if err := s2.Start(ctx, "temporal"); err != nil {
		t.Fatalf("restarting the dev server: %v", err)
	}
	t.Logf("Temporal was down for %s; %d deliveries failed", time.Since(stopped).Round(time.Second), len(failed))

	// The sweeper redelivers; each issue's create starts.
	eventually(t, 3*time.Minute, "the 10 creates to start through redelivered webhooks", func() bool {
		for i, is := range issues {
			if _, err := tc.DescribeWorkflowExecution(ctx, opID(forms.OpCreate, slugs[i], is), ""); err != nil {
				return false
			}
		}
		return true
	})
	recovered := time.Since(stopped)
	// Every failed event was redelivered (same GUID, redelivery true) and its latest delivery is OK.
	latest := map[string]simLogged{}
	redelivered := map[string]bool{}
	eventually(t, time.Minute, "every failed event's redelivery to be answered 2xx", func() bool {
		clear(latest)
		clear(redelivered)
		for _, d := range simDeliveries(t, s2) {
			if d.Status == "pending" {
				return false
			}
			if d.ID > latest[d.GUID].ID {
				latest[d.GUID] = d
			}
			redelivered[d.GUID] = redelivered[d.GUID] || d.Redelivery
		}
		for _, d := range failed {
			if l := latest[d.GUID]; !redelivered[d.GUID] || l.ResponseCode < 200 || l.ResponseCode > 299 {
				return false
			}
		}
		return true
	})
	// The sweeps say what they did, in their results.
	swept := 0
	resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Completed'", workflows.WorkflowRedeliverWebhooks)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range resp.GetExecutions() {
		var res workflows.RedeliveryResult
		if err := tc.GetWorkflow(ctx, ex.GetExecution().GetWorkflowId(), ex.GetExecution().GetRunId()).Get(ctx, &res); err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hooks {
			swept += len(h.Redelivered)
		}
	}
	if swept < len(failed) {
		t.Errorf("the sweeps' results list %d redeliveries, want at least the %d failed deliveries", swept, len(failed))
	}

	// Redeliver every event once more, as on-call might: the starter answers duplicates 2xx and
	// nothing starts twice.
	bot, err := s2.GitHub().Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	mark := int64(0)
	for _, d := range simDeliveries(t, s2) {
		mark = max(mark, d.ID)
	}
	var accepted *github.AcceptedError
	for _, d := range failed {
		if _, _, err := bot.Repositories.RedeliverHookDelivery(ctx, devstack.SampleOwner, devstack.SampleRepo, 1, latest[d.GUID].ID); !errors.As(err, &accepted) {
			t.Fatalf("redelivering %d: %v", latest[d.GUID].ID, err)
		}
	}
	eventually(t, time.Minute, "the extra redeliveries to be answered", func() bool {
		again := 0
		for _, d := range simDeliveries(t, s2) {
			if d.ID <= mark || d.Event != "issues" {
				continue
			}
			if d.Status == "pending" {
				return false
			}
			if d.ResponseCode < 200 || d.ResponseCode > 299 {
				t.Fatalf("a repeated delivery was answered %d", d.ResponseCode)
			}
			again++
		}
		return again >= len(failed)
	})
	eventually(t, 30*time.Second, "visibility to list each issue's create", func() bool {
		for _, is := range issues {
			if createRuns(t, tc, is.GetNumber()) < 1 {
				return false
			}
		}
		return true
	})
	for _, is := range issues {
		if got := createRuns(t, tc, is.GetNumber()); got != 1 {
			t.Errorf("issue #%d started %d creates, want 1", is.GetNumber(), got)
		}
	}
	t.Logf("outage to all 10 creates started: %s; sweeps listed %d redeliveries", recovered.Round(time.Second), swept)
}
