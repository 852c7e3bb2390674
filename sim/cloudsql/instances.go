package cloudsql

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/sim"
)

// Instance states (sqladmin DatabaseInstance.state).
const (
	statePendingCreate = "PENDING_CREATE"
	stateRunnable      = "RUNNABLE"
	statePendingDelete = "PENDING_DELETE"
	stateFailed        = "FAILED"
)

// instance is one Cloud SQL instance. body holds the DatabaseInstance JSON as the client gave it
// (merged by patches); the fields the server owns live in the struct and are laid over body when
// rendering, so a client can never overwrite them.
type instance struct {
	project, name   string
	body            map[string]any
	state           string
	settingsVersion int64
	createTime      time.Time
	op              *operation // the running operation, nil when idle
	backupRuns      map[int64]*backupRun
	databases       map[string]*database
	restoredFrom    []string // backup runs restored into this instance, for the state dump
}

func (in *instance) settings() map[string]any {
	s, _ := in.body["settings"].(map[string]any)
	if s == nil {
		s = map[string]any{}
		in.body["settings"] = s
	}
	return s
}

// activationPolicy defaults to ALWAYS, as the API does when it is not set.
func (in *instance) activationPolicy() string {
	if v, _ := in.settings()["activationPolicy"].(string); v != "" {
		return v
	}
	return "ALWAYS"
}

func (in *instance) deletionProtection() bool {
	v, _ := in.settings()["deletionProtectionEnabled"].(bool)
	return v
}

func (in *instance) region() string {
	if v, _ := in.body["region"].(string); v != "" {
		return v
	}
	return "us-central1"
}

func (in *instance) databaseVersion() string {
	v, _ := in.body["databaseVersion"].(string)
	return v
}

// json renders the instance as sqladmin.DatabaseInstance.
func (in *instance) json() map[string]any {
	m := deepCopy(in.body).(map[string]any)
	path := instanceLedgerName(in.project, in.name)
	m["kind"] = "sql#instance"
	m["name"] = in.name
	m["project"] = in.project
	m["state"] = in.state
	m["region"] = in.region()
	m["selfLink"] = selfLink(path)
	m["connectionName"] = in.project + ":" + in.region() + ":" + in.name
	m["createTime"] = timestamp(in.createTime)
	m["backendType"] = "SECOND_GEN"
	m["instanceType"] = "CLOUD_SQL_INSTANCE"
	if _, ok := m["gceZone"]; !ok {
		m["gceZone"] = in.region() + "-a"
	}
	s, _ := m["settings"].(map[string]any)
	if s == nil { // a patch may have nulled it (NullFields)
		s = map[string]any{}
		m["settings"] = s
	}
	s["kind"] = "sql#settings"
	s["settingsVersion"] = strconv.FormatInt(in.settingsVersion, 10)
	s["activationPolicy"] = in.activationPolicy()
	if bc, ok := s["backupConfiguration"].(map[string]any); ok {
		bc["kind"] = "sql#backupConfiguration"
	}
	// The etag is deprecated in favour of settingsVersion but still sent; make it change with it.
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%s", path, in.settingsVersion, in.state)))
	m["etag"] = hex.EncodeToString(sum[:16])
	return m
}

func (in *instance) sortedRuns() []*backupRun {
	runs := make([]*backupRun, 0, len(in.backupRuns))
	for _, r := range in.backupRuns {
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].id > runs[j].id })
	return runs
}

// serverOwned are DatabaseInstance fields a client cannot set; they are dropped from request bodies.
var serverOwned = []string{"kind", "name", "project", "state", "selfLink", "connectionName", "createTime",
	"etag", "backendType", "instanceType", "serviceAccountEmailAddress", "ipAddresses", "serverCaCert"}

func stripServerOwned(body map[string]any) {
	for _, k := range serverOwned {
		delete(body, k)
	}
	if s, ok := body["settings"].(map[string]any); ok {
		delete(s, "kind")
		delete(s, "settingsVersion")
	}
}

var instanceNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// validateSettings checks what the real API rejects up front and the simulator relies on.
func validateSettings(s map[string]any) string {
	if v, ok := s["activationPolicy"]; ok {
		if ap, _ := v.(string); ap != "ALWAYS" && ap != "NEVER" {
			return fmt.Sprintf("Invalid activation policy %v; valid values are ALWAYS and NEVER.", v)
		}
	}
	if v, ok := s["deletionProtectionEnabled"]; ok {
		if _, isBool := v.(bool); !isBool {
			return "settings.deletionProtectionEnabled must be a boolean."
		}
	}
	return ""
}

