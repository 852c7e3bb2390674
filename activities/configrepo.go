package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/internal/config"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// ConfigRepo reads and changes the GitOps config repo: one config.yaml per instance
// at environments/<env>/deployments/<slug>/config.yaml. Merging to the default branch is the
// deploy. Every change goes through a branch, a pull request and a merge, so each leaves the audit
// trail SOC2 requires (CI-98); nothing here pushes to the default branch directly.
type ConfigRepo struct {
	client *github.Client
	Owner  string
	Repo   string
	Env    string
	Base   string // the default branch the deploy follows: "main"

	blobs *crFleetCache
	// CheckPoll and CheckWait pace the wait for a protected default branch's required status
	// checks: the head's combined status and check runs are read every CheckPoll, for at most
	// CheckWait per attempt, after which the attempt ends Busy and Temporal retries it (defaults
	// 10 s and 4 min).
	CheckPoll, CheckWait time.Duration

	// autoDelete caches the repository's delete_branch_on_merge (read once, when a change first
	// merges): GitHub then deletes the merged branch, one write fewer per change.
	autoDeleteMu   sync.Mutex
	autoDelete     bool
	autoDeleteRead bool
	// batch coalesces concurrent changes into one pull request (configbatch.go); nil or a zero
	// wait: one pull request per change.
	batch *crBatcher
	// noRecursiveTree makes ListFleet use its fallback for truncated trees (tests only).
	noRecursiveTree bool
}

// NewConfigRepo shares gh's client (and so its view of GitHub's rate limits). c.ConfigRepo is
// "owner/name", c.ConfigEnv the environment folder.
func NewConfigRepo(gh *GitHub, c config.Cloud) (*ConfigRepo, error) {
	owner, repo, ok := strings.Cut(c.ConfigRepo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("config repo %q (CONFIG_REPO) must be owner/name, e.g. sourcegraph/cloud", c.ConfigRepo)
	}
	if c.ConfigEnv == "" || strings.ContainsAny(c.ConfigEnv, "/ ") {
		return nil, fmt.Errorf("config environment %q (CONFIG_ENV) must be a folder name such as prod or dev", c.ConfigEnv)
	}
	return &ConfigRepo{client: gh.client, Owner: owner, Repo: repo, Env: c.ConfigEnv, Base: "main", blobs: &crFleetCache{m: map[string]FleetEntry{}},
		batch: &crBatcher{wait: c.ConfigBatchWait}}, nil
}

func (r *ConfigRepo) full() string { return r.Owner + "/" + r.Repo }

// ReadConfigInput names an instance.
type ReadConfigInput struct {
	Slug string `json:"slug"`
}

// ReadConfigResult is the instance's config.yaml on the default branch. SHA is the file's blob
// SHA: pass it back as ChangeConfigInput.BaseSHA so a change made in between is not overwritten.
type ReadConfigResult struct {
	Found  bool         `json:"found"`
	Config *spec.Config `json:"config,omitempty"`
	SHA    string       `json:"sha,omitempty"`
	Path   string       `json:"path"`
}

// ReadInstanceConfig reads an instance's config.yaml from the default branch. An absent file is
// Found: false, not an error (create checks exactly that); an unreadable one is a permanent error
// because nothing a retry does will fix it.
func (r *ConfigRepo) ReadInstanceConfig(ctx context.Context, in ReadConfigInput) (ReadConfigResult, error) {
	p := spec.ConfigPath(r.Env, in.Slug)
	if err := spec.ValidateSlug("slug", in.Slug); err != nil {
		return ReadConfigResult{}, Permanent(ErrInvalidArgument, "read config: "+err.Error(), "fix the slug", nil)
	}
	b, sha, found, err := r.readFile(ctx, p, r.Base)
	if err != nil {
		return ReadConfigResult{}, classify(fmt.Sprintf("read %s from %s", p, r.full()), err)
	}
	out := ReadConfigResult{Found: found, SHA: sha, Path: p}
	if !found {
		return out, nil
	}
	if out.Config, err = spec.Parse(b); err != nil {
		return ReadConfigResult{}, Permanent(ErrPrecondition, fmt.Sprintf("%s in %s is not a valid config: %v", p, r.full(), err),
			"fix the file in the config repo through a pull request, then retry", nil)
	}
	return out, nil
}

