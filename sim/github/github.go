// Package github simulates GitHub's REST API v3 the way github.com/google/go-github/v55 speaks it,
// served under the GitHub Enterprise prefix /api/v3/ so that
//
//	github.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(simURL+"/", simURL+"/")
//
// (BaseURL simURL/api/v3/) talks to it without knowing. It keeps real state: repositories with
// issues, labels, comments, pull requests, releases and a small content-addressed git store (blobs,
// trees and commits hashed exactly like git, branches pointing at commits), and it acts as GitHub
// towards the service: signed webhook deliveries for issue and comment events.
//
// # Endpoints (all under /api/v3) and fault-rule method names
//
// Fault rules use API "github" and these method names:
//
//	repos.get             GET    /repos/{o}/{r}
//	repos.edit            PATCH  /repos/{o}/{r}                   delete_branch_on_merge only
//	branches.list|get     GET    /repos/{o}/{r}/branches[/{branch}]
//	issues.create         POST   /repos/{o}/{r}/issues
//	issues.list           GET    /repos/{o}/{r}/issues            state, labels, creator, sort, direction, page, per_page
//	issues.get|edit       GET|PATCH /repos/{o}/{r}/issues/{n}      title, body, state, state_reason, labels, assignees
//	labels.list-for-issue GET    /repos/{o}/{r}/issues/{n}/labels
//	labels.add            POST   /repos/{o}/{r}/issues/{n}/labels  ["a","b"] or {"labels":[...]}
//	labels.replace        PUT    /repos/{o}/{r}/issues/{n}/labels
//	labels.remove         DELETE /repos/{o}/{r}/issues/{n}/labels/{name}
//	labels.remove-all     DELETE /repos/{o}/{r}/issues/{n}/labels
//	labels.create|list|get POST|GET /repos/{o}/{r}/labels[/{name}]
//	comments.create|list  POST|GET /repos/{o}/{r}/issues/{n}/comments
//	comments.get|edit|delete GET|PATCH|DELETE /repos/{o}/{r}/issues/comments/{id}
//	contents.get|put|delete GET|PUT|DELETE /repos/{o}/{r}/contents/{path}   (?ref=, body branch/sha)
//	git.get-ref           GET    /repos/{o}/{r}/git/ref/{ref}       e.g. heads/main
//	git.list-refs         GET    /repos/{o}/{r}/git/matching-refs/{prefix}
//	git.create-ref        POST   /repos/{o}/{r}/git/refs
//	git.update-ref        PATCH  /repos/{o}/{r}/git/refs/{ref}      force=false must fast-forward
//	git.delete-ref        DELETE /repos/{o}/{r}/git/refs/{ref}
//	git.get-commit|create-commit GET|POST /repos/{o}/{r}/git/commits[/{sha}]
//	git.get-tree|create-tree     GET|POST /repos/{o}/{r}/git/trees[/{sha}]  ?recursive=1
//	git.get-blob|create-blob     GET|POST /repos/{o}/{r}/git/blobs[/{sha}]
//	pulls.create|list     POST|GET /repos/{o}/{r}/pulls             list: state, head=owner:branch, base
//	pulls.get|edit        GET|PATCH /repos/{o}/{r}/pulls/{n}
//	pulls.merge           PUT    /repos/{o}/{r}/pulls/{n}/merge     merge_method merge|squash|rebase, sha
//	pulls.is-merged       GET    /repos/{o}/{r}/pulls/{n}/merge
//	reviews.create|list   POST|GET /repos/{o}/{r}/pulls/{n}/reviews  event APPROVE|REQUEST_CHANGES|COMMENT
//	protection.get|put|delete GET|PUT|DELETE /repos/{o}/{r}/branches/{b}/protection  required checks and reviews
//	statuses.create       POST   /repos/{o}/{r}/statuses/{sha}
//	statuses.combined     GET    /repos/{o}/{r}/commits/{ref}/status
//	checks.list-for-ref   GET    /repos/{o}/{r}/commits/{ref}/check-runs  check_name, status, app_id, filter latest|all, page, per_page
//	releases.create|list  POST|GET /repos/{o}/{r}/releases
//	releases.get|latest|get-by-tag GET /repos/{o}/{r}/releases/{id}|latest|tags/{tag}
//	hooks.create|list|delete POST|GET|DELETE /repos/{o}/{r}/hooks[/{id}]
//	hooks.list-deliveries GET    /repos/{o}/{r}/hooks/{id}/deliveries  per_page, cursor (Link rel="next"); newest first, 3 days
//	hooks.get-delivery    GET    /repos/{o}/{r}/hooks/{id}/deliveries/{delivery_id}  with request and response
//	hooks.redeliver       POST   /repos/{o}/{r}/hooks/{id}/deliveries/{delivery_id}/attempts  202; same GUID, redelivery true
//	org-hooks.list-deliveries|get-delivery|redeliver  the same under /orgs/{org}/hooks/{id}/deliveries
//	teams.get-membership  GET    /orgs/{org}/teams/{slug}/memberships/{user}   200 active member or 404
//	teams.list-members    GET    /orgs/{org}/teams/{slug}/members
//	orgs.is-member        GET    /orgs/{org}/members/{user}          204 or 404
//	users.get-authenticated|get GET /user, /users/{user}
//	rate-limit.get        GET    /rate_limit
//	unknown               any other path under /api/v3: 404 Not Found
//
// Every response carries X-RateLimit-Limit/Remaining/Used/Reset/Resource (counted per user per
// hour; at 0 go-github stops sending until the reset). Options.Secondary enforces GitHub's
// secondary limits on content-creating requests (POST, PATCH, PUT, DELETE) per user: past a cap
// the answer is 403 or 429 {"message":"You have exceeded a secondary rate limit. …",
// "documentation_url":"…#about-secondary-rate-limits"}, with or without Retry-After. Requests need "Authorization: Bearer <token>" or "token <token>" of a
// known user: 401 {"message":"Requires authentication"} without one, {"message":"Bad credentials"}
// with an unknown one. Errors are GitHub's: 404 {"message":"Not Found"}, 422 Validation Failed
// with errors[{resource,code,field}], 409 on a contents sha mismatch, 405 on an unmergeable pull
// request, or with GitHub's message ("At least 1 approving review is required by reviewers with
// write access.", "Required status check \"ctx\" is expected.") when the base branch's protection
// is not satisfied. Injected faults render as {"message":...}; a 403 or 429 also gets
// X-RateLimit-Remaining: 0 and a Reset at Retry-After (at least one second away), so go-github v55
// reports a 403 as *github.RateLimitError. A fault message containing "secondary rate limit" is
// rendered as a secondary limit instead (remaining left alone, secondary documentation_url).
//
// # Users and repositories
//
// DefaultUsers are seeded on start and on reset: sg-cloud-bot (token bot-token), alice
// (alice-token, team sourcegraph/ce), bob (bob-token, sourcegraph/cloud and sourcegraph/ce), carol
// (carol-token, sourcegraph/cloud) and mallory (mallory-token, no teams). There is no permission
// model beyond authentication: every user may write every repository.
//
// Repositories are created on first use (any request naming them) with a default branch "main"
// holding an empty initial commit, unless Options.StrictRepos is set, in which case only seeded or
// admin-created repositories exist and the others are 404. Issue and pull request numbers share
// one sequence per repository, and the issues list includes pull requests, as on GitHub.
//
// # Acting as GitHub
//
// Issue events (opened, edited, closed, reopened, labeled and unlabeled — one delivery per label)
// and issue_comment events (created, edited, deleted) are POSTed to sim.Config.WebhookURL and to
// repository hooks subscribed to the event, with GitHub's headers (X-GitHub-Event,
// X-GitHub-Delivery, X-Hub-Signature-256 HMAC of the body with the secret, User-Agent
// GitHub-Hookshot/...) and payload shape (action, issue, comment, label, changes, repository,
// sender). Pull requests raise no pull_request events. Deliveries run in the background, in order
// per repository, one attempt each, as GitHub: a connection error, a non-2xx answer or no answer
// within Options.WebhookTimeout (10 s) is recorded as failed and never retried by itself. The
// configured webhook is hook 1 of every repository (and organisation) in the deliveries API,
// which lists, shows and redelivers them (a redelivery keeps the GUID, redelivery: true).
//
// Whenever a file changes on a repository's default branch (contents PUT/DELETE, a ref update of
// the default branch, a merged pull request) the part calls sim.ConfigChanged for each changed path.
//
// # Admin API (JSON, no authentication)
//
//	GET  /_sim/github/users                       users with tokens and teams
//	POST /_sim/github/users                       {"login","token","teams":["org/slug"],"name"}  add or replace
//	GET  /_sim/github/writes                      content-creating requests per user: {"login":{"writes","refused"}}
//	GET  /_sim/github/repos                       repository names with default-branch files
//	POST /_sim/github/repos                       {"full_name","default_branch","files":{"path":"content"}}
//	POST /_sim/github/releases                    {"repo","tag_name","name","body","prerelease","draft"}
//	GET  /_sim/github/deliveries                  ?repo=&event=&status= delivery log (no payloads)
//	GET  /_sim/github/deliveries/{id}             one delivery with its payload and headers
//	POST /_sim/github/deliveries/{id}/redeliver   deliver again (same GUID, redelivery: true)
//
// # Ledger keys (API "github")
//
// repos/o/r/issues/N (created; mutated on edit, state and label changes), repos/o/r/issues/N/labels/L,
// repos/o/r/issues/comments/ID, repos/o/r/labels/L, repos/o/r/pulls/N (mutated on edit and merge),
// repos/o/r/branches/B (mutated when it moves), repos/o/r/contents/PATH (as files land on the
// default branch), repos/o/r/releases/TAG.
package github

