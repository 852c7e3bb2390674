package activities

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Uptime probes the instances from the outside, the way a customer (and the GCP uptime check)
// reaches them: the frontend's /healthz and /__version (healthCheckMiddleware) and the sign-in
// page.
type Uptime struct {
	client *http.Client
	// ProbeURL, when set, receives every probe with the instance's hostname in the Host header (the
	// simulator); empty probes https://<host> directly.
	ProbeURL string
	// clientIP is sent as the simulator's client-address header (simClientIPHeader) with probes to
	// ProbeURL: the first probe egress range's address, so the simulated WAF sees the probes come
	// from where LIFECYCLE_PROBE_EGRESS says. Real probes leave from their real egress.
	clientIP string
}

// simClientIPHeader is the header the simulator reads a request's client address from.
const simClientIPHeader = "X-Sim-Client-IP"

// NewUptime builds the prober. Redirects are not followed: a healthy instance serves /healthz and
// /sign-in itself, and a redirect (e.g. to a holding page) must not count as healthy.
func NewUptime(c config.Cloud) (*Uptime, error) {
	if c.ProbeURL != "" {
		u, err := url.Parse(c.ProbeURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("probe URL %q (INSTANCE_PROBE_URL) must be an http(s) base URL such as http://127.0.0.1:8090", c.ProbeURL)
		}
	}
	clientIP := ""
	if c.ProbeURL != "" && len(c.ProbeEgress) > 0 {
		p, err := netip.ParsePrefix(c.ProbeEgress[0])
		if err != nil {
			return nil, fmt.Errorf("probe egress %q (LIFECYCLE_PROBE_EGRESS) must be CIDR ranges such as 203.0.113.0/24", c.ProbeEgress[0])
		}
		clientIP = p.Addr().String()
	}
	return &Uptime{
		clientIP: clientIP,
		ProbeURL: strings.TrimRight(c.ProbeURL, "/"),
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// ProbeInput names the instance by hostname, e.g. acme.sourcegraphcloud.com.
type ProbeInput struct {
	Host string `json:"host"`
}

// ProbeResult is what one probe saw. Statuses are 0 when the request got no answer at all.
// Error says why the instance is not healthy (the first failing request and its answer).
type ProbeResult struct {
	Healthy       bool   `json:"healthy"`
	Version       string `json:"version,omitempty"`
	HealthzStatus int    `json:"healthzStatus"`
	VersionStatus int    `json:"versionStatus"`
	SignInStatus  int    `json:"signInStatus"`
	Error         string `json:"error,omitempty"`
}

// Probe checks an instance once. An unhealthy or unreachable instance is a normal answer (data,
// not an error), so workflows decide what it means; only a wrong input or a cancelled activity is
// an error.
func (u *Uptime) Probe(ctx context.Context, in ProbeInput) (ProbeResult, error) {
	if err := spec.ValidateDomain("host", in.Host); err != nil {
		return ProbeResult{}, Permanent(ErrInvalidArgument, "probe: "+err.Error(), "pass the instance's hostname, e.g. acme.sourcegraphcloud.com", nil)
	}
	r := u.probe(ctx, in.Host)
	if err := ctx.Err(); err != nil {
		return ProbeResult{}, classify("probe "+in.Host, err)
	}
	return r, nil
}

// probe asks the three pages at once, so one probe takes at most one request timeout (10 s)
// and the heartbeat timeout of a soak need only cover that plus the interval.
func (u *Uptime) probe(ctx context.Context, host string) ProbeResult {
	paths := [3]string{"/healthz", "/__version", "/sign-in"}
	type answer struct {
		status int
		body   string
		err    error
	}
	var got [3]answer
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &got[i]
			a.status, a.body, a.err = u.get(ctx, host, p)
		}()
	}
	wg.Wait()
	var r ProbeResult
	var problems []string
	for i, a := range got {
		switch {
		case a.err != nil:
			problems = append(problems, fmt.Sprintf("GET %s: %v", paths[i], a.err))
		case a.status != http.StatusOK:
			problems = append(problems, fmt.Sprintf("GET %s: %d %s", paths[i], a.status, upOneLine(a.body, 160)))
		case paths[i] == "/__version":
			if r.Version = strings.TrimSpace(a.body); r.Version == "" {
				problems = append(problems, "GET /__version: empty version")
			}
		}
	}
	r.HealthzStatus, r.VersionStatus, r.SignInStatus = got[0].status, got[1].status, got[2].status
	r.Healthy = len(problems) == 0
	r.Error = strings.Join(problems, "; ")
	return r
}

