// Package serviceusage simulates the Service Usage API (REST, v1) for the real
// google.golang.org/api/serviceusage/v1 client, and with it which APIs a project may call:
//
//   - POST /v1/projects/{project}/services:batchEnable (services.batchEnable): a long-running
//     operation, done after Timings.ProjectOperation; refused with FAILED_PRECONDITION when the
//     project has no billing account (the cloudbilling part)
//   - GET /v1/projects/{project}/services/{service} (services.get) and
//     GET /v1/projects/{project}/services:batchGet?names=… (services.batchGet): ENABLED or DISABLED
//   - GET /v1/operations/{operation} (operations.get)
//
// A project made by Resource Manager's CreateProject has every API disabled, as in GCP; a seeded
// project (sim.ProjectSeeder) has every API of KnownServices enabled. ServiceDisabled is what the
// GKE, Backup for GKE (through resourcemanager.CheckProject) and Cloud SQL parts ask on every
// request: an API enabled less than Timings.ServicePropagation ago still answers SERVICE_DISABLED,
// as a real enabling takes minutes to reach every front end. Without a resourcemanager part every
// API of every project is enabled, so single-API tests need no setup.
package serviceusage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
)

// Name is the part's name in fault rules, the ledger and the state dump.
const Name = "serviceusage"

// KnownServices are the APIs the service calls in an instance's project, with the titles Google's
// errors name them by.
var KnownServices = map[string]string{
	"container.googleapis.com":         "Kubernetes Engine API",
	"sqladmin.googleapis.com":          "Cloud SQL Admin API",
	"gkebackup.googleapis.com":         "Backup for GKE API",
	"compute.googleapis.com":           "Compute Engine API",
	"servicenetworking.googleapis.com": "Service Networking API",
}

// maxBatch is how many services one batchEnable may name (the API reference: "A maximum of 20
// services can be enabled in a single request").
const maxBatch = 20

var serviceNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.googleapis\.com$`)

// Part is the simulated Service Usage API.
type Part struct {
	s *sim.Sim
	// enabled by project ID, then service: when the enabling reaches the API front ends (the
	// zero time for seeded projects). Service Usage itself reports a service ENABLED as soon as
	// it is in this map.
	enabled map[string]map[string]time.Time
	ops     map[string]*operation
}

// operation is one batchEnable operation.
type operation struct {
	name     string
	project  string // ID
	number   string
	services []string
	done     bool
	errMsg   string
}

// New builds the part.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s}
	p.Reset()
	return p
}

func (p *Part) Name() string      { return Name }
func (p *Part) GRPC(*grpc.Server) {}
func (p *Part) Reset() {
	p.enabled = map[string]map[string]time.Time{}
	p.ops = map[string]*operation{}
}

// Snapshot lists each project's enabled services and when they reach the front ends. Lock held.
func (p *Part) Snapshot() any {
	out := map[string]map[string]string{}
	for id, svcs := range p.enabled {
		out[id] = map[string]string{}
		for svc, at := range svcs {
			v := "enabled"
			if !at.IsZero() {
				v = "enabled, effective " + at.UTC().Format(time.RFC3339Nano)
			}
			out[id][svc] = v
		}
	}
	return map[string]any{"projects": out}
}

// ProjectSeeded enables every known API of a seeded project, long ago. Lock held.
func (p *Part) ProjectSeeded(id string) {
	m := p.services(id)
	for svc := range KnownServices {
		m[svc] = time.Time{}
	}
}

func (p *Part) services(id string) map[string]time.Time {
	m := p.enabled[id]
	if m == nil {
		m = map[string]time.Time{}
		p.enabled[id] = m
	}
	return m
}

// Routes registers the REST endpoints under the method names fault rules match.
func (p *Part) Routes(r *sim.Routes) {
	r.ErrorWriter(sim.WriteGoogleInjectedError)
	r.Handle("services.batchEnable", "POST /v1/projects/{project}/services:batchEnable", p.batchEnable)
	r.Handle("services.batchGet", "GET /v1/projects/{project}/services:batchGet", p.batchGet)
	r.Handle("services.get", "GET /v1/projects/{project}/services/{service}", p.get)
	r.Handle("operations.get", "GET /v1/operations/{operation}", p.getOperation)
}

// projectIdentity is implemented by the resourcemanager part.
type projectIdentity interface {
	ProjectIdentity(idOrNumber string) (id, number string, ok bool)
	ProjectActive(idOrNumber string) bool
}

// billingChecker is implemented by the cloudbilling part.
type billingChecker interface{ BillingEnabled(project string) bool }

// Title is the API's name in Google's errors ("Kubernetes Engine API"), or the service name.
func Title(service string) string {
	if t, ok := KnownServices[service]; ok {
		return t
	}
	return service
}

// DisabledMessage is Google's front end's message for a call to an API that is not enabled in
// the consumer project (number).
func DisabledMessage(service, number string) string {
	return fmt.Sprintf("%s has not been used in project %s before or it is disabled. Enable it by visiting %s then retry. "+
		"If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
		Title(service), number, sim.ActivationURL(service, number))
}

// ServiceDisabled reports whether a call to service in project (ID or number) is refused because
// the API is not enabled there, or was enabled less than Timings.ServicePropagation ago; message
// and the project's number are for the answer. Lock held.
func (p *Part) ServiceDisabled(service, project string) (message, number string, disabled bool) {
	rm, ok := p.s.Part("resourcemanager").(projectIdentity)
	if !ok {
		return "", "", false
	}
	id, number, found := rm.ProjectIdentity(project)
	if !found {
		return "", "", false // the project check answers first
	}
	if at, ok := p.enabled[id][service]; ok && !p.s.Now().Before(at) {
		return "", number, false
	}
	return DisabledMessage(service, number), number, true
}

// project resolves the request's project to its ID and number, answering 403 itself for one the
// caller cannot see.
func (p *Part) project(w http.ResponseWriter, r *http.Request) (id, number string, ok bool) {
	project := r.PathValue("project")
	rm, ok := p.s.Part("resourcemanager").(projectIdentity)
	if !ok {
		return project, project, true
	}
	id, number, found := rm.ProjectIdentity(project)
	if !found || !rm.ProjectActive(project) {
		sim.WriteGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED",
			fmt.Sprintf("Permission denied to enable service [%s]", "projects/"+project), "global", "forbidden")
		return "", "", false
	}
	return id, number, true
}

// serviceJSON is the Service resource.
func (p *Part) serviceJSON(id, number, svc string) map[string]any {
	state := "DISABLED"
	if _, ok := p.enabled[id][svc]; ok {
		state = "ENABLED"
	}
	return map[string]any{
		"name": "projects/" + number + "/services/" + svc, "parent": "projects/" + number, "state": state,
		"config": map[string]any{"name": svc, "title": Title(svc)},
	}
}

func (p *Part) batchEnable(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ServiceIDs []string `json:"serviceIds"`
	}
	if err := sim.DecodeJSON(r, &in); err != nil {
		sim.WriteGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), "global", "badRequest")
		return
	}
	defer p.s.Lock()()
	id, number, ok := p.project(w, r)
	if !ok {
		return
	}
	switch {
	case len(in.ServiceIDs) == 0:
		sim.WriteGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Request must specify at least one service to enable.", "global", "badRequest")
		return
	case len(in.ServiceIDs) > maxBatch:
		sim.WriteGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT",
			fmt.Sprintf("A maximum of %d services can be enabled in a single request; %d were given.", maxBatch, len(in.ServiceIDs)), "global", "badRequest")
		return
	}
	for _, svc := range in.ServiceIDs {
		if !serviceNamePattern.MatchString(svc) {
			sim.WriteGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT",
				fmt.Sprintf("Invalid service name %q: expected a service name such as container.googleapis.com.", svc), "global", "badRequest")
			return
		}
	}
	if b, ok := p.s.Part("cloudbilling").(billingChecker); ok && !b.BillingEnabled(id) {
		// The real answer (quoted in public reports): FAILED_PRECONDITION, a PreconditionFailure
		// of type googleapis.com/billing-enabled and an ErrorInfo UREQ_PROJECT_BILLING_NOT_FOUND.
		svcs := strings.Join(in.ServiceIDs, ",")
		sim.WriteGoogleError(w, http.StatusBadRequest, "FAILED_PRECONDITION",
			fmt.Sprintf("Billing account for project '%s' is not found. Billing must be enabled for activation of service(s) '%s' to proceed.", number, svcs),
			"", "",
			map[string]any{"@type": "type.googleapis.com/google.rpc.PreconditionFailure", "violations": []map[string]any{{
				"type": "googleapis.com/billing-enabled", "subject": fmt.Sprintf("?error_code=390001&project=%s&services=%s", number, svcs),
			}}},
			sim.ErrorInfo("UREQ_PROJECT_BILLING_NOT_FOUND", "serviceusage.googleapis.com/billing-enabled", map[string]string{"project": number, "services": svcs}),
		)
		return
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "serviceusage-%d-%d", p.s.NextID(), p.s.Now().UnixNano()))
	op := &operation{name: "operations/acat.p2-" + number + "-" + hex.EncodeToString(sum[:8]), project: id, number: number,
		services: append([]string(nil), in.ServiceIDs...), errMsg: sim.OperationFailure(r.Context())}
	p.ops[op.name] = op
	p.s.After(p.s.Timings().ProjectOperation.D(), func() {
		op.done = true
		if op.errMsg != "" {
			return
		}
		now := p.s.Now()
		m := p.services(id)
		for _, svc := range op.services {
			if _, ok := m[svc]; !ok {
				m[svc] = now.Add(p.s.Timings().ServicePropagation.D())
				p.s.Created(Name, "projects/"+id+"/services/"+svc)
			}
		}
	})
	sim.WriteJSON(w, http.StatusOK, p.opJSON(op))
}

// opJSON is the Operation resource: the response is a BatchEnableServicesResponse once done.
func (p *Part) opJSON(op *operation) map[string]any {
	out := map[string]any{"name": op.name, "metadata": map[string]any{
		"@type": "type.googleapis.com/google.api.serviceusage.v1.OperationMetadata", "resourceNames": []string{"projects/" + op.number},
	}}
	if !op.done {
		return out
	}
	out["done"] = true
	if op.errMsg != "" {
		out["error"] = map[string]any{"code": 9, "message": op.errMsg}
		return out
	}
	var svcs []map[string]any
	for _, svc := range op.services {
		svcs = append(svcs, p.serviceJSON(op.project, op.number, svc))
	}
	out["response"] = map[string]any{"@type": "type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse", "services": svcs}
	return out
}

func (p *Part) getOperation(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	op := p.ops["operations/"+r.PathValue("operation")]
	if op == nil {
		sim.WriteGoogleError(w, http.StatusNotFound, "NOT_FOUND", "Operation not found: operations/"+r.PathValue("operation"), "global", "notFound")
		return
	}
	sim.WriteJSON(w, http.StatusOK, p.opJSON(op))
}

func (p *Part) get(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	id, number, ok := p.project(w, r)
	if !ok {
		return
	}
	sim.WriteJSON(w, http.StatusOK, p.serviceJSON(id, number, r.PathValue("service")))
}

func (p *Part) batchGet(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	id, number, ok := p.project(w, r)
	if !ok {
		return
	}
	var svcs []map[string]any
	for _, name := range r.URL.Query()["names"] {
		svcs = append(svcs, p.serviceJSON(id, number, name[strings.LastIndex(name, "/")+1:]))
	}
	sim.WriteJSON(w, http.StatusOK, map[string]any{"services": svcs})
}
