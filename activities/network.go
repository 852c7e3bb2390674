package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// ensureNetwork makes the instance's VPC network and its subnetwork in the region, or accepts the
// ones that exist (a retried create finds its own by name). Custom mode: no subnetworks in other
// regions. Compute inserts finish in seconds, so their operations are waited for here, without
// heartbeat details: a retry reads the resources again and an insert of one that exists is a 409.
func (g *GKE) ensureNetwork(ctx context.Context, project, region string) error {
	netPath := "projects/" + project + "/global/networks/" + spec.NetworkName
	what := "ensure VPC network " + netPath
	_, err := g.compute.Networks.Get(project, spec.NetworkName).Context(ctx).Do()
	if computeNotFound(err) {
		op, err := g.compute.Networks.Insert(project, &compute.Network{
			Name:                  spec.NetworkName,
			Description:           "Sourcegraph dedicated instance (managed by the lifecycle service)",
			AutoCreateSubnetworks: false,
			ForceSendFields:       []string{"AutoCreateSubnetworks"}, // false must be sent: omitted means legacy/auto
			RoutingConfig:         &compute.NetworkRoutingConfig{RoutingMode: "REGIONAL"},
		}).Context(ctx).Do()
		if err != nil && !computeAlreadyExists(err) {
			return classify(what, err)
		}
		if op != nil {
			if err := g.waitComputeOp(ctx, project, "", op, what); err != nil {
				return err
			}
		}
	} else if err != nil {
		return classify(what, err)
	}

	subPath := "projects/" + project + "/regions/" + region + "/subnetworks/" + spec.SubnetworkName
	what = "ensure subnetwork " + subPath
	sn, err := g.compute.Subnetworks.Get(project, region, spec.SubnetworkName).Context(ctx).Do()
	if err == nil {
		if sn.IpCidrRange != spec.SubnetworkRange {
			return Permanent(ErrConflict, fmt.Sprintf("%s: it exists with range %s, want %s", what, sn.IpCidrRange, spec.SubnetworkRange),
				"the subnetwork was made by hand or by another tool: check it in the console, delete it if it is not in use, then retry", nil)
		}
		return nil
	}
	if !computeNotFound(err) {
		return classify(what, err)
	}
	op, err := g.compute.Subnetworks.Insert(project, region, &compute.Subnetwork{
		Name:                  spec.SubnetworkName,
		Network:               netPath,
		IpCidrRange:           spec.SubnetworkRange,
		PrivateIpGoogleAccess: true,
		Description:           "Nodes of the Sourcegraph dedicated instance's GKE cluster (managed by the lifecycle service)",
	}).Context(ctx).Do()
	if err != nil && !computeAlreadyExists(err) {
		return classify(what, err)
	}
	if op != nil {
		return g.waitComputeOp(ctx, project, region, op, what)
	}
	return nil
}

// waitComputeOp polls a Compute Engine operation (global when region is empty) until DONE.
func (g *GKE) waitComputeOp(ctx context.Context, project, region string, op *compute.Operation, what string) error {
	check := func(op *compute.Operation) (bool, error) {
		if op.Status != "DONE" {
			return false, nil
		}
		if op.Error != nil && len(op.Error.Errors) > 0 {
			e := op.Error.Errors[0]
			return false, Permanent(ErrOperationFailed, fmt.Sprintf("%s: Compute Engine operation %s failed: %s: %s", what, op.Name, e.Code, e.Message),
				"read the message (quota or an organisation policy are common causes), fix the cause, then retry the step", nil)
		}
		return true, nil
	}
	if ok, err := check(op); ok || err != nil {
		return err
	}
	return pollUntil(ctx, g.PollInterval, gkeProgress{}, func() (bool, error) {
		var got *compute.Operation
		var err error
		if region == "" {
			got, err = g.compute.GlobalOperations.Get(project, op.Name).Context(ctx).Do()
		} else {
			got, err = g.compute.RegionOperations.Get(project, region, op.Name).Context(ctx).Do()
		}
		if err != nil {
			return false, classify("poll Compute Engine operation "+op.Name+" ("+what+")", err)
		}
		return check(got)
	})
}

func computeNotFound(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}

func computeAlreadyExists(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusConflict
}
