package cloudsql_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	sqladmin "google.golang.org/api/sqladmin/v1"
	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/cloudsql"
)

const project = "sg-acme"

// start runs a simulator with the Cloud SQL part (plus extra parts) and returns a real sqladmin
// client pointed at it.
func start(t *testing.T, opDuration time.Duration, extra ...sim.PartFactory) (*sim.Sim, *sqladmin.Service) {
	t.Helper()
	parts := append([]sim.PartFactory{cloudsql.New}, extra...)
	s, err := sim.Start(sim.Config{Timings: sim.Timings{SQLOperation: sim.Duration(opDuration)}}, parts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	svc, err := sqladmin.NewService(context.Background(), option.WithEndpoint(s.URL()+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return s, svc
}

// waitOp polls an operation until DONE, returning it and every status seen on the way.
func waitOp(t *testing.T, svc *sqladmin.Service, op *sqladmin.Operation) (*sqladmin.Operation, []string) {
	t.Helper()
	seen := []string{op.Status}
	deadline := time.Now().Add(10 * time.Second)
	for op.Status != "DONE" {
		if time.Now().After(deadline) {
			t.Fatalf("operation %s (%s) not DONE after 10s; statuses seen %v", op.Name, op.OperationType, seen)
		}
		time.Sleep(10 * time.Millisecond)
		var err error
		if op, err = svc.Operations.Get(project, op.Name).Do(); err != nil {
			t.Fatalf("operations.get: %v", err)
		}
		seen = append(seen, op.Status)
	}
	return op, seen
}

// mustDone returns a function that takes a call's (operation, error) and waits for the operation,
// which must succeed: mustDone(t, svc)(svc.Instances.Patch(...).Do()).
func mustDone(t *testing.T, svc *sqladmin.Service) func(*sqladmin.Operation, error) *sqladmin.Operation {
	return func(op *sqladmin.Operation, err error) *sqladmin.Operation {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		op, _ = waitOp(t, svc, op)
		if op.Error != nil {
			t.Fatalf("operation %s failed: %+v", op.OperationType, op.Error.Errors[0])
		}
		return op
	}
}

// apiError asserts err is a *googleapi.Error with that code and first reason.
func apiError(t *testing.T, err error, code int, reason string) *googleapi.Error {
	t.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		t.Fatalf("want *googleapi.Error %d %s, got %v", code, reason, err)
	}
	if gerr.Code != code || len(gerr.Errors) == 0 || gerr.Errors[0].Reason != reason {
		t.Fatalf("want %d %s, got %d %+v", code, reason, gerr.Code, gerr.Errors)
	}
	return gerr
}

func newInstance(name string) *sqladmin.DatabaseInstance {
	return &sqladmin.DatabaseInstance{
		Name:            name,
		DatabaseVersion: "POSTGRES_16",
		Region:          "us-central1",
		Settings: &sqladmin.Settings{
			Tier:                      "db-custom-1-4096",
			Edition:                   "ENTERPRISE",
			DeletionProtectionEnabled: true,
			BackupConfiguration: &sqladmin.BackupConfiguration{
				Enabled:                     true,
				PointInTimeRecoveryEnabled:  true,
				StartTime:                   "10:00",
				TransactionLogRetentionDays: 7,
				BackupRetentionSettings:     &sqladmin.BackupRetentionSettings{RetainedBackups: 7, RetentionUnit: "COUNT"},
			},
		},
	}
}

func serving(s *sim.Sim, name string) bool {
	defer s.Lock()()
	return s.Part("cloudsql").(*cloudsql.Part).Serving(project, name)
}

func TestInstanceLifecycle(t *testing.T) {
	s, svc := start(t, 200*time.Millisecond)

	op, err := svc.Instances.Insert(project, newInstance("acme")).Do()
	if err != nil {
		t.Fatal(err)
	}
	if op.Status != "PENDING" || op.OperationType != "CREATE" || op.TargetId != "acme" || op.Kind != "sql#operation" {
		t.Fatalf("insert returned %+v", op)
	}
	if in, err := svc.Instances.Get(project, "acme").Do(); err != nil || in.State != "PENDING_CREATE" {
		t.Fatalf("during create: %v %+v", err, in)
	}
	op, seen := waitOp(t, svc, op)
	if len(seen) < 2 || op.EndTime == "" || op.StartTime == "" || op.InsertTime == "" || op.Error != nil {
		t.Fatalf("create op %+v, statuses %v", op, seen)
	}
	t.Logf("create statuses: %v", seen)

	in, err := svc.Instances.Get(project, "acme").Do()
	if err != nil {
		t.Fatal(err)
	}
	bc := in.Settings.BackupConfiguration
	if in.State != "RUNNABLE" || in.Settings.ActivationPolicy != "ALWAYS" || in.Settings.SettingsVersion != 1 ||
		!in.Settings.DeletionProtectionEnabled || bc == nil || !bc.PointInTimeRecoveryEnabled || bc.StartTime != "10:00" ||
		bc.TransactionLogRetentionDays != 7 || bc.BackupRetentionSettings.RetainedBackups != 7 || in.ConnectionName != project+":us-central1:acme" {
		t.Fatalf("after create: %+v settings %+v", in, in.Settings)
	}
	if !serving(s, "acme") {
		t.Fatal("Serving = false after create")
	}

	// A suspend backs up first, while the instance runs.
	mustDone(t, svc)(svc.BackupRuns.Insert(project, "acme", &sqladmin.BackupRun{Description: "suspend-acme-1"}).Do())

	// Stop: activationPolicy NEVER. State stays RUNNABLE; nothing else in settings changes.
	mustDone(t, svc)(svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{
		Settings: &sqladmin.Settings{ActivationPolicy: "NEVER"}}).Do())
	in, _ = svc.Instances.Get(project, "acme").Do()
	if in.State != "RUNNABLE" || in.Settings.ActivationPolicy != "NEVER" || in.Settings.SettingsVersion != 2 ||
		!in.Settings.DeletionProtectionEnabled || in.Settings.BackupConfiguration.StartTime != "10:00" || in.Settings.Tier != "db-custom-1-4096" {
		t.Fatalf("after stop: %+v settings %+v", in, in.Settings)
	}
	if serving(s, "acme") {
		t.Fatal("Serving = true while stopped")
	}

	// A stopped instance takes no backup run: 400 invalid, as for any call that needs the server.
	_, err = svc.BackupRuns.Insert(project, "acme", &sqladmin.BackupRun{Description: "suspend-acme-1"}).Do()
	if gerr := apiError(t, err, http.StatusBadRequest, "invalid"); gerr.Message != "Invalid request: Invalid request since instance is not running." {
		t.Fatalf("backup run of a stopped instance: message %q", gerr.Message)
	}

	// Start again.
	mustDone(t, svc)(svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{
		Settings: &sqladmin.Settings{ActivationPolicy: "ALWAYS"}}).Do())
	if !serving(s, "acme") {
		t.Fatal("Serving = false after start")
	}

	op = mustDone(t, svc)(svc.BackupRuns.Insert(project, "acme", &sqladmin.BackupRun{Description: "upgrade-acme-2"}).Do())
	if op.OperationType != "BACKUP_VOLUME" || op.BackupContext == nil || op.BackupContext.BackupId == 0 {
		t.Fatalf("backup op %+v", op)
	}
	runs, err := svc.BackupRuns.List(project, "acme").Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(runs.Items) != 2 || runs.Items[0].Description != "upgrade-acme-2" || runs.Items[0].Status != "SUCCESSFUL" ||
		runs.Items[0].Type != "ON_DEMAND" || runs.Items[0].Id != op.BackupContext.BackupId || runs.Items[1].Description != "suspend-acme-1" {
		t.Fatalf("backup runs: %+v", runs.Items)
	}
	if run, err := svc.BackupRuns.Get(project, "acme", runs.Items[1].Id).Do(); err != nil || run.Status != "SUCCESSFUL" {
		t.Fatalf("backupRuns.get: %v %+v", err, run)
	}

	// Deletion protection is enforced until lifted; lifting false needs ForceSendFields.
	_, err = svc.Instances.Delete(project, "acme").Do()
	apiError(t, err, http.StatusBadRequest, "deletionProtectionEnabled")
	mustDone(t, svc)(svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
		DeletionProtectionEnabled: false, ForceSendFields: []string{"DeletionProtectionEnabled"}}}).Do())
	in, _ = svc.Instances.Get(project, "acme").Do()
	if in.Settings.DeletionProtectionEnabled || in.Settings.ActivationPolicy != "ALWAYS" || in.Settings.SettingsVersion != 4 {
		t.Fatalf("after lifting protection: %+v", in.Settings)
	}

	op = mustDone(t, svc)(svc.Instances.Delete(project, "acme").Do())
	if op.OperationType != "DELETE" {
		t.Fatalf("delete op %+v", op)
	}
	_, err = svc.Instances.Get(project, "acme").Do()
	apiError(t, err, http.StatusNotFound, "instanceDoesNotExist")
	_, err = svc.BackupRuns.List(project, "acme").Do()
	apiError(t, err, http.StatusNotFound, "instanceDoesNotExist")

	ledger := s.Ledger()
	if c := ledger["cloudsql/projects/sg-acme/instances/acme"]; c.Created != 1 || c.Mutated != 3 || c.Deleted != 1 {
		t.Fatalf("instance ledger %+v", c)
	}
	runKey := "cloudsql/projects/sg-acme/instances/acme/backupRuns/"
	for _, run := range runs.Items {
		if c := ledger[runKey+strconv.FormatInt(run.Id, 10)]; c.Created != 1 || c.Deleted != 1 {
			t.Fatalf("backup run %d ledger %+v", run.Id, c)
		}
	}
}

