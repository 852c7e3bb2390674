package workflows

import "github.com/sourcegraph/lifecycle/internal/spec"

// Where an instance's resources are, as every operation on a running instance names them.

// instanceRefs are the instance's cloud resources: its project and region; the names inside the
// project are fixed (spec/names.go).
type instanceRef struct {
	Project, Region string
}

func instanceRefs(inst Instance) instanceRef {
	return instanceRef{Project: instanceProject(inst), Region: inst.Region}
}

// instanceProject is the instance's GCP project: the one its create chose, else the slug's (an
// instance made before project IDs had a random part).
func instanceProject(inst Instance) string { return spec.InstanceProjectID(inst.ProjectID, inst.Slug) }

// instanceIngress is where the instance's DNS record points when it serves: it follows the project.
func instanceIngress(inst Instance) string { return spec.IngressHostFor(instanceProject(inst)) }

// instanceHost is the instance's hostname.
func instanceHost(inst Instance) string {
	if inst.Domain != "" {
		return inst.Domain
	}
	return spec.DefaultDomain(inst.Slug)
}
