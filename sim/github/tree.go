package github

import (
	"bytes"
	"cmp"
	"container/heap"
	"encoding/hex"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"

	"github.com/sourcegraph/lifecycle/sim"
)

// A config repo holds one folder per instance in one directory, so a fleet of 10,000 makes a
// 10,000-entry tree that every commit changes. Rewriting and flattening whole trees made each
// commit cost O(fleet) time and about a megabyte of memory that history kept (a 10,000-instance
// rollout ran the simulator out of memory). So trees change by path, keep every untouched subtree
// and chunk, are diffed by walking only what differs, and merge bases use generation numbers.

// chunkSize is how many entries a directory keeps per shared chunk: changing one child copies
// one chunk and the chunk list.
const chunkSize = 128

// entries are a directory's children in git order, in chunks that trees share.
type entries struct {
	chunks [][]treeEntry
}

func (es entries) len() int {
	n := 0
	for _, c := range es.chunks {
		n += len(c)
	}
	return n
}

// all yields the entries in git order.
func (es entries) all() iter.Seq[treeEntry] {
	return func(yield func(treeEntry) bool) {
		for _, c := range es.chunks {
			for _, e := range c {
				if !yield(e) {
					return
				}
			}
		}
	}
}

// gitCompare orders entries as git does: by name, a directory as if its name ended in "/".
func gitCompare(a, b treeEntry) int {
	n := min(len(a.name), len(b.name))
	if c := strings.Compare(a.name[:n], b.name[:n]); c != 0 {
		return c
	}
	return cmp.Compare(nextByte(a, n), nextByte(b, n))
}

func nextByte(e treeEntry, n int) int {
	switch {
	case n < len(e.name):
		return int(e.name[n])
	case e.dir:
		return '/'
	}
	return -1
}

// search finds where e goes: the chunk, the index in it, and whether an entry with e's name and
// kind is there.
func (es entries) search(e treeEntry) (ci, i int, found bool) {
	ci = sort.Search(len(es.chunks), func(k int) bool {
		c := es.chunks[k]
		return gitCompare(c[len(c)-1], e) >= 0
	})
	if ci == len(es.chunks) {
		if ci == 0 {
			return 0, 0, false
		}
		return ci - 1, len(es.chunks[ci-1]), false
	}
	i, found = slices.BinarySearchFunc(es.chunks[ci], e, gitCompare)
	return ci, i, found
}

// find returns the child called name, a file or a directory.
func (es entries) find(name string) (treeEntry, bool) {
	for _, dir := range []bool{false, true} {
		if ci, i, ok := es.search(treeEntry{name: name, dir: dir}); ok {
			return es.chunks[ci][i], true
		}
	}
	return treeEntry{}, false
}

// with returns es with e in place of any child of the same name; es is unchanged.
func (es entries) with(e treeEntry) entries {
	es = es.without(e.name)
	ci, i, _ := es.search(e)
	if len(es.chunks) == 0 {
		return entries{chunks: [][]treeEntry{{e}}}
	}
	c := slices.Insert(slices.Clone(es.chunks[ci]), i, e)
	chunks := slices.Clone(es.chunks)
	if len(c) > 2*chunkSize {
		chunks[ci] = c[:chunkSize:chunkSize]
		chunks = slices.Insert(chunks, ci+1, c[chunkSize:])
	} else {
		chunks[ci] = c
	}
	return entries{chunks: chunks}
}

// without returns es less the child called name (if any); es is unchanged.
func (es entries) without(name string) entries {
	for _, dir := range []bool{false, true} {
		ci, i, ok := es.search(treeEntry{name: name, dir: dir})
		if !ok {
			continue
		}
		chunks := slices.Clone(es.chunks)
		if c := slices.Delete(slices.Clone(es.chunks[ci]), i, i+1); len(c) > 0 {
			chunks[ci] = c
		} else {
			chunks = slices.Delete(chunks, ci, ci+1)
		}
		return entries{chunks: chunks}
	}
	return es
}

// storeTree hashes a directory as git does, keeps it and returns its sha.
func (rp *repo) storeTree(es entries) string {
	var body bytes.Buffer
	for e := range es.all() {
		mode := "100644"
		if e.dir {
			mode = "40000"
		}
		raw, _ := hex.DecodeString(e.sha)
		fmt.Fprintf(&body, "%s %s\x00", mode, e.name)
		body.Write(raw)
	}
	sha := gitHash("tree", body.Bytes())
	if _, ok := rp.trees[sha]; !ok {
		rp.trees[sha] = &tree{sha: sha, entries: es}
	}
	return sha
}

// entriesOf a tree sha ("" or unknown: none).
func (rp *repo) entriesOf(treeSHA string) entries {
	if t := rp.trees[treeSHA]; t != nil {
		return t.entries
	}
	return entries{}
}

// treeSHAOf a commit ("" or unknown: "").
func (rp *repo) treeSHAOf(commitSHA string) string {
	if c := rp.commits[commitSHA]; c != nil {
		return c.tree
	}
	return ""
}

// change is what a commit does to one path: set a blob (or, with dir, a tree); nil deletes it.
type change struct {
	sha string
	dir bool
}