func TestConflicts(t *testing.T) {
	s, svc := start(t, 300*time.Millisecond)
	op, err := svc.Instances.Insert(project, newInstance("acme")).Do()
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Instances.Insert(project, newInstance("acme")).Do()
	apiError(t, err, http.StatusConflict, "instanceAlreadyExists")

	// The CREATE is still running: any other mutation is refused.
	_, err = svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{ActivationPolicy: "NEVER"}}).Do()
	gerr := apiError(t, err, http.StatusConflict, "operationInProgress")
	if gerr.Message != "Operation failed because another operation was already in progress." {
		t.Fatalf("message %q", gerr.Message)
	}
	_, err = svc.BackupRuns.Insert(project, "acme", &sqladmin.BackupRun{}).Do()
	apiError(t, err, http.StatusConflict, "operationInProgress")
	mustDone(t, svc)(op, nil)

	// Once it is done the same call goes through.
	mustDone(t, svc)(svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{ActivationPolicy: "NEVER"}}).Do())

	// A stale settingsVersion is refused.
	_, err = svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{SettingsVersion: 1, Tier: "db-custom-2-8192"}}).Do()
	apiError(t, err, http.StatusPreconditionFailed, "conditionNotMet")

	// Invalid input is a 400; unknown sub-resources a 404 notFound.
	_, err = svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{ActivationPolicy: "SOMETIMES"}}).Do()
	apiError(t, err, http.StatusBadRequest, "invalid")
	_, err = svc.Instances.Insert(project, &sqladmin.DatabaseInstance{Name: "Bad_Name", Settings: &sqladmin.Settings{Tier: "db-f1-micro"}}).Do()
	apiError(t, err, http.StatusBadRequest, "invalid")
	_, err = svc.BackupRuns.Get(project, "acme", 42).Do()
	apiError(t, err, http.StatusNotFound, "notFound")
	_, err = svc.Operations.Get(project, "00000000-0000-4000-8000-000000000000").Do()
	apiError(t, err, http.StatusNotFound, "notFound")
	_, err = svc.Instances.Get(project, "nope").Do()
	gerr = apiError(t, err, http.StatusNotFound, "instanceDoesNotExist")
	if gerr.Message != "The Cloud SQL instance does not exist." {
		t.Fatalf("message %q", gerr.Message)
	}

	if c := s.Ledger()["cloudsql/projects/sg-acme/instances/acme"]; c.Created != 1 {
		t.Fatalf("ledger %+v", c)
	}
	// The state dump renders.
	if b, err := json.Marshal(s.Snapshot()["cloudsql"]); err != nil || !strings.Contains(string(b), `"activationPolicy":"NEVER"`) {
		t.Fatalf("snapshot: %s %v", b, err)
	}
}

