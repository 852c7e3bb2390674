package activities

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/proto"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// seedFixture is a simulator holding a seeded fleet, and every activity struct pointed at it.
type seedFixture struct {
	s     *sim.Sim
	env   *testsuite.TestActivityEnvironment
	proj  *Projects
	gke   *GKE
	sql   *CloudSQL
	bk    *GKEBackup
	cf    *Cloudflare
	up    *Uptime
	cr    *ConfigRepo
	boot  *Bootstrap
	fleet []stack.FleetInstance
}

func seedNewFixture(t *testing.T) *seedFixture {
	t.Helper()
	ctx := context.Background()
	s := startSim(t)
	cc := cloudConfig(s)
	off := false
	f := &seedFixture{s: s, fleet: []stack.FleetInstance{
		{Slug: "seed-small", Version: "5.9.0", Labels: map[string]string{"account": "https://github.com/sourcegraph/accounts/issues/1234"}},
		{Slug: "seed-medium", Version: "5.8.0", Type: spec.Trial, Size: spec.Medium, Region: "europe-west3"},
		{Slug: "seed-large", Version: "5.9.0", Type: spec.Internal, Size: spec.Large, Domain: "seed-large.sourcegraph.com",
			ReleaseChannel: spec.Insiders, Alerting: &off, MaintenanceWindow: &spec.MaintenanceWindow{Days: []string{"sat", "sun"}, StartHour: 3, Hours: 5}},
	}}
	if err := stack.SeedFleet(s, f.fleet); err != nil {
		t.Fatal(err)
	}
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f.proj, err = NewProjects(ctx, cc)
	must(err)
	f.gke, err = NewGKE(ctx, cc)
	must(err)
	f.boot, err = NewBootstrap(ctx, cc)
	must(err)
	f.sql, err = NewCloudSQL(ctx, cc)
	must(err)
	f.bk, err = NewGKEBackup(ctx, cc)
	must(err)
	f.cf, err = NewCloudflare(cc)
	must(err)
	f.up, err = NewUptime(cc)
	must(err)
	gh, err := NewGitHub("bot-token", s.URL()+"/", nil)
	must(err)
	f.cr, err = NewConfigRepo(gh, cc)
	must(err)
	t.Cleanup(func() { f.proj.Close(); f.gke.Close(); f.bk.Close() })
	f.proj.PollInterval, f.gke.PollInterval, f.sql.PollInterval, f.bk.PollInterval = 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	f.env = activityEnv(f.proj, f.boot, f.gke, f.sql, f.bk, f.cf, f.up, f.cr)
	return f
}

