package activities

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v55/github"
)

// GitHub's secondary limits allow about 500 content-creating requests an hour per token, and one
// pull request costs six of them (tree, commit, ref, pull request, labels, merge). A fleet rollout
// changes one config.yaml per instance, so one pull request per change spends the hour on 80
// instances. The batcher coalesces the config changes that reach this worker close together (a
// rollout's upgrades finish their backups at about the same time) into one pull request of
// several files: six writes for the batch instead of six per instance. Every change still goes
// through a pull request that links its issue: the batch's body lists each change with its links.
//
// Identity survives a crash: the body carries one marker per change (its change ID and the hash
// of its content). A retried change first looks for an open batch pull request holding it and
// merges that one instead of opening another; a change already on the default branch finds the
// merged pull request that carried it among the recently closed ones.

const (
	// crBatchMax bounds a batch: its body stays far under GitHub's 65,536 characters and one
	// change that fails CI holds up few others.
	crBatchMax = 20
	// crBatchMaxWaits × the wait is the longest a change waits for company.
	crBatchMaxWaits = 10
	// crBatchPrefix names batch branches (batch/<the first change's ID>).
	crBatchPrefix = "batch/"
	// crBatchTimeout bounds one batch's work, which outlives the activity that started it (the
	// members' activities time out and retry on their own; a retry finds the batch's pull request).
	crBatchTimeout = 15 * time.Minute
	// crMemberBeat is how often a member waiting on its batch heartbeats.
	crMemberBeat = 5 * time.Second
)

// crBatcher collects the changes waiting for their batch: a change waits until none has joined
// for one wait (config.Cloud.ConfigBatchWait), at most crBatchMaxWaits waits, or until every
// change of its group (a rollout's batch, ChangeConfigInput.Batch) is there. Wait 0 turns
// batching off.
type crBatcher struct {
	wait    time.Duration
	mu      sync.Mutex
	pending []*crMember
	first   time.Time
	timer   *time.Timer
}

// crMember is one change in a batch; done receives its outcome once. gone is closed when its
// activity stopped waiting (timed out, cancelled): a batch all of whose members are gone stops.
type crMember struct {
	q    crChange
	done chan crOutcome
	gone chan struct{}
	// step is the batch's progress, for the member's heartbeat.
	mu   sync.Mutex
	step crChangeProgress
}

type crOutcome struct {
	res ChangeResult
	err error
}

func (m *crMember) setStep(p crChangeProgress) {
	m.mu.Lock()
	m.step = p
	m.mu.Unlock()
}

func (m *crMember) progress() crChangeProgress {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.step
}

func (m *crMember) finish(res ChangeResult, err error) {
	select {
	case m.done <- crOutcome{res, err}:
	default: // already answered
	}
}

// marker is the member's line in a batch body: its change ID and a hash of what it writes.
func (m *crMember) marker() string {
	return crMarker(m.q.changeID, m.q.want)
}

func crMarker(changeID string, want []byte) string {
	return fmt.Sprintf("<!-- lifecycle:change %s %s -->", changeID, gitBlobSHA(want))
}

