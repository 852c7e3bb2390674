package activities

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	rm "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// sqlFixture starts the simulator, creates the instance's GCP project in it (Cloud SQL refuses
// unknown projects with 403, like GCP) and returns the activities struct.
func sqlFixture(t *testing.T) (*sim.Sim, *CloudSQL, string) {
	t.Helper()
	ctx := context.Background()
	s := startSim(t)
	cfg := cloudConfig(s)
	project := spec.ProjectID("sqltest")
	pc, err := rm.NewProjectsClient(ctx, GCPOptions(cfg)...)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	op, err := pc.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: project, Parent: "folders/123"}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !op.Done(); time.Sleep(10 * time.Millisecond) {
		if _, err := op.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("project creation did not finish")
		}
	}
	stack.MakeUsable(s, project)
	cs, err := NewCloudSQL(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs.PollInterval = 10 * time.Millisecond
	return s, cs, project
}

func sqlEnsureInput(project string) EnsureSQLInstanceInput {
	return EnsureSQLInstanceInput{Project: project, Region: "us-central1", Size: spec.Small}
}

func sqlInstanceKey(project string) string {
	return "cloudsql/" + sqlInstancePath(project, spec.SQLInstanceName)
}

// sqlBackupRunKeys lists the ledger keys of the instance's backup runs.
func sqlBackupRunKeys(s *sim.Sim, project string) []string {
	var keys []string
	for k := range s.Ledger() {
		if strings.HasPrefix(k, sqlInstanceKey(project)+"/backupRuns/") {
			keys = append(keys, k)
		}
	}
	return keys
}

func sqlGet(t *testing.T, cs *CloudSQL, project string) *sqladmin.DatabaseInstance {
	t.Helper()
	in, err := cs.svc.Instances.Get(project, spec.SQLInstanceName).Do()
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// sqlEnsure creates the instance and fails the test if it cannot.
func sqlEnsure(t *testing.T, cs *CloudSQL, project string) {
	t.Helper()
	if _, err := activityEnv(cs).ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project)); err != nil {
		t.Fatal(err)
	}
}

func TestCloudSQLEnsureInstance(t *testing.T) {
	t.Parallel()
	s, cs, project := sqlFixture(t)
	env := activityEnv(cs)

	for i, wantCreated := range []bool{true, false} {
		v, err := env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project))
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		var out EnsureSQLInstanceOutput
		if err := v.Get(&out); err != nil {
			t.Fatal(err)
		}
		if out.Created != wantCreated || out.Tier != "db-custom-2-7680" || out.ConnectionName == "" {
			t.Fatalf("run %d: %+v", i+1, out)
		}
	}
	if c := ledger(s, sqlInstanceKey(project)); c.Created != 1 || c.Mutated != 0 {
		t.Fatalf("ledger after two runs: %+v", c)
	}
	// A stale read (the instance looks absent) makes the insert answer 409 instanceAlreadyExists:
	// that is "exists with the same spec", success, not a conflict.
	addFault(t, s, sim.Fault{API: "cloudsql", Method: "instances.get", Status: 404, Count: 1})
	if _, err := env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project)); err != nil {
		t.Fatalf("insert racing an existing instance: %v", err)
	}
	if c := ledger(s, sqlInstanceKey(project)); c.Created != 1 {
		t.Fatalf("ledger after the race: %+v", c)
	}
	in := sqlGet(t, cs, project)
	bc := in.Settings.BackupConfiguration
	if in.State != "RUNNABLE" || in.DatabaseVersion != SQLDatabaseVersion || in.Region != "us-central1" || in.Settings.Edition != "ENTERPRISE" ||
		!in.Settings.DeletionProtectionEnabled || bc == nil || !bc.Enabled || !bc.PointInTimeRecoveryEnabled ||
		bc.TransactionLogRetentionDays != 7 || bc.BackupRetentionSettings == nil || bc.BackupRetentionSettings.RetainedBackups != 7 {
		t.Fatalf("instance not as specified: state %s version %s region %s settings %+v backup %+v", in.State, in.DatabaseVersion, in.Region, in.Settings, bc)
	}

	// Same name, different size: a clear, non-retryable conflict.
	large := sqlEnsureInput(project)
	large.Size = spec.Large
	_, err := env.ExecuteActivity(cs.EnsureSQLInstance, large)
	ae := appError(t, err, ErrConflict, true)
	if !strings.Contains(ae.Error(), "db-custom-8-30720") || !strings.Contains(ae.Error(), "What to do") {
		t.Fatalf("conflict message: %v", ae)
	}

	// Drift (backups switched off by hand) is put back.
	op, err := cs.svc.Instances.Patch(project, spec.SQLInstanceName, &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
		BackupConfiguration: &sqladmin.BackupConfiguration{Enabled: false, ForceSendFields: []string{"Enabled"}}}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.waitOp(context.Background(), project, op.Name, "test drift"); err != nil {
		t.Fatal(err)
	}
	v, err := env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project))
	var out EnsureSQLInstanceOutput
	if err != nil || v.Get(&out) != nil || !out.Reconciled || out.Created {
		t.Fatalf("drift run: %+v %v", out, err)
	}
	if !sqlGet(t, cs, project).Settings.BackupConfiguration.Enabled {
		t.Fatal("backups still off after reconcile")
	}
	if c := ledger(s, sqlInstanceKey(project)); c.Created != 1 {
		t.Fatalf("ledger after reconcile: %+v", c)
	}
}

