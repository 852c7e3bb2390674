package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
)

// counter is a minimal part: POST /counter/{name} creates or bumps a counter whose value only
// becomes visible once its "operation" settles after Timings.SQLOperation.
type counter struct {
	s       *sim.Sim
	values  map[string]int
	pending map[string]bool
	failed  map[string]string
}

func newCounter(s *sim.Sim) sim.Part { c := &counter{s: s}; c.Reset(); return c }

func (c *counter) Name() string        { return "counter" }
func (c *counter) GRPC(g *grpc.Server) {}
func (c *counter) Snapshot() any       { return c.values }
func (c *counter) Reset() {
	c.values, c.pending, c.failed = map[string]int{}, map[string]bool{}, map[string]string{}
}

func (c *counter) Routes(r *sim.Routes) {
	r.ErrorWriter(func(w http.ResponseWriter, status int, msg string) {
		sim.WriteJSON(w, status, map[string]string{"counterError": msg})
	})
	r.Handle("bump", "POST /counter/{name}", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("name")
		fail := sim.OperationFailure(req.Context())
		defer c.s.Lock()()
		if _, ok := c.values[name]; ok {
			c.s.Mutated("counter", name)
		} else {
			c.s.Created("counter", name)
		}
		c.pending[name] = true
		c.s.After(c.s.Timings().SQLOperation.D(), func() {
			delete(c.pending, name)
			if fail != "" {
				c.failed[name] = fail
				return
			}
			c.values[name]++
		})
		w.WriteHeader(http.StatusAccepted)
	})
	r.Handle("get", "GET /counter/{name}", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("name")
		defer c.s.Lock()()
		sim.WriteJSON(w, 200, map[string]any{"value": c.values[name], "pending": c.pending[name], "failed": c.failed[name]})
	})
}

