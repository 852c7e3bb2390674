package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/api/googleapi"
	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// CloudSQL runs Cloud SQL Admin API mutations for an instance's database. It uses
// google.golang.org/api/sqladmin/v1, the REST client: Cloud SQL Admin is served over REST only.
// The API has no request IDs, so idempotency comes from the
// deterministic instance name, backup descriptions and operations resumed from heartbeats.
type CloudSQL struct {
	svc *sqladmin.Service
	// PollInterval is how often operations are polled (DefaultPollInterval when zero).
	PollInterval time.Duration
}

// NewCloudSQL builds the client: Application Default Credentials against the real API, or the
// simulator when cfg.SQLAdminEndpoint is set.
func NewCloudSQL(ctx context.Context, cfg config.Cloud) (*CloudSQL, error) {
	svc, err := sqladmin.NewService(ctx, SQLAdminOptions(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("Cloud SQL Admin client: %w", err)
	}
	return &CloudSQL{svc: svc, PollInterval: DefaultPollInterval}, nil
}

// Database settings every instance gets (daily backups with point-in-time
// recovery, kept for 7 days; deletion protection until teardown lifts it).
const (
	SQLDatabaseVersion = "POSTGRES_16"
	// SQLEdition is named explicitly: PostgreSQL 16 defaults to Enterprise Plus, which refuses the
	// db-custom-* tiers below. Enterprise has them, and its 7-day log retention is what we keep.
	SQLEdition              = "ENTERPRISE"
	sqlRetentionDays        = 7
	sqlActivationAlways     = "ALWAYS"
	sqlActivationNever      = "NEVER"
	sqlBackupDescriptionPre = "lifecycle:"
)

// sqlTiers is the only place a size tier maps to a Cloud SQL machine tier.
var sqlTiers = map[spec.Size]string{
	spec.Small:  "db-custom-2-7680",
	spec.Medium: "db-custom-4-15360",
	spec.Large:  "db-custom-8-30720",
}

// SQLTier returns the Cloud SQL tier for a size tier.
func SQLTier(size spec.Size) (string, bool) {
	t, ok := sqlTiers[size]
	return t, ok
}

// sqlProgress is what Cloud SQL activities heartbeat: the operation they started (or the backup
// run they wait on), so a retry after a worker crash waits on it instead of mutating again.
type sqlProgress struct {
	Operation   string `json:"operation,omitempty"`
	BackupRunID int64  `json:"backupRunId,omitempty"`
}

func sqlInstancePath(project, instance string) string {
	return "projects/" + project + "/instances/" + instance
}

func sqlName(instance string) string {
	if instance == "" {
		return spec.SQLInstanceName
	}
	return instance
}

// sqlIsNotFound reports a 404 from the API (instanceDoesNotExist, notFound).
func sqlIsNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

// sqlHasReason reports a Cloud SQL error reason (errors[].reason) anywhere in err's chain.
func sqlHasReason(err error, reason string) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return false
	}
	for _, e := range ge.Errors {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

func sqlRequire(what string, fields map[string]string) error {
	for name, v := range fields {
		if v == "" {
			return Permanent(ErrInvalidArgument, what+": "+name+" is empty", "this is a bug in the calling workflow: pass "+name, nil)
		}
	}
	return nil
}

// getInstance returns the instance, or nil when it does not exist.
func (c *CloudSQL) getInstance(ctx context.Context, project, instance, what string) (*sqladmin.DatabaseInstance, error) {
	in, err := c.svc.Instances.Get(project, instance).Context(ctx).Do()
	if sqlIsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(what+": get instance", err)
	}
	return in, nil
}

