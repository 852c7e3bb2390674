package activities

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/sim"
	simgithub "github.com/sourcegraph/lifecycle/sim/github"
)

// crSeed creates the instances' configs one by one (batching off), at version 5.9.0.
func crSeed(t *testing.T, f *crFixture, slugs ...string) {
	t.Helper()
	env := activityEnv(f.cr)
	for _, s := range slugs {
		crRunChange(t, env, f.cr, ChangeConfigInput{Slug: s, Config: crConfig(s, "production", "5.9.0"), ChangeID: "create", Create: true})
	}
}

type crOut struct {
	res ChangeResult
	err error
}

// crConcurrently runs the changes at once, each as its own activity, as a worker does.
func crConcurrently(cr *ConfigRepo, ins []ChangeConfigInput) []crOut {
	out := make([]crOut, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := activityEnv(cr).ExecuteActivity(cr.ChangeInstanceConfig, in)
			if err == nil {
				err = v.Get(&out[i].res)
			}
			out[i].err = err
		}()
	}
	wg.Wait()
	return out
}

func crUpgrades(slugs []string, version string) []ChangeConfigInput {
	var ins []ChangeConfigInput
	for _, s := range slugs {
		ins = append(ins, ChangeConfigInput{Slug: s, Config: crConfig(s, "production", version), ChangeID: "upgrade-" + version + "-" + s,
			Title: s + ": upgrade to " + version, Body: "upgrade of `" + s + "`, requested in sourcegraph/customer#7.\n", Labels: []string{"mi-upgrade"}})
	}
	return ins
}

// Changes that reach the worker together share one pull request: one tree, commit, branch, pull
// request, labels and merge for all of them, each linked in its body; every change's result names
// the pull request and the blob the default branch now holds.
func TestConfigBatchOnePullRequestForConcurrentChanges(t *testing.T) {
	f := crNewFixture(t)
	slugs := []string{"acme-1", "acme-2", "acme-3", "acme-4", "acme-5"}
	crSeed(t, f, slugs...)
	f.cr.batch = &crBatcher{wait: 200 * time.Millisecond}
	gh := f.s.Part("github").(*simgithub.Part)
	writes := func() int { return gh.WriteCounts()["sg-cloud-bot"].Writes }
	before, prsBefore := writes(), crPulls(f.s)

	out := crConcurrently(f.cr, crUpgrades(slugs, "5.10.0"))
	for i, o := range out {
		if o.err != nil {
			t.Fatalf("%s: %v", slugs[i], o.err)
		}
		if !o.res.Changed || o.res.PRNumber != out[0].res.PRNumber || !strings.HasPrefix(o.res.Branch, crBatchPrefix) {
			t.Fatalf("%s: %+v, want the batch's pull request #%d", slugs[i], o.res, out[0].res.PRNumber)
		}
		rc := crRead(t, activityEnv(f.cr), f.cr, slugs[i])
		if rc.Config.Spec.SourcegraphVersion != "5.10.0" || rc.SHA != o.res.SHA {
			t.Fatalf("%s on main: %s (blob %s), result's blob %s", slugs[i], rc.Config.Spec.SourcegraphVersion, rc.SHA, o.res.SHA)
		}
	}
	if n := crPulls(f.s) - prsBefore; n != 1 {
		t.Fatalf("%d pull requests for 5 concurrent changes, want 1", n)
	}
	if n := writes() - before; n > 7 {
		t.Fatalf("%d writes for 5 changes, want at most 7 (one pull request's)", n)
	}
	pr, _, err := f.raw.PullRequests.Get(context.Background(), "sourcegraph", "cloud", out[0].res.PRNumber)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slugs {
		if !strings.Contains(pr.GetBody(), "upgrade of `"+s+"`, requested in sourcegraph/customer#7") {
			t.Fatalf("the batch's body does not link %s's request:\n%s", s, pr.GetBody())
		}
	}
	if len(pr.Labels) != 1 || pr.Labels[0].GetName() != "mi-upgrade" {
		t.Fatalf("labels %v", pr.Labels)
	}

	// A retry of one of them (its answer lost) finds the merged batch, and opens nothing.
	r := crRunChange(t, activityEnv(f.cr), f.cr, crUpgrades(slugs[2:3], "5.10.0")[0])
	if !r.Changed || r.PRNumber != out[0].res.PRNumber || crPulls(f.s)-prsBefore != 1 {
		t.Fatalf("retry: %+v, want the batch #%d and no new pull request", r, out[0].res.PRNumber)
	}
}

