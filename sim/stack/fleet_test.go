package stack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	simgithub "github.com/sourcegraph/lifecycle/sim/github"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// startFleetSim runs the whole simulator with a long rollout delay: seeded instances must serve at
// once anyway, because their rollout landed long ago.
func startFleetSim(t *testing.T) *sim.Sim {
	t.Helper()
	s, err := stack.Start(sim.Config{Timings: sim.Timings{Rollout: sim.Duration(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, s *sim.Sim, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func postFleet(t *testing.T, s *sim.Sim, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.URL()+"/_sim/fleet", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// snapshot returns one part's state as generic JSON.
func snapshot(t *testing.T, s *sim.Sim, part string) map[string]any {
	t.Helper()
	b, err := json.Marshal(s.Snapshot()[part])
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSeedFleetServesAtOnce(t *testing.T) {
	s := startFleetSim(t)
	no := false
	fleet := []stack.FleetInstance{
		{Slug: "acme", Version: "5.9.0"},
		{Slug: "globex", Version: "5.8.0", Type: spec.Trial, Size: spec.Medium, Region: "europe-west3",
			Labels: map[string]string{"account": "globex-corp"}},
		{Slug: "initech", Version: "5.10.0", Domain: "initech.sourcegraph.com", Size: spec.Large, ReleaseChannel: spec.Pause,
			Alerting: &no, MaintenanceWindow: &spec.MaintenanceWindow{Days: []string{"sat"}, StartHour: 2, Hours: 4}},
	}
	before := time.Now()
	if err := stack.SeedFleet(s, fleet); err != nil {
		t.Fatal(err)
	}
	for _, f := range fleet {
		host := f.Domain
		if host == "" {
			host = spec.DefaultDomain(f.Slug)
		}
		if code, body := get(t, s, host, "/__version"); code != 200 || body != f.Version {
			t.Errorf("%s /__version = %d %q, want 200 %q", host, code, body, f.Version)
		}
		if code, body := get(t, s, host, "/healthz"); code != 200 {
			t.Errorf("%s /healthz = %d %q", host, code, body)
		}
	}

	// config.yaml as create writes it, alerting as its last step leaves it.
	gh := s.Part("github").(*simgithub.Part)
	raw, ok := gh.File("sourcegraph/cloud", "", spec.ConfigPath("prod", "globex"))
	if !ok {
		t.Fatal("globex has no config.yaml on the default branch")
	}
	c, err := spec.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type() != spec.Trial || c.Metadata.Labels["account"] != "globex-corp" || c.Spec.Size != spec.Medium ||
		c.Spec.ReleaseChannel != spec.Stable || !c.Spec.Debug.EnableAlerting || !c.Spec.Debug.EnableDeletionProtection ||
		c.Status != spec.StatusFor("globex", "europe-west3") {
		t.Errorf("globex config.yaml:\n%s", raw)
	}
	raw, _ = gh.File("sourcegraph/cloud", "", spec.ConfigPath("prod", "initech"))
	if c, err := spec.Parse(raw); err != nil || c.Spec.Debug.EnableAlerting || c.Spec.ReleaseChannel != spec.Pause || c.Spec.MaintenanceWindow == nil {
		t.Errorf("initech config.yaml (%v):\n%s", err, raw)
	}

	// One commit for the whole fleet: the default branch moved once after the initial commit.
	if n := s.Ledger()["github/repos/sourcegraph/cloud/branches/main"].Mutated; n != 1 {
		t.Errorf("main moved %d times, want 1 (one commit for the fleet)", n)
	}

	// Rollouts landed long ago, with their merge times in the state dump.
	if n := len(snapshot(t, s, "instances")["instances"].([]any)); n != 3 {
		t.Fatalf("%d instances in the state dump, want 3", n)
	}
	for _, in := range snapshot(t, s, "instances")["instances"].([]any) {
		inst := in.(map[string]any)
		rollouts := inst["rollouts"].([]any)
		at, _ := time.Parse(time.RFC3339Nano, rollouts[0].(map[string]any)["mergedAt"].(string))
		if len(rollouts) != 1 || inst["status"] != "serving" || !at.Before(before.Add(-time.Hour)) {
			t.Errorf("instance %v: want one rollout merged over an hour ago and serving", inst)
		}
	}

	// The cloud resources are in their final states.
	for part, list := range map[string]string{"gke": "clusters", "cloudsql": "instances", "gkebackup": "backupPlans", "cloudflare": "dns_records"} {
		if n := len(snapshot(t, s, part)[list].([]any)); n != 3 {
			t.Errorf("%s has %d %s, want 3", part, n, list)
		}
	}
	for _, c := range snapshot(t, s, "gke")["clusters"].([]any) {
		cl := c.(map[string]any)
		pool := cl["nodePools"].([]any)[0].(map[string]any)
		// Totals over 3 zones: small's 2 and medium's 3 are 1 per zone, large's 4 is 2 per zone.
		want := map[string]float64{"src-acme": 3, "src-globex": 3, "src-initech": 6}
		project := strings.Split(cl["name"].(string), "/")[1]
		if cl["status"] != "RUNNING" || pool["status"] != "RUNNING" || pool["name"] != "primary" || pool["nodeCount"] != want[project] {
			t.Errorf("cluster %v: want RUNNING with a RUNNING primary pool of %v nodes", cl, want[project])
		}
	}
	if ops := snapshot(t, s, "gke")["operations"].([]any); len(ops) != 0 {
		t.Errorf("seeding left GKE operations: %v", ops)
	}
	for _, i := range snapshot(t, s, "cloudsql")["instances"].([]any) {
		in := i.(map[string]any)
		if in["state"] != "RUNNABLE" || in["activationPolicy"] != "ALWAYS" || in["deletionProtectionEnabled"] != true || in["serving"] != true {
			t.Errorf("Cloud SQL instance %v: want RUNNABLE, ALWAYS, protected", in)
		}
	}
	for _, p := range snapshot(t, s, "gkebackup")["backupPlans"].([]any) {
		if plan := p.(map[string]any); plan["state"] != "READY" || plan["cronSchedule"] != "0 3 * * *" || plan["backupRetainDays"] != 90.0 {
			t.Errorf("backup plan %v: want READY, daily, 90 days", plan)
		}
	}
	recs := map[string]map[string]any{}
	for _, r := range snapshot(t, s, "cloudflare")["dns_records"].([]any) {
		rec := r.(map[string]any)
		recs[rec["name"].(string)] = rec
	}
	if r := recs["initech.sourcegraph.com"]; r == nil || r["zone"] != "sourcegraph.com" || r["type"] != "CNAME" ||
		r["content"] != spec.IngressHost("initech") || r["proxied"] != true {
		t.Errorf("initech DNS record: %v", r)
	}
	for _, key := range []string{
		"resourcemanager/projects/src-acme", "gke/projects/src-acme/locations/us-central1/clusters/sourcegraph",
		"gke/projects/src-acme/locations/us-central1/clusters/sourcegraph/nodePools/primary",
		"cloudsql/projects/src-acme/instances/sourcegraph-db",
		"gkebackup/projects/src-acme/locations/us-central1/backupPlans/sourcegraph-daily",
		"github/repos/sourcegraph/cloud/contents/environments/prod/deployments/acme/config.yaml",
	} {
		if c := s.Ledger()[key]; c.Created != 1 || c.Deleted != 0 {
			t.Errorf("ledger %s = %+v, want created once", key, c)
		}
	}
}

func TestSeedFleetEndpoint(t *testing.T) {
	s := startFleetSim(t)
	code, out := postFleet(t, s, `{"instances":[{"slug":"acme","version":"5.9.0","labels":{"account":"acme-inc"}},
		{"slug":"umbrella","version":"5.8.0","type":"internal","size":"medium","region":"asia-northeast1",
		 "maintenanceWindow":{"days":["sun"],"startHour":1,"hours":3},"alerting":false}]}`)
	if code != 201 {
		t.Fatalf("POST /_sim/fleet = %d %v", code, out)
	}
	got := out["instances"].([]any)
	acme, umbrella := got[0].(map[string]any), got[1].(map[string]any)
	if acme["domain"] != "acme.sourcegraphcloud.com" || acme["type"] != "production" || acme["size"] != "small" ||
		acme["region"] != "us-central1" || acme["releaseChannel"] != "stable" || acme["alerting"] != true ||
		acme["projectId"] != "src-acme" || acme["configPath"] != "environments/prod/deployments/acme/config.yaml" {
		t.Errorf("acme as seeded: %v", acme)
	}
	if umbrella["alerting"] != false || umbrella["maintenanceWindow"].(map[string]any)["startHour"] != 1.0 {
		t.Errorf("umbrella as seeded: %v", umbrella)
	}
	if out["commit"] == "" || out["mergedAt"] == "" {
		t.Errorf("answer lacks commit or mergedAt: %v", out)
	}
	if code, body := get(t, s, "umbrella.sourcegraphcloud.com", "/__version"); code != 200 || body != "5.8.0" {
		t.Errorf("umbrella /__version = %d %q", code, body)
	}

	for _, c := range []struct{ body, field, says string }{
		{`{"instances":[]}`, "instances", "at least one"},
		{`{"instances":[{"slug":"wayne"}]}`, "instances[0].version", "required"},
		{`{"instances":[{"slug":"wayne","version":"v5.9.0"}]}`, "instances[0].version", "without the `v`"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0","size":"huge"}]}`, "instances[0].size", "small, medium or large"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0","releaseChannel":"beta"}]}`, "instances[0].releaseChannel", "stable, pause or insiders"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0","region":"us-east1"}]}`, "instances[0].region", "must be one of"},
		{`{"instances":[{"slug":"Wayne","version":"5.9.0"}]}`, "instances[0].slug", "lowercase"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0","labels":{"instance-type":"trial"}}]}`, "instances[0].labels", "from `type`"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0","maintenanceWindow":{"days":["someday"],"startHour":1,"hours":1}}]}`, "instances[0].maintenanceWindow", "days must be"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0"},{"slug":"wayne","version":"5.9.0"}]}`, "instances[1].slug", "given twice"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0"},{"slug":"bruce","version":"5.9.0","domain":"wayne.sourcegraphcloud.com"}]}`, "instances[1].domain", "given twice"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0"},{"slug":"acme","version":"5.9.0"}]}`, "instances[1].slug", "already has a config.yaml"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0","domain":"umbrella.sourcegraphcloud.com"}]}`, "instances[0].domain", "already used by instance `umbrella`"},
		{`{"instances":[{"slug":"wayne","version":"5.9.0","domain":"wayne.example.com"}]}`, "instances[0].domain", "no Cloudflare zone"},
	} {
		code, out := postFleet(t, s, c.body)
		if code != 400 || out["field"] != c.field || !strings.Contains(fmt.Sprint(out["error"]), c.says) {
			t.Errorf("%s: got %d %v, want 400 naming %s (%q)", c.body, code, out, c.field, c.says)
		}
	}
	if code, out := postFleet(t, s, `{"instances":[{"slug":"wayne","version":"5.9.0","sizee":"small"}]}`); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), `"sizee"`) {
		t.Errorf("unknown field: got %d %v", code, out)
	}
	// A rejected request seeded nothing, not even its valid instances.
	if code, _ := get(t, s, "wayne.sourcegraphcloud.com", "/healthz"); code != 404 {
		t.Errorf("wayne answers %d after rejected requests, want 404 (not seeded)", code)
	}
	if n := snapshot(t, s, "fleet")["seededInstances"]; n != 2.0 {
		t.Errorf("fleet state says %v instances seeded, want 2", n)
	}
}

// fleetOf is n default instances.
func fleetOf(n int) []stack.FleetInstance {
	out := make([]stack.FleetInstance, n)
	for i := range out {
		out[i] = stack.FleetInstance{Slug: fmt.Sprintf("customer-%05d", i), Version: "5.9.0"}
	}
	return out
}

// benchmarkSeed seeds n instances per iteration into a fresh (reset) simulator.
func benchmarkSeed(b *testing.B, n int) {
	s := sim.New(sim.Config{Logger: nil}, stack.Parts(simgithub.DefaultOptions())...)
	fleet := fleetOf(n)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s.Reset()
		b.StartTimer()
		if err := stack.SeedFleet(s, fleet); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/instance")
}

// BenchmarkSeedFleet seeds 1,000 instances.
func BenchmarkSeedFleet(b *testing.B) { benchmarkSeed(b, 1000) }

// BenchmarkSeedFleet10k seeds 10,000 instances, the size fleet benchmarks start from.
func BenchmarkSeedFleet10k(b *testing.B) { benchmarkSeed(b, 10000) }
