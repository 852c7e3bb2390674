package lifecycle_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/sourcegraph/lifecycle"

// Stand-ins live apart from production: the simulator under sim/, the local stack, benchmarks and
// pinned tools under dev/, end-to-end tests under tests/. No production package (what ships in the
// worker, starter and mi images) may depend on them, even indirectly.
var standIns = []string{module + "/sim", module + "/dev", module + "/tests"}

func isStandIn(pkg string) bool {
	for _, p := range standIns {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

func TestProductionImportsNoStandIn(t *testing.T) {
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var production []string
	for _, p := range strings.Fields(string(out)) {
		if !isStandIn(p) && p != module {
			production = append(production, p)
		}
	}
	if len(production) < 5 {
		t.Fatalf("found only %d production packages (%v): the listing is wrong", len(production), production)
	}
	for _, p := range production {
		deps, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", p).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", p, err)
		}
		for _, d := range strings.Fields(string(deps)) {
			if isStandIn(d) {
				t.Errorf("production package %s depends on %s; stand-ins (sim/, dev/, tests/) must stay out of production code", p, d)
			}
		}
	}
}

// The domain packages under internal/ are the only ones there.
func TestInternalHoldsOnlyTheDomain(t *testing.T) {
	out, err := exec.Command("go", "list", "./internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{"codec": true, "config": true, "forms": true, "metrics": true, "sla": true, "spec": true}
	for _, p := range strings.Fields(string(out)) {
		rest := strings.TrimPrefix(p, module+"/internal/")
		top, _, _ := strings.Cut(rest, "/")
		if !allowed[top] {
			t.Errorf("%s is under internal/, which holds only the domain packages; stand-ins go under sim/ or dev/", p)
		}
	}
}
