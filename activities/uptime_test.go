package activities

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/cloudflare/cloudflare-go"
	compute "google.golang.org/api/compute/v1"
	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// upFixture is a serving instance in the simulator, built the way the create workflow will:
// project, cluster, Cloud SQL and DNS through their real clients, config through ConfigRepo.
type upFixture struct {
	s    *sim.Sim
	up   *Uptime
	cr   *ConfigRepo
	slug string
	host string
}

func upServingInstance(t *testing.T, version string) *upFixture {
	t.Helper()
	ctx := context.Background()
	s := startSim(t)
	cc := cloudConfig(s)
	f := &upFixture{s: s, slug: "acme", host: spec.DefaultDomain("acme")}
	var err error
	if f.up, err = NewUptime(cc); err != nil {
		t.Fatal(err)
	}
	gh, err := NewGitHub("bot-token", s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.cr, err = NewConfigRepo(gh, cc); err != nil {
		t.Fatal(err)
	}
	g := spec.StatusFor(f.slug, "us-central1").GCP

	rm, err := resourcemanager.NewProjectsClient(ctx, GCPOptions(cc)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close() })
	op, err := rm.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: g.ProjectID, Parent: "folders/123"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	stack.MakeUsable(s, g.ProjectID)
	gke, err := container.NewClusterManagerClient(ctx, GCPOptions(cc)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gke.Close() })
	parent := "projects/" + g.ProjectID + "/locations/" + g.Region
	// New projects have no "default" network: the cluster goes on one of its own, as the create's.
	cs, err := compute.NewService(ctx, ComputeOptions(cc)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Networks.Insert(g.ProjectID, &compute.Network{Name: spec.NetworkName}).Do(); err != nil {
		t.Fatal(err)
	}
	if _, err := gke.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: g.Cluster, Network: spec.NetworkName, NodePools: []*containerpb.NodePool{{Name: g.NodePool, InitialNodeCount: 1}}}}); err != nil {
		t.Fatal(err)
	}
	sql, err := sqladmin.NewService(ctx, SQLAdminOptions(cc)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sql.Instances.Insert(g.ProjectID, &sqladmin.DatabaseInstance{Name: g.CloudSQL, DatabaseVersion: "POSTGRES_16",
		Region: g.Region, Settings: &sqladmin.Settings{Tier: "db-custom-2-8192", Edition: "ENTERPRISE"}}).Do(); err != nil {
		t.Fatal(err)
	}
	cf, err := cloudflare.NewWithAPIToken(cc.CloudflareToken, cloudflare.BaseURL(cc.CloudflareAPIURL),
		cloudflare.UsingRateLimit(1000), cloudflare.UsingRetryPolicy(0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	zones, err := cf.ListZones(ctx, spec.DefaultDomainSuffix)
	if err != nil || len(zones) != 1 {
		t.Fatalf("zone %s: %v %v", spec.DefaultDomainSuffix, zones, err)
	}
	if _, err := cf.CreateDNSRecord(ctx, cloudflare.ZoneIdentifier(zones[0].ID),
		cloudflare.CreateDNSRecordParams{Type: "CNAME", Name: f.host, Content: g.IngressHost, Proxied: cloudflare.BoolPtr(true)}); err != nil {
		t.Fatal(err)
	}
	f.setVersion(t, version)
	// Serving means answering: wait for the cluster, the database and the rollout to land.
	if _, err := f.up.Soak(ctx, SoakInput{Host: f.host, ExpectedVersion: version, Consecutive: 1, Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err != nil {
		t.Fatalf("the instance never served %s: %v", version, err)
	}
	return f
}

// setVersion merges the instance's config at version through the config repo (the deploy).
func (f *upFixture) setVersion(t *testing.T, version string) {
	t.Helper()
	c := crConfig(f.slug, "production", version)
	if _, err := f.cr.ChangeInstanceConfig(context.Background(), ChangeConfigInput{Slug: f.slug, Config: c, ChangeID: "version-" + version}); err != nil {
		t.Fatal(err)
	}
}

func (f *upFixture) soak(t *testing.T, in SoakInput) (SoakResult, error) {
	t.Helper()
	v, err := activityEnv(f.up).ExecuteActivity(f.up.Soak, in)
	if err != nil {
		return SoakResult{}, err
	}
	var r SoakResult
	return r, v.Get(&r)
}

func TestUptimeProbeReportsDataNotErrors(t *testing.T) {
	s := startSim(t)
	up, err := NewUptime(cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	env := activityEnv(up)
	v, err := env.ExecuteActivity(up.Probe, ProbeInput{Host: "nobody.sourcegraphcloud.com"})
	if err != nil {
		t.Fatalf("an unknown instance is an answer, not an error: %v", err)
	}
	var r ProbeResult
	_ = v.Get(&r)
	if r.Healthy || r.HealthzStatus != http.StatusNotFound || !strings.Contains(r.Error, "no instance is configured") {
		t.Fatalf("probe of an unknown instance: %+v", r)
	}
	_, err = env.ExecuteActivity(up.Probe, ProbeInput{Host: "https://acme.sourcegraphcloud.com/"})
	appError(t, err, ErrInvalidArgument, true)

	// Nothing listens here: still data (unreachable), not a failed activity.
	closed, _ := NewUptime(cloudConfig(s))
	closed.ProbeURL = "http://127.0.0.1:1"
	v, err = activityEnv(closed).ExecuteActivity(closed.Probe, ProbeInput{Host: "acme.sourcegraphcloud.com"})
	if err != nil {
		t.Fatal(err)
	}
	_ = v.Get(&r)
	if r.Healthy || r.HealthzStatus != 0 || !strings.Contains(r.Error, "GET /healthz") {
		t.Fatalf("unreachable: %+v", r)
	}
	if _, err := NewUptime(cloudConfigWithProbe(s, "127.0.0.1:8090")); err == nil {
		t.Fatal("a probe URL without scheme must be refused")
	}
}

func cloudConfigWithProbe(s *sim.Sim, u string) (c config.Cloud) {
	c = cloudConfig(s)
	c.ProbeURL = u
	return c
}

func TestUptimeSoakServingInstance(t *testing.T) {
	f := upServingInstance(t, "5.9.0")
	r, err := f.soak(t, SoakInput{Host: f.host, ExpectedVersion: "5.9.0", Consecutive: 3, Interval: 20 * time.Millisecond, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != "5.9.0" || r.Consecutive != 3 || r.Probes < 3 || r.Resumed {
		t.Fatalf("soak: %+v", r)
	}
	v, err := activityEnv(f.up).ExecuteActivity(f.up.Probe, ProbeInput{Host: f.host})
	if err != nil {
		t.Fatal(err)
	}
	var p ProbeResult
	_ = v.Get(&p)
	if !p.Healthy || p.Version != "5.9.0" || p.HealthzStatus != 200 || p.VersionStatus != 200 || p.SignInStatus != 200 || p.Error != "" {
		t.Fatalf("probe: %+v", p)
	}

	// Waiting for a version that is not being rolled out times out, saying what is served.
	_, err = f.soak(t, SoakInput{Host: f.host, ExpectedVersion: "5.10.0", Consecutive: 1, Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond})
	if ae := appError(t, err, ErrOperationFailed, true); !strings.Contains(ae.Error(), "still serves 5.9.0") {
		t.Fatalf("message: %v", ae)
	}

	// An upgrade: Soak with Consecutive 1 is "wait for version".
	f.setVersion(t, "5.10.0")
	r, err = f.soak(t, SoakInput{Host: f.host, ExpectedVersion: "5.10.0", Consecutive: 1, Interval: 20 * time.Millisecond, Timeout: 10 * time.Second})
	if err != nil || r.Version != "5.10.0" {
		t.Fatalf("wait for 5.10.0: %+v %v", r, err)
	}
}

func TestUptimeSoakTimesOutOnBadRelease(t *testing.T) {
	f := upServingInstance(t, "5.9.0")
	resp, err := http.Post(f.s.URL()+"/_sim/releases/5.11.0", "application/json", strings.NewReader(`{"bad":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.setVersion(t, "5.11.0")
	start := time.Now()
	_, err = f.soak(t, SoakInput{Host: f.host, ExpectedVersion: "5.11.0", Consecutive: 2, Interval: 20 * time.Millisecond, Timeout: 600 * time.Millisecond})
	ae := appError(t, err, ErrOperationFailed, true)
	msg := ae.Error()
	for _, want := range []string{"healthy on 5.11.0", "saw version 5.11.0", "/healthz 503", "marked bad", "roll back"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("timeout message must contain %q: %s", want, msg)
		}
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Fatalf("soak gave up after %s, want about the 600ms timeout", d)
	}
}

func TestUptimeSoakResumesFromHeartbeat(t *testing.T) {
	f := upServingInstance(t, "5.9.0")
	in := SoakInput{Host: f.host, ExpectedVersion: "5.9.0", Consecutive: 5, Interval: 20 * time.Millisecond, Timeout: time.Hour}
	run := func(details SoakProgress, in SoakInput) (SoakResult, error) {
		t.Helper()
		env := activityEnv(f.up)
		env.SetHeartbeatDetails(details)
		v, err := env.ExecuteActivity(f.up.Soak, in)
		if err != nil {
			return SoakResult{}, err
		}
		var r SoakResult
		return r, v.Get(&r)
	}
	now := time.Now()

	// A recent heartbeat: the streak continues, one more probe completes it.
	r, err := run(SoakProgress{Consecutive: 4, Probes: 9, LastVersion: "5.9.0", StartedAt: now.Add(-time.Second), At: now}, in)
	if err != nil || !r.Resumed || r.Probes != 10 || r.Consecutive != 5 {
		t.Fatalf("recent heartbeat: %+v %v", r, err)
	}
	// An old one: the blind spot restarts the streak, the probe count carries over.
	in.Consecutive = 2
	r, err = run(SoakProgress{Consecutive: 4, Probes: 9, StartedAt: now.Add(-10 * time.Minute), At: now.Add(-10 * time.Minute)}, in)
	if err != nil || r.Probes != 11 || r.Consecutive != 2 {
		t.Fatalf("stale heartbeat: %+v %v", r, err)
	}
	// The deadline counts from the first attempt: a retry after it probes once, then gives up.
	in.Consecutive, in.Timeout = 3, time.Minute
	_, err = run(SoakProgress{Probes: 9, StartedAt: now.Add(-2 * time.Minute), At: now.Add(-2 * time.Minute)}, in)
	if ae := appError(t, err, ErrOperationFailed, true); !strings.Contains(ae.Error(), "after 10 probes") {
		t.Fatalf("deadline message: %v", ae)
	}
}

// An upgrade's wait for its version and its soak as one call (SoakInput.VersionTimeout): each
// phase has its own bound and its own message.
func TestUptimeSoakWaitsForVersionThenSoaks(t *testing.T) {
	f := upServingInstance(t, "5.9.0")
	// Never at the version: the wait's failure, after the wait's bound, not the soak's.
	start := time.Now()
	_, err := f.soak(t, SoakInput{Host: f.host, ExpectedVersion: "5.10.0", Consecutive: 2, Interval: 20 * time.Millisecond,
		Timeout: time.Hour, VersionTimeout: 300 * time.Millisecond})
	ae := appError(t, err, ErrOperationFailed, true)
	for _, want := range []string{"did not become reporting version 5.10.0 (1 probes in a row) within 300ms", "still serves 5.9.0"} {
		if !strings.Contains(ae.Error(), want) {
			t.Fatalf("version-wait message must contain %q: %s", want, ae.Error())
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the wait gave up after %s, want about its 300ms", d)
	}

	// Deployed and healthy: the probe that first sees the version starts the streak.
	f.setVersion(t, "5.10.0")
	r, err := f.soak(t, SoakInput{Host: f.host, ExpectedVersion: "5.10.0", Consecutive: 3, Interval: 20 * time.Millisecond,
		Timeout: 10 * time.Second, VersionTimeout: 10 * time.Second})
	if err != nil || r.Version != "5.10.0" || r.Consecutive != 3 {
		t.Fatalf("wait then soak: %+v %v", r, err)
	}

	// Deployed but unhealthy: the soak's bound counts from the first probe at the version, and
	// the message is the soak's.
	resp, err := http.Post(f.s.URL()+"/_sim/releases/5.11.0", "application/json", strings.NewReader(`{"bad":true}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.setVersion(t, "5.11.0")
	_, err = f.soak(t, SoakInput{Host: f.host, ExpectedVersion: "5.11.0", Consecutive: 2, Interval: 20 * time.Millisecond,
		Timeout: 300 * time.Millisecond, VersionTimeout: time.Hour})
	ae = appError(t, err, ErrOperationFailed, true)
	for _, want := range []string{"healthy on 5.11.0", "within 300ms", "roll back"} {
		if !strings.Contains(ae.Error(), want) {
			t.Fatalf("soak message must contain %q: %s", want, ae.Error())
		}
	}
}