// readFile reads a file at a ref; an absent file is found=false.
func (r *ConfigRepo) readFile(ctx context.Context, p, ref string) (content []byte, sha string, found bool, err error) {
	var fc *github.RepositoryContent
	err = ghDo(ctx, func() (err error) {
		fc, _, _, err = r.client.Repositories.GetContents(ctx, r.Owner, r.Repo, p, &github.RepositoryContentGetOptions{Ref: ref})
		return err
	})
	if ghStatus(err) == http.StatusNotFound {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	if fc == nil {
		return nil, "", false, fmt.Errorf("%s is a directory, not a file", p)
	}
	s, err := fc.GetContent()
	if err != nil {
		return nil, "", false, fmt.Errorf("decoding %s: %w", p, err)
	}
	return []byte(s), fc.GetSHA(), true, nil
}

// ---- the fleet ----

// FleetEntry is one instance as its config.yaml declares it. Error is set (and the other fields
// from the path only) when the file cannot be parsed, so one broken file does not hide the fleet.
type FleetEntry struct {
	Slug           string `json:"slug"`
	Type           string `json:"type,omitempty"`
	Version        string `json:"version,omitempty"`
	ReleaseChannel string `json:"releaseChannel,omitempty"`
	Domain         string `json:"domain,omitempty"`
	Region         string `json:"region,omitempty"`
	Size           string `json:"size,omitempty"`
	Suspended      bool   `json:"suspended,omitempty"`
	Alerting       bool   `json:"alerting,omitempty"`
	// MaintenanceWindow is spec.maintenanceWindow (nil: none, upgrade any time). Read-only: cached
	// entries are handed out as copies.
	MaintenanceWindow *spec.MaintenanceWindow `json:"maintenanceWindow,omitempty"`
	// Account is the customer's sourcegraph/accounts link from the label "account"
	// (https://github.com/sourcegraph/accounts/issues/NNN): tracking issues name customers by it,
	// never by name. A label that is not such a link is left out, so a customer
	// name put there by hand never reaches an issue.
	Account string `json:"account,omitempty"`
	// IPAllowlist is spec.ipAllowlist, the customer's ranges (empty: open to everyone): the
	// allowlist drift check compares it with Cloudflare. Read-only like MaintenanceWindow.
	IPAllowlist []string `json:"ipAllowlist,omitempty"`
	SHA         string   `json:"sha"`
	Error       string   `json:"error,omitempty"`
}

// AccountLabel is the metadata label holding the customer's sourcegraph/accounts link.
const AccountLabel = "account"

// clone copies the entry so callers cannot change the cached window.
func (e FleetEntry) clone() FleetEntry {
	if e.MaintenanceWindow != nil {
		w := *e.MaintenanceWindow
		w.Days = slices.Clone(w.Days)
		e.MaintenanceWindow = &w
	}
	e.IPAllowlist = slices.Clone(e.IPAllowlist)
	return e
}

// crFleetCache maps blob SHA → parsed entry. Blobs are content-addressed, so an entry never goes
// stale; repeated fleet listings (every rollout wave) only read the configs that changed.
type crFleetCache struct {
	mu sync.Mutex
	m  map[string]FleetEntry
}

func (c *crFleetCache) get(sha string) (FleetEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[sha]
	return e.clone(), ok
}

func (c *crFleetCache) put(sha string, e FleetEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 20000 { // bound memory: simply start over
		c.m = map[string]FleetEntry{}
	}
	c.m[sha] = e.clone()
}

// crFleetProgress is ListFleet's heartbeat: visible in the Web UI while a large fleet is read.
type crFleetProgress struct {
	Commit string `json:"commit"`
	Total  int    `json:"total"`
	Read   int    `json:"read"`
}

// ListFleet lists every instance of the environment, sorted by slug, from one commit of the
// default branch. The contents API lists at most 1,000 entries per directory, so this walks the
// git trees API (one recursive tree of the deployments folder; per-instance trees if GitHub
// truncates it) and reads the blobs, a few in parallel, heartbeating as it goes. A retry simply
// lists again: unchanged blobs come from the cache.
func (r *ConfigRepo) ListFleet(ctx context.Context) ([]FleetEntry, error) {
	out, _, err := r.listFleet(ctx, "", 0)
	return out, err
}

// FleetPageSize is a page of ListFleetPage: about 500 KB of entries, a quarter of Temporal's 2 MB
// limit on an activity's result (a whole fleet of 10,000 is over it).
const FleetPageSize = 2000

// FleetPageInput asks for the instances after After (by slug), at most Limit (FleetPageSize when 0).
type FleetPageInput struct {
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// FleetPage is one page of the fleet; Next is the slug to ask after for the next page ("" when
// this is the last).
type FleetPage struct {
	Entries []FleetEntry `json:"entries"`
	Next    string       `json:"next,omitempty"`
}

// ListFleetPage is ListFleet a page at a time, for workflows: each page is read from the head
// commit when it is asked for.
func (r *ConfigRepo) ListFleetPage(ctx context.Context, in FleetPageInput) (FleetPage, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = FleetPageSize
	}
	out, more, err := r.listFleet(ctx, in.After, limit)
	if err != nil {
		return FleetPage{}, err
	}
	p := FleetPage{Entries: out}
	if more && len(out) > 0 {
		p.Next = out[len(out)-1].Slug
	}
	return p, nil
}

// listFleet lists the instances after after (all when ""), at most limit (all when 0), and says
// whether more follow.
func (r *ConfigRepo) listFleet(ctx context.Context, after string, limit int) ([]FleetEntry, bool, error) {
	dir := spec.DeploymentsDir(r.Env)
	what := fmt.Sprintf("list the fleet in %s/%s", r.full(), dir)
	commit, err := r.headCommit(ctx)
	if err != nil {
		return nil, false, classify(what, err)
	}
	blobs, err := r.configBlobs(ctx, commit, dir)
	if err != nil {
		return nil, false, classify(what, err)
	}
	prog := crFleetProgress{Commit: commit.GetSHA(), Total: len(blobs)}
	heartbeat(ctx, prog)

	slugs := make([]string, 0, len(blobs))
	for s := range blobs {
		slugs = append(slugs, s)
	}
	sort.Strings(slugs)
	if after != "" {
		slugs = slugs[sort.SearchStrings(slugs, after+"\x00"):]
	}
	more := false
	if limit > 0 && len(slugs) > limit {
		slugs, more = slugs[:limit], true
	}
	prog.Total = len(slugs)
	out := make([]FleetEntry, len(slugs))
	var (
		mu      sync.Mutex
		firstEr error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 8)
	)
	for i, slug := range slugs {
		sha := blobs[slug]
		if e, ok := r.blobs.get(sha); ok {
			out[i] = e
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			e, err := r.readFleetEntry(ctx, slug, sha)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstEr == nil {
					firstEr = err
				}
				return
			}
			out[i] = e
			prog.Read++
			if prog.Read%50 == 0 {
				heartbeat(ctx, prog)
			}
		}()
	}
	wg.Wait()
	if firstEr != nil {
		return nil, false, classify(what, firstEr)
	}
	heartbeat(ctx, prog)
	return out, more, nil
}

