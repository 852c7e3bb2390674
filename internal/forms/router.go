package forms

import (
	"fmt"
	"strings"
)

// Operation names what a request asks for. The starter passes it on as the workflow's operation
// (OperationRequest.Operation, the Operation search attribute).
type Operation string

const (
	OpCreate           Operation = "create"
	OpSuspend          Operation = "suspend"
	OpResume           Operation = "resume"
	OpTeardown         Operation = "teardown"
	OpExtendTrial      Operation = "extend-trial"
	OpConvertTrial     Operation = "convert-trial"
	OpUpdateAllowlist  Operation = "update-ip-allowlist"
	OpReloadFrontend   Operation = "reload-frontend"
	OpEnableTelemetry  Operation = "enable-telemetry"
	OpDisableTelemetry Operation = "disable-telemetry"
	OpUpgradeFleet     Operation = "upgrade-fleet"
	// OpUpgrade upgrades one instance. It has no form: the fleet rollout asks for it on each
	// instance, and on-call can ask for it directly (docs/operating.md, "Upgrades and fleet rollouts").
	OpUpgrade Operation = "upgrade"
)

// Request labels: each issue form adds "team/cloud" and exactly one of these.
const (
	// NewInstanceLabel = "mi/new-instance-request" (newinstance.go)
	SuspendLabel          = "mi/suspension-request"
	ResumeLabel           = "mi/resume-request"
	TeardownLabel         = "mi/teardown-request"
	ExtendTrialLabel      = "mi/extend-trial-request"
	ConvertTrialLabel     = "mi/configure-instance-type"
	UpdateAllowlistLabel  = "mi/update-ip-allowlist"
	ReloadFrontendLabel   = "mi/reload-frontend"
	EnableTelemetryLabel  = "mi/enable-telemetry-request"
	DisableTelemetryLabel = "mi/disable-telemetry-request"
	UpgradeTrackingLabel  = "mi/upgrade-tracking"
	// TeamLabel is on every form; it notifies the Cloud team.
	TeamLabel = "team/cloud"
)

// Request is a parsed, validated request of any operation.
type Request interface {
	// Operation is what the request asks for.
	Operation() Operation
	// InstanceSlug is the instance the request acts on; "" for fleet-wide requests (upgrade tracking).
	InstanceSlug() string
}

type route struct {
	op    Operation
	label string
	parse func(Fields) (Request, error)
}

// as adapts a typed parser to the router; a failed parse yields a nil Request, never a partial one.
func as[T Request](parse func(Fields) (T, error)) func(Fields) (Request, error) {
	return func(f Fields) (Request, error) {
		r, err := parse(f)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// routes is the one table of operations, their request labels and their parsers.
var routes = []route{
	{OpCreate, NewInstanceLabel, as(parseNewInstance)},
	{OpSuspend, SuspendLabel, as(parseSuspend)},
	{OpResume, ResumeLabel, as(parseResume)},
	{OpTeardown, TeardownLabel, as(parseTeardown)},
	{OpExtendTrial, ExtendTrialLabel, as(parseExtendTrial)},
	{OpConvertTrial, ConvertTrialLabel, as(parseConvertTrial)},
	{OpUpdateAllowlist, UpdateAllowlistLabel, as(parseAllowlistUpdate)},
	{OpReloadFrontend, ReloadFrontendLabel, as(parseReloadFrontend)},
	{OpEnableTelemetry, EnableTelemetryLabel, as(parseEnableTelemetry)},
	{OpDisableTelemetry, DisableTelemetryLabel, as(parseDisableTelemetry)},
	{OpUpgradeFleet, UpgradeTrackingLabel, as(parseUpgradeTracking)},
}

func routeFor(op Operation) (route, bool) {
	for _, r := range routes {
		if r.op == op {
			return r, true
		}
	}
	return route{}, false
}

// Operations lists every operation that has an issue form, in a fixed order.
func Operations() []Operation {
	ops := make([]Operation, len(routes))
	for i, r := range routes {
		ops[i] = r.op
	}
	return ops
}

// LabelOf returns the request label of an operation's form ("" if it has none).
func LabelOf(op Operation) string {
	r, _ := routeFor(op)
	return r.label
}

// OpsByLabel returns the operations whose request labels are among labels (label names compare
// case-insensitively, as on GitHub), each once, in the order of Operations.
func OpsByLabel(labels []string) []Operation {
	var ops []Operation
	for _, r := range routes {
		for _, l := range labels {
			if strings.EqualFold(strings.TrimSpace(l), r.label) {
				ops = append(ops, r.op)
				break
			}
		}
	}
	return ops
}

// ByLabel maps an issue's labels to the operation it requests. ok is false when the issue carries
// no request label, or more than one (ambiguous: the starter should say so and start nothing; see
// OpsByLabel). Other labels (team/cloud, mi, ...) are ignored.
func ByLabel(labels []string) (op Operation, ok bool) {
	ops := OpsByLabel(labels)
	if len(ops) != 1 {
		return "", false
	}
	return ops[0], true
}

// ParseRequest parses and validates body as the form of op. The result's dynamic type is the
// operation's request type (NewInstance, Suspend, Resume, Teardown, ExtendTrial, ConvertTrial,
// AllowlistUpdate, ReloadFrontend, Telemetry or UpgradeTracking), never a pointer. On any error
// the request is nil: invalid input never yields a request.
func ParseRequest(op Operation, body string) (Request, error) {
	r, ok := routeFor(op)
	if !ok {
		return nil, fmt.Errorf("no issue form for operation %q", op)
	}
	return r.parse(Parse(body))
}

func (NewInstance) Operation() Operation   { return OpCreate }
func (r NewInstance) InstanceSlug() string { return r.Slug }
