package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// fakeCloud stands in for the activities in workflow unit tests (testing layer 1): it registers
// a fake under every real activity name, records the calls in order, keeps a config repo so
// read-modify-write works, and fails activities on demand. End-to-end tests use the real
// activities against the simulator instead.
type fakeCloud struct {
	mu    sync.Mutex
	calls []call
	// fails: activity name → error returned (every call) until cleared with heal.
	fails map[string]error
	// configs is the config repo's default branch: slug → config.yaml.
	configs map[string]*spec.Config
	shas    map[string]int
	// comments: marker (or "comment:<n>") → latest body, in creation order.
	comments []fakeComment
	labels   []string
	// team members for IsTeamMember.
	team     map[string]bool
	issue    string // "open" or "closed"
	nextID   int64
	sqlState string // ALWAYS or NEVER
	poolSize int32
	holding  bool
	dns      bool
	// unhealthy, when set, makes Probe report the instance unhealthy with this error.
	unhealthy string
	// soakErr, when set, decides per call whether Soak fails (nil: it passes). Tests use it to
	// tell the soaks of one operation apart (the version wait, the soak at a version).
	soakErr func(activities.SoakInput) error
	// onCall, when set, runs after every recorded call of a fake, outside the lock, on the
	// activity's goroutine (while the workflow waits for that activity).
	onCall func(name string, in any)
	// fns: activity name → the registered fake, for a test that wraps one in a mock.
	fns map[string]any
}

type call struct {
	Name  string
	Input any
}

type fakeComment struct {
	Marker string
	Body   string
}

// fakeProbeEgress is the probes' egress the fake SetAllowlist reports added for monitoring.
const fakeProbeEgress = "198.18.0.10/32"

func newFakeCloud() *fakeCloud {
	return &fakeCloud{fails: map[string]error{}, configs: map[string]*spec.Config{}, shas: map[string]int{},
		team: map[string]bool{"bob": true, "carol": true}, issue: "open"}
}

// newOpEnv is a time-skipping test environment with the fakes and every workflow registered.
func newOpEnv(t testing.TB) (*testsuite.TestWorkflowEnvironment, *fakeCloud) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	// Warnings and errors only: the SDK logs every local activity result at debug level, which
	// would bury the benchmarks' figures.
	ts.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := ts.NewTestWorkflowEnvironment()
	f := newFakeCloud()
	f.register(env)
	for _, w := range Workflows() {
		env.RegisterWorkflowWithOptions(w.Func, workflow.RegisterOptions{Name: w.Name})
	}
	return env, f
}

// fail makes every call of the named activity fail non-retryably until heal.
func (f *fakeCloud) fail(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails[name] = temporal.NewNonRetryableApplicationError(name+" failed (injected)", "Injected", nil)
}

func (f *fakeCloud) heal(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.fails, name)
}

// names lists the called activities in order, leaving out the GitHub chatter (comments, labels)
// unless keepGitHub.
func (f *fakeCloud) names(keepGitHub bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if !keepGitHub && githubActivity(c.Name) {
			continue
		}
		out = append(out, c.Name)
	}
	// The two on-demand backups run at once: which one the log records first is the scheduler's,
	// so the pair is listed in one order.
	for i := 0; i+1 < len(out); i++ {
		if out[i] == "BackupGKE" && out[i+1] == "BackupSQL" {
			out[i], out[i+1] = out[i+1], out[i]
		}
	}
	return out
}

func githubActivity(name string) bool {
	switch name {
	case "Comment", "UpsertComment", "EditComment", "AddLabels", "RemoveLabel", "SetIssueState", "EditIssueBody", "IsTeamMember", "GetRelease":
		return true
	}
	return false
}

// inputs returns the inputs of every call of one activity.
func inputsOf[T any](f *fakeCloud, name string) []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []T
	for _, c := range f.calls {
		if c.Name == name {
			out = append(out, c.Input.(T))
		}
	}
	return out
}

// comment returns the latest body of the comment with the marker prefix ("" if none).
func (f *fakeCloud) comment(markerPrefix string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.comments {
		if strings.HasPrefix(c.Marker, markerPrefix) {
			return c.Body
		}
	}
	return ""
}