// waitOp polls an operation until it is DONE, heartbeating its name. An operation that ended in
// error is permanent: the cloud accepted the request and gave up, so repeating it blindly rarely helps.
func (c *CloudSQL) waitOp(ctx context.Context, project, opName, what string) (*sqladmin.Operation, error) {
	var last *sqladmin.Operation
	err := pollUntil(ctx, c.PollInterval, sqlProgress{Operation: opName}, func() (bool, error) {
		op, err := c.svc.Operations.Get(project, opName).Context(ctx).Do()
		if err != nil {
			return false, classify(fmt.Sprintf("%s: poll operation %s", what, opName), err)
		}
		last = op
		if op.Status != "DONE" {
			return false, nil
		}
		if op.Error != nil && len(op.Error.Errors) > 0 {
			var msgs []string
			for _, e := range op.Error.Errors {
				msgs = append(msgs, e.Code+": "+e.Message)
			}
			return false, Permanent(ErrOperationFailed,
				fmt.Sprintf("%s: Cloud SQL %s operation %s failed: %s", what, op.OperationType, opName, strings.Join(msgs, "; ")),
				fmt.Sprintf("inspect it with `gcloud sql operations describe %s --project %s`, fix the cause, then retry the step", opName, project), nil)
		}
		return true, nil
	})
	return last, classify(what, err) // classify passes typed errors through and types a cancelled context
}

// resumeOp waits on the operation a previous attempt of this activity heartbeated, if any, and
// returns it (nil: nothing to resume). An operation the API no longer knows is ignored: callers
// re-read the state anyway.
func (c *CloudSQL) resumeOp(ctx context.Context, project, what string) (*sqladmin.Operation, error) {
	p, ok := resumeDetails[sqlProgress](ctx)
	if !ok || p.Operation == "" {
		return nil, nil
	}
	op, err := c.waitOp(ctx, project, p.Operation, what)
	if sqlIsNotFound(err) {
		return nil, nil
	}
	return op, err
}

// start issues a mutation and waits for its operation. The operation name is heartbeated before
// the first poll (pollUntil heartbeats first), so a retry resumes it.
func (c *CloudSQL) start(ctx context.Context, project, what string, do func() (*sqladmin.Operation, error)) (string, error) {
	op, err := do()
	if err != nil {
		return "", classify(what, err)
	}
	_, err = c.waitOp(ctx, project, op.Name, what)
	return op.Name, err
}

// waitInstanceState polls the instance while it is in state (e.g. PENDING_CREATE after a crash
// lost the operation name), returning it once it has moved on (nil: gone).
func (c *CloudSQL) waitInstanceState(ctx context.Context, project, instance, state, what string) (*sqladmin.DatabaseInstance, error) {
	var cur *sqladmin.DatabaseInstance
	err := pollUntil(ctx, c.PollInterval, sqlProgress{}, func() (bool, error) {
		in, err := c.getInstance(ctx, project, instance, what)
		if err != nil {
			return false, err
		}
		cur = in
		return in == nil || in.State != state, nil
	})
	return cur, classify(what, err)
}

// desiredBackupConfig is daily automated backups, PITR, 7 days of logs and 7 retained backups.
func desiredBackupConfig() *sqladmin.BackupConfiguration {
	return &sqladmin.BackupConfiguration{
		Enabled:                     true,
		PointInTimeRecoveryEnabled:  true,
		TransactionLogRetentionDays: sqlRetentionDays,
		BackupRetentionSettings:     &sqladmin.BackupRetentionSettings{RetainedBackups: sqlRetentionDays, RetentionUnit: "COUNT"},
	}
}

// backupConfigDrift lists what differs from desiredBackupConfig.
func backupConfigDrift(s *sqladmin.Settings) []string {
	var drift []string
	bc := s.BackupConfiguration
	if bc == nil {
		bc = &sqladmin.BackupConfiguration{}
	}
	if !bc.Enabled {
		drift = append(drift, "automated backups are off")
	}
	if !bc.PointInTimeRecoveryEnabled {
		drift = append(drift, "point-in-time recovery is off")
	}
	if bc.TransactionLogRetentionDays != sqlRetentionDays {
		drift = append(drift, fmt.Sprintf("transaction logs are kept %d days, not %d", bc.TransactionLogRetentionDays, sqlRetentionDays))
	}
	if r := bc.BackupRetentionSettings; r == nil || r.RetainedBackups != sqlRetentionDays {
		drift = append(drift, fmt.Sprintf("retained backups is not %d", sqlRetentionDays))
	}
	if !s.DeletionProtectionEnabled {
		drift = append(drift, "deletion protection is off")
	}
	return drift
}

