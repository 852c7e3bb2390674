// Package gkebackup simulates Backup for GKE (google.cloud.gkebackup.v1.BackupForGKE) over gRPC, for
// the real cloud.google.com/go/gkebackup/apiv1 client: backup plans, on-demand backups, restore
// plans and restores.
//
// Every mutation returns a google.longrunning.Operation from the simulator's shared operations
// store (sim.StartOperation), named "projects/P/locations/L/operations/operation-...", with
// OperationMetadata{target, verb, apiVersion}; the client's typed wrappers (CreateBackupOperation
// and friends: Wait, Poll, Metadata, and rebuilding one from its name) work against it. Operations
// complete after Timings.BackupOperation. Sources for what is modelled are in docs/fidelity.md.
package gkebackup

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/gke"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

// Name is the part's name in fault rules, the ledger and the state dump.
const Name = "gkebackup"

const service = "gkebackup.googleapis.com"

// Part is the simulated BackupForGKE service. Resources are keyed by full name.
type Part struct {
	gkebackuppb.UnimplementedBackupForGKEServer
	s *sim.Sim

	plans        map[string]*gkebackuppb.BackupPlan
	backups      map[string]*gkebackuppb.Backup // "<plan>/backups/<id>"
	restorePlans map[string]*gkebackuppb.RestorePlan
	restores     map[string]*gkebackuppb.Restore // "<restore plan>/restores/<id>"
}

// New builds the part.
func New(s *sim.Sim) sim.Part {
	p := &Part{s: s}
	p.Reset()
	return p
}

func (p *Part) Name() string        { return Name }
func (p *Part) Routes(*sim.Routes)  {}
func (p *Part) GRPC(g *grpc.Server) { gkebackuppb.RegisterBackupForGKEServer(g, p) }

// Reset drops every resource. Lock held. (The operations live in the core's store, reset there.)
func (p *Part) Reset() {
	p.plans = map[string]*gkebackuppb.BackupPlan{}
	p.backups = map[string]*gkebackuppb.Backup{}
	p.restorePlans = map[string]*gkebackuppb.RestorePlan{}
	p.restores = map[string]*gkebackuppb.Restore{}
}

// Snapshot lists every resource with its key fields. Lock held.
// Backups carry their create and complete times, so a test can tell which came before a change.
func (p *Part) Snapshot() any {
	// Counted in one pass: a fleet has thousands of plans.
	perPlan := map[string]int{}
	for name := range p.backups {
		if i := strings.LastIndex(name, "/backups/"); i >= 0 {
			perPlan[name[:i]]++
		}
	}
	plans := []map[string]any{}
	for _, name := range sim.SortedKeys(p.plans) {
		bp := p.plans[name]
		e := map[string]any{"name": name, "cluster": bp.Cluster, "state": bp.State.String(), "etag": bp.Etag,
			"backups": perPlan[name]}
		if rp := bp.RetentionPolicy; rp != nil {
			e["backupRetainDays"], e["backupDeleteLockDays"] = rp.BackupRetainDays, rp.BackupDeleteLockDays
		}
		if sc := bp.BackupSchedule; sc != nil {
			e["cronSchedule"], e["paused"] = sc.CronSchedule, sc.Paused
		}
		if bp.StateReason != "" {
			e["stateReason"] = bp.StateReason
		}
		plans = append(plans, e)
	}
	backups := []map[string]any{}
	for _, name := range sim.SortedKeys(p.backups) {
		b := p.backups[name]
		e := map[string]any{"name": name, "state": b.State.String(), "retainDays": b.RetainDays, "etag": b.Etag,
			"createTime": b.CreateTime.AsTime()}
		if b.CompleteTime != nil {
			e["completeTime"] = b.CompleteTime.AsTime()
		}
		if b.StateReason != "" {
			e["stateReason"] = b.StateReason
		}
		backups = append(backups, e)
	}
	restorePlans := []map[string]any{}
	for _, name := range sim.SortedKeys(p.restorePlans) {
		rp := p.restorePlans[name]
		restorePlans = append(restorePlans, map[string]any{"name": name, "backupPlan": rp.BackupPlan, "cluster": rp.Cluster, "state": rp.State.String()})
	}
	restores := []map[string]any{}
	for _, name := range sim.SortedKeys(p.restores) {
		r := p.restores[name]
		e := map[string]any{"name": name, "backup": r.Backup, "state": r.State.String()}
		if r.StateReason != "" {
			e["stateReason"] = r.StateReason
		}
		restores = append(restores, e)
	}
	return map[string]any{"backupPlans": plans, "backups": backups, "restorePlans": restorePlans, "restores": restores}
}

