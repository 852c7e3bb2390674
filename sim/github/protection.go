package github

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Branch protection, commit statuses (and check runs, checks.go) and pull request reviews: what
// stands between an open pull request and its merge on a protected branch
// (https://docs.github.com/en/rest/branches/branch-protection,
// https://docs.github.com/en/rest/commits/statuses, https://docs.github.com/en/rest/pulls/reviews).

// protection is a branch's protection: the status checks and approving reviews a pull request
// into it needs before it merges.
type protection struct {
	checks       []requiredCheck // required status checks
	strict       bool
	approvals    int // required approving reviews; 0: none
	reviews      bool
	dismissStale bool
	enforceAdmin bool
}

// requiredCheck is one required status check: a context (a commit status's context or a check
// run's name) and the app that must report it.
type requiredCheck struct {
	context string
	appID   *int64 // nil or -1: any source, commit statuses and check runs alike
}

// pinned reports whether only a check run of one app satisfies the check.
func (rc requiredCheck) pinned() bool { return rc.appID != nil && *rc.appID != -1 }

// status is one commit status a CI system reported.
type status struct {
	id                                  int64
	state, context, description, target string
	creator                             *user
	created                             time.Time
}

// review is one pull request review.
type review struct {
	id       int64
	user     *user
	state    string // APPROVED, CHANGES_REQUESTED, COMMENTED, PENDING
	body     string
	commitID string
	at       time.Time
}

// protectionDocs is the documentation_url GitHub sends with a merge refused by branch protection.
const protectionDocs = "https://docs.github.com/articles/about-protected-branches"

// ciLogin is the account the simulated CI reports its statuses as.
const ciLogin = "sim-ci[bot]"

func protectionKey(rp *repo, branch string) string {
	return rp.key("branches/" + branch + "/protection")
}