// get fetches one page; the body is read up to 64 KiB (the version is a line, the rest is only
// quoted in errors).
func (u *Uptime) get(ctx context.Context, host, path string) (int, string, error) {
	target := "https://" + host + path
	if u.ProbeURL != "" {
		target = u.ProbeURL + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	req.Header.Set("User-Agent", "sourcegraph-lifecycle-uptime/1")
	if u.ProbeURL != "" && u.clientIP != "" {
		req.Header.Set(simClientIPHeader, u.clientIP)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, string(b), nil
}

func upOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// SoakInput: wait until Consecutive probes in a row, Interval apart, are healthy and report
// ExpectedVersion (empty: any version). Timeout counts from the first attempt, across retries.
// Defaults: 3 probes, 10 s apart, 15 min. WaitForVersion is Soak with Consecutive 1.
type SoakInput struct {
	Host            string        `json:"host"`
	ExpectedVersion string        `json:"expectedVersion,omitempty"`
	Consecutive     int           `json:"consecutive,omitempty"`
	Interval        time.Duration `json:"interval,omitempty"`
	Timeout         time.Duration `json:"timeout,omitempty"`
	// VersionOnly counts a probe that reports ExpectedVersion on /__version even if the instance
	// is unhealthy: "the new version is deployed", which an upgrade waits for before it soaks.
	VersionOnly bool `json:"versionOnly,omitempty"`
	// VersionTimeout, when set, makes one call of an upgrade's two waits: first up to
	// VersionTimeout until /__version reports ExpectedVersion, then the soak, whose Timeout
	// counts from the first probe at that version (a healthy one counts toward the streak).
	VersionTimeout time.Duration `json:"versionTimeout,omitempty"`
}

// SoakProgress is Soak's heartbeat (visible in the Web UI) and what a retry resumes from.
type SoakProgress struct {
	Consecutive int         `json:"consecutive"`
	Probes      int         `json:"probes"`
	LastVersion string      `json:"lastVersion,omitempty"`
	Last        ProbeResult `json:"last"`
	StartedAt   time.Time   `json:"startedAt"` // first attempt: the Timeout counts from here
	// VersionAt is the first probe at ExpectedVersion (SoakInput.VersionTimeout): the soak's
	// Timeout counts from here.
	VersionAt time.Time `json:"versionAt,omitzero"`
	At        time.Time `json:"at"` // when the last probe ran
}

// SoakResult is the streak that ended the soak.
type SoakResult struct {
	Version     string `json:"version"`
	Consecutive int    `json:"consecutive"`
	Probes      int    `json:"probes"`
	Resumed     bool   `json:"resumed"`
}

// upSoakMaxBlindSpot is how long a gap between probes may be for a retry to keep the streak: GCP
// uptime checks probe once a minute, so a gap under 30 s hides nothing production alerting sees.
const upSoakMaxBlindSpot = 30 * time.Second

// Soak waits for an instance to serve the expected version healthily, N probes in a row (after an
// upgrade, a resume, a create: "wait until the instance reports the target version",
// then the uptime soak). It heartbeats every probe. A retry resumes from the last heartbeat: the
// probe count and the deadline always carry over; the streak carries over only if the last probe
// was at most max(2×Interval, 30 s) ago — a longer blind spot could hide an outage, so the streak
// starts again. When Timeout passes it fails with OperationFailed, saying what it last saw.
//
// Activity options: HeartbeatTimeout ≥ Interval + 15 s (a probe is at most one 10 s request);
// StartToCloseTimeout ≥ Timeout, or shorter with retries, since the deadline carries over.
func (u *Uptime) Soak(ctx context.Context, in SoakInput) (SoakResult, error) {
	if err := spec.ValidateDomain("host", in.Host); err != nil {
		return SoakResult{}, Permanent(ErrInvalidArgument, "soak: "+err.Error(), "pass the instance's hostname, e.g. acme.sourcegraphcloud.com", nil)
	}
	if in.Consecutive <= 0 {
		in.Consecutive = 3
	}
	if in.Interval <= 0 {
		in.Interval = 10 * time.Second
	}
	if in.Timeout <= 0 {
		in.Timeout = 15 * time.Minute
	}
	want := strings.TrimPrefix(in.ExpectedVersion, "v")
	now := time.Now()
	p, resumed := resumeDetails[SoakProgress](ctx)
	if !resumed || p.StartedAt.IsZero() {
		p = SoakProgress{StartedAt: now}
	} else if now.Sub(p.At) > max(2*in.Interval, upSoakMaxBlindSpot) {
		p.Consecutive = 0
	}
	// The soak's bound counts from the first attempt, or with VersionTimeout from the first probe
	// at the version; until then the wait's bound holds.
	deadline := func() time.Time {
		switch {
		case in.VersionTimeout <= 0:
			return p.StartedAt.Add(in.Timeout)
		case p.VersionAt.IsZero():
			return p.StartedAt.Add(in.VersionTimeout)
		}
		return p.VersionAt.Add(in.Timeout)
	}
	for {
		r := u.probe(ctx, in.Host)
		if err := ctx.Err(); err != nil {
			return SoakResult{}, classify("soak "+in.Host, err)
		}
		p.Probes++
		p.Last, p.LastVersion, p.At = r, r.Version, time.Now()
		atVersion := want == "" || strings.TrimPrefix(r.Version, "v") == want
		if in.VersionTimeout > 0 && atVersion && p.VersionAt.IsZero() {
			p.VersionAt = p.At
		}
		if atVersion && (r.Healthy || (in.VersionOnly && want != "")) {
			p.Consecutive++
		} else {
			p.Consecutive = 0
		}
		heartbeat(ctx, p)
		if p.Consecutive >= in.Consecutive {
			return SoakResult{Version: r.Version, Consecutive: p.Consecutive, Probes: p.Probes, Resumed: resumed}, nil
		}
		if !time.Now().Add(in.Interval).Before(deadline()) {
			if in.VersionTimeout > 0 && p.VersionAt.IsZero() {
				// Never at the version: the wait's failure, not the soak's.
				in.VersionOnly, in.Consecutive, in.Timeout = true, 1, in.VersionTimeout
			}
			return SoakResult{}, upSoakFailed(in, want, p)
		}
		t := time.NewTimer(in.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return SoakResult{}, classify("soak "+in.Host, ctx.Err())
		case <-t.C:
		}
	}
}

func upSoakFailed(in SoakInput, want string, p SoakProgress) error {
	target := "healthy"
	switch {
	case in.VersionOnly && want != "":
		target = "reporting version " + want
	case want != "":
		target = "healthy on " + want
	}
	seen := p.Last.Version
	if seen == "" {
		seen = "none"
	}
	what := fmt.Sprintf("%s did not become %s (%d probes in a row) within %s: after %d probes the last one saw version %s, /healthz %d, /__version %d, /sign-in %d",
		in.Host, target, in.Consecutive, in.Timeout, p.Probes, seen, p.Last.HealthzStatus, p.Last.VersionStatus, p.Last.SignInStatus)
	if p.Last.Error != "" {
		what += " (" + p.Last.Error + ")"
	}
	fix := "check the rollout (pods, migrator job, frontend logs)"
	switch {
	case want != "" && p.Last.Version == want:
		fix = fmt.Sprintf("version %s is deployed but not healthy: check pods and the migrator; if the release is bad, roll back to the previous version and retry", want)
	case want != "" && p.Last.Version != "":
		fix = fmt.Sprintf("the instance still serves %s: check that the config change was merged and the rollout to %s is progressing, then retry", p.Last.Version, want)
	case p.Last.HealthzStatus == 0:
		fix = "the instance did not answer: check DNS, the load balancer and the cluster, then retry"
	}
	return Permanent(ErrOperationFailed, what, fix, nil)
}
