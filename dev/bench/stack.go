package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/workflows"
)

// startStack starts the whole stack (dev server, simulator, worker, starter) as processes in a
// fresh folder, with the latencies set in the simulator and the settings in every process.
func startStack(ctx context.Context, c Config, l Latencies) (*devstack.Stack, func(), error) {
	dir, err := os.MkdirTemp("", "lifecycle-bench-")
	if err != nil {
		return nil, nil, err
	}
	ms := func(d time.Duration) string { return d.String() }
	opts := devstack.Options{
		Dir: dir, BinDir: filepath.Join(c.Root, "bin"), Temporal: filepath.Join(c.Root, "bin", "temporal"),
		InMemory: true, Headless: true, WebhookSecret: "bench-secret",
		Env: append([]string{
			"LIFECYCLE_SOAK_PROBES=" + strconv.Itoa(l.SoakProbes), "LIFECYCLE_SOAK_INTERVAL=" + ms(l.SoakInterval),
			"LIFECYCLE_ROLLOUT_BAKE=" + ms(l.Bake), "CLOUD_POLL_INTERVAL=" + ms(l.Poll), "LOG_LEVEL=warn",
		}, c.Env...),
		SimArgs: simArgs(l),
	}
	if err := c.stackOptions(&opts); err != nil {
		return nil, nil, err
	}
	if sc := c.GitHubTimeScale; sc > 0 {
		opts.SimArgs = append(opts.SimArgs, "-github-secondary-limits", "-github-time-scale", strconv.FormatFloat(sc, 'f', -1, 64))
		// The queue's rate is in real seconds, the simulator's windows in scaled ones.
		opts.Env = append(opts.Env, "LIFECYCLE_GITHUB_WRITES_PER_HOUR="+strconv.Itoa(int(float64(workflows.DefaultGitHubWritesPerHour)*sc)))
	}
	if err := opts.UseFreePorts(); err != nil {
		return nil, nil, err
	}
	s, err := devstack.Up(ctx, opts)
	if err != nil && strings.Contains(err.Error(), "address already in use") {
		// Another process took one of the free ports between the check and the bind: try new ones.
		devstack.Down(dir)
		if err := opts.UseFreePorts(); err != nil {
			return nil, nil, err
		}
		s, err = devstack.Up(ctx, opts)
	}
	stop := func() {
		if s != nil {
			s.Stop()
		}
		os.RemoveAll(dir)
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	if l.Merge > 0 {
		// The simulator merges at once; a fault rule with only a latency makes the merge take Merge.
		if err := simPost(ctx, s.SimURL()+"/_sim/faults", map[string]any{"api": "github", "method": "pulls.merge", "latency": ms(l.Merge)}); err != nil {
			stop()
			return nil, nil, err
		}
	}
	if err := deleteMergedBranches(ctx, s.GitHubAs("carol")); err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// simArgs set the simulator's latencies. GitHub's rate limit is lifted: an upgrade makes about
// twenty GitHub calls (the figures count them), so a benchmark that compresses a rollout of 1,000
// into minutes would spend 5,000 calls an hour in a few minutes, where a real rollout at its real
// pace (minutes per upgrade) spends a few hundred.
func simArgs(l Latencies) []string {
	return []string{"-sql-op", l.SQLBackup.String(), "-backup-op", l.GKEBackup.String(), "-rollout", l.Rollout.String(),
		"-github-rate-limit", "10000000"}
}

// githubCalls is how many GitHub API calls the bot's token has made this hour (every process of
// the stack uses it).
func githubCalls(ctx context.Context, simURL string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, simURL+"/api/v3/rate_limit", nil)
	req.Header.Set("Authorization", "token bot-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var rl struct {
		Rate struct{ Used int } `json:"rate"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rl); err != nil {
		return 0, fmt.Errorf("reading the simulated GitHub's rate limit: %w", err)
	}
	return rl.Rate.Used, nil
}

// githubWrites is what the bot's token spent of GitHub's write budget: content-creating requests
// accepted, and refused with a secondary limit.
func githubWrites(ctx context.Context, simURL string) (writes, refused int, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, simURL+"/_sim/github/writes", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var counts map[string]struct{ Writes, Refused int }
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil {
		return 0, 0, fmt.Errorf("reading the simulated GitHub's write counts: %w", err)
	}
	bot := counts["sg-cloud-bot"]
	return bot.Writes, bot.Refused, nil
}

func simPost(ctx context.Context, url string, body any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, e.Error)
	}
	return nil
}

// Memory is a process's resident memory: the peak (VmHWM) and the last sample.
type Memory struct {
	PeakMB float64 `json:"peakMB"`
	LastMB float64 `json:"lastMB"`
}

// memWatch samples the stack's processes' resident memory until stopped.
type memWatch struct {
	mu   sync.Mutex
	pids map[string]int
	got  map[string]Memory
	done chan struct{}
	wg   sync.WaitGroup
}

func watchMemory(s *devstack.Stack) *memWatch {
	m := &memWatch{pids: map[string]int{}, got: map[string]Memory{}, done: make(chan struct{})}
	for _, name := range devstack.Processes {
		if pid, ok := s.PID(name); ok {
			m.pids[name] = pid
		}
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memWatch) sample() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, pid := range m.pids {
		rss, hwm, ok := procMemory(pid)
		if name == "postgres" {
			// Its backends hold the memory; the sum's peak is sampled, not the kernel's.
			rss, ok = treeRSS(pid)
			hwm = rss
		}
		if !ok {
			continue
		}
		g := m.got[name]
		g.LastMB, g.PeakMB = rss, max(g.PeakMB, hwm, rss)
		m.got[name] = g
	}
}

// stop takes a last sample and returns every process's figures.
func (m *memWatch) stop() map[string]Memory {
	close(m.done)
	m.wg.Wait()
	m.sample()
	return m.got
}

// procMemory reads VmRSS and VmHWM (the kernel's own peak) in MB.
func procMemory(pid int) (rss, hwm float64, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, found := strings.Cut(sc.Text(), ":")
		if !found || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if k == "VmRSS" {
			rss = kb / 1024
		} else {
			hwm = kb / 1024
		}
	}
	return rss, hwm, true
}

// cpuSeconds is the CPU time (user + system) the process has used, from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// cpuOf is every stack process's CPU time so far.
func cpuOf(s *devstack.Stack) map[string]float64 {
	out := map[string]float64{}
	for _, name := range devstack.Processes {
		if pid, ok := s.PID(name); ok {
			out[name] = treeCPU(pid)
		}
	}
	return out
}

// machine names the CPU count and memory the figures were taken on.
func machine() string {
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0]); len(f) >= 2 {
			if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
				mem = fmt.Sprintf(", %.0f GiB", kb/1024/1024)
			}
		}
	}
	return fmt.Sprintf("%d CPUs%s, %s/%s, %s", runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// deleteMergedBranches sets the config repo as docs/operating.md asks: GitHub deletes a merged
// pull request's branch (delete_branch_on_merge), one write fewer per pull request for the bot.
func deleteMergedBranches(ctx context.Context, gh *github.Client) error {
	if _, _, err := gh.Repositories.Edit(ctx, "sourcegraph", "cloud", &github.Repository{DeleteBranchOnMerge: github.Bool(true)}); err != nil {
		return fmt.Errorf("turning delete_branch_on_merge on in the config repo: %w", err)
	}
	return nil
}