// validateInsert checks an insert body and returns the instance name, or what is invalid.
func validateInsert(body map[string]any) (name, invalid string) {
	name, _ = body["name"].(string)
	switch {
	case name == "":
		return "", "Missing parameter: name."
	case len(name) > 98 || !instanceNameRE.MatchString(name):
		return "", fmt.Sprintf("Invalid instance name %q: use lowercase letters, digits and hyphens, starting with a letter.", name)
	}
	settings, _ := body["settings"].(map[string]any)
	if tier, _ := settings["tier"].(string); tier == "" {
		return "", "Missing parameter: settings.tier."
	}
	if msg := validateSettings(settings); msg != "" {
		return "", msg
	}
	if msg := checkEdition(body); msg != "" {
		return "", msg
	}
	return name, ""
}

// plusByDefault are the database versions whose instances are Enterprise Plus unless the request
// names an edition (hashicorp/terraform-provider-google#20498, GoogleCloudPlatform/magic-modules#18014).
var plusByDefault = map[string]bool{"POSTGRES_16": true, "POSTGRES_17": true, "POSTGRES_18": true, "MYSQL_8_4": true}

// checkEdition fills in settings.edition as the API does when it is absent, and refuses a tier
// that Enterprise Plus does not offer (it only has the predefined db-perf-optimized-N-* tiers).
func checkEdition(body map[string]any) string {
	settings, _ := body["settings"].(map[string]any)
	edition, _ := settings["edition"].(string)
	if edition == "" {
		version, _ := body["databaseVersion"].(string)
		edition = "ENTERPRISE"
		if plusByDefault[version] {
			edition = "ENTERPRISE_PLUS"
		}
		settings["edition"] = edition
	}
	tier, _ := settings["tier"].(string)
	if edition == "ENTERPRISE_PLUS" && !strings.HasPrefix(tier, "db-perf-optimized-N-") {
		return fmt.Sprintf("Invalid Tier (%s) for (ENTERPRISE_PLUS) Edition. Use a predefined Tier like db-perf-optimized-N-* instead.", tier)
	}
	return ""
}

// newInstance builds a PENDING_CREATE instance from a validated insert body, created at now.
func (p *Part) newInstance(project, name string, body map[string]any, now time.Time) *instance {
	stripServerOwned(body)
	if _, ok := body["databaseVersion"]; !ok {
		body["databaseVersion"] = "MYSQL_8_0" // the API's default
	}
	return &instance{
		project: project, name: name, body: body, state: statePendingCreate,
		settingsVersion: 1, createTime: now,
		backupRuns: map[int64]*backupRun{}, databases: map[string]*database{},
	}
}

func (p *Part) insertInstance(w http.ResponseWriter, r *http.Request) {
	body, err := decodeBody(r)
	if err != nil {
		errInvalid(w, err.Error())
		return
	}
	defer p.s.Lock()()
	project := r.PathValue("project")
	if !p.checkProject(w, project) {
		return
	}
	name, msg := validateInsert(body)
	if msg != "" {
		errInvalid(w, msg)
		return
	}
	if p.instances[key(project, name)] != nil {
		writeError(w, http.StatusConflict, "instanceAlreadyExists",
			"The Cloud SQL instance already exists.", "")
		return
	}
	in := p.newInstance(project, name, body, p.s.Now())
	p.instances[key(project, name)] = in
	p.s.Created(Name, instanceLedgerName(project, name))
	op := p.startOperation(in, "CREATE", sim.OperationFailure(r.Context()), opHooks{
		done: func(failMsg string) {
			if failMsg != "" {
				in.state = stateFailed
				return
			}
			in.state = stateRunnable
		},
	})
	sim.WriteJSON(w, http.StatusOK, op.json())
}

func (p *Part) getInstance(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookup(w, r)
	if !ok {
		return
	}
	sim.WriteJSON(w, http.StatusOK, in.json())
}

func (p *Part) listInstances(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	project := r.PathValue("project")
	if !p.checkProject(w, project) {
		return
	}
	var all []*instance
	for _, k := range sim.SortedKeys(p.instances) {
		if in := p.instances[k]; in.project == project {
			all = append(all, in)
		}
	}
	list, next := page(r, all, 500)
	items := make([]map[string]any, 0, len(list))
	for _, in := range list {
		items = append(items, in.json())
	}
	resp := map[string]any{"kind": "sql#instancesList", "items": items}
	if next != "" {
		resp["nextPageToken"] = next
	}
	sim.WriteJSON(w, http.StatusOK, resp)
}

// patchInstance merges only the fields present in the body (instances.patch); updateInstance
// replaces the settings wholesale (instances.update). Both are applied when the UPDATE operation
// completes, so a GET in between still shows the old settings.
func (p *Part) patchInstance(w http.ResponseWriter, r *http.Request)  { p.modifyInstance(w, r, true) }
func (p *Part) updateInstance(w http.ResponseWriter, r *http.Request) { p.modifyInstance(w, r, false) }

