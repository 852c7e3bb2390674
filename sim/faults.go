package sim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Fault is one fault-injection rule. A request matches when API equals the part's name, Method
// (if set) equals the route or RPC name, and Match (if set) occurs in the request path or, for
// gRPC, in the request message's JSON. A matching rule fires with probability Rate (default 1),
// at most Count times (0: no limit).
type Fault struct {
	ID     int64  `json:"id"`
	API    string `json:"api"`
	Method string `json:"method,omitempty"`
	Match  string `json:"match,omitempty"`

	Rate  float64 `json:"rate,omitempty"`
	Count int     `json:"count,omitempty"`
	Fired int     `json:"fired"`

	// Latency delays the request (and still serves it unless an error is set too).
	Latency Duration `json:"latency,omitempty"`
	// Status answers with this HTTP status (REST) or the matching gRPC code. RetryAfter adds a
	// Retry-After header (REST) or RetryInfo detail (gRPC).
	Status     int      `json:"status,omitempty"`
	Code       string   `json:"code,omitempty"` // gRPC code name, e.g. "UNAVAILABLE"; derived from Status when empty
	Message    string   `json:"message,omitempty"`
	RetryAfter Duration `json:"retryAfter,omitempty"`
	// FailOperation lets the call succeed but makes the long-running operation it starts end in
	// error with Message.
	FailOperation bool `json:"failOperation,omitempty"`
}

func (f *Fault) validate() error {
	if f.API == "" {
		return fmt.Errorf("fault: field \"api\" is required (one of the parts, e.g. gke, gkebackup, resourcemanager, cloudsql, cloudflare, github, instances)")
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("fault: field \"rate\" must be between 0 and 1, got %v", f.Rate)
	}
	if f.Status == 0 && f.Code == "" && f.Latency == 0 && !f.FailOperation {
		return fmt.Errorf("fault: set at least one of \"status\", \"code\", \"latency\" or \"failOperation\"")
	}
	if f.Code != "" {
		if _, ok := codeByName[strings.ToUpper(f.Code)]; !ok {
			return fmt.Errorf("fault: unknown gRPC code %q (use names such as UNAVAILABLE, RESOURCE_EXHAUSTED)", f.Code)
		}
	}
	return nil
}

type faultTable struct {
	next  int64
	rules []*Fault
}

// decision is what a request should suffer.
type decision struct {
	latency time.Duration
	err     *Fault // non-nil: answer with this error
	failOp  *Fault // non-nil: the operation started by this call fails
}

// AddFault installs a rule and returns it with its ID.
func (s *Sim) AddFault(f Fault) (Fault, error) {
	if err := f.validate(); err != nil {
		return Fault{}, err
	}
	defer s.Lock()()
	s.faults.next++
	f.ID = s.faults.next
	if f.Rate == 0 {
		f.Rate = 1
	}
	s.faults.rules = append(s.faults.rules, &f)
	return f, nil
}

// ClearFaults removes every rule (id 0) or the one with that ID.
func (s *Sim) ClearFaults(id int64) {
	defer s.Lock()()
	if id == 0 {
		s.faults.rules = nil
		return
	}
	kept := s.faults.rules[:0]
	for _, f := range s.faults.rules {
		if f.ID != id {
			kept = append(kept, f)
		}
	}
	s.faults.rules = kept
}

// Faults lists the installed rules with how often each fired.
func (s *Sim) Faults() []Fault {
	defer s.Lock()()
	out := make([]Fault, 0, len(s.faults.rules))
	for _, f := range s.faults.rules {
		out = append(out, *f)
	}
	return out
}

// decide evaluates the rules for one request. subject is the path (REST) or request JSON (gRPC).
func (s *Sim) decide(api, method, subject string) decision {
	defer s.Lock()()
	var d decision
	for _, f := range s.faults.rules {
		if f.API != api || (f.Method != "" && f.Method != method) || (f.Match != "" && !strings.Contains(subject, f.Match)) {
			continue
		}
		if f.Count > 0 && f.Fired >= f.Count {
			continue
		}
		if f.Rate < 1 && s.rng.Float64() >= f.Rate {
			continue
		}
		f.Fired++
		if f.Latency > 0 {
			d.latency += f.Latency.D()
		}
		switch {
		case f.FailOperation && d.failOp == nil:
			d.failOp = f
		case (f.Status != 0 || f.Code != "") && d.err == nil:
			d.err = f
		}
	}
	return d
}

type failOpKey struct{}