import (
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/sourcegraph/lifecycle/sim"
)

// Options configure what the part is seeded with (on start and on every reset) and how it delivers
// webhooks. New uses DefaultOptions.
type Options struct {
	// Users are the accounts with tokens and team memberships.
	Users []User
	// Repos are created up front: "owner/name" → files on the default branch (may be nil). They
	// are committed on the simulator's first Lock after start or reset, once every part exists, so
	// ConfigWatchers (the instances) see the files.
	Repos map[string]map[string]string
	// Releases are created in order (so the last is the latest).
	Releases []Release
	// StrictRepos makes unknown repositories 404 instead of creating them on first use.
	StrictRepos bool
	// WebhookTimeout is how long a delivery waits for the receiver's answer before it is recorded
	// as failed ("timed out"); GitHub's is 10 s (the default). Each delivery is one attempt.
	WebhookTimeout time.Duration
	// FirstIssueNumber is the number of the first issue or pull request in each new repository
	// (default 1). A local stack whose Temporal history outlives the simulator sets it higher,
	// like a real repository with history, so issue numbers (and the workflow IDs derived from
	// them) never repeat across restarts.
	FirstIssueNumber int64
	// RateLimit is an authenticated user's requests per hour (default 5,000, github.com's for a
	// token; a GitHub App on Enterprise Cloud gets 15,000). Past it the responses say so and
	// go-github stops sending until the reset, as with GitHub.
	RateLimit int
	// Secondary are GitHub's limits on content-creating requests (the zero value: none). GitHub
	// allows DefaultWritesPerMinute and DefaultWritesPerHour; the local, end-to-end and chaos
	// stacks leave them off because the service does not budget its writes yet.
	Secondary SecondaryLimits
	// TimeScale shrinks every rate-limit window (the primary hour, the secondary minute and hour)
	// by this factor, so a benchmark runs hours of GitHub time in minutes (0 or 1: real time).
	TimeScale float64
	// CIDelay is how long the simulated CI takes to report the required status checks of a
	// protected branch on a pull request's head (pending at once, success after the delay, scaled
	// by TimeScale); 0 reports success at once, a negative delay never reports. A required check
	// pinned to an app (app_id) is reported as that app's check run, any other as a commit status.
	CIDelay time.Duration
}

