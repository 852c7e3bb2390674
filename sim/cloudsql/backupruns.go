package cloudsql

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sourcegraph/lifecycle/sim"
)

// Backup run statuses (sqladmin BackupRun.status).
const (
	runEnqueued   = "ENQUEUED"
	runRunning    = "RUNNING"
	runSuccessful = "SUCCESSFUL"
	runFailed     = "FAILED"
)

// backupRun is one on-demand backup of an instance.
type backupRun struct {
	id                   int64
	instance             *instance
	status               string
	description          string
	location             string
	enqueued, start, end time.Time
	errMsg               string
}

func (b *backupRun) path() string {
	return instanceLedgerName(b.instance.project, b.instance.name) + "/backupRuns/" + strconv.FormatInt(b.id, 10)
}

// json renders the run as sqladmin.BackupRun (int64 id as a string, like the API).
func (b *backupRun) json() map[string]any {
	m := map[string]any{
		"kind":            "sql#backupRun",
		"id":              strconv.FormatInt(b.id, 10),
		"instance":        b.instance.name,
		"selfLink":        selfLink(b.path()),
		"status":          b.status,
		"type":            "ON_DEMAND",
		"backupKind":      "SNAPSHOT",
		"enqueuedTime":    timestamp(b.enqueued),
		"windowStartTime": timestamp(b.enqueued),
		"location":        b.location,
		"databaseVersion": b.instance.databaseVersion(),
	}
	if b.description != "" {
		m["description"] = b.description
	}
	if !b.start.IsZero() {
		m["startTime"] = timestamp(b.start)
	}
	if !b.end.IsZero() {
		m["endTime"] = timestamp(b.end)
	}
	if b.errMsg != "" {
		m["error"] = map[string]any{"kind": "sql#operationError", "code": "INTERNAL_ERROR", "message": b.errMsg}
	}
	return m
}

// nextRunID returns an increasing ID shaped like the real ones (milliseconds since the epoch).
func (p *Part) nextRunID() int64 {
	id := max(p.s.Now().UnixMilli(), p.lastRunID+1)
	p.lastRunID = id
	return id
}

func (p *Part) insertBackupRun(w http.ResponseWriter, r *http.Request) {
	body, err := decodeBody(r)
	if err != nil {
		errInvalid(w, err.Error())
		return
	}
	defer p.s.Lock()()
	in, ok := p.lookupIdle(w, r)
	if !ok {
		return
	}
	if in.state != stateRunnable {
		errInvalidState(w)
		return
	}
	if in.activationPolicy() == "NEVER" {
		// A stopped instance takes no backups, on demand or automated ("Cloud SQL doesn't take a
		// backup of an instance if you stop or delete the instance"); the API refuses calls that
		// need the database server with this 400.
		errInvalid(w, "Invalid request since instance is not running.")
		return
	}
	run := &backupRun{id: p.nextRunID(), instance: in, status: runEnqueued, enqueued: p.s.Now()}
	run.description, _ = body["description"].(string)
	if run.location, _ = body["location"].(string); run.location == "" {
		run.location = in.region()
	}
	in.backupRuns[run.id] = run
	p.s.Created(Name, run.path())
	op := p.startOperation(in, "BACKUP_VOLUME", sim.OperationFailure(r.Context()), opHooks{
		running: func() { run.status, run.start = runRunning, p.s.Now() },
		done: func(failMsg string) {
			if run.start.IsZero() {
				run.start = p.s.Now()
			}
			run.end = p.s.Now()
			if failMsg != "" {
				run.status, run.errMsg = runFailed, failMsg
				return
			}
			run.status = runSuccessful
		},
	})
	op.backupID = run.id
	sim.WriteJSON(w, http.StatusOK, op.json())
}

// run finds the backup run named in the path, answering 404 itself. Lock held.
func (p *Part) run(w http.ResponseWriter, r *http.Request, in *instance) (*backupRun, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		errInvalid(w, "Invalid value for backup run id: "+r.PathValue("id"))
		return nil, false
	}
	run := in.backupRuns[id]
	if run == nil {
		errNotFound(w, "The backup run does not exist.")
		return nil, false
	}
	return run, true
}

func (p *Part) getBackupRun(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookup(w, r)
	if !ok {
		return
	}
	if run, ok := p.run(w, r, in); ok {
		sim.WriteJSON(w, http.StatusOK, run.json())
	}
}

func (p *Part) listBackupRuns(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookup(w, r)
	if !ok {
		return
	}
	runs, next := page(r, in.sortedRuns(), 100)
	items := make([]map[string]any, 0, len(runs))
	for _, run := range runs {
		items = append(items, run.json())
	}
	resp := map[string]any{"kind": "sql#backupRunsList", "items": items}
	if next != "" {
		resp["nextPageToken"] = next
	}
	sim.WriteJSON(w, http.StatusOK, resp)
}

func (p *Part) deleteBackupRun(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookupIdle(w, r)
	if !ok {
		return
	}
	run, ok := p.run(w, r, in)
	if !ok {
		return
	}
	op := p.startOperation(in, "DELETE_VOLUME", sim.OperationFailure(r.Context()), opHooks{
		done: func(failMsg string) {
			if failMsg != "" || in.backupRuns[run.id] == nil {
				return
			}
			delete(in.backupRuns, run.id)
			p.s.Deleted(Name, run.path())
		},
	})
	op.backupID = run.id
	sim.WriteJSON(w, http.StatusOK, op.json())
}