// gitBlobSHA is git's object ID of a file's content ("" for a deleted file): the blob SHA GitHub
// reports, computed without asking it.
func gitBlobSHA(content []byte) string {
	if content == nil {
		return ""
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// submit queues a prepared change for the next batch and waits for its outcome, heartbeating.
func (r *ConfigRepo) submit(ctx context.Context, q crChange) (ChangeResult, error) {
	m := &crMember{q: q, done: make(chan crOutcome, 1), gone: make(chan struct{}), step: crChangeProgress{Step: "wait for a batch", Branch: q.branch}}
	b := r.batch
	b.mu.Lock()
	now := time.Now()
	if len(b.pending) == 0 {
		b.first = now
	}
	b.pending = append(b.pending, m)
	if b.timer != nil {
		b.timer.Stop()
	}
	if len(b.pending) >= crBatchMax || b.complete(q.batch, q.batchSize) {
		r.flushLocked()
	} else {
		// Wait for company until the batch is quiet for one wait, or has waited its longest.
		d := min(b.wait, b.first.Add(crBatchMaxWaits*b.wait).Sub(now))
		b.timer = time.AfterFunc(d, r.flush)
	}
	b.mu.Unlock()

	beat := time.NewTicker(crMemberBeat)
	defer beat.Stop()
	for {
		select {
		case o := <-m.done:
			return o.res, o.err
		case <-beat.C:
			heartbeat(ctx, m.progress())
		case <-ctx.Done():
			// The batch goes on for the others (its retry finds the outcome on GitHub); with no
			// one left waiting it stops, as the activity's own work would have.
			close(m.gone)
			return ChangeResult{}, ctx.Err()
		}
	}
}

// complete reports whether every change of the named group has arrived.
func (b *crBatcher) complete(group string, size int) bool {
	if group == "" || size < 1 {
		return false
	}
	n := 0
	for _, m := range b.pending {
		if m.q.batch == group {
			n++
		}
	}
	return n >= size
}

func (r *ConfigRepo) flush() {
	r.batch.mu.Lock()
	defer r.batch.mu.Unlock()
	r.flushLocked()
}

func (r *ConfigRepo) flushLocked() {
	b := r.batch
	ms := b.pending
	b.pending = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if len(ms) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), crBatchTimeout)
		defer cancel()
		go func() {
			for _, m := range ms {
				select {
				case <-m.gone:
				case <-ctx.Done():
					return
				}
			}
			cancel() // every member gave up: their retries make the change again
		}()
		r.applyBatch(ctx, ms)
	}()
}

// applyBatch settles every member: those already carried by an open batch pull request go with
// it, one alone takes the single-change path (its own branch), the rest share a new batch.
func (r *ConfigRepo) applyBatch(ctx context.Context, ms []*crMember) {
	defer func() {
		for _, m := range ms { // nothing may be left waiting, whatever happened
			m.finish(ChangeResult{}, Transient(ErrBusy, "the config change's batch ended without an answer; retrying", nil, 0))
		}
	}()
	rest, err := r.resumeOpenBatches(ctx, ms)
	if err != nil {
		for _, m := range ms {
			m.finish(ChangeResult{}, classify("looking for open batch pull requests in "+r.full(), err))
		}
		return
	}
	switch len(rest) {
	case 0:
	case 1:
		m := rest[0]
		res, err := r.applyRaw(ctx, m.q)
		if err != nil {
			err = classify(m.q.what, err)
		} else if !res.Changed {
			// Already on the default branch: maybe merged by a batch whose answer was lost.
			if closed, lerr := r.listPulls(ctx, "closed"); lerr == nil {
				res = r.alreadyMerged(m, closed, res.SHA)
			}
		}
		m.finish(res, err)
	default:
		r.applyMany(ctx, rest)
	}
}

// resumeOpenBatches finds the members an open batch pull request already holds (a retry after a
// lost answer, or a recheck of a batch waiting for its review) and merges that pull request for
// them; it returns the members left for a new batch.
func (r *ConfigRepo) resumeOpenBatches(ctx context.Context, ms []*crMember) ([]*crMember, error) {
	open, err := r.listPulls(ctx, "open")
	if err != nil {
		return nil, err
	}
	var rest []*crMember
	held := map[*github.PullRequest][]*crMember{}
	var order []*github.PullRequest
	for _, m := range ms {
		var in *github.PullRequest
		for _, pr := range open {
			if strings.HasPrefix(pr.GetHead().GetRef(), crBatchPrefix) && strings.Contains(pr.GetBody(), m.marker()) {
				in = pr
				break
			}
		}
		if in == nil {
			rest = append(rest, m)
			continue
		}
		if held[in] == nil {
			order = append(order, in)
		}
		held[in] = append(held[in], m)
	}
	for _, pr := range order {
		rest = append(rest, r.remerge(ctx, pr, held[pr])...)
	}
	return rest, nil
}

