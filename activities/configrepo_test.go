package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	simgithub "github.com/sourcegraph/lifecycle/sim/github"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// crFixture is the simulator with the config repo activities (as the bot) and a test-side client
// (as carol of the cloud team, who sometimes changes configs by hand).
type crFixture struct {
	s   *sim.Sim
	cr  *ConfigRepo
	raw *github.Client
}

func crNewFixture(t *testing.T) *crFixture {
	t.Helper()
	s := startSim(t)
	gh, err := NewGitHub("bot-token", s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := NewConfigRepo(gh, cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := github.NewClient(nil).WithAuthToken("carol-token").WithEnterpriseURLs(s.URL()+"/", s.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	return &crFixture{s: s, cr: cr, raw: raw}
}

// crConfig is a valid config.yaml for slug.
func crConfig(slug, typ, version string) *spec.Config {
	return &spec.Config{APIVersion: spec.APIVersion, Kind: spec.Kind,
		Metadata: spec.Metadata{Name: slug, Labels: map[string]string{"instance-type": typ}},
		Spec: spec.Spec{SourcegraphVersion: version, ReleaseChannel: spec.Stable,
			Domain:         spec.Domain{PrimaryDNSName: spec.DefaultDomain(slug)},
			Infrastructure: spec.Infrastructure{GCP: spec.GCP{Region: "us-central1"}}, Size: spec.Small},
		Status: spec.StatusFor(slug, "us-central1")}
}

func crKey(rest string) string { return "github/repos/sourcegraph/cloud/" + rest }

// crPulls counts the pull requests the ledger saw created in the config repo.
func crPulls(s *sim.Sim) int {
	n := 0
	for k, c := range s.Ledger() {
		if strings.HasPrefix(k, crKey("pulls/")) {
			n += c.Created
		}
	}
	return n
}

func crRunChange(t *testing.T, env *testsuite.TestActivityEnvironment, cr *ConfigRepo, in ChangeConfigInput) ChangeResult {
	t.Helper()
	v, err := env.ExecuteActivity(cr.ChangeInstanceConfig, in)
	if err != nil {
		t.Fatal(err)
	}
	var r ChangeResult
	if err := v.Get(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func crRead(t *testing.T, env *testsuite.TestActivityEnvironment, cr *ConfigRepo, slug string) ReadConfigResult {
	t.Helper()
	v, err := env.ExecuteActivity(cr.ReadInstanceConfig, ReadConfigInput{Slug: slug})
	if err != nil {
		t.Fatal(err)
	}
	var r ReadConfigResult
	if err := v.Get(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConfigRepoCreateUpdateDeleteThroughPullRequests(t *testing.T) {
	f := crNewFixture(t)
	env := activityEnv(f.cr)
	path := spec.ConfigPath("prod", "acme")
	if r := crRead(t, env, f.cr, "acme"); r.Found || r.Path != path {
		t.Fatalf("before create: %+v", r)
	}

	create := ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.9.0"), ChangeID: "create-acme", Create: true,
		Title: "acme: create instance", Body: "Requested in sourcegraph/customer#7", Labels: []string{"mi-create"}}
	first := crRunChange(t, env, f.cr, create)
	again := crRunChange(t, env, f.cr, create)
	if !first.Changed || first.PRNumber == 0 || first.MergeSHA == "" || first.Branch != "acme/create-acme" || again != first {
		t.Fatalf("create twice: want one merged PR reported twice, got %+v then %+v", first, again)
	}
	// Mutated twice: the label, then the merge; the re-run changes nothing.
	if c := ledger(f.s, crKey(fmt.Sprintf("pulls/%d", first.PRNumber))); c.Created != 1 || c.Mutated != 2 || crPulls(f.s) != 1 {
		t.Fatalf("want one PR labelled and merged once, ledger %+v, %d PRs", c, crPulls(f.s))
	}
	if c := ledger(f.s, crKey("contents/"+path)); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("config.yaml must land on main once: %+v", c)
	}
	if c := ledger(f.s, crKey("branches/acme/create-acme")); c.Created != 1 || c.Mutated != 0 || c.Deleted != 1 {
		t.Fatalf("branch: one commit, deleted after the merge: %+v", c)
	}
	pr, _, err := f.raw.PullRequests.Get(context.Background(), "sourcegraph", "cloud", first.PRNumber)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.GetMerged() || pr.GetTitle() != "acme: create instance" || !strings.Contains(pr.GetBody(), "sourcegraph/customer#7") ||
		len(pr.Labels) != 1 || pr.Labels[0].GetName() != "mi-create" {
		t.Fatalf("the PR is the audit trail: %+v", pr)
	}

	read := crRead(t, env, f.cr, "acme")
	if !read.Found || read.SHA != first.SHA || read.Config.Spec.SourcegraphVersion != "5.9.0" || read.Config.Type() != spec.Production {
		t.Fatalf("read after create: %+v", read)
	}

	// Read-modify-write: the upgrade.
	cfg := read.Config
	cfg.Spec.SourcegraphVersion = "5.10.0"
	up := ChangeConfigInput{Slug: "acme", Config: cfg, ChangeID: "upgrade-5.10.0", BaseSHA: read.SHA, Title: "acme: upgrade to 5.10.0"}
	upgraded := crRunChange(t, env, f.cr, up)
	if !upgraded.Changed || upgraded.PRNumber == first.PRNumber || crRunChange(t, env, f.cr, up) != upgraded {
		t.Fatalf("upgrade: %+v", upgraded)
	}
	if c := ledger(f.s, crKey("contents/"+path)); c.Mutated != 1 || crPulls(f.s) != 2 {
		t.Fatalf("upgrade must change main once through one more PR: %+v, %d PRs", c, crPulls(f.s))
	}
	if r := crRead(t, env, f.cr, "acme"); r.Config.Spec.SourcegraphVersion != "5.10.0" || r.SHA != upgraded.SHA {
		t.Fatalf("after upgrade: %+v", r)
	}

	// Already so on main: no PR at all, even under a new change ID.
	noop := crRunChange(t, env, f.cr, ChangeConfigInput{Slug: "acme", Config: cfg, ChangeID: "upgrade-5.10.0-again"})
	if noop.Changed || noop.PRNumber != 0 || noop.SHA != upgraded.SHA || crPulls(f.s) != 2 {
		t.Fatalf("no-op change: %+v, %d PRs", noop, crPulls(f.s))
	}

	// A stale read must not overwrite what changed since.
	cfg.Spec.Debug.EnableAlerting = true
	_, err = env.ExecuteActivity(f.cr.ChangeInstanceConfig, ChangeConfigInput{Slug: "acme", Config: cfg, ChangeID: "alerting-on", BaseSHA: first.SHA})
	if ae := appError(t, err, ErrConflict, true); !strings.Contains(ae.Error(), "changed since it was read") {
		t.Fatalf("stale BaseSHA message: %v", ae)
	}
	// Create must not take over an existing instance's slug.
	_, err = env.ExecuteActivity(f.cr.ChangeInstanceConfig, ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "trial", "5.9.0"), ChangeID: "create-acme-2", Create: true})
	if ae := appError(t, err, ErrConflict, true); !strings.Contains(ae.Error(), "already exists") {
		t.Fatalf("slug collision message: %v", ae)
	}
	// Invalid configs never reach a branch.
	bad := crConfig("acme", "production", "v5.11.0")
	_, err = env.ExecuteActivity(f.cr.ChangeInstanceConfig, ChangeConfigInput{Slug: "acme", Config: bad, ChangeID: "bad"})
	if ae := appError(t, err, ErrInvalidArgument, true); !strings.Contains(ae.Error(), "without the `v` prefix") {
		t.Fatalf("invalid config message: %v", ae)
	}
	if crPulls(f.s) != 2 {
		t.Fatalf("refused changes must not open PRs: %d", crPulls(f.s))
	}

	// Teardown: the config goes through a PR too.
	del := DeleteConfigInput{Slug: "acme", ChangeID: "teardown", Title: "acme: teardown", Body: "Closes sourcegraph/customer#9"}
	v, err := env.ExecuteActivity(f.cr.DeleteInstanceConfig, del)
	if err != nil {
		t.Fatal(err)
	}
	var deleted ChangeResult
	_ = v.Get(&deleted)
	v, err = env.ExecuteActivity(f.cr.DeleteInstanceConfig, del)
	if err != nil {
		t.Fatal(err)
	}
	var deletedAgain ChangeResult
	_ = v.Get(&deletedAgain)
	if !deleted.Changed || deleted.SHA != "" || deletedAgain != deleted || crPulls(f.s) != 3 {
		t.Fatalf("delete twice: %+v then %+v, %d PRs", deleted, deletedAgain, crPulls(f.s))
	}
	if r := crRead(t, env, f.cr, "acme"); r.Found {
		t.Fatalf("config still there after teardown: %+v", r)
	}
	if c := ledger(f.s, crKey("contents/"+path)); c.Deleted != 1 {
		t.Fatalf("config.yaml deleted once: %+v", c)
	}
}

func TestConfigRepoResumesAfterCrashBetweenOpenAndMerge(t *testing.T) {
	f := crNewFixture(t)
	// The worker "crashes" (the attempt fails, no retries here) after opening the PR: the merge
	// fails more often than the activity retries a passing failure itself.
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "pulls.merge", Status: 502, Count: 4}); err != nil {
		t.Fatal(err)
	}
	in := ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "trial", "5.9.0"), ChangeID: "create-acme", Create: true, Title: "acme: create instance"}
	_, err := activityEnv(f.cr).ExecuteActivity(f.cr.ChangeInstanceConfig, in)
	appError(t, err, ErrTransient, false)
	open, _, err := f.raw.PullRequests.List(context.Background(), "sourcegraph", "cloud", &github.PullRequestListOptions{State: "open"})
	if err != nil || len(open) != 1 {
		t.Fatalf("after the failed attempt one PR is open: %d %v", len(open), err)
	}

	r := crRunChange(t, activityEnv(f.cr), f.cr, in)
	if !r.Changed || r.PRNumber != open[0].GetNumber() {
		t.Fatalf("re-run must merge the PR it opened: %+v (open was #%d)", r, open[0].GetNumber())
	}
	if c := ledger(f.s, crKey(fmt.Sprintf("pulls/%d", r.PRNumber))); c.Created != 1 || c.Mutated != 1 || crPulls(f.s) != 1 {
		t.Fatalf("one PR, one merge: %+v, %d PRs", c, crPulls(f.s))
	}
	if c := ledger(f.s, crKey("branches/acme/create-acme")); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("the re-run must not commit again: %+v", c)
	}
	if c := ledger(f.s, crKey("contents/"+spec.ConfigPath("prod", "acme"))); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("config.yaml lands once: %+v", c)
	}
}