func (r *ConfigRepo) readFleetEntry(ctx context.Context, slug, sha string) (FleetEntry, error) {
	var b *github.Blob
	err := ghDo(ctx, func() (err error) {
		b, _, err = r.client.Git.GetBlob(ctx, r.Owner, r.Repo, sha)
		return err
	})
	if err != nil {
		return FleetEntry{}, err
	}
	e := FleetEntry{Slug: slug, SHA: sha}
	raw, err := base64.StdEncoding.DecodeString(b.GetContent())
	if b.GetEncoding() != "base64" {
		raw, err = []byte(b.GetContent()), nil
	}
	if err != nil {
		e.Error = "blob is not valid base64: " + err.Error()
	} else if c, err := spec.Parse(raw); err != nil {
		e.Error = err.Error()
	} else {
		e.Type, e.Version, e.ReleaseChannel = string(c.Type()), c.Spec.SourcegraphVersion, string(c.Spec.ReleaseChannel)
		e.Domain, e.Region, e.Size = c.Spec.Domain.PrimaryDNSName, c.Spec.Infrastructure.GCP.Region, string(c.Spec.Size)
		e.Suspended, e.Alerting = c.Spec.Suspended, c.Spec.Debug.EnableAlerting
		e.MaintenanceWindow = c.Spec.MaintenanceWindow
		e.IPAllowlist = slices.Clone(c.Spec.IPAllowlist)
		if a := strings.TrimSpace(c.Metadata.Labels[AccountLabel]); spec.ValidateAccountLink("", a) == nil {
			e.Account = a
		}
		if c.Metadata.Name != slug {
			e.Error = fmt.Sprintf("metadata.name is %q but the folder is %q", c.Metadata.Name, slug)
		}
	}
	r.blobs.put(sha, e)
	return e, nil
}

func (r *ConfigRepo) headCommit(ctx context.Context) (*github.Commit, error) {
	var ref *github.Reference
	err := ghDo(ctx, func() (err error) {
		ref, _, err = r.client.Git.GetRef(ctx, r.Owner, r.Repo, "heads/"+r.Base)
		return err
	})
	if err != nil {
		return nil, err
	}
	var c *github.Commit
	err = ghDo(ctx, func() (err error) {
		c, _, err = r.client.Git.GetCommit(ctx, r.Owner, r.Repo, ref.GetObject().GetSHA())
		return err
	})
	return c, err
}

func (r *ConfigRepo) getTree(ctx context.Context, sha string, recursive bool) (*github.Tree, error) {
	var t *github.Tree
	err := ghDo(ctx, func() (err error) {
		t, _, err = r.client.Git.GetTree(ctx, r.Owner, r.Repo, sha, recursive)
		return err
	})
	return t, err
}

// configBlobs maps slug → blob SHA of <dir>/<slug>/config.yaml at commit.
func (r *ConfigRepo) configBlobs(ctx context.Context, commit *github.Commit, dir string) (map[string]string, error) {
	out := map[string]string{}
	// Walk down to the deployments folder one level at a time: small trees, and a recursive
	// listing of only this environment.
	sha := commit.GetTree().GetSHA()
	for _, name := range strings.Split(dir, "/") {
		t, err := r.getTree(ctx, sha, false)
		if err != nil {
			return nil, err
		}
		sha = ""
		for _, e := range t.Entries {
			if e.GetPath() == name && e.GetType() == "tree" {
				sha = e.GetSHA()
			}
		}
		if sha == "" {
			return out, nil // no instances in this environment yet
		}
	}
	if !r.noRecursiveTree {
		t, err := r.getTree(ctx, sha, true)
		if err != nil {
			return nil, err
		}
		if !t.GetTruncated() {
			for _, e := range t.Entries {
				if slug, ok := strings.CutSuffix(e.GetPath(), "/config.yaml"); ok && e.GetType() == "blob" && !strings.Contains(slug, "/") {
					out[slug] = e.GetSHA()
				}
			}
			return out, nil
		}
	}
	// Truncated (GitHub caps a recursive tree at 100,000 entries / 7 MB): one tree per instance.
	t, err := r.getTree(ctx, sha, false)
	if err != nil {
		return nil, err
	}
	for _, d := range t.Entries {
		if d.GetType() != "tree" {
			continue
		}
		st, err := r.getTree(ctx, d.GetSHA(), false)
		if err != nil {
			return nil, err
		}
		for _, e := range st.Entries {
			if e.GetPath() == "config.yaml" && e.GetType() == "blob" {
				out[d.GetPath()] = e.GetSHA()
			}
		}
	}
	return out, nil
}

// ---- changes through pull requests ----