func TestInjectedFaults(t *testing.T) {
	s, svc := start(t, 0)
	mustDone(t, svc)(svc.Instances.Insert(project, newInstance("acme")).Do())

	if _, err := s.AddFault(sim.Fault{API: "cloudsql", Method: "instances.get", Status: 429, RetryAfter: sim.Duration(3 * time.Second), Count: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Instances.Get(project, "acme").Do()
	gerr := apiError(t, err, http.StatusTooManyRequests, "rateLimitExceeded")
	if gerr.Header.Get("Retry-After") != "3" {
		t.Fatalf("Retry-After %q", gerr.Header.Get("Retry-After"))
	}
	// Count 1: the next call goes through (the client itself does not retry).
	if _, err := svc.Instances.Get(project, "acme").Do(); err != nil {
		t.Fatal(err)
	}

	s.AddFault(sim.Fault{API: "cloudsql", Method: "operations.get", Status: 503, Count: 1})
	op, err := svc.Operations.List(project).Instance("acme").Do()
	if err != nil || len(op.Items) != 1 {
		t.Fatalf("operations.list: %v %+v", err, op)
	}
	_, err = svc.Operations.Get(project, op.Items[0].Name).Do()
	apiError(t, err, http.StatusServiceUnavailable, "backendError")

	// failOperation: the call succeeds, the operation ends DONE with an error, nothing changes.
	s.AddFault(sim.Fault{API: "cloudsql", Method: "instances.patch", FailOperation: true, Message: "simulated disk failure", Count: 1})
	started, err := svc.Instances.Patch(project, "acme", &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{ActivationPolicy: "NEVER"}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	done, _ := waitOp(t, svc, started)
	if done.Error == nil || len(done.Error.Errors) != 1 || done.Error.Errors[0].Message != "simulated disk failure" || done.Error.Errors[0].Code == "" {
		t.Fatalf("failed op %+v", done)
	}
	if in, _ := svc.Instances.Get(project, "acme").Do(); in.Settings.ActivationPolicy != "ALWAYS" || in.Settings.SettingsVersion != 1 {
		t.Fatalf("failed patch was applied: %+v", in.Settings)
	}

	s.AddFault(sim.Fault{API: "cloudsql", Method: "backupRuns.insert", FailOperation: true, Count: 1})
	started, err = svc.BackupRuns.Insert(project, "acme", &sqladmin.BackupRun{Description: "doomed"}).Do()
	if err != nil {
		t.Fatal(err)
	}
	if done, _ = waitOp(t, svc, started); done.Error == nil {
		t.Fatalf("backup op did not fail: %+v", done)
	}
	run, err := svc.BackupRuns.Get(project, "acme", done.BackupContext.BackupId).Do()
	if err != nil || run.Status != "FAILED" || run.Error == nil {
		t.Fatalf("failed run: %v %+v", err, run)
	}

	// A failed CREATE leaves the instance FAILED.
	s.AddFault(sim.Fault{API: "cloudsql", Method: "instances.insert", FailOperation: true, Count: 1})
	started, err = svc.Instances.Insert(project, newInstance("broken")).Do()
	if err != nil {
		t.Fatal(err)
	}
	if done, _ = waitOp(t, svc, started); done.Error == nil {
		t.Fatalf("create op did not fail: %+v", done)
	}
	if in, err := svc.Instances.Get(project, "broken").Do(); err != nil || in.State != "FAILED" {
		t.Fatalf("after failed create: %v %+v", err, in)
	}
}

func TestDatabasesRestoreAndListing(t *testing.T) {
	_, svc := start(t, 0)
	mustDone(t, svc)(svc.Instances.Insert(project, newInstance("acme")).Do())
	mustDone(t, svc)(svc.Instances.Insert(project, newInstance("acme-restore")).Do())

	mustDone(t, svc)(svc.Databases.Insert(project, "acme", &sqladmin.Database{Name: "sg"}).Do())
	if db, err := svc.Databases.Get(project, "acme", "sg").Do(); err != nil || db.Name != "sg" {
		t.Fatalf("databases.get: %v %+v", err, db)
	}
	_, err := svc.Databases.Insert(project, "acme", &sqladmin.Database{Name: "sg"}).Do()
	apiError(t, err, http.StatusConflict, "alreadyExists")
	if dbs, err := svc.Databases.List(project, "acme").Do(); err != nil || len(dbs.Items) != 1 {
		t.Fatalf("databases.list: %v %+v", err, dbs)
	}
	mustDone(t, svc)(svc.Databases.Delete(project, "acme", "sg").Do())
	_, err = svc.Databases.Get(project, "acme", "sg").Do()
	apiError(t, err, http.StatusNotFound, "notFound")

	op := mustDone(t, svc)(svc.BackupRuns.Insert(project, "acme", &sqladmin.BackupRun{Description: "pre-restore"}).Do())
	op = mustDone(t, svc)(svc.Instances.RestoreBackup(project, "acme-restore", &sqladmin.InstancesRestoreBackupRequest{
		RestoreBackupContext: &sqladmin.RestoreBackupContext{BackupRunId: op.BackupContext.BackupId, InstanceId: "acme", Project: project},
	}).Do())
	if op.OperationType != "RESTORE_VOLUME" || op.TargetId != "acme-restore" {
		t.Fatalf("restore op %+v", op)
	}
	_, err = svc.Instances.RestoreBackup(project, "acme", &sqladmin.InstancesRestoreBackupRequest{
		RestoreBackupContext: &sqladmin.RestoreBackupContext{BackupRunId: 12345},
	}).Do()
	apiError(t, err, http.StatusNotFound, "notFound")

	list, err := svc.Instances.List(project).Do()
	if err != nil || len(list.Items) != 2 || list.Items[0].Name != "acme" {
		t.Fatalf("instances.list: %v %+v", err, list)
	}
	ops, err := svc.Operations.List(project).Instance("acme").Do()
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, o := range ops.Items {
		types = append(types, o.OperationType)
	}
	want := []string{"BACKUP_VOLUME", "DELETE_DATABASE", "CREATE_DATABASE", "CREATE"} // newest first
	if len(types) != len(want) {
		t.Fatalf("operations %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("operations %v, want %v", types, want)
		}
	}
	// Paging through the real client's Pages helper.
	var n int
	err = svc.Operations.List(project).MaxResults(2).Pages(context.Background(), func(r *sqladmin.OperationsListResponse) error {
		n += len(r.Items)
		return nil
	})
	if err != nil || n != 6 {
		t.Fatalf("paged operations: %v, %d items", err, n)
	}
}

// fakeRM stands in for the resourcemanager part: only "sg-acme" exists.
type fakeRM struct{}

func (fakeRM) Name() string                 { return "resourcemanager" }
func (fakeRM) Routes(*sim.Routes)           {}
func (fakeRM) GRPC(*grpc.Server)            {}
func (fakeRM) Snapshot() any                { return nil }
func (fakeRM) Reset()                       {}
func (fakeRM) ProjectActive(id string) bool { return id == project }

func TestUnknownProject(t *testing.T) {
	_, svc := start(t, 0, func(*sim.Sim) sim.Part { return fakeRM{} })
	_, err := svc.Instances.Insert("sg-ghost", newInstance("acme")).Do()
	apiError(t, err, http.StatusForbidden, "notAuthorized")
	mustDone(t, svc)(svc.Instances.Insert(project, newInstance("acme")).Do())
}

// Cloud SQL picks the edition from the database version when the request names none: Enterprise
// Plus for PostgreSQL 16 and later, which refuses db-custom-* (and shared-core) tiers with a 400
// that names the tier and the edition.
func TestEditionDefaultsAndTiers(t *testing.T) {
	_, svc := start(t, 0)

	noEdition := newInstance("pg16")
	noEdition.Settings.Edition = ""
	_, err := svc.Instances.Insert(project, noEdition).Do()
	gerr := apiError(t, err, http.StatusBadRequest, "invalid")
	if want := "Invalid request: Invalid Tier (db-custom-1-4096) for (ENTERPRISE_PLUS) Edition. Use a predefined Tier like db-perf-optimized-N-* instead."; gerr.Message != want {
		t.Fatalf("message %q, want %q", gerr.Message, want)
	}

	for _, tc := range []struct{ name, version, tier, edition, want string }{
		{"pg16-ep", "POSTGRES_16", "db-perf-optimized-N-2", "", "ENTERPRISE_PLUS"},
		{"pg16-e", "POSTGRES_16", "db-custom-1-4096", "ENTERPRISE", "ENTERPRISE"},
		{"pg15", "POSTGRES_15", "db-custom-1-4096", "", "ENTERPRISE"},
	} {
		in := newInstance(tc.name)
		in.DatabaseVersion, in.Settings.Tier, in.Settings.Edition = tc.version, tc.tier, tc.edition
		mustDone(t, svc)(svc.Instances.Insert(project, in).Do())
		got, err := svc.Instances.Get(project, tc.name).Do()
		if err != nil || got.Settings.Edition != tc.want {
			t.Fatalf("%s: edition %q (%v), want %q", tc.name, got.Settings.Edition, err, tc.want)
		}
	}
}