// One change of a batch that was overtaken (its config changed since it was read) fails alone;
// the others merge.
func TestConfigBatchAConflictFailsOnlyItsChange(t *testing.T) {
	f := crNewFixture(t)
	slugs := []string{"bolt-1", "bolt-2", "bolt-3"}
	crSeed(t, f, slugs...)
	stale := crRead(t, activityEnv(f.cr), f.cr, "bolt-2").SHA
	crRunChange(t, activityEnv(f.cr), f.cr, ChangeConfigInput{Slug: "bolt-2", Config: crConfig("bolt-2", "production", "5.9.1"), ChangeID: "by-hand"})
	f.cr.batch = &crBatcher{wait: 200 * time.Millisecond}
	ins := crUpgrades(slugs, "5.10.0")
	ins[1].BaseSHA = stale
	out := crConcurrently(f.cr, ins)
	if out[0].err != nil || out[2].err != nil || out[0].res.PRNumber != out[2].res.PRNumber {
		t.Fatalf("b1 %+v %v, b3 %+v %v: want both merged in one pull request", out[0].res, out[0].err, out[2].res, out[2].err)
	}
	appError(t, out[1].err, ErrConflict, true)
	if v := crRead(t, activityEnv(f.cr), f.cr, "bolt-2").Config.Spec.SourcegraphVersion; v != "5.9.1" {
		t.Fatalf("b2 on main is %s: the conflicting change was written", v)
	}
}

// A batch blocked by a required review parks each change with the batch's link. After the
// approval, a change re-run alone merges that pull request (it carries the others too), and the
// others' re-runs find it merged: one pull request in all.
func TestConfigBatchWaitingForAReviewIsMergedByARerun(t *testing.T) {
	f := crProtectedFixture(t, 100*time.Millisecond, &github.ProtectionRequest{
		RequiredPullRequestReviews: &github.PullRequestReviewsEnforcementRequest{RequiredApprovingReviewCount: 1}})
	slugs := []string{"cove-1", "cove-2", "cove-3"}
	f.cr.batch = &crBatcher{wait: 200 * time.Millisecond}
	var ins []ChangeConfigInput
	for _, s := range slugs {
		ins = append(ins, ChangeConfigInput{Slug: s, Config: crConfig(s, "production", "5.9.0"), ChangeID: "create", Create: true,
			Body: fmt.Sprintf("create of `%s`\n", s)})
	}
	out := crConcurrently(f.cr, ins)
	var url string
	for i, o := range out {
		ae := appError(t, o.err, ErrNeedsReview, true)
		var u string
		if ae.Details(&u) != nil || (url != "" && u != url) {
			t.Fatalf("%s: link %q, want the batch's %q", slugs[i], u, url)
		}
		url = u
	}
	prs, _, err := f.raw.PullRequests.List(context.Background(), "sourcegraph", "cloud", nil)
	if err != nil || len(prs) != 1 || prs[0].GetHTMLURL() != url {
		t.Fatalf("open pulls: %v, %v", prs, err)
	}
	if _, _, err := f.raw.PullRequests.CreateReview(context.Background(), "sourcegraph", "cloud", prs[0].GetNumber(),
		&github.PullRequestReviewRequest{Event: github.String("APPROVE")}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 0, 2} {
		r := crRunChange(t, activityEnv(f.cr), f.cr, ins[i])
		if !r.Changed || r.PRURL != url {
			t.Fatalf("%s after the approval: %+v, want the batch %s", slugs[i], r, url)
		}
	}
	if n := crPulls(f.s); n != 1 {
		t.Fatalf("%d pull requests, want the one batch", n)
	}
}

// A rollout's batch goes the moment its last change arrives: no wait for more.
func TestConfigBatchGoesOnceTheWholeGroupArrived(t *testing.T) {
	f := crNewFixture(t)
	slugs := []string{"dune-1", "dune-2", "dune-3"}
	crSeed(t, f, slugs...)
	f.cr.batch = &crBatcher{wait: 5 * time.Second}
	ins := crUpgrades(slugs, "5.10.0")
	for i := range ins {
		ins[i].Batch, ins[i].BatchSize = "upgrade-fleet/sourcegraph/customer/1/dune-1/1", len(ins)
	}
	began := time.Now()
	out := crConcurrently(f.cr, ins)
	for i, o := range out {
		if o.err != nil || o.res.PRNumber != out[0].res.PRNumber {
			t.Fatalf("%s: %+v %v", slugs[i], o.res, o.err)
		}
	}
	if took := time.Since(began); took > 4*time.Second {
		t.Fatalf("the complete batch took %s: it waited for more", took)
	}
}

// A batch whose every change stopped waiting (the activities timed out: Temporal retries them)
// stops too, as an activity's own work would; otherwise it would race their retries.
func TestConfigBatchStopsWhenAllItsChangesGaveUp(t *testing.T) {
	f := crNewFixture(t)
	crSeed(t, f, "echo-1")
	f.cr.batch = &crBatcher{wait: 50 * time.Millisecond}
	lists := addFault(t, f.s, sim.Fault{API: "github", Method: "pulls.list", Latency: sim.Duration(time.Second)})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := f.cr.ChangeInstanceConfig(ctx, crUpgrades([]string{"echo-1"}, "5.10.0")[0]); err == nil {
		t.Fatal("the change returned before its deadline although GitHub was slower")
	}
	// The slow listing has answered by now; a batch still going on would have asked for the next.
	time.Sleep(1500 * time.Millisecond)
	if n := lists(); n != 1 {
		t.Fatalf("the batch went on after its only change gave up: %d pull request listings", n)
	}
}
