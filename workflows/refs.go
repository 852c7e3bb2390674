package workflows

import "github.com/sourcegraph/lifecycle/internal/spec"

// Where an instance's resources are, as every operation on a running instance names them.

// instanceRefs are the instance's cloud resources, all derived from the slug (spec/names.go).
type instanceRef struct {
	Project, Region string
}

func instanceRefs(inst Instance) instanceRef {
	return instanceRef{Project: spec.ProjectID(inst.Slug), Region: inst.Region}
}

// instanceHost is the instance's hostname.
func instanceHost(inst Instance) string {
	if inst.Domain != "" {
		return inst.Domain
	}
	return spec.DefaultDomain(inst.Slug)
}
