// Package cloudbilling simulates the Cloud Billing API's project billing info (REST, v1), for the
// real google.golang.org/api/cloudbilling/v1 client:
//
//   - GET /v1/projects/{project}/billingInfo (projects.getBillingInfo)
//   - PUT /v1/projects/{project}/billingInfo (projects.updateBillingInfo)
//
// A project made by Resource Manager's CreateProject has no billing account, as in GCP; a seeded
// project (sim.ProjectSeeder) has SeededAccount linked. The serviceusage part asks BillingEnabled
// before it enables an API. Projects are checked against the resourcemanager part when present:
// one that does not exist or is not ACTIVE gets 403, as the real API answers callers who cannot
// see it.
package cloudbilling

import (
	"net/http"
	"regexp"
	"strings"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
)

// Name is the part's name in fault rules, the ledger and the state dump.
const Name = "cloudbilling"

// SeededAccount is the billing account seeded projects are linked to.
const SeededAccount = "billingAccounts/000000-000000-000000"

// accountPattern is the form of a billing account name: billingAccounts/ and three groups of six
// upper-case hexadecimal digits.
var accountPattern = regexp.MustCompile(`^billingAccounts/[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$`)

// Part is the simulated billing info of projects.
type Part struct {
	s *sim.Sim
	// accounts by project ID: the linked billing account name; absent or "": none.
	accounts map[string]string
}

// New builds the part.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s}
	p.Reset()
	return p
}

func (p *Part) Name() string            { return Name }
func (p *Part) GRPC(*grpc.Server)       {}
func (p *Part) Reset()                  { p.accounts = map[string]string{} }
func (p *Part) Snapshot() any           { return map[string]any{"billingAccounts": p.accounts} }
func (p *Part) ProjectSeeded(id string) { p.accounts[id] = SeededAccount }

// Routes registers the REST endpoints under the method names fault rules match.
func (p *Part) Routes(r *sim.Routes) {
	r.ErrorWriter(sim.WriteGoogleInjectedError)
	r.Handle("projects.getBillingInfo", "GET /v1/projects/{project}/billingInfo", p.getBillingInfo)
	r.Handle("projects.updateBillingInfo", "PUT /v1/projects/{project}/billingInfo", p.updateBillingInfo)
}

// BillingEnabled reports whether the project (ID or number) has a billing account linked. True
// when no resourcemanager part can say which project it is: a single-API test needs no setup.
// Lock held.
func (p *Part) BillingEnabled(project string) bool {
	id, ok := p.projectID(project)
	return !ok || p.accounts[id] != ""
}

// projectIdentity is implemented by the resourcemanager part.
type projectIdentity interface {
	ProjectIdentity(idOrNumber string) (id, number string, ok bool)
	ProjectActive(idOrNumber string) bool
}

// projectID resolves a project ID or number to its ID; ok is false without a resourcemanager part.
func (p *Part) projectID(project string) (string, bool) {
	rm, ok := p.s.Part("resourcemanager").(projectIdentity)
	if !ok {
		return "", false
	}
	id, _, found := rm.ProjectIdentity(project)
	if !found {
		return project, true
	}
	return id, true
}

// billingInfo is the ProjectBillingInfo resource.
type billingInfo struct {
	Name               string `json:"name"`
	ProjectID          string `json:"projectId"`
	BillingAccountName string `json:"billingAccountName"`
	BillingEnabled     bool   `json:"billingEnabled"`
}

// project resolves the request's project, answering 403 itself for one the caller cannot see.
func (p *Part) project(w http.ResponseWriter, r *http.Request) (string, bool) {
	project := r.PathValue("project")
	rm, ok := p.s.Part("resourcemanager").(projectIdentity)
	if !ok {
		return project, true
	}
	id, _, found := rm.ProjectIdentity(project)
	if !found || !rm.ProjectActive(project) {
		sim.WriteGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED", "The caller does not have permission", "global", "forbidden")
		return "", false
	}
	return id, true
}

func (p *Part) info(id string) billingInfo {
	acct := p.accounts[id]
	return billingInfo{Name: "projects/" + id + "/billingInfo", ProjectID: id, BillingAccountName: acct, BillingEnabled: acct != ""}
}

func (p *Part) getBillingInfo(w http.ResponseWriter, r *http.Request) {
	defer p.s.Lock()()
	id, ok := p.project(w, r)
	if !ok {
		return
	}
	sim.WriteJSON(w, http.StatusOK, p.info(id))
}

// updateBillingInfo links the billing account named in the body, or unlinks it when the name is
// empty (which disables billing), as the real method does.
func (p *Part) updateBillingInfo(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name               string `json:"name"`
		ProjectID          string `json:"projectId"`
		BillingAccountName string `json:"billingAccountName"`
		BillingEnabled     bool   `json:"billingEnabled"`
	}
	if err := sim.DecodeJSON(r, &in); err != nil {
		sim.WriteGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), "global", "badRequest")
		return
	}
	defer p.s.Lock()()
	id, ok := p.project(w, r)
	if !ok {
		return
	}
	acct := strings.TrimSpace(in.BillingAccountName)
	if acct != "" && !accountPattern.MatchString(acct) {
		sim.WriteGoogleError(w, http.StatusBadRequest, "INVALID_ARGUMENT",
			"Request contains an invalid argument.", "global", "badRequest")
		return
	}
	// The ledger counts the first link as the creation of the project's billing info.
	if old, ok := p.accounts[id]; !ok && acct != "" {
		p.s.Created(Name, "projects/"+id+"/billingInfo")
	} else if old != acct {
		p.s.Mutated(Name, "projects/"+id+"/billingInfo")
	}
	p.accounts[id] = acct
	sim.WriteJSON(w, http.StatusOK, p.info(id))
}