// updateTree returns the tree that is treeSHA with changes (path → change, nil deleting the path
// and anything under it) applied; untouched subtrees and chunks are shared, and a directory left
// empty disappears, as in git.
func (rp *repo) updateTree(treeSHA string, changes map[string]*change) string {
	es := rp.entriesOf(treeSHA)
	sub := map[string]map[string]*change{}
	for _, path := range sim.SortedKeys(changes) {
		ch := changes[path]
		if dir, rest, ok := strings.Cut(path, "/"); ok {
			if sub[dir] == nil {
				sub[dir] = map[string]*change{}
			}
			sub[dir][rest] = ch
			continue
		}
		if ch == nil {
			es = es.without(path)
		} else {
			es = es.with(treeEntry{name: path, dir: ch.dir, sha: ch.sha})
		}
	}
	for _, dir := range sim.SortedKeys(sub) {
		cur := ""
		if e, ok := es.find(dir); ok && e.dir {
			cur = e.sha
		}
		sha := rp.updateTree(cur, sub[dir])
		if rp.entriesOf(sha).len() == 0 {
			es = es.without(dir)
		} else {
			es = es.with(treeEntry{name: dir, dir: true, sha: sha})
		}
	}
	return rp.storeTree(es)
}

// blobAt is the blob sha at path in a tree, or "" (no such file).
func (rp *repo) blobAt(treeSHA, path string) string {
	if e, ok := rp.lookup(treeSHA, path); ok && !e.dir {
		return e.sha
	}
	return ""
}

// changedPaths lists, sorted, the files whose blob differs between two trees ("" is empty).
func (rp *repo) changedPaths(before, after string) []string {
	var out []string
	rp.diffTrees(before, after, "", &out)
	sort.Strings(out)
	return out
}

// diffTrees walks two directories side by side, skipping equal subtrees and shared chunks.
func (rp *repo) diffTrees(a, b, prefix string, out *[]string) {
	if a == b {
		return
	}
	ca, cb := cursor{chunks: rp.entriesOf(a).chunks}, cursor{chunks: rp.entriesOf(b).chunks}
	for {
		x, okx := ca.peek()
		y, oky := cb.peek()
		switch {
		case !okx && !oky:
			return
		case okx && oky && ca.i == 0 && cb.i == 0 && sameChunk(ca.chunks[ca.ci], cb.chunks[cb.ci]):
			ca.ci++
			cb.ci++
			continue
		}
		c := 0
		switch {
		case !oky:
			c = -1
		case !okx:
			c = 1
		default:
			c = gitCompare(x, y)
		}
		switch {
		case c < 0:
			rp.diffOne(x, prefix, true, out)
			ca.next()
		case c > 0:
			rp.diffOne(y, prefix, false, out)
			cb.next()
		default:
			if x.sha != y.sha {
				if x.dir {
					rp.diffTrees(x.sha, y.sha, prefix+x.name+"/", out)
				} else {
					*out = append(*out, prefix+x.name)
				}
			}
			ca.next()
			cb.next()
		}
	}
}

// diffOne lists an entry only one side has: a file, or every file under a directory.
func (rp *repo) diffOne(e treeEntry, prefix string, before bool, out *[]string) {
	switch {
	case !e.dir:
		*out = append(*out, prefix+e.name)
	case before:
		rp.diffTrees(e.sha, "", prefix+e.name+"/", out)
	default:
		rp.diffTrees("", e.sha, prefix+e.name+"/", out)
	}
}

func sameChunk(a, b []treeEntry) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

type cursor struct {
	chunks [][]treeEntry
	ci, i  int
}

func (c *cursor) peek() (treeEntry, bool) {
	if c.ci >= len(c.chunks) {
		return treeEntry{}, false
	}
	return c.chunks[c.ci][c.i], true
}

func (c *cursor) next() {
	if c.i++; c.i >= len(c.chunks[c.ci]) {
		c.ci, c.i = c.ci+1, 0
	}
}

// isAncestor reports whether anc is reachable from desc (desc included). Commits at or below anc's
// generation cannot lead to it, so the walk stops there.
func (rp *repo) isAncestor(anc, desc string) bool {
	a := rp.commits[anc]
	if a == nil {
		return false
	}
	seen := map[string]bool{}
	stack := []string{desc}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == anc {
			return true
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		if c := rp.commits[s]; c != nil && c.gen > a.gen {
			stack = append(stack, c.parents...)
		}
	}
	return false
}

// mergeBase is a best common ancestor of a and b, or "": both sides are painted down in
// decreasing generation, so a commit's paint is complete when it is reached, and the first commit
// painted by both is the nearest (git's paint_down_to_common).
func (rp *repo) mergeBase(a, b string) string {
	if rp.commits[a] == nil || rp.commits[b] == nil {
		return ""
	}
	if a == b {
		return a
	}
	paint := map[string]uint8{a: 1, b: 2}
	q := &byGeneration{rp: rp, shas: []string{a, b}}
	heap.Init(q)
	done := map[string]bool{}
	for q.Len() > 0 {
		s := heap.Pop(q).(string)
		if done[s] {
			continue
		}
		done[s] = true
		if paint[s] == 3 {
			return s
		}
		if c := rp.commits[s]; c != nil {
			for _, p := range c.parents {
				if paint[p]|paint[s] != paint[p] {
					paint[p] |= paint[s]
					heap.Push(q, p)
				}
			}
		}
	}
	return ""
}

// byGeneration is a max-heap of commit shas by generation.
type byGeneration struct {
	rp   *repo
	shas []string
}

func (q byGeneration) Len() int { return len(q.shas) }
func (q byGeneration) Less(i, j int) bool {
	return q.rp.generation(q.shas[i]) > q.rp.generation(q.shas[j])
}
func (q byGeneration) Swap(i, j int) { q.shas[i], q.shas[j] = q.shas[j], q.shas[i] }
func (q *byGeneration) Push(x any)   { q.shas = append(q.shas, x.(string)) }
func (q *byGeneration) Pop() any {
	s := q.shas[len(q.shas)-1]
	q.shas = q.shas[:len(q.shas)-1]
	return s
}

func (rp *repo) generation(sha string) int {
	if c := rp.commits[sha]; c != nil {
		return c.gen
	}
	return 0
}
