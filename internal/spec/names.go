package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
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

// ProjectID is the instance's dedicated GCP project. GCP project IDs are 6-30 characters, so long
// slugs are cut and given a hash suffix to stay unique.
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

// IngressHost is the load balancer name a live instance's DNS record points at.
func IngressHost(slug string) string { return ProjectID(slug) + ".ingress." + DefaultDomainSuffix }

// DefaultDomain is the instance's hostname when the request names none.
func DefaultDomain(slug string) string { return slug + "." + DefaultDomainSuffix }

// ConfigPath is the instance's config.yaml in the config repo.
func ConfigPath(env, slug string) string {
	return path.Join("environments", env, "deployments", slug, "config.yaml")
}

// DeploymentsDir lists the fleet of one environment.
func DeploymentsDir(env string) string { return path.Join("environments", env, "deployments") }

// StatusFor fills the resource names for a slug in a region.
func StatusFor(slug, region string) Status {
	return Status{GCP: GCPStatus{
		ProjectID:   ProjectID(slug),
		Region:      region,
		Cluster:     ClusterName,
		NodePool:    NodePoolName,
		CloudSQL:    SQLInstanceName,
		BackupPlan:  BackupPlanName,
		IngressHost: IngressHost(slug),
	}}
}