func TestConfigRepoRetriesInjectedFaults(t *testing.T) {
	f := crNewFixture(t)
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "pulls.create", Status: 502, Count: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "git.create-tree", Status: 503, Count: 2}); err != nil {
		t.Fatal(err)
	}
	var r ChangeResult
	in := ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "internal", "5.9.0"), ChangeID: "create-acme", Create: true}
	if err := runWithRetries(t, f.cr, f.cr.ChangeInstanceConfig, in, &r); err != nil {
		t.Fatalf("5xx twice each then success: %v", err)
	}
	for _, m := range []string{"pulls.create", "git.create-tree"} {
		if got := ghFired(f.s, m); got != 2 {
			t.Fatalf("%s fault fired %d times, want 2", m, got)
		}
	}
	if !r.Changed || crPulls(f.s) != 1 || ledger(f.s, crKey("branches/acme/create-acme")).Created != 1 {
		t.Fatalf("want one PR and one branch after retries: %+v, %d PRs", r, crPulls(f.s))
	}
}

// A passing failure of one call (a 503, a 429 asking for a second) is retried in the attempt: a
// change makes about fifteen calls, and starting over on each failure would rarely get through
// a GitHub that fails one call in ten.
func TestConfigRepoRetriesAPassingFailureInTheAttempt(t *testing.T) {
	f := crNewFixture(t)
	fired503 := addFault(t, f.s, sim.Fault{API: "github", Method: "pulls.create", Status: 503, Count: 2})
	fired429 := addFault(t, f.s, sim.Fault{API: "github", Method: "git.create-tree", Status: 429, RetryAfter: sim.Duration(time.Second), Count: 1, Message: "slow down"})
	r := crRunChange(t, activityEnv(f.cr), f.cr, ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "internal", "5.9.0"), ChangeID: "create", Create: true})
	if !r.Changed || fired503() != 2 || fired429() != 1 || crPulls(f.s) != 1 {
		t.Fatalf("%+v; 503s %d, 429s %d, PRs %d: want one attempt through both", r, fired503(), fired429(), crPulls(f.s))
	}
}