// ChangeConfigInput is one change of one instance's config.yaml.
//
// The change is the full desired config, not a list of field updates: the workflow reads
// (ReadInstanceConfig), modifies and passes the result, so one code path creates, updates any
// field (version, alerting, allowlist, suspension, ...) and the desired state is recorded in the
// workflow's history. The cost of whole-file writes — overwriting a change someone merged in
// between — is closed by BaseSHA: the blob the workflow read must still be the one on the default
// branch, otherwise the change stops with Conflict instead of silently reverting it.
type ChangeConfigInput struct {
	Slug   string       `json:"slug"`
	Config *spec.Config `json:"config"`
	// ChangeID names the change deterministically, e.g. "upgrade-5.10.0-<workflowID>": the branch is
	// <slug>/<ChangeID>. A re-run with the same ID finds its branch and pull request (open or merged)
	// instead of opening another; a new change needs a new ID.
	ChangeID string `json:"changeId"`
	// BaseSHA is ReadConfigResult.SHA. Empty skips the check.
	BaseSHA string `json:"baseSha,omitempty"`
	// Create requires that the instance has no config yet (a slug collision is a Conflict).
	Create bool `json:"create,omitempty"`
	// Title and Body of the pull request; Body links the issue. Title defaults
	// to "<slug>: update config.yaml".
	Title  string   `json:"title,omitempty"`
	Body   string   `json:"body,omitempty"`
	Labels []string `json:"labels,omitempty"` // e.g. mi-upgrade
	// MergeMethod: squash (default), merge or rebase.
	MergeMethod string `json:"mergeMethod,omitempty"`
	// Batch and BatchSize name a group of changes asked together (a rollout's batch): the group's
	// pull request does not wait for more once BatchSize of them have arrived (configbatch.go).
	Batch     string `json:"batch,omitempty"`
	BatchSize int    `json:"batchSize,omitempty"`
}