// withPrefix returns the sorted keys of m that start with prefix (the children of a resource).
func withPrefix[V any](m map[string]V, prefix string) []string {
	var out []string
	for _, k := range sim.SortedKeys(m) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// splitName matches "a/x/b/y/..." against the collection IDs and returns the IDs in between.
func splitName(name string, collections ...string) ([]string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 2*len(collections) {
		return nil, false
	}
	ids := make([]string, len(collections))
	for i, c := range collections {
		if parts[2*i] != c || parts[2*i+1] == "" {
			return nil, false
		}
		ids[i] = parts[2*i+1]
	}
	return ids, true
}

// parseName checks a resource name against its format ("projects/*/locations/*/backupPlans/*") and
// the project against Resource Manager; it returns the IDs.
func (p *Part) parseName(field, name string, collections ...string) ([]string, error) {
	ids, ok := splitName(name, collections...)
	if !ok {
		format := ""
		for _, c := range collections {
			format += c + "/*/"
		}
		return nil, status.Errorf(codes.InvalidArgument, "Invalid %s %q: expected format %s.", field, name, strings.TrimSuffix(format, "/"))
	}
	if err := resourcemanager.CheckProject(p.s, service, ids[0]); err != nil {
		return nil, err
	}
	return ids, nil
}

// idPattern is the rule for client-provided IDs: 1-63 lowercase letters, digits or dashes, starting
// with a letter and ending with a letter or digit.
var idPattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

func validID(field, id string) error {
	if id == "" {
		return status.Errorf(codes.InvalidArgument, "Field %s is required.", field)
	}
	if !idPattern.MatchString(id) {
		return status.Errorf(codes.InvalidArgument, "Invalid %s %q: it must be 1-63 lowercase letters, digits or dashes, start with a letter and end with a letter or digit.", field, id)
	}
	return nil
}

func notFound(kind, name string) error {
	return status.Errorf(codes.NotFound, "%s %q not found.", kind, name)
}

func alreadyExists(kind, name string) error {
	return status.Errorf(codes.AlreadyExists, "%s %q already exists.", kind, name)
}

// checkEtag rejects a request carrying a stale etag (read-modify-write protection). The code is
// ABORTED, the AIP-154 convention for etag mismatches.
func checkEtag(kind, name, given, current string) error {
	if given != "" && given != current {
		return status.Errorf(codes.Aborted, "The etag %q of %s %q does not match its current etag %q; read it again and retry.", given, kind, name, current)
	}
	return nil
}

// checkCluster verifies that a cluster named "projects/P/locations/L/clusters/C" exists in the gke
// part, when there is one (without it, any well-formed cluster name is accepted).
func (p *Part) checkCluster(field, cluster string) error {
	ids, ok := splitName(cluster, "projects", "locations", "clusters")
	if !ok {
		return status.Errorf(codes.InvalidArgument, "Invalid %s %q: expected format projects/*/locations/*/clusters/*.", field, cluster)
	}
	if g, _ := p.s.Part(gke.Name).(*gke.Part); g != nil && !g.ClusterExists(ids[0], ids[1], ids[2]) {
		return status.Errorf(codes.FailedPrecondition, "Cluster %q (%s) does not exist; Backup for GKE needs an existing GKE cluster.", cluster, field)
	}
	return nil
}

// startOp starts the long-running operation of a mutation on target. finish runs (lock held) when it
// completes, with failure set to the message of a failOperation fault ("" normally), and returns the
// response or an error; it moves the resource to its final state either way. Handling the failure
// here (instead of passing it to StartOperation) lets a failed operation leave its resource FAILED.
func (p *Part) startOp(ctx context.Context, parent, target, verb string, finish func(failure string) (proto.Message, error)) *longrunningpb.Operation {
	meta := &gkebackuppb.OperationMetadata{CreateTime: p.now(), Target: target, Verb: verb, ApiVersion: "v1"}
	failure := sim.OperationFailure(ctx)
	return p.s.StartOperation(parent, meta, p.s.Timings().BackupOperation.D(), "", func() (proto.Message, error) {
		return finish(failure)
	})
}

// opFailed is the error an operation ends with under a failOperation fault; FAILED_PRECONDITION,
// as the shared operations store uses for injected failures.
func opFailed(msg string) error { return status.Error(codes.FailedPrecondition, msg) }

func (p *Part) now() *timestamppb.Timestamp { return timestamppb.New(p.s.Now()) }

// afterFraction schedules fn after a fraction of the operation duration (intermediate states such as
// IN_PROGRESS). With a zero duration it runs after the operation's own completion, so fn must
// check that the resource is still in the state it expects.
func (p *Part) afterFraction(div time.Duration, fn func()) {
	p.s.After(p.s.Timings().BackupOperation.D()/div, fn)
}

func (p *Part) etag() string { return fmt.Sprintf("%08x", uint32(p.s.NextID()*2654435761)) }

// uid returns a UUID-shaped, process-unique ID.
func (p *Part) uid() string {
	n := uint64(p.s.NextID()) * 0x9e3779b97f4a7c15
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(n>>32), uint16(n>>16), uint16(n)&0xfff, uint16(n>>4)&0xfff, n&0xffffffffffff)
}
