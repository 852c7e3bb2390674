package sim

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/genproto/googleapis/rpc/code"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// longrunningPart serves google.longrunning.Operations for every API that uses it (Backup for
// GKE, Resource Manager). Operation names carry their API's prefix, so one store serves all.
type longrunningPart struct {
	longrunningpb.UnimplementedOperationsServer
	s   *Sim
	ops map[string]*longrunningpb.Operation
}

func (p *longrunningPart) Name() string        { return "longrunning" }
func (p *longrunningPart) Routes(*Routes)      {}
func (p *longrunningPart) GRPC(g *grpc.Server) { longrunningpb.RegisterOperationsServer(g, p) }
func (p *longrunningPart) Reset()              { p.ops = map[string]*longrunningpb.Operation{} }
func (p *longrunningPart) Snapshot() any {
	out := make([]map[string]any, 0, len(p.ops))
	for _, name := range SortedKeys(p.ops) {
		op := p.ops[name]
		e := map[string]any{"name": op.Name, "done": op.Done}
		if er := op.GetError(); er != nil {
			e["error"] = er.Message
		}
		out = append(out, e)
	}
	return out
}

// StartOperation records a google.longrunning operation named "<parent>/operations/<id>" that
// completes after d. When it completes, finish runs (lock held) and returns the response to store
// or an error status. If failMsg is set (fault injection) the operation ends in error instead.
// metadata is stored as the operation's metadata. Lock must be held.
func (s *Sim) StartOperation(parent string, metadata proto.Message, d time.Duration, failMsg string, finish func() (proto.Message, error)) *longrunningpb.Operation {
	p := s.byName["longrunning"].(*longrunningPart)
	name := fmt.Sprintf("%s/operations/operation-%d-%06x", parent, s.Now().UnixMilli(), s.NextID())
	op := &longrunningpb.Operation{Name: name}
	if metadata != nil {
		op.Metadata, _ = anypb.New(metadata)
	}
	p.ops[name] = op
	s.After(d, func() {
		if failMsg != "" {
			op.Result = &longrunningpb.Operation_Error{Error: &statuspb.Status{Code: int32(code.Code_FAILED_PRECONDITION), Message: failMsg}}
			op.Done = true
			return
		}
		resp, err := finish()
		if err != nil {
			st, _ := status.FromError(err)
			op.Result = &longrunningpb.Operation_Error{Error: st.Proto()}
		} else if resp != nil {
			a, aerr := anypb.New(resp)
			if aerr != nil {
				op.Result = &longrunningpb.Operation_Error{Error: &statuspb.Status{Code: int32(code.Code_INTERNAL), Message: aerr.Error()}}
			} else {
				op.Result = &longrunningpb.Operation_Response{Response: a}
			}
		}
		op.Done = true
	})
	return proto.Clone(op).(*longrunningpb.Operation)
}

func (p *longrunningPart) GetOperation(_ context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	defer p.s.Lock()()
	op, ok := p.ops[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Operation %q not found.", req.GetName())
	}
	return proto.Clone(op).(*longrunningpb.Operation), nil
}

func (p *longrunningPart) ListOperations(_ context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	defer p.s.Lock()()
	resp := &longrunningpb.ListOperationsResponse{}
	for _, name := range SortedKeys(p.ops) {
		if strings.HasPrefix(name, req.GetName()) {
			resp.Operations = append(resp.Operations, proto.Clone(p.ops[name]).(*longrunningpb.Operation))
		}
	}
	return resp, nil
}

func (p *longrunningPart) DeleteOperation(_ context.Context, req *longrunningpb.DeleteOperationRequest) (*emptypb.Empty, error) {
	defer p.s.Lock()()
	if _, ok := p.ops[req.GetName()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Operation %q not found.", req.GetName())
	}
	delete(p.ops, req.GetName())
	return &emptypb.Empty{}, nil
}

func (p *longrunningPart) CancelOperation(_ context.Context, req *longrunningpb.CancelOperationRequest) (*emptypb.Empty, error) {
	defer p.s.Lock()()
	op, ok := p.ops[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Operation %q not found.", req.GetName())
	}
	if !op.Done {
		op.Done = true
		op.Result = &longrunningpb.Operation_Error{Error: &statuspb.Status{Code: int32(code.Code_CANCELLED), Message: "Operation was cancelled."}}
	}
	return &emptypb.Empty{}, nil
}

// SortedKeys returns a map's keys in order, so snapshots and listings are stable.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
