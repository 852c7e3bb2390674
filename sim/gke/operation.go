package gke

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sourcegraph/lifecycle/sim"
)

// busyVerbs is how GKE's FAILED_PRECONDITION message describes the operation in the way
// ("Operation operation-... is currently creating a node pool for cluster X. ..."). Types not listed
// use the generic "operating on cluster".
var busyVerbs = map[containerpb.Operation_Type]string{
	containerpb.Operation_CREATE_CLUSTER:   "creating cluster",
	containerpb.Operation_DELETE_CLUSTER:   "deleting cluster",
	containerpb.Operation_CREATE_NODE_POOL: "creating a node pool for cluster",
	containerpb.Operation_DELETE_NODE_POOL: "deleting a node pool from cluster",
}

// backgroundTypes are the operations GKE starts by itself: auto-upgrade of the control plane,
// auto-repair of nodes, and cluster updates such as enabling the Backup for GKE agent.
var backgroundTypes = []containerpb.Operation_Type{
	containerpb.Operation_UPGRADE_MASTER, containerpb.Operation_AUTO_REPAIR_NODES, containerpb.Operation_UPDATE_CLUSTER,
}

// checkIdle answers FAILED_PRECONDITION while another operation runs on the cluster: GKE runs one
// mutating operation per cluster at a time, and callers are expected to retry once it is done.
// An operation of the caller's kind in the way gets "Operation ... is currently <verb> cluster C.
// Please wait ..." (hashicorp/terraform-provider-google#3650); one GKE started by itself gets
// "Cluster is running incompatible operation ..." with ErrorInfo reason
// CLUSTER_ALREADY_HAS_OPERATION (kubernetes-sigs/cluster-api-provider-gcp#1363). Which wording
// the real API picks when is not documented; the split is the simulator's.
func (p *Part) checkIdle(ref clusterRef) error {
	if p.busy[ref.name()] == nil && p.s.Chance(p.backgroundRate) {
		if c := p.clusters[ref.name()]; c != nil && c.Status == containerpb.Cluster_RUNNING {
			typ := backgroundTypes[p.s.NextID()%int64(len(backgroundTypes))]
			op := p.startOp(context.Background(), ref, typ, ref.name(), func(string) {})
			p.background[ref.parent()+"/operations/"+op.Name] = true
		}
	}
	op := p.busy[ref.name()]
	if op == nil {
		return nil
	}
	if p.background[ref.parent()+"/operations/"+op.Name] {
		st, err := status.New(codes.FailedPrecondition, fmt.Sprintf("Cluster is running incompatible operation %s.", op.Name)).
			WithDetails(&errdetails.ErrorInfo{Reason: "CLUSTER_ALREADY_HAS_OPERATION", Domain: service})
		if err != nil {
			return status.Errorf(codes.Internal, "error details: %v", err)
		}
		return st.Err()
	}
	verb, ok := busyVerbs[op.OperationType]
	if !ok {
		verb = "operating on cluster"
	}
	return status.Errorf(codes.FailedPrecondition, "Operation %s is currently %s %s. Please wait and try again once it is done.", op.Name, verb, ref.cluster)
}

// startOp records an operation of type typ on the cluster (target is the full name of the resource
// it works on) and schedules its progress: PENDING now, RUNNING after a quarter of
// Timings.GKEOperation, DONE at the end. done runs (lock held) when it completes and moves the
// resources to their final state; failure is "" on success, or the message of a failOperation fault,
// in which case the operation also ends with error and statusMessage.
//
// It returns a copy to send to the client: with a zero duration the operation is still PENDING in
// this response and DONE on the next request, like a very fast real operation.
func (p *Part) startOp(ctx context.Context, ref clusterRef, typ containerpb.Operation_Type, target string, done func(failure string)) *containerpb.Operation {
	now := p.s.Now()
	short := fmt.Sprintf("operation-%d-%08x", now.UnixMilli(), uint32(p.s.NextID()*2654435761))
	full := ref.parent() + "/operations/" + short
	op := &containerpb.Operation{
		Name:          short,
		Zone:          ref.location,
		Location:      ref.location,
		OperationType: typ,
		Status:        containerpb.Operation_PENDING,
		SelfLink:      apiBase + full,
		TargetLink:    apiBase + target,
		StartTime:     timestamp(now),
	}
	p.ops[full] = op
	p.busy[ref.name()] = op

	failure := sim.OperationFailure(ctx)
	d := p.s.Timings().GKEOperation.D()
	p.s.After(d/4, func() {
		if op.Status == containerpb.Operation_PENDING {
			op.Status = containerpb.Operation_RUNNING
		}
	})
	p.s.After(d, func() {
		op.Status = containerpb.Operation_DONE
		op.EndTime = timestamp(p.s.Now())
		if p.busy[ref.name()] == op {
			delete(p.busy, ref.name())
		}
		if failure != "" {
			op.StatusMessage = failure
			op.Error = &statuspb.Status{Code: int32(code.Code_FAILED_PRECONDITION), Message: failure}
			op.ClusterConditions = []*containerpb.StatusCondition{{Message: failure, CanonicalCode: code.Code_FAILED_PRECONDITION}}
		}
		done(failure)
	})
	return proto.Clone(op).(*containerpb.Operation)
}

// timestamp formats times as GKE does (RFC 3339 with nanoseconds, UTC).
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (p *Part) GetOperation(_ context.Context, req *containerpb.GetOperationRequest) (*containerpb.Operation, error) {
	defer p.s.Lock()()
	var proj, loc, id string
	if name := req.GetName(); name != "" {
		ids, ok := splitName(name, "projects", "locations", "operations")
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid operation name %q: expected projects/{project}/locations/{location}/operations/{operation} (GKE returns the short name; prefix it with the parent).", name)
		}
		proj, loc, id = ids[0], ids[1], ids[2]
	} else {
		proj, loc, id = req.GetProjectId(), req.GetZone(), req.GetOperationId()
		if proj == "" || loc == "" || id == "" {
			return nil, status.Error(codes.InvalidArgument, "Required field \"name\" is missing (projects/{project}/locations/{location}/operations/{operation}).")
		}
	}
	if err := p.checkProject(proj); err != nil {
		return nil, err
	}
	full := "projects/" + proj + "/locations/" + loc + "/operations/" + id
	op, ok := p.ops[full]
	if !ok {
		return nil, notFound(full)
	}
	return proto.Clone(op).(*containerpb.Operation), nil
}

// ListOperations lists a location's operations; location "-" lists all of the project's.
func (p *Part) ListOperations(_ context.Context, req *containerpb.ListOperationsRequest) (*containerpb.ListOperationsResponse, error) {
	defer p.s.Lock()()
	proj, loc, err := parseLocation(req.GetParent(), req.GetProjectId(), req.GetZone())
	if err != nil {
		return nil, err
	}
	if err := p.checkProject(proj); err != nil {
		return nil, err
	}
	resp := &containerpb.ListOperationsResponse{}
	for _, name := range sim.SortedKeys(p.ops) {
		if inLocation(name, proj, loc) {
			resp.Operations = append(resp.Operations, proto.Clone(p.ops[name]).(*containerpb.Operation))
		}
	}
	return resp, nil
}

// inLocation reports whether a full resource name lies in projects/proj/locations/loc, where loc
// "-" stands for every location (as in GKE's list calls).
func inLocation(name, proj, loc string) bool {
	rest, ok := strings.CutPrefix(name, "projects/"+proj+"/locations/")
	if !ok {
		return false
	}
	return loc == "-" || strings.HasPrefix(rest, loc+"/")
}
