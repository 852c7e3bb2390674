package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/sourcegraph/lifecycle/internal/config"
)

// fakeTemporal answers queries, visibility lists and updates from fixed values, and records what
// was sent.
type fakeTemporal struct {
	mu sync.Mutex
	// answers are query results by "workflowID query"; errs are query errors (a missing answer
	// is NotFound).
	answers map[string]any
	errs    map[string]error
	// lists are visibility results by query.
	lists   map[string][]*workflowpb.WorkflowExecutionInfo
	queries []string
	// updates records the Updates; result and err are what they get.
	updates   []client.UpdateWorkflowOptions
	result    any
	updateErr error
	// started is the start of an Update-with-Start; executed the options of ExecuteWorkflow, whose
	// run answers runResult.
	started   *client.StartWorkflowOptions
	executed  []client.StartWorkflowOptions
	runResult any
}

func newFake() *fakeTemporal {
	return &fakeTemporal{answers: map[string]any{}, errs: map[string]error{}, lists: map[string][]*workflowpb.WorkflowExecutionInfo{}}
}

func (f *fakeTemporal) ListWorkflow(_ context.Context, r *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.GetQuery())
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: f.lists[r.GetQuery()]}, nil
}

func (f *fakeTemporal) QueryWorkflow(_ context.Context, workflowID, _ string, name string, _ ...any) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := workflowID + " " + name
	if err := f.errs[key]; err != nil {
		return nil, err
	}
	v, ok := f.answers[key]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	return jsonValue{v}, nil
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, o)
	return fakeHandle{f.result, f.updateErr}, nil
}

func (f *fakeTemporal) NewWithStartWorkflowOperation(o client.StartWorkflowOptions, _ any, _ ...any) client.WithStartWorkflowOperation {
	f.started = &o
	return nil
}

func (f *fakeTemporal) UpdateWithStartWorkflow(ctx context.Context, o client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	return f.UpdateWorkflow(ctx, o.UpdateOptions)
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.executed = append(f.executed, o)
	return fakeRun{id: o.ID, result: f.runResult}, nil
}

// fakeRun is a started workflow whose result is fixed.
type fakeRun struct {
	client.WorkflowRun
	id     string
	result any
}

func (r fakeRun) GetID() string                        { return r.id }
func (r fakeRun) Get(_ context.Context, ptr any) error { return jsonValue{r.result}.Get(ptr) }

// jsonValue is a query answer.
type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return j.v != nil }
func (j jsonValue) Get(ptr any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

type fakeHandle struct {
	result any
	err    error
}

func (h fakeHandle) WorkflowID() string { return "" }
func (h fakeHandle) RunID() string      { return "" }
func (h fakeHandle) UpdateID() string   { return "" }
func (h fakeHandle) Get(_ context.Context, ptr any) error {
	if h.err != nil {
		return h.err
	}
	return jsonValue{h.result}.Get(ptr)
}

// execution is a visibility row with search attributes.
func execution(t *testing.T, workflowID string, sa map[string]any) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	fields := map[string]*commonpb.Payload{}
	for k, v := range sa {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		fields[k] = p
	}
	return &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID},
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: fields}}
}

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// testApp runs mi against fake (nil: dialling fails the test) with env.
func testApp(t *testing.T, fake *fakeTemporal, env map[string]string) (*app, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] },
		tcfg: config.Temporal{Address: "127.0.0.1:7233", Namespace: "default", UIURL: "http://ui"}, now: func() time.Time { return testNow }}
	a.dial = func(context.Context) (temporalAPI, func(), error) {
		if fake == nil {
			t.Fatal("this command line should not reach Temporal")
			return nil, nil, fmt.Errorf("no")
		}
		return fake, func() {}, nil
	}
	return a, &out, &errb
}

// runMi runs one command line and returns its exit status, stdout and stderr.
func runMi(t *testing.T, fake *fakeTemporal, env map[string]string, line ...string) (int, string, string) {
	t.Helper()
	a, out, errb := testApp(t, fake, env)
	code := a.run(context.Background(), line)
	return code, out.String(), errb.String()
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}
