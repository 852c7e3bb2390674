package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
)

// Fixed names inside an instance's own project. Deterministic names are what make every cloud
// mutation idempotent (docs/design.md invariant 4): a retried create finds its own resource.
const (
	ClusterName     = "sourcegraph"
	NodePoolName    = "primary"
	SQLInstanceName = "sourcegraph-db"
	BackupPlanName  = "sourcegraph-daily"
	// NetworkName and SubnetworkName are the VPC network the create makes for the cluster, instead
	// of the "default" network an organisation policy (constraints/compute.skipDefaultNetworkCreation)
	// commonly leaves out of new projects; SubnetworkRange is the subnetwork's primary (node) range.
	// GKE adds the pod and service ranges itself (VPC-native, GKE-managed secondary ranges).
	NetworkName     = "sourcegraph"
	SubnetworkName  = "sourcegraph-nodes"
	SubnetworkRange = "10.0.0.0/20"
	// HoldingPageHost is where a suspended instance's DNS record points.
	HoldingPageHost = "holding.sourcegraphcloud.com"
)

// Regions an instance may be created in; fixed at creation.
var Regions = []string{"us-central1", "europe-west3", "europe-west2", "asia-northeast1", "asia-northeast3", "australia-southeast1"}

// DefaultDomainSuffix is appended to the slug when the request names no domain.
const DefaultDomainSuffix = "sourcegraphcloud.com"

// ProjectID is the GCP project of an instance made before project IDs had a random part (seeded
// or adopted instances whose config.yaml names no project, and creates started before the
// random-project-id change). GCP project IDs are 6-30 characters, so long slugs are cut and given a
// hash suffix to stay unique. New instances get NewProjectID.
func ProjectID(slug string) string {
	id := "src-" + slug
	if len(id) <= 30 {
		return id
	}
	sum := sha256.Sum256([]byte(slug))
	return fmt.Sprintf("src-%s-%s", trimDash(slug[:19]), hex.EncodeToString(sum[:])[:6])
}

func trimDash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '-' {
		s = s[:len(s)-1]
	}
	return s
}

// ProjectSuffixLen is the length of the random part of a new instance's project ID.
const ProjectSuffixLen = 6

// NewProjectID is a new instance's GCP project ID: "src-<slug>-<suffix>", the slug cut so the ID
// stays within GCP's 30 characters. A GCP project ID can never be used again, even after its
// project is deleted and purged, so every create needs an ID of its own: the random suffix
// (RandomProjectSuffix) is what lets a slug be created again after a teardown.
func NewProjectID(slug, suffix string) string {
	keep := 30 - len("src-") - 1 - len(suffix)
	if len(slug) > keep {
		slug = slug[:keep]
	}
	return "src-" + trimDash(slug) + "-" + suffix
}

// RandomProjectSuffix is ProjectSuffixLen random lowercase letters and digits containing none of
// the strings GCP refuses in a project ID (projectIDRestricted). The slug is checked for them by
// ValidateNewSlug, and the dash between the two keeps them from forming across the join.
func RandomProjectSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for {
		b := make([]byte, ProjectSuffixLen)
		for i := range b {
			b[i] = alphabet[rand.IntN(len(alphabet))]
		}
		if s := string(b); !containsRestricted(s) {
			return s
		}
	}
}

func containsRestricted(s string) bool {
	for _, w := range projectIDRestricted {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// InstanceProjectID is the instance's project: the one its config.yaml or its entity recorded, or,
// for an instance that recorded none (seeded, adopted or created before project IDs had a random
// part), ProjectID(slug), which is what those were made with.
func InstanceProjectID(recorded, slug string) string {
	if recorded != "" {
		return recorded
	}
	return ProjectID(slug)
}

// IngressHost is the load balancer name a live instance's DNS record points at, for an instance
// whose project is ProjectID(slug).
func IngressHost(slug string) string { return IngressHostFor(ProjectID(slug)) }

// IngressHostFor is the load balancer name of the instance in the project: it follows the project
// ID, whichever way that was chosen.
func IngressHostFor(projectID string) string { return projectID + ".ingress." + DefaultDomainSuffix }

// DefaultDomain is the instance's hostname when the request names none.
func DefaultDomain(slug string) string { return slug + "." + DefaultDomainSuffix }

// ConfigPath is the instance's config.yaml in the config repo.
func ConfigPath(env, slug string) string {
	return path.Join("environments", env, "deployments", slug, "config.yaml")
}

// DeploymentsDir lists the fleet of one environment.
func DeploymentsDir(env string) string { return path.Join("environments", env, "deployments") }

// StatusFor fills the resource names for a slug in a region, for an instance whose project is
// ProjectID(slug).
func StatusFor(slug, region string) Status { return StatusForProject(ProjectID(slug), region) }

// StatusForProject fills the resource names of an instance in the project and region.
func StatusForProject(projectID, region string) Status {
	return Status{GCP: GCPStatus{
		ProjectID:   projectID,
		Region:      region,
		Cluster:     ClusterName,
		NodePool:    NodePoolName,
		CloudSQL:    SQLInstanceName,
		BackupPlan:  BackupPlanName,
		IngressHost: IngressHostFor(projectID),
	}}
}
