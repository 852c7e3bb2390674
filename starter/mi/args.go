package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sourcegraph/lifecycle/workflows"
)

// defaultOwner and defaultRepo are where requests are filed: an issue (or a rollout's tracking
// issue) given by number alone is sourcegraph/customer#N.
const defaultOwner, defaultRepo = "sourcegraph", "customer"

// newFlags is a flag set that reports errors to the caller instead of printing them.
func newFlags(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet("mi "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseArgs parses flags anywhere on the line ("mi decide acme skip -reason R" as well as
// "mi decide -reason R acme skip") and returns the positional arguments. Everything after "--" is
// positional.
func parseArgs(cmd string, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef(cmd, "%s", flagErrorText(fs, err))
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagsSet lists the flags given on the command line.
func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// parseIssue reads an issue reference: owner/repo#N, or #N / N for sourcegraph/customer.
func parseIssue(s string) (workflows.IssueRef, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("issue %q: write it as owner/repo#N, e.g. %s/%s#123 (a number alone means %s/%s)", s, defaultOwner, defaultRepo, defaultOwner, defaultRepo)
	repo, num, found := strings.Cut(s, "#")
	if !found {
		repo, num = "", s
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return workflows.IssueRef{}, bad
	}
	ref := workflows.IssueRef{Owner: defaultOwner, Repo: defaultRepo, Number: n}
	if repo != "" {
		owner, name, ok := strings.Cut(repo, "/")
		if !ok || !validRepoPart(owner) || !validRepoPart(name) {
			return workflows.IssueRef{}, bad
		}
		ref.Owner, ref.Repo = owner, name
	}
	return ref, nil
}

// parseRepo reads owner/name.
func parseRepo(s string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || !validRepoPart(owner) || !validRepoPart(name) {
		return "", "", fmt.Errorf("-repo %q: write it as owner/name, e.g. %s/%s", s, defaultOwner, defaultRepo)
	}
	return owner, name, nil
}

func validRepoPart(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// quote shows a value in a suggested command line, quoted when it needs it.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'$`\\!*?;&|<>()") {
		return s
	}
	return strconv.Quote(s)
}

// flagErrorText words the flag package's errors, suggesting the flag meant for a misspelt one.
func flagErrorText(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "flag provided but not defined: -")
	if !ok {
		return msg
	}
	var names []string
	best, bestDist := "", 3
	fs.VisitAll(func(f *flag.Flag) {
		names = append(names, "-"+f.Name)
		if d := editDistance(strings.TrimPrefix(name, "-"), f.Name); d < bestDist {
			best, bestDist = f.Name, d
		}
	})
	if best != "" {
		return fmt.Sprintf("there is no flag -%s; did you mean -%s?", name, best)
	}
	if len(names) == 0 {
		return fmt.Sprintf("there is no flag -%s: this command takes no flags", name)
	}
	return fmt.Sprintf("there is no flag -%s; the flags are %s", name, strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