// allComments is every comment body, oldest first.
func (f *fakeCloud) allComments() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, c := range f.comments {
		b.WriteString(c.Body + "\n---\n")
	}
	return b.String()
}

// putConfig seeds the config repo.
func (f *fakeCloud) putConfig(c *spec.Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.configs[c.Metadata.Name] = c
	f.shas[c.Metadata.Name]++
}

func (f *fakeCloud) config(slug string) *spec.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.configs[slug]
}

// activeConfig is a running instance's config.yaml, as create leaves it.
func activeConfig(slug string, typ spec.InstanceType, version string) *spec.Config {
	return &spec.Config{APIVersion: spec.APIVersion, Kind: spec.Kind,
		Metadata: spec.Metadata{Name: slug, Labels: map[string]string{"instance-type": string(typ)}},
		Spec: spec.Spec{SourcegraphVersion: version, ReleaseChannel: spec.Stable, Domain: spec.Domain{PrimaryDNSName: spec.DefaultDomain(slug)},
			Infrastructure: spec.Infrastructure{GCP: spec.GCP{Region: "us-central1"}}, Size: spec.Small,
			Debug: spec.Debug{EnableAlerting: true, EnableDeletionProtection: true}},
		Status: spec.StatusFor(slug, "us-central1")}
}

// fake wraps a result function as an activity that records its call and honours injected failures.
func fake[In, Out any](f *fakeCloud, name string, result func(In) Out) func(context.Context, In) (Out, error) {
	return func(_ context.Context, in In) (Out, error) {
		f.mu.Lock()
		f.calls = append(f.calls, call{Name: name, Input: in})
		err := f.fails[name]
		var out Out
		if err == nil {
			out = result(in)
		}
		hook := f.onCall
		f.mu.Unlock()
		if hook != nil {
			hook(name, in)
		}
		return out, err
	}
}

type registrar interface {
	RegisterActivityWithOptions(a any, options activity.RegisterOptions)
}

