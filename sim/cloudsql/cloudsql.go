// Package cloudsql simulates the Cloud SQL Admin API v1 as google.golang.org/api/sqladmin/v1 speaks
// it (REST, JSON, legacy Google error bodies), as the "cloudsql" part of the simulator.
//
// Point the real client at the simulator:
//
//	svc, _ := sqladmin.NewService(ctx, option.WithEndpoint(simURL+"/"), option.WithoutAuthentication())
//
// # What is modelled
//
//   - Instances: insert (PENDING_CREATE → RUNNABLE when its CREATE operation is DONE), get, list,
//     patch (partial: only fields present in the body are merged; applied when the UPDATE operation is
//     DONE), update (PUT: replaces settings), delete (PENDING_DELETE, gone when DONE). Stop/start is
//     settings.activationPolicy NEVER/ALWAYS; state stays RUNNABLE as in the real API ("STOPPED" is
//     gcloud's presentation). settings.settingsVersion starts at 1 and grows with every applied
//     patch/update; a patch that carries a stale settingsVersion gets 412. settings.deletionProtectionEnabled
//     is enforced: delete answers 400 reason "deletionProtectionEnabled" until it is patched to false.
//     Everything else in the body (backupConfiguration, tier, ipConfiguration, labels...) is stored
//     as given and returned as stored. An insert without settings.edition gets the version's
//     default (ENTERPRISE_PLUS for POSTGRES_16 and later), and Enterprise Plus refuses any tier but
//     db-perf-optimized-N-* with 400 invalid "Invalid Tier (...) for (ENTERPRISE_PLUS) Edition. ...".
//   - Operations (sql#operation, uuid-like name): PENDING → RUNNING (half of Timings.SQLOperation) →
//     DONE (all of it); a zero duration is DONE on the next request. get and list (?instance=).
//     Only one operation per instance at a time: a second mutation gets 409 operationInProgress.
//   - Backup runs: insert (BACKUP_VOLUME; the run is ENQUEUED, RUNNING, then SUCCESSFUL or FAILED),
//     get, list (newest first), delete (DELETE_VOLUME). description is kept verbatim so activities
//     can use it as an idempotency key. Runs survive a stop and are deleted with the instance.
//   - restoreBackup (RESTORE_VOLUME) from a SUCCESSFUL run of the same or another instance.
//   - Databases: insert (CREATE_DATABASE), get, list, delete (DELETE_DATABASE); the instance must be
//     running.
//   - Projects: if a part named "resourcemanager" exists and implements ProjectActive, requests for
//     projects it does not know (or that are being deleted) get 403 notAuthorized, as GCP answers
//     for projects the caller cannot see. Without that part every project is accepted.
//
// # Errors
//
// Every error has the real body shape {"error":{"code","message","errors":[{"message","domain",
// "reason"}],"status"}}: 404 instanceDoesNotExist "The Cloud SQL instance does not exist." (without
// "status", like the real one), 404 notFound for other sub-resources, 409 instanceAlreadyExists,
// 409 operationInProgress, 409 invalidState, 400 invalid, 400 deletionProtectionEnabled,
// 412 conditionNotMet, 403 notAuthorized. Injected faults render the same shape (429 →
// rateLimitExceeded/RESOURCE_EXHAUSTED, 503 → backendError/UNAVAILABLE, ...).
//
// # Fault-rule method names
//
//	instances.insert  instances.get  instances.list  instances.patch  instances.update
//	instances.delete  instances.restoreBackup
//	operations.get    operations.list
//	backupRuns.insert backupRuns.get backupRuns.list backupRuns.delete
//	databases.insert  databases.get  databases.list  databases.delete
//
// A failOperation rule on a mutating method lets the call succeed and ends its operation DONE with
// error.errors[{code:"INTERNAL_ERROR", message}]: a failed CREATE leaves the instance FAILED (delete
// it to retry), a failed BACKUP_VOLUME leaves the run FAILED, other failures change nothing.
//
// # Ledger
//
// "cloudsql/projects/P/instances/I" (created on accepted insert, mutated per applied patch/update/
// restore, deleted when the DELETE operation is DONE), ".../backupRuns/<id>" and
// ".../databases/<name>" likewise.
package cloudsql

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
)

// Name is the part name used in fault rules, the ledger and the state dump.
const Name = "cloudsql"

// Part is the Cloud SQL Admin simulator. All fields are guarded by the simulator lock.
type Part struct {
	s *sim.Sim

	instances map[string]*instance  // key "project/name"
	ops       map[string]*operation // key operation name (unique across projects)
	lastRunID int64                 // backup run IDs are increasing, like the real millisecond-based ones
}