// EnsureSQLInstanceInput names the instance and its size.
type EnsureSQLInstanceInput struct {
	Project  string    `json:"project"`
	Region   string    `json:"region"`
	Size     spec.Size `json:"size"`
	Instance string    `json:"instance,omitempty"` // default spec.SQLInstanceName
}

// EnsureSQLInstanceOutput describes the instance.
type EnsureSQLInstanceOutput struct {
	Instance       string `json:"instance"`
	ConnectionName string `json:"connectionName"`
	Tier           string `json:"tier"`
	Created        bool   `json:"created"`    // this activity created it
	Reconciled     bool   `json:"reconciled"` // backup settings or deletion protection were put back
}

// EnsureSQLInstance creates the instance's Postgres instance with deletion protection and daily
// backups with PITR and 7-day retention, or accepts an existing one of the same tier and region
// (putting back drifted backup settings). A different tier or region is a conflict for a human:
// changing either means migrating data.
func (c *CloudSQL) EnsureSQLInstance(ctx context.Context, in EnsureSQLInstanceInput) (EnsureSQLInstanceOutput, error) {
	name := sqlName(in.Instance)
	what := "ensure Cloud SQL instance " + sqlInstancePath(in.Project, name)
	out := EnsureSQLInstanceOutput{Instance: name}
	if err := sqlRequire(what, map[string]string{"project": in.Project, "region": in.Region}); err != nil {
		return out, err
	}
	tier, ok := SQLTier(in.Size)
	if !ok {
		return out, Permanent(ErrInvalidArgument, fmt.Sprintf("%s: unknown size %q", what, in.Size), "use small, medium or large", nil)
	}
	out.Tier = tier
	if op, err := c.resumeOp(ctx, in.Project, what); err != nil {
		return out, err
	} else if op != nil && op.OperationType == "CREATE" {
		out.Created = true
	}

	// Each pass either finds the instance as wanted, or changes one thing and looks again.
	for range 4 {
		cur, err := c.getInstance(ctx, in.Project, name, what)
		if err != nil {
			return out, err
		}
		switch {
		case cur == nil:
			if _, err := c.start(ctx, in.Project, what, func() (*sqladmin.Operation, error) {
				return c.svc.Instances.Insert(in.Project, &sqladmin.DatabaseInstance{
					Name:            name,
					DatabaseVersion: SQLDatabaseVersion,
					Region:          in.Region,
					Settings: &sqladmin.Settings{
						Tier:                      tier,
						Edition:                   SQLEdition,
						ActivationPolicy:          sqlActivationAlways,
						DeletionProtectionEnabled: true,
						BackupConfiguration:       desiredBackupConfig(),
						UserLabels:                map[string]string{"managed-by": "lifecycle"},
					},
				}).Context(ctx).Do()
			}); sqlHasReason(err, "instanceAlreadyExists") {
				continue // created concurrently (e.g. by an attempt presumed dead): compare its spec
			} else if err != nil {
				return out, err
			}
			out.Created = true
			continue
		case cur.State == "PENDING_CREATE":
			if _, err := c.waitInstanceState(ctx, in.Project, name, cur.State, what); err != nil {
				return out, err
			}
			continue
		case cur.State == "PENDING_DELETE":
			return out, Transient(ErrBusy, what+": the instance is being deleted; it is created afresh once it is gone", nil, 0)
		case cur.State == "FAILED":
			return out, Permanent(ErrPrecondition,
				what+": the instance exists but is in state FAILED (its creation failed)",
				"delete it (DisableSQLDeletionProtection, then DeleteSQLInstance, or in the console) and retry the step to create it again", nil)
		}
		if !strings.EqualFold(cur.Region, in.Region) || cur.Settings == nil || cur.Settings.Tier != tier || !strings.HasPrefix(cur.DatabaseVersion, "POSTGRES") {
			curTier := ""
			if cur.Settings != nil {
				curTier = cur.Settings.Tier
			}
			return out, Permanent(ErrConflict,
				fmt.Sprintf("%s: an instance with this name already exists as %s tier %s in %s, but %s tier %s in %s was requested",
					what, cur.DatabaseVersion, curTier, cur.Region, SQLDatabaseVersion, tier, in.Region),
				"check the instance's size and region in config.yaml; the region cannot change, and a tier change is a separate resize, not a create", nil)
		}
		out.ConnectionName = cur.ConnectionName
		if drift := backupConfigDrift(cur.Settings); len(drift) > 0 {
			if cur.State != "RUNNABLE" {
				return out, Transient(ErrBusy, fmt.Sprintf("%s: instance is %s; cannot fix drift (%s) yet", what, cur.State, strings.Join(drift, ", ")), nil, 0)
			}
			if _, err := c.start(ctx, in.Project, what+" (fix drift: "+strings.Join(drift, ", ")+")", func() (*sqladmin.Operation, error) {
				return c.svc.Instances.Patch(in.Project, name, &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
					BackupConfiguration:       desiredBackupConfig(),
					DeletionProtectionEnabled: true,
				}}).Context(ctx).Do()
			}); err != nil {
				return out, err
			}
			out.Reconciled = true
			continue
		}
		return out, nil
	}
	return out, Transient(ErrBusy, what+": the instance kept changing while being ensured", nil, 0)
}

