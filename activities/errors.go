package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go"
	"github.com/google/go-github/v55/github"
	"github.com/googleapis/gax-go/v2/apierror"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error types carried in temporal.ApplicationError.Type. Workflows and on-call decide on these,
// never on message text. Every failure an activity returns is one of them.
const (
	// Retryable: Temporal's retry policy handles them.
	ErrTransient   = "Transient"   // 5xx, timeouts, connection resets
	ErrRateLimited = "RateLimited" // 429 / RESOURCE_EXHAUSTED / GitHub rate limits; NextRetryDelay honours Retry-After
	ErrBusy        = "Busy"        // another operation is running on the resource; retry once it is done

	// Not retryable: the step parks and a human decides (docs/design.md invariant 5).
	ErrInvalidArgument   = "InvalidArgument"   // the request itself is wrong
	ErrPermissionDenied  = "PermissionDenied"  // credentials lack a role
	ErrQuotaExceeded     = "QuotaExceeded"     // project quota: needs a quota increase
	ErrDeletionProtected = "DeletionProtected" // protection must be lifted first
	ErrConflict          = "Conflict"          // exists with a different spec than requested
	ErrNotFound          = "NotFound"          // something the step depends on does not exist
	ErrOperationFailed   = "OperationFailed"   // the cloud accepted the request but the operation ended in error
	ErrPrecondition      = "FailedPrecondition"
	// ErrServiceDisabled: the API is not enabled in the project (ErrorInfo SERVICE_DISABLED). Not
	// retried by the activity's policy, which counts attempts: right after the create enables
	// the APIs it is a matter of time, which the workflow waits out (a bounded time, then it parks).
	ErrServiceDisabled = "ServiceDisabled"
	// ErrNeedsReview: a config pull request waits for an approving review that branch protection
	// requires. The step parks with the link and goes on by itself once the pull request is
	// approved (the workflow re-runs it periodically; see Runner).
	ErrNeedsReview = "NeedsReview"
)

// ServiceDisabledDetails are the details of an ErrServiceDisabled error: the API and the project.
type ServiceDisabledDetails struct {
	Service string `json:"service"` // e.g. container.googleapis.com
	Project string `json:"project"` // as the error names it: projects/<number>, or the ID
}

// serviceDisabled recognises Google's answer to a call of an API that is not enabled in the
// consumer project: PERMISSION_DENIED (gRPC) or 403 (REST) with an ErrorInfo of reason
// SERVICE_DISABLED, domain googleapis.com, metadata service and consumer; REST APIs also carry the
// legacy reason accessNotConfigured, whose message links the API's console page.
func serviceDisabled(err error) (ServiceDisabledDetails, bool) {
	if ae, ok := apierror.FromError(err); ok && ae.Reason() == "SERVICE_DISABLED" {
		md := ae.Metadata()
		return ServiceDisabledDetails{Service: md["service"], Project: md["consumer"]}, true
	}
	if ge := new(googleapi.Error); errors.As(err, &ge) && ge.Code == http.StatusForbidden && slices.Contains(reasons(ge), "accessNotConfigured") {
		d := ServiceDisabledDetails{}
		if _, rest, ok := strings.Cut(ge.Message, "/apis/api/"); ok {
			d.Service, rest, _ = strings.Cut(rest, "/")
			if _, p, ok := strings.Cut(rest, "project="); ok {
				d.Project = "projects/" + strings.FieldsFunc(p, func(r rune) bool { return r == ' ' || r == '&' })[0]
			}
		}
		return d, true
	}
	return ServiceDisabledDetails{}, false
}

