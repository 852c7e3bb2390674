package workflows

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

func soAllowlistInput(cidrs ...string) OperationInput {
	in := tdRequest(forms.OpUpdateAllowlist, spec.Production)
	in.Request.Allowlist = &forms.AllowlistUpdate{Slug: "acme", IPAllowlist: cidrs, CustomerConfirmed: true}
	return in
}

func TestAllowlistRejectsHostBits(t *testing.T) {
	env, f := tdEnv(t)
	c := activeConfig("acme", spec.Production, "5.9.0")
	c.Spec.IPAllowlist = []string{"203.0.113.0/24"}
	f.putConfig(c)
	env.ExecuteWorkflow("UpdateAllowlist", soAllowlistInput("10.0.0.0/8", "142.250.217.110/29"))
	res := tdResult(t, env)
	if res.Outcome != OutcomeRejected {
		t.Fatalf("outcome %s", res.Outcome)
	}
	if !strings.Contains(res.Reason, "142.250.217.110/29") || !strings.Contains(res.Reason, "`142.250.217.104/29`") ||
		!strings.Contains(res.Reason, "confirm the corrected range with the customer") {
		t.Fatalf("the rejection must carry the fix: %q", res.Reason)
	}
	if got := f.names(false); len(got) != 0 {
		t.Fatalf("a rejected allowlist changes nothing, ran %v", got)
	}
	if got := f.config("acme").Spec.IPAllowlist; !slices.Equal(got, []string{"203.0.113.0/24"}) {
		t.Fatalf("allowlist %v", got)
	}
	if s := f.comment("<!-- lifecycle:status:"); !strings.Contains(s, "142.250.217.104/29") {
		t.Fatalf("the status comment must show the fix:\n%s", s)
	}
}

// A private range behind Cloudflare lets nobody in: the update is refused before anything changes.
func TestAllowlistRejectsPrivateRanges(t *testing.T) {
	env, f := tdEnv(t)
	c := activeConfig("acme", spec.Production, "5.9.0")
	c.Spec.IPAllowlist = []string{"203.0.113.0/24"}
	f.putConfig(c)
	env.ExecuteWorkflow("UpdateAllowlist", soAllowlistInput("198.51.100.0/24", "10.0.0.0/8"))
	res := tdResult(t, env)
	if res.Outcome != OutcomeRejected || !strings.Contains(res.Reason, "`10.0.0.0/8`: is a private range (RFC 1918)") {
		t.Fatalf("outcome %s: %q", res.Outcome, res.Reason)
	}
	if got := f.names(false); len(got) != 0 {
		t.Fatalf("a rejected allowlist changes nothing, ran %v", got)
	}
}

func TestAllowlistUpdateWritesConfigThenCloudflare(t *testing.T) {
	env, f := tdEnv(t)
	c := activeConfig("acme", spec.Production, "5.9.0")
	c.Spec.IPAllowlist = []string{"203.0.113.0/24"}
	f.putConfig(c)
	want := []string{"142.250.217.104/29", "198.51.100.7/32"}
	env.ExecuteWorkflow("UpdateAllowlist", soAllowlistInput(want...))
	res := tdResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	if got := f.names(false); !slices.Equal(got, []string{"ReadInstanceConfig", "ChangeInstanceConfig", "SetAllowlist"}) {
		t.Fatalf("activities %v", got)
	}
	if got := f.config("acme").Spec.IPAllowlist; !slices.Equal(got, want) {
		t.Fatalf("config allowlist %v", got)
	}
	sa := inputsOf[activities.SetAllowlistInput](f, "SetAllowlist")
	if len(sa) != 1 || sa[0].Host != "acme.sourcegraphcloud.com" || !slices.Equal(sa[0].CIDRs, want) {
		t.Fatalf("SetAllowlist %+v", sa)
	}
	if res.Progress.Facts["Previous allowlist"] != "203.0.113.0/24" || res.Progress.Facts[factMonitoring] != fakeProbeEgress {
		t.Fatalf("facts %v", res.Progress.Facts)
	}
}

func TestAllowlistAbortRestoresTheOldList(t *testing.T) {
	env, f := tdEnv(t)
	c := activeConfig("acme", spec.Production, "5.9.0")
	c.Spec.IPAllowlist = []string{"203.0.113.0/24"}
	f.putConfig(c)
	f.fail("SetAllowlist")
	var abort error
	decide(env, time.Hour, Decision{Step: "cloudflare", Action: ActionAbort, By: "bob"}, &abort)
	env.ExecuteWorkflow("UpdateAllowlist", soAllowlistInput("198.51.100.0/24"))
	res := tdResult(t, env)
	if abort != nil || res.Outcome != OutcomeAborted {
		t.Fatalf("abort %v, outcome %s", abort, res.Outcome)
	}
	if got := f.config("acme").Spec.IPAllowlist; !slices.Equal(got, []string{"203.0.113.0/24"}) {
		t.Fatalf("the abort must write the old list back, got %v", got)
	}
}

