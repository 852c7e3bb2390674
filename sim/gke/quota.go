package gke

import (
	"strconv"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultRegionalCPUs is the regional CPUS quota of a new project: the figure GKE quotes when a
// new project's first cluster asks for more ("project has a quota of '24.0'", docs/fidelity.md).
const DefaultRegionalCPUs = 24

// poolNodes is a node pool's node count as GKE counts it: initial_node_count in each of its zones.
func poolNodes(np *containerpb.NodePool) int32 {
	return np.InitialNodeCount * int32(max(len(np.Locations), 1))
}

// machineCPUs is the vCPU count of a Compute Engine machine type: the number a predefined type
// ends with (n2-highmem-16: 16), 2 for the shared-core E2 types (e2-micro, e2-small, e2-medium),
// and e2-medium's 2 when none is named (GKE's default machine type).
func machineCPUs(machineType string) int {
	i := strings.LastIndexByte(machineType, '-')
	if n, err := strconv.Atoi(machineType[i+1:]); err == nil && n > 0 {
		return n
	}
	return 2
}

// regionOf is the region of a location: a zone's region, or the region itself.
func regionOf(location string) string {
	if zonePattern.MatchString(location) {
		return location[:len(location)-2]
	}
	return location
}

// quotaKey names a project's quota in one region.
func quotaKey(project, region string) string { return project + "/" + region }

// regionalCPUQuota is the project's CPUS quota in the region: the configured default, or what
// seeding raised it to. Negative: no limit. Lock held.
func (p *Part) regionalCPUQuota(project, region string) int {
	if q, ok := p.cpuQuota[quotaKey(project, region)]; ok {
		return q
	}
	return p.defaultCPUQuota
}

// regionalCPUsInUse adds up the vCPUs of the project's nodes in the region: every pool that has
// (or is getting) nodes. Lock held.
func (p *Part) regionalCPUsInUse(project, region string) int {
	n := 0
	for name, c := range p.clusters {
		ref, _ := parseClusterName(name)
		if ref.project != project || regionOf(ref.location) != region {
			continue
		}
		for _, np := range c.NodePools {
			if np.Status == containerpb.NodePool_STOPPING || np.Status == containerpb.NodePool_ERROR {
				continue
			}
			n += int(poolNodes(np)) * machineCPUs(np.GetConfig().GetMachineType())
		}
	}
	return n
}

// checkCPUQuota refuses a request for need more vCPUs in the project's region than its CPUS quota
// has left, as GKE does before it starts the operation: PERMISSION_DENIED (HTTP 403) "Insufficient
// regional quota to satisfy request: resource "CPUS": ...". Lock held.
func (p *Part) checkCPUQuota(project, location string, need int) error {
	region := regionOf(location)
	quota := p.regionalCPUQuota(project, region)
	if need <= 0 || quota < 0 {
		return nil
	}
	avail := max(quota-p.regionalCPUsInUse(project, region), 0)
	if need <= avail {
		return nil
	}
	return status.Errorf(codes.PermissionDenied,
		"Insufficient regional quota to satisfy request: resource \"CPUS\": request requires '%.1f' and is short '%.1f'. "+
			"project has a quota of '%.1f' with '%.1f' available. View and manage quotas at "+
			"https://console.cloud.google.com/iam-admin/quotas?usage=USED&project=%s.",
		float64(need), float64(need-avail), float64(quota), float64(avail), project)
}

// poolsCPUs is the vCPUs a set of new node pools asks for.
func poolsCPUs(pools []*containerpb.NodePool) int {
	n := 0
	for _, np := range pools {
		n += int(poolNodes(np)) * machineCPUs(np.GetConfig().GetMachineType())
	}
	return n
}

// SetRegionalCPUQuota sets the project's CPUS quota in a region, as a granted quota increase
// would (negative: no limit). Lock held.
func (p *Part) SetRegionalCPUQuota(project, region string, cpus int) {
	p.cpuQuota[quotaKey(project, region)] = cpus
}

// raiseQuotaFor lifts the project's regional quota to what its clusters there use, for a seeded
// fleet: existing instances had their quota increases granted before the simulator started, so a
// resume of a seeded instance is not refused for quota it already had. Lock held.
func (p *Part) raiseQuotaFor(project, location string) {
	region := regionOf(location)
	if q, used := p.regionalCPUQuota(project, region), p.regionalCPUsInUse(project, region); q >= 0 && used > q {
		p.cpuQuota[quotaKey(project, region)] = used
	}
}