// SetSQLActivationInput stops (NEVER) or starts (ALWAYS) an instance.
type SetSQLActivationInput struct {
	Project  string `json:"project"`
	Instance string `json:"instance,omitempty"`
	Policy   string `json:"policy"` // ALWAYS or NEVER
}

// SetSQLActivationOutput says whether anything changed.
type SetSQLActivationOutput struct {
	Changed bool `json:"changed"`
}

// SetSQLActivation sets the activation policy: NEVER stops the instance (suspend) keeping its
// data and backups, ALWAYS starts it (resume). Already so is success without an operation.
func (c *CloudSQL) SetSQLActivation(ctx context.Context, in SetSQLActivationInput) (SetSQLActivationOutput, error) {
	name := sqlName(in.Instance)
	what := fmt.Sprintf("set activation policy %s on Cloud SQL instance %s", in.Policy, sqlInstancePath(in.Project, name))
	var out SetSQLActivationOutput
	if err := sqlRequire(what, map[string]string{"project": in.Project}); err != nil {
		return out, err
	}
	if in.Policy != sqlActivationAlways && in.Policy != sqlActivationNever {
		return out, Permanent(ErrInvalidArgument, fmt.Sprintf("%s: policy must be ALWAYS or NEVER", what), "this is a bug in the calling workflow", nil)
	}
	if op, err := c.resumeOp(ctx, in.Project, what); err != nil {
		return out, err
	} else if op != nil {
		out.Changed = true
	}
	cur, err := c.getInstance(ctx, in.Project, name, what)
	if err != nil {
		return out, err
	}
	if err := sqlUsable(cur, what, false); err != nil {
		return out, err
	}
	if cur.Settings != nil && cur.Settings.ActivationPolicy == in.Policy {
		return out, nil
	}
	if _, err := c.start(ctx, in.Project, what, func() (*sqladmin.Operation, error) {
		return c.svc.Instances.Patch(in.Project, name, &sqladmin.DatabaseInstance{
			Settings: &sqladmin.Settings{ActivationPolicy: in.Policy}}).Context(ctx).Do()
	}); err != nil {
		return out, err
	}
	out.Changed = true
	return out, nil
}