// DeleteConfigInput removes an instance's config (teardown), also through a pull request.
type DeleteConfigInput struct {
	Slug        string   `json:"slug"`
	ChangeID    string   `json:"changeId"`
	BaseSHA     string   `json:"baseSha,omitempty"`
	Title       string   `json:"title,omitempty"`
	Body        string   `json:"body,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	MergeMethod string   `json:"mergeMethod,omitempty"`
}

// ChangeResult is the merged pull request. Changed is false when the default branch already held
// the desired content and no pull request was needed.
type ChangeResult struct {
	Changed  bool   `json:"changed"`
	Branch   string `json:"branch,omitempty"`
	PRNumber int    `json:"prNumber,omitempty"`
	PRURL    string `json:"prUrl,omitempty"`
	MergeSHA string `json:"mergeSha,omitempty"`
	// SHA is the config.yaml blob on the default branch afterwards ("" once deleted); the next
	// read-modify-write passes it as BaseSHA.
	SHA string `json:"sha,omitempty"`
}

// crChangeProgress is the heartbeat of a change: which step it is on, for the Web UI.
type crChangeProgress struct {
	Step     string `json:"step"`
	Branch   string `json:"branch"`
	PRNumber int    `json:"prNumber,omitempty"`
}

// ChangeInstanceConfig writes the desired config.yaml through branch + pull request + squash
// merge. It is safe to re-run at any point (a worker crash, a lost response): the branch, the
// commit and the pull request are found again by their deterministic names, so one change
// yields one pull request and one merge.
func (r *ConfigRepo) ChangeInstanceConfig(ctx context.Context, in ChangeConfigInput) (ChangeResult, error) {
	if err := spec.ValidateSlug("slug", in.Slug); err != nil {
		return ChangeResult{}, Permanent(ErrInvalidArgument, "change config: "+err.Error(), "fix the slug", nil)
	}
	want, err := r.desired(in.Slug, in.Config)
	if err != nil {
		return ChangeResult{}, err
	}
	q := crChange{slug: in.Slug, want: want, changeID: in.ChangeID, baseSHA: in.BaseSHA, create: in.Create,
		title: in.Title, body: in.Body, labels: in.Labels, mergeMethod: in.MergeMethod, verb: "update config.yaml",
		batch: in.Batch, batchSize: in.BatchSize}
	if r.batch == nil || r.batch.wait <= 0 || (in.MergeMethod != "" && in.MergeMethod != "squash") {
		return r.apply(ctx, q)
	}
	if q, err = r.prepare(q); err != nil {
		return ChangeResult{}, err
	}
	return r.submit(ctx, q)
}

// DeleteInstanceConfig removes the instance's config.yaml through a pull request (teardown, after
// its resources are gone: the merge is what takes the instance out of the fleet).
func (r *ConfigRepo) DeleteInstanceConfig(ctx context.Context, in DeleteConfigInput) (ChangeResult, error) {
	if err := spec.ValidateSlug("slug", in.Slug); err != nil {
		return ChangeResult{}, Permanent(ErrInvalidArgument, "delete config: "+err.Error(), "fix the slug", nil)
	}
	return r.apply(ctx, crChange{slug: in.Slug, want: nil, changeID: in.ChangeID, baseSHA: in.BaseSHA,
		title: in.Title, body: in.Body, labels: in.Labels, mergeMethod: in.MergeMethod, verb: "delete config.yaml"})
}

// desired validates and renders the config; nothing invalid ever reaches the default branch,
// because the merge is the deploy.
func (r *ConfigRepo) desired(slug string, c *spec.Config) ([]byte, error) {
	bad := func(err error) error {
		return Permanent(ErrInvalidArgument, fmt.Sprintf("config.yaml for %s: %v", slug, err), "fix the desired config in the workflow's input", nil)
	}
	if c == nil {
		return nil, bad(fmt.Errorf("no config given (use DeleteInstanceConfig to remove one)"))
	}
	if c.Metadata.Name != slug {
		return nil, bad(fmt.Errorf("metadata.name %q must equal the slug", c.Metadata.Name))
	}
	for _, err := range []error{
		spec.ValidateVersion("spec.sourcegraphVersion", c.Spec.SourcegraphVersion),
		spec.ValidateDomain("spec.domain.primaryDNSName", c.Spec.Domain.PrimaryDNSName),
		spec.ValidateRegion("spec.infrastructure.gcp.region", c.Spec.Infrastructure.GCP.Region),
		spec.ValidateSize("spec.size", c.Spec.Size),
		spec.ValidateInstanceType(`metadata.labels."instance-type"`, c.Type()),
		spec.ValidateCIDRs("spec.ipAllowlist", c.Spec.IPAllowlist),
		spec.ValidateMaintenanceWindow("spec.maintenanceWindow", c.Spec.MaintenanceWindow),
	} {
		if err != nil {
			return nil, bad(err)
		}
	}
	b, err := c.Marshal()
	if err != nil {
		return nil, bad(err)
	}
	if _, err := spec.Parse(b); err != nil { // e.g. apiVersion/kind missing: the deploy would ignore it
		return nil, bad(err)
	}
	return b, nil
}

type crChange struct {
	slug, changeID, baseSHA   string
	want                      []byte // nil: delete
	create                    bool
	title, body, mergeMethod  string
	labels                    []string
	verb                      string
	path, branch, what, merge string
	batch                     string // ChangeConfigInput.Batch
	batchSize                 int
}

// crMaxRebases bounds how often a change is re-applied on a moved default branch before it gives up.
const crMaxRebases = 3

func (r *ConfigRepo) apply(ctx context.Context, q crChange) (ChangeResult, error) {
	q, err := r.prepare(q)
	if err != nil {
		return ChangeResult{}, err
	}
	res, err := r.applyRaw(ctx, q)
	if err != nil {
		return ChangeResult{}, classify(q.what, err)
	}
	return res, nil
}

// prepare names the change's path, branch and merge method, or says what is wrong with them.
func (r *ConfigRepo) prepare(q crChange) (crChange, error) {
	q.path = spec.ConfigPath(r.Env, q.slug)
	id, err := crBranchSafe(q.changeID)
	if err != nil {
		return q, Permanent(ErrInvalidArgument, fmt.Sprintf("%s of %s: %v", q.verb, q.slug, err),
			"pass a deterministic change ID such as upgrade-5.10.0-<workflowID>", nil)
	}
	q.branch = q.slug + "/" + id
	q.what = fmt.Sprintf("%s of %s in %s (branch %s)", q.verb, q.slug, r.full(), q.branch)
	switch q.mergeMethod {
	case "":
		q.merge = "squash"
	case "squash", "merge", "rebase":
		q.merge = q.mergeMethod
	default:
		return q, Permanent(ErrInvalidArgument, q.what+": merge method "+q.mergeMethod, "use squash, merge or rebase", nil)
	}
	if q.title == "" {
		q.title = q.slug + ": " + q.verb
	}
	return q, nil
}

// applyRaw returns client errors unclassified, typed errors (Permanent) as they are.
func (r *ConfigRepo) applyRaw(ctx context.Context, q crChange) (ChangeResult, error) {
	prog := crChangeProgress{Step: "find pull request", Branch: q.branch}
	heartbeat(ctx, prog)
	// 1. Our pull request, from an earlier attempt?
	open, merged, err := r.findPulls(ctx, q.branch)
	if err != nil {
		return ChangeResult{}, err
	}
	if merged != nil {
		return r.mergedResult(ctx, q, merged, merged.GetMergeCommitSHA())
	}
	// 2. Is the default branch already there?
	prog.Step = "compare with " + r.Base
	heartbeat(ctx, prog)
	mainSHA, cur, curSHA, found, err := r.mainFile(ctx, q.path)
	if err != nil {
		return ChangeResult{}, err
	}
	if crSameConfig(cur, found, q.want) {
		if open != nil { // someone else made the same change: ours is moot
			if err := r.abandon(ctx, q, open); err != nil {
				return ChangeResult{}, err
			}
		}
		return ChangeResult{Changed: false, SHA: curSHA}, nil
	}
	if err := r.precondition(q, curSHA, found); err != nil {
		return ChangeResult{}, err
	}
	// 3. The branch with the change, committed once.
	prog.Step = "write branch"
	heartbeat(ctx, prog)
	if err := r.writeBranch(ctx, q, mainSHA, false); err != nil {
		return ChangeResult{}, err
	}
	// 4. The pull request, opened once.
	pr := open
	if pr == nil {
		prog.Step = "open pull request"
		heartbeat(ctx, prog)
		if pr, err = r.openPull(ctx, q); err != nil {
			return ChangeResult{}, err
		}
	}
	prog.PRNumber = pr.GetNumber()
	// Labels once: a re-run (a review recheck, a retry) finds them on the pull request.
	if missing := crMissingLabels(pr, q.labels); len(missing) > 0 {
		err := ghDo(ctx, func() (err error) {
			_, _, err = r.client.Issues.AddLabelsToIssue(ctx, r.Owner, r.Repo, pr.GetNumber(), missing)
			return err
		})
		if err != nil {
			return ChangeResult{}, err
		}
	}
	// 5. Merge; when the default branch moved under us, re-apply the change on top of it. Branch
	// protection is waited for, never rebased over: required status checks are polled (reads),
	// and a missing approval ends the attempt NeedsReview, which the step parks on.
	deadline := time.Now().Add(r.checkWait())
	for attempt := 0; ; attempt++ {
		sha, err := r.mergeOnce(ctx, q, pr, deadline, &prog)
		if err == nil {
			return r.mergedResult(ctx, q, pr, sha)
		}
		var moved crMoved
		if !errors.As(err, &moved) {
			return ChangeResult{}, err
		}
		if attempt+1 >= crMaxRebases {
			return ChangeResult{}, Permanent(ErrConflict,
				fmt.Sprintf("%s: pull request %s cannot be merged after %d attempts: %s", q.what, pr.GetHTMLURL(), crMaxRebases, moved.Error()),
				"open the pull request, resolve what blocks the merge (conflict, branch protection) and merge it; then retry this step, which finds the merged pull request", moved.cause)
		}
		// Rebase: recreate the branch from the new default branch and write the change again.
		mainSHA, cur, curSHA, found, err := r.mainFile(ctx, q.path)
		if err != nil {
			return ChangeResult{}, err
		}
		if crSameConfig(cur, found, q.want) {
			if err := r.abandon(ctx, q, pr); err != nil {
				return ChangeResult{}, err
			}
			return ChangeResult{Changed: false, SHA: curSHA}, nil
		}
		if err := r.precondition(q, curSHA, found); err != nil {
			return ChangeResult{}, err
		}
		if err := r.writeBranch(ctx, q, mainSHA, true); err != nil {
			return ChangeResult{}, err
		}
	}
}

// crNeedsReview reports whether a 405 merge refusal is branch protection asking for approvals
// ("At least 1 approving review is required by reviewers with write access.").
func crNeedsReview(msg string) bool {
	return strings.Contains(msg, "approving review") && strings.Contains(msg, "required")
}

// crMissingLabels are the labels the pull request does not carry yet.
func crMissingLabels(pr *github.PullRequest, want []string) []string {
	var out []string
	for _, l := range want {
		has := false
		for _, got := range pr.Labels {
			if strings.EqualFold(got.GetName(), l) {
				has = true
			}
		}
		if !has {
			out = append(out, l)
		}
	}
	return out
}

func (r *ConfigRepo) checkPoll() time.Duration {
	if r.CheckPoll > 0 {
		return r.CheckPoll
	}
	return 10 * time.Second
}

func (r *ConfigRepo) checkWait() time.Duration {
	if r.CheckWait > 0 {
		return r.CheckWait
	}
	return 4 * time.Minute
}

// waitChecks reads the head's checks until none is pending, so a merge is not spent on checks
// still running. Failures are left to the merge: only GitHub knows which are required. Past the
// deadline the attempt ends Busy and Temporal retries it.
func (r *ConfigRepo) waitChecks(ctx context.Context, q crChange, pr *github.PullRequest, head string, deadline time.Time, prog *crChangeProgress) error {
	for {
		pending, _, err := r.headChecks(ctx, head)
		if err != nil || !pending {
			return err
		}
		prog.Step = "wait for status checks"
		if err := r.sleepUntilChecks(ctx, q, pr, deadline); err != nil {
			return err
		}
	}
}

// waitReported reads the head's checks until some check reported and none is pending: the merge
// said a required check is expected, which CI has not started or not finished.
func (r *ConfigRepo) waitReported(ctx context.Context, q crChange, pr *github.PullRequest, head string, deadline time.Time) error {
	for {
		if err := r.sleepUntilChecks(ctx, q, pr, deadline); err != nil {
			return err
		}
		pending, reported, err := r.headChecks(ctx, head)
		if err != nil {
			return err
		}
		if reported && !pending {
			return nil
		}
	}
}

// headChecks reads what CI reported on head, in two reads: the combined commit status and the
// check runs (GitHub Actions reports check runs, not statuses, and a required check may be
// either). pending: a status pending or a check run not completed; reported: some status, or
// some completed check run. The first 100 check runs (the newest per name) are enough for a
// config repo's CI.
func (r *ConfigRepo) headChecks(ctx context.Context, head string) (pending, reported bool, err error) {
	var cs *github.CombinedStatus
	err = ghDo(ctx, func() (err error) {
		cs, _, err = r.client.Repositories.GetCombinedStatus(ctx, r.Owner, r.Repo, head, nil)
		return err
	})
	if err != nil {
		return false, false, err
	}
	var runs *github.ListCheckRunsResults
	err = ghDo(ctx, func() (err error) {
		runs, _, err = r.client.Checks.ListCheckRunsForRef(ctx, r.Owner, r.Repo, head,
			&github.ListCheckRunsOptions{ListOptions: github.ListOptions{PerPage: 100}})
		return err
	})
	if err != nil {
		return false, false, err
	}
	// With no statuses the combined state is "pending" too: that is nothing reported, not running.
	reported = cs.GetTotalCount() > 0
	pending = reported && cs.GetState() == "pending"
	for _, cr := range runs.CheckRuns {
		if cr.GetStatus() == "completed" {
			reported = true
		} else {
			pending = true
		}
	}
	return pending, reported, nil
}

// sleepUntilChecks waits one poll, heartbeating, or ends the attempt Busy past the deadline.
func (r *ConfigRepo) sleepUntilChecks(ctx context.Context, q crChange, pr *github.PullRequest, deadline time.Time) error {
	if !time.Now().Add(r.checkPoll()).Before(deadline) {
		return Transient(ErrBusy, fmt.Sprintf("%s: pull request %s is waiting for its required status checks", q.what, pr.GetHTMLURL()), nil, r.checkPoll())
	}
	heartbeat(ctx, crChangeProgress{Step: "wait for status checks", Branch: q.branch, PRNumber: pr.GetNumber()})
	t := time.NewTimer(r.checkPoll())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// precondition enforces Create and BaseSHA against the default branch's current file.
func (r *ConfigRepo) precondition(q crChange, curSHA string, found bool) error {
	switch {
	case q.create && found:
		return Permanent(ErrConflict, fmt.Sprintf("%s: %s already exists with a different config (blob %s)", q.what, q.path, curSHA),
			"another instance already uses this slug: pick another slug, or tear the old instance down first", nil)
	case q.baseSHA != "" && curSHA != q.baseSHA:
		now := "deleted"
		if found {
			now = "at blob " + curSHA
		}
		return Permanent(ErrConflict, fmt.Sprintf("%s: %s changed since it was read (read blob %s, now %s)", q.what, q.path, q.baseSHA, now),
			"someone else changed this instance's config; retry the step so the workflow reads it again and re-applies its change", nil)
	}
	return nil
}

// crSameConfig compares by meaning, not bytes: a hand-formatted file with the same content needs
// no pull request.
func crSameConfig(cur []byte, found bool, want []byte) bool {
	if want == nil || !found {
		return want == nil && !found
	}
	if bytes.Equal(cur, want) {
		return true
	}
	c, err := spec.Parse(cur)
	if err != nil {
		return false
	}
	b, err := c.Marshal()
	return err == nil && bytes.Equal(b, want)
}

func (r *ConfigRepo) mainFile(ctx context.Context, p string) (mainSHA string, content []byte, blobSHA string, found bool, err error) {
	if mainSHA, err = r.branchHead(ctx, r.Base); err != nil {
		return "", nil, "", false, err
	}
	content, blobSHA, found, err = r.readFile(ctx, p, mainSHA)
	return mainSHA, content, blobSHA, found, err
}

// branchHead is the commit a branch points at; "" when the branch does not exist.
func (r *ConfigRepo) branchHead(ctx context.Context, branch string) (string, error) {
	var ref *github.Reference
	err := ghDo(ctx, func() (err error) {
		ref, _, err = r.client.Git.GetRef(ctx, r.Owner, r.Repo, "heads/"+branch)
		return err
	})
	if ghStatus(err) == http.StatusNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return ref.GetObject().GetSHA(), nil
}

// writeBranch points the branch at one commit on top of base that makes the change. The commit
// is built with the git data API (tree + commit) and the branch is created at it, or moved there
// with force, in one step: the branch never passes through a state without the change, which
// GitHub would show as an empty pull request. Unless rebase is set, a branch that already holds
// the desired file is left alone, so a re-run never commits twice.
func (r *ConfigRepo) writeBranch(ctx context.Context, q crChange, base string, rebase bool) error {
	head, err := r.branchHead(ctx, q.branch)
	if err != nil {
		return err
	}
	if head != "" && !rebase {
		cur, _, found, err := r.readFile(ctx, q.path, head)
		if err != nil {
			return err
		}
		if (q.want == nil && !found) || (q.want != nil && found && bytes.Equal(cur, q.want)) {
			return nil
		}
	}
	entry := &github.TreeEntry{Path: github.String(q.path), Mode: github.String("100644"), Type: github.String("blob")}
	if q.want != nil {
		entry.Content = github.String(string(q.want))
	}
	msg := q.title
	if q.body != "" {
		msg += "\n\n" + q.body
	}
	return r.commitToBranch(ctx, q.branch, head != "", base, []*github.TreeEntry{entry}, msg)
}

// commitToBranch points the branch at one new commit on top of base with the entries (git data
// API: tree + commit), creating the branch or moving it there with force (exists: it is known to
// be there already).
func (r *ConfigRepo) commitToBranch(ctx context.Context, branch string, exists bool, base string, entries []*github.TreeEntry, msg string) error {
	var bc *github.Commit
	err := ghDo(ctx, func() (err error) {
		bc, _, err = r.client.Git.GetCommit(ctx, r.Owner, r.Repo, base)
		return err
	})
	if err != nil {
		return err
	}
	var tree *github.Tree
	err = ghDo(ctx, func() (err error) {
		tree, _, err = r.client.Git.CreateTree(ctx, r.Owner, r.Repo, bc.GetTree().GetSHA(), entries)
		return err
	})
	if err != nil {
		return err
	}
	var c *github.Commit
	err = ghDo(ctx, func() (err error) {
		c, _, err = r.client.Git.CreateCommit(ctx, r.Owner, r.Repo, &github.Commit{Message: &msg, Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: &base}}})
		return err
	})
	if err != nil {
		return err
	}
	ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: c.SHA}}
	if !exists {
		err = ghDo(ctx, func() (err error) {
			_, _, err = r.client.Git.CreateRef(ctx, r.Owner, r.Repo, ref)
			return err
		})
		if !(ghStatus(err) == http.StatusUnprocessableEntity && strings.Contains(ghMessage(err), "already exists")) {
			return err
		}
	}
	// The branch exists (a rebase, or an attempt whose answer was lost): move it to this commit.
	return ghDo(ctx, func() (err error) {
		_, _, err = r.client.Git.UpdateRef(ctx, r.Owner, r.Repo, ref, true)
		return err
	})
}

// findPulls returns our open pull request and our merged one (either may be nil), by head branch.
func (r *ConfigRepo) findPulls(ctx context.Context, branch string) (open, merged *github.PullRequest, err error) {
	opts := &github.PullRequestListOptions{State: "all", Head: r.Owner + ":" + branch, Base: r.Base, ListOptions: github.ListOptions{PerPage: 100}}
	var prs []*github.PullRequest
	err = ghDo(ctx, func() (err error) {
		prs, _, err = r.client.PullRequests.List(ctx, r.Owner, r.Repo, opts)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	for _, pr := range prs {
		switch {
		case pr.GetMerged() || pr.MergedAt != nil:
			if merged == nil {
				merged = pr
			}
		case pr.GetState() == "open":
			if open == nil {
				open = pr
			}
		}
	}
	return open, merged, nil
}

func (r *ConfigRepo) openPull(ctx context.Context, q crChange) (*github.PullRequest, error) {
	var pr *github.PullRequest
	err := ghDo(ctx, func() (err error) {
		pr, _, err = r.client.PullRequests.Create(ctx, r.Owner, r.Repo, &github.NewPullRequest{
			Title: github.String(q.title), Head: github.String(q.branch), Base: github.String(r.Base), Body: github.String(q.body)})
		return err
	})
	if ghStatus(err) == http.StatusUnprocessableEntity && strings.Contains(ghErrorText(err), "already exists") {
		open, _, ferr := r.findPulls(ctx, q.branch) // opened by an attempt whose answer was lost
		if ferr != nil {
			return nil, ferr
		}
		if open != nil {
			return open, nil
		}
	}
	return pr, err
}

// abandon closes our pull request and deletes its branch when the change is no longer needed.
func (r *ConfigRepo) abandon(ctx context.Context, q crChange, pr *github.PullRequest) error {
	err := ghDo(ctx, func() (err error) {
		_, _, err = r.client.PullRequests.Edit(ctx, r.Owner, r.Repo, pr.GetNumber(), &github.PullRequest{State: github.String("closed")})
		return err
	})
	if err != nil {
		return err
	}
	r.deleteBranch(ctx, q.branch)
	return nil
}

// deleteBranch removes a merged or abandoned branch. Best effort: a leftover branch is clutter,
// not a failure, and a re-run still finds the pull request by its head name.
func (r *ConfigRepo) deleteBranch(ctx context.Context, branch string) {
	_ = ghDo(ctx, func() (err error) {
		_, err = r.client.Git.DeleteRef(ctx, r.Owner, r.Repo, "heads/"+branch)
		return err
	})
}

// deletesMergedBranches reports the repository's delete_branch_on_merge, read once; a failed read
// is false (the branch is deleted by hand, as before) and read again next time.
func (r *ConfigRepo) deletesMergedBranches(ctx context.Context) bool {
	r.autoDeleteMu.Lock()
	defer r.autoDeleteMu.Unlock()
	if !r.autoDeleteRead {
		var rp *github.Repository
		err := ghDo(ctx, func() (err error) {
			rp, _, err = r.client.Repositories.Get(ctx, r.Owner, r.Repo)
			return err
		})
		if err != nil {
			return false
		}
		r.autoDelete, r.autoDeleteRead = rp.GetDeleteBranchOnMerge(), true
	}
	return r.autoDelete
}

func (r *ConfigRepo) mergedResult(ctx context.Context, q crChange, pr *github.PullRequest, mergeSHA string) (ChangeResult, error) {
	if !r.deletesMergedBranches(ctx) {
		r.deleteBranch(ctx, q.branch)
	}
	_, blobSHA, _, err := r.readFile(ctx, q.path, r.Base)
	if err != nil {
		return ChangeResult{}, err
	}
	return ChangeResult{Changed: true, Branch: q.branch, PRNumber: pr.GetNumber(), PRURL: pr.GetHTMLURL(), MergeSHA: mergeSHA, SHA: blobSHA}, nil
}

// ghErrorText is the message plus the field errors of a GitHub error answer.
func ghErrorText(err error) string {
	if er := new(github.ErrorResponse); errors.As(err, &er) {
		s := er.Message
		for _, e := range er.Errors {
			s += " " + e.Message + " " + e.Code
		}
		return s
	}
	return ""
}

var (
	crBranchUnsafe = regexp.MustCompile(`[^a-z0-9._-]+`)
	crBranchDots   = regexp.MustCompile(`\.\.+`)
)

// crBranchSafe turns a change ID into a valid branch-name component: lower-case [a-z0-9._-], no
// "..", at most 60 characters. When it had to change the ID it appends a hash of the original, so
// distinct IDs stay distinct.
func crBranchSafe(id string) (string, error) {
	s := crBranchDots.ReplaceAllString(crBranchUnsafe.ReplaceAllString(strings.ToLower(id), "-"), ".")
	s = strings.TrimSuffix(strings.Trim(s, "-."), ".lock")
	if s == "" {
		return "", fmt.Errorf("change ID %q is empty or has no usable characters", id)
	}
	if s != id || len(s) > 60 {
		sum := sha256.Sum256([]byte(id))
		s = strings.Trim(s[:min(len(s), 48)], "-.") + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return s, nil
}