// DefaultWebhookTimeout is how long GitHub waits for a webhook receiver's answer: "if your server
// is down or takes longer than 10 seconds to respond, GitHub will record the delivery as a
// failure" (docs.github.com, Handling failed webhook deliveries).
const DefaultWebhookTimeout = 10 * time.Second

// User is a GitHub account the simulator knows.
type User struct {
	Login string   `json:"login"`
	Token string   `json:"token"`
	Teams []string `json:"teams,omitempty"` // "org/team-slug"
	Name  string   `json:"name,omitempty"`
}

// Release is a release to seed: a tag on a repository.
type Release struct {
	Repo       string `json:"repo"` // owner/name
	Tag        string `json:"tag_name"`
	Name       string `json:"name,omitempty"`
	Body       string `json:"body,omitempty"`
	Prerelease bool   `json:"prerelease,omitempty"`
	Draft      bool   `json:"draft,omitempty"`
}

// DefaultUsers are the accounts the simulator starts with.
func DefaultUsers() []User {
	return []User{
		{Login: "sg-cloud-bot", Token: "bot-token", Name: "Sourcegraph Cloud bot"},
		{Login: "alice", Token: "alice-token", Teams: []string{"sourcegraph/ce"}, Name: "Alice (customer engineer)"},
		{Login: "bob", Token: "bob-token", Teams: []string{"sourcegraph/cloud", "sourcegraph/ce"}, Name: "Bob (cloud and CE)"},
		{Login: "carol", Token: "carol-token", Teams: []string{"sourcegraph/cloud"}, Name: "Carol (cloud)"},
		{Login: "mallory", Token: "mallory-token", Name: "Mallory (no teams)"},
	}
}