// sqlUsable rejects instances a mutation cannot be applied to: missing (a step before this one did
// not run), being created (wait), failed or being deleted (a human must look).
func sqlUsable(cur *sqladmin.DatabaseInstance, what string, allowFailed bool) error {
	switch {
	case cur == nil:
		return Permanent(ErrNotFound, what+": the Cloud SQL instance does not exist",
			"check the project and instance name; if the instance was never created, run the create step first", nil)
	case cur.State == "PENDING_CREATE" || cur.State == "MAINTENANCE" || cur.State == "REPAIRING":
		return Transient(ErrBusy, fmt.Sprintf("%s: instance is %s", what, cur.State), nil, 0)
	case cur.State == "FAILED" && !allowFailed, cur.State == "PENDING_DELETE", cur.State == "SUSPENDED":
		return Permanent(ErrPrecondition, fmt.Sprintf("%s: instance is in state %s", what, cur.State),
			"inspect the instance in the Cloud console; a FAILED instance must be deleted and re-created, a SUSPENDED one needs billing or a policy fixed", nil)
	}
	return nil
}

// BackupSQLInput names the instance and an idempotency key: the same key always means the same
// backup run (e.g. the workflow ID plus step name).
type BackupSQLInput struct {
	Project  string `json:"project"`
	Instance string `json:"instance,omitempty"`
	Key      string `json:"key"`
}

// BackupSQLOutput is the backup run to record (and restore from).
type BackupSQLOutput struct {
	BackupRunID int64 `json:"backupRunId"`
}

// BackupSQL takes an on-demand backup and returns its run ID. The key is written into the run's
// description; an existing run with that description is reused (waited on if still running), so
// a retried or re-run step never takes a second backup.
func (c *CloudSQL) BackupSQL(ctx context.Context, in BackupSQLInput) (BackupSQLOutput, error) {
	name := sqlName(in.Instance)
	what := "on-demand backup of Cloud SQL instance " + sqlInstancePath(in.Project, name)
	var out BackupSQLOutput
	if err := sqlRequire(what, map[string]string{"project": in.Project, "key": in.Key}); err != nil {
		return out, err
	}
	desc := sqlBackupDescriptionPre + in.Key
	if _, err := c.resumeOp(ctx, in.Project, what); err != nil {
		return out, err
	}
	for range 3 {
		run, err := c.findBackupRun(ctx, in.Project, name, desc, what)
		if err != nil {
			return out, err
		}
		if run != nil {
			switch run.Status {
			case "SUCCESSFUL":
				out.BackupRunID = run.Id
				return out, nil
			case "ENQUEUED", "RUNNING", "PENDING":
				if err := c.waitBackupRun(ctx, in.Project, name, run.Id, what); err != nil {
					return out, err
				}
				continue
			default: // FAILED, SKIPPED, DELETED, ...
				msg := ""
				if run.Error != nil {
					msg = ": " + run.Error.Message
				}
				return out, Permanent(ErrOperationFailed, fmt.Sprintf("%s: backup run %d (key %q) ended %s%s", what, run.Id, in.Key, run.Status, msg),
					"inspect the instance and its backups in the Cloud console; retrying with the same key reuses this failed run, so retry the step once the cause is fixed with a new key, or skip it after taking a backup by hand", nil)
			}
		}
		cur, err := c.getInstance(ctx, in.Project, name, what)
		if err != nil {
			return out, err
		}
		if err := sqlUsable(cur, what, false); err != nil {
			return out, err
		}
		if cur.Settings != nil && cur.Settings.ActivationPolicy == sqlActivationNever {
			return out, Permanent(ErrPrecondition, what+": the instance is stopped (activation policy NEVER) and cannot be backed up",
				"start it first (SetSQLActivation ALWAYS), or skip this step: a stopped instance's data has not changed since it was stopped", nil)
		}
		if _, err := c.start(ctx, in.Project, what, func() (*sqladmin.Operation, error) {
			return c.svc.BackupRuns.Insert(in.Project, name, &sqladmin.BackupRun{Description: desc}).Context(ctx).Do()
		}); err != nil {
			return out, err
		}
	}
	return out, Transient(ErrBusy, what+": the backup run did not show up after its operation completed", nil, 0)
}

var errSQLFound = errors.New("found")

