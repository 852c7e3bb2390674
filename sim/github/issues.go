package github

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// issue is an issue or, with pull set, a pull request: GitHub gives both one number sequence and
// serves pull requests through the issues API too (comments, labels, title, state).
type issue struct {
	id          int64
	number      int64
	title, body string
	state       string // open, closed
	stateReason string // "", completed, not_planned, reopened
	labels      []string
	user        *user
	assignees   []*user
	comments    []*comment
	created     time.Time
	updated     time.Time
	closed      time.Time
	closedBy    *user
	pull        *pull
}

type label struct {
	id                       int64
	name, color, description string
}

// issueKey is the ledger key: issues/N, or pulls/N for a pull request.
func issueKey(rp *repo, is *issue) string {
	if is.pull != nil {
		return pullKey(rp, is.number)
	}
	return rp.key(fmt.Sprintf("issues/%d", is.number))
}

func (rp *repo) issue(c *call) *issue {
	n, ok := pathNumber(c, "number")
	if !ok {
		return nil
	}
	return rp.issues[n]
}

// ---- JSON ----

type labelJSON struct {
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	URL         string  `json:"url"`
	Name        string  `json:"name"`
	Color       string  `json:"color"`
	Default     bool    `json:"default"`
	Description *string `json:"description"`
}

func (c *call) labelJSON(rp *repo, l *label) labelJSON {
	return labelJSON{ID: l.id, NodeID: nodeID("LA", l.id), URL: c.api + "/repos/" + rp.fullName() + "/labels/" + l.name,
		Name: l.name, Color: l.color, Description: strOrNil(l.description)}
}

func (c *call) labelsJSON(rp *repo, names []string) []labelJSON {
	out := []labelJSON{}
	for _, n := range names {
		if l := rp.labels[strings.ToLower(n)]; l != nil {
			out = append(out, c.labelJSON(rp, l))
		}
	}
	return out
}

type issueJSON struct {
	ID                int64       `json:"id"`
	NodeID            string      `json:"node_id"`
	URL               string      `json:"url"`
	RepositoryURL     string      `json:"repository_url"`
	LabelsURL         string      `json:"labels_url"`
	CommentsURL       string      `json:"comments_url"`
	EventsURL         string      `json:"events_url"`
	HTMLURL           string      `json:"html_url"`
	Number            int64       `json:"number"`
	State             string      `json:"state"`
	StateReason       *string     `json:"state_reason"`
	Title             string      `json:"title"`
	Body              *string     `json:"body"`
	User              *userJSON   `json:"user"`
	Labels            []labelJSON `json:"labels"`
	Assignee          *userJSON   `json:"assignee"`
	Assignees         []*userJSON `json:"assignees"`
	Milestone         any         `json:"milestone"`
	Locked            bool        `json:"locked"`
	ActiveLockReason  *string     `json:"active_lock_reason"`
	Comments          int         `json:"comments"`
	PullRequest       any         `json:"pull_request,omitempty"`
	ClosedAt          *Time       `json:"closed_at"`
	CreatedAt         Time        `json:"created_at"`
	UpdatedAt         Time        `json:"updated_at"`
	ClosedBy          *userJSON   `json:"closed_by,omitempty"`
	AuthorAssociation string      `json:"author_association"`
}

