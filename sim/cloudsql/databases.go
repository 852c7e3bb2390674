package cloudsql

import (
	"net/http"

	"github.com/sourcegraph/lifecycle/sim"
)

// database is one database inside an instance.
type database struct {
	name, charset, collation string
}

func (p *Part) databaseJSON(in *instance, db *database) map[string]any {
	path := instanceLedgerName(in.project, in.name) + "/databases/" + db.name
	return map[string]any{
		"kind":      "sql#database",
		"name":      db.name,
		"instance":  in.name,
		"project":   in.project,
		"charset":   db.charset,
		"collation": db.collation,
		"selfLink":  selfLink(path),
	}
}

// requireServing rejects database changes on an instance that is not running: they need the
// database server itself, unlike backups or settings. Lock held.
func (p *Part) requireServing(w http.ResponseWriter, in *instance) bool {
	if in.state == stateRunnable && in.activationPolicy() == "ALWAYS" {
		return true
	}
	errInvalid(w, "Invalid request since instance is not running.")
	return false
}

func (p *Part) insertDatabase(w http.ResponseWriter, r *http.Request) {
	body, err := decodeBody(r)
	if err != nil {
		errInvalid(w, err.Error())
		return
	}
	defer p.s.Lock()()
	in, ok := p.lookupIdle(w, r)
	if !ok || !p.requireServing(w, in) {
		return
	}
	db := &database{}
	db.name, _ = body["name"].(string)
	if db.name == "" {
		errInvalid(w, "Missing parameter: name.")
		return
	}
	if in.databases[db.name] != nil {
		writeError(w, http.StatusConflict, "alreadyExists", "Database \""+db.name+"\" already exists.", "ALREADY_EXISTS")
		return
	}
	if db.charset, _ = body["charset"].(string); db.charset == "" {
		db.charset = "UTF8"
	}
	if db.collation, _ = body["collation"].(string); db.collation == "" {
		db.collation = "en_US.UTF8"
	}
	op := p.startOperation(in, "CREATE_DATABASE", sim.OperationFailure(r.Context()), opHooks{
		done: func(failMsg string) {
			if failMsg != "" {
				return
			}
			in.databases[db.name] = db
			p.s.Created(Name, instanceLedgerName(in.project, in.name)+"/databases/"+db.name)
		},
	})
	sim.WriteJSON(w, http.StatusOK, op.json())
}

func (p *Part) getDatabase(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookup(w, r)
	if !ok {
		return
	}
	db := in.databases[r.PathValue("database")]
	if db == nil {
		errNotFound(w, "The database does not exist.")
		return
	}
	sim.WriteJSON(w, http.StatusOK, p.databaseJSON(in, db))
}

func (p *Part) listDatabases(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookup(w, r)
	if !ok {
		return
	}
	items := make([]map[string]any, 0, len(in.databases))
	for _, name := range sim.SortedKeys(in.databases) {
		items = append(items, p.databaseJSON(in, in.databases[name]))
	}
	sim.WriteJSON(w, http.StatusOK, map[string]any{"kind": "sql#databasesList", "items": items})
}

func (p *Part) deleteDatabase(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookupIdle(w, r)
	if !ok {
		return
	}
	name := r.PathValue("database")
	if in.databases[name] == nil {
		errNotFound(w, "The database does not exist.")
		return
	}
	if !p.requireServing(w, in) {
		return
	}
	op := p.startOperation(in, "DELETE_DATABASE", sim.OperationFailure(r.Context()), opHooks{
		done: func(failMsg string) {
			if failMsg != "" || in.databases[name] == nil {
				return
			}
			delete(in.databases, name)
			p.s.Deleted(Name, instanceLedgerName(in.project, in.name)+"/databases/"+name)
		},
	})
	sim.WriteJSON(w, http.StatusOK, op.json())
}
