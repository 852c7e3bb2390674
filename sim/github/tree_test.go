package github

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func newTestRepo() *repo {
	return &repo{blobs: map[string][]byte{}, trees: map[string]*tree{}, commits: map[string]*commit{}, refs: map[string]string{}}
}

// refTreeSHA hashes a path → blob map from scratch, the way git lays trees out: the oracle the
// incremental trees are checked against.
func refTreeSHA(files map[string]string) string {
	type ent struct{ key, mode, name, sha string }
	var es []ent
	sub := map[string]map[string]string{}
	for p, sha := range files {
		if dir, rest, ok := strings.Cut(p, "/"); ok {
			if sub[dir] == nil {
				sub[dir] = map[string]string{}
			}
			sub[dir][rest] = sha
			continue
		}
		es = append(es, ent{p, "100644", p, sha})
	}
	for dir, fs := range sub {
		es = append(es, ent{dir + "/", "40000", dir, refTreeSHA(fs)})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].key < es[j].key })
	var body bytes.Buffer
	for _, e := range es {
		raw, _ := hex.DecodeString(e.sha)
		fmt.Fprintf(&body, "%s %s\x00", e.mode, e.name)
		body.Write(raw)
	}
	h := sha1.Sum([]byte(fmt.Sprintf("tree %d\x00%s", body.Len(), body.Bytes())))
	return hex.EncodeToString(h[:])
}

// The trees are git's: the same files give the sha `git write-tree` gives, names that sort
// differently as files and as directories included.
func TestTreeSHAIsGits(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	files := map[string]string{"a.txt": "1\n", "a/b": "2\n", "a-b": "3\n", "a0/c/d.yaml": "4\n", "z": "5\n", "environments/prod/deployments/acme/config.yaml": "slug: acme\n"}
	dir := t.TempDir()
	rp := newTestRepo()
	blobs := map[string]string{}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		blobs[p] = rp.putBlob([]byte(content))
	}
	run := func(args ...string) string {
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	run("add", ".")
	want := run("write-tree")
	if got := rp.writeTree(blobs); got != want {
		t.Fatalf("tree sha %s, git write-tree says %s", got, want)
	}
	if got := refTreeSHA(blobs); got != want {
		t.Fatalf("the test's oracle gives %s, git %s", got, want)
	}
}

// Changing a few paths at a time in a big directory (chunks split and empty out) gives the same
// trees as building each state from scratch, and the diff between two states is the brute-force
// one.
func TestTreeUpdatesAndDiffs(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 10000))
	rp := newTestRepo()
	files := map[string]string{"README.md": rp.putBlob([]byte("fleet\n"))}
	root := rp.writeTree(files)
	for step := range 400 {
		before, beforeRoot := maps.Clone(files), root
		changes := map[string]*change{}
		for range 1 + rng.IntN(8) {
			slug := fmt.Sprintf("s%04d", rng.IntN(900))
			p := "environments/prod/deployments/" + slug + "/config.yaml"
			if step < 150 || rng.IntN(3) > 0 {
				sha := rp.putBlob([]byte(fmt.Sprintf("slug: %s\nversion: %d\n", slug, rng.IntN(4))))
				changes[p], files[p] = &change{sha: sha}, sha
			} else {
				changes[p] = nil
				delete(files, p)
			}
		}
		root = rp.updateTree(root, changes)
		if want := refTreeSHA(files); root != want {
			t.Fatalf("step %d: tree %s, built from scratch %s", step, root, want)
		}
		var want []string
		for p := range files {
			if before[p] != files[p] {
				want = append(want, p)
			}
		}
		for p := range before {
			if _, ok := files[p]; !ok {
				want = append(want, p)
			}
		}
		sort.Strings(want)
		if got := rp.changedPaths(beforeRoot, root); !slices.Equal(got, want) {
			t.Fatalf("step %d: changed %v, want %v", step, got, want)
		}
		if got := rp.changedPaths("", root); len(got) != len(files) {
			t.Fatalf("step %d: %d paths from the empty tree, %d files", step, len(got), len(files))
		}
	}
	if rp.files(root)["README.md"] == "" || len(rp.files(root)) != len(files) {
		t.Fatalf("flattened tree has %d files, want %d", len(rp.files(root)), len(files))
	}
	deployments, _ := rp.lookup(root, "environments/prod/deployments")
	if n := len(rp.entriesOf(deployments.sha).chunks); n < 3 {
		t.Fatalf("deployments has %d chunks; the test meant to split them", n)
	}
}

// Merge bases and ancestry, by generation number, agree with walking every commit.
func TestMergeBaseAndAncestry(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 12))
	rp := newTestRepo()
	empty := rp.writeTree(nil)
	var shas []string
	for i := range 300 {
		var parents []string
		if i > 0 {
			parents = append(parents, shas[len(shas)-1-rng.IntN(min(len(shas), 20))])
			if rng.IntN(4) == 0 {
				if p := shas[rng.IntN(len(shas))]; p != parents[0] {
					parents = append(parents, p)
				}
			}
		}
		c := rp.newCommit(empty, parents, fmt.Sprint(i), signature{Date: time.Unix(int64(i), 0)})
		shas = append(shas, c.sha)
	}
	ancestors := func(sha string) map[string]int { // commit → distance from sha, breadth first
		dist, queue := map[string]int{sha: 0}, []string{sha}
		for len(queue) > 0 {
			s := queue[0]
			queue = queue[1:]
			for _, p := range rp.commits[s].parents {
				if _, ok := dist[p]; !ok {
					dist[p] = dist[s] + 1
					queue = append(queue, p)
				}
			}
		}
		return dist
	}
	for range 400 {
		a, b := shas[rng.IntN(len(shas))], shas[rng.IntN(len(shas))]
		inA, inB := ancestors(a), ancestors(b)
		if _, want := inB[a]; rp.isAncestor(a, b) != want {
			t.Fatalf("isAncestor(%s, %s) = %v", a, b, !want)
		}
		base := rp.mergeBase(a, b)
		_, okA := inA[base]
		_, okB := inB[base]
		if !okA || !okB {
			t.Fatalf("mergeBase(%s, %s) = %q, not a common ancestor", a, b, base)
		}
		// Best: no other common ancestor descends from it.
		for c := range inA {
			if _, ok := inB[c]; !ok || c == base {
				continue
			}
			if _, below := ancestors(c)[base]; below {
				t.Fatalf("mergeBase(%s, %s) = %s, but %s is a nearer common ancestor", a, b, base, c)
			}
		}
	}
}