// remerge merges an open batch pull request as it stands. When it cannot be merged as it is (the
// default branch moved), it is closed and its members go into a new batch.
func (r *ConfigRepo) remerge(ctx context.Context, pr *github.PullRequest, ms []*crMember) (again []*crMember) {
	q := crChange{branch: pr.GetHead().GetRef(), title: pr.GetTitle(), merge: "squash",
		what: fmt.Sprintf("batch of %d config changes in %s (branch %s)", len(ms), r.full(), pr.GetHead().GetRef())}
	prog := crChangeProgress{Step: "merge the open batch", Branch: q.branch, PRNumber: pr.GetNumber()}
	for _, m := range ms {
		m.setStep(prog)
	}
	res, err := r.mergeOnce(ctx, q, pr, time.Now().Add(r.checkWait()), &prog)
	switch {
	case err == nil:
		r.settleMerged(ctx, ms, q.branch, pr, res)
		return nil
	case errors.As(err, new(crMoved)):
		if err := r.abandon(ctx, q, pr); err != nil {
			r.failAll(ms, q.what, err)
			return nil
		}
		return ms
	default:
		r.failAll(ms, q.what, err)
		return nil
	}
}

// crMoved is a merge refused because the default branch moved under the pull request (405 not
// mergeable, 409): the change must be re-applied on top of it. Error is GitHub's message.
type crMoved struct{ cause error }

func (e crMoved) Error() string { return ghMessage(e.cause) }

// mergeOnce waits for the head's required checks (reading, never rebasing) and merges it, trying
// again once CI has reported. A refusal for a review or a failing check is the typed error the
// step parks on; a moved default branch is crMoved, unless an earlier attempt merged after all.
func (r *ConfigRepo) mergeOnce(ctx context.Context, q crChange, pr *github.PullRequest, deadline time.Time, prog *crChangeProgress) (string, error) {
	for try := 1; ; try++ {
		prog.Step, prog.PRNumber = fmt.Sprintf("merge (try %d)", try), pr.GetNumber()
		heartbeat(ctx, *prog)
		head, err := r.branchHead(ctx, q.branch)
		if err != nil {
			return "", err
		}
		if err := r.waitChecks(ctx, q, pr, head, deadline, prog); err != nil {
			return "", err
		}
		var mr *github.PullRequestMergeResult
		err = ghDo(ctx, func() (err error) {
			mr, _, err = r.client.PullRequests.Merge(ctx, r.Owner, r.Repo, pr.GetNumber(), "",
				&github.PullRequestOptions{CommitTitle: fmt.Sprintf("%s (#%d)", q.title, pr.GetNumber()), SHA: head, MergeMethod: q.merge})
			return err
		})
		if err == nil {
			return mr.GetSHA(), nil
		}
		st := ghStatus(err)
		if st != http.StatusMethodNotAllowed && st != http.StatusConflict {
			return "", err
		}
		if st == http.StatusMethodNotAllowed {
			switch msg := ghMessage(err); {
			case crNeedsReview(msg):
				return "", NeedsReview(q.what, pr.GetHTMLURL(), msg, err)
			case strings.HasPrefix(msg, "Required status check") && strings.Contains(msg, "is failing"):
				return "", Permanent(ErrPrecondition, fmt.Sprintf("%s: pull request %s: %s", q.what, pr.GetHTMLURL(), msg),
					"look at the failed check on the pull request; fix what it found (or re-run it), then retry this step", err)
			case strings.HasPrefix(msg, "Required status check"):
				// CI has not reported on the head yet: wait (reading) until it has, do not rebase.
				if err := r.waitReported(ctx, q, pr, head, deadline); err != nil {
					return "", err
				}
				continue
			}
		}
		// Not mergeable or the head moved: maybe an earlier attempt merged after all.
		var got *github.PullRequest
		if gerr := ghDo(ctx, func() (err error) {
			got, _, err = r.client.PullRequests.Get(ctx, r.Owner, r.Repo, pr.GetNumber())
			return err
		}); gerr != nil {
			return "", gerr
		} else if got.GetMerged() {
			return got.GetMergeCommitSHA(), nil
		}
		return "", crMoved{err}
	}
}