func TestConfigRepoRebasesWhenMainMoved(t *testing.T) {
	f := crNewFixture(t)
	env := activityEnv(f.cr)
	crRunChange(t, env, f.cr, ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.9.0"), ChangeID: "create", Create: true})

	// The upgrade opens its PR, then the attempt dies before merging.
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "pulls.merge", Status: 502, Count: 4}); err != nil {
		t.Fatal(err)
	}
	up := ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.10.0"), ChangeID: "upgrade-5.10.0", Title: "acme: upgrade to 5.10.0"}
	if _, err := env.ExecuteActivity(f.cr.ChangeInstanceConfig, up); err == nil {
		t.Fatal("the injected 502 must fail the attempt")
	}
	// Meanwhile carol changes the same file on main: the open PR now conflicts (405 on merge).
	path := spec.ConfigPath("prod", "acme")
	cur, _, _, err := f.raw.Repositories.GetContents(context.Background(), "sourcegraph", "cloud", path, nil)
	if err != nil {
		t.Fatal(err)
	}
	hand := crConfig("acme", "production", "5.9.0")
	hand.Spec.UserLevelTelemetry = true
	b, _ := hand.Marshal()
	if _, _, err := f.raw.Repositories.UpdateFile(context.Background(), "sourcegraph", "cloud", path,
		&github.RepositoryContentFileOptions{Message: github.String("acme: telemetry on"), Content: b, SHA: cur.SHA}); err != nil {
		t.Fatal(err)
	}

	r := crRunChange(t, env, f.cr, up)
	if !r.Changed || crPulls(f.s) != 2 {
		t.Fatalf("re-run must rebase and merge its one PR: %+v, %d PRs", r, crPulls(f.s))
	}
	if c := ledger(f.s, crKey(fmt.Sprintf("pulls/%d", r.PRNumber))); c.Created != 1 || c.Mutated != 1 {
		t.Fatalf("one PR merged once: %+v", c)
	}
	if got := crRead(t, env, f.cr, "acme"); got.Config.Spec.SourcegraphVersion != "5.10.0" {
		t.Fatalf("main after the rebase: %+v", got.Config.Spec)
	}
}