func TestTelemetryOnAndOff(t *testing.T) {
	for _, enable := range []bool{true, false} {
		env, f := tdEnv(t)
		c := activeConfig("acme", spec.Production, "5.9.0")
		c.Spec.UserLevelTelemetry = !enable
		f.putConfig(c)
		op, word := forms.OpDisableTelemetry, "off"
		if enable {
			op, word = forms.OpEnableTelemetry, "on"
		}
		in := tdRequest(op, spec.Production)
		in.Request.Telemetry = &forms.Telemetry{Slug: "acme", Enable: enable, CustomerAgreed: enable}
		env.ExecuteWorkflow("SetTelemetry", in)
		res := tdResult(t, env)
		if res.Outcome != OutcomeSucceeded {
			t.Fatalf("%s: outcome %s: %s", word, res.Outcome, res.Reason)
		}
		if got := f.config("acme").Spec.UserLevelTelemetry; got != enable {
			t.Fatalf("%s: telemetry %v", word, got)
		}
		if title := res.Progress.Steps[0].Title; title != "Turn user-level telemetry "+word {
			t.Fatalf("title %q", title)
		}
		if got := f.names(false); !slices.Equal(got, []string{"ReadInstanceConfig", "ChangeInstanceConfig"}) {
			t.Fatalf("activities %v", got)
		}
	}
}

func TestReloadFrontendRestartsAndSoaks(t *testing.T) {
	env, f := tdEnv(t)
	in := tdRequest(forms.OpReloadFrontend, spec.Production)
	in.Request.Reload = &forms.ReloadFrontend{Slug: "acme"}
	env.ExecuteWorkflow("ReloadFrontend", in)
	res := tdResult(t, env)
	if res.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
	}
	at := f.config("acme").Spec.FrontendRestartedAt
	if _, err := time.Parse(time.RFC3339, at); err != nil {
		t.Fatalf("frontendRestartedAt %q: %v", at, err)
	}
	if got := f.names(false); !slices.Equal(got, []string{"ReadInstanceConfig", "ChangeInstanceConfig", "Soak"}) {
		t.Fatalf("activities %v", got)
	}
	soak := inputsOf[activities.SoakInput](f, "Soak")
	if len(soak) != 1 || soak[0] != (activities.SoakInput{Host: "acme.sourcegraphcloud.com", ExpectedVersion: "5.9.0",
		Consecutive: DefaultSoakProbes, Interval: DefaultSoakInterval, Timeout: DefaultSoakTimeout}) {
		t.Fatalf("soak %+v", soak)
	}
}

func TestConvertTrialToProduction(t *testing.T) {
	env, f := tdEnv(t)
	f.putConfig(activeConfig("acme", spec.Trial, "5.9.0"))
	in := tdRequest(forms.OpConvertTrial, spec.Trial)
	in.Request.ConvertTrial = &forms.ConvertTrial{Slug: "acme", AgreementDate: "2026-11-02"}
	env.ExecuteWorkflow("ConvertTrial", in)
	res := tdResult(t, env)
	if res.Outcome != OutcomeSucceeded || res.Instance.Type != spec.Production {
		t.Fatalf("outcome %s, type %s", res.Outcome, res.Instance.Type)
	}
	if got := f.config("acme").Metadata.Labels["instance-type"]; got != string(spec.Production) {
		t.Fatalf("label %q", got)
	}
	if got := f.names(false); !slices.Equal(got, []string{"ReadInstanceConfig", "ChangeInstanceConfig"}) {
		t.Fatalf("activities %v", got)
	}
}

func TestConvertTrialFailureKeepsTheType(t *testing.T) {
	env, f := tdEnv(t)
	f.putConfig(activeConfig("acme", spec.Trial, "5.9.0"))
	f.fail("ChangeInstanceConfig")
	var abort error
	decide(env, time.Hour, Decision{Step: "instance-type", Action: ActionAbort, By: "bob"}, &abort)
	in := tdRequest(forms.OpConvertTrial, spec.Trial)
	in.Request.ConvertTrial = &forms.ConvertTrial{Slug: "acme", AgreementDate: "2026-11-02"}
	env.ExecuteWorkflow("ConvertTrial", in)
	res := tdResult(t, env)
	if abort != nil || res.Outcome != OutcomeAborted || res.Instance.Type != spec.Trial {
		t.Fatalf("abort %v, outcome %s, type %s", abort, res.Outcome, res.Instance.Type)
	}
}
