package main

import (
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/workflows"
)

func TestParseArgsTakesFlagsAnywhere(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		pos        []string
		reason, by string
	}{
		{[]string{"acme", "skip", "-reason", "done by hand"}, []string{"acme", "skip"}, "done by hand", ""},
		{[]string{"-reason=x", "acme", "-by", "carol", "skip"}, []string{"acme", "skip"}, "x", "carol"},
		{[]string{"acme", "--", "-reason", "x"}, []string{"acme", "-reason", "x"}, "", ""},
		{nil, nil, "", ""},
	} {
		fs := newFlags("decide")
		reason, by := fs.String("reason", "", ""), fs.String("by", "", "")
		pos, err := parseArgs("decide", fs, tc.args)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if !reflect.DeepEqual(pos, tc.pos) || *reason != tc.reason || *by != tc.by {
			t.Errorf("%q: positional %q reason %q by %q; want %q %q %q", tc.args, pos, *reason, *by, tc.pos, tc.reason, tc.by)
		}
	}
	fs := newFlags("decide")
	fs.String("reason", "", "")
	if _, err := parseArgs("decide", fs, []string{"acme", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestParseIssue(t *testing.T) {
	for in, want := range map[string]workflows.IssueRef{
		"sourcegraph/customer#42": {Owner: "sourcegraph", Repo: "customer", Number: 42},
		"acme-co/ops.repo#7":      {Owner: "acme-co", Repo: "ops.repo", Number: 7},
		"42":                      {Owner: "sourcegraph", Repo: "customer", Number: 42},
		"#42":                     {Owner: "sourcegraph", Repo: "customer", Number: 42},
	} {
		got, err := parseIssue(in)
		if err != nil || got != want {
			t.Errorf("parseIssue(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "sourcegraph/customer", "customer#4", "a/b/c#4", "sourcegraph/customer#0", "sourcegraph/customer#x", "https://github.com/sourcegraph/customer/issues/4"} {
		if _, err := parseIssue(in); err == nil || !strings.Contains(err.Error(), "owner/repo#N") {
			t.Errorf("parseIssue(%q) = %v; want an error showing owner/repo#N", in, err)
		}
	}
}

func TestRolloutID(t *testing.T) {
	for _, tc := range []struct{ ref, repo, want string }{
		{"76", "", "upgrade-fleet/sourcegraph/customer/76"},
		{"76", "sourcegraph/releases", "upgrade-fleet/sourcegraph/releases/76"},
		{"sourcegraph/releases#9", "", "upgrade-fleet/sourcegraph/releases/9"},
		{"upgrade-fleet/sourcegraph/customer/76", "", "upgrade-fleet/sourcegraph/customer/76"},
	} {
		got, err := rolloutID(tc.ref, tc.repo)
		if err != nil || got != tc.want {
			t.Errorf("rolloutID(%q, %q) = %q, %v; want %q", tc.ref, tc.repo, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ ref, repo, want string }{
		{"latest", "", "give the tracking issue's number"},
		{"upgrade-fleet/acme", "", "upgrade-fleet/owner/repo/N"},
		{"upgrade-fleet/sourcegraph/customer/76", "a/b", "-repo applies to a rollout given by issue number"},
		{"76", "customer", "owner/name"},
	} {
		if _, err := rolloutID(tc.ref, tc.repo); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rolloutID(%q, %q) = %v; want an error containing %q", tc.ref, tc.repo, err, tc.want)
		}
	}
}

func TestParseDecide(t *testing.T) {
	a, _, _ := testApp(t, nil, map[string]string{"MI_USER": "carol", "USER": "root"})
	o, err := a.parseDecide([]string{"acme", "rollback", "-reason", "SSO broken"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (decideOptions{Slug: "acme", Action: "rollback", Reason: "SSO broken", By: "carol"}); o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
	if decideActions[o.Action] != workflows.ActionAbort {
		t.Errorf("rollback maps to %q, want abort", decideActions[o.Action])
	}
	a, _, _ = testApp(t, nil, map[string]string{"USER": "root"})
	if o, _ := a.parseDecide([]string{"acme", "retry"}); o.By != "root" {
		t.Errorf("-by without MI_USER: %q, want $USER", o.By)
	}
	if o, _ := a.parseDecide([]string{"acme", "RETRY", "-by", "@dave"}); o.By != "dave" || o.Action != "retry" {
		t.Errorf("-by @dave RETRY: %+v", o)
	}
}

func TestParseStartBuildsTypedRequests(t *testing.T) {
	a, _, _ := testApp(t, nil, map[string]string{"MI_USER": "carol"})
	for _, tc := range []struct {
		line  []string
		check func(r workflows.OperationRequest) bool
	}{
		{[]string{"suspend", "acme", "-reason", "unpaid", "-issue", "sourcegraph/customer#9", "-agreement-date", "2026-03-01"},
			func(r workflows.OperationRequest) bool {
				return *r.Suspend == forms.Suspend{Slug: "acme", Reason: "unpaid", AgreementDate: "2026-03-01"} &&
					r.AgreedAt.Format("2006-01-02") == "2026-03-01" && r.RequestedAt.Equal(testNow)
			}},
		{[]string{"resume", "acme", "-issue", "9"}, func(r workflows.OperationRequest) bool { return *r.Resume == forms.Resume{Slug: "acme"} }},
		{[]string{"reload-frontend", "acme", "-issue", "9", "-reason", "stuck"}, func(r workflows.OperationRequest) bool {
			return *r.Reload == forms.ReloadFrontend{Slug: "acme", Reason: "stuck"}
		}},
		{[]string{"enable-telemetry", "acme", "-issue", "9", "-customer-agreed"}, func(r workflows.OperationRequest) bool {
			return *r.Telemetry == forms.Telemetry{Slug: "acme", Enable: true, CustomerAgreed: true}
		}},
		{[]string{"disable-telemetry", "acme", "-issue", "9"}, func(r workflows.OperationRequest) bool {
			return *r.Telemetry == forms.Telemetry{Slug: "acme"} && r.Operation == forms.OpDisableTelemetry
		}},
		{[]string{"upgrade", "acme", "-version", "5.10.1", "-force", "-issue", "9"}, func(r workflows.OperationRequest) bool {
			return *r.Upgrade == workflows.UpgradeRequest{Version: "5.10.1", Force: true}
		}},
		{[]string{"extend-trial", "acme", "-days", "14", "-reason", "evaluation", "-issue", "9"}, func(r workflows.OperationRequest) bool {
			return *r.ExtendTrial == forms.ExtendTrial{Slug: "acme", Days: 14, Reason: "evaluation"}
		}},
		{[]string{"update-ip-allowlist", "acme", "-allowlist", "203.0.113.0/24, 198.51.100.0/24", "-confirmed", "-issue", "9"}, func(r workflows.OperationRequest) bool {
			return reflect.DeepEqual(r.Allowlist.IPAllowlist, []string{"203.0.113.0/24", "198.51.100.0/24"}) && r.Allowlist.CustomerConfirmed
		}},
		{[]string{"create", "acme", "-customer", "Acme Corp", "-type", "trial", "-admin-email", "admin@acme.com", "-version", "5.10.0", "-issue", "9"},
			func(r workflows.OperationRequest) bool {
				c := r.Create
				return c.Domain == "acme.sourcegraphcloud.com" && c.Size == "small" && c.Region == "us-central1" && c.Type == "trial" && c.Customer == "Acme Corp"
			}},
	} {
		o, err := a.parseStart(tc.line)
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		r, err := buildRequest(o, workflows.Settings{}, testNow)
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if r.Issue == nil || r.Requester != "carol" || r.Slug != "acme" || r.Operation != startOps[tc.line[0]].op || !tc.check(r) {
			t.Errorf("%q: request %+v (issue %v)", tc.line, r, r.Issue)
		}
	}
}

// TestUsageErrors checks that each mistake exits 2, says what is wrong and what to type, and
// prints the usage, without reaching Temporal.
func TestUsageErrors(t *testing.T) {
	env := map[string]string{"MI_USER": "carol"}
	for _, tc := range []struct {
		line  []string
		wants []string
	}{
		{nil, []string{"say what to do", "Usage:", "mi list"}},
		{[]string{"suspend", "acme"}, []string{`no command "suspend"`, "mi start suspend acme -issue owner/repo#N"}},
		{[]string{"retry", "acme"}, []string{"mi decide acme retry"}},
		{[]string{"ls"}, []string{"Did you mean: mi list"}},
		{[]string{"help", "nope"}, []string{`there is no command "nope"`}},
		{[]string{"list", "acme"}, []string{"takes no arguments", "mi status acme", "Usage: mi list"}},
		{[]string{"list", "-state", "deleted"}, []string{"its record stays readable with: mi status <slug>"}},
		{[]string{"list", "-state", "paused"}, []string{`-state "paused" is not a state`, "suspended"}},
		{[]string{"list", "-type", "customer"}, []string{"must be production, trial or internal"}},
		{[]string{"list", "-atention"}, []string{"did you mean -attention?"}},
		{[]string{"status"}, []string{"name the instance: mi status <slug>", "Usage: mi status"}},
		{[]string{"status", "Acme"}, []string{"slug `Acme`: must be"}},
		{[]string{"status", "acme", "umbrella"}, []string{"takes one slug"}},
		{[]string{"decide", "acme"}, []string{"mi decide acme retry|skip|abort|rollback|restore"}},
		{[]string{"decide", "acme", "frob"}, []string{`"frob" is not a decision`}},
		{[]string{"decide", "acme", "skip"}, []string{"a skip needs a reason", `mi decide acme skip -reason "`, "Usage: mi decide"}},
		{[]string{"decide", "acme", "skip", "did", "it", "by", "hand"}, []string{`-reason "did it by hand"`}},
		{[]string{"start"}, []string{"mi start <operation> <slug>", "suspend, resume"}},
		{[]string{"start", "teardown", "acme"}, []string{"does not start a teardown", "teardown issue form"}},
		{[]string{"start", "frob", "acme"}, []string{`"frob" is not an operation`}},
		{[]string{"start", "suspend"}, []string{"name the instance: mi start suspend <slug>"}},
		{[]string{"start", "suspend", "acme", "-reason", "x"}, []string{"-issue owner/repo#N is required", "audit trail", "mi start suspend <slug> -issue owner/repo#N -reason R"}},
		{[]string{"start", "suspend", "acme", "-issue", "9"}, []string{"suspend needs -reason"}},
		{[]string{"start", "suspend", "acme", "-reason", "x", "-issue", "9", "-days", "3"}, []string{"-days does not apply to suspend; suspend takes -reason"}},
		{[]string{"start", "suspend", "acme", "-reasn", "x"}, []string{"there is no flag -reasn; did you mean -reason?", "mi start suspend <slug>"}},
		{[]string{"start", "suspend", "acme", "-reason", "x", "-issue", "customer#9"}, []string{"write it as owner/repo#N"}},
		{[]string{"start", "upgrade", "acme", "-version", "v5.10.0", "-issue", "9"}, []string{"without the `v` prefix: `5.10.0`"}},
		{[]string{"start", "upgrade", "acme", "-version", "5.10", "-issue", "9"}, []string{"full release version"}},
		{[]string{"start", "extend-trial", "acme", "-days", "45", "-reason", "x", "-issue", "9"}, []string{"-days 45", "1 to 30 days"}},
		{[]string{"start", "enable-telemetry", "acme", "-issue", "9"}, []string{"enable-telemetry needs -customer-agreed"}},
		{[]string{"start", "update-ip-allowlist", "acme", "-allowlist", "10.0.0.1/8", "-confirmed", "-issue", "9"}, []string{"network address for /8 is `10.0.0.0/8`"}},
		{[]string{"start", "update-ip-allowlist", "acme", "-allowlist", "203.0.113.0/24,192.168.0.0/16", "-confirmed", "-issue", "9"}, []string{"-allowlist `192.168.0.0/16`: is a private range (RFC 1918)", "Cloudflare"}},
		{[]string{"start", "create", "acme", "-customer", "A", "-type", "trial", "-admin-email", "nobody", "-version", "5.10.0", "-issue", "9"}, []string{"-admin-email `nobody`"}},
		{[]string{"start", "create", "acme", "-customer", "A", "-type", "trial", "-admin-email", "a@b.co", "-issue", "9"}, []string{"create needs -version"}},
		{[]string{"rollout"}, []string{"mi rollout <issue-number>"}},
		{[]string{"rollout", "next"}, []string{`"next" names no rollout`}},
		{[]string{"rollout", "76", "frob"}, []string{`"frob" is not a rollout action`}},
		{[]string{"rollout", "76", "rollback"}, []string{"mi decide <slug> rollback"}},
		{[]string{"rollout", "76", "retry"}, []string{"name the instance: mi rollout 76 retry <slug>"}},
		{[]string{"rollout", "76", "skip", "acme"}, []string{"say why acme is left out: mi rollout 76 skip acme -reason"}},
		{[]string{"rollout", "76", "pause", "too", "many", "errors"}, []string{`-reason "too many errors"`}},
		{[]string{"rollout", "76", "status", "acme"}, []string{"mi status acme"}},
	} {
		code, out, errText := runMi(t, nil, env, tc.line...)
		if code != exitUsage {
			t.Errorf("mi %s: exit %d, want %d (stderr %q)", strings.Join(tc.line, " "), code, exitUsage, errText)
		}
		if out != "" {
			t.Errorf("mi %s: wrote to stdout: %q", strings.Join(tc.line, " "), out)
		}
		wantContains(t, "stderr of mi "+strings.Join(tc.line, " "), errText, tc.wants...)
	}
	// Who decides must be known.
	code, _, errText := runMi(t, nil, map[string]string{}, "decide", "acme", "retry")
	if code != exitUsage || !strings.Contains(errText, "-by <your GitHub login>, or set MI_USER") {
		t.Errorf("decide without -by, MI_USER or USER: exit %d, %q", code, errText)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := runMi(t, nil, nil, "help")
	if code != exitOK {
		t.Fatalf("mi help: exit %d", code)
	}
	wantContains(t, "mi help", out, "Usage:", "TEMPORAL_ADDRESS", "MI_USER", "Exit status: 0 done, 1 error", "rollout")
	code, out, _ = runMi(t, nil, nil, "help", "start")
	if code != exitOK {
		t.Fatalf("mi help start: exit %d", code)
	}
	for _, op := range startOrder {
		wantContains(t, "mi help start", out, "mi start "+op+" <slug>")
	}
	wantContains(t, "mi help start", out, "-issue is required", "issue-filed requests only")
	for _, c := range []string{"list", "status", "decide", "rollout"} {
		code, out, _ := runMi(t, nil, nil, c, "-h")
		if code != exitOK || !strings.HasPrefix(out, "Usage: mi "+c) {
			t.Errorf("mi %s -h: exit %d, %q", c, code, out)
		}
	}
}