// putProtection is PUT /repos/{o}/{r}/branches/{b}/protection: the four top-level fields are
// required (null turns one off), as on GitHub.
func (p *Part) putProtection(c *call) (int, any) {
	branch := c.r.PathValue("branch")
	if _, ok := c.repo.refs["refs/heads/"+branch]; !ok {
		return fail(404, "Branch not found")
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(c.body, &raw) != nil {
		return badJSON()
	}
	var missing []string
	for _, k := range []string{"required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions"} {
		if _, ok := raw[k]; !ok {
			missing = append(missing, fmt.Sprintf("%q", k))
		}
	}
	if len(missing) > 0 {
		return 422, apiError{Message: "Invalid request.\n\n" + strings.Join(missing, ", ") + " weren't supplied.", DocumentationURL: docs}
	}
	var req struct {
		Checks *struct {
			Strict   bool     `json:"strict"`
			Contexts []string `json:"contexts"`
			Checks   []struct {
				Context string `json:"context"`
				AppID   *int64 `json:"app_id"`
			} `json:"checks"`
		} `json:"required_status_checks"`
		EnforceAdmins *bool `json:"enforce_admins"`
		Reviews       *struct {
			DismissStale bool `json:"dismiss_stale_reviews"`
			Count        *int `json:"required_approving_review_count"`
		} `json:"required_pull_request_reviews"`
	}
	if json.Unmarshal(c.body, &req) != nil {
		return badJSON()
	}
	pr := &protection{}
	if req.EnforceAdmins != nil {
		pr.enforceAdmin = *req.EnforceAdmins
	}
	if req.Checks != nil {
		pr.strict = req.Checks.Strict
		pr.checks = []requiredCheck{}
		for _, ctx := range req.Checks.Contexts {
			pr.checks = append(pr.checks, requiredCheck{context: ctx})
		}
		if len(req.Checks.Checks) > 0 { // GitHub uses checks when both are given
			pr.checks = nil
			for _, ch := range req.Checks.Checks {
				pr.checks = append(pr.checks, requiredCheck{context: ch.Context, appID: ch.AppID})
			}
		}
	}
	if req.Reviews != nil {
		pr.reviews, pr.dismissStale, pr.approvals = true, req.Reviews.DismissStale, 1
		if req.Reviews.Count != nil {
			if *req.Reviews.Count < 0 || *req.Reviews.Count > 6 {
				return invalid(fieldError{Resource: "ProtectedBranch", Code: "invalid", Field: "required_approving_review_count"})
			}
			pr.approvals = *req.Reviews.Count
		}
	}
	if c.repo.protection == nil {
		c.repo.protection = map[string]*protection{}
	}
	if c.repo.protection[branch] == nil {
		p.s.Created("github", protectionKey(c.repo, branch))
	} else {
		p.s.Mutated("github", protectionKey(c.repo, branch))
	}
	c.repo.protection[branch] = pr
	return 200, c.protectionJSON(c.repo, branch, pr)
}

func (p *Part) getProtection(c *call) (int, any) {
	branch := c.r.PathValue("branch")
	if _, ok := c.repo.refs["refs/heads/"+branch]; !ok {
		return fail(404, "Branch not found")
	}
	pr := c.repo.protection[branch]
	if pr == nil {
		return fail(404, "Branch not protected")
	}
	return 200, c.protectionJSON(c.repo, branch, pr)
}

func (p *Part) deleteProtection(c *call) (int, any) {
	branch := c.r.PathValue("branch")
	if c.repo.protection[branch] == nil {
		return fail(404, "Branch not protected")
	}
	delete(c.repo.protection, branch)
	p.s.Deleted("github", protectionKey(c.repo, branch))
	return 204, nil
}

func (c *call) protectionJSON(rp *repo, branch string, pr *protection) map[string]any {
	url := c.api + "/repos/" + rp.fullName() + "/branches/" + branch + "/protection"
	out := map[string]any{
		"url":            url,
		"enforce_admins": map[string]any{"url": url + "/enforce_admins", "enabled": pr.enforceAdmin},
	}
	if pr.checks != nil {
		contexts, checks := []string{}, []map[string]any{}
		for _, rc := range pr.checks {
			contexts = append(contexts, rc.context)
			checks = append(checks, map[string]any{"context": rc.context, "app_id": rc.appID})
		}
		out["required_status_checks"] = map[string]any{"url": url + "/required_status_checks", "strict": pr.strict,
			"contexts": contexts, "checks": checks, "contexts_url": url + "/required_status_checks/contexts"}
	}
	if pr.reviews {
		out["required_pull_request_reviews"] = map[string]any{"url": url + "/required_pull_request_reviews",
			"dismiss_stale_reviews": pr.dismissStale, "require_code_owner_reviews": false,
			"required_approving_review_count": pr.approvals}
	}
	return out
}

// ---- commit statuses ----

var statusStates = []string{"error", "failure", "pending", "success"}

// createStatus is POST /repos/{o}/{r}/statuses/{sha}.
func (p *Part) createStatus(c *call) (int, any) {
	var req struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if !slices.Contains(statusStates, req.State) {
		return invalid(fieldError{Resource: "Status", Code: "custom", Field: "state",
			Message: "state is not included in the list"})
	}
	sha := c.r.PathValue("sha")
	if c.repo.commits[sha] == nil {
		return invalid(fieldError{Resource: "Status", Code: "custom", Field: "sha", Message: "No commit found for SHA: " + sha})
	}
	st := p.addStatus(c.repo, sha, req.State, req.Context, req.Description, req.TargetURL, c.user)
	return 201, c.statusJSON(st)
}

// addStatus records a status ("default" context when empty). Lock held.
func (p *Part) addStatus(rp *repo, sha, state, context, description, target string, u *user) *status {
	if context == "" {
		context = "default"
	}
	st := &status{id: p.s.NextID(), state: state, context: context, description: description, target: target,
		creator: u, created: p.s.Now()}
	if rp.statuses == nil {
		rp.statuses = map[string][]*status{}
	}
	rp.statuses[sha] = append(rp.statuses[sha], st)
	return st
}

func (c *call) statusJSON(st *status) map[string]any {
	return map[string]any{
		"id": st.id, "node_id": nodeID("SC", st.id), "url": c.api + "/repos/" + c.repo.fullName() + "/statuses/" + fmt.Sprint(st.id),
		"state": st.state, "context": st.context, "description": strOrNil(st.description), "target_url": strOrNil(st.target),
		"avatar_url": nil, "creator": c.userJSON(st.creator), "created_at": ts(st.created), "updated_at": ts(st.created),
	}
}

// latestStatuses is the newest status per context of a commit, in the order the contexts first
// reported.
func (rp *repo) latestStatuses(sha string) []*status {
	var order []string
	latest := map[string]*status{}
	for _, st := range rp.statuses[sha] {
		if latest[st.context] == nil {
			order = append(order, st.context)
		}
		latest[st.context] = st
	}
	out := make([]*status, 0, len(order))
	for _, ctx := range order {
		out = append(out, latest[ctx])
	}
	return out
}

// combinedState is GitHub's combined state: failure if any context failed or errored, pending
// if there are none or any is pending, success otherwise.
func combinedState(sts []*status) string {
	state := "success"
	if len(sts) == 0 {
		state = "pending"
	}
	for _, st := range sts {
		switch st.state {
		case "error", "failure":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

// commitOfRef resolves the route's {ref} (a SHA or a branch name) to a commit, or is GitHub's
// 422 answer naming resource when there is none.
func (c *call) commitOfRef(resource string) (string, any) {
	ref := c.r.PathValue("ref")
	sha := ref
	if s, ok := c.repo.refs["refs/heads/"+ref]; ok {
		sha = s
	}
	if c.repo.commits[sha] == nil {
		_, body := invalid(fieldError{Resource: resource, Code: "custom", Message: "No commit found for SHA: " + ref})
		return "", body
	}
	return sha, nil
}

// combinedStatus is GET /repos/{o}/{r}/commits/{ref}/status (a SHA or a branch name).
func (p *Part) combinedStatus(c *call) (int, any) {
	sha, bad := c.commitOfRef("Status")
	if bad != nil {
		return 422, bad
	}
	sts := c.repo.latestStatuses(sha)
	list := []map[string]any{}
	for _, st := range sts {
		list = append(list, c.statusJSON(st))
	}
	return 200, map[string]any{
		"state": combinedState(sts), "statuses": list, "sha": sha, "total_count": len(sts),
		"repository": c.repoJSON(p, c.repo), "commit_url": c.api + "/repos/" + c.repo.fullName() + "/commits/" + sha,
		"url": c.api + "/repos/" + c.repo.fullName() + "/commits/" + sha + "/status",
	}
}

// runCI is the simulated CI of a pull request's head: the required checks of the base's
// protection report pending at once and success after Options.CIDelay (scaled by TimeScale); a
// negative delay never reports, so a test reports through the statuses API (or ReportCheckRun)
// itself. A check pinned to an app (app_id, e.g. GitHubActionsAppID) is reported as that app's
// check run, in_progress then completed, as GitHub Actions reports a job; any other as a commit
// status. Lock held.
func (p *Part) runCI(rp *repo, is *issue) {
	pr := rp.protection[is.pull.base]
	if pr == nil || len(pr.checks) == 0 || p.opts.CIDelay < 0 {
		return
	}
	sha := is.pull.headSHA
	ci := p.ciUser()
	var runs []*checkRun
	done := func() {
		for _, rc := range pr.checks {
			if !rc.pinned() {
				p.addStatus(rp, sha, "success", rc.context, "simulated CI passed", "", ci)
			}
		}
		for _, cr := range runs {
			p.complete(cr, "success", "simulated CI passed")
		}
	}
	for _, rc := range pr.checks {
		if rc.pinned() {
			runs = append(runs, p.addCheckRun(rp, sha, rc.context, "in_progress", "", "simulated CI running", appFor(*rc.appID)))
		} else {
			p.addStatus(rp, sha, "pending", rc.context, "simulated CI running", "", ci)
		}
	}
	if p.opts.CIDelay == 0 {
		done()
		return
	}
	p.s.After(p.scaled(p.opts.CIDelay), done)
}

// ciUser is the simulated CI's account (not one that can sign in). Lock held.
func (p *Part) ciUser() *user {
	if u := p.users[ciLogin]; u != nil {
		return u
	}
	return p.addUser(User{Login: ciLogin, Name: "Simulated CI"})
}

// headMoved runs CI for the open pull requests whose head branch is now at sha. Lock held.
func (p *Part) headMoved(rp *repo, branch string) {
	for _, n := range rp.numbers() {
		is := rp.issues[n]
		if is.pull != nil && is.state == "open" && is.pull.head == branch {
			rp.refresh(is)
			p.runCI(rp, is)
		}
	}
}

// ---- reviews ----

// createReview is POST /repos/{o}/{r}/pulls/{n}/reviews. An event submits the review at once;
// without one it stays PENDING.
func (p *Part) createReview(c *call) (int, any) {
	is := p.pullFor(c)
	if is == nil {
		return notFound()
	}
	var req struct {
		CommitID string `json:"commit_id"`
		Body     string `json:"body"`
		Event    string `json:"event"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	c.repo.refresh(is)
	state := ""
	switch req.Event {
	case "APPROVE":
		state = "APPROVED"
	case "REQUEST_CHANGES":
		state = "CHANGES_REQUESTED"
	case "COMMENT":
		state = "COMMENTED"
	case "":
		state = "PENDING"
	default:
		return invalid(fieldError{Resource: "PullRequestReview", Code: "invalid", Field: "event"})
	}
	if state != "APPROVED" && state != "PENDING" && strings.TrimSpace(req.Body) == "" {
		return 422, map[string]any{"message": "Unprocessable Entity", "errors": []string{"Review Comment is missing"}, "documentation_url": docs}
	}
	if state == "APPROVED" && is.user != nil && strings.EqualFold(is.user.Login, c.user.Login) {
		return 422, map[string]any{"message": "Unprocessable Entity", "errors": []string{"Can not approve your own pull request"}, "documentation_url": docs}
	}
	if is.state != "open" && state != "COMMENTED" {
		return 422, map[string]any{"message": "Unprocessable Entity", "errors": []string{"Can not " + strings.ToLower(req.Event) + " a closed pull request"}, "documentation_url": docs}
	}
	commit := req.CommitID
	if commit == "" {
		commit = is.pull.headSHA
	}
	rv := &review{id: p.s.NextID(), user: c.user, state: state, body: req.Body, commitID: commit, at: p.s.Now()}
	is.pull.reviews = append(is.pull.reviews, rv)
	p.s.Mutated("github", pullKey(c.repo, is.number))
	return 200, c.reviewJSON(c.repo, is, rv)
}

func (p *Part) listReviews(c *call) (int, any) {
	is := p.pullFor(c)
	if is == nil {
		return notFound()
	}
	out := []map[string]any{}
	for _, rv := range paginate(c, is.pull.reviews) {
		out = append(out, c.reviewJSON(c.repo, is, rv))
	}
	return 200, out
}

func (c *call) reviewJSON(rp *repo, is *issue, rv *review) map[string]any {
	pull := fmt.Sprintf("%s/%s/pull/%d", c.web, rp.fullName(), is.number)
	out := map[string]any{
		"id": rv.id, "node_id": nodeID("PRR", rv.id), "user": c.userJSON(rv.user), "body": rv.body, "state": rv.state,
		"html_url": fmt.Sprintf("%s#pullrequestreview-%d", pull, rv.id), "commit_id": rv.commitID,
		"pull_request_url":   fmt.Sprintf("%s/repos/%s/pulls/%d", c.api, rp.fullName(), is.number),
		"author_association": "MEMBER", "submitted_at": nil,
	}
	if rv.state != "PENDING" {
		out["submitted_at"] = ts(rv.at)
	}
	return out
}

// approvals counts the users whose latest submitted review approves (of the head commit, when
// stale approvals are dismissed). The author's own reviews never count.
func (is *issue) approvals(dismissStale bool) int {
	latest := map[string]*review{}
	for _, rv := range is.pull.reviews {
		if rv.state == "PENDING" || rv.state == "COMMENTED" {
			continue // a comment neither approves nor withdraws an approval
		}
		latest[strings.ToLower(rv.user.Login)] = rv
	}
	n := 0
	for _, rv := range latest {
		if rv.state == "APPROVED" && (!dismissStale || rv.commitID == is.pull.headSHA) {
			n++
		}
	}
	return n
}

// protectionBlocks is why branch protection refuses to merge is now ("" when it does not), in
// GitHub's words: reviews first, then the required status checks in their configured order.
func (rp *repo) protectionBlocks(is *issue) string {
	pr := rp.protection[is.pull.base]
	if pr == nil {
		return ""
	}
	if pr.reviews && pr.approvals > 0 && is.approvals(pr.dismissStale) < pr.approvals {
		if pr.approvals == 1 {
			return "At least 1 approving review is required by reviewers with write access."
		}
		return fmt.Sprintf("At least %d approving reviews are required by reviewers with write access.", pr.approvals)
	}
	sha := is.pull.headSHA
	statuses := map[string]*status{}
	for _, st := range rp.latestStatuses(sha) {
		statuses[st.context] = st
	}
	runs := rp.latestCheckRuns(sha)
	for _, rc := range pr.checks {
		// The newest commit status and check run of that name (the pinned app's run only, when
		// the check names one): both must pass when both exist.
		var st *status
		if !rc.pinned() {
			st = statuses[rc.context]
		}
		var run *checkRun
		for _, cr := range runs {
			if cr.name == rc.context && (!rc.pinned() || cr.app.id == *rc.appID) && (run == nil || cr.id > run.id) {
				run = cr
			}
		}
		failing := (st != nil && st.state != "success" && st.state != "pending") || (run != nil && run.status == "completed" && !run.passes())
		expected := (st == nil && run == nil) || (st != nil && st.state == "pending") || (run != nil && run.status != "completed")
		switch {
		case failing:
			return fmt.Sprintf("Required status check %q is failing.", rc.context)
		case expected:
			return fmt.Sprintf("Required status check %q is expected.", rc.context)
		}
	}
	return "" // strict (up to date with the base) is recorded but not enforced
}
