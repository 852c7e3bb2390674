package stack

import (
	"fmt"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"sync"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// fleetPlan is one instance to seed, defaults filled in and its config.yaml rendered.
type fleetPlan struct {
	FleetInstance
	index     int // in the request, for error messages
	alerting  bool
	projectID string
	path      string
	config    []byte
	zoneID    string // set by checkFree
}

// fieldErr names a field of this instance in the request, e.g. instances[2].version.
func (p *fleetPlan) fieldErr(field, value, fix string) error {
	return &spec.FieldError{Field: fmt.Sprintf("instances[%d].%s", p.index, field), Value: value, Fix: fix}
}

// gcpLabelKey is GCP's rule for label keys, which metadata.labels follow too.
var gcpLabelKey = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// planFleet fills in defaults, validates every field with the spec validators, rejects slugs,
// domains and projects given twice, and renders each config.yaml (in parallel: YAML encoding is
// most of the cost of a large fleet).
func planFleet(in []FleetInstance, env string) ([]*fleetPlan, error) {
	if len(in) == 0 {
		return nil, &spec.FieldError{Field: "instances", Fix: "list at least one instance"}
	}
	plans := make([]*fleetPlan, len(in))
	slugs := make(map[string]int, len(in))
	domains := make(map[string]int, len(in))
	projects := make(map[string]int, len(in))
	for i, f := range in {
		p, err := planInstance(i, f, env)
		if err != nil {
			return nil, err
		}
		if j, dup := slugs[p.Slug]; dup {
			return nil, p.fieldErr("slug", p.Slug, fmt.Sprintf("is given twice (also instances[%d])", j))
		}
		if j, dup := domains[p.Domain]; dup {
			return nil, p.fieldErr("domain", p.Domain, fmt.Sprintf("is given twice (also instances[%d])", j))
		}
		if j, dup := projects[p.projectID]; dup {
			return nil, p.fieldErr("slug", p.Slug, fmt.Sprintf("has the same GCP project ID %s as instances[%d]", p.projectID, j))
		}
		slugs[p.Slug], domains[p.Domain], projects[p.projectID] = i, i, i
		plans[i] = p
	}
	if err := renderConfigs(plans); err != nil {
		return nil, err
	}
	return plans, nil
}

func planInstance(i int, f FleetInstance, env string) (*fleetPlan, error) {
	p := &fleetPlan{FleetInstance: f, index: i, alerting: f.Alerting == nil || *f.Alerting}
	p.Alerting = nil
	p.Labels = maps.Clone(f.Labels)
	p.IPAllowlist = slices.Clone(f.IPAllowlist)
	if f.MaintenanceWindow != nil {
		w := *f.MaintenanceWindow
		w.Days = append([]string(nil), w.Days...)
		p.MaintenanceWindow = &w
	}
	if p.Type == "" {
		p.Type = spec.Production
	}
	if p.ReleaseChannel == "" {
		p.ReleaseChannel = spec.Stable
	}
	if p.Domain == "" && p.Slug != "" {
		p.Domain = spec.DefaultDomain(p.Slug)
	}
	if p.Region == "" {
		p.Region = "us-central1"
	}
	if p.Size == "" {
		p.Size = spec.Small
	}
	field := func(name string) string { return fmt.Sprintf("instances[%d].%s", i, name) }
	if err := spec.ValidateSlug(field("slug"), p.Slug); err != nil {
		return nil, err
	}
	if p.Version == "" {
		return nil, p.fieldErr("version", "", "is required: the Sourcegraph version the instance runs, e.g. `5.9.0`")
	}
	for _, err := range []error{
		spec.ValidateInstanceType(field("type"), p.Type),
		spec.ValidateVersion(field("version"), p.Version),
		validateChannel(field("releaseChannel"), p.ReleaseChannel),
		spec.ValidateDomain(field("domain"), p.Domain),
		spec.ValidateRegion(field("region"), p.Region),
		spec.ValidateSize(field("size"), p.Size),
		spec.ValidateMaintenanceWindow(field("maintenanceWindow"), p.MaintenanceWindow),
		spec.ValidateAllowlist(field("ipAllowlist"), p.IPAllowlist),
	} {
		if err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Labels)) {
		switch {
		case k == "instance-type":
			return nil, p.fieldErr("labels", k, "is set from `type`; leave it out of labels")
		case !gcpLabelKey.MatchString(k):
			return nil, p.fieldErr("labels", k, "label keys are 1–63 lowercase letters, digits, `_` or `-`, starting with a letter (e.g. `account`)")
		}
	}
	p.projectID = spec.ProjectID(p.Slug)
	p.path = spec.ConfigPath(env, p.Slug)
	return p, nil
}

// validateChannel checks the release channel (spec has no validator for it: issue forms do not
// ask for one).
func validateChannel(field string, c spec.ReleaseChannel) error {
	switch c {
	case spec.Stable, spec.Pause, spec.Insiders:
		return nil
	}
	return &spec.FieldError{Field: field, Value: string(c), Fix: "must be stable, pause or insiders"}
}

// renderConfigs marshals every config.yaml, one worker per CPU.
func renderConfigs(plans []*fleetPlan) error {
	workers := min(runtime.GOMAXPROCS(0), len(plans))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(plans); i += workers {
				p := plans[i]
				b, err := instanceConfig(p).Marshal()
				if err != nil {
					errs[w] = fmt.Errorf("config.yaml of %s: %w", p.Slug, err)
					return
				}
				p.config = b
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// view is the instance as the endpoint reports it.
func (p *fleetPlan) view() seededInstance {
	v := seededInstance{
		Slug: p.Slug, Type: p.Type, Version: p.Version, ReleaseChannel: p.ReleaseChannel, Domain: p.Domain,
		Region: p.Region, Size: p.Size, Alerting: p.alerting, Labels: p.Labels,
		ProjectID: p.projectID, ConfigPath: p.path, IngressHost: spec.IngressHost(p.Slug),
	}
	if w := p.MaintenanceWindow; w != nil {
		v.MaintenanceWindow = &windowJSON{Days: w.Days, StartHour: w.StartHour, Hours: w.Hours}
	}
	return v
}