func start(t *testing.T, op time.Duration) *sim.Sim {
	t.Helper()
	s, err := sim.Start(sim.Config{Timings: sim.Timings{SQLOperation: sim.Duration(op)}}, newCounter)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func do(t *testing.T, method, url string, body any) (int, map[string]any, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func TestOperationsSettleOnTheClockAndLedgerCounts(t *testing.T) {
	s := start(t, 150*time.Millisecond)
	if st, _, _ := do(t, "POST", s.URL()+"/counter/a", nil); st != 202 {
		t.Fatalf("bump: %d", st)
	}
	_, m, _ := do(t, "GET", s.URL()+"/counter/a", nil)
	if m["pending"] != true || m["value"].(float64) != 0 {
		t.Fatalf("before the operation's duration the work must still be pending: %v", m)
	}
	time.Sleep(200 * time.Millisecond)
	_, m, _ = do(t, "GET", s.URL()+"/counter/a", nil)
	if m["pending"] == true || m["value"].(float64) != 1 {
		t.Fatalf("after the duration the work must have settled: %v", m)
	}
	do(t, "POST", s.URL()+"/counter/a", nil)
	if got := s.Ledger()["counter/a"]; got != (sim.Counts{Created: 1, Mutated: 1}) {
		t.Fatalf("ledger: %+v", got)
	}
	s.Reset()
	if len(s.Ledger()) != 0 {
		t.Fatal("reset must clear the ledger")
	}
}

func TestFaultRulesOverREST(t *testing.T) {
	s := start(t, 0)
	// Validation names the field.
	if st, m, _ := do(t, "POST", s.URL()+"/_sim/faults", map[string]any{"status": 500}); st != 400 || !strings.Contains(fmt.Sprint(m["error"]), `"api"`) {
		t.Fatalf("a fault without api must be refused naming the field: %d %v", st, m)
	}
	if st, m, _ := do(t, "POST", s.URL()+"/_sim/faults", map[string]any{"api": "counter", "statuss": 500}); st != 400 || !strings.Contains(fmt.Sprint(m["error"]), "statuss") {
		t.Fatalf("unknown fields must be refused: %d %v", st, m)
	}
	// 429 with Retry-After, twice, only for "b", rendered by the part's error writer.
	st, m, _ := do(t, "POST", s.URL()+"/_sim/faults", map[string]any{"api": "counter", "method": "bump", "match": "/b", "status": 429, "retryAfter": "3s", "count": 2})
	if st != 201 || m["id"].(float64) == 0 {
		t.Fatalf("add fault: %d %v", st, m)
	}
	for i := 0; i < 2; i++ {
		st, m, h := do(t, "POST", s.URL()+"/counter/b", nil)
		if st != 429 || h.Get("Retry-After") != "3" || m["counterError"] == nil {
			t.Fatalf("attempt %d: want 429 with Retry-After 3 in the part's format, got %d %v %v", i, st, h, m)
		}
	}
	if st, _, _ := do(t, "POST", s.URL()+"/counter/b", nil); st != 202 {
		t.Fatalf("the fault's count is spent; want 202, got %d", st)
	}
	if st, _, _ := do(t, "POST", s.URL()+"/counter/c", nil); st != 202 {
		t.Fatalf("match must limit the fault to /b; got %d", st)
	}
	// failOperation: the call succeeds, its operation ends in error.
	do(t, "POST", s.URL()+"/_sim/faults", map[string]any{"api": "counter", "method": "bump", "match": "/d", "failOperation": true, "message": "disk on fire"})
	if st, _, _ := do(t, "POST", s.URL()+"/counter/d", nil); st != 202 {
		t.Fatalf("failOperation must let the call succeed, got %d", st)
	}
	if _, m, _ := do(t, "GET", s.URL()+"/counter/d", nil); m["failed"] != "disk on fire" {
		t.Fatalf("the operation must end in the injected error: %v", m)
	}
	// Latency delays but serves.
	do(t, "POST", s.URL()+"/_sim/faults", map[string]any{"api": "counter", "method": "get", "latency": "150ms"})
	t0 := time.Now()
	if st, _, _ := do(t, "GET", s.URL()+"/counter/c", nil); st != 200 || time.Since(t0) < 150*time.Millisecond {
		t.Fatalf("latency fault: status %d after %s", st, time.Since(t0))
	}
	// Listing shows how often each fired; DELETE clears.
	var list []sim.Fault
	resp, _ := http.Get(s.URL() + "/_sim/faults")
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list) != 3 || list[0].Fired != 2 {
		t.Fatalf("fault list: %+v", list)
	}
	req, _ := http.NewRequest("DELETE", s.URL()+"/_sim/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("clear faults: %v %v", err, resp)
	}
	if len(s.Faults()) != 0 {
		t.Fatal("faults not cleared")
	}
}

func TestRateFaultsAreRepeatableWithASeed(t *testing.T) {
	pattern := func() string {
		s, err := sim.Start(sim.Config{Seed: 42}, newCounter)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.AddFault(sim.Fault{API: "counter", Status: 503, Rate: 0.3}); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i := 0; i < 40; i++ {
			st, _, _ := do(t, "POST", s.URL()+"/counter/x", nil)
			b.WriteString(map[bool]string{true: "x", false: "."}[st == 503])
		}
		return b.String()
	}
	a, b := pattern(), pattern()
	if a != b || !strings.Contains(a, "x") || !strings.Contains(a, ".") {
		t.Fatalf("same seed must give the same mix of failures and successes: %s vs %s", a, b)
	}
}

func TestTimingsAndStateEndpoints(t *testing.T) {
	s := start(t, 0)
	if st, m, _ := do(t, "POST", s.URL()+"/_sim/timings", map[string]any{"sqlOperation": "2s", "rollout": "500ms"}); st != 200 || m["sqlOperation"] != "2s" {
		t.Fatalf("timings: %d %v", st, m)
	}
	if st, _, _ := do(t, "POST", s.URL()+"/_sim/timings", map[string]any{"sqlOperation": "two seconds"}); st != 400 {
		t.Fatalf("bad duration must be refused, got %d", st)
	}
	do(t, "POST", s.URL()+"/counter/z", nil)
	_, m, _ := do(t, "GET", s.URL()+"/_sim/state", nil)
	if m["counter"] == nil || m["ledger"].(map[string]any)["counter/z"] == nil {
		t.Fatalf("state must include every part and the ledger: %v", m)
	}
}