// errServiceDisabled is the typed error of a SERVICE_DISABLED answer, with its details.
func errServiceDisabled(what string, d ServiceDisabledDetails, err error) error {
	svc := d.Service
	if svc == "" {
		svc = "the API"
	}
	msg := fmt.Sprintf("%s: %s is not enabled in %s: %s", what, svc, d.Project, googleMessage(err))
	fix := fmt.Sprintf("the create enables it in its services step; if that ran minutes ago, retry once the enabling has propagated, otherwise enable it (gcloud services enable %s --project <project>) and retry", svc)
	return temporal.NewApplicationErrorWithOptions(msg+". What to do: "+fix, ErrServiceDisabled,
		temporal.ApplicationErrorOptions{NonRetryable: true, Cause: err, Details: []any{d}})
}

// errorReason is the ErrorInfo reason of a Google API error, or "".
func errorReason(err error) string {
	if ae, ok := apierror.FromError(err); ok {
		return ae.Reason()
	}
	return ""
}

// googleMessage is a Google API error's message without the client's decorations.
func googleMessage(err error) string {
	if ge := new(googleapi.Error); errors.As(err, &ge) && ge.Message != "" {
		return ge.Message
	}
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

// NeedsReview is the non-retryable error of a change whose pull request (prURL, also the error's
// only detail) needs an approving review before it can merge.
func NeedsReview(what, prURL, msg string, cause error) error {
	return temporal.NewApplicationErrorWithOptions(
		fmt.Sprintf("needs a review: %s (%s: %s). What to do: approve the pull request (as someone other than the bot); the step goes on by itself once it is approved", prURL, what, msg),
		ErrNeedsReview, temporal.ApplicationErrorOptions{NonRetryable: true, Cause: cause, Details: []any{prURL}})
}

// Transient is a retryable error; retryAfter (0: the policy's backoff) is honoured by the server.
func Transient(typ, msg string, cause error, retryAfter time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(msg, typ, temporal.ApplicationErrorOptions{Cause: cause, NextRetryDelay: retryAfter})
}

// Permanent is a non-retryable error whose message says what is wrong and what to do.
func Permanent(typ, what, fix string, cause error) error {
	msg := what
	if fix != "" {
		msg += ". What to do: " + fix
	}
	return temporal.NewNonRetryableApplicationError(msg, typ, cause)
}

// classify maps any client error from the systems we call to a typed Temporal error. what names
// the action for the message, e.g. `create GKE cluster projects/p/locations/l/clusters/c`.
func classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return err // already classified
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Transient(ErrTransient, what+": timed out", err, 0)
	}
	if d, ok := serviceDisabled(err); ok {
		return errServiceDisabled(what, d, err)
	}
	if ge := new(googleapi.Error); errors.As(err, &ge) {
		return classifyHTTP(what, ge.Code, reasons(ge), ge.Message, ge.Header, err)
	}
	if ae, ok := apierror.FromError(err); ok && ae.GRPCStatus() != nil {
		return classifyGRPC(what, ae, err)
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		ae, _ := apierror.FromError(err)
		return classifyGRPC(what, ae, err)
	}
	if ge := new(github.RateLimitError); errors.As(err, &ge) {
		return Transient(ErrRateLimited, what+": GitHub rate limit exhausted", err, time.Until(ge.Rate.Reset.Time))
	}
	if ge := new(github.AbuseRateLimitError); errors.As(err, &ge) {
		// Not ge.RetryAfter: without Retry-After go-github takes the primary limit's reset, up to
		// an hour away, where GitHub asks for a minute.
		return Transient(ErrRateLimited, what+": GitHub secondary rate limit", err, githubWait(ge.Response))
	}
	if ge := new(github.ErrorResponse); errors.As(err, &ge) && ge.Response != nil {
		// go-github v55 knows a secondary limit only by the older documentation URLs, and never on
		// a 429; GitHub now answers 403 or 429 with "#about-secondary-rate-limits".
		if code := ge.Response.StatusCode; code == http.StatusTooManyRequests ||
			(code == http.StatusForbidden && githubSecondaryLimit(ge)) {
			return Transient(ErrRateLimited, fmt.Sprintf("%s: GitHub secondary rate limit (HTTP %d): %s", what, code, ge.Message), err, githubWait(ge.Response))
		}
		msg := ge.Message
		for _, e := range ge.Errors {
			msg += fmt.Sprintf(" (%s %s: %s)", e.Resource, e.Field, e.Code)
		}
		return classifyHTTP(what, ge.Response.StatusCode, nil, msg, ge.Response.Header, err)
	}
	if cfErr := cloudflareStatus(err); cfErr != 0 {
		return classifyHTTP(what, cfErr, nil, err.Error(), nil, err)
	}
	// cloudflare-go returns plain errors once its own retries on 429/5xx are exhausted.
	if s := err.Error(); strings.Contains(s, "exceeded available rate limit retries") {
		return Transient(ErrRateLimited, what+": Cloudflare rate limit", err, 0)
	} else if strings.Contains(s, "internal server error response") {
		return Transient(ErrTransient, what+": Cloudflare server error", err, 0)
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return Transient(ErrTransient, what+": network error", err, 0)
	}
	return Transient(ErrTransient, what+": "+err.Error(), err, 0)
}