// seedRun executes one activity and decodes its result.
func seedRun[T any](t *testing.T, f *seedFixture, fn any, in ...any) T {
	t.Helper()
	v, err := f.env.ExecuteActivity(fn, in...)
	if err != nil {
		t.Fatalf("%T: %v", fn, err)
	}
	var out T
	if err := v.Get(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// seedState is one part's state dump as plain JSON values.
func seedState(t *testing.T, s *sim.Sim, part string) map[string]any {
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

func seedTime(t *testing.T, v any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, v.(string))
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return at
}

// TestSeededFleetLooksCreated runs create's own Ensure activities against seeded instances: each
// must find its resource exactly as it would have made it (nothing created, updated or
// reconciled), which keeps the shapes mirrored in sim/stack in step with the activities.
func TestSeededFleetLooksCreated(t *testing.T) {
	f := seedNewFixture(t)
	ctx := context.Background()
	ledgerBefore := f.s.Ledger()
	for _, fi := range f.fleet {
		size, region, typ, host := fi.Size, fi.Region, fi.Type, fi.Domain
		if size == "" {
			size = spec.Small
		}
		if region == "" {
			region = "us-central1"
		}
		if typ == "" {
			typ = spec.Production
		}
		if host == "" {
			host = spec.DefaultDomain(fi.Slug)
		}
		st := spec.StatusFor(fi.Slug, region).GCP
		labels := map[string]string{"instance-type": string(typ), "slug": fi.Slug}

		if p := seedRun[ProjectResult](t, f, f.proj.EnsureProject, EnsureProjectInput{ProjectID: st.ProjectID, Labels: labels}); p.State != "ACTIVE" {
			t.Errorf("%s: project %+v", fi.Slug, p)
		}
		// A seeded project was made usable long ago: billing linked, APIs enabled.
		if b := seedRun[BillingResult](t, f, f.boot.EnsureBilling, EnsureBillingInput{ProjectID: st.ProjectID}); b.Linked || b.BillingAccount == "" {
			t.Errorf("%s: billing %+v, want the seeded account kept", fi.Slug, b)
		}
		if e := seedRun[EnableServicesResult](t, f, f.boot.EnableServices, EnableServicesInput{ProjectID: st.ProjectID}); len(e.Enabled) != 0 {
			t.Errorf("%s: enabled %v, want every API already enabled", fi.Slug, e.Enabled)
		}

		shape, _ := NodePoolFor(size)
		in := EnsureClusterInput{Project: st.ProjectID, Region: region, Cluster: st.Cluster, NodePool: st.NodePool, Size: size, Labels: labels}
		c := seedRun[ClusterResult](t, f, f.gke.EnsureCluster, in)
		nodes := NodesPerZone(shape.NodeCount, DefaultZones) * DefaultZones
		if c.Status != "RUNNING" || c.PoolSize != nodes || c.NodeCount != nodes || c.MachineType != shape.MachineType {
			t.Errorf("%s: cluster %+v, want RUNNING with %d × %s", fi.Slug, c, nodes, shape.MachineType)
		}
		raw, err := f.gke.client.GetCluster(ctx, &containerpb.GetClusterRequest{Name: c.Name})
		if err != nil {
			t.Fatal(err)
		}
		want := gkeClusterSpec(in, shape)
		if raw.Description != want.Description || !maps.Equal(raw.ResourceLabels, want.ResourceLabels) ||
			!proto.Equal(raw.ReleaseChannel, want.ReleaseChannel) || len(raw.NodePools) != 1 ||
			raw.Network != want.Network || raw.Subnetwork != want.Subnetwork || !proto.Equal(raw.AddonsConfig, want.AddonsConfig) ||
			raw.NodePools[0].InitialNodeCount != want.NodePools[0].InitialNodeCount ||
			!proto.Equal(raw.NodePools[0].Config, want.NodePools[0].Config) || !proto.Equal(raw.NodePools[0].Management, want.NodePools[0].Management) {
			t.Errorf("%s: seeded cluster differs from what EnsureCluster creates:\n got %v\nwant %v", fi.Slug, raw, want)
		}

		tier, _ := SQLTier(size)
		if db := seedRun[EnsureSQLInstanceOutput](t, f, f.sql.EnsureSQLInstance, EnsureSQLInstanceInput{Project: st.ProjectID, Region: region, Size: size}); db.Created || db.Reconciled || db.Tier != tier {
			t.Errorf("%s: Cloud SQL %+v, want found as created (tier %s)", fi.Slug, db, tier)
		}
		if db, err := f.sql.svc.Instances.Get(st.ProjectID, st.CloudSQL).Context(ctx).Do(); err != nil || db.State != "RUNNABLE" ||
			db.Settings.ActivationPolicy != "ALWAYS" || !db.Settings.DeletionProtectionEnabled || db.DatabaseVersion != SQLDatabaseVersion ||
			db.Settings.UserLabels["managed-by"] != "lifecycle" {
			t.Errorf("%s: Cloud SQL instance %+v (%v)", fi.Slug, db, err)
		}

		plan := seedRun[BackupPlanResult](t, f, f.bk.EnsureBackupPlan, EnsureBackupPlanInput{Project: st.ProjectID, Region: region, Cluster: st.Cluster, Plan: st.BackupPlan, Labels: labels})
		if plan.Updated || plan.State != "READY" {
			t.Errorf("%s: backup plan %+v, want READY as created", fi.Slug, plan)
		}
		rawPlan, err := f.bk.client.GetBackupPlan(ctx, &gkebackuppb.GetBackupPlanRequest{Name: plan.Name})
		if err != nil {
			t.Fatal(err)
		}
		wantPlan := gkeBackupPlanSpec(gkeBackupLocation(st.ProjectID, region)+"/clusters/"+st.Cluster, labels)
		rawPlan.Name, rawPlan.Uid, rawPlan.CreateTime, rawPlan.UpdateTime, rawPlan.Etag, rawPlan.State = "", "", nil, nil, "", 0
		if !proto.Equal(rawPlan, wantPlan) {
			t.Errorf("%s: seeded plan differs from what EnsureBackupPlan creates:\n got %v\nwant %v", fi.Slug, rawPlan, wantPlan)
		}

		if dns := seedRun[EnsureDNSOutput](t, f, f.cf.EnsureDNS, EnsureDNSInput{Host: host, Target: spec.IngressHost(fi.Slug), Proxied: true}); dns.Created || dns.Updated {
			t.Errorf("%s: DNS %+v, want the record found as created", fi.Slug, dns)
		}
		if al := seedRun[SetAllowlistOutput](t, f, f.cf.SetAllowlist, SetAllowlistInput{Host: host}); al.Changed {
			t.Errorf("%s: allowlist changed, want none (create sets none without ranges)", fi.Slug)
		}

		probe := seedRun[ProbeResult](t, f, f.up.Probe, ProbeInput{Host: host})
		if !probe.Healthy || probe.Version != fi.Version {
			t.Errorf("%s: probe %+v, want healthy on %s", fi.Slug, probe, fi.Version)
		}
	}
	// Finding is not making: the Ensure activities changed nothing anywhere.
	if after := f.s.Ledger(); !reflect.DeepEqual(after, ledgerBefore) {
		for k, v := range after {
			if ledgerBefore[k] != v {
				t.Errorf("ledger %s: %+v → %+v", k, ledgerBefore[k], v)
			}
		}
	}

	// The config repo lists the fleet as config.yaml declares it.
	type entry struct {
		slug, typ, version, channel, domain, region, size, err string
		alerting, suspended                                    bool
	}
	var got []entry
	for _, e := range seedRun[[]FleetEntry](t, f, f.cr.ListFleet) {
		got = append(got, entry{e.Slug, e.Type, e.Version, e.ReleaseChannel, e.Domain, e.Region, e.Size, e.Error, e.Alerting, e.Suspended})
	}
	want := []entry{
		{"seed-large", "internal", "5.9.0", "insiders", "seed-large.sourcegraph.com", "us-central1", "large", "", false, false},
		{"seed-medium", "trial", "5.8.0", "stable", "seed-medium.sourcegraphcloud.com", "europe-west3", "medium", "", true, false},
		{"seed-small", "production", "5.9.0", "stable", "seed-small.sourcegraphcloud.com", "us-central1", "small", "", true, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListFleet:\n got %+v\nwant %+v", got, want)
	}
	read := seedRun[ReadConfigResult](t, f, f.cr.ReadInstanceConfig, ReadConfigInput{Slug: "seed-large"})
	small := seedRun[ReadConfigResult](t, f, f.cr.ReadInstanceConfig, ReadConfigInput{Slug: "seed-small"})
	if !small.Found || small.Config.Metadata.Labels["account"] != "https://github.com/sourcegraph/accounts/issues/1234" {
		t.Errorf("seed-small metadata.labels: %+v", small.Config.Metadata.Labels)
	}
	if c := read.Config; !read.Found || c.Status != spec.StatusFor("seed-large", "us-central1") || c.Metadata.Labels["instance-type"] != "internal" ||
		!c.Spec.Debug.EnableDeletionProtection || c.Spec.MaintenanceWindow == nil || c.Spec.MaintenanceWindow.Hours != 5 {
		t.Errorf("seed-large config.yaml: %+v", read.Config)
	}
}

// TestSeededInstanceUpgradeOrdersBackups takes pre-upgrade backups of a seeded instance, merges a
// new version through ChangeInstanceConfig and soaks it: the state dump then shows both backups
// created before the new version merged.
func TestSeededInstanceUpgradeOrdersBackups(t *testing.T) {
	f := seedNewFixture(t)
	st := spec.StatusFor("seed-small", "us-central1").GCP
	host := spec.DefaultDomain("seed-small")

	seedRun[SoakResult](t, f, f.up.Soak, SoakInput{Host: host, ExpectedVersion: "5.9.0", Consecutive: 2, Interval: 10 * time.Millisecond, Timeout: 5 * time.Second})
	run := seedRun[BackupSQLOutput](t, f, f.sql.BackupSQL, BackupSQLInput{Project: st.ProjectID, Key: "pre-upgrade-5.10.0"})
	gb := seedRun[BackupGKEResult](t, f, f.bk.BackupGKE, BackupGKEInput{Project: st.ProjectID, Region: st.Region, Plan: st.BackupPlan, Name: "pre-upgrade-5-10-0"})
	if run.BackupRunID == 0 || gb.State != "SUCCEEDED" {
		t.Fatalf("backups: Cloud SQL %+v, GKE %+v", run, gb)
	}

	cur := seedRun[ReadConfigResult](t, f, f.cr.ReadInstanceConfig, ReadConfigInput{Slug: "seed-small"})
	cur.Config.Spec.SourcegraphVersion = "5.10.0"
	res := seedRun[ChangeResult](t, f, f.cr.ChangeInstanceConfig, ChangeConfigInput{
		Slug: "seed-small", Config: cur.Config, BaseSHA: cur.SHA, ChangeID: "upgrade-5.10.0-test", Title: "seed-small: upgrade to 5.10.0",
	})
	if !res.Changed || res.MergeSHA == "" {
		t.Fatalf("ChangeInstanceConfig: %+v", res)
	}
	seedRun[SoakResult](t, f, f.up.Soak, SoakInput{Host: host, ExpectedVersion: "5.10.0", Consecutive: 2, Interval: 10 * time.Millisecond, Timeout: 5 * time.Second})

	var merged time.Time
	for _, i := range seedState(t, f.s, "instances")["instances"].([]any) {
		if inst := i.(map[string]any); inst["slug"] == "seed-small" {
			rollouts := inst["rollouts"].([]any)
			if len(rollouts) != 2 || rollouts[1].(map[string]any)["version"] != "5.10.0" {
				t.Fatalf("rollouts %v, want 5.9.0 then 5.10.0", rollouts)
			}
			merged = seedTime(t, rollouts[1].(map[string]any)["mergedAt"])
			if seeded := seedTime(t, rollouts[0].(map[string]any)["mergedAt"]); !seeded.Before(merged.Add(-time.Hour)) {
				t.Errorf("the seeded rollout merged at %v, want long before %v", seeded, merged)
			}
		}
	}
	for _, i := range seedState(t, f.s, "cloudsql")["instances"].([]any) {
		inst := i.(map[string]any)
		if inst["name"] != st.ProjectID+"/"+st.CloudSQL {
			continue
		}
		runs := inst["backupRuns"].([]any)
		if len(runs) != 1 || !seedTime(t, runs[0].(map[string]any)["createTime"]).Before(merged) {
			t.Errorf("Cloud SQL backup runs %v, want one created before %v", runs, merged)
		}
	}
	var gkeBackups int
	for _, b := range seedState(t, f.s, "gkebackup")["backups"].([]any) {
		bk := b.(map[string]any)
		gkeBackups++
		if bk["name"] != gb.Name || !seedTime(t, bk["createTime"]).Before(merged) || !seedTime(t, bk["completeTime"]).Before(merged) {
			t.Errorf("GKE backup %v, want %s created and complete before %v", bk, gb.Name, merged)
		}
	}
	if gkeBackups != 1 {
		t.Errorf("%d GKE backups, want 1", gkeBackups)
	}
}