// DefaultReleases are the Sourcegraph releases the simulator starts with, oldest first.
func DefaultReleases() []Release {
	return []Release{
		{Repo: "sourcegraph/sourcegraph", Tag: "v5.8.0", Name: "Sourcegraph 5.8.0"},
		{Repo: "sourcegraph/sourcegraph", Tag: "v5.9.0", Name: "Sourcegraph 5.9.0"},
		{Repo: "sourcegraph/sourcegraph", Tag: "v5.10.0", Name: "Sourcegraph 5.10.0"},
	}
}

// DefaultOptions seeds DefaultUsers and DefaultReleases.
func DefaultOptions() Options {
	return Options{Users: DefaultUsers(), Releases: DefaultReleases()}
}

// New is the sim.PartFactory for GitHub with DefaultOptions.
func New(s *sim.Sim) sim.Part { return WithOptions(DefaultOptions())(s) }

// WithOptions returns a sim.PartFactory for GitHub seeded with o.
func WithOptions(o Options) sim.PartFactory {
	if o.WebhookTimeout <= 0 {
		o.WebhookTimeout = DefaultWebhookTimeout
	}
	return func(s *sim.Sim) sim.Part {
		p := &Part{s: s, opts: o, client: &http.Client{Timeout: o.WebhookTimeout}}
		p.Reset()
		return p
	}
}

// Part is the simulated GitHub. All state is guarded by the simulator lock.
type Part struct {
	s      *sim.Sim
	opts   Options
	client *http.Client // webhook deliveries

	users  map[string]*user // by lower-case login
	tokens map[string]*user
	repos  map[string]*repo // by lower-case "owner/name"
	rate   map[string]*rateWindow
	writes map[string]*writeWindows // secondary limits, by lower-case login

	deliveries []*delivery // every delivery ever queued, oldest first
	queues     map[string]*deliveryQueue

	admin http.Handler // /_sim/github/, built once by Routes
}

func (p *Part) Name() string      { return "github" }
func (p *Part) GRPC(*grpc.Server) {}

// Reset drops all state and seeds the options again. Lock held (or not yet shared).
func (p *Part) Reset() {
	for _, q := range p.queues {
		q.pending = nil // a delivery in flight finishes; the rest of the old queue is dropped
	}
	p.users = map[string]*user{}
	p.tokens = map[string]*user{}
	p.repos = map[string]*repo{}
	p.rate = map[string]*rateWindow{}
	p.writes = map[string]*writeWindows{}
	p.deliveries = nil
	p.queues = map[string]*deliveryQueue{}
	for _, u := range p.opts.Users {
		p.addUser(u)
	}
	// Seeded files reach the other parts through sim.ConfigChanged, so seed once every part exists
	// and has been reset: the scheduler runs this on the next Lock, before anything else.
	p.s.After(0, p.seed)
}