func reasons(ge *googleapi.Error) []string {
	out := make([]string, 0, len(ge.Errors))
	for _, e := range ge.Errors {
		out = append(out, e.Reason)
	}
	return out
}

// classifyHTTP handles REST errors (Cloud SQL Admin, GitHub, Cloudflare).
func classifyHTTP(what string, code int, reasons []string, msg string, h http.Header, err error) error {
	has := func(r string) bool {
		for _, x := range reasons {
			if x == r {
				return true
			}
		}
		return false
	}
	detail := fmt.Sprintf("%s: HTTP %d: %s", what, code, msg)
	switch {
	case code == http.StatusTooManyRequests || has("rateLimitExceeded") ||
		(code == http.StatusForbidden && h != nil && (h.Get("X-RateLimit-Remaining") == "0" || h.Get("Retry-After") != "")):
		return Transient(ErrRateLimited, detail, err, retryAfter(h))
	case has("operationInProgress"):
		return Transient(ErrBusy, detail, err, retryAfter(h))
	case code >= 500 || code == http.StatusRequestTimeout:
		return Transient(ErrTransient, detail, err, retryAfter(h))
	case has("deletionProtectionEnabled") || strings.Contains(strings.ToLower(msg), "deletion protection"):
		return Permanent(ErrDeletionProtected, detail, "disable deletion protection first (the teardown workflow does this after approval)", err)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return Permanent(ErrPermissionDenied, detail, "check the worker's credentials and their roles for this resource", err)
	case code == http.StatusNotFound:
		return Permanent(ErrNotFound, detail, "check that the resource this step depends on exists", err)
	case code == http.StatusConflict:
		return Permanent(ErrConflict, detail, "the resource exists in a different state than requested; inspect it before retrying", err)
	case code == http.StatusPreconditionFailed:
		return Transient(ErrBusy, detail, err, 0) // stale read-modify-write: read again
	default:
		return Permanent(ErrInvalidArgument, detail, "the request was rejected as invalid; fix the input (often the issue form) and retry", err)
	}
}