func (p *Part) modifyInstance(w http.ResponseWriter, r *http.Request, partial bool) {
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
	// A FAILED instance may still be patched, e.g. to lift deletion protection before deleting it.
	if in.state != stateRunnable && in.state != stateFailed {
		errInvalidState(w)
		return
	}
	settings, _ := body["settings"].(map[string]any)
	if msg := validateSettings(settings); msg != "" {
		errInvalid(w, msg)
		return
	}
	if !partial && settings == nil {
		errInvalid(w, "Missing parameter: settings.")
		return
	}
	// settingsVersion is the API's optimistic-concurrency token: when sent it must be current.
	if v, ok := settings["settingsVersion"]; ok {
		if sent, err := strconv.ParseInt(fmt.Sprint(v), 10, 64); err != nil || sent != in.settingsVersion {
			writeError(w, http.StatusPreconditionFailed, "conditionNotMet", "Precondition check failed.", "FAILED_PRECONDITION")
			return
		}
	}
	if n, _ := body["name"].(string); n != "" && n != in.name {
		errInvalid(w, "The instance name in the request body does not match the one in the URL.")
		return
	}
	stripServerOwned(body)
	op := p.startOperation(in, "UPDATE", sim.OperationFailure(r.Context()), opHooks{
		done: func(failMsg string) {
			if failMsg != "" {
				return
			}
			if partial {
				mergePatch(in.body, body)
			} else {
				for k, v := range body {
					in.body[k] = v
				}
			}
			in.settingsVersion++
			p.s.Mutated(Name, instanceLedgerName(in.project, in.name))
		},
	})
	sim.WriteJSON(w, http.StatusOK, op.json())
}

func (p *Part) deleteInstance(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	in, ok := p.lookupIdle(w, r)
	if !ok {
		return
	}
	if in.deletionProtection() {
		// The real text is unverified; callers must not match on it.
		writeError(w, http.StatusBadRequest, "deletionProtectionEnabled",
			"The instance is protected from deletion: settings.deletionProtectionEnabled is true. Disable deletion protection before deleting the instance.",
			"FAILED_PRECONDITION")
		return
	}
	prev := in.state
	in.state = statePendingDelete
	op := p.startOperation(in, "DELETE", sim.OperationFailure(r.Context()), opHooks{
		done: func(failMsg string) {
			if failMsg != "" {
				in.state = prev
				return
			}
			p.removeInstance(in)
		},
	})
	sim.WriteJSON(w, http.StatusOK, op.json())
}

// removeInstance drops an instance with its backup runs and databases, recording each in the
// ledger. Lock held.
func (p *Part) removeInstance(in *instance) {
	base := instanceLedgerName(in.project, in.name)
	for _, run := range in.sortedRuns() {
		p.s.Deleted(Name, base+"/backupRuns/"+strconv.FormatInt(run.id, 10))
	}
	for _, db := range sim.SortedKeys(in.databases) {
		p.s.Deleted(Name, base+"/databases/"+db)
	}
	delete(p.instances, key(in.project, in.name))
	p.s.Deleted(Name, base)
}

// restoreBackup restores a SUCCESSFUL backup run (of this or another instance) into the instance
// named in the path, as instances.restoreBackup with restoreBackupContext does.
func (p *Part) restoreBackup(w http.ResponseWriter, r *http.Request) {
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
	rc, _ := body["restoreBackupContext"].(map[string]any)
	runID, err := strconv.ParseInt(fmt.Sprint(rc["backupRunId"]), 10, 64)
	if rc == nil || err != nil || runID == 0 {
		errInvalid(w, "restoreBackupContext.backupRunId is required.")
		return
	}
	srcProject, _ := rc["project"].(string)
	if srcProject == "" {
		srcProject = in.project
	}
	srcName, _ := rc["instanceId"].(string)
	if srcName == "" {
		srcName = in.name
	}
	src := p.instances[key(srcProject, srcName)]
	if src == nil {
		errInstanceNotFound(w)
		return
	}
	run := src.backupRuns[runID]
	if run == nil {
		errNotFound(w, "The backup run does not exist.")
		return
	}
	if run.status != runSuccessful {
		errInvalid(w, fmt.Sprintf("Backup run %d is %s; only a SUCCESSFUL backup run can be restored.", runID, run.status))
		return
	}
	from := fmt.Sprintf("%s/backupRuns/%d", key(srcProject, srcName), runID)
	op := p.startOperation(in, "RESTORE_VOLUME", sim.OperationFailure(r.Context()), opHooks{
		done: func(failMsg string) {
			if failMsg != "" {
				return
			}
			in.restoredFrom = append(in.restoredFrom, from)
			p.s.Mutated(Name, instanceLedgerName(in.project, in.name))
		},
	})
	sim.WriteJSON(w, http.StatusOK, op.json())
}

// mergePatch merges src into dst the way a partial update does: objects merge field by field,
// anything else (scalars, arrays) replaces, and an explicit null (NullFields) removes the field.
func mergePatch(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergePatch(dv, sv)
				continue
			}
		}
		dst[k] = deepCopy(v)
	}
}

// deepCopy copies decoded JSON so stored state never aliases a request or a response.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	default: // string, bool, json.Number, nil
		return t
	}
}
