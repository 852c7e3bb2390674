package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// TestCreateWithOneAddressAllowlistPassesSoak: a create whose allowlist is one customer address
// passes its health check and soak (the probes come from the worker's egress, which the allowlist
// admits for monitoring and the issue shows), and the instance answers Cloudflare's 403 to an
// address outside the allowlist.
func TestCreateWithOneAddressAllowlistPassesSoak(t *testing.T) {
	tc := temporalClient(t)
	const slug, customer = "e2e-waf", devstack.SampleCustomerIP
	domain := spec.DefaultDomain(slug)
	body := strings.Replace(devstack.SampleNewInstanceBody(slug), "203.0.113.0/24\n198.51.100.16/28\n", customer+"/32\n", 1)
	if !strings.Contains(body, "\n"+customer+"/32\n") {
		t.Fatal("the sample request's allowlist was not replaced: the sample changed")
	}
	create := fileIssue(t, "alice", forms.OpCreate, "New Cloud instance: "+slug, body)
	r := waitState(t, tc, slug, workflows.StateActive, 2*time.Minute)
	if r.Instance.Version != devstack.LatestVersion {
		t.Fatalf("created instance %+v", r.Instance)
	}
	status := statusComment(t, create.GetNumber(), opID(forms.OpCreate, slug, create))
	if !strings.Contains(status, "succeeded") || strings.Contains(status, "- [ ]") || !strings.Contains(status, devstack.ProbeEgress) {
		t.Errorf("create's status comment must be a finished checklist naming the range added for monitoring:\n%s", status)
	}
	var handoff string
	for _, c := range botComments(t, create.GetNumber()) {
		if strings.Contains(c.GetBody(), "https://"+domain) {
			handoff = c.GetBody()
		}
	}
	if !strings.Contains(handoff, "Added for monitoring: "+devstack.ProbeEgress) {
		t.Errorf("the hand-off must show the range added for monitoring:\n%s", handoff)
	}

	if code, v := visitFrom(t, domain, "/__version", customer); code != 200 || strings.TrimSpace(v) != devstack.LatestVersion {
		t.Fatalf("from the allowlisted address: %d %q", code, v)
	}
	for _, outside := range []string{"203.0.113.11", "198.51.100.20"} {
		if code, page := visitFrom(t, domain, "/sign-in", outside); code != http.StatusForbidden || !strings.Contains(page, "Error code 1020") {
			t.Errorf("from %s, outside the allowlist: want Cloudflare's 403 block page, got %d %q", outside, code, page)
		}
	}
}