// classifyGRPC handles GAPIC gRPC errors (GKE, Backup for GKE, Resource Manager).
func classifyGRPC(what string, ae *apierror.APIError, err error) error {
	st, _ := status.FromError(err)
	var after time.Duration
	var reason string
	if ae != nil {
		if ri := ae.Details().RetryInfo; ri != nil && ri.GetRetryDelay() != nil {
			after = ri.GetRetryDelay().AsDuration()
		}
		reason = ae.Reason()
	}
	detail := fmt.Sprintf("%s: %s: %s", what, st.Code(), st.Message())
	switch st.Code() {
	case codes.ResourceExhausted:
		return Transient(ErrRateLimited, detail, err, after)
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Aborted, codes.Unknown:
		return Transient(ErrTransient, detail, err, after)
	case codes.FailedPrecondition:
		// GKE answers FAILED_PRECONDITION while another operation runs on the cluster: with reason
		// CLUSTER_ALREADY_HAS_OPERATION ("Cluster is running incompatible operation ...", often
		// GKE's own auto-upgrade or repair), or, with no reason, "Operation ... is currently ...".
		if reason == "CLUSTER_ALREADY_HAS_OPERATION" || strings.Contains(st.Message(), "Please wait and try again") || strings.Contains(st.Message(), "is currently") {
			return Transient(ErrBusy, detail, err, after)
		}
		return Permanent(ErrPrecondition, detail, "the resource is not in a state that allows this; inspect it in the console", err)
	case codes.PermissionDenied:
		// GKE reports quota shortfalls as PERMISSION_DENIED "Insufficient regional quota ...".
		if strings.Contains(st.Message(), "quota") {
			return Permanent(ErrQuotaExceeded, detail, "request a quota increase for the project or pick a smaller size", err)
		}
		if reason == "CONSUMER_INVALID" {
			return Permanent(ErrNotFound, detail, "the GCP project does not exist or is being deleted", err)
		}
		return Permanent(ErrPermissionDenied, detail, "check the worker's service account roles on this project", err)
	case codes.Unauthenticated:
		return Permanent(ErrPermissionDenied, detail, "the worker's GCP credentials are missing or expired", err)
	case codes.NotFound:
		return Permanent(ErrNotFound, detail, "check that the resource this step depends on exists", err)
	case codes.AlreadyExists:
		return Permanent(ErrConflict, detail, "the resource already exists; inspect it before retrying", err)
	default:
		return Permanent(ErrInvalidArgument, detail, "the request was rejected as invalid; fix the input and retry", err)
	}
}

// githubSecondaryLimit reports whether a GitHub error is the secondary rate limit: GitHub points
// documentation_url at the secondary limits and its message says so.
func githubSecondaryLimit(ge *github.ErrorResponse) bool {
	return strings.Contains(ge.DocumentationURL, "secondary-rate-limits") ||
		strings.Contains(ge.DocumentationURL, "abuse-rate-limits") ||
		strings.Contains(strings.ToLower(ge.Message), "secondary rate limit")
}

// githubWait is how long GitHub asks a rate-limited client to wait: Retry-After when present, the
// reset when X-RateLimit-Remaining is 0, otherwise at least a minute.
func githubWait(r *http.Response) time.Duration {
	if r == nil {
		return time.Minute
	}
	if r.Header.Get("Retry-After") != "" || r.Header.Get("X-RateLimit-Remaining") == "0" {
		if d := retryAfter(r.Header); d > 0 {
			return d
		}
	}
	return time.Minute
}

// retryAfter reads Retry-After (seconds or HTTP date), or GitHub's X-RateLimit-Reset.
func retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return time.Until(t)
		}
	}
	if h.Get("X-RateLimit-Remaining") == "0" {
		if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			if d := time.Until(time.Unix(s, 0)); d > 0 {
				return d
			}
		}
	}
	return 0
}

// cloudflareStatus returns the HTTP status behind a cloudflare-go typed error, or 0.
func cloudflareStatus(err error) int {
	var (
		authz *cloudflare.AuthorizationError
		authn *cloudflare.AuthenticationError
		nf    *cloudflare.NotFoundError
		req   *cloudflare.RequestError
		rl    *cloudflare.RatelimitError
		svc   *cloudflare.ServiceError
	)
	switch {
	case errors.As(err, &authz):
		return http.StatusUnauthorized
	case errors.As(err, &authn):
		return http.StatusForbidden
	case errors.As(err, &nf):
		return http.StatusNotFound
	case errors.As(err, &rl):
		return http.StatusTooManyRequests
	case errors.As(err, &svc):
		return http.StatusInternalServerError
	case errors.As(err, &req):
		return http.StatusBadRequest
	}
	return 0
}
