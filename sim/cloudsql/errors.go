package cloudsql

import (
	"net/http"

	"github.com/sourcegraph/lifecycle/sim"
)

// googleError is the legacy Google JSON error body that googleapi.CheckResponse parses into
// *googleapi.Error (Code, Message, Errors[].Reason).
type googleError struct {
	Error struct {
		Code    int         `json:"code"`
		Message string      `json:"message"`
		Errors  []errorItem `json:"errors"`
		Status  string      `json:"status,omitempty"`
	} `json:"error"`
}

type errorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// writeError writes one error. status is the canonical status name ("NOT_FOUND"); empty omits it,
// as some real Cloud SQL errors do.
func writeError(w http.ResponseWriter, code int, reason, message, status string) {
	var e googleError
	e.Error.Code = code
	e.Error.Message = message
	e.Error.Errors = []errorItem{{Message: message, Domain: "global", Reason: reason}}
	e.Error.Status = status
	sim.WriteJSON(w, code, e)
}

// writeInjectedError renders fault-injected errors the way Google front ends answer them.
func writeInjectedError(w http.ResponseWriter, code int, message string) {
	reason, status := "backendError", "INTERNAL"
	switch code {
	case http.StatusBadRequest:
		reason, status = "invalid", "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		reason, status = "authError", "UNAUTHENTICATED"
	case http.StatusForbidden:
		reason, status = "forbidden", "PERMISSION_DENIED"
	case http.StatusNotFound:
		reason, status = "notFound", "NOT_FOUND"
	case http.StatusConflict:
		reason, status = "conflict", "ABORTED"
	case http.StatusTooManyRequests:
		reason, status = "rateLimitExceeded", "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		reason, status = "backendError", "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		reason, status = "backendError", "DEADLINE_EXCEEDED"
	}
	writeError(w, code, reason, message, status)
}

// The real body for a missing instance has no "status" field (KCC golden logs).
func errInstanceNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "instanceDoesNotExist", "The Cloud SQL instance does not exist.", "")
}

func errNotFound(w http.ResponseWriter, message string) {
	writeError(w, http.StatusNotFound, "notFound", message, "NOT_FOUND")
}

func errInvalid(w http.ResponseWriter, message string) {
	writeError(w, http.StatusBadRequest, "invalid", "Invalid request: "+message, "INVALID_ARGUMENT")
}

func errOperationInProgress(w http.ResponseWriter) {
	writeError(w, http.StatusConflict, "operationInProgress",
		"Operation failed because another operation was already in progress.", "")
}

func errInvalidState(w http.ResponseWriter) {
	writeError(w, http.StatusConflict, "invalidState",
		"The instance or operation is not in an appropriate state to handle the request.", "")
}
