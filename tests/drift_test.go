package tests

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cloudflare-go"
	"github.com/google/go-github/v55/github"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

// simCloudflare is a Cloudflare client on the simulator, acting as someone in the dashboard.
func simCloudflare(t *testing.T) *cloudflare.API {
	t.Helper()
	api, err := cloudflare.NewWithAPIToken("dashboard-token", cloudflare.BaseURL(stack.Cloud().CloudflareAPIURL))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// allowlistRule is the WAF custom rule holding host's allowlist clause in its zone, if any.
func allowlistRule(t *testing.T, api *cloudflare.API, host string) (zoneID, rulesetID string, rule *cloudflare.RulesetRule) {
	t.Helper()
	ctx := context.Background()
	zones, err := api.ListZones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range zones {
		if strings.HasSuffix(host, "."+z.Name) && len(z.Name) > len(zoneID) {
			zoneID = z.ID
		}
	}
	if zoneID == "" {
		t.Fatalf("no simulated zone serves %s", host)
	}
	rs, err := api.GetEntrypointRuleset(ctx, cloudflare.ZoneIdentifier(zoneID), "http_request_firewall_custom")
	var nf *cloudflare.NotFoundError
	if errors.As(err, &nf) {
		return zoneID, "", nil // no custom rule in the zone yet
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Rules {
		if strings.Contains(r.Expression, `(http.host eq "`+host+`" and not ip.src in {`) {
			return zoneID, rs.ID, &r
		}
	}
	return zoneID, rs.ID, nil
}

// driftIssue is the open allowlist drift issue (nil when none is open).
func driftIssue(t *testing.T) *github.Issue {
	t.Helper()
	is, _, err := stack.GitHubAs("bob").Issues.ListByRepo(context.Background(), devstack.SampleOwner, devstack.SampleRepo,
		&github.IssueListByRepoOptions{State: "open", Labels: []string{workflows.DriftLabel}})
	if err != nil {
		t.Fatal(err)
	}
	if len(is) > 1 {
		t.Fatalf("%d open drift issues, want one", len(is))
	}
	if len(is) == 0 {
		return nil
	}
	return is[0]
}

// checkDrift runs one check of the Schedule now, and waits for the open drift issue to list host
// with reason.
func checkDrift(t *testing.T, tc client.Client, host, reason string) *github.Issue {
	t.Helper()
	ctx := context.Background()
	if err := tc.ScheduleClient().GetHandle(ctx, workflows.DriftScheduleID).Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE}); err != nil {
		t.Fatal(err)
	}
	var issue *github.Issue
	eventually(t, time.Minute, "the drift issue listing "+host, func() bool {
		issue = driftIssue(t)
		return issue != nil && strings.Contains(issue.GetBody(), "`"+host+"`") && strings.Contains(issue.GetBody(), reason)
	})
	return issue
}

// reconcile has bob comment /reconcile on the drift issue, and waits for host's rule to be back
// and the issue closed.
func reconcile(t *testing.T, api *cloudflare.API, n int, host string) {
	t.Helper()
	say(t, "bob", n, "/reconcile")
	eventually(t, time.Minute, "the rule back in Cloudflare", func() bool {
		_, _, r := allowlistRule(t, api, host)
		return r != nil && strings.Contains(r.Expression, devstack.ProbeEgress)
	})
	eventually(t, time.Minute, "the drift issue closed", func() bool {
		is, _, err := stack.GitHubAs("bob").Issues.Get(context.Background(), devstack.SampleOwner, devstack.SampleRepo, n)
		return err == nil && is.GetState() == "closed"
	})
	if !hasReply(t, n, "@bob: reconcile started") {
		t.Error("no answer to bob's /reconcile")
	}
	var result, closing bool
	for _, c := range botComments(t, n) {
		result = result || strings.Contains(c.GetBody(), "Reconcile asked by @bob")
		closing = closing || strings.Contains(c.GetBody(), "No drift any more")
	}
	if !result || !closing {
		t.Errorf("the issue must carry the reconcile's result (%v) and the closing comment (%v)", result, closing)
	}
}

