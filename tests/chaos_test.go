package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

// chaosSeed is the run's random seed, printed so a failure can be replayed
// (LIFECYCLE_CHAOS_SEED=<seed>).
func chaosSeed(t *testing.T) *rand.Rand {
	t.Helper()
	if os.Getenv("LIFECYCLE_CHAOS") != "1" {
		t.Skip("chaos tests run with LIFECYCLE_CHAOS=1 (make chaos): they take minutes")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("LIFECYCLE_CHAOS_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("LIFECYCLE_CHAOS_SEED=%q: want a number", v)
		}
		seed = s
	}
	t.Logf("chaos seed %d (replay with LIFECYCLE_CHAOS_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed>>1))
}

// TestChaosWorkerKills runs a create and a fleet rollout of 8 instances while the worker is
// SIGKILLed at random moments (at least 20 times) and restarted each time. Everything must still
// finish, every cloud resource must have been created once, every change must have one pull
// request, and no status comment may be duplicated.
func TestChaosWorkerKills(t *testing.T) {
	rng := chaosSeed(t)
	tc := temporalClient(t)
	ctx := context.Background()
	var fleet []seeded
	for i := 1; i <= 8; i++ {
		typ := "production"
		if i <= 2 {
			typ = "trial"
		}
		fleet = append(fleet, seeded{Slug: fmt.Sprintf("ch-%d", i), Type: typ, Version: "5.9.0"})
	}
	b, _ := json.Marshal(map[string]any{"instances": fleet})
	simJSON(t, http.MethodPost, "/_sim/fleet", bytes.NewReader(b), nil)

	const created = "ch-create"
	createIssue := fileIssue(t, "alice", forms.OpCreate, "New instance: "+created, devstack.SampleNewInstanceBody(created))
	tracking := fileIssue(t, "alice", forms.OpUpgradeFleet, "5.10.0 upgrade (chaos)", upgradeBody("5.10.0"))
	rolloutID := workflows.RolloutWorkflowID(workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: tracking.GetNumber()})

	done := func() (bool, string) {
		r, err := instance(t, tc, created)
		st, rerr := rolloutOf(t, tc, rolloutID)
		if err != nil || rerr != nil {
			return false, fmt.Sprintf("instance %v / rollout %v", err, rerr)
		}
		return r.State == workflows.StateActive && r.Current == nil && st.Phase == workflows.PhaseDone,
			fmt.Sprintf("instance %s, rollout %s (%s)", r.State, st.Phase, st.Reason)
	}
	kills, deadline := 0, time.Now().Add(10*time.Minute)
	for {
		finished, where := done()
		if finished && kills >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d worker kills, not finished: %s", kills, where)
		}
		time.Sleep(time.Duration(1000+rng.IntN(5000)) * time.Millisecond)
		if err := stack.Kill("worker", syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		kills++
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		if err := stack.Start(ctx, "worker"); err != nil {
			t.Fatalf("restarting the worker after kill %d: %v", kills, err)
		}
	}

	// Every resource of the chaos instances was created once: a retried activity found what its
	// killed attempt had made instead of making it again.
	duplicates := 0
	var all map[string]counts
	simJSON(t, http.MethodGet, "/_sim/ledger", nil, &all)
	for k, c := range all {
		if strings.Contains(k, "ch-") && c.Created > 1 {
			duplicates++
			t.Errorf("%s was created %d times", k, c.Created)
		}
	}
	// One pull request per config change (branch).
	prs, _, err := stack.GitHubAs("bob").PullRequests.List(ctx, "sourcegraph", "cloud", &github.PullRequestListOptions{State: "all", ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		t.Fatal(err)
	}
	perBranch := map[string]int{}
	for _, pr := range prs {
		if strings.HasPrefix(pr.GetHead().GetRef(), "ch-") {
			perBranch[pr.GetHead().GetRef()]++
		}
	}
	for br, n := range perBranch {
		if n > 1 {
			duplicates++
			t.Errorf("branch %s has %d pull requests", br, n)
		}
	}
	// Batched changes (one pull request for several instances) leave none open behind: a batch
	// whose worker was killed is merged by its changes' retries, not opened again.
	for _, pr := range prs {
		if pr.GetState() == "open" && strings.Contains(pr.GetBody(), "`ch-") {
			duplicates++
			t.Errorf("pull request #%d (%s) is still open: %s", pr.GetNumber(), pr.GetHead().GetRef(), pr.GetTitle())
		}
	}
	// One comment per marker on each issue.
	for _, is := range []*github.Issue{createIssue, tracking} {
		seen := map[string]int{}
		for _, c := range botComments(t, is.GetNumber()) {
			if first, _, _ := strings.Cut(c.GetBody(), "\n"); strings.HasPrefix(first, "<!-- lifecycle:") {
				seen[first]++
			}
		}
		for m, n := range seen {
			if n > 1 {
				duplicates++
				t.Errorf("issue #%d has %d comments marked %s", is.GetNumber(), n, m)
			}
		}
	}
	st, _ := rolloutOf(t, tc, rolloutID)
	upgraded := 0
	for _, w := range st.Waves {
		for _, in := range w.Instances {
			if strings.HasPrefix(in.Slug, "ch-") && in.Status == workflows.UpgradeSucceeded {
				upgraded++
			}
		}
	}
	if upgraded != len(fleet) {
		t.Errorf("%d of %d chaos instances upgraded", upgraded, len(fleet))
	}
	t.Logf("worker kills: %d; completions: create 1/1, upgrades %d/%d; duplicates: %d; branches with a PR: %d",
		kills, upgraded, len(fleet), duplicates, len(perBranch))
}

// TestChaosFaultRate creates an instance while 10 % of the requests to every cloud API and to
// GitHub fail with 503 or 429 (with Retry-After): the retries absorb them and it completes.
func TestChaosFaultRate(t *testing.T) {
	chaosSeed(t) // the fault rules' randomness is the simulator's; the seed only gates the test
	tc := temporalClient(t)
	const slug = "ch-faults"
	fileIssue(t, "alice", forms.OpCreate, "New instance: "+slug, devstack.SampleNewInstanceBody(slug))
	var ids []int64
	for _, api := range []string{"resourcemanager", "gke", "gkebackup", "cloudsql", "cloudflare", "github"} {
		for _, f := range []map[string]any{
			{"api": api, "rate": 0.05, "status": 503, "message": "chaos: service unavailable"},
			{"api": api, "rate": 0.05, "status": 429, "retryAfter": "1s", "message": "chaos: slow down"},
		} {
			b, _ := json.Marshal(f)
			var added struct {
				ID int64 `json:"id"`
			}
			simJSON(t, http.MethodPost, "/_sim/faults", bytes.NewReader(b), &added)
			ids = append(ids, added.ID)
		}
	}
	defer func() {
		for _, id := range ids {
			simJSON(t, http.MethodDelete, fmt.Sprintf("/_sim/faults?id=%d", id), nil, nil)
		}
	}()
	waitState(t, tc, slug, workflows.StateActive, 4*time.Minute)
	var faults []struct {
		API   string `json:"api"`
		Fired int    `json:"fired"`
	}
	simJSON(t, http.MethodGet, "/_sim/faults", nil, &faults)
	fired := 0
	for _, f := range faults {
		fired += f.Fired
	}
	if fired == 0 {
		t.Fatal("no fault fired: the test did not test anything")
	}
	t.Logf("create completed through %d injected 5xx/429 answers", fired)
}

// TestChaosTemporalRestart runs a second stack whose dev server keeps its history in a file
// database, files a create, and SIGKILLs and restarts the dev server (same database) three times
// while it runs: the create still completes, each resource made once.
func TestChaosTemporalRestart(t *testing.T) {
	rng := chaosSeed(t)
	ctx := context.Background()
	s2, tc2 := persistentStack(t)
	const slug = "ch-restart"
	if _, err := s2.FileNewInstance(ctx, slug); err != nil {
		t.Fatal(err)
	}
	restarts := 0
	for ; restarts < 3; restarts++ {
		time.Sleep(time.Duration(1000+rng.IntN(3000)) * time.Millisecond)
		if err := s2.Kill("temporal", syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := s2.Start(ctx, "temporal"); err != nil {
			t.Fatalf("restarting the dev server (restart %d): %v", restarts+1, err)
		}
	}
	var state workflows.InstanceState
	eventually(t, 3*time.Minute, slug+" to become active after the dev server restarts", func() bool {
		v, err := tc2.QueryWorkflow(ctx, workflows.InstanceWorkflowID(slug), "", workflows.QueryInstance)
		if err != nil {
			return false
		}
		var r workflows.InstanceRecord
		if v.Get(&r) != nil {
			return false
		}
		state = r.State
		return r.State == workflows.StateActive && r.Current == nil
	})
	req, _ := http.NewRequest(http.MethodGet, s2.SimURL()+"/_sim/ledger", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ledger map[string]counts
	if err := json.NewDecoder(resp.Body).Decode(&ledger); err != nil {
		t.Fatal(err)
	}
	duplicates := 0
	for k, c := range ledger {
		if strings.Contains(k, slug) && c.Created > 1 {
			duplicates++
			t.Errorf("%s was created %d times", k, c.Created)
		}
	}
	t.Logf("dev server restarts: %d; create: %s; duplicates: %d", restarts, state, duplicates)
}
