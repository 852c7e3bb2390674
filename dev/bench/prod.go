package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/workflows"
)

// Topologies: where Temporal runs.
const (
	// TopologyDev is the Temporal CLI's dev server, in memory (SQLite), one worker.
	TopologyDev = "dev"
	// TopologyProd is production-like: the Temporal server on PostgreSQL (devstack.ProdTemporal),
	// two worker processes, one SIGKILLed mid-rollout, and an end-to-end create first.
	TopologyProd = "prod"
)

// TopologyName is how the table and the plot name a topology.
func TopologyName(t string) string {
	if t == TopologyProd {
		return "production-like (server on PostgreSQL, 2 workers)"
	}
	return "dev server"
}

// stackOptions sets the topology's Temporal and workers.
func (c Config) stackOptions(o *devstack.Options) error {
	if c.Topology != TopologyProd {
		return nil
	}
	p, err := devstack.NewProdTemporal(o.BinDir)
	if err != nil {
		return err
	}
	o.Prod, o.Workers = p, 2
	return nil
}

// CreateRun is one end-to-end create on the stack: a new-instance issue filed as a customer
// engineer through the simulated GitHub, until the instance is active.
type CreateRun struct {
	Slug     string   `json:"slug"`
	Duration Duration `json:"duration"` // issue filed → instance active, its create done
}

// runCreate files a new-instance issue and waits for the instance to be active with no operation
// running (the create's own soak included).
func runCreate(ctx context.Context, c Config, s *devstack.Stack, tc client.Client, slug string) (*CreateRun, error) {
	c.logf("create of %s: filing the new-instance issue", slug)
	start := time.Now()
	if _, err := s.FileNewInstance(ctx, slug); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		v, err := tc.QueryWorkflow(ctx, workflows.InstanceWorkflowID(slug), "", workflows.QueryInstance)
		if err == nil {
			var r workflows.InstanceRecord
			if err = v.Get(&r); err == nil && r.State == workflows.StateActive && r.Current == nil {
				d := time.Since(start)
				c.logf("create of %s: active after %s", slug, d.Round(time.Millisecond))
				return &CreateRun{Slug: slug, Duration: Duration(d)}, nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("instance %s not active 5 minutes after its new-instance issue (last query error: %v); see the worker logs", slug, last)
}

// workerKiller SIGKILLs worker2 once half the fleet is upgraded (the production-like topology):
// the rollout must finish on the other worker, its lost activities retried there.
type workerKiller struct {
	c      Config
	s      *devstack.Stack
	n      int
	killed string
	// cpu is worker2's CPU seconds just before the kill: what it used stays in the figures.
	cpu float64
}

func (k *workerKiller) progress(done int) {
	if k.c.Topology != TopologyProd || k.killed != "" || done < k.n/2 {
		return
	}
	if pid, ok := k.s.PID("worker2"); ok {
		k.cpu = treeCPU(pid)
	}
	if err := k.s.Kill("worker2", syscall.SIGKILL); err != nil {
		k.killed = "kill failed: " + err.Error()
		return
	}
	k.killed = fmt.Sprintf("worker2 SIGKILLed at %d of %d upgraded", done, k.n)
	k.c.logf("  %s", k.killed)
}

// children are the processes whose parent is pid (PostgreSQL's backends: one per connection).
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(c); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, c)
		}
	}
	return out
}

// procStat is /proc/<pid>/stat's fields after the command name (state, ppid, ...).
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// treeCPU is the CPU seconds of a process, of its children still running, and of those that
// exited (the kernel adds them to the parent's cutime and cstime): PostgreSQL's work is in its
// backends, not the postmaster.
func treeCPU(pid int) float64 {
	total := cpuSeconds(pid)
	if f := procStat(pid); len(f) >= 15 {
		cut, _ := strconv.ParseFloat(f[13], 64)
		cst, _ := strconv.ParseFloat(f[14], 64)
		total += (cut + cst) / 100
	}
	for _, c := range children(pid) {
		total += cpuSeconds(c)
	}
	return total
}

// treeRSS is the memory of a process and its children, in MB: the sum of their proportional set
// sizes (Pss), so pages they share (PostgreSQL's shared buffers) count once, not once per backend.
func treeRSS(pid int) (float64, bool) {
	total, ok := pss(pid)
	if !ok {
		return 0, false
	}
	for _, c := range children(pid) {
		v, _ := pss(c)
		total += v
	}
	return total, true
}

// pss is a process's Pss from /proc/<pid>/smaps_rollup in MB, or its VmRSS where that is unreadable.
func pss(pid int) (float64, bool) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Pss:"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
				if err == nil {
					return kb / 1024, true
				}
			}
		}
	}
	rss, _, ok := procMemory(pid)
	return rss, ok
}