func (c *call) issueJSON(rp *repo, is *issue) *issueJSON {
	api := c.api + "/repos/" + rp.fullName() + "/issues/" + fmt.Sprint(is.number)
	kind := "issues"
	if is.pull != nil {
		kind = "pull"
	}
	out := &issueJSON{
		ID: is.id, NodeID: nodeID("I", is.id), URL: api, RepositoryURL: c.api + "/repos/" + rp.fullName(),
		LabelsURL: api + "/labels{/name}", CommentsURL: api + "/comments", EventsURL: api + "/events",
		HTMLURL: fmt.Sprintf("%s/%s/%s/%d", c.web, rp.fullName(), kind, is.number),
		Number:  is.number, State: is.state, StateReason: strOrNil(is.stateReason), Title: is.title,
		Body: strOrNil(is.body), User: c.userJSON(is.user), Labels: c.labelsJSON(rp, is.labels),
		Assignees: []*userJSON{}, Comments: len(is.comments), ClosedAt: tsOrNil(is.closed),
		CreatedAt: ts(is.created), UpdatedAt: ts(is.updated), ClosedBy: c.userJSON(is.closedBy),
		AuthorAssociation: association(rp, is.user),
	}
	for _, a := range is.assignees {
		out.Assignees = append(out.Assignees, c.userJSON(a))
	}
	if len(is.assignees) > 0 {
		out.Assignee = out.Assignees[0]
	}
	if pr := is.pull; pr != nil {
		pulls := c.api + "/repos/" + rp.fullName() + "/pulls/" + fmt.Sprint(is.number)
		out.PullRequest = map[string]any{"url": pulls, "html_url": out.HTMLURL, "diff_url": out.HTMLURL + ".diff",
			"patch_url": out.HTMLURL + ".patch", "merged_at": tsOrNil(pr.mergedAt)}
	}
	return out
}

// association is GitHub's author_association: OWNER for the repository owner, MEMBER for a member
// of the owning organization (any of its teams), NONE otherwise.
func association(rp *repo, u *user) string {
	if u == nil {
		return "NONE"
	}
	if strings.EqualFold(u.Login, rp.owner) {
		return "OWNER"
	}
	for _, t := range u.Teams {
		if org, _, _ := strings.Cut(t, "/"); strings.EqualFold(org, rp.owner) {
			return "MEMBER"
		}
	}
	return "NONE"
}

// ---- issues ----

type issueRequest struct {
	Title       *string   `json:"title"`
	Body        *string   `json:"body"`
	State       *string   `json:"state"`
	StateReason *string   `json:"state_reason"`
	Labels      *[]any    `json:"labels"` // names, or objects with a name
	Assignee    *string   `json:"assignee"`
	Assignees   *[]string `json:"assignees"`
}

