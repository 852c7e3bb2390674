package gke

import (
	"context"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// initPool fills in what GKE sets on a new node pool. Its size is InitialNodeCount in each of its
// Locations (the cluster's unless it names its own), which the simulator keeps current through resizes (the real API reports the live size only through instance
// groups; the node count is what callers here care about).
func (p *Part) initPool(ref clusterRef, c *containerpb.Cluster, np *containerpb.NodePool) {
	np.SelfLink = apiBase + poolRef{ref, np.Name}.name()
	np.Status, np.StatusMessage = containerpb.NodePool_PROVISIONING, ""
	if np.Version == "" {
		np.Version = c.CurrentNodeVersion
	}
	if len(np.Locations) == 0 {
		np.Locations = c.Locations
	}
	np.Etag = p.etag()
}

// CreateNodePool adds a PROVISIONING pool that becomes RUNNING when the CREATE_NODE_POOL operation
// is done.
func (p *Part) CreateNodePool(ctx context.Context, req *containerpb.CreateNodePoolRequest) (*containerpb.Operation, error) {
	defer p.s.Lock()()
	ref, err := parseCluster(req.GetParent(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	in := req.GetNodePool()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Required field \"node_pool\" is missing.")
	}
	if err := validName("NodePool", in.GetName()); err != nil {
		return nil, err
	}
	if in.GetInitialNodeCount() < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'node_pool.initial_node_count': %d. Must be non-negative.", in.GetInitialNodeCount())
	}
	if err := p.checkProject(ref.project); err != nil {
		return nil, err
	}
	c, err := p.cluster(ref)
	if err != nil {
		return nil, err
	}
	pref := poolRef{ref, in.GetName()}
	for _, np := range c.NodePools {
		if np.Name == pref.pool {
			return nil, status.Errorf(codes.AlreadyExists, "Already exists: %s.", pref.name())
		}
	}
	if err := p.checkIdle(ref); err != nil {
		return nil, err
	}
	if c.Status != containerpb.Cluster_RUNNING {
		return nil, status.Errorf(codes.FailedPrecondition, "Cluster %s is in state %s; node pools can only be added to a RUNNING cluster.", ref.cluster, c.Status)
	}
	np := clonePool(in)
	p.initPool(ref, c, np)
	if err := p.checkCPUQuota(ref.project, ref.location, poolsCPUs([]*containerpb.NodePool{np})); err != nil {
		return nil, err
	}
	c.NodePools = append(c.NodePools, np)
	p.refreshCluster(c)
	p.s.Created(Name, pref.name())

	return p.startOp(ctx, ref, containerpb.Operation_CREATE_NODE_POOL, pref.name(), func(failure string) {
		if failure != "" {
			np.Status, np.StatusMessage = containerpb.NodePool_ERROR, failure
		} else {
			np.Status = containerpb.NodePool_RUNNING
		}
		p.refreshCluster(c)
	}), nil
}

func (p *Part) GetNodePool(_ context.Context, req *containerpb.GetNodePoolRequest) (*containerpb.NodePool, error) {
	defer p.s.Lock()()
	ref, err := parsePool(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	if err := p.checkProject(ref.project); err != nil {
		return nil, err
	}
	_, np, err := p.pool(ref)
	if err != nil {
		return nil, err
	}
	return clonePool(np), nil
}

func (p *Part) ListNodePools(_ context.Context, req *containerpb.ListNodePoolsRequest) (*containerpb.ListNodePoolsResponse, error) {
	defer p.s.Lock()()
	ref, err := parseCluster(req.GetParent(), req.GetProjectId(), req.GetZone(), req.GetClusterId())
	if err != nil {
		return nil, err
	}
	if err := p.checkProject(ref.project); err != nil {
		return nil, err
	}
	c, err := p.cluster(ref)
	if err != nil {
		return nil, err
	}
	resp := &containerpb.ListNodePoolsResponse{}
	for _, np := range c.NodePools {
		resp.NodePools = append(resp.NodePools, clonePool(np))
	}
	return resp, nil
}

// SetNodePoolSize resizes a pool: RECONCILING while the SET_NODE_POOL_SIZE operation runs, then
// RUNNING with the new size. Size 0 is allowed: that is how an instance is suspended (the control
// plane keeps running). A failed resize leaves the old size and the pool RUNNING_WITH_ERROR.
func (p *Part) SetNodePoolSize(ctx context.Context, req *containerpb.SetNodePoolSizeRequest) (*containerpb.Operation, error) {
	defer p.s.Lock()()
	ref, err := parsePool(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	size := req.GetNodeCount()
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid value for field 'node_count': %d. Must be non-negative.", size)
	}
	if err := p.checkProject(ref.project); err != nil {
		return nil, err
	}
	c, np, err := p.pool(ref)
	if err != nil {
		return nil, err
	}
	if err := p.checkIdle(ref.clusterRef); err != nil {
		return nil, err
	}
	if np.Status != containerpb.NodePool_RUNNING && np.Status != containerpb.NodePool_RUNNING_WITH_ERROR {
		return nil, status.Errorf(codes.FailedPrecondition, "Node pool %s is in state %s and cannot be resized.", ref.pool, np.Status)
	}
	// node_count is per zone, like initial_node_count: the pool grows by the difference in each zone.
	if grow := (size - np.InitialNodeCount) * int32(max(len(np.Locations), 1)); grow > 0 {
		if err := p.checkCPUQuota(ref.project, ref.location, int(grow)*machineCPUs(np.GetConfig().GetMachineType())); err != nil {
			return nil, err
		}
	}
	np.Status, np.StatusMessage = containerpb.NodePool_RECONCILING, ""
	np.Etag = p.etag()
	p.refreshCluster(c)
	p.s.Mutated(Name, ref.name())

	return p.startOp(ctx, ref.clusterRef, containerpb.Operation_SET_NODE_POOL_SIZE, ref.name(), func(failure string) {
		if failure != "" {
			np.Status, np.StatusMessage = containerpb.NodePool_RUNNING_WITH_ERROR, failure
		} else {
			np.Status, np.InitialNodeCount = containerpb.NodePool_RUNNING, size
		}
		np.Etag = p.etag()
		p.refreshCluster(c)
	}), nil
}

// DeleteNodePool puts the pool in STOPPING; it is gone when the DELETE_NODE_POOL operation is done.
func (p *Part) DeleteNodePool(ctx context.Context, req *containerpb.DeleteNodePoolRequest) (*containerpb.Operation, error) {
	defer p.s.Lock()()
	ref, err := parsePool(req.GetName(), req.GetProjectId(), req.GetZone(), req.GetClusterId(), req.GetNodePoolId())
	if err != nil {
		return nil, err
	}
	if err := p.checkProject(ref.project); err != nil {
		return nil, err
	}
	c, np, err := p.pool(ref)
	if err != nil {
		return nil, err
	}
	if err := p.checkIdle(ref.clusterRef); err != nil {
		return nil, err
	}
	np.Status, np.StatusMessage = containerpb.NodePool_STOPPING, ""
	p.refreshCluster(c)
	p.s.Deleted(Name, ref.name())

	return p.startOp(ctx, ref.clusterRef, containerpb.Operation_DELETE_NODE_POOL, ref.name(), func(failure string) {
		if failure != "" {
			np.Status, np.StatusMessage = containerpb.NodePool_ERROR, failure
			p.refreshCluster(c)
			return
		}
		kept := c.NodePools[:0]
		for _, other := range c.NodePools {
			if other != np {
				kept = append(kept, other)
			}
		}
		c.NodePools = kept
		p.refreshCluster(c)
	}), nil
}
