package github

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sourcegraph/lifecycle/sim"
)

// call is one authenticated API request being served under the simulator lock.
type call struct {
	r    *http.Request
	hdr  http.Header // response headers (Link, Location)
	body []byte      // request body, read before the lock was taken
	user *user
	repo *repo // the {owner}/{repo} of the route, if it has one
	web  string
	api  string
}

// handler serves one route under the lock and returns the status and the JSON body (nil: none).
// The response is written after the lock is released so a slow client never blocks the simulator.
type handler func(c *call) (int, any)

// apiError is GitHub's error body.
type apiError struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url,omitempty"`
	Status           string       `json:"status,omitempty"`
}

type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
	Message  string `json:"message,omitempty"`
}

const docs = "https://docs.github.com/rest"

func errBody(status int, msg string) apiError {
	return apiError{Message: msg, DocumentationURL: docs, Status: strconv.Itoa(status)}
}

func notFound() (int, any) { return 404, errBody(404, "Not Found") }

func fail(status int, msg string) (int, any) { return status, errBody(status, msg) }

// invalid is the 422 "Validation Failed" GitHub returns for a bad field.
func invalid(errs ...fieldError) (int, any) {
	b := errBody(422, "Validation Failed")
	b.Errors = errs
	return 422, b
}

// MaxBodyChars is GitHub's limit on an issue's, a pull request's or a comment's body, in
// characters (code points): over it, creating or editing answers 422.
const MaxBodyChars = 65536

// tooLong is the 422 for a body over MaxBodyChars, as GitHub words it: issues and pull requests
// name the body field ("custom"), comments the data ("unprocessable"), with a capital B.
func tooLong(resource string, body *string) (int, any, bool) {
	if body == nil || utf8.RuneCountInString(*body) <= MaxBodyChars {
		return 0, nil, false
	}
	if resource == "IssueComment" {
		code, v := invalid(fieldError{Resource: resource, Code: "unprocessable", Field: "data", Message: "Body is too long (maximum is 65536 characters)"})
		return code, v, true
	}
	code, v := invalid(fieldError{Resource: resource, Code: "custom", Field: "body", Message: "body is too long (maximum is 65536 characters)"})
	return code, v, true
}

// badJSON is what GitHub answers to a body it cannot parse.
func badJSON() (int, any) { return fail(400, "Problems parsing JSON") }

// decode reads the request body into v; an empty body leaves v alone, as GitHub treats it as {}.
func (c *call) decode(v any) bool {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return true
	}
	return json.Unmarshal(c.body, v) == nil
}

// route registers h under the fault-rule method name.
func (p *Part) route(rt *sim.Routes, method, pattern string, h handler) {
	rt.Handle(method, pattern, func(w http.ResponseWriter, r *http.Request) { p.respond(w, r, h) })
}

// respond authenticates, resolves the repository, runs h under the lock and writes its answer.
func (p *Part) respond(w http.ResponseWriter, r *http.Request, h handler) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		writeJSON(w, 400, errBody(400, "Problems reading the request body"))
		return
	}
	status, out := func() (int, any) {
		defer p.s.Lock()()
		web := "http://" + r.Host
		c := &call{r: r, hdr: w.Header(), body: body, web: web, api: web + "/api/v3"}
		u, msg := p.authenticate(r)
		p.rateHeaders(w.Header(), u)
		if u == nil {
			return fail(401, msg)
		}
		c.user = u
		if status, out, refused := p.secondaryLimit(c); refused {
			return status, out
		}
		if owner := r.PathValue("owner"); owner != "" {
			if c.repo = p.repoFor(owner + "/" + r.PathValue("repo")); c.repo == nil {
				return notFound()
			}
		}
		return h(c)
	}()
	writeJSON(w, status, out)
}

