// Package compute simulates the part of the Compute Engine API (REST, google.golang.org/api/compute/v1)
// the create uses: VPC networks and subnetworks, and the operations their inserts return.
//
// What it reproduces (sources in docs/fidelity.md):
//   - networks.insert / subnetworks.insert answer a compute#operation, polled with
//     globalOperations.get / regionOperations.get; here it is DONE at once (the real one takes
//     seconds).
//   - A second insert of the same name is 409 alreadyExists "The resource '<path>' already exists";
//     a missing resource is 404 notFound "The resource '<path>' was not found".
//   - A subnetwork needs its network: 404 for the network's path when it does not exist.
//   - A new project has no network unless Config.DefaultNetwork (-default-network) gives every
//     project the auto-mode "default" network, as projects outside an organisation that enforces
//     constraints/compute.skipDefaultNetworkCreation get.
//
// Method names for fault rules: networks.insert, networks.get, subnetworks.insert,
// subnetworks.get, globalOperations.get, regionOperations.get.
package compute

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	computev1 "google.golang.org/api/compute/v1"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

// Name is the part's name in fault rules, the ledger and the state dump.
const Name = "compute"

// apiBase prefixes selfLink and targetLink, as in the real API's responses.
const apiBase = "https://www.googleapis.com/compute/v1/"

// DefaultNetwork is the network GKE uses when a cluster names none.
const DefaultNetwork = "default"

// Part is the simulated Compute Engine API (networks only).
type Part struct {
	s              *sim.Sim
	defaultNetwork bool
	// networks by "projects/P/global/networks/N", subnetworks by "projects/P/regions/R/subnetworks/S",
	// operations by their path.
	networks    map[string]*computev1.Network
	subnetworks map[string]*computev1.Subnetwork
	ops         map[string]*computev1.Operation
}

// New builds the part.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s, defaultNetwork: s.Config().DefaultNetwork}
	p.Reset()
	return p
}

func (p *Part) Name() string { return Name }

// Reset drops all networks and operations. Lock held.
func (p *Part) Reset() {
	p.networks = map[string]*computev1.Network{}
	p.subnetworks = map[string]*computev1.Subnetwork{}
	p.ops = map[string]*computev1.Operation{}
}

// Snapshot lists the networks and subnetworks by path. Lock held.
func (p *Part) Snapshot() any {
	return map[string]any{"networks": sim.SortedKeys(p.networks), "subnetworks": sim.SortedKeys(p.subnetworks)}
}

func (p *Part) GRPC(*grpc.Server) {}

func networkPath(project, name string) string {
	return "projects/" + project + "/global/networks/" + name
}
func subnetworkPath(project, region, name string) string {
	return "projects/" + project + "/regions/" + region + "/subnetworks/" + name
}

// NetworkExists reports whether the project has the network: one inserted, or "default" when new
// projects get it. Lock held (called from the GKE part's handlers).
func (p *Part) NetworkExists(project, name string) bool {
	if name == DefaultNetwork && p.defaultNetwork {
		return true
	}
	_, ok := p.networks[networkPath(project, name)]
	return ok
}

// SeedNetwork adds a network and a subnetwork, as if inserted long ago (for a seeded fleet).
// Lock held.
func (p *Part) SeedNetwork(project, region, network, subnetwork, cidr string) {
	np := networkPath(project, network)
	if _, ok := p.networks[np]; !ok {
		p.networks[np] = &computev1.Network{Kind: "compute#network", Name: network, SelfLink: apiBase + np, Id: uint64(p.s.NextID())}
		p.s.Created(Name, np)
	}
	sp := subnetworkPath(project, region, subnetwork)
	if _, ok := p.subnetworks[sp]; !ok {
		p.subnetworks[sp] = &computev1.Subnetwork{Kind: "compute#subnetwork", Name: subnetwork, Network: apiBase + np, Region: apiBase + "projects/" + project + "/regions/" + region, IpCidrRange: cidr, SelfLink: apiBase + sp, Id: uint64(p.s.NextID())}
		p.s.Created(Name, sp)
	}
}

func (p *Part) Routes(r *sim.Routes) {
	r.ErrorWriter(func(w http.ResponseWriter, code int, message string) { writeError(w, code, "backendError", message) })
	const proj = "/compute/v1/projects/{project}"
	r.Handle("networks.insert", "POST "+proj+"/global/networks", p.insertNetwork)
	r.Handle("networks.get", "GET "+proj+"/global/networks/{network}", p.getNetwork)
	r.Handle("subnetworks.insert", "POST "+proj+"/regions/{region}/subnetworks", p.insertSubnetwork)
	r.Handle("subnetworks.get", "GET "+proj+"/regions/{region}/subnetworks/{subnetwork}", p.getSubnetwork)
	r.Handle("globalOperations.get", "GET "+proj+"/global/operations/{operation}", p.getOperation)
	r.Handle("regionOperations.get", "GET "+proj+"/regions/{region}/operations/{operation}", p.getOperation)
}

