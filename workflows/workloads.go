package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Taking an instance's workloads down and up again: shared by suspend and resume (and resume's
// undo of a suspend).

// setAlerting turns the instance's alerting on or off in config.yaml (create turns it on last).
func setAlerting(on bool) func(*spec.Config) error {
	return func(c *spec.Config) error {
		c.Spec.Debug.EnableAlerting = on
		return nil
	}
}

// setSuspended sets spec.suspended; seen (if not nil) receives the config as read, before the change.
func setSuspended(suspended bool, seen func(*spec.Config)) func(*spec.Config) error {
	return func(c *spec.Config) error {
		if seen != nil {
			seen(c)
		}
		c.Spec.Suspended = suspended
		return nil
	}
}

func resizeNodePool(ctx workflow.Context, ref instanceRef, nodes int32) error {
	_, err := execute[activities.ResizeNodePoolResult](ctx, CloudOperation, fmt.Sprintf("Resize the node pool to %d nodes", nodes),
		(*activities.GKE).ResizeNodePool, activities.ResizeNodePoolInput{
			Project: ref.Project, Region: ref.Region, Cluster: spec.ClusterName, NodePool: spec.NodePoolName, NodeCount: nodes,
		})
	return err
}

func setSQLActivation(ctx workflow.Context, ref instanceRef, policy string) error {
	what := "Start Cloud SQL (activation policy ALWAYS)"
	if policy == "NEVER" {
		what = "Stop Cloud SQL (activation policy NEVER)"
	}
	_, err := execute[activities.SetSQLActivationOutput](ctx, CloudOperation, what, (*activities.CloudSQL).SetSQLActivation,
		activities.SetSQLActivationInput{Project: ref.Project, Instance: spec.SQLInstanceName, Policy: policy})
	return err
}

func setHoldingPage(ctx workflow.Context, host string, on bool) error {
	what := "Turn the holding page off for " + host
	if on {
		what = "Turn the holding page on for " + host
	}
	_, err := execute[activities.SetHoldingPageOutput](ctx, CloudCall, what, (*activities.Cloudflare).SetHoldingPage,
		activities.SetHoldingPageInput{Host: host, On: on})
	return err
}