// seed creates the configured repositories and releases. Lock held.
func (p *Part) seed() {
	for _, name := range sim.SortedKeys(p.opts.Repos) {
		if _, err := p.createRepo(name, "", p.opts.Repos[name]); err != nil {
			p.s.Logger().Warn("github: cannot seed repository", "repo", name, "err", err)
		}
	}
	for _, rel := range p.opts.Releases {
		if _, err := p.addRelease(rel, nil); err != nil {
			p.s.Logger().Warn("github: cannot seed release", "repo", rel.Repo, "tag", rel.Tag, "err", err)
		}
	}
}

// Routes registers the REST API and the admin API.
func (p *Part) Routes(rt *sim.Routes) {
	rt.ErrorWriter(p.writeFault)
	const R = "/api/v3/repos/{owner}/{repo}"
	routes := []struct {
		method, pattern string
		h               handler
	}{
		{"repos.get", "GET " + R, p.getRepo},
		{"repos.edit", "PATCH " + R, p.editRepo},
		{"branches.list", "GET " + R + "/branches", p.listBranches},
		{"branches.get", "GET " + R + "/branches/{branch...}", p.getBranch},

		{"issues.create", "POST " + R + "/issues", p.createIssue},
		{"issues.list", "GET " + R + "/issues", p.listIssues},
		{"issues.get", "GET " + R + "/issues/{number}", p.getIssue},
		{"issues.edit", "PATCH " + R + "/issues/{number}", p.editIssue},
		{"labels.list-for-issue", "GET " + R + "/issues/{number}/labels", p.listIssueLabels},
		{"labels.add", "POST " + R + "/issues/{number}/labels", p.addIssueLabels},
		{"labels.replace", "PUT " + R + "/issues/{number}/labels", p.replaceIssueLabels},
		{"labels.remove-all", "DELETE " + R + "/issues/{number}/labels", p.removeAllIssueLabels},
		{"labels.remove", "DELETE " + R + "/issues/{number}/labels/{name}", p.removeIssueLabel},
		{"labels.create", "POST " + R + "/labels", p.createLabel},
		{"labels.list", "GET " + R + "/labels", p.listLabels},
		{"labels.get", "GET " + R + "/labels/{name}", p.getLabel},

		{"comments.create", "POST " + R + "/issues/{number}/comments", p.createComment},
		{"comments.list", "GET " + R + "/issues/{number}/comments", p.listComments},
		{"comments.get", "GET " + commentPrefix + R + "/issues/comments/{id}", p.getComment},
		{"comments.edit", "PATCH " + commentPrefix + R + "/issues/comments/{id}", p.editComment},
		{"comments.delete", "DELETE " + commentPrefix + R + "/issues/comments/{id}", p.deleteComment},

		{"contents.get", "GET " + R + "/contents/{path...}", p.getContents},
		{"contents.put", "PUT " + R + "/contents/{path...}", p.putContents},
		{"contents.delete", "DELETE " + R + "/contents/{path...}", p.deleteContents},

		{"git.get-ref", "GET " + R + "/git/ref/{ref...}", p.getRef},
		{"git.list-refs", "GET " + R + "/git/matching-refs/{ref...}", p.listRefs},
		{"git.create-ref", "POST " + R + "/git/refs", p.createRef},
		{"git.update-ref", "PATCH " + R + "/git/refs/{ref...}", p.updateRef},
		{"git.delete-ref", "DELETE " + R + "/git/refs/{ref...}", p.deleteRef},
		{"git.get-commit", "GET " + R + "/git/commits/{sha}", p.getCommit},
		{"git.create-commit", "POST " + R + "/git/commits", p.createCommit},
		{"git.get-tree", "GET " + R + "/git/trees/{sha...}", p.getTree},
		{"git.create-tree", "POST " + R + "/git/trees", p.createTree},
		{"git.get-blob", "GET " + R + "/git/blobs/{sha}", p.getBlob},
		{"git.create-blob", "POST " + R + "/git/blobs", p.createBlob},

		{"pulls.create", "POST " + R + "/pulls", p.createPull},
		{"pulls.list", "GET " + R + "/pulls", p.listPulls},
		{"pulls.get", "GET " + R + "/pulls/{number}", p.getPull},
		{"pulls.edit", "PATCH " + R + "/pulls/{number}", p.editPull},
		{"pulls.merge", "PUT " + R + "/pulls/{number}/merge", p.mergePull},
		{"pulls.is-merged", "GET " + R + "/pulls/{number}/merge", p.isMerged},
		{"reviews.create", "POST " + R + "/pulls/{number}/reviews", p.createReview},
		{"reviews.list", "GET " + R + "/pulls/{number}/reviews", p.listReviews},

		{"protection.get", "GET " + R + "/branches/{branch}/protection", p.getProtection},
		{"protection.put", "PUT " + R + "/branches/{branch}/protection", p.putProtection},
		{"protection.delete", "DELETE " + R + "/branches/{branch}/protection", p.deleteProtection},
		{"statuses.create", "POST " + R + "/statuses/{sha}", p.createStatus},
		{"statuses.combined", "GET " + R + "/commits/{ref}/status", p.combinedStatus},
		{"checks.list-for-ref", "GET " + R + "/commits/{ref}/check-runs", p.listCheckRuns},

		{"releases.create", "POST " + R + "/releases", p.createRelease},
		{"releases.list", "GET " + R + "/releases", p.listReleases},
		{"releases.latest", "GET " + R + "/releases/latest", p.latestRelease},
		{"releases.get-by-tag", "GET " + R + "/releases/tags/{tag...}", p.getReleaseByTag},
		{"releases.get", "GET " + R + "/releases/{id}", p.getRelease},

		{"hooks.create", "POST " + R + "/hooks", p.createHook},
		{"hooks.list", "GET " + R + "/hooks", p.listHooks},
		{"hooks.delete", "DELETE " + R + "/hooks/{id}", p.deleteHook},
		{"hooks.list-deliveries", "GET " + R + "/hooks/{hook_id}/deliveries", p.listDeliveries},
		{"hooks.get-delivery", "GET " + R + "/hooks/{hook_id}/deliveries/{delivery_id}", p.getDelivery},
		{"hooks.redeliver", "POST " + R + "/hooks/{hook_id}/deliveries/{delivery_id}/attempts", p.redeliverDelivery},
		{"org-hooks.list-deliveries", "GET /api/v3/orgs/{org}/hooks/{hook_id}/deliveries", p.listDeliveries},
		{"org-hooks.get-delivery", "GET /api/v3/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}", p.getDelivery},
		{"org-hooks.redeliver", "POST /api/v3/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts", p.redeliverDelivery},

		{"teams.get-membership", "GET /api/v3/orgs/{org}/teams/{team}/memberships/{username}", p.getTeamMembership},
		{"teams.list-members", "GET /api/v3/orgs/{org}/teams/{team}/members", p.listTeamMembers},
		{"orgs.is-member", "GET /api/v3/orgs/{org}/members/{username}", p.isOrgMember},
		{"users.get-authenticated", "GET /api/v3/user", p.getAuthenticatedUser},
		{"users.get", "GET /api/v3/users/{username}", p.getUser},
		{"rate-limit.get", "GET /api/v3/rate_limit", p.getRateLimit},
	}
	for _, r := range routes {
		p.route(rt, r.method, r.pattern, r.h)
	}
	// Anything else under /api/v3 answers like GitHub does for an unknown route.
	rt.Handle("unknown", "/api/v3/", func(w http.ResponseWriter, r *http.Request) {
		p.respond(w, r, func(c *call) (int, any) { return notFound() })
	})
	p.adminRoutes()
}

// Snapshot is a trimmed, JSON-able view of every repository and the delivery log. Lock held.
func (p *Part) Snapshot() any {
	repos := map[string]any{}
	for _, k := range sim.SortedKeys(p.repos) {
		rp := p.repos[k]
		repos[rp.fullName()] = rp.snapshot()
	}
	users := make([]string, 0, len(p.users))
	for _, k := range sim.SortedKeys(p.users) {
		users = append(users, p.users[k].Login)
	}
	return map[string]any{
		"repos":      repos,
		"users":      users,
		"deliveries": p.deliverySummary(),
	}
}

// trim shortens s for snapshots so a state dump stays readable.
func trim(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
