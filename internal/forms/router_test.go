package forms

import (
	"slices"
	"strings"
	"testing"
)

func TestByLabel(t *testing.T) {
	cases := []struct {
		labels []string
		op     Operation
		ok     bool
	}{
		{[]string{"team/cloud", "mi/new-instance-request"}, OpCreate, true},
		{[]string{"mi/suspension-request", "team/cloud", "mi"}, OpSuspend, true},
		{[]string{"team/cloud", "mi/resume-request"}, OpResume, true},
		{[]string{"team/cloud", "mi/teardown-request"}, OpTeardown, true},
		{[]string{"team/cloud", "mi/extend-trial-request"}, OpExtendTrial, true},
		{[]string{"mi/self-service", "mi/configure-instance-type", "team/cloud"}, OpConvertTrial, true},
		{[]string{"team/cloud", "mi/update-ip-allowlist"}, OpUpdateAllowlist, true},
		{[]string{"team/cloud", "mi/reload-frontend"}, OpReloadFrontend, true},
		{[]string{"team/cloud", "mi/enable-telemetry-request"}, OpEnableTelemetry, true},
		{[]string{"team/cloud", "mi/disable-telemetry-request"}, OpDisableTelemetry, true},
		{[]string{"team/cloud", "mi/upgrade-tracking"}, OpUpgradeFleet, true},
		{[]string{"MI/Teardown-Request "}, OpTeardown, true},                       // GitHub label names are case-insensitive
		{[]string{"mi/teardown-request", "mi/teardown-request"}, OpTeardown, true}, // the same label twice is one request
		{[]string{"team/cloud"}, "", false},
		{nil, "", false},
		{[]string{"mi/suspension-request", "mi/teardown-request"}, "", false}, // ambiguous: start nothing
		{[]string{"mi/teardown"}, "", false},
	}
	for _, c := range cases {
		op, ok := ByLabel(c.labels)
		if op != c.op || ok != c.ok {
			t.Errorf("ByLabel(%q) = %q, %v; want %q, %v", c.labels, op, ok, c.op, c.ok)
		}
	}
	if got := OpsByLabel([]string{"mi/teardown-request", "mi/suspension-request"}); !slices.Equal(got, []Operation{OpSuspend, OpTeardown}) {
		t.Errorf("OpsByLabel = %v", got)
	}
}

func TestOperationsAndLabelsAreUnique(t *testing.T) {
	ops := Operations()
	labels := map[string]bool{}
	for i, op := range ops {
		if slices.Contains(ops[:i], op) {
			t.Errorf("operation %s twice", op)
		}
		l := LabelOf(op)
		if !strings.HasPrefix(l, "mi/") || labels[l] {
			t.Errorf("label %q of %s must be unique and start with mi/", l, op)
		}
		labels[l] = true
		if back, ok := ByLabel([]string{TeamLabel, l}); !ok || back != op {
			t.Errorf("ByLabel(LabelOf(%s)) = %s, %v", op, back, ok)
		}
	}
	if LabelOf("rollback") != "" {
		t.Error("LabelOf an unknown operation must be empty")
	}
}

func TestParseRequest(t *testing.T) {
	bodies := map[Operation]string{
		OpCreate: validBody, OpSuspend: suspendBody, OpResume: resumeBody, OpTeardown: teardownBody,
		OpExtendTrial: extendTrialBody, OpConvertTrial: convertTrialBody, OpUpdateAllowlist: allowlistBody,
		OpReloadFrontend: reloadBody, OpEnableTelemetry: enableTelemetryBody, OpDisableTelemetry: disableTelemetryBody,
		OpUpgradeFleet: upgradeBody,
	}
	for _, op := range Operations() {
		body, ok := bodies[op]
		if !ok {
			t.Fatalf("no test body for %s", op)
		}
		req, err := ParseRequest(op, body)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		if req.Operation() != op {
			t.Errorf("%s: parsed %T reports operation %s", op, req, req.Operation())
		}
		wantSlug := "acme-corp"
		switch op {
		case OpCreate:
			wantSlug = "acme"
		case OpUpgradeFleet:
			wantSlug = ""
		}
		if req.InstanceSlug() != wantSlug {
			t.Errorf("%s: InstanceSlug = %q", op, req.InstanceSlug())
		}
		// Another form's body is not this form: it is rejected, and yields nothing.
		if op != OpResume && op != OpReloadFrontend && op != OpDisableTelemetry { // their only required field is Slug
			if req, err := ParseRequest(op, resumeBody); err == nil || req != nil {
				t.Errorf("%s: a resume body must be rejected, got %#v, %v", op, req, err)
			}
		}
	}
	if req, err := ParseRequest("rollback", resumeBody); err == nil || req != nil {
		t.Fatalf("unknown operation: %#v, %v", req, err)
	}
}
