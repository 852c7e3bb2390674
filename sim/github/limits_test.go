package github_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/github"
)

const secondaryDocs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"

// startWith runs the GitHub part alone with o on top of the default users and releases.
func startWith(t *testing.T, o func(*github.Options)) *env {
	t.Helper()
	opts := github.DefaultOptions()
	o(&opts)
	s, err := sim.Start(sim.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, github.WithOptions(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &env{sim: s, part: s.Part("github").(*github.Part)}
}

// secondary checks that err is GitHub's secondary-limit answer with this status, as go-github v55
// returns it (a plain *ErrorResponse: it does not know the current documentation URL), and returns
// its Retry-After ("" when absent).
func secondary(t *testing.T, err error, status int) string {
	t.Helper()
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != status {
		t.Fatalf("want a %d secondary rate limit, got %T %v", status, err, err)
	}
	h := er.Response.Header
	want := "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
		"If you reach out to GitHub Support for help, please include the request ID " + h.Get("X-GitHub-Request-Id") + "."
	if er.Message != want || er.DocumentationURL != secondaryDocs || h.Get("X-GitHub-Request-Id") == "" {
		t.Fatalf("body: message %q documentation_url %q", er.Message, er.DocumentationURL)
	}
	if h.Get("X-RateLimit-Remaining") == "0" || h.Get("X-RateLimit-Limit") != "5000" {
		t.Fatalf("a secondary limit leaves the primary alone: %v", h)
	}
	return h.Get("Retry-After")
}

func TestSecondaryRateLimitOnContentCreation(t *testing.T) {
	e := startWith(t, func(o *github.Options) {
		o.Secondary = github.SecondaryLimits{WritesPerMinute: github.DefaultWritesPerMinute, WritesPerHour: github.DefaultWritesPerHour}
	})
	bot := e.client(t, "bot-token")
	// 80 content-creating requests (POST, PATCH, PUT, DELETE), each followed by reads, which do
	// not count.
	for i := range 20 {
		is, _, err := bot.Issues.Create(ctx, "sourcegraph", "cloud", &gh.IssueRequest{Title: gh.String(fmt.Sprint("issue ", i))})
		if err != nil {
			t.Fatalf("write %d: %v", 4*i+1, err)
		}
		n := is.GetNumber()
		if _, _, err := bot.Issues.Edit(ctx, "sourcegraph", "cloud", n, &gh.IssueRequest{Body: gh.String("b")}); err != nil {
			t.Fatalf("write %d: %v", 4*i+2, err)
		}
		if _, _, err := bot.Issues.ReplaceLabelsForIssue(ctx, "sourcegraph", "cloud", n, []string{"a"}); err != nil {
			t.Fatalf("write %d: %v", 4*i+3, err)
		}
		if _, err := bot.Issues.RemoveLabelsForIssue(ctx, "sourcegraph", "cloud", n); err != nil {
			t.Fatalf("write %d: %v", 4*i+4, err)
		}
		for range 3 {
			if _, _, err := bot.Issues.Get(ctx, "sourcegraph", "cloud", n); err != nil {
				t.Fatalf("read after write %d: %v", 4*i+4, err)
			}
		}
	}
	// The 81st in the minute is refused, without Retry-After by default, and changes nothing.
	_, _, err := bot.Issues.CreateLabel(ctx, "sourcegraph", "cloud", &gh.Label{Name: gh.String("refused")})
	if ra := secondary(t, err, 403); ra != "" {
		t.Fatalf("Retry-After %q, want none", ra)
	}
	if _, _, err := bot.Issues.GetLabel(ctx, "sourcegraph", "cloud", "refused"); status(err) != 404 {
		t.Fatalf("a refused write landed: %v", err)
	}
	// Reads still pass, and the limit is per user: alice may still write.
	if _, _, err := bot.Issues.Get(ctx, "sourcegraph", "cloud", 1); err != nil {
		t.Fatalf("a read after the secondary limit: %v", err)
	}
	if _, _, err := e.client(t, "alice-token").Issues.CreateLabel(ctx, "sourcegraph", "cloud", &gh.Label{Name: gh.String("alice")}); err != nil {
		t.Fatalf("another user's write: %v", err)
	}
}

func TestSecondaryRateLimitWindowsResetOnAScaledClock(t *testing.T) {
	const scale = 60 // a minute is 1s, an hour 60s
	e := startWith(t, func(o *github.Options) {
		o.TimeScale = scale
		o.Secondary = github.SecondaryLimits{WritesPerMinute: 3, WritesPerHour: 5, RetryAfter: "always"}
	})
	bot := e.client(t, "bot-token")
	label := func(i int) error {
		_, _, err := bot.Issues.CreateLabel(ctx, "sourcegraph", "cloud", &gh.Label{Name: gh.String(fmt.Sprint("l", i))})
		return err
	}
	start := time.Now()
	for i := range 3 {
		if err := label(i); err != nil {
			t.Fatal(err)
		}
	}
	ra := secondary(t, label(3), 403)
	if ra != "1" {
		t.Fatalf("Retry-After %q, want 1 (the rest of a 1s minute, in whole seconds)", ra)
	}
	// Waiting as told frees the minute window.
	time.Sleep(time.Second)
	for i := 3; i < 5; i++ {
		if err := label(i); err != nil {
			t.Fatalf("after Retry-After: %v", err)
		}
	}
	// Five in the (60s) hour: the hour window refuses now, until its end.
	ra = secondary(t, label(5), 403)
	if s, err := strconv.Atoi(ra); err != nil || s < 2 || time.Duration(s)*time.Second > 60*time.Second-time.Since(start)+time.Second {
		t.Fatalf("Retry-After %q, want the rest of the 60s hour", ra)
	}
	// The primary window shrinks too.
	_, resp, err := bot.Issues.Get(ctx, "sourcegraph", "cloud", 1)
	if err != nil && resp == nil {
		t.Fatal(err)
	}
	if reset := resp.Rate.Reset.Time; reset.After(start.Add(61 * time.Second)) {
		t.Fatalf("primary reset %v, want within the scaled hour of %v", reset, start)
	}
}

func TestSecondaryRateLimitAnswersAlternate(t *testing.T) {
	e := startWith(t, func(o *github.Options) {
		o.Secondary = github.SecondaryLimits{WritesPerMinute: 1, Status: "alternate", RetryAfter: "alternate"}
	})
	bot := e.client(t, "bot-token")
	label := func(name string) error {
		_, _, err := bot.Issues.CreateLabel(ctx, "sourcegraph", "cloud", &gh.Label{Name: gh.String(name)})
		return err
	}
	if err := label("first"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 4 {
		err := label(fmt.Sprint("refused", i))
		st := status(err)
		got = append(got, fmt.Sprintf("%d %t", st, secondary(t, err, st) != ""))
	}
	if want := "403 false,429 false,403 true,429 true"; strings.Join(got, ",") != want {
		t.Fatalf("refusals %v, want %s", got, want)
	}
}