// labelNames reads GitHub's label list forms: ["a"] or [{"name":"a"}].
func labelNames(raw []any) []string {
	var out []string
	for _, v := range raw {
		switch l := v.(type) {
		case string:
			out = append(out, l)
		case map[string]any:
			if n, ok := l["name"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func (p *Part) assignees(req issueRequest) []*user {
	var logins []string
	if req.Assignee != nil && *req.Assignee != "" {
		logins = append(logins, *req.Assignee)
	}
	if req.Assignees != nil {
		logins = append(logins, *req.Assignees...)
	}
	var out []*user
	seen := map[*user]bool{}
	for _, l := range logins {
		// GitHub silently drops assignees it cannot assign.
		if u := p.users[strings.ToLower(l)]; u != nil && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

func (p *Part) createIssue(c *call) (int, any) {
	var req issueRequest
	if !c.decode(&req) {
		return badJSON()
	}
	if req.Title == nil || strings.TrimSpace(*req.Title) == "" {
		return invalid(fieldError{Resource: "Issue", Code: "missing_field", Field: "title"})
	}
	if code, v, bad := tooLong("Issue", req.Body); bad {
		return code, v
	}
	rp, now := c.repo, p.s.Now()
	rp.lastNumber++
	is := &issue{id: p.s.NextID(), number: rp.lastNumber, title: *req.Title, state: "open",
		user: c.user, created: now, updated: now, assignees: p.assignees(req)}
	if req.Body != nil {
		is.body = *req.Body
	}
	rp.addIssue(is)
	p.s.Created("github", rp.key(fmt.Sprintf("issues/%d", is.number)))
	var labels []string
	if req.Labels != nil {
		labels = labelNames(*req.Labels)
	}
	// Labels given at creation are on the issue in the "opened" payload, and GitHub follows it with
	// one "labeled" event per label.
	added := p.applyLabels(c, is, labels)
	p.emitIssue(c, is, "opened", nil)
	for _, l := range added {
		p.emitIssue(c, is, "labeled", map[string]any{"label": c.labelJSON(rp, rp.labels[strings.ToLower(l)])})
	}
	c.hdr.Set("Location", c.issueJSON(rp, is).URL)
	return 201, c.issueJSON(rp, is)
}

func (p *Part) getIssue(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	return 200, c.issueJSON(c.repo, is)
}

func (p *Part) editIssue(c *call) (int, any) {
	rp, is := c.repo, c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	var req issueRequest
	if !c.decode(&req) {
		return badJSON()
	}
	return p.applyIssueEdit(c, rp, is, req)
}

// applyIssueEdit is PATCH on an issue or pull request: fields, state, labels, and the events.
func (p *Part) applyIssueEdit(c *call, rp *repo, is *issue, req issueRequest) (int, any) {
	if req.State != nil && *req.State != "open" && *req.State != "closed" {
		return invalid(fieldError{Resource: "Issue", Code: "invalid", Field: "state"})
	}
	if req.StateReason != nil {
		switch *req.StateReason {
		case "completed", "not_planned", "reopened", "":
		default:
			return invalid(fieldError{Resource: "Issue", Code: "invalid", Field: "state_reason"})
		}
	}
	if req.Title != nil && strings.TrimSpace(*req.Title) == "" {
		return invalid(fieldError{Resource: "Issue", Code: "missing_field", Field: "title"})
	}
	resource := "Issue"
	if is.pull != nil {
		resource = "PullRequest"
	}
	if code, v, bad := tooLong(resource, req.Body); bad {
		return code, v
	}
	if req.State != nil && *req.State == "open" && is.pull != nil && is.pull.merged {
		return invalid(fieldError{Resource: "PullRequest", Code: "custom", Message: "state cannot be changed. The pull request cannot be reopened."})
	}
	now := p.s.Now()
	changed := false
	changes := map[string]any{}
	if req.Title != nil && *req.Title != is.title {
		changes["title"] = map[string]string{"from": is.title}
		is.title = *req.Title
	}
	if req.Body != nil && *req.Body != is.body {
		changes["body"] = map[string]string{"from": is.body}
		is.body = *req.Body
	}
	if req.Assignees != nil || req.Assignee != nil {
		is.assignees = p.assignees(req)
		changed = true
	}
	if len(changes) > 0 {
		changed = true
		p.emitIssue(c, is, "edited", map[string]any{"changes": changes})
	}
	if req.Labels != nil {
		added, removed := p.setLabels(c, is, labelNames(*req.Labels))
		changed = changed || len(added)+len(removed) > 0
	}
	if req.State != nil && *req.State != is.state {
		changed = true
		is.state = *req.State
		if is.state == "closed" {
			is.closed, is.closedBy, is.stateReason = now, c.user, "completed"
			if req.StateReason != nil && *req.StateReason != "" {
				is.stateReason = *req.StateReason
			}
			p.emitIssue(c, is, "closed", nil)
		} else {
			is.closed, is.closedBy, is.stateReason = time.Time{}, nil, "reopened"
			p.emitIssue(c, is, "reopened", nil)
		}
	} else if req.StateReason != nil && is.state == "closed" && *req.StateReason != "" && *req.StateReason != is.stateReason {
		is.stateReason, changed = *req.StateReason, true
	}
	if changed {
		is.updated = now
		p.s.Mutated("github", issueKey(rp, is))
	}
	if is.pull != nil {
		return 200, p.pullJSON(c, rp, is)
	}
	return 200, c.issueJSON(rp, is)
}

func (p *Part) listIssues(c *call) (int, any) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		for _, n := range strings.Split(l, ",") {
			want = append(want, strings.ToLower(strings.TrimSpace(n)))
		}
	}
	var since time.Time
	if s := q.Get("since"); s != "" {
		since, _ = time.Parse(time.RFC3339, s)
	}
	var out []*issue
	for _, n := range c.repo.numbers() {
		is := c.repo.issues[n]
		if (state != "all" && is.state != state) || is.updated.Before(since) {
			continue
		}
		if cr := q.Get("creator"); cr != "" && !strings.EqualFold(cr, is.user.Login) {
			continue
		}
		if !hasLabels(is, want) || !assignedTo(is, q.Get("assignee")) {
			continue
		}
		out = append(out, is)
	}
	by := func(is *issue) time.Time { return is.created }
	switch q.Get("sort") {
	case "updated":
		by = func(is *issue) time.Time { return is.updated }
	case "comments":
		sort.SliceStable(out, func(i, j int) bool { return len(out[i].comments) < len(out[j].comments) })
		by = nil
	}
	if by != nil {
		sort.SliceStable(out, func(i, j int) bool {
			if ti, tj := by(out[i]), by(out[j]); !ti.Equal(tj) {
				return ti.Before(tj)
			}
			return out[i].number < out[j].number
		})
	}
	if q.Get("direction") != "asc" {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	res := []*issueJSON{}
	for _, is := range paginate(c, out) {
		res = append(res, c.issueJSON(c.repo, is))
	}
	return 200, res
}

func hasLabels(is *issue, want []string) bool {
	for _, w := range want {
		found := false
		for _, l := range is.labels {
			if strings.ToLower(l) == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func assignedTo(is *issue, login string) bool {
	switch login {
	case "", "*":
		return login == "" || len(is.assignees) > 0
	case "none":
		return len(is.assignees) == 0
	}
	for _, a := range is.assignees {
		if strings.EqualFold(a.Login, login) {
			return true
		}
	}
	return false
}

// ---- labels ----

// ensureLabel returns the repository label, creating it (grey) if needed, as GitHub does when a
// label is applied by name. Lock held.
func (p *Part) ensureLabel(rp *repo, name string) *label {
	if l := rp.labels[strings.ToLower(name)]; l != nil {
		return l
	}
	l := &label{id: p.s.NextID(), name: name, color: "ededed"}
	rp.labels[strings.ToLower(name)] = l
	p.s.Created("github", rp.key("labels/"+name))
	return l
}

// applyLabels adds names to the issue and returns the labels that were new on it, without events
// or a Mutated count (callers decide).
func (p *Part) applyLabels(c *call, is *issue, names []string) []string {
	var added []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || hasLabels(is, []string{strings.ToLower(n)}) {
			continue
		}
		l := p.ensureLabel(c.repo, n)
		is.labels = append(is.labels, l.name)
		added = append(added, l.name)
		p.s.Created("github", c.repo.key(fmt.Sprintf("issues/%d/labels/%s", is.number, l.name)))
	}
	sort.Slice(is.labels, func(i, j int) bool { return strings.ToLower(is.labels[i]) < strings.ToLower(is.labels[j]) })
	return added
}

func (p *Part) removeLabel(c *call, is *issue, name string) bool {
	for i, l := range is.labels {
		if strings.EqualFold(l, name) {
			is.labels = append(is.labels[:i:i], is.labels[i+1:]...)
			p.s.Deleted("github", c.repo.key(fmt.Sprintf("issues/%d/labels/%s", is.number, l)))
			p.emitIssue(c, is, "unlabeled", map[string]any{"label": c.labelJSON(c.repo, c.repo.labels[strings.ToLower(l)])})
			return true
		}
	}
	return false
}

// setLabels makes the issue's labels exactly names, with one labeled/unlabeled event per change.
func (p *Part) setLabels(c *call, is *issue, names []string) (added, removed []string) {
	keep := map[string]bool{}
	for _, n := range names {
		keep[strings.ToLower(strings.TrimSpace(n))] = true
	}
	for _, l := range append([]string(nil), is.labels...) {
		if !keep[strings.ToLower(l)] && p.removeLabel(c, is, l) {
			removed = append(removed, l)
		}
	}
	added = p.addLabels(c, is, names)
	return added, removed
}

// addLabels adds names with one "labeled" event per label that was new on the issue.
func (p *Part) addLabels(c *call, is *issue, names []string) []string {
	added := p.applyLabels(c, is, names)
	for _, l := range added {
		p.emitIssue(c, is, "labeled", map[string]any{"label": c.labelJSON(c.repo, c.repo.labels[strings.ToLower(l)])})
	}
	return added
}

// labelsBody reads the label-list body: ["a","b"], {"labels":["a"]} or {"labels":[{"name":"a"}]}.
func labelsBody(c *call) ([]string, bool) {
	var list []any
	if json.Unmarshal(c.body, &list) == nil {
		return labelNames(list), true
	}
	var obj struct {
		Labels []any `json:"labels"`
	}
	if !c.decode(&obj) {
		return nil, false
	}
	return labelNames(obj.Labels), true
}

func (p *Part) labelsChanged(c *call, is *issue) {
	is.updated = p.s.Now()
	p.s.Mutated("github", issueKey(c.repo, is))
}

func (p *Part) listIssueLabels(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	return 200, paginate(c, c.labelsJSON(c.repo, is.labels))
}

func (p *Part) addIssueLabels(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	names, ok := labelsBody(c)
	if !ok {
		return badJSON()
	}
	if len(p.addLabels(c, is, names)) > 0 {
		p.labelsChanged(c, is)
	}
	return 200, c.labelsJSON(c.repo, is.labels)
}

func (p *Part) replaceIssueLabels(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	names, ok := labelsBody(c)
	if !ok {
		return badJSON()
	}
	if added, removed := p.setLabels(c, is, names); len(added)+len(removed) > 0 {
		p.labelsChanged(c, is)
	}
	return 200, c.labelsJSON(c.repo, is.labels)
}

func (p *Part) removeIssueLabel(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	if !p.removeLabel(c, is, c.r.PathValue("name")) {
		return fail(404, "Label does not exist")
	}
	p.labelsChanged(c, is)
	return 200, c.labelsJSON(c.repo, is.labels)
}

func (p *Part) removeAllIssueLabels(c *call) (int, any) {
	is := c.repo.issue(c)
	if is == nil {
		return notFound()
	}
	if _, removed := p.setLabels(c, is, nil); len(removed) > 0 {
		p.labelsChanged(c, is)
	}
	return 204, nil
}

func (p *Part) createLabel(c *call) (int, any) {
	var req struct {
		Name        string `json:"name"`
		Color       string `json:"color"`
		Description string `json:"description"`
	}
	if !c.decode(&req) {
		return badJSON()
	}
	if strings.TrimSpace(req.Name) == "" {
		return invalid(fieldError{Resource: "Label", Code: "missing_field", Field: "name"})
	}
	if c.repo.labels[strings.ToLower(req.Name)] != nil {
		return invalid(fieldError{Resource: "Label", Code: "already_exists", Field: "name"})
	}
	l := p.ensureLabel(c.repo, req.Name)
	if req.Color != "" {
		l.color = strings.TrimPrefix(req.Color, "#")
	}
	l.description = req.Description
	return 201, c.labelJSON(c.repo, l)
}

func (p *Part) listLabels(c *call) (int, any) {
	out := []labelJSON{}
	for _, k := range sortedLabelKeys(c.repo) {
		out = append(out, c.labelJSON(c.repo, c.repo.labels[k]))
	}
	return 200, paginate(c, out)
}

func sortedLabelKeys(rp *repo) []string {
	keys := make([]string, 0, len(rp.labels))
	for k := range rp.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (p *Part) getLabel(c *call) (int, any) {
	l := c.repo.labels[strings.ToLower(c.r.PathValue("name"))]
	if l == nil {
		return notFound()
	}
	return 200, c.labelJSON(c.repo, l)
}