func TestCloudSQLActivation(t *testing.T) {
	t.Parallel()
	s, cs, project := sqlFixture(t)
	sqlEnsure(t, cs, project)
	env := activityEnv(cs)
	for _, step := range []struct {
		policy      string
		wantChanged bool
		wantMutated int
	}{{"NEVER", true, 1}, {"NEVER", false, 1}, {"ALWAYS", true, 2}, {"ALWAYS", false, 2}} {
		v, err := env.ExecuteActivity(cs.SetSQLActivation, SetSQLActivationInput{Project: project, Policy: step.policy})
		var out SetSQLActivationOutput
		if err != nil || v.Get(&out) != nil {
			t.Fatalf("%s: %v", step.policy, err)
		}
		if out.Changed != step.wantChanged {
			t.Fatalf("%s: changed=%v, want %v", step.policy, out.Changed, step.wantChanged)
		}
		if got := sqlGet(t, cs, project).Settings.ActivationPolicy; got != step.policy {
			t.Fatalf("activation policy %s, want %s", got, step.policy)
		}
		if c := ledger(s, sqlInstanceKey(project)); c.Mutated != step.wantMutated {
			t.Fatalf("%s: ledger %+v, want %d mutations", step.policy, c, step.wantMutated)
		}
	}
	_, err := env.ExecuteActivity(cs.SetSQLActivation, SetSQLActivationInput{Project: project, Policy: "STOPPED"})
	appError(t, err, ErrInvalidArgument, true)
}

func TestCloudSQLBackupAndRestore(t *testing.T) {
	t.Parallel()
	s, cs, project := sqlFixture(t)
	sqlEnsure(t, cs, project)
	env := activityEnv(cs)
	backup := func(key string) int64 {
		t.Helper()
		v, err := env.ExecuteActivity(cs.BackupSQL, BackupSQLInput{Project: project, Key: key})
		var out BackupSQLOutput
		if err != nil || v.Get(&out) != nil || out.BackupRunID == 0 {
			t.Fatalf("backup %s: %+v %v", key, out, err)
		}
		return out.BackupRunID
	}
	first := backup("upgrade-acme-1/pre-upgrade")
	if again := backup("upgrade-acme-1/pre-upgrade"); again != first {
		t.Fatalf("re-run returned run %d, want %d", again, first)
	}
	if keys := sqlBackupRunKeys(s, project); len(keys) != 1 || ledger(s, keys[0]).Created != 1 {
		t.Fatalf("backup runs after two runs with one key: %v", keys)
	}
	second := backup("suspend-acme-1/backup")
	if second == first || len(sqlBackupRunKeys(s, project)) != 2 {
		t.Fatalf("a new key must take a new backup: %d %d", first, second)
	}
	run, err := cs.svc.BackupRuns.Get(project, spec.SQLInstanceName, first).Do()
	if err != nil || run.Status != "SUCCESSFUL" || run.Description != "lifecycle:upgrade-acme-1/pre-upgrade" {
		t.Fatalf("backup run: %+v %v", run, err)
	}

	_, err = env.ExecuteActivity(cs.BackupSQL, BackupSQLInput{Project: project})
	appError(t, err, ErrInvalidArgument, true)

	v, err := env.ExecuteActivity(cs.RestoreSQL, RestoreSQLInput{Project: project, BackupRunID: first})
	var out RestoreSQLOutput
	if err != nil || v.Get(&out) != nil || out.Operation == "" {
		t.Fatalf("restore: %+v %v", out, err)
	}
	if c := ledger(s, sqlInstanceKey(project)); c.Mutated != 1 {
		t.Fatalf("restore not applied: %+v", c)
	}
	_, err = env.ExecuteActivity(cs.RestoreSQL, RestoreSQLInput{Project: project, BackupRunID: 42})
	appError(t, err, ErrNotFound, true)

	// A stopped instance cannot be backed up: say so instead of letting the API fail obscurely.
	if _, err := env.ExecuteActivity(cs.SetSQLActivation, SetSQLActivationInput{Project: project, Policy: "NEVER"}); err != nil {
		t.Fatal(err)
	}
	_, err = env.ExecuteActivity(cs.BackupSQL, BackupSQLInput{Project: project, Key: "another"})
	if ae := appError(t, err, ErrPrecondition, true); !strings.Contains(ae.Error(), "SetSQLActivation ALWAYS") {
		t.Fatalf("stopped message: %v", ae)
	}
}