// deleteInDashboard deletes host's allowlist rule through the Cloudflare API, as someone in the
// dashboard would: the instance is open to everyone.
func deleteInDashboard(t *testing.T, api *cloudflare.API, host, outside string) {
	t.Helper()
	ctx := context.Background()
	zoneID, rulesetID, rule := allowlistRule(t, api, host)
	// Raw HTTP: the API answers the delete with the updated ruleset, which cloudflare-go's
	// DeleteRulesetRule (expecting an empty 204) takes for an error; the activities call it raw too.
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, stack.Cloud().CloudflareAPIURL+"/zones/"+zoneID+"/rulesets/"+rulesetID+"/rules/"+rule.ID, nil)
	req.Header.Set("Authorization", "Bearer dashboard-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deleting the rule in the dashboard: %s", resp.Status)
	}
	if code, _ := visitFrom(t, host, "/sign-in", outside); code == http.StatusForbidden {
		t.Fatal("the rule is deleted, but the simulator still blocks")
	}
}

// TestAllowlistDriftReportedAndReconciled: an instance whose config.yaml has an allowlist but
// Cloudflare no rule is reported on the drift issue by one check of the Schedule; a /reconcile
// from outside the approver team is refused, and one from the team makes the rule and closes the
// issue. Then the rule is deleted in the dashboard: the next check reports it again, and
// /reconcile restores it; deleted once more, `mi reconcile` restores it.
func TestAllowlistDriftReportedAndReconciled(t *testing.T) {
	tc := temporalClient(t)
	ctx := context.Background()
	const slug, outside = "e2e-drift", "198.51.100.200"
	host := spec.DefaultDomain(slug)
	simJSON(t, http.MethodPost, "/_sim/fleet", strings.NewReader(`{"instances":[{"slug":"`+slug+`","version":"`+devstack.LatestVersion+`","ipAllowlist":["203.0.113.0/24"]}]}`), nil)
	api := simCloudflare(t)

	issue := checkDrift(t, tc, host, "allowlist rule missing")
	if !strings.Contains(issue.GetBody(), "`"+slug+"`") || !strings.Contains(issue.GetBody(), "`/reconcile`") || issue.GetTitle() != workflows.DriftIssueTitle {
		t.Fatalf("drift issue %q:\n%s", issue.GetTitle(), issue.GetBody())
	}
	n := issue.GetNumber()
	// alice is not on the approver team.
	say(t, "alice", n, "/reconcile")
	eventually(t, 30*time.Second, "the refusal to alice", func() bool { return hasReply(t, n, "@alice: only members of") })
	if _, _, r := allowlistRule(t, api, host); r != nil {
		t.Fatal("a refused /reconcile made the rule")
	}
	reconcile(t, api, n, host)
	if code, _ := visitFrom(t, host, "/sign-in", outside); code != http.StatusForbidden {
		t.Fatalf("after the reconcile, from %s outside the allowlist: %d, want 403", outside, code)
	}

	deleteInDashboard(t, api, host, outside)
	again := checkDrift(t, tc, host, "allowlist rule missing")
	reconcile(t, api, again.GetNumber(), host)
	if code, _ := visitFrom(t, host, "/sign-in", outside); code != http.StatusForbidden {
		t.Fatalf("after the second reconcile, from %s outside the allowlist: %d, want 403", outside, code)
	}

	// On-call, without the issue: mi reconcile.
	deleteInDashboard(t, api, host, outside)
	third := checkDrift(t, tc, host, "allowlist rule missing")
	out := miOK(t, "reconcile")
	// Other tests' instances on the shared stack may drift too (a create parked before its
	// Cloudflare step): the reconcile repairs them as well, so the line names ours among them.
	_, repaired, _ := strings.Cut(out, "Repaired ")
	repaired, _, _ = strings.Cut(repaired, "\n")
	if !strings.Contains(repaired, host) || !strings.Contains(out, "0 still drift; drift issue closed") {
		t.Fatalf("mi reconcile:\n%s", out)
	}
	if _, _, r := allowlistRule(t, api, host); r == nil {
		t.Fatal("mi reconcile did not put the rule back")
	}
	is, _, err := stack.GitHubAs("bob").Issues.Get(ctx, devstack.SampleOwner, devstack.SampleRepo, third.GetNumber())
	if err != nil || is.GetState() != "closed" {
		t.Fatalf("after mi reconcile the drift issue is %q (%v)", is.GetState(), err)
	}
	var said bool
	for _, c := range botComments(t, third.GetNumber()) {
		said = said || strings.Contains(c.GetBody(), "Reconcile asked by @carol (`mi reconcile`)")
	}
	if !said {
		t.Error("the closing comment must say who reconciled with mi")
	}
}