// googleError is the Google JSON error body googleapi.CheckResponse parses.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []struct {
			Message string `json:"message"`
			Domain  string `json:"domain"`
			Reason  string `json:"reason"`
		} `json:"errors"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, code int, reason, message string) {
	var e googleError
	e.Error.Code, e.Error.Message = code, message
	e.Error.Errors = append(e.Error.Errors, struct {
		Message string `json:"message"`
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
	}{message, "global", reason})
	sim.WriteJSON(w, code, e)
}

func notFound(w http.ResponseWriter, path string) {
	writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource '%s' was not found", path))
}

func alreadyExists(w http.ResponseWriter, path string) {
	writeError(w, http.StatusConflict, "alreadyExists", fmt.Sprintf("The resource '%s' already exists", path))
}

// projectMissing answers for a project that does not exist (or is not ACTIVE) as Compute does:
// 404 for the project's own path. Lock held.
func (p *Part) projectMissing(w http.ResponseWriter, project string) bool {
	rm, _ := p.s.Part(resourcemanager.Name).(*resourcemanager.Part)
	if rm == nil || rm.ProjectActive(project) {
		return p.serviceDisabled(w, project)
	}
	notFound(w, "projects/"+project)
	return true
}

// serviceDisabled answers as Google's front end does when the Compute Engine API is not enabled
// in the project (or not yet propagated): 403 PERMISSION_DENIED, legacy reason
// accessNotConfigured, a Help link and an ErrorInfo SERVICE_DISABLED, as Cloud SQL's REST API does.
// Lock held.
func (p *Part) serviceDisabled(w http.ResponseWriter, project string) bool {
	msg, number, disabled := p.s.ServiceDisabled(service, project)
	if !disabled {
		return false
	}
	sim.WriteServiceDisabled(w, service, msg, number)
	return true
}

// service is the Compute Engine API's service name.
const service = "compute.googleapis.com"

// done records a finished insert operation on target and answers it. Lock held.
func (p *Part) done(w http.ResponseWriter, project, region, target string) {
	now := p.s.Now().UTC().Format(time.RFC3339Nano)
	name := fmt.Sprintf("operation-%d-%012x", p.s.Now().UnixMilli(), p.s.NextID())
	scope := "projects/" + project + "/global/operations/"
	if region != "" {
		scope = "projects/" + project + "/regions/" + region + "/operations/"
	}
	op := &computev1.Operation{
		Kind: "compute#operation", Id: uint64(p.s.NextID()), Name: name, OperationType: "insert", Status: "DONE", Progress: 100,
		TargetLink: apiBase + target, SelfLink: apiBase + scope + name, InsertTime: now, StartTime: now, EndTime: now,
	}
	if region != "" {
		op.Region = apiBase + "projects/" + project + "/regions/" + region
	}
	p.ops[scope+name] = op
	sim.WriteJSON(w, http.StatusOK, op)
}

func decode(r *http.Request, v any) error {
	return json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v)
}

func (p *Part) insertNetwork(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	project := r.PathValue("project")
	if p.projectMissing(w, project) {
		return
	}
	var in computev1.Network
	if err := decode(r, &in); err != nil || in.Name == "" {
		writeError(w, http.StatusBadRequest, "required", "Required field 'resource.name' not specified")
		return
	}
	path := networkPath(project, in.Name)
	if p.NetworkExists(project, in.Name) {
		alreadyExists(w, path)
		return
	}
	in.Kind, in.SelfLink, in.Id = "compute#network", apiBase+path, uint64(p.s.NextID())
	in.CreationTimestamp = p.s.Now().UTC().Format(time.RFC3339Nano)
	p.networks[path] = &in
	p.s.Created(Name, path)
	p.done(w, project, "", path)
}

func (p *Part) getNetwork(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	project, name := r.PathValue("project"), r.PathValue("network")
	if p.projectMissing(w, project) {
		return
	}
	path := networkPath(project, name)
	if n, ok := p.networks[path]; ok {
		sim.WriteJSON(w, http.StatusOK, n)
		return
	}
	if p.NetworkExists(project, name) {
		sim.WriteJSON(w, http.StatusOK, &computev1.Network{Kind: "compute#network", Name: name, AutoCreateSubnetworks: true, SelfLink: apiBase + path})
		return
	}
	notFound(w, path)
}

// lastSegment is the name at the end of a network reference: a name, a partial path or a URL.
func lastSegment(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '/' {
			return ref[i+1:]
		}
	}
	return ref
}

func (p *Part) insertSubnetwork(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	project, region := r.PathValue("project"), r.PathValue("region")
	if p.projectMissing(w, project) {
		return
	}
	var in computev1.Subnetwork
	if err := decode(r, &in); err != nil || in.Name == "" {
		writeError(w, http.StatusBadRequest, "required", "Required field 'resource.name' not specified")
		return
	}
	if in.IpCidrRange == "" {
		writeError(w, http.StatusBadRequest, "required", "Required field 'resource.ipCidrRange' not specified")
		return
	}
	if in.Network == "" {
		writeError(w, http.StatusBadRequest, "required", "Required field 'resource.network' not specified")
		return
	}
	network := lastSegment(in.Network)
	if !p.NetworkExists(project, network) {
		notFound(w, networkPath(project, network))
		return
	}
	path := subnetworkPath(project, region, in.Name)
	if _, ok := p.subnetworks[path]; ok {
		alreadyExists(w, path)
		return
	}
	in.Kind, in.SelfLink, in.Id = "compute#subnetwork", apiBase+path, uint64(p.s.NextID())
	in.Network, in.Region = apiBase+networkPath(project, network), apiBase+"projects/"+project+"/regions/"+region
	in.CreationTimestamp = p.s.Now().UTC().Format(time.RFC3339Nano)
	p.subnetworks[path] = &in
	p.s.Created(Name, path)
	p.done(w, project, region, path)
}

func (p *Part) getSubnetwork(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	project := r.PathValue("project")
	if p.projectMissing(w, project) {
		return
	}
	path := subnetworkPath(project, r.PathValue("region"), r.PathValue("subnetwork"))
	if sn, ok := p.subnetworks[path]; ok {
		sim.WriteJSON(w, http.StatusOK, sn)
		return
	}
	notFound(w, path)
}

func (p *Part) getOperation(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	path := r.URL.Path[len("/compute/v1/"):]
	if op, ok := p.ops[path]; ok {
		sim.WriteJSON(w, http.StatusOK, op)
		return
	}
	notFound(w, path)
}
