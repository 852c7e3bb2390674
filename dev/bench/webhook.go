package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// WebhookLoad is a fixed rate of signed deliveries.
type WebhookLoad struct {
	Fleet    int           `json:"fleet"` // on the stack of the rollout of this many instances
	Rate     int           `json:"rate"`  // deliveries per second
	Duration time.Duration `json:"duration"`
}

// WebhookResult is delivery → workflow started, measured from this process (not the starter's).
type WebhookResult struct {
	Load     WebhookLoad `json:"load"`
	Request  string      `json:"request"`
	Sent     int         `json:"sent"`
	Accepted int         `json:"accepted"`
	Other    []string    `json:"other,omitempty"` // answers other than 202 Accepted, counted
	// Failed counts deliveries that got no 202 within 30 s (GitHub gives up after 10 s).
	Failed int `json:"failed"`
	// Workflows counts the teardown workflow runs in Temporal after the deliveries: each
	// delivery's operation started exactly once when it equals Sent and none failed.
	Workflows int `json:"workflows"`
	// StartedFound counts the deliveries whose teardown workflow exists (Started's samples).
	StartedFound int      `json:"startedFound"`
	SendLag      Duration `json:"sendLagMax"` // how late the sender was against its schedule
	// CPU is each process's CPU seconds from the first delivery to the last answer.
	CPU  map[string]float64 `json:"cpuSeconds"`
	Wall Duration           `json:"wall"`
	// Memory is the worker's, from the first delivery on (its peak is the process's so far).
	Memory Memory `json:"workerMemoryMB"`
	// Started: the deliveries whose workflow started; Responded: every answer, 202 or not.
	Started   Percentiles `json:"deliveryToStarted"`
	Responded Percentiles `json:"deliveryToResponse"`
}

// Percentiles of a latency.
type Percentiles struct {
	P50 Duration `json:"p50"`
	P99 Duration `json:"p99"`
	Max Duration `json:"max"`
}

func percentiles(ds []time.Duration) Percentiles {
	slices.Sort(ds)
	return Percentiles{Duration(percentile(ds, 50)), Duration(percentile(ds, 99)), Duration(percentile(ds, 100))}
}

