package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

func upgradeBody(version string) string {
	return fmt.Sprintf("### Target version\n\n%s\n\n### Dry run\n\n- [ ] %s\n\n### Concurrency\n\n_No response_\n\n### Approval\n\n- [ ] %s\n",
		version, forms.OptionDryRun, forms.OptionApproval)
}

// seeded is one instance of the e2e fleet, made in the simulator as if by hand before this
// service existed: the rollout adopts it.
type seeded struct {
	Slug           string            `json:"slug"`
	Type           string            `json:"type"`
	Version        string            `json:"version"`
	ReleaseChannel string            `json:"releaseChannel,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
}

// upgradeFleet is 22 instances: the canary, three other internal instances, six trials, ten
// customers (two with an accounts link) and two customers on the pause and insiders channels.
func upgradeFleet() []seeded {
	fleet := []seeded{{Slug: "rctest", Type: "internal"}, {Slug: "fu-demo", Type: "internal"}, {Slug: "fu-research", Type: "internal"}, {Slug: "fu-tpgi", Type: "internal"}}
	for i := 1; i <= 6; i++ {
		fleet = append(fleet, seeded{Slug: fmt.Sprintf("fu-t%d", i), Type: "trial"})
	}
	for i := 1; i <= 10; i++ {
		s := seeded{Slug: fmt.Sprintf("fu-c%02d", i), Type: "production"}
		if i <= 2 {
			s.Labels = map[string]string{"account": fmt.Sprintf("https://github.com/sourcegraph/accounts/issues/%d", 100+i)}
		}
		fleet = append(fleet, s)
	}
	fleet = append(fleet, seeded{Slug: "fu-paused", Type: "production", ReleaseChannel: "pause"}, seeded{Slug: "fu-insider", Type: "production", ReleaseChannel: "insiders"})
	for i := range fleet {
		fleet[i].Version = "5.9.0"
	}
	return fleet
}

// simInstance is one instance in the simulator's state dump.
type simInstance struct {
	Slug              string `json:"slug"`
	ConfiguredVersion string `json:"configuredVersion"`
	ServedVersion     string `json:"servedVersion"`
	Status            string `json:"status"`
	Rollouts          []struct {
		Version  string    `json:"version"`
		MergedAt time.Time `json:"mergedAt"`
	} `json:"rollouts"`
}

func simInstances(t *testing.T) map[string]simInstance {
	t.Helper()
	var st struct {
		Instances struct {
			Instances []simInstance `json:"instances"`
		} `json:"instances"`
	}
	simJSON(t, http.MethodGet, "/_sim/state", nil, &st)
	out := map[string]simInstance{}
	for _, in := range st.Instances.Instances {
		out[in.Slug] = in
	}
	return out
}

// mergedAt is when the instance's config last changed to version.
func (s simInstance) mergedAt(version string) time.Time {
	for i := len(s.Rollouts) - 1; i >= 0; i-- {
		if s.Rollouts[i].Version == version {
			return s.Rollouts[i].MergedAt
		}
	}
	return time.Time{}
}

func rolloutOf(t *testing.T, tc client.Client, id string) (workflows.RolloutState, error) {
	v, err := tc.QueryWorkflow(context.Background(), id, "", workflows.QueryRollout)
	if err != nil {
		return workflows.RolloutState{}, err
	}
	var st workflows.RolloutState
	return st, v.Get(&st)
}

// waitRollout polls the rollout until cond holds.
func waitRollout(t *testing.T, tc client.Client, id, what string, within time.Duration, cond func(workflows.RolloutState) bool) workflows.RolloutState {
	t.Helper()
	var st workflows.RolloutState
	var err error
	deadline := time.Now().Add(within)
	for {
		st, err = rolloutOf(t, tc, id)
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", " ")
			t.Fatalf("rollout %s: timed out after %s waiting for %s (query error %v); state:\n%s", id, within, what, err, b)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func statusIn(st workflows.RolloutState, slug string) workflows.RolloutInstance {
	for _, w := range st.Waves {
		for _, in := range w.Instances {
			if in.Slug == slug {
				return in
			}
		}
	}
	return workflows.RolloutInstance{}
}

func markRelease(t *testing.T, version string, bad bool, instances ...string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"bad": bad, "instances": instances})
	simJSON(t, http.MethodPost, "/_sim/releases/"+version, bytes.NewReader(b), nil)
}

// TestFleetUpgradeEndToEnd rolls 5.10.0 out to a seeded fleet of 22 instances, twice, through
// tracking issues and slash commands: first with the release marked bad (the canary fails, no
// customer changes, rctest is rolled back), then good but bad for one customer (the rollout halts
// at the end of that customer's wave, and a /skip on its upgrade lets it finish).
func TestFleetUpgradeEndToEnd(t *testing.T) {
	tc := temporalClient(t)
	fleet := upgradeFleet()
	b, _ := json.Marshal(map[string]any{"instances": fleet})
	simJSON(t, http.MethodPost, "/_sim/fleet", bytes.NewReader(b), nil)
	before := simInstances(t)
	for _, s := range fleet {
		if in := before[s.Slug]; in.ServedVersion != "5.9.0" || in.Status != "serving" {
			t.Fatalf("seeded %s is not serving 5.9.0: %+v", s.Slug, in)
		}
	}

	// 1. A bad release: the canary fails its soak and the rollout halts before anyone else.
	markRelease(t, "5.10.0", true)
	bad := fileIssue(t, "alice", forms.OpUpgradeFleet, "5.10.0 managed instances upgrade", upgradeBody("5.10.0"))
	badRef := workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: bad.GetNumber()}
	badID := workflows.RolloutWorkflowID(badRef)
	st := waitRollout(t, tc, badID, "the canary to halt the rollout", 90*time.Second, func(s workflows.RolloutState) bool {
		return s.Phase == workflows.PhaseHalted
	})
	if !strings.Contains(st.Reason, "canary") || statusIn(st, "rctest").Status != workflows.UpgradeParked || statusIn(st, "rctest").Step != "soak" {
		t.Fatalf("halted, but not on the canary's soak: %s; rctest %+v", st.Reason, statusIn(st, "rctest"))
	}
	now := simInstances(t)
	for _, s := range fleet {
		if s.Slug != "rctest" && now[s.Slug].ConfiguredVersion != "5.9.0" {
			t.Errorf("%s was touched by a rollout whose canary failed: %+v", s.Slug, now[s.Slug])
		}
	}
	if now["rctest"].ConfiguredVersion != "5.10.0" || now["rctest"].Status == "serving" {
		t.Fatalf("rctest should run the bad 5.10.0 and be unhealthy: %+v", now["rctest"])
	}
	eventually(t, 20*time.Second, "the halt notice on the tracking issue", func() bool { return hasReply(t, bad.GetNumber(), "<!-- lifecycle:halted:") })

	// On-call rolls the canary back by slash command, then aborts the rollout.
	say(t, "carol", bad.GetNumber(), "/rollback rctest the release crash-loops")
	st = waitRollout(t, tc, badID, "rctest to be rolled back", 60*time.Second, func(s workflows.RolloutState) bool {
		return statusIn(s, "rctest").Status == workflows.UpgradeRolledBack
	})
	if in := simInstances(t)["rctest"]; in.ConfiguredVersion != "5.9.0" || in.ServedVersion != "5.9.0" || in.Status != "serving" {
		t.Fatalf("rctest not back on a healthy 5.9.0 after the rollback: %+v", in)
	}
	say(t, "carol", bad.GetNumber(), "/abort 5.10.0 is bad; a patch follows")
	st = waitRollout(t, tc, badID, "the abort", 30*time.Second, func(s workflows.RolloutState) bool { return s.Phase == workflows.PhaseAborted })
	now = simInstances(t)
	for _, s := range fleet {
		if s.Slug != "rctest" && (now[s.Slug].ConfiguredVersion != "5.9.0" || len(now[s.Slug].Rollouts) != 1) {
			t.Errorf("%s changed during the bad rollout: %+v", s.Slug, now[s.Slug])
		}
	}

	// 2. The release is fixed, except for one customer whose data breaks it.
	markRelease(t, "5.10.0", false)
	markRelease(t, "5.10.0", true, "fu-c03")
	good := fileIssue(t, "alice", forms.OpUpgradeFleet, "5.10.0 managed instances upgrade (again)", upgradeBody("5.10.0"))
	goodRef := workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: good.GetNumber()}
	goodID := workflows.RolloutWorkflowID(goodRef)
	st = waitRollout(t, tc, goodID, "the failing customer to halt the rollout", 3*time.Minute, func(s workflows.RolloutState) bool {
		return s.Phase == workflows.PhaseHalted
	})
	var wave workflows.Wave
	for _, w := range st.Waves[st.Wave:] {
		wave = w
		break
	}
	if !slices.ContainsFunc(wave.Instances, func(in workflows.RolloutInstance) bool { return in.Slug == "fu-c03" }) {
		t.Fatalf("halted in wave %q, not in fu-c03's: %s", wave.Name, st.Reason)
	}
	for _, in := range wave.Instances {
		if in.Slug != "fu-c03" && in.Status != workflows.UpgradeSucceeded {
			t.Errorf("the rest of fu-c03's wave should finish before the halt: %s is %s", in.Slug, in.Status)
		}
	}
	if c03 := statusIn(st, "fu-c03"); c03.Status != workflows.UpgradeParked || c03.Step != "soak" {
		t.Fatalf("fu-c03 should be parked at its soak: %+v", c03)
	}
	now = simInstances(t)
	for _, w := range st.Waves[st.Wave+1:] {
		for _, in := range w.Instances {
			if in.Status != workflows.UpgradePending || now[in.Slug].ConfiguredVersion != "5.9.0" {
				t.Errorf("wave %q started although the rollout halted: %s %s, configured %s", w.Name, in.Slug, in.Status, now[in.Slug].ConfiguredVersion)
			}
		}
	}

	// The customer's team checks the instance by hand and on-call skips the soak.
	say(t, "carol", good.GetNumber(), "/skip fu-c03 customer verified search works; the health check is a known false alarm")
	st = waitRollout(t, tc, goodID, "the rollout to finish", 3*time.Minute, func(s workflows.RolloutState) bool { return s.Phase == workflows.PhaseDone })

	// Everyone but the pause and insiders channels is on 5.10.0, upgraded wave after wave, each
	// instance backed up before its version changed.
	now = simInstances(t)
	for _, s := range fleet {
		want := "5.10.0"
		if s.ReleaseChannel != "" {
			want = "5.9.0"
		}
		if now[s.Slug].ConfiguredVersion != want || now[s.Slug].ServedVersion != want {
			t.Errorf("%s: configured %s, served %s; want %s", s.Slug, now[s.Slug].ConfiguredVersion, now[s.Slug].ServedVersion, want)
		}
	}
	backups := simBackups(t)
	var prevEnd time.Time
	for _, w := range st.Waves {
		var first, last time.Time
		for _, in := range w.Instances {
			at := now[in.Slug].mergedAt("5.10.0")
			if at.IsZero() {
				t.Fatalf("%s has no 5.10.0 rollout in the simulator", in.Slug)
			}
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
			if in.Status != workflows.UpgradeSucceeded || in.PRURL == "" {
				t.Errorf("%s: %s, PR %q", in.Slug, in.Status, in.PRURL)
			}
			checkBackedUpBefore(t, backups, in.Slug, good.GetCreatedAt().Time, at)
		}
		if !prevEnd.IsZero() && !first.After(prevEnd) {
			t.Errorf("wave %q started (%s) before the previous wave's last upgrade (%s)", w.Name, first, prevEnd)
		}
		prevEnd = last
	}
	if got := []string{st.Waves[0].Name, st.Waves[0].Instances[0].Slug}; got[0] != "canary" || got[1] != "rctest" {
		t.Fatalf("the first wave is %v, want the canary rctest", got)
	}
	is, _, err := stack.GitHubAs("bob").Issues.Get(context.Background(), devstack.SampleOwner, devstack.SampleRepo, good.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	body := is.GetBody()
	if i := strings.Index(body, "<!-- lifecycle:rollout -->"); i >= 0 {
		body = body[i:] // the form above it has checkboxes of its own
	}
	if strings.Contains(body, "- [ ]") || strings.Count(body, "✅ upgraded") != 20 {
		t.Fatalf("the tracking issue is not fully ticked:\n%s", body)
	}
	if strings.Contains(body, "fu-c01") || !strings.Contains(body, "https://github.com/sourcegraph/accounts/issues/101") {
		t.Fatalf("customers with an accounts link must be named by it, not by slug:\n%s", body)
	}
	eventually(t, 20*time.Second, "the summary comment", func() bool { return hasReply(t, good.GetNumber(), "<!-- lifecycle:summary:") })
	// The rollout's own history per instance is what decides how often a large rollout continues
	// as new (LIFECYCLE_ROLLOUT_HISTORY); logged for the benchmarks' arithmetic.
	if d, err := tc.DescribeWorkflowExecution(context.Background(), goodID, ""); err == nil {
		n := d.GetWorkflowExecutionInfo().GetHistoryLength()
		t.Logf("rollout history: %d events for %d instances (%.1f per instance)", n, len(fleet)-2, float64(n)/float64(len(fleet)-2))
	}
}

// simBackupState is the simulator's on-demand backups: Cloud SQL backup runs and Backup for GKE
// backups, with the times the simulator recorded.
type simBackupState struct {
	SQL []struct {
		Name       string `json:"name"` // <project>/<instance>
		BackupRuns []struct {
			Status     string    `json:"status"`
			CreateTime time.Time `json:"createTime"`
		} `json:"backupRuns"`
	}
	GKE []struct {
		Name       string    `json:"name"`
		State      string    `json:"state"`
		CreateTime time.Time `json:"createTime"`
	}
}

func simBackups(t *testing.T) simBackupState {
	t.Helper()
	var st struct {
		CloudSQL struct {
			Instances json.RawMessage `json:"instances"`
		} `json:"cloudsql"`
		GKEBackup struct {
			Backups json.RawMessage `json:"backups"`
		} `json:"gkebackup"`
	}
	simJSON(t, http.MethodGet, "/_sim/state", nil, &st)
	var out simBackupState
	if err := json.Unmarshal(st.CloudSQL.Instances, &out.SQL); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(st.GKEBackup.Backups, &out.GKE); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkBackedUpBefore: the instance has a successful Cloud SQL backup run and a succeeded Backup
// for GKE backup taken after since and before at (when its new version was merged).
func checkBackedUpBefore(t *testing.T, b simBackupState, slug string, since, at time.Time) {
	t.Helper()
	project := spec.ProjectID(slug)
	sqlOK, gkeOK := false, false
	for _, in := range b.SQL {
		if !strings.HasPrefix(in.Name, project+"/") {
			continue
		}
		for _, r := range in.BackupRuns {
			sqlOK = sqlOK || (r.Status == "SUCCESSFUL" && r.CreateTime.After(since) && r.CreateTime.Before(at))
		}
	}
	for _, bk := range b.GKE {
		if strings.Contains(bk.Name, "projects/"+project+"/") && bk.State == "SUCCEEDED" && bk.CreateTime.After(since) && bk.CreateTime.Before(at) {
			gkeOK = true
		}
	}
	if !sqlOK || !gkeOK {
		t.Errorf("%s: no pre-upgrade backups between %s and its version change at %s (Cloud SQL %v, Backup for GKE %v)", slug, since, at, sqlOK, gkeOK)
	}
}

// TestAdoptFleetEndToEnd: `mi adopt -all` takes every instance of the config repo that has no
// workflow under management (the AdoptFleet workflow), reports each one it adopted, and a second
// run adopts nothing. It runs after the fleet rollout, whose instances are already managed.
func TestAdoptFleetEndToEnd(t *testing.T) {
	tc := temporalClient(t)
	simJSON(t, http.MethodPost, "/_sim/fleet", strings.NewReader(`{"instances":[`+
		`{"slug":"adopt-a","version":"5.9.0","type":"production","releaseChannel":"pause"},`+
		`{"slug":"adopt-b","version":"5.9.0","type":"trial","releaseChannel":"pause"}]}`), nil)
	_, out, errText := runMi(t, "adopt", "-all")
	adopted := ""
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "Adopted: "); ok {
			adopted = rest
		}
	}
	for _, slug := range []string{"adopt-a", "adopt-b"} {
		if !slices.Contains(strings.Split(adopted, ", "), slug) {
			t.Errorf("mi adopt -all did not report %s adopted:\n%s\n%s", slug, out, errText)
		}
		r := waitState(t, tc, slug, workflows.StateActive, time.Minute)
		if r.AdoptedAt.IsZero() || r.Instance.Version != "5.9.0" {
			t.Errorf("%s: %+v", slug, r)
		}
	}
	_, again, errText := runMi(t, "adopt", "-all")
	if !strings.Contains(again, " 0 adopted,") {
		t.Errorf("a second mi adopt -all adopted again:\n%s\n%s", again, errText)
	}
}