func (f *fakeCloud) register(env registrar) {
	f.fns = map[string]any{}
	reg := func(name string, fn any) {
		f.fns[name] = fn
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	// Projects
	reg("EnsureProject", fake(f, "EnsureProject", func(in activities.EnsureProjectInput) activities.ProjectResult {
		return activities.ProjectResult{ProjectID: in.ProjectID, Name: "projects/1", State: "ACTIVE"}
	}))
	reg("EnsureBilling", fake(f, "EnsureBilling", func(in activities.EnsureBillingInput) activities.BillingResult {
		return activities.BillingResult{ProjectID: in.ProjectID, BillingAccount: "billingAccounts/0A1B2C-3D4E5F-000000", Linked: true}
	}))
	reg("EnableServices", fake(f, "EnableServices", func(in activities.EnableServicesInput) activities.EnableServicesResult {
		return activities.EnableServicesResult{ProjectID: in.ProjectID, Enabled: in.Services}
	}))
	reg("DeleteProject", fake(f, "DeleteProject", func(in activities.DeleteProjectInput) activities.DeleteProjectResult {
		return activities.DeleteProjectResult{ProjectID: in.ProjectID, State: "DELETE_REQUESTED"}
	}))
	// GKE
	reg("EnsureCluster", fake(f, "EnsureCluster", func(in activities.EnsureClusterInput) activities.ClusterResult {
		shape, _ := activities.NodePoolFor(in.Size)
		if f.poolSize == 0 {
			f.poolSize = shape.NodeCount
		}
		return activities.ClusterResult{Name: "projects/" + in.Project + "/locations/" + in.Region + "/clusters/" + in.Cluster, Exists: true,
			Status: "RUNNING", NodeCount: f.poolSize, NodePool: in.NodePool, MachineType: shape.MachineType, PoolSize: f.poolSize}
	}))
	reg("GetCluster", fake(f, "GetCluster", func(in activities.GetClusterInput) activities.ClusterResult {
		return activities.ClusterResult{Exists: true, Status: "RUNNING", NodeCount: f.poolSize, PoolSize: f.poolSize, NodePool: in.NodePool}
	}))
	reg("ResizeNodePool", fake(f, "ResizeNodePool", func(in activities.ResizeNodePoolInput) activities.ResizeNodePoolResult {
		f.poolSize = in.NodeCount
		return activities.ResizeNodePoolResult{NodePool: in.NodePool, NodeCount: in.NodeCount}
	}))
	reg("DeleteCluster", fake(f, "DeleteCluster", func(in activities.DeleteClusterInput) activities.DeleteClusterResult {
		return activities.DeleteClusterResult{Name: in.Cluster}
	}))
	// Backup for GKE
	reg("EnsureBackupPlan", fake(f, "EnsureBackupPlan", func(in activities.EnsureBackupPlanInput) activities.BackupPlanResult {
		return activities.BackupPlanResult{Name: in.Plan, State: "READY", CronSchedule: "0 3 * * *", RetainDays: 90}
	}))
	reg("BackupGKE", fake(f, "BackupGKE", func(in activities.BackupGKEInput) activities.BackupGKEResult {
		return activities.BackupGKEResult{Name: "projects/" + in.Project + "/locations/" + in.Region + "/backupPlans/" + in.Plan + "/backups/" + in.Name, State: "SUCCEEDED"}
	}))
	reg("DeleteGKEBackups", fake(f, "DeleteGKEBackups", func(in activities.DeleteGKEBackupsInput) activities.DeleteGKEBackupsResult {
		return activities.DeleteGKEBackupsResult{Deleted: []string{in.Plan + "/backups/b1"}}
	}))
	reg("DeleteBackupPlan", fake(f, "DeleteBackupPlan", func(in activities.DeleteBackupPlanInput) activities.DeleteBackupPlanResult {
		return activities.DeleteBackupPlanResult{Name: in.Plan}
	}))
	reg("RestoreGKE", fake(f, "RestoreGKE", func(in activities.RestoreGKEInput) activities.RestoreGKEResult {
		return activities.RestoreGKEResult{Name: in.Name, State: "SUCCEEDED"}
	}))
	// Cloud SQL
	reg("EnsureSQLInstance", fake(f, "EnsureSQLInstance", func(in activities.EnsureSQLInstanceInput) activities.EnsureSQLInstanceOutput {
		f.sqlState = "ALWAYS"
		return activities.EnsureSQLInstanceOutput{Instance: spec.SQLInstanceName, ConnectionName: in.Project + ":" + in.Region + ":" + spec.SQLInstanceName, Created: true}
	}))
	reg("SetSQLActivation", fake(f, "SetSQLActivation", func(in activities.SetSQLActivationInput) activities.SetSQLActivationOutput {
		changed := f.sqlState != in.Policy
		f.sqlState = in.Policy
		return activities.SetSQLActivationOutput{Changed: changed}
	}))
	reg("BackupSQL", fake(f, "BackupSQL", func(in activities.BackupSQLInput) activities.BackupSQLOutput {
		f.nextID++
		return activities.BackupSQLOutput{BackupRunID: 1000 + f.nextID}
	}))
	reg("DisableSQLDeletionProtection", fake(f, "DisableSQLDeletionProtection", func(in activities.DisableSQLDeletionProtectionInput) activities.DisableSQLDeletionProtectionOutput {
		return activities.DisableSQLDeletionProtectionOutput{Changed: true}
	}))
	reg("DeleteSQLInstance", fake(f, "DeleteSQLInstance", func(in activities.DeleteSQLInstanceInput) activities.DeleteSQLInstanceOutput {
		return activities.DeleteSQLInstanceOutput{Deleted: true}
	}))
	reg("RestoreSQL", fake(f, "RestoreSQL", func(in activities.RestoreSQLInput) activities.RestoreSQLOutput {
		return activities.RestoreSQLOutput{Operation: "restore-1"}
	}))
	// Cloudflare
	reg("EnsureDNS", fake(f, "EnsureDNS", func(in activities.EnsureDNSInput) activities.EnsureDNSOutput {
		f.dns = true
		return activities.EnsureDNSOutput{ZoneID: "zone", RecordID: "rec", Created: true}
	}))
	reg("SetAllowlist", fake(f, "SetAllowlist", func(in activities.SetAllowlistInput) activities.SetAllowlistOutput {
		out := activities.SetAllowlistOutput{ZoneID: "zone", Changed: true}
		if len(in.CIDRs) > 0 { // as the worker with LIFECYCLE_PROBE_EGRESS set does
			out.Monitoring = []string{fakeProbeEgress}
		}
		return out
	}))
	reg("SetHoldingPage", fake(f, "SetHoldingPage", func(in activities.SetHoldingPageInput) activities.SetHoldingPageOutput {
		f.holding = in.On
		return activities.SetHoldingPageOutput{ZoneID: "zone", Changed: true}
	}))
	reg("DeleteDNS", fake(f, "DeleteDNS", func(in activities.DeleteDNSInput) activities.DeleteDNSOutput {
		f.dns = false
		return activities.DeleteDNSOutput{ZoneID: "zone", DeletedRecords: 1}
	}))
	// Uptime: healthy, serving the configured version.
	version := func(host string) string {
		for _, c := range f.configs {
			if c.Spec.Domain.PrimaryDNSName == host {
				return c.Spec.SourcegraphVersion
			}
		}
		return ""
	}
	reg("Probe", fake(f, "Probe", func(in activities.ProbeInput) activities.ProbeResult {
		if f.unhealthy != "" {
			return activities.ProbeResult{Healthy: false, Version: version(in.Host), HealthzStatus: 503, VersionStatus: 200, SignInStatus: 503, Error: f.unhealthy}
		}
		return activities.ProbeResult{Healthy: true, Version: version(in.Host), HealthzStatus: 200, VersionStatus: 200, SignInStatus: 200}
	}))
	reg("Soak", func(_ context.Context, in activities.SoakInput) (activities.SoakResult, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, call{Name: "Soak", Input: in})
		if err := f.fails["Soak"]; err != nil {
			return activities.SoakResult{}, err
		}
		if f.soakErr != nil {
			if err := f.soakErr(in); err != nil {
				return activities.SoakResult{}, err
			}
		}
		return activities.SoakResult{Version: version(in.Host), Consecutive: in.Consecutive, Probes: in.Consecutive}, nil
	})
	// GitHub
	upsert := func(marker, body string) activities.CommentResult {
		for i, c := range f.comments {
			if c.Marker == marker {
				f.comments[i].Body = body
				return activities.CommentResult{ID: int64(i + 1), Action: "edited"}
			}
		}
		f.comments = append(f.comments, fakeComment{Marker: marker, Body: body})
		return activities.CommentResult{ID: int64(len(f.comments)), Action: "created"}
	}
	reg("Comment", fake(f, "Comment", func(in activities.CommentInput) activities.CommentResult {
		return upsert(fmt.Sprintf("comment:%d", len(f.comments)), in.Body)
	}))
	reg("UpsertComment", fake(f, "UpsertComment", func(in activities.UpsertCommentInput) activities.CommentResult {
		return upsert(in.Marker, in.Body)
	}))
	reg("EditComment", fake(f, "EditComment", func(in activities.EditCommentInput) activities.CommentResult {
		return activities.CommentResult{ID: in.ID, Action: "edited"}
	}))
	reg("AddLabels", fake(f, "AddLabels", func(in activities.LabelsInput) activities.LabelsResult {
		for _, l := range in.Labels {
			if !slices.Contains(f.labels, l) {
				f.labels = append(f.labels, l)
			}
		}
		return activities.LabelsResult{Labels: slices.Clone(f.labels)}
	}))
	reg("RemoveLabel", func(_ context.Context, in activities.RemoveLabelInput) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, call{Name: "RemoveLabel", Input: in})
		f.labels = slices.DeleteFunc(f.labels, func(l string) bool { return l == in.Label })
		return f.fails["RemoveLabel"]
	})
	reg("SetIssueState", fake(f, "SetIssueState", func(in activities.IssueStateInput) activities.IssueStateResult {
		changed := f.issue != in.State
		f.issue = in.State
		return activities.IssueStateResult{State: in.State, StateReason: in.StateReason, Changed: changed}
	}))
	reg("EditIssueBody", fake(f, "EditIssueBody", func(in activities.EditIssueBodyInput) activities.EditIssueBodyResult {
		return activities.EditIssueBodyResult{}
	}))
	reg("IsTeamMember", fake(f, "IsTeamMember", func(in activities.TeamMemberInput) bool { return f.team[in.User] }))
	reg("GetRelease", fake(f, "GetRelease", func(in activities.ReleaseInput) activities.ReleaseResult {
		return activities.ReleaseResult{Tag: "v" + strings.TrimPrefix(in.Tag, "v"), PublishedAt: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	}))
	// Config repo
	reg("ReadInstanceConfig", fake(f, "ReadInstanceConfig", func(in activities.ReadConfigInput) activities.ReadConfigResult {
		c, ok := f.configs[in.Slug]
		if !ok {
			return activities.ReadConfigResult{Path: spec.ConfigPath("prod", in.Slug)}
		}
		cp := *c
		cp.Metadata.Labels = cloneMap(c.Metadata.Labels)
		cp.Spec.IPAllowlist = slices.Clone(c.Spec.IPAllowlist)
		return activities.ReadConfigResult{Found: true, Config: &cp, SHA: fmt.Sprintf("sha-%d", f.shas[in.Slug]), Path: spec.ConfigPath("prod", in.Slug)}
	}))
	// listFleet is the fleet as the real ListFleet reads it; called with f.mu held.
	listFleet := func() []activities.FleetEntry {
		var out []activities.FleetEntry
		for _, c := range f.configs {
			e := activities.FleetEntry{Slug: c.Metadata.Name, Type: string(c.Type()), Version: c.Spec.SourcegraphVersion,
				ReleaseChannel: string(c.Spec.ReleaseChannel), Domain: c.Spec.Domain.PrimaryDNSName, Region: c.Spec.Infrastructure.GCP.Region,
				Size: string(c.Spec.Size), Suspended: c.Spec.Suspended, Alerting: c.Spec.Debug.EnableAlerting}
			// As the real ListFleet: the window as declared (a copy), the account only when the
			// label is an accounts link.
			if w := c.Spec.MaintenanceWindow; w != nil {
				cp := *w
				cp.Days = slices.Clone(w.Days)
				e.MaintenanceWindow = &cp
			}
			if a := strings.TrimSpace(c.Metadata.Labels[activities.AccountLabel]); spec.ValidateAccountLink("", a) == nil {
				e.Account = a
			}
			out = append(out, e)
		}
		slices.SortFunc(out, func(a, b activities.FleetEntry) int { return strings.Compare(a.Slug, b.Slug) })
		return out
	}
	reg("ListFleet", func(context.Context) ([]activities.FleetEntry, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, call{Name: "ListFleet"})
		return listFleet(), f.fails["ListFleet"]
	})
	// The paged listing is recorded as the one logical call the tests look for, "ListFleet".
	reg("ListFleetPage", func(_ context.Context, in activities.FleetPageInput) (activities.FleetPage, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls = append(f.calls, call{Name: "ListFleet"})
		out := listFleet()
		i := 0
		for i < len(out) && in.After != "" && out[i].Slug <= in.After {
			i++
		}
		out = out[i:]
		page := activities.FleetPage{Entries: out}
		if in.Limit > 0 && len(out) > in.Limit {
			page.Entries, page.Next = out[:in.Limit], out[in.Limit-1].Slug
		}
		return page, f.fails["ListFleet"]
	})
	reg("ChangeInstanceConfig", fake(f, "ChangeInstanceConfig", func(in activities.ChangeConfigInput) activities.ChangeResult {
		cp := *in.Config
		f.configs[in.Slug] = &cp
		f.shas[in.Slug]++
		f.nextID++
		return activities.ChangeResult{Changed: true, Branch: in.Slug + "/" + in.ChangeID, PRNumber: int(f.nextID),
			PRURL: fmt.Sprintf("https://github.com/sourcegraph/cloud/pull/%d", f.nextID), SHA: fmt.Sprintf("sha-%d", f.shas[in.Slug])}
	}))
	reg("DeleteInstanceConfig", fake(f, "DeleteInstanceConfig", func(in activities.DeleteConfigInput) activities.ChangeResult {
		delete(f.configs, in.Slug)
		f.nextID++
		return activities.ChangeResult{Changed: true, PRNumber: int(f.nextID), PRURL: fmt.Sprintf("https://github.com/sourcegraph/cloud/pull/%d", f.nextID)}
	}))
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// callsOf counts the calls of one activity.
func (f *fakeCloud) callsOf(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Name == name {
			n++
		}
	}
	return n
}
