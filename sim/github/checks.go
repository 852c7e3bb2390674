package github

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Check runs (https://docs.github.com/en/rest/checks/runs): what GitHub Apps, GitHub Actions
// among them, report on a commit instead of commit statuses. Only apps create them on GitHub, so
// here only the simulated CI (runCI) and tests in Go (ReportCheckRun) do; clients list them.

// GitHubActionsAppID is the app ID of GitHub Actions: a required check pinned to it
// (required_status_checks.checks[].app_id) is reported by the simulated CI as a check run.
const GitHubActionsAppID int64 = 15368

// app is the GitHub App a check run belongs to.
type app struct {
	id         int64
	slug, name string
}

func appFor(id int64) app {
	if id == GitHubActionsAppID {
		return app{id: id, slug: "github-actions", name: "GitHub Actions"}
	}
	return app{id: id, slug: fmt.Sprintf("sim-ci-%d", id), name: "Simulated CI"}
}

// checkRun is one check run on a commit.
type checkRun struct {
	id                 int64
	name, headSHA      string
	status, conclusion string // status queued|in_progress|completed; conclusion set once completed
	app                app
	suiteID            int64
	started, completed time.Time
	title              string
}

var (
	checkStatuses    = []string{"queued", "in_progress", "completed"}
	checkConclusions = []string{"action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out"}
)

// passes reports whether a completed check run satisfies a required check: success, and also
// neutral and skipped, which GitHub does not count as failures.
func (cr *checkRun) passes() bool {
	return cr.status == "completed" && slices.Contains([]string{"success", "neutral", "skipped"}, cr.conclusion)
}

// addCheckRun records a check run on sha. Lock held.
func (p *Part) addCheckRun(rp *repo, sha, name, status, conclusion, title string, a app) *checkRun {
	now := p.s.Now()
	cr := &checkRun{id: p.s.NextID(), name: name, headSHA: sha, status: status, app: a, suiteID: p.s.NextID(), started: now, title: title}
	if status == "completed" {
		cr.conclusion, cr.completed = conclusion, now
	}
	if rp.checkRuns == nil {
		rp.checkRuns = map[string][]*checkRun{}
	}
	rp.checkRuns[sha] = append(rp.checkRuns[sha], cr)
	return cr
}

// complete ends a check run with a conclusion. Lock held.
func (p *Part) complete(cr *checkRun, conclusion, title string) {
	cr.status, cr.conclusion, cr.completed, cr.title = "completed", conclusion, p.s.Now(), title
}

// CheckRun is a check run a test reports as a GitHub App would (on GitHub only apps can).
type CheckRun struct {
	Name       string
	Status     string // queued, in_progress or completed
	Conclusion string // when completed: success, failure, neutral, cancelled, skipped, timed_out, …
	AppID      int64  // 0: GitHubActionsAppID
}

// ReportCheckRun records a check run on a commit of repo ("owner/name").
func (p *Part) ReportCheckRun(repo, sha string, run CheckRun) error {
	defer p.s.Lock()()
	rp := p.repos[strings.ToLower(repo)]
	switch {
	case rp == nil:
		return fmt.Errorf("no repository %s", repo)
	case rp.commits[sha] == nil:
		return fmt.Errorf("no commit %s in %s", sha, repo)
	case !slices.Contains(checkStatuses, run.Status):
		return fmt.Errorf("status %q: want one of %v", run.Status, checkStatuses)
	case run.Status == "completed" && !slices.Contains(checkConclusions, run.Conclusion):
		return fmt.Errorf("conclusion %q: want one of %v", run.Conclusion, checkConclusions)
	}
	if run.AppID == 0 {
		run.AppID = GitHubActionsAppID
	}
	p.addCheckRun(rp, sha, run.Name, run.Status, run.Conclusion, "", appFor(run.AppID))
	return nil
}

// latestCheckRuns is the newest check run per app and name on sha, in the order they first
// reported (the list's default filter=latest).
func (rp *repo) latestCheckRuns(sha string) []*checkRun {
	type key struct {
		app  int64
		name string
	}
	var order []key
	latest := map[key]*checkRun{}
	for _, cr := range rp.checkRuns[sha] {
		k := key{cr.app.id, cr.name}
		if latest[k] == nil {
			order = append(order, k)
		}
		latest[k] = cr
	}
	out := make([]*checkRun, 0, len(order))
	for _, k := range order {
		out = append(out, latest[k])
	}
	return out
}

// listCheckRuns is GET /repos/{o}/{r}/commits/{ref}/check-runs (a SHA or a branch name):
// {total_count, check_runs}, filtered by check_name, status, app_id and filter (latest, the
// default, or all), paginated.
func (p *Part) listCheckRuns(c *call) (int, any) {
	sha, bad := c.commitOfRef("CheckRun")
	if bad != nil {
		return 422, bad
	}
	q := c.r.URL.Query()
	runs := c.repo.latestCheckRuns(sha)
	switch q.Get("filter") {
	case "", "latest":
	case "all":
		runs = c.repo.checkRuns[sha]
	default:
		return invalid(fieldError{Resource: "CheckRun", Code: "invalid", Field: "filter"})
	}
	if st := q.Get("status"); st != "" && !slices.Contains(checkStatuses, st) {
		return invalid(fieldError{Resource: "CheckRun", Code: "invalid", Field: "status"})
	}
	var kept []*checkRun
	for _, cr := range runs {
		if name := q.Get("check_name"); name != "" && cr.name != name {
			continue
		}
		if st := q.Get("status"); st != "" && cr.status != st {
			continue
		}
		if id := q.Get("app_id"); id != "" && id != strconv.FormatInt(cr.app.id, 10) {
			continue
		}
		kept = append(kept, cr)
	}
	list := []map[string]any{}
	for _, cr := range paginate(c, kept) {
		list = append(list, c.checkRunJSON(cr))
	}
	return 200, map[string]any{"total_count": len(kept), "check_runs": list}
}

func (c *call) checkRunJSON(cr *checkRun) map[string]any {
	url := fmt.Sprintf("%s/repos/%s/check-runs/%d", c.api, c.repo.fullName(), cr.id)
	html := fmt.Sprintf("%s/%s/runs/%d", c.web, c.repo.fullName(), cr.id)
	var conclusion, completed any
	if cr.status == "completed" {
		conclusion, completed = cr.conclusion, ts(cr.completed)
	}
	return map[string]any{
		"id": cr.id, "node_id": nodeID("CR", cr.id), "head_sha": cr.headSHA, "external_id": "",
		"url": url, "html_url": html, "details_url": html, "name": cr.name,
		"status": cr.status, "conclusion": conclusion, "started_at": ts(cr.started), "completed_at": completed,
		"output": map[string]any{"title": strOrNil(cr.title), "summary": strOrNil(cr.title), "text": nil,
			"annotations_count": 0, "annotations_url": url + "/annotations"},
		"check_suite":   map[string]any{"id": cr.suiteID},
		"app":           map[string]any{"id": cr.app.id, "slug": cr.app.slug, "node_id": nodeID("A", cr.app.id), "name": cr.app.name},
		"pull_requests": []any{},
	}
}
