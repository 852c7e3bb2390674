package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuthFromEnv(t *testing.T) {
	a, err := authFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.requesterTeams, []string{"sourcegraph/ce", "sourcegraph/cloud"}) || len(a.allowlist) != 0 {
		t.Errorf("defaults: %+v", a)
	}
	t.Setenv("LIFECYCLE_REQUESTER_TEAMS", " sourcegraph/ce , sourcegraph/sales-eng,sourcegraph/ce,")
	t.Setenv("LIFECYCLE_REQUESTER_ALLOWLIST", "Dave, @erin ,dave")
	if a, err = authFromEnv(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.requesterTeams, []string{"sourcegraph/ce", "sourcegraph/sales-eng"}) || !slices.Equal(a.allowlist, []string{"dave", "erin"}) {
		t.Errorf("parsed: %+v", a)
	}
	if !a.allowlisted("DAVE") || a.allowlisted("") || a.allowlisted("mallory") {
		t.Error("the allowlist is case-insensitive and lists only its logins")
	}
}

func TestAuthFromEnvErrorsNameTheVariable(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"LIFECYCLE_REQUESTER_TEAMS", "sourcegraph", "org/team"},
		{"LIFECYCLE_REQUESTER_TEAMS", "sourcegraph/ce/x", "org/team"},
		{"LIFECYCLE_REQUESTER_TEAMS", "sourcegraph/c e", "org/team"},
		{"LIFECYCLE_REQUESTER_TEAMS", " , ", "at least one"},
		{"LIFECYCLE_REQUESTER_ALLOWLIST", "alice,bob smith", "GitHub login"},
		{"LIFECYCLE_REQUESTER_ALLOWLIST", "-alice", "GitHub login"},
		{"LIFECYCLE_REQUESTER_ALLOWLIST", "dependabot[bot]", "GitHub login"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			_, err := authFromEnv()
			if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s and %q", err, tc.name, tc.want)
			}
		})
	}
}

func TestTeamsText(t *testing.T) {
	for teams, want := range map[string]string{
		"a/b":         "`a/b`",
		"a/b,c/d":     "`a/b` or `c/d`",
		"a/b,c/d,e/f": "`a/b`, `c/d` or `e/f`",
	} {
		if got := (auth{requesterTeams: strings.Split(teams, ",")}).teamsText(); got != want {
			t.Errorf("%s: %s, want %s", teams, got, want)
		}
	}
}

// Answers, yes and no, are reused until they expire; errors are not.
func TestMembershipsCacheAnswersNotErrors(t *testing.T) {
	gh := newFakeGitHub(t)
	m := newMemberships(gh.client(), time.Minute)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	ask := func(team, login string, want bool) {
		t.Helper()
		got, err := m.isMember(ctx, team, login)
		if err != nil || got != want {
			t.Fatalf("%s in %s: %v, %v; want %v", login, team, got, err, want)
		}
	}
	ask("sourcegraph/cloud", "carol", true)
	ask("sourcegraph/cloud", "mallory", false)
	ask("sourcegraph/cloud", "Carol", true) // logins and teams are case-insensitive
	ask("Sourcegraph/Cloud", "MALLORY", false)
	if n := gh.checks(); n != 2 {
		t.Fatalf("%d API calls, want 2 (one per answer)", n)
	}
	// Not a login or a team GitHub could have: no answer from GitHub is needed.
	ask("sourcegraph/cloud", "../../orgs", false)
	ask("sourcegraph/cloud", "", false)
	ask("sourcegraph", "carol", false)
	if n := gh.checks(); n != 2 {
		t.Fatalf("%d API calls for impossible logins", n-2)
	}

	// Carol leaves the team: the answer holds until it expires.
	gh.mu.Lock()
	gh.teams["sourcegraph/cloud"] = []string{"bob"}
	gh.mu.Unlock()
	now = now.Add(59 * time.Second)
	ask("sourcegraph/cloud", "carol", true)
	now = now.Add(time.Second)
	ask("sourcegraph/cloud", "carol", false)
	if n := gh.checks(); n != 3 {
		t.Fatalf("%d API calls, want 3", n)
	}

	gh.mu.Lock()
	gh.failTeams = true
	gh.mu.Unlock()
	for range 2 {
		if _, err := m.isMember(ctx, "sourcegraph/ce", "alice"); err == nil {
			t.Fatal("a GitHub failure must be an error, not a no")
		}
	}
	if n := gh.checks(); n != 5 {
		t.Fatalf("%d API calls, want 5: a failure is asked again", n)
	}
	gh.mu.Lock()
	gh.failTeams = false
	gh.mu.Unlock()
	ask("sourcegraph/ce", "alice", true)
}

func TestMembershipsAreSafeForConcurrentUse(t *testing.T) {
	gh := newFakeGitHub(t)
	m := newMemberships(gh.client(), time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			login := []string{"alice", "bob", "carol", "mallory"}[i%4]
			want := login == "bob" || login == "carol"
			got, err := m.isMember(context.Background(), "sourcegraph/cloud", login)
			if err != nil || got != want {
				errs <- fmt.Errorf("%s: %v, %v", login, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The cache stays bounded whatever logins arrive.
func TestMembershipsCacheIsBounded(t *testing.T) {
	m := newMemberships(nil, time.Minute)
	for i := range maxMemberships + 10 {
		m.remember(membershipKey{"sourcegraph/ce", fmt.Sprintf("user%d", i)}, false)
	}
	if n := len(m.answers); n > maxMemberships {
		t.Fatalf("%d cached answers, bound %d", n, maxMemberships)
	}
}
