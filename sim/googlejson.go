package sim

import "net/http"

// GoogleError is the JSON error body of Google's REST APIs, which googleapi.CheckResponse parses
// into *googleapi.Error (Code, Message, Errors[].Reason, Details) and apierror into its ErrorInfo.
// Details are the google.rpc detail messages in their JSON form, each with "@type".
type GoogleError struct {
	Error GoogleErrorBody `json:"error"`
}

// GoogleErrorBody is the "error" object.
type GoogleErrorBody struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Errors  []GoogleErrorItem `json:"errors,omitempty"`
	Status  string            `json:"status,omitempty"`
	Details []map[string]any  `json:"details,omitempty"`
}

// GoogleErrorItem is one entry of the legacy "errors" list.
type GoogleErrorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// WriteGoogleError writes a Google JSON error: the canonical status name ("PERMISSION_DENIED"),
// the legacy reason and domain when set, and details.
func WriteGoogleError(w http.ResponseWriter, code int, status, message, domain, reason string, details ...map[string]any) {
	e := GoogleError{Error: GoogleErrorBody{Code: code, Message: message, Status: status, Details: details}}
	if reason != "" {
		e.Error.Errors = []GoogleErrorItem{{Message: message, Domain: domain, Reason: reason}}
	}
	WriteJSON(w, code, e)
}

// ErrorInfo is a google.rpc.ErrorInfo detail in its JSON form.
func ErrorInfo(reason, domain string, metadata map[string]string) map[string]any {
	return map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain, "metadata": metadata}
}

// ActivationURL is the console page the SERVICE_DISABLED answers point to.
func ActivationURL(service, number string) string {
	return "https://console.developers.google.com/apis/api/" + service + "/overview?project=" + number
}

// ServiceDisabled asks the serviceusage part, when the simulator has one, whether service is not
// enabled in project (or was enabled too recently to have propagated); message and the project's
// number are for the answer. Lock held.
func (s *Sim) ServiceDisabled(service, project string) (message, number string, disabled bool) {
	c, ok := s.Part("serviceusage").(interface {
		ServiceDisabled(service, project string) (message, number string, disabled bool)
	})
	if !ok {
		return "", "", false
	}
	return c.ServiceDisabled(service, project)
}

// WriteServiceDisabled answers as Google's REST front end does when service is not enabled in the
// consumer project (number): 403 PERMISSION_DENIED, the legacy reason accessNotConfigured (domain
// usageLimits), a Help link to the API's console page and an ErrorInfo SERVICE_DISABLED.
func WriteServiceDisabled(w http.ResponseWriter, service, message, number string) {
	WriteGoogleError(w, http.StatusForbidden, "PERMISSION_DENIED", message, "usageLimits", "accessNotConfigured",
		map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []map[string]string{{
			"description": "Google developers console API activation",
			"url":         ActivationURL(service, number),
		}}},
		ErrorInfo("SERVICE_DISABLED", "googleapis.com", map[string]string{"consumer": "projects/" + number, "service": service}))
}

// WriteGoogleInjectedError renders fault-injected errors the way Google's REST front ends answer.
func WriteGoogleInjectedError(w http.ResponseWriter, code int, message string) {
	status := "INTERNAL"
	switch code {
	case http.StatusBadRequest:
		status = "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		status = "UNAUTHENTICATED"
	case http.StatusForbidden:
		status = "PERMISSION_DENIED"
	case http.StatusNotFound:
		status = "NOT_FOUND"
	case http.StatusConflict:
		status = "ABORTED"
	case http.StatusTooManyRequests:
		status = "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		status = "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		status = "DEADLINE_EXCEEDED"
	}
	WriteGoogleError(w, code, status, message, "", "")
}