// applyMany makes one pull request of several changes: each member is checked against the default
// branch (already there, or changed since it was read), the others are committed together, and the
// pull request is merged, rebuilt on the new default branch when it moved (at most crMaxRebases).
func (r *ConfigRepo) applyMany(ctx context.Context, ms []*crMember) {
	lead := ms[0].q
	id, _ := crBranchSafe(lead.changeID) // valid: prepared
	q := crChange{branch: crBatchPrefix + id, merge: "squash"}
	q.what = fmt.Sprintf("batch of %d config changes in %s (branch %s)", len(ms), r.full(), q.branch)
	var closed []*github.PullRequest // the recently merged pull requests, read once when needed
	var pr *github.PullRequest
	for attempt := 0; ; attempt++ {
		mainSHA, err := r.branchHead(ctx, r.Base)
		if err != nil {
			r.failAll(ms, q.what, err)
			return
		}
		var live []*crMember
		for _, m := range ms {
			cur, curSHA, found, err := r.readFile(ctx, m.q.path, mainSHA)
			switch {
			case err != nil:
				m.finish(ChangeResult{}, classify(m.q.what, err))
			case crSameConfig(cur, found, m.q.want):
				if closed == nil {
					closed, _ = r.listPulls(ctx, "closed")
				}
				m.finish(r.alreadyMerged(m, closed, curSHA), nil)
			default:
				if err := r.precondition(m.q, curSHA, found); err != nil {
					m.finish(ChangeResult{}, err)
					continue
				}
				live = append(live, m)
			}
		}
		if len(live) == 0 {
			if pr != nil {
				_ = r.abandon(ctx, q, pr)
			}
			return
		}
		ms = live
		q.title, q.body, q.labels = crBatchText(ms)
		prog := crChangeProgress{Step: "write branch", Branch: q.branch}
		for _, m := range ms {
			m.setStep(prog)
		}
		var entries []*github.TreeEntry
		for _, m := range ms {
			entries = append(entries, &github.TreeEntry{Path: github.String(m.q.path), Mode: github.String("100644"), Type: github.String("blob"),
				Content: github.String(string(m.q.want))})
		}
		if err := r.commitToBranch(ctx, q.branch, pr != nil, mainSHA, entries, q.title+"\n\n"+q.body); err != nil {
			r.failAll(ms, q.what, err)
			return
		}
		if pr == nil {
			if pr, err = r.openPull(ctx, q); err != nil {
				r.failAll(ms, q.what, err)
				return
			}
			if len(q.labels) > 0 {
				if err := ghDo(ctx, func() (err error) {
					_, _, err = r.client.Issues.AddLabelsToIssue(ctx, r.Owner, r.Repo, pr.GetNumber(), q.labels)
					return err
				}); err != nil {
					r.failAll(ms, q.what, err)
					return
				}
			}
		} else if err := ghDo(ctx, func() (err error) { // the members changed: so does the body
			_, _, err = r.client.PullRequests.Edit(ctx, r.Owner, r.Repo, pr.GetNumber(), &github.PullRequest{Title: &q.title, Body: &q.body})
			return err
		}); err != nil {
			r.failAll(ms, q.what, err)
			return
		}
		prog.Step, prog.PRNumber = "merge", pr.GetNumber()
		for _, m := range ms {
			m.setStep(prog)
		}
		sha, err := r.mergeOnce(ctx, q, pr, time.Now().Add(r.checkWait()), &prog)
		switch {
		case err == nil:
			r.settleMerged(ctx, ms, q.branch, pr, sha)
			return
		case !errors.As(err, new(crMoved)):
			r.failAll(ms, q.what, err)
			return
		case attempt+1 >= crMaxRebases:
			r.failAll(ms, q.what, Permanent(ErrConflict,
				fmt.Sprintf("%s: pull request %s cannot be merged after %d attempts", q.what, pr.GetHTMLURL(), crMaxRebases),
				"open the pull request, resolve what blocks the merge and merge it; then retry this step, which finds the merged pull request", nil))
			return
		}
		// The default branch moved: check every member again and rebuild the commit on top of it.
	}
}