// runWebhook sends teardown requests for the fleet's instances, each a signed "labeled" issue
// delivery as GitHub sends it, at load.Rate for load.Duration. A teardown starts its workflow, then
// waits for an approval nobody gives, so the deliveries measure the starter and the instance
// workflows' Update path, not the teardowns' work. Started is the operation workflow's start time
// in Temporal minus the moment the delivery was sent.
func runWebhook(ctx context.Context, c Config, s *devstack.Stack, tc client.Client, slugs []string, load WebhookLoad) (*WebhookResult, error) {
	total := min(load.Rate*int(load.Duration/time.Second), len(slugs))
	c.logf("webhook: filing %d teardown issues (no request label yet)", total)
	gh := s.GitHubAs("alice")
	issues := make([]*github.Issue, total)
	for i := range total {
		is, _, err := gh.Issues.Create(ctx, devstack.SampleOwner, devstack.SampleRepo, &github.IssueRequest{
			Title: github.String("Teardown " + slugs[i]), Body: github.String(teardownBody(slugs[i])), Labels: &[]string{forms.TeamLabel},
		})
		if err != nil {
			return nil, fmt.Errorf("filing issue %d: %w", i, err)
		}
		issues[i] = is
	}
	c.logf("webhook: %d deliveries at %d/s", total, load.Rate)
	type sent struct {
		at, answered time.Time
		status       int
		body         string
		err          error
	}
	out := make([]sent, total)
	var wg sync.WaitGroup
	cpu0 := cpuOf(s)
	start := time.Now()
	var lag time.Duration
	hc := &http.Client{Timeout: 30 * time.Second}
	for i := range total {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(load.Rate))
		time.Sleep(time.Until(due))
		lag = max(lag, time.Since(due))
		payload, err := labeledEvent(issues[i])
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.StarterURL()+"/webhooks/github", bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "issues")
			req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", i))
			req.Header.Set(github.SHA256SignatureHeader, sign(payload, s.Opts.WebhookSecret))
			out[i].at = time.Now()
			resp, err := hc.Do(req)
			out[i].answered = time.Now()
			if err != nil {
				out[i].err = err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out[i].status, out[i].body = resp.StatusCode, string(bytes.TrimSpace(b))
		}()
	}
	wg.Wait()
	res := &WebhookResult{Load: load, Request: "teardown (Update of the instance workflow, which starts the teardown workflow)", Sent: total, SendLag: Duration(lag),
		Wall: Duration(time.Since(start)), CPU: cpuOf(s)}
	for k, v := range cpu0 {
		res.CPU[k] = math.Round((res.CPU[k]-v)*10) / 10
	}
	// Every answer counts at the sender, whatever its status; every delivery's workflow is looked
	// for, since one answered 503 after its Temporal call ran out of budget may still have started.
	var started, responded []time.Duration
	var acceptedNotStarted []string
	for i, o := range out {
		if o.err == nil {
			responded = append(responded, o.answered.Sub(o.at))
		}
		accepted := o.err == nil && o.status == http.StatusAccepted
		if accepted {
			res.Accepted++
		} else {
			res.Other = append(res.Other, fmt.Sprintf("%s: %d %s %v", slugs[i], o.status, o.body, o.err))
		}
		ref := workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: issues[i].GetNumber()}
		d, err := tc.DescribeWorkflowExecution(ctx, workflows.OperationWorkflowID(forms.OpTeardown, slugs[i], workflows.IssueKey(ref)), "")
		if err != nil {
			if accepted {
				acceptedNotStarted = append(acceptedNotStarted, slugs[i])
			}
			continue
		}
		started = append(started, d.GetWorkflowExecutionInfo().GetStartTime().AsTime().Sub(o.at))
	}
	if len(acceptedNotStarted) > 0 {
		return nil, fmt.Errorf("%d deliveries were accepted but their teardown workflow is not there: %v", len(acceptedNotStarted), acceptedNotStarted)
	}
	res.StartedFound = len(started)
	// Deliveries that failed are counted, not fatal: an overloaded starter is a figure.
	res.Failed = total - res.Accepted
	// Exactly once, verified: every run of the teardown type, whatever its ID, counted.
	n, err := countStarted(ctx, tc, res.Accepted)
	if err != nil {
		return nil, err
	}
	res.Workflows = n
	res.Started, res.Responded = percentiles(started), percentiles(responded)
	if len(res.Other) > 10 {
		res.Other = append(res.Other[:10], fmt.Sprintf("... and %d more", len(res.Other)-10))
	}
	return res, nil
}

func teardownBody(slug string) string {
	return fmt.Sprintf("### Slug\n\n%s\n\n### Reason\n\nBenchmark.\n\n### Agreement date\n\n_No response_\n\n### Acknowledgement\n\n- [x] %s\n", slug, forms.OptionDataDeleted)
}

// labeledEvent is the delivery GitHub sends when the teardown label is added to the issue.
func labeledEvent(is *github.Issue) ([]byte, error) {
	label := &github.Label{Name: github.String(forms.LabelOf(forms.OpTeardown))}
	is.Labels = append(is.Labels, label)
	return json.Marshal(github.IssuesEvent{
		Action: github.String("labeled"), Issue: is, Label: label,
		Repo:   &github.Repository{Name: github.String(devstack.SampleRepo), Owner: &github.User{Login: github.String(devstack.SampleOwner)}},
		Sender: is.User,
	})
}

func sign(payload []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(payload)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// countStarted counts the teardown workflow runs (visibility, which may lag the starts by a
// moment: it counts again for up to 10 s while fewer than want show).
func countStarted(ctx context.Context, tc client.Client, want int) (int, error) {
	q := fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowTeardown)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
		if err != nil {
			return 0, fmt.Errorf("counting the teardown workflows: %w", err)
		}
		if n := int(r.GetCount()); n >= want || time.Now().After(deadline) {
			return n, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}