func TestConfigRepoListFleet(t *testing.T) {
	f := crNewFixture(t)
	files := map[string]string{
		"README.md":                         "# config",
		spec.ConfigPath("dev", "other-env"): "not even yaml: [",
		spec.ConfigPath("prod", "broken"):   "apiVersion: sourcegraph.com/v1\nkind: SourcegraphCloud\nspec:\n  nope: 1\n",
	}
	types := []string{"production", "trial", "internal"}
	for i := 0; i < 50; i++ {
		slug := fmt.Sprintf("customer-%02d", i)
		c := crConfig(slug, types[i%3], "5.9.0")
		if i%10 == 0 {
			c.Spec.ReleaseChannel = spec.Pause
		}
		switch i {
		case 0:
			c.Metadata.Labels[AccountLabel] = "https://github.com/sourcegraph/accounts/issues/123"
			c.Spec.MaintenanceWindow = &spec.MaintenanceWindow{Days: []string{"sat", "sun"}, StartHour: 22, Hours: 4}
		case 1:
			c.Metadata.Labels[AccountLabel] = "Acme Corp" // a name, not a link: never listed
		case 2:
			c.Metadata.Labels[AccountLabel] = "https://github.com/sourcegraph/accounts/issues/123#second" // not the bare link
		}
		b, _ := c.Marshal()
		files[spec.ConfigPath("prod", slug)] = string(b)
		files[spec.DeploymentsDir("prod")+"/"+slug+"/kubernetes/frontend.yaml"] = "kind: Deployment\n"
	}
	if err := f.s.Part("github").(*simgithub.Part).CreateRepo("sourcegraph/cloud", files); err != nil {
		t.Fatal(err)
	}
	// A zero-latency fault rule counts blob reads without changing them.
	if _, err := f.s.AddFault(sim.Fault{API: "github", Method: "git.get-blob", Latency: sim.Duration(time.Microsecond)}); err != nil {
		t.Fatal(err)
	}

	list := func(cr *ConfigRepo) ([]FleetEntry, []crFleetProgress) {
		t.Helper()
		env := activityEnv(cr)
		var beats []crFleetProgress
		env.SetOnActivityHeartbeatListener(func(_ *activity.Info, d converter.EncodedValues) {
			var p crFleetProgress
			if d.Get(&p) == nil {
				beats = append(beats, p)
			}
		})
		v, err := env.ExecuteActivity(cr.ListFleet)
		if err != nil {
			t.Fatal(err)
		}
		var out []FleetEntry
		if err := v.Get(&out); err != nil {
			t.Fatal(err)
		}
		return out, beats
	}
	fleet, beats := list(f.cr)
	if len(fleet) != 51 {
		t.Fatalf("want 50 instances + the broken one in prod, got %d", len(fleet))
	}
	if len(beats) == 0 || beats[0].Total != 51 { // later beats are throttled by the SDK
		t.Fatalf("heartbeats: %+v", beats)
	}
	if fleet[0].Slug != "broken" || fleet[0].Error == "" || !strings.Contains(fleet[0].Error, "nope") {
		t.Fatalf("a broken config is listed with its error: %+v", fleet[0])
	}
	if e := fleet[1]; e.Slug != "customer-00" || e.Type != "production" || e.Version != "5.9.0" || e.ReleaseChannel != "pause" ||
		e.Domain != "customer-00.sourcegraphcloud.com" || e.Region != "us-central1" || e.Size != "small" || e.Error != "" ||
		e.Account != "https://github.com/sourcegraph/accounts/issues/123" ||
		!reflect.DeepEqual(e.MaintenanceWindow, &spec.MaintenanceWindow{Days: []string{"sat", "sun"}, StartHour: 22, Hours: 4}) {
		t.Fatalf("entry: %+v (window %+v)", e, e.MaintenanceWindow)
	}
	if e := fleet[2]; e.Slug != "customer-01" || e.Type != "trial" || e.ReleaseChannel != "stable" || e.Account != "" || e.MaintenanceWindow != nil {
		t.Fatalf("entry: %+v", e)
	}
	if e := fleet[3]; e.Slug != "customer-02" || e.Account != "" {
		t.Fatalf("entry: %+v", e)
	}
	// The JSON the workflows receive names the customer by the link only.
	if b, _ := json.Marshal(fleet[1]); !strings.Contains(string(b), `"account":"https://github.com/sourcegraph/accounts/issues/123"`) ||
		!strings.Contains(string(b), `"maintenanceWindow":{"Days":["sat","sun"],"StartHour":22,"Hours":4}`) {
		t.Fatalf("entry JSON: %s", b)
	}
	if b, _ := json.Marshal(fleet[2:4]); strings.Contains(string(b), "Acme") || strings.Contains(string(b), "account") || strings.Contains(string(b), "maintenanceWindow") {
		t.Fatalf("entries JSON: %s", b)
	}
	if got := ghFired(f.s, "git.get-blob"); got != 51 {
		t.Fatalf("want one blob read per config, got %d", got)
	}

	// One config changes: the next listing reads only that blob.
	c := crConfig("customer-07", "trial", "5.10.0")
	crRunChange(t, activityEnv(f.cr), f.cr, ChangeConfigInput{Slug: "customer-07", Config: c, ChangeID: "upgrade-5.10.0"})
	again, _ := list(f.cr)
	if got := ghFired(f.s, "git.get-blob"); got != 52 || again[8].Slug != "customer-07" || again[8].Version != "5.10.0" {
		t.Fatalf("second listing: %d blob reads, entry %+v", got, again[8])
	}
	if e := again[1]; e.Account == "" || e.MaintenanceWindow == nil || e.MaintenanceWindow.StartHour != 22 { // from the cache
		t.Fatalf("cached entry: %+v", e)
	}
	// Entries handed out by the cache are copies: changing one leaves the cache alone.
	if e, ok := f.cr.blobs.get(again[1].SHA); !ok || e.MaintenanceWindow == nil {
		t.Fatalf("cache: %+v %v", e, ok)
	} else {
		e.MaintenanceWindow.Days[0], e.MaintenanceWindow.StartHour = "mon", 1
	}
	if e, _ := f.cr.blobs.get(again[1].SHA); e.MaintenanceWindow.Days[0] != "sat" || e.MaintenanceWindow.StartHour != 22 {
		t.Fatalf("the cache was changed through a listed entry: %+v", e.MaintenanceWindow)
	}

	// The fallback for truncated trees (one tree per instance) lists the same fleet.
	gh, _ := NewGitHub("bot-token", f.s.URL()+"/", nil)
	slow, _ := NewConfigRepo(gh, cloudConfig(f.s))
	slow.noRecursiveTree = true
	fallback, _ := list(slow)
	if len(fallback) != len(again) {
		t.Fatalf("fallback listed %d, want %d", len(fallback), len(again))
	}
	for i := range again {
		if !reflect.DeepEqual(fallback[i], again[i]) {
			t.Fatalf("fallback entry %d: %+v, want %+v", i, fallback[i], again[i])
		}
	}

	// Page by page, the same fleet in the same order: each page within the limit, the last one
	// saying no more follow.
	var paged []FleetEntry
	after, pages := "", 0
	for {
		v, err := activityEnv(f.cr).ExecuteActivity(f.cr.ListFleetPage, FleetPageInput{After: after, Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		var p FleetPage
		if err := v.Get(&p); err != nil {
			t.Fatal(err)
		}
		if pages++; len(p.Entries) > 20 || pages > 10 {
			t.Fatalf("page %d has %d entries (limit 20)", pages, len(p.Entries))
		}
		paged = append(paged, p.Entries...)
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if pages != 3 || len(paged) != len(fleet) {
		t.Fatalf("%d pages, %d entries; want 3 pages of the %d", pages, len(paged), len(fleet))
	}
	for i := range fleet {
		if paged[i].Slug != fleet[i].Slug {
			t.Fatalf("entry %d: paged %+v, whole %+v", i, paged[i], fleet[i])
		}
	}
}

// crProtectedFixture is crNewFixture on a simulator whose CI takes ciDelay, with the config repo's
// main protected by carol (an admin) as given.
func crProtectedFixture(t *testing.T, ciDelay time.Duration, prot *github.ProtectionRequest) *crFixture {
	t.Helper()
	ms := sim.Duration(50 * time.Millisecond)
	opts := simgithub.DefaultOptions()
	opts.CIDelay = ciDelay
	s, err := stack.StartWith(sim.Config{Timings: sim.Timings{GKEOperation: ms, SQLOperation: ms, BackupOperation: ms, ProjectOperation: ms, Rollout: ms}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	gh, err := NewGitHub("bot-token", s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := NewConfigRepo(gh, cloudConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	cr.CheckPoll = 50 * time.Millisecond
	raw, err := github.NewClient(nil).WithAuthToken("carol-token").WithEnterpriseURLs(s.URL()+"/", s.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := raw.Repositories.UpdateBranchProtection(context.Background(), "sourcegraph", "cloud", "main", prot); err != nil {
		t.Fatal(err)
	}
	return &crFixture{s: s, cr: cr, raw: raw}
}

// A required status check still running is waited for by reading the combined status: one merge,
// no rebase (before, the 405 cost three rebases and then parked the step).
func TestConfigRepoWaitsForRequiredChecks(t *testing.T) {
	f := crProtectedFixture(t, 400*time.Millisecond, &github.ProtectionRequest{
		RequiredStatusChecks: &github.RequiredStatusChecks{Contexts: []string{"ci/validate"}}})
	merges := countCalls(t, f.s, "github", "pulls.merge", "")
	reads := countCalls(t, f.s, "github", "statuses.combined", "")
	env := activityEnv(f.cr)
	r := crRunChange(t, env, f.cr, ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.9.0"), ChangeID: "create", Create: true})
	if !r.Changed || merges() != 1 || crPulls(f.s) != 1 {
		t.Fatalf("want one pull request merged at the first try once CI passed: %+v, %d merges, %d PRs", r, merges(), crPulls(f.s))
	}
	if reads() < 2 {
		t.Fatalf("the pending check must have been polled, read %d times", reads())
	}
}

// A required check that GitHub Actions reports (a check run, not a commit status: the check is
// pinned to the Actions app) is waited for too, reading the head's check runs: one merge, the
// branch written once (before, the combined status never showed it and the attempt ended Busy).
func TestConfigRepoWaitsForRequiredCheckRuns(t *testing.T) {
	f := crProtectedFixture(t, 400*time.Millisecond, &github.ProtectionRequest{RequiredStatusChecks: &github.RequiredStatusChecks{
		Checks: []*github.RequiredStatusCheck{{Context: "build", AppID: github.Int64(simgithub.GitHubActionsAppID)}}}})
	f.cr.CheckWait = 5 * time.Second // well past CI's 400ms: running out of it is the failure
	merges := countCalls(t, f.s, "github", "pulls.merge", "")
	reads := countCalls(t, f.s, "github", "checks.list-for-ref", "")
	env := activityEnv(f.cr)
	r := crRunChange(t, env, f.cr, ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.9.0"), ChangeID: "create", Create: true})
	if !r.Changed || merges() != 1 || crPulls(f.s) != 1 {
		t.Fatalf("want one pull request merged at the first try once the check run passed: %+v, %d merges, %d PRs", r, merges(), crPulls(f.s))
	}
	if n := ledger(f.s, crKey("branches/acme/create")).Mutated; n != 0 {
		t.Fatalf("the branch was rewritten %d times: a running check must not be rebased over", n)
	}
	if reads() < 2 {
		t.Fatalf("the running check run must have been polled, read %d times", reads())
	}
}

// A check run that starts only after the first merge was refused ("is expected") is waited for
// until it completes: the second merge goes through, nothing rebased.
func TestConfigRepoWaitsForACheckRunThatStartsLate(t *testing.T) {
	f := crProtectedFixture(t, -1, &github.ProtectionRequest{RequiredStatusChecks: &github.RequiredStatusChecks{
		Checks: []*github.RequiredStatusCheck{{Context: "build", AppID: github.Int64(simgithub.GitHubActionsAppID)}}}})
	f.cr.CheckWait = 10 * time.Second
	merges := countCalls(t, f.s, "github", "pulls.merge", "")
	reads := countCalls(t, f.s, "github", "checks.list-for-ref", "")
	gh := f.s.Part("github").(*simgithub.Part)
	ci := make(chan error, 1)
	go func() { // GitHub Actions, late: queued after the first merge was refused, then done
		ci <- func() error {
			until := func(cond func() bool) error {
				for deadline := time.Now().Add(8 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						return fmt.Errorf("timed out: %d merges, %d check-run reads", merges(), reads())
					}
				}
				return nil
			}
			if err := until(func() bool { return merges() >= 1 }); err != nil {
				return err
			}
			prs, _, err := f.raw.PullRequests.List(context.Background(), "sourcegraph", "cloud", nil)
			if err != nil || len(prs) != 1 {
				return fmt.Errorf("pulls: %v, %v", prs, err)
			}
			head := prs[0].GetHead().GetSHA()
			if err := gh.ReportCheckRun("sourcegraph/cloud", head, simgithub.CheckRun{Name: "build", Status: "queued"}); err != nil {
				return err
			}
			seen := reads()
			if err := until(func() bool { return reads() >= seen+2 }); err != nil {
				return err
			}
			return gh.ReportCheckRun("sourcegraph/cloud", head, simgithub.CheckRun{Name: "build", Status: "completed", Conclusion: "success"})
		}()
	}()
	env := activityEnv(f.cr)
	r := crRunChange(t, env, f.cr, ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.9.0"), ChangeID: "create", Create: true})
	if err := <-ci; err != nil {
		t.Fatal(err)
	}
	if !r.Changed || merges() != 2 || crPulls(f.s) != 1 {
		t.Fatalf("want the refused merge, then one that went through: %+v, %d merges, %d PRs", r, merges(), crPulls(f.s))
	}
	if n := ledger(f.s, crKey("branches/acme/create")).Mutated; n != 0 {
		t.Fatalf("the branch was rewritten %d times: a check not yet reported must not be rebased over", n)
	}
}

// A failed required check is not rebased over either: the step parks with the check named.
func TestConfigRepoStopsOnAFailedRequiredCheck(t *testing.T) {
	f := crProtectedFixture(t, -1, &github.ProtectionRequest{
		RequiredStatusChecks: &github.RequiredStatusChecks{Contexts: []string{"ci/validate"}}})
	merges := countCalls(t, f.s, "github", "pulls.merge", "")
	env := activityEnv(f.cr)
	in := ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.9.0"), ChangeID: "create", Create: true}
	// CI never reports: the attempt ends Busy (retryable) without rebasing.
	f.cr.CheckWait = 300 * time.Millisecond
	_, err := env.ExecuteActivity(f.cr.ChangeInstanceConfig, in)
	appError(t, err, ErrBusy, false)
	if n := merges(); n != 1 || ledger(f.s, crKey("branches/acme/create")).Mutated != 0 {
		t.Fatalf("merges %d, branch rewritten %d times: CI not reporting must not rebase", n, ledger(f.s, crKey("branches/acme/create")).Mutated)
	}
	prs, _, err := f.raw.PullRequests.List(context.Background(), "sourcegraph", "cloud", nil)
	if err != nil || len(prs) != 1 {
		t.Fatalf("pulls: %v, %v", prs, err)
	}
	if _, _, err := f.raw.Repositories.CreateStatus(context.Background(), "sourcegraph", "cloud", prs[0].GetHead().GetSHA(),
		&github.RepoStatus{State: github.String("failure"), Context: github.String("ci/validate")}); err != nil {
		t.Fatal(err)
	}
	_, err = env.ExecuteActivity(f.cr.ChangeInstanceConfig, in)
	ae := appError(t, err, ErrPrecondition, true)
	if !strings.Contains(ae.Error(), `"ci/validate" is failing`) || !strings.Contains(ae.Error(), prs[0].GetHTMLURL()) {
		t.Fatalf("message: %v", ae)
	}
}

// A required review parks the change with the pull request's link (NeedsReview, not retried by
// Temporal); once someone approves, the same change merges its one pull request. Labels are
// added once.
func TestConfigRepoParksForAReviewOnAProtectedBranch(t *testing.T) {
	f := crProtectedFixture(t, 300*time.Millisecond, &github.ProtectionRequest{
		RequiredStatusChecks:       &github.RequiredStatusChecks{Contexts: []string{"ci/validate"}},
		RequiredPullRequestReviews: &github.PullRequestReviewsEnforcementRequest{RequiredApprovingReviewCount: 1}})
	merges := countCalls(t, f.s, "github", "pulls.merge", "")
	labels := countCalls(t, f.s, "github", "labels.add", "")
	env := activityEnv(f.cr)
	in := ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", "5.9.0"), ChangeID: "create", Create: true, Labels: []string{"mi-lifecycle"}}
	_, err := env.ExecuteActivity(f.cr.ChangeInstanceConfig, in)
	ae := appError(t, err, ErrNeedsReview, true)
	var url string
	if ae.Details(&url) != nil || !strings.HasPrefix(ae.Error(), "needs a review: "+url) || !strings.Contains(url, "/sourcegraph/cloud/pull/") {
		t.Fatalf("want the pull request's link first and as the detail, got %q (%q)", ae.Error(), url)
	}
	if merges() != 1 {
		t.Fatalf("a missing review must not be rebased over: %d merges", merges())
	}
	// Still unapproved: the same answer, nothing new.
	_, err = env.ExecuteActivity(f.cr.ChangeInstanceConfig, in)
	appError(t, err, ErrNeedsReview, true)
	prs, _, err := f.raw.PullRequests.List(context.Background(), "sourcegraph", "cloud", nil)
	if err != nil || len(prs) != 1 {
		t.Fatalf("pulls: %v, %v", prs, err)
	}
	if _, _, err := f.raw.PullRequests.CreateReview(context.Background(), "sourcegraph", "cloud", prs[0].GetNumber(),
		&github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err != nil {
		t.Fatal(err)
	}
	r := crRunChange(t, env, f.cr, in)
	if !r.Changed || r.PRURL != url || crPulls(f.s) != 1 || labels() != 1 {
		t.Fatalf("after the approval: %+v, %d PRs, labels added %d times", r, crPulls(f.s), labels())
	}
}

// What one config change costs of GitHub's write budget (secondary limits count every POST,
// PATCH, PUT and DELETE): tree, commit, branch, pull request, labels, merge, and the branch's
// deletion unless the repository deletes merged branches itself (delete_branch_on_merge).
func TestConfigRepoWritesPerChange(t *testing.T) {
	f := crNewFixture(t)
	gh := f.s.Part("github").(*simgithub.Part)
	env := activityEnv(f.cr)
	writes := func() int { return gh.WriteCounts()["sg-cloud-bot"].Writes }
	in := func(id, version string) ChangeConfigInput {
		return ChangeConfigInput{Slug: "acme", Config: crConfig("acme", "production", version), ChangeID: id, Labels: []string{"mi-upgrade"}}
	}
	crRunChange(t, env, f.cr, in("create", "5.9.0"))
	if n := writes(); n != 7 {
		t.Errorf("a change with labels: %d writes, want 7", n)
	}
	// A fresh worker (its cache of the setting empty) on a repository that deletes merged branches.
	if _, _, err := f.raw.Repositories.Edit(context.Background(), "sourcegraph", "cloud", &github.Repository{DeleteBranchOnMerge: github.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	gh2, err := NewGitHub("bot-token", f.s.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	cr2, err := NewConfigRepo(gh2, cloudConfig(f.s))
	if err != nil {
		t.Fatal(err)
	}
	env2 := activityEnv(cr2)
	before := writes()
	r := crRunChange(t, env2, cr2, in("upgrade-5.10.0", "5.10.0"))
	if n := writes() - before; n != 6 {
		t.Errorf("with delete_branch_on_merge: %d writes, want 6", n)
	}
	if head, err := cr2.branchHead(context.Background(), r.Branch); err != nil || head != "" {
		t.Errorf("the merged branch %s is still there (%q, %v)", r.Branch, head, err)
	}
}