// New builds the part; pass it to sim.Start / sim.New.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s}
	p.Reset()
	return p
}

func (p *Part) Name() string        { return Name }
func (p *Part) GRPC(g *grpc.Server) {}

// Reset drops all state. Lock held.
func (p *Part) Reset() {
	p.instances = map[string]*instance{}
	p.ops = map[string]*operation{}
	p.lastRunID = 0
}

// Serving reports whether the instance exists, is RUNNABLE and its activation policy is ALWAYS,
// i.e. it would accept connections. The simulator lock must be held (call it from another part's
// handler, or under s.Lock()).
func (p *Part) Serving(project, instanceName string) bool {
	in := p.instances[key(project, instanceName)]
	return in != nil && in.state == stateRunnable && in.activationPolicy() == "ALWAYS"
}

// Routes registers the REST endpoints, each under the method name fault rules match.
func (p *Part) Routes(r *sim.Routes) {
	r.ErrorWriter(writeInjectedError)
	const inst = "/v1/projects/{project}/instances/{instance}"
	r.Handle("instances.insert", "POST /v1/projects/{project}/instances", p.insertInstance)
	r.Handle("instances.list", "GET /v1/projects/{project}/instances", p.listInstances)
	r.Handle("instances.get", "GET "+inst, p.getInstance)
	r.Handle("instances.patch", "PATCH "+inst, p.patchInstance)
	r.Handle("instances.update", "PUT "+inst, p.updateInstance)
	r.Handle("instances.delete", "DELETE "+inst, p.deleteInstance)
	r.Handle("instances.restoreBackup", "POST "+inst+"/restoreBackup", p.restoreBackup)

	r.Handle("backupRuns.insert", "POST "+inst+"/backupRuns", p.insertBackupRun)
	r.Handle("backupRuns.list", "GET "+inst+"/backupRuns", p.listBackupRuns)
	r.Handle("backupRuns.get", "GET "+inst+"/backupRuns/{id}", p.getBackupRun)
	r.Handle("backupRuns.delete", "DELETE "+inst+"/backupRuns/{id}", p.deleteBackupRun)

	r.Handle("databases.insert", "POST "+inst+"/databases", p.insertDatabase)
	r.Handle("databases.list", "GET "+inst+"/databases", p.listDatabases)
	r.Handle("databases.get", "GET "+inst+"/databases/{database}", p.getDatabase)
	r.Handle("databases.delete", "DELETE "+inst+"/databases/{database}", p.deleteDatabase)

	r.Handle("operations.list", "GET /v1/projects/{project}/operations", p.listOperations)
	r.Handle("operations.get", "GET /v1/projects/{project}/operations/{operation}", p.getOperation)
}

// Snapshot is a compact, readable view for /_sim/state. Lock held.
func (p *Part) Snapshot() any {
	// Runs carry their times, so a test can tell which backups came before a change.
	type runView struct {
		ID          int64      `json:"id"`
		Status      string     `json:"status"`
		Description string     `json:"description,omitempty"`
		CreateTime  time.Time  `json:"createTime"` // enqueued
		EndTime     *time.Time `json:"endTime,omitempty"`
	}
	type instView struct {
		Name               string    `json:"name"`
		State              string    `json:"state"`
		ActivationPolicy   string    `json:"activationPolicy"`
		DeletionProtection bool      `json:"deletionProtectionEnabled"`
		SettingsVersion    int64     `json:"settingsVersion"`
		Serving            bool      `json:"serving"`
		BackupRuns         []runView `json:"backupRuns,omitempty"`
		Databases          []string  `json:"databases,omitempty"`
		RestoredFrom       []string  `json:"restoredFrom,omitempty"`
	}
	type opView struct {
		Name   string `json:"name"`
		Type   string `json:"operationType"`
		Target string `json:"target"`
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}
	instances := make([]instView, 0, len(p.instances))
	for _, k := range sim.SortedKeys(p.instances) {
		in := p.instances[k]
		v := instView{
			Name: k, State: in.state, ActivationPolicy: in.activationPolicy(),
			DeletionProtection: in.deletionProtection(), SettingsVersion: in.settingsVersion,
			Serving: p.Serving(in.project, in.name), Databases: sim.SortedKeys(in.databases),
			RestoredFrom: in.restoredFrom,
		}
		for _, run := range in.sortedRuns() {
			rv := runView{ID: run.id, Status: run.status, Description: run.description, CreateTime: run.enqueued}
			if end := run.end; !end.IsZero() {
				rv.EndTime = &end
			}
			v.BackupRuns = append(v.BackupRuns, rv)
		}
		instances = append(instances, v)
	}
	ops := make([]opView, 0, len(p.ops))
	for _, op := range p.sortedOps("", "") {
		ops = append(ops, opView{op.name, op.opType, key(op.project, op.target), op.status, op.errMsg})
	}
	return map[string]any{"instances": instances, "operations": ops}
}

