package instances_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/cloudflare/cloudflare-go"
	"github.com/google/go-github/v55/github"
	"google.golang.org/api/option"
	sqladmin "google.golang.org/api/sqladmin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// probe asks the simulated instance for path by Host header, as an uptime check would.
func probe(t *testing.T, s *sim.Sim, host, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
	req.Host = host
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInstanceServesOnlyWhatTheCloudsSay builds an instance step by step through the real clients
// and checks that it answers only once every piece exists, then follows rollouts, a bad release,
// the holding page and suspension.
func TestInstanceServesOnlyWhatTheCloudsSay(t *testing.T) {
	ctx := context.Background()
	// DefaultNetwork: the cluster below names no network (this test is about serving, not networks).
	s, err := stack.Start(sim.Config{Timings: sim.Timings{Rollout: sim.Duration(300 * time.Millisecond)}, DefaultNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	grpcOpts := []option.ClientOption{option.WithEndpoint(s.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	rm, err := resourcemanager.NewProjectsClient(ctx, grpcOpts...)
	if err != nil {
		t.Fatal(err)
	}
	gke, err := container.NewClusterManagerClient(ctx, grpcOpts...)
	if err != nil {
		t.Fatal(err)
	}
	sql, err := sqladmin.NewService(ctx, option.WithEndpoint(s.URL()+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	cf, err := cloudflare.NewWithAPIToken("test-token", cloudflare.BaseURL(s.URL()+"/client/v4"),
		cloudflare.UsingRateLimit(1000), cloudflare.UsingRetryPolicy(0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	gh, _ := github.NewClient(nil).WithAuthToken("bot-token").WithEnterpriseURLs(s.URL()+"/", s.URL()+"/")

	const slug, host = "acme", "acme.sourcegraphcloud.com"
	st := spec.StatusFor(slug, "us-central1")
	g := st.GCP
	writeConfig := func(version string) {
		t.Helper()
		c := &spec.Config{APIVersion: spec.APIVersion, Kind: spec.Kind,
			Metadata: spec.Metadata{Name: slug, Labels: map[string]string{"instance-type": "production"}},
			Spec: spec.Spec{SourcegraphVersion: version, Domain: spec.Domain{PrimaryDNSName: host},
				Infrastructure: spec.Infrastructure{GCP: spec.GCP{Region: "us-central1"}}, Size: spec.Small},
			Status: st}
		b, _ := c.Marshal()
		path := spec.ConfigPath("prod", slug)
		opts := &github.RepositoryContentFileOptions{Message: github.String(slug + ": " + version), Content: b}
		if cur, _, _, err := gh.Repositories.GetContents(ctx, "sourcegraph", "cloud", path, nil); err == nil {
			opts.SHA = cur.SHA
		}
		if _, _, err := gh.Repositories.CreateFile(ctx, "sourcegraph", "cloud", path, opts); err != nil {
			t.Fatal(err)
		}
	}
	status := func() int { code, _ := probe(t, s, host, "/healthz"); return code }

	if code := status(); code != http.StatusNotFound {
		t.Fatalf("an instance without config must not exist: %d", code)
	}
	writeConfig("5.9.0")
	if code := status(); code != 530 {
		t.Fatalf("no DNS record yet: want 530, got %d", code)
	}
	if _, err := cf.CreateDNSRecord(ctx, cloudflare.ZoneIdentifier("8f2e5a9c1b7d4e3fa6c0d2b9e8f71a34"),
		cloudflare.CreateDNSRecordParams{Type: "CNAME", Name: host, Content: g.IngressHost, Proxied: cloudflare.BoolPtr(true)}); err != nil {
		t.Fatal(err)
	}
	if code := status(); code != http.StatusBadGateway {
		t.Fatalf("no cluster yet: want 502, got %d", code)
	}

	op, err := rm.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: g.ProjectID, Parent: "folders/123"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	stack.MakeUsable(s, g.ProjectID)
	parent := "projects/" + g.ProjectID + "/locations/" + g.Region
	if _, err := gke.CreateCluster(ctx, &containerpb.CreateClusterRequest{Parent: parent, Cluster: &containerpb.Cluster{
		Name: g.Cluster, NodePools: []*containerpb.NodePool{{Name: g.NodePool, InitialNodeCount: 2}}}}); err != nil {
		t.Fatal(err)
	}
	clusterName := parent + "/clusters/" + g.Cluster
	waitFor(t, "cluster running", func() bool {
		c, err := gke.GetCluster(ctx, &containerpb.GetClusterRequest{Name: clusterName})
		return err == nil && c.GetStatus() == containerpb.Cluster_RUNNING
	})
	if code, body := probe(t, s, host, "/healthz"); code != http.StatusBadGateway || !strings.Contains(body, "Cloud SQL") {
		t.Fatalf("no database yet: want 502 naming Cloud SQL, got %d %q", code, body)
	}
	if _, err := sql.Instances.Insert(g.ProjectID, &sqladmin.DatabaseInstance{Name: g.CloudSQL, DatabaseVersion: "POSTGRES_16",
		Region: g.Region, Settings: &sqladmin.Settings{Tier: "db-custom-2-8192", Edition: "ENTERPRISE"}}).Do(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the instance to serve 5.9.0", func() bool {
		code, v := probe(t, s, host, "/__version")
		return code == 200 && v == "5.9.0"
	})
	if code := status(); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, _ := probe(t, s, host, "/sign-in"); code != 200 {
		t.Fatalf("sign-in: %d", code)
	}
	if code, _ := probe(t, s, host, "/"); code != http.StatusFound {
		t.Fatalf("/ should redirect to sign-in: %d", code)
	}

	// A rollout lands after the rollout delay; until then the old version serves.
	writeConfig("5.10.0")
	if _, v := probe(t, s, host, "/__version"); v != "5.9.0" {
		t.Fatalf("right after the merge the old version still serves, got %q", v)
	}
	waitFor(t, "5.10.0 to roll out", func() bool { _, v := probe(t, s, host, "/__version"); return v == "5.10.0" })

	// A bad release rolls out but never becomes healthy; reverting heals it.
	if _, err := http.Post(s.URL()+"/_sim/releases/5.11.0", "application/json", strings.NewReader(`{"bad":true}`)); err != nil {
		t.Fatal(err)
	}
	writeConfig("5.11.0")
	waitFor(t, "5.11.0 to roll out", func() bool { _, v := probe(t, s, host, "/__version"); return v == "5.11.0" })
	if code := status(); code != http.StatusServiceUnavailable {
		t.Fatalf("a bad release must be unhealthy: %d", code)
	}
	// A release bad only for some instances: good everywhere, then bad for another instance
	// (acme stays healthy), then bad for acme too.
	mark := func(body string) {
		t.Helper()
		resp, err := http.Post(s.URL()+"/_sim/releases/5.11.0", "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("mark %s: %v %v", body, resp, err)
		}
		resp.Body.Close()
	}
	mark(`{"bad":false}`)
	mark(`{"bad":true,"instances":["other"]}`)
	if code := status(); code != 200 {
		t.Fatalf("a release bad only for another instance must leave acme healthy: %d", code)
	}
	mark(`{"bad":true,"instances":["acme"]}`)
	if code := status(); code != http.StatusServiceUnavailable {
		t.Fatalf("a release bad for acme must make it unhealthy: %d", code)
	}
	mark(`{"bad":false,"instances":["acme"]}`)
	if code := status(); code != 200 {
		t.Fatalf("marked good again for acme: %d", code)
	}
	mark(`{"bad":true}`)
	writeConfig("5.10.0")
	waitFor(t, "the revert to heal", func() bool { return status() == 200 })

	// Suspend: node pool to zero takes the instance down; the holding page DNS shows the holding page.
	if _, err := gke.SetNodePoolSize(ctx, &containerpb.SetNodePoolSizeRequest{Name: clusterName + "/nodePools/" + g.NodePool, NodeCount: 0}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "scale to zero to take the instance down", func() bool { return status() == http.StatusBadGateway })
	recs, _, err := cf.ListDNSRecords(ctx, cloudflare.ZoneIdentifier("8f2e5a9c1b7d4e3fa6c0d2b9e8f71a34"), cloudflare.ListDNSRecordsParams{Name: host})
	if err != nil || len(recs) != 1 {
		t.Fatalf("dns records: %v %v", recs, err)
	}
	if _, err := cf.UpdateDNSRecord(ctx, cloudflare.ZoneIdentifier("8f2e5a9c1b7d4e3fa6c0d2b9e8f71a34"),
		cloudflare.UpdateDNSRecordParams{ID: recs[0].ID, Content: spec.HoldingPageHost}); err != nil {
		t.Fatal(err)
	}
	if code, body := probe(t, s, host, "/"); code != http.StatusServiceUnavailable || !strings.Contains(body, "paused") {
		t.Fatalf("holding page: %d %q", code, body)
	}

	snap := s.Snapshot()["instances"].(map[string]any)["instances"].([]map[string]any)
	if len(snap) != 1 || snap[0]["status"] != "holding-page" || snap[0]["servedVersion"] != "5.10.0" {
		t.Fatalf("snapshot: %+v", snap)
	}
	if got := strings.Join(snap[0]["versionHistory"].([]string), ","); got != "5.9.0,5.10.0,5.11.0,5.10.0" {
		t.Fatalf("version history: %s", got)
	}
}

// TestAPIsStayReachableByHostName: in docker compose the simulator is "simulator:8090"; only
// instance hosts and instance paths belong to the instances, everything else to the APIs.
func TestAPIsStayReachableByHostName(t *testing.T) {
	s, err := stack.Start(sim.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/api/v3/repos/sourcegraph/cloud", nil)
	req.Host = "simulator:8090"
	req.Header.Set("Authorization", "Bearer bot-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GitHub API by host name: %d", resp.StatusCode)
	}
	if code, body := probe(t, s, "simulator:8090", "/healthz"); code != http.StatusNotFound || !strings.Contains(body, "no instance") {
		t.Fatalf("an instance path on an unknown host is an unknown instance: %d %q", code, body)
	}
}