func TestCloudSQLTeardown(t *testing.T) {
	t.Parallel()
	s, cs, project := sqlFixture(t)
	sqlEnsure(t, cs, project)
	env := activityEnv(cs)
	in := DeleteSQLInstanceInput{Project: project}

	// Protected: refused with a typed error that names the fix. Checked before calling the API.
	_, err := env.ExecuteActivity(cs.DeleteSQLInstance, in)
	if ae := appError(t, err, ErrDeletionProtected, true); !strings.Contains(ae.Error(), "DisableSQLDeletionProtection") {
		t.Fatalf("message: %v", ae)
	}
	// The API's own refusal (a race with a re-enable) classifies the same way.
	_, err = cs.svc.Instances.Delete(project, spec.SQLInstanceName).Do()
	appError(t, classify("delete", err), ErrDeletionProtected, true)

	for i, want := range []bool{true, false} {
		v, err := env.ExecuteActivity(cs.DisableSQLDeletionProtection, DisableSQLDeletionProtectionInput{Project: project})
		var out DisableSQLDeletionProtectionOutput
		if err != nil || v.Get(&out) != nil || out.Changed != want {
			t.Fatalf("disable run %d: %+v %v", i+1, out, err)
		}
	}
	if sqlGet(t, cs, project).Settings.DeletionProtectionEnabled {
		t.Fatal("deletion protection still on")
	}
	for i, want := range []bool{true, false} {
		v, err := env.ExecuteActivity(cs.DeleteSQLInstance, in)
		var out DeleteSQLInstanceOutput
		if err != nil || v.Get(&out) != nil || out.Deleted != want {
			t.Fatalf("delete run %d: %+v %v", i+1, out, err)
		}
	}
	if c := ledger(s, sqlInstanceKey(project)); c.Created != 1 || c.Deleted != 1 {
		t.Fatalf("ledger: %+v", c)
	}
	v, err := env.ExecuteActivity(cs.DisableSQLDeletionProtection, DisableSQLDeletionProtectionInput{Project: project})
	var out DisableSQLDeletionProtectionOutput
	if err != nil || v.Get(&out) != nil || !out.Gone {
		t.Fatalf("disable after delete: %+v %v", out, err)
	}
	_, err = env.ExecuteActivity(cs.SetSQLActivation, SetSQLActivationInput{Project: project, Policy: "NEVER"})
	appError(t, err, ErrNotFound, true)
}

func TestCloudSQLRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	s, cs, project := sqlFixture(t)

	// 503 twice on insert: retried by Temporal, one instance.
	id := addFault(t, s, sim.Fault{API: "cloudsql", Method: "instances.insert", Status: 503, Count: 2})
	var out EnsureSQLInstanceOutput
	if err := runWithRetries(t, cs, cs.EnsureSQLInstance, sqlEnsureInput(project), &out); err != nil {
		t.Fatal(err)
	}
	if fired := id(); fired != 2 || !out.Created {
		t.Fatalf("fault fired %d times, out %+v", fired, out)
	}
	if c := ledger(s, sqlInstanceKey(project)); c.Created != 1 {
		t.Fatalf("ledger: %+v", c)
	}

	// 429 with Retry-After twice on the backup: retried after the delay, one backup run.
	id = addFault(t, s, sim.Fault{API: "cloudsql", Method: "backupRuns.insert", Status: 429, RetryAfter: sim.Duration(time.Second), Count: 2})
	var bout BackupSQLOutput
	if err := runWithRetries(t, cs, cs.BackupSQL, BackupSQLInput{Project: project, Key: "k"}, &bout); err != nil {
		t.Fatal(err)
	}
	if fired := id(); fired != 2 || bout.BackupRunID == 0 || len(sqlBackupRunKeys(s, project)) != 1 {
		t.Fatalf("fault fired %d times, out %+v, runs %v", fired, bout, sqlBackupRunKeys(s, project))
	}

	// The error a 429 turns into carries the server's Retry-After for Temporal's next attempt.
	addFault(t, s, sim.Fault{API: "cloudsql", Method: "instances.get", Status: 429, RetryAfter: sim.Duration(3 * time.Second), Count: 1})
	_, err := activityEnv(cs).ExecuteActivity(cs.SetSQLActivation, SetSQLActivationInput{Project: project, Policy: "ALWAYS"})
	if ae := appError(t, err, ErrRateLimited, false); ae.NextRetryDelay() != 3*time.Second {
		t.Fatalf("NextRetryDelay %v", ae.NextRetryDelay())
	}

	// Another operation running on the instance: 409 operationInProgress is ErrBusy, retryable.
	s.SetTimings(sim.Timings{SQLOperation: sim.Duration(5 * time.Second)})
	if _, err := cs.svc.BackupRuns.Insert(project, spec.SQLInstanceName, &sqladmin.BackupRun{}).Do(); err != nil {
		t.Fatal(err)
	}
	_, err = activityEnv(cs).ExecuteActivity(cs.SetSQLActivation, SetSQLActivationInput{Project: project, Policy: "NEVER"})
	appError(t, err, ErrBusy, false)
}

func TestCloudSQLPermanentErrors(t *testing.T) {
	t.Parallel()
	s, cs, project := sqlFixture(t)
	env := activityEnv(cs)

	addFault(t, s, sim.Fault{API: "cloudsql", Method: "instances.get", Status: 403, Count: 1})
	_, err := env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project))
	if ae := appError(t, err, ErrPermissionDenied, true); !strings.Contains(ae.Error(), "credentials") {
		t.Fatalf("message: %v", ae)
	}
	// A project the caller cannot see is answered with 403 too.
	_, err = env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput("src-no-such-project"))
	appError(t, err, ErrPermissionDenied, true)

	_, err = env.ExecuteActivity(cs.EnsureSQLInstance, EnsureSQLInstanceInput{Project: project, Region: "us-central1", Size: "huge"})
	appError(t, err, ErrInvalidArgument, true)

	// The create operation fails: typed, then the re-run sees a FAILED instance and says what to do.
	addFault(t, s, sim.Fault{API: "cloudsql", Method: "instances.insert", FailOperation: true, Message: "simulated zone outage", Count: 1})
	_, err = env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project))
	if ae := appError(t, err, ErrOperationFailed, true); !strings.Contains(ae.Error(), "simulated zone outage") || !strings.Contains(ae.Error(), "gcloud sql operations describe") {
		t.Fatalf("message: %v", ae)
	}
	_, err = env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project))
	if ae := appError(t, err, ErrPrecondition, true); !strings.Contains(ae.Error(), "FAILED") || !strings.Contains(ae.Error(), "DeleteSQLInstance") {
		t.Fatalf("message: %v", ae)
	}
	// The documented fix works: lift protection, delete, create again.
	for _, act := range []func() error{
		func() error {
			_, err := env.ExecuteActivity(cs.DisableSQLDeletionProtection, DisableSQLDeletionProtectionInput{Project: project})
			return err
		},
		func() error {
			_, err := env.ExecuteActivity(cs.DeleteSQLInstance, DeleteSQLInstanceInput{Project: project})
			return err
		},
		func() error { _, err := env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project)); return err },
	} {
		if err := act(); err != nil {
			t.Fatal(err)
		}
	}
	if c := ledger(s, sqlInstanceKey(project)); c.Created != 2 || c.Deleted != 1 {
		t.Fatalf("ledger: %+v", c)
	}

	// A failed backup operation is typed too.
	addFault(t, s, sim.Fault{API: "cloudsql", Method: "backupRuns.insert", FailOperation: true, Count: 1})
	_, err = env.ExecuteActivity(cs.BackupSQL, BackupSQLInput{Project: project, Key: "k"})
	appError(t, err, ErrOperationFailed, true)
	// ...and its re-run finds the FAILED run by its key rather than backing up again.
	_, err = env.ExecuteActivity(cs.BackupSQL, BackupSQLInput{Project: project, Key: "k"})
	if ae := appError(t, err, ErrOperationFailed, true); !strings.Contains(ae.Error(), "ended FAILED") {
		t.Fatalf("message: %v", ae)
	}
	if n := len(sqlBackupRunKeys(s, project)); n != 1 {
		t.Fatalf("%d backup runs, want 1", n)
	}
}

