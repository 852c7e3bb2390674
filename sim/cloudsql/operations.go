package cloudsql

import (
	"net/http"
	"strconv"
	"time"

	"github.com/sourcegraph/lifecycle/sim"
)

// Operation statuses.
const (
	opPending = "PENDING"
	opRunning = "RUNNING"
	opDone    = "DONE"
)

// operation is one sql#operation. Its target instance is busy (in.op) until it is DONE.
type operation struct {
	name, project, target string
	opType                string
	status                string
	seq                   int64 // creation order, for newest-first listings
	insert, start, end    time.Time
	errMsg                string
	targetLink            string
	backupID              int64 // BACKUP_VOLUME / DELETE_VOLUME: the run
}

// opHooks are what an operation does to the world as it progresses. Each runs under the lock.
type opHooks struct {
	running func()               // when it turns RUNNING (optional)
	done    func(failMsg string) // when it turns DONE; failMsg non-empty if it failed
}

// startOperation starts an operation on in (which must be idle) and makes the instance busy until
// it ends. It moves PENDING → RUNNING after half of Timings.SQLOperation and → DONE after all of
// it; with a zero duration both happen on the next request, so a client never sees a mutation
// complete inside the call that started it, as with the real API. failMsg (fault injection)
// makes it end in error. Lock held.
func (p *Part) startOperation(in *instance, opType, failMsg string, h opHooks) *operation {
	now := p.s.Now()
	op := &operation{
		name: p.newUUID(), project: in.project, target: in.name, opType: opType,
		status: opPending, seq: p.s.NextID(), insert: now,
		targetLink: selfLink(instanceLedgerName(in.project, in.name)),
	}
	p.ops[op.name] = op
	in.op = op
	d := p.s.Timings().SQLOperation.D()
	p.s.After(d/2, func() {
		op.status, op.start = opRunning, p.s.Now()
		if h.running != nil {
			h.running()
		}
	})
	p.s.After(d, func() {
		op.status, op.end = opDone, p.s.Now()
		op.errMsg = failMsg
		if in.op == op {
			in.op = nil
		}
		if h.done != nil {
			h.done(failMsg)
		}
	})
	return op
}

// json renders the operation as sqladmin.Operation.
func (op *operation) json() map[string]any {
	m := map[string]any{
		"kind":          "sql#operation",
		"name":          op.name,
		"selfLink":      selfLink("projects/" + op.project + "/operations/" + op.name),
		"operationType": op.opType,
		"status":        op.status,
		"targetId":      op.target,
		"targetLink":    op.targetLink,
		"targetProject": op.project,
		"user":          "lifecycle@simulator.iam.gserviceaccount.com",
		"insertTime":    timestamp(op.insert),
	}
	if !op.start.IsZero() {
		m["startTime"] = timestamp(op.start)
	}
	if !op.end.IsZero() {
		m["endTime"] = timestamp(op.end)
	}
	if op.backupID != 0 {
		m["backupContext"] = map[string]any{"kind": "sql#backupContext", "backupId": strconv.FormatInt(op.backupID, 10)}
	}
	if op.errMsg != "" {
		m["error"] = map[string]any{
			"kind":   "sql#operationErrors",
			"errors": []map[string]any{{"kind": "sql#operationError", "code": "INTERNAL_ERROR", "message": op.errMsg}},
		}
	}
	return m
}

func (p *Part) getOperation(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	project := r.PathValue("project")
	if !p.checkProject(w, project) {
		return
	}
	op := p.ops[r.PathValue("operation")]
	if op == nil || op.project != project {
		errNotFound(w, "The Cloud SQL operation does not exist.")
		return
	}
	sim.WriteJSON(w, http.StatusOK, op.json())
}

func (p *Part) listOperations(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	project := r.PathValue("project")
	if !p.checkProject(w, project) {
		return
	}
	ops, next := page(r, p.sortedOps(project, r.URL.Query().Get("instance")), 500)
	items := make([]map[string]any, 0, len(ops))
	for _, op := range ops {
		items = append(items, op.json())
	}
	resp := map[string]any{"kind": "sql#operationsList", "items": items}
	if next != "" {
		resp["nextPageToken"] = next
	}
	sim.WriteJSON(w, http.StatusOK, resp)
}
