package github

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// GitHub's secondary rate limits on content creation, per user: "no more than 80
// content-generating requests per minute and no more than 500 content-generating requests per
// hour" (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
const (
	DefaultWritesPerMinute = 80
	DefaultWritesPerHour   = 500
)

// secondaryDocs is the documentation_url GitHub sends with a secondary limit today. go-github v55
// recognizes only the older "#secondary-rate-limits" and "#abuse-rate-limits", so its callers get
// a plain *github.ErrorResponse, as they do from GitHub.
const secondaryDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"

// SecondaryLimits enforce GitHub's secondary limits on content-creating requests (POST, PATCH,
// PUT and DELETE under /api/v3), per user, in fixed windows of a minute and an hour (scaled by
// Options.TimeScale). The zero value enforces nothing. A refused request is not counted and
// changes nothing.
type SecondaryLimits struct {
	// WritesPerMinute and WritesPerHour cap the content-creating requests in each window; 0 lifts
	// that cap.
	WritesPerMinute int `json:"writesPerMinute"`
	WritesPerHour   int `json:"writesPerHour"`
	// Status is the refusal's HTTP status: "403" (the default), "429", or "alternate" (403 and
	// 429 in turn). GitHub answers with either.
	Status string `json:"status,omitempty"`
	// RetryAfter says when a refusal carries Retry-After (the seconds until the full window
	// frees a request): "never" (the default), "always", or "alternate" (two refusals without, two
	// with, and so on; with Status "alternate" the refusals cycle through 403, 429, 403 with
	// Retry-After, 429 with Retry-After). GitHub sends it only sometimes.
	RetryAfter string `json:"retryAfter,omitempty"`
}

// Validate names the first bad field.
func (l SecondaryLimits) Validate() error {
	switch {
	case l.WritesPerMinute < 0 || l.WritesPerHour < 0:
		return fmt.Errorf("secondary limits must be 0 (none) or more, got %d a minute and %d an hour", l.WritesPerMinute, l.WritesPerHour)
	case l.Status != "" && l.Status != "403" && l.Status != "429" && l.Status != "alternate":
		return fmt.Errorf("secondary limit status %q: use 403, 429 or alternate", l.Status)
	case l.RetryAfter != "" && l.RetryAfter != "never" && l.RetryAfter != "always" && l.RetryAfter != "alternate":
		return fmt.Errorf("secondary limit retry-after %q: use never, always or alternate", l.RetryAfter)
	}
	return nil
}

// writeWindows counts one user's content-creating requests.
type writeWindows struct {
	minute, hour window
	refused      int // refusals so far, to alternate their form deterministically
	total        int // accepted content-creating requests
}

// window is a fixed window that opens with its first request.
type window struct {
	start time.Time
	n     int
}

// scaled shrinks a GitHub duration by Options.TimeScale, so a benchmark runs hours of GitHub time
// in minutes.
func (p *Part) scaled(d time.Duration) time.Duration {
	if p.opts.TimeScale > 0 {
		return time.Duration(float64(d) / p.opts.TimeScale)
	}
	return d
}

// WriteCount is what one user's content-creating requests (POST, PATCH, PUT, DELETE) came to
// since the start or the last reset, whether or not secondary limits are enforced: Writes
// accepted, Refused with a secondary limit.
type WriteCount struct {
	Writes  int `json:"writes"`
	Refused int `json:"refused"`
}

// WriteCounts are the counts by lower-case login, for in-process tests and benchmarks (the admin
// API serves them at GET /_sim/github/writes).
func (p *Part) WriteCounts() map[string]WriteCount {
	defer p.s.Lock()()
	return p.writeCounts()
}

func (p *Part) writeCounts() map[string]WriteCount {
	out := map[string]WriteCount{}
	for k, ww := range p.writes {
		out[k] = WriteCount{Writes: ww.total, Refused: ww.refused}
	}
	return out
}

// secondaryLimit counts a content-creating request of c's user and, past a cap, returns GitHub's
// refusal instead. Lock held.
func (p *Part) secondaryLimit(c *call) (int, any, bool) {
	switch c.r.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return 0, nil, false // reads are not content-creating
	}
	key := strings.ToLower(c.user.Login)
	ww := p.writes[key]
	if ww == nil {
		ww = &writeWindows{}
		p.writes[key] = ww
	}
	l := p.opts.Secondary
	if l.WritesPerMinute <= 0 && l.WritesPerHour <= 0 {
		ww.total++
		return 0, nil, false
	}
	now := p.s.Now()
	caps := []struct {
		w    *window
		cap  int
		span time.Duration
	}{{&ww.minute, l.WritesPerMinute, p.scaled(time.Minute)}, {&ww.hour, l.WritesPerHour, p.scaled(time.Hour)}}
	var wait time.Duration
	for _, x := range caps {
		if x.cap <= 0 {
			continue
		}
		if x.w.n == 0 || !now.Before(x.w.start.Add(x.span)) {
			x.w.start, x.w.n = now, 0
		}
		if x.w.n >= x.cap {
			wait = max(wait, x.w.start.Add(x.span).Sub(now))
		}
	}
	if wait <= 0 {
		for _, x := range caps {
			x.w.n++
		}
		ww.total++
		return 0, nil, false
	}
	n := ww.refused
	ww.refused++
	status := http.StatusForbidden
	if l.Status == "429" || (l.Status == "alternate" && n%2 == 1) {
		status = http.StatusTooManyRequests
	}
	if l.RetryAfter == "always" || (l.RetryAfter == "alternate" && (n/2)%2 == 1) {
		c.hdr.Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	}
	id := requestID(c.hdr)
	return status, apiError{
		Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID " + id + ".",
		DocumentationURL: secondaryDocs,
	}, true
}