// findBackupRun returns the newest run whose description is desc, or nil.
func (c *CloudSQL) findBackupRun(ctx context.Context, project, instance, desc, what string) (*sqladmin.BackupRun, error) {
	var found *sqladmin.BackupRun
	err := c.svc.BackupRuns.List(project, instance).Context(ctx).Pages(ctx, func(page *sqladmin.BackupRunsListResponse) error {
		for _, r := range page.Items {
			if r.Description == desc {
				found = r
				return errSQLFound
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSQLFound) {
		if sqlIsNotFound(err) {
			return nil, Permanent(ErrNotFound, what+": the Cloud SQL instance does not exist", "check the project and instance name", err)
		}
		return nil, classify(what+": list backup runs", err)
	}
	return found, nil
}

// waitBackupRun polls a run found already running (its operation name is unknown here).
func (c *CloudSQL) waitBackupRun(ctx context.Context, project, instance string, id int64, what string) error {
	err := pollUntil(ctx, c.PollInterval, sqlProgress{BackupRunID: id}, func() (bool, error) {
		r, err := c.svc.BackupRuns.Get(project, instance, id).Context(ctx).Do()
		if err != nil {
			return false, classify(fmt.Sprintf("%s: get backup run %d", what, id), err)
		}
		switch r.Status {
		case "ENQUEUED", "RUNNING", "PENDING":
			return false, nil
		}
		return true, nil
	})
	return classify(what, err)
}

// DisableSQLDeletionProtectionInput names the instance.
type DisableSQLDeletionProtectionInput struct {
	Project  string `json:"project"`
	Instance string `json:"instance,omitempty"`
}

// DisableSQLDeletionProtectionOutput says whether anything changed.
type DisableSQLDeletionProtectionOutput struct {
	Changed bool `json:"changed"`
	Gone    bool `json:"gone"` // there is no instance (nothing left to protect)
}

// DisableSQLDeletionProtection lifts deletion protection, the approved teardown's first step
// on the database. Only a workflow that has its approval should call it.
func (c *CloudSQL) DisableSQLDeletionProtection(ctx context.Context, in DisableSQLDeletionProtectionInput) (DisableSQLDeletionProtectionOutput, error) {
	name := sqlName(in.Instance)
	what := "disable deletion protection of Cloud SQL instance " + sqlInstancePath(in.Project, name)
	var out DisableSQLDeletionProtectionOutput
	if err := sqlRequire(what, map[string]string{"project": in.Project}); err != nil {
		return out, err
	}
	if op, err := c.resumeOp(ctx, in.Project, what); err != nil {
		return out, err
	} else if op != nil {
		out.Changed = true
	}
	cur, err := c.getInstance(ctx, in.Project, name, what)
	if err != nil {
		return out, err
	}
	if cur == nil {
		out.Gone = true
		return out, nil
	}
	if err := sqlUsable(cur, what, true); err != nil {
		return out, err
	}
	if cur.Settings == nil || !cur.Settings.DeletionProtectionEnabled {
		return out, nil
	}
	if _, err := c.start(ctx, in.Project, what, func() (*sqladmin.Operation, error) {
		// false is the zero value: without ForceSendFields the field is dropped and nothing changes.
		return c.svc.Instances.Patch(in.Project, name, &sqladmin.DatabaseInstance{Settings: &sqladmin.Settings{
			DeletionProtectionEnabled: false,
			ForceSendFields:           []string{"DeletionProtectionEnabled"},
		}}).Context(ctx).Do()
	}); err != nil {
		return out, err
	}
	out.Changed = true
	return out, nil
}

// DeleteSQLInstanceInput names the instance.
type DeleteSQLInstanceInput struct {
	Project  string `json:"project"`
	Instance string `json:"instance,omitempty"`
}

// DeleteSQLInstanceOutput says whether this call deleted it.
type DeleteSQLInstanceOutput struct {
	Deleted bool `json:"deleted"` // false: it was already gone
}

// DeleteSQLInstance deletes the instance and its automated backups; already gone is success.
// It never lifts deletion protection itself: that is a separate, approved step.
func (c *CloudSQL) DeleteSQLInstance(ctx context.Context, in DeleteSQLInstanceInput) (DeleteSQLInstanceOutput, error) {
	name := sqlName(in.Instance)
	what := "delete Cloud SQL instance " + sqlInstancePath(in.Project, name)
	var out DeleteSQLInstanceOutput
	if err := sqlRequire(what, map[string]string{"project": in.Project}); err != nil {
		return out, err
	}
	if op, err := c.resumeOp(ctx, in.Project, what); err != nil {
		return out, err
	} else if op != nil {
		out.Deleted = true
	}
	cur, err := c.getInstance(ctx, in.Project, name, what)
	if err != nil {
		return out, err
	}
	if cur != nil && cur.State == "PENDING_DELETE" {
		if cur, err = c.waitInstanceState(ctx, in.Project, name, cur.State, what); err != nil {
			return out, err
		}
	}
	if cur == nil {
		return out, nil
	}
	if cur.Settings != nil && cur.Settings.DeletionProtectionEnabled {
		return out, Permanent(ErrDeletionProtected, what+": deletion protection is still enabled on the instance",
			"run the DisableSQLDeletionProtection step first (the teardown workflow does this after its approval), then retry", nil)
	}
	if _, err := c.start(ctx, in.Project, what, func() (*sqladmin.Operation, error) {
		return c.svc.Instances.Delete(in.Project, name).Context(ctx).Do()
	}); err != nil {
		return out, err
	}
	out.Deleted = true
	return out, nil
}

// RestoreSQLInput restores a backup run into an instance. The source defaults to the target
// instance itself.
type RestoreSQLInput struct {
	Project        string `json:"project"`
	Instance       string `json:"instance,omitempty"`
	BackupRunID    int64  `json:"backupRunId"`
	SourceProject  string `json:"sourceProject,omitempty"`
	SourceInstance string `json:"sourceInstance,omitempty"`
}

// RestoreSQLOutput names the restore operation.
type RestoreSQLOutput struct {
	Operation string `json:"operation"`
}

// RestoreSQL overwrites the instance's data with a backup run and waits until it is done. A
// restore is idempotent in effect (the data ends as the backup either way) but not free, so a
// retry after a crash resumes the heartbeated operation instead of restoring again.
func (c *CloudSQL) RestoreSQL(ctx context.Context, in RestoreSQLInput) (RestoreSQLOutput, error) {
	name := sqlName(in.Instance)
	what := fmt.Sprintf("restore backup run %d into Cloud SQL instance %s", in.BackupRunID, sqlInstancePath(in.Project, name))
	var out RestoreSQLOutput
	if err := sqlRequire(what, map[string]string{"project": in.Project}); err != nil {
		return out, err
	}
	if in.BackupRunID == 0 {
		return out, Permanent(ErrInvalidArgument, what+": no backup run ID", "pass the ID recorded by the backup step", nil)
	}
	if op, err := c.resumeOp(ctx, in.Project, what); err != nil || op != nil {
		if op != nil {
			out.Operation = op.Name
		}
		return out, err
	}
	cur, err := c.getInstance(ctx, in.Project, name, what)
	if err != nil {
		return out, err
	}
	if err := sqlUsable(cur, what, false); err != nil {
		return out, err
	}
	src := &sqladmin.RestoreBackupContext{BackupRunId: in.BackupRunID, Project: in.SourceProject, InstanceId: in.SourceInstance}
	if src.Project == "" {
		src.Project = in.Project
	}
	if src.InstanceId == "" {
		src.InstanceId = name
	}
	op, err := c.start(ctx, in.Project, what, func() (*sqladmin.Operation, error) {
		return c.svc.Instances.RestoreBackup(in.Project, name, &sqladmin.InstancesRestoreBackupRequest{RestoreBackupContext: src}).Context(ctx).Do()
	})
	out.Operation = op
	return out, err
}