// ServeHost intercepts two kinds of request before the simulator's mux sees them:
//
//   - /_sim/github/... is the admin API, served here so fault rules never touch it;
//   - /api/v3/repos/{o}/{r}/issues/comments/{id} overlaps /issues/{number}/labels and
//     /issues/{number}/comments, which Go's ServeMux refuses to register side by side, so it is
//     forwarded to the same path under /_github, where the comment routes are registered. The
//     original path stays a substring, so fault rules' Match still sees it.
func (p *Part) ServeHost(w http.ResponseWriter, r *http.Request) bool {
	path := r.URL.Path
	if strings.HasPrefix(path, "/_sim/github/") {
		p.admin.ServeHTTP(w, r)
		return true
	}
	if isCommentPath(path) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = commentPrefix + path
		r2.URL.RawPath = ""
		p.s.Handler().ServeHTTP(w, r2)
		return true
	}
	return false
}

const commentPrefix = "/_github"

// isCommentPath reports whether path is /api/v3/repos/{o}/{r}/issues/comments/{id}.
func isCommentPath(path string) bool {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v3/repos/"), "/")
	return strings.HasPrefix(path, "/api/v3/repos/") && len(parts) == 5 && parts[2] == "issues" && parts[3] == "comments"
}

// requestID is the response's X-GitHub-Request-Id, set on first use: a message that quotes it
// (the secondary limit's) and the header agree.
func requestID(h http.Header) string {
	if id := h.Get("X-GitHub-Request-Id"); id != "" {
		return id
	}
	id := fmt.Sprintf("SIM:%X", time.Now().UnixNano())
	h.Set("X-GitHub-Request-Id", id)
	return id
}

// writeJSON writes compact JSON like GitHub (nil body: headers only).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	requestID(h)
	if v == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"message":"simulator could not encode the response"}`)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// writeFault renders an injected fault in GitHub's format. A 403 or 429 is a rate limit: primary
// (X-RateLimit-Remaining: 0, so go-github v55 returns *RateLimitError for the 403) unless the
// message names a secondary rate limit. The reset is the Retry-After the core set, at least 1s,
// because go-github refuses to send requests in that category until then.
func (p *Part) writeFault(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	now := time.Now()
	limit, used, reset := 5000, 1, now.Add(time.Hour)
	body := errBody(status, msg)
	if status == http.StatusForbidden || status == http.StatusTooManyRequests {
		wait := time.Second
		if ra, err := strconv.Atoi(h.Get("Retry-After")); err == nil && ra > 0 {
			wait = time.Duration(ra) * time.Second
		}
		if strings.Contains(strings.ToLower(msg), "secondary rate limit") {
			body.DocumentationURL = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
		} else {
			used, reset = limit, now.Add(wait)
			body.DocumentationURL = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limit"
		}
	}
	setRate(h, limit, used, reset)
	writeJSON(w, status, body)
}

// paginate slices items by ?page= and ?per_page= (default 30, at most 100) and sets GitHub's Link
// header with next/last/first/prev, which go-github turns into Response.NextPage etc.
func paginate[T any](c *call, items []T) []T {
	q := c.r.URL.Query()
	per := atoiDefault(q.Get("per_page"), 30)
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page := max(atoiDefault(q.Get("page"), 1), 1)
	last := max((len(items)+per-1)/per, 1)
	link := func(n int, rel string) string {
		q2 := c.r.URL.Query()
		q2.Set("page", strconv.Itoa(n))
		q2.Set("per_page", strconv.Itoa(per))
		u := url.URL{Path: strings.TrimPrefix(c.r.URL.Path, commentPrefix), RawQuery: q2.Encode()}
		return fmt.Sprintf("<%s%s>; rel=%q", c.web, u.String(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		c.hdr.Set("Link", strings.Join(links, ", "))
	}
	start := min((page-1)*per, len(items))
	end := min(start+per, len(items))
	return items[start:end]
}

func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// pathNumber parses the {number} (or other integer) path value.
func pathNumber(c *call, name string) (int64, bool) {
	n, err := strconv.ParseInt(c.r.PathValue(name), 10, 64)
	return n, err == nil && n > 0
}

// Time is a timestamp as GitHub writes it: UTC, second precision.
type Time struct{ time.Time }

func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(time.RFC3339) + `"`), nil
}

// ts is a non-null timestamp; tsOrNil is null for the zero time.
func ts(t time.Time) Time { return Time{t} }
func tsOrNil(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t}
}

// strOrNil is null for "", as GitHub writes an absent body.
func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