// sqlHeartbeats records the details of every heartbeat the activity environment sends.
type sqlHeartbeats struct {
	mu   sync.Mutex
	seen []sqlProgress
}

func (h *sqlHeartbeats) listen(_ *activity.Info, details converter.EncodedValues) {
	var p sqlProgress
	if details.HasValues() && details.Get(&p) == nil {
		h.mu.Lock()
		h.seen = append(h.seen, p)
		h.mu.Unlock()
	}
}

func (h *sqlHeartbeats) op(t *testing.T) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.seen {
		if p.Operation != "" {
			return p.Operation
		}
	}
	t.Fatalf("no heartbeat carried an operation name: %+v", h.seen)
	return ""
}

// TestCloudSQLHeartbeatResume: an attempt starts a slow operation, heartbeats its name and dies
// while polling; the next attempt, given those heartbeat details, waits on the same operation
// instead of issuing the mutation again.
func TestCloudSQLHeartbeatResume(t *testing.T) {
	t.Parallel()
	s, cs, project := sqlFixture(t)
	s.SetTimings(sim.Timings{SQLOperation: sim.Duration(400 * time.Millisecond)})

	t.Run("create", func(t *testing.T) {
		inserts := countCalls(t, s, "cloudsql", "instances.insert", "")
		// The first poll fails, as if the worker died after starting the operation.
		addFault(t, s, sim.Fault{API: "cloudsql", Method: "operations.get", Status: 503, Count: 1})
		var hb sqlHeartbeats
		env := activityEnv(cs)
		env.SetOnActivityHeartbeatListener(hb.listen)
		_, err := env.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project))
		appError(t, err, ErrTransient, false)
		opName := hb.op(t)

		polls := countCalls(t, s, "cloudsql", "operations.get", opName)
		env2 := activityEnv(cs)
		env2.SetHeartbeatDetails(sqlProgress{Operation: opName})
		v, err := env2.ExecuteActivity(cs.EnsureSQLInstance, sqlEnsureInput(project))
		var out EnsureSQLInstanceOutput
		if err != nil || v.Get(&out) != nil {
			t.Fatal(err)
		}
		if !out.Created || inserts() != 1 || polls() < 1 {
			t.Fatalf("out %+v, inserts %d, polls of %s %d", out, inserts(), opName, polls())
		}
		if c := ledger(s, sqlInstanceKey(project)); c.Created != 1 {
			t.Fatalf("ledger: %+v", c)
		}
	})

	t.Run("backup", func(t *testing.T) {
		inserts := countCalls(t, s, "cloudsql", "backupRuns.insert", "")
		addFault(t, s, sim.Fault{API: "cloudsql", Method: "operations.get", Status: 503, Count: 1})
		var hb sqlHeartbeats
		env := activityEnv(cs)
		env.SetOnActivityHeartbeatListener(hb.listen)
		in := BackupSQLInput{Project: project, Key: "upgrade-acme-7/pre-upgrade"}
		_, err := env.ExecuteActivity(cs.BackupSQL, in)
		appError(t, err, ErrTransient, false)
		opName := hb.op(t)

		polls := countCalls(t, s, "cloudsql", "operations.get", opName)
		runGets := countCalls(t, s, "cloudsql", "backupRuns.get", "")
		env2 := activityEnv(cs)
		env2.SetHeartbeatDetails(sqlProgress{Operation: opName})
		v, err := env2.ExecuteActivity(cs.BackupSQL, in)
		var out BackupSQLOutput
		if err != nil || v.Get(&out) != nil || out.BackupRunID == 0 {
			t.Fatalf("%+v %v", out, err)
		}
		// Resumed the operation (polled it), never inserted again nor fell back to polling the run.
		if inserts() != 1 || polls() < 1 || runGets() != 0 {
			t.Fatalf("inserts %d, polls of %s %d, run gets %d", inserts(), opName, polls(), runGets())
		}
		if keys := sqlBackupRunKeys(s, project); len(keys) != 1 || ledger(s, keys[0]).Created != 1 {
			t.Fatalf("backup runs: %v", keys)
		}
	})
}