// OperationFailure returns the message an operation started by this request must fail with, or ""
// (fault injection with failOperation).
func OperationFailure(ctx context.Context) string {
	if f, ok := ctx.Value(failOpKey{}).(*Fault); ok {
		if f.Message != "" {
			return f.Message
		}
		return "simulated operation failure (fault injection)"
	}
	return ""
}

// Routes registers REST handlers for one part, wrapping each with fault injection.
type Routes struct {
	s          *Sim
	mux        *http.ServeMux
	api        string
	writeError func(w http.ResponseWriter, status int, message string)
}

// ErrorWriter sets how injected errors are rendered in this API's own error format (Google JSON
// error, Cloudflare envelope, GitHub message). Call before Handle.
func (r *Routes) ErrorWriter(f func(w http.ResponseWriter, status int, message string)) {
	r.writeError = f
}

// Handle registers pattern (Go 1.22 ServeMux syntax, e.g. "POST /v1/projects/{project}/instances")
// under a method name that fault rules match, e.g. "instances.insert".
func (r *Routes) Handle(method, pattern string, h http.HandlerFunc) {
	s, api, writeErr := r.s, r.api, r.writeError
	r.mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
		d := s.decide(api, method, req.URL.Path)
		if d.latency > 0 {
			select {
			case <-time.After(d.latency):
			case <-req.Context().Done():
				return
			}
		}
		if f := d.err; f != nil {
			st := f.Status
			if st == 0 {
				st = httpStatusForCode(codeByName[strings.ToUpper(f.Code)])
			}
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter.D()+time.Second-1)/time.Second)))
			}
			msg := f.Message
			if msg == "" {
				msg = fmt.Sprintf("simulated %d from fault injection", st)
			}
			if writeErr != nil {
				writeErr(w, st, msg)
			} else {
				http.Error(w, msg, st)
			}
			return
		}
		if d.failOp != nil {
			req = req.WithContext(context.WithValue(req.Context(), failOpKey{}, d.failOp))
		}
		h(w, req)
	})
}

// grpcAPIs maps gRPC service names to part names.
var grpcAPIs = map[string]string{
	"google.container.v1.ClusterManager":       "gke",
	"google.cloud.gkebackup.v1.BackupForGKE":   "gkebackup",
	"google.cloud.resourcemanager.v3.Projects": "resourcemanager",
	"google.longrunning.Operations":            "longrunning",
}

// unaryFaults applies fault rules to gRPC calls: /google.container.v1.ClusterManager/CreateCluster
// is API "gke", method "CreateCluster".
func (s *Sim) unaryFaults(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	svc, method, _ := strings.Cut(strings.TrimPrefix(info.FullMethod, "/"), "/")
	api := grpcAPIs[svc]
	if api == "" {
		api = svc
	}
	subject := ""
	if m, ok := req.(proto.Message); ok {
		b, _ := protojson.Marshal(m)
		subject = string(b)
	}
	d := s.decide(api, method, subject)
	if d.latency > 0 {
		select {
		case <-time.After(d.latency):
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if f := d.err; f != nil {
		code := codeByName[strings.ToUpper(f.Code)]
		if f.Code == "" {
			code = codeForHTTPStatus(f.Status)
		}
		msg := f.Message
		if msg == "" {
			msg = fmt.Sprintf("simulated %s from fault injection", code)
		}
		st := status.New(code, msg)
		var details []protoadapt.MessageV1
		if code == codes.ResourceExhausted {
			details = append(details, &errdetails.ErrorInfo{Reason: "RATE_LIMIT_EXCEEDED", Domain: "googleapis.com",
				Metadata: map[string]string{"quota_metric": api + ".googleapis.com/default_requests"}})
		}
		if f.RetryAfter > 0 {
			details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(f.RetryAfter.D())})
		}
		if len(details) > 0 {
			if withDetails, err := st.WithDetails(details...); err == nil {
				st = withDetails
			}
		}
		return nil, st.Err()
	}
	if d.failOp != nil {
		ctx = context.WithValue(ctx, failOpKey{}, d.failOp)
	}
	return handler(ctx, req)
}

var codeByName = func() map[string]codes.Code {
	m := map[string]codes.Code{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		// codes.Code.String gives "ResourceExhausted"; the canonical names are upper snake case.
		m[upperSnake(c.String())] = c
	}
	return m
}()

func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// httpStatusForCode and codeForHTTPStatus follow google.rpc.Code's documented HTTP mapping.
func httpStatusForCode(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

func codeForHTTPStatus(st int) codes.Code {
	switch st {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.AlreadyExists
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	default:
		return codes.Internal
	}
}