// alreadyMerged is the outcome of a change the default branch already holds: the merged batch
// that carried it when one of the recent ones names it, otherwise "no change needed".
func (r *ConfigRepo) alreadyMerged(m *crMember, closed []*github.PullRequest, blobSHA string) ChangeResult {
	for _, pr := range closed {
		if pr.MergedAt != nil && strings.Contains(pr.GetBody(), m.marker()) {
			return ChangeResult{Changed: true, Branch: pr.GetHead().GetRef(), PRNumber: pr.GetNumber(), PRURL: pr.GetHTMLURL(),
				MergeSHA: pr.GetMergeCommitSHA(), SHA: blobSHA}
		}
	}
	return ChangeResult{Changed: false, SHA: blobSHA}
}

// settleMerged answers every member of a merged batch.
func (r *ConfigRepo) settleMerged(ctx context.Context, ms []*crMember, branch string, pr *github.PullRequest, mergeSHA string) {
	if !r.deletesMergedBranches(ctx) {
		r.deleteBranch(ctx, branch)
	}
	for _, m := range ms {
		m.finish(ChangeResult{Changed: true, Branch: branch, PRNumber: pr.GetNumber(), PRURL: pr.GetHTMLURL(), MergeSHA: mergeSHA,
			SHA: gitBlobSHA(m.q.want)}, nil)
	}
}

func (r *ConfigRepo) failAll(ms []*crMember, what string, err error) {
	err = classify(what, err)
	for _, m := range ms {
		m.finish(ChangeResult{}, err)
	}
}

// listPulls is the first page (100, newest first) of the config repo's pull requests in a state.
func (r *ConfigRepo) listPulls(ctx context.Context, state string) ([]*github.PullRequest, error) {
	var prs []*github.PullRequest
	err := ghDo(ctx, func() (err error) {
		prs, _, err = r.client.PullRequests.List(ctx, r.Owner, r.Repo, &github.PullRequestListOptions{State: state, Base: r.Base,
			ListOptions: github.ListOptions{PerPage: 100}})
		return err
	})
	return prs, err
}

// crBatchText is a batch's title, body and labels: the body keeps each change's own text (which
// links its issue and run) under its slug, with the change's marker.
func crBatchText(ms []*crMember) (title, body string, labels []string) {
	slugs := make([]string, len(ms))
	what := map[string]bool{}
	var b strings.Builder
	b.WriteString(fmt.Sprintf("%d config changes, merged together to spend fewer of GitHub's writes.\n", len(ms)))
	for i, m := range ms {
		slugs[i] = m.q.slug
		what[strings.TrimPrefix(m.q.title, m.q.slug+": ")] = true
		b.WriteString(fmt.Sprintf("\n### `%s`: %s\n\n%s\n%s\n", m.q.slug, strings.TrimPrefix(m.q.title, m.q.slug+": "), strings.TrimSpace(m.q.body), m.marker()))
		for _, l := range m.q.labels {
			if !slices.Contains(labels, l) {
				labels = append(labels, l)
			}
		}
	}
	sort.Strings(labels)
	verb := "update config.yaml"
	if len(what) == 1 {
		for w := range what {
			verb = w
		}
	}
	title = fmt.Sprintf("%s: %s", strings.Join(slugs, ", "), verb)
	if len(title) > 200 {
		title = fmt.Sprintf("%d instances: %s", len(ms), verb)
	}
	return title, b.String(), labels
}