func key(project, name string) string { return project + "/" + name }

func instanceLedgerName(project, name string) string {
	return "projects/" + project + "/instances/" + name
}

// selfLink is what the real API puts in selfLink/targetLink.
func selfLink(path string) string { return "https://sqladmin.googleapis.com/v1/" + path }

// timestamp formats like the real API: RFC 3339, UTC, milliseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newUUID returns a uuid-shaped (version 4 layout) identifier, as real operation names are.
// Derived from a process-unique counter, so it needs no randomness and never collides.
func (p *Part) newUUID() string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("cloudsql-op-%d-%d", p.s.NextID(), p.s.Now().UnixNano())))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// projectChecker is implemented by the resourcemanager part. Asserting on this small interface
// keeps this package independent of that one.
type projectChecker interface{ ProjectActive(string) bool }

// checkProject answers 403 for projects the resourcemanager part does not know, like GCP answers
// for projects that do not exist or that the caller cannot see. Lock held.
func (p *Part) checkProject(w http.ResponseWriter, project string) bool {
	rm, ok := p.s.Part("resourcemanager").(projectChecker)
	if ok && !rm.ProjectActive(project) {
		writeError(w, http.StatusForbidden, "notAuthorized", "The client is not authorized to make this request.", "PERMISSION_DENIED")
		return false
	}
	return p.checkService(w, project)
}

// checkService answers as Google's front end does when the Cloud SQL Admin API is not enabled in
// the project (or not yet propagated): 403 PERMISSION_DENIED, legacy reason accessNotConfigured
// (domain usageLimits), a Help link and an ErrorInfo SERVICE_DISABLED. Lock held.
func (p *Part) checkService(w http.ResponseWriter, project string) bool {
	msg, number, disabled := p.s.ServiceDisabled(service, project)
	if !disabled {
		return true
	}
	sim.WriteServiceDisabled(w, service, msg, number)
	return false
}

// service is the Cloud SQL Admin API's service name.
const service = "sqladmin.googleapis.com"

// lookup finds the instance of a request, answering 403/404 itself when it cannot. Lock held.
func (p *Part) lookup(w http.ResponseWriter, r *http.Request) (*instance, bool) {
	project := r.PathValue("project")
	if !p.checkProject(w, project) {
		return nil, false
	}
	in := p.instances[key(project, r.PathValue("instance"))]
	if in == nil {
		errInstanceNotFound(w)
		return nil, false
	}
	return in, true
}

// lookupIdle is lookup plus the one-operation-at-a-time rule, for mutations. Lock held.
func (p *Part) lookupIdle(w http.ResponseWriter, r *http.Request) (*instance, bool) {
	in, ok := p.lookup(w, r)
	if !ok {
		return nil, false
	}
	if in.op != nil {
		errOperationInProgress(w)
		return nil, false
	}
	return in, true
}

// decodeBody reads a JSON object keeping numbers as written (the API sends int64 as strings, but
// int32 fields such as transactionLogRetentionDays as numbers; both must round-trip unchanged).
func decodeBody(r *http.Request) (map[string]any, error) {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("Invalid JSON payload received. %v", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// page slices a listing by the API's maxResults/pageToken query parameters. The token is the
// offset, opaque to clients.
func page[T any](r *http.Request, items []T, defaultMax int) ([]T, string) {
	start, _ := strconv.Atoi(r.URL.Query().Get("pageToken"))
	if start < 0 || start > len(items) {
		start = len(items)
	}
	max, _ := strconv.Atoi(r.URL.Query().Get("maxResults"))
	if max <= 0 {
		max = defaultMax
	}
	end := min(start+max, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next
}

// sortedOps lists operations newest first, as the real API does, optionally for one instance.
func (p *Part) sortedOps(project, target string) []*operation {
	var out []*operation
	for _, op := range p.ops {
		if (project == "" || op.project == project) && (target == "" || op.target == target) {
			out = append(out, op)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq > out[j].seq })
	return out
}
