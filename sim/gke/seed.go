package gke

import (
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
)

// SeedCluster adds a RUNNING cluster with RUNNING node pools, as if its CREATE_CLUSTER operation had
// finished at created, with no operation left behind: for fleets that existed before the simulator
// started. It validates like CreateCluster; the project must exist first. Lock held.
func (p *Part) SeedCluster(project, location string, in *containerpb.Cluster, created time.Time) error {
	if err := validName("Cluster", in.GetName()); err != nil {
		return err
	}
	if err := p.checkProject(project); err != nil {
		return err
	}
	ref := clusterRef{project, location, in.GetName()}
	c, err := p.newCluster(ref, in, created)
	if err != nil {
		return err
	}
	c.Status = containerpb.Cluster_RUNNING
	for _, np := range c.NodePools {
		np.Status = containerpb.NodePool_RUNNING
	}
	p.refreshCluster(c)
	p.addCluster(ref, c)
	p.raiseQuotaFor(project, location)
	return nil
}
