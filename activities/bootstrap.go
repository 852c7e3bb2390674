package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/cloudbilling/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	"google.golang.org/api/serviceusage/v1"

	"github.com/sourcegraph/lifecycle/internal/config"
)

// Bootstrap makes a new GCP project usable, which CreateProject leaves it not: it links the
// billing account (Cloud Billing) and enables the APIs the service calls there (Service Usage).
// Enabling needs billing, and an enabled API takes minutes to answer (ServiceDisabled).
type Bootstrap struct {
	billing *cloudbilling.APIService
	usage   *serviceusage.Service
	// BillingAccount is linked to every new project (GCP_BILLING_ACCOUNT).
	BillingAccount string
	// PollInterval is how often Service Usage's operations are polled (DefaultPollInterval when zero).
	PollInterval time.Duration
}

// ProjectServices are the APIs the service calls in an instance's project: GKE (its clusters need
// Compute Engine's networks, disks and instance groups), Backup for GKE and Cloud SQL Admin.
// Service Networking would join them once databases get private IPs; they have public ones today.
var ProjectServices = []string{"container.googleapis.com", "compute.googleapis.com", "gkebackup.googleapis.com", "sqladmin.googleapis.com"}

// NewBootstrap builds the Cloud Billing and Service Usage REST clients (or points them at the
// simulator, per config.Cloud).
func NewBootstrap(ctx context.Context, c config.Cloud) (*Bootstrap, error) {
	billing, err := cloudbilling.NewService(ctx, restOptions(c, c.CloudBillingEndpoint)...)
	if err != nil {
		return nil, fmt.Errorf("Cloud Billing client: %w", err)
	}
	usage, err := serviceusage.NewService(ctx, restOptions(c, c.ServiceUsageEndpoint)...)
	if err != nil {
		return nil, fmt.Errorf("Service Usage client: %w", err)
	}
	return &Bootstrap{billing: billing, usage: usage, BillingAccount: c.BillingAccount, PollInterval: DefaultPollInterval}, nil
}

// restOptions are the options of a google.golang.org/api REST client: the real endpoint with
// Application Default Credentials, or endpoint (the simulator) without them when GCP_INSECURE.
func restOptions(c config.Cloud, endpoint string) []option.ClientOption {
	if endpoint == "" {
		return nil
	}
	opts := []option.ClientOption{option.WithEndpoint(endpoint)}
	if c.GCPInsecure {
		opts = append(opts, option.WithoutAuthentication())
	}
	return opts
}

// EnsureBillingInput names the project to link.
type EnsureBillingInput struct {
	ProjectID string `json:"projectId"`
}

// BillingResult is the project's billing account after the call.
type BillingResult struct {
	ProjectID      string `json:"projectId"`
	BillingAccount string `json:"billingAccount"`
	// Linked is true when this call linked it (false: it already was).
	Linked bool `json:"linked,omitempty"`
}

// EnsureBilling links the configured billing account to the project, unless billing is already
// enabled there (by this account, or by another someone linked on purpose, which is kept).
func (b *Bootstrap) EnsureBilling(ctx context.Context, in EnsureBillingInput) (BillingResult, error) {
	what := "link billing account " + b.BillingAccount + " to GCP project " + in.ProjectID
	res := BillingResult{ProjectID: in.ProjectID}
	if in.ProjectID == "" {
		return res, Permanent(ErrInvalidArgument, what+": no project ID given", "pass spec.ProjectID(slug)", nil)
	}
	if b.BillingAccount == "" {
		return res, Permanent(ErrInvalidArgument, "link billing to GCP project "+in.ProjectID+": no billing account is configured",
			"set "+config.EnvBillingAccount+" on the worker (billingAccounts/XXXXXX-XXXXXX-XXXXXX) and retry", nil)
	}
	name := "projects/" + in.ProjectID
	info, err := b.billing.Projects.GetBillingInfo(name).Context(ctx).Do()
	if err != nil {
		return res, classify("read the billing info of GCP project "+in.ProjectID, err)
	}
	if info.BillingEnabled && info.BillingAccountName != "" {
		res.BillingAccount = info.BillingAccountName
		return res, nil
	}
	info, err = b.billing.Projects.UpdateBillingInfo(name, &cloudbilling.ProjectBillingInfo{BillingAccountName: b.BillingAccount}).Context(ctx).Do()
	if err != nil {
		return res, classify(what, err)
	}
	res.BillingAccount, res.Linked = info.BillingAccountName, true
	return res, nil
}

// EnableServicesInput names the project and the APIs to enable (ProjectServices when empty).
type EnableServicesInput struct {
	ProjectID string   `json:"projectId"`
	Services  []string `json:"services,omitempty"`
}

// EnableServicesResult says which APIs this call enabled; the rest already were.
type EnableServicesResult struct {
	ProjectID string   `json:"projectId"`
	Enabled   []string `json:"enabled,omitempty"`
}

// EnableServices enables the APIs that are not enabled yet in one batchEnable and waits for its
// operation. Done means Service Usage says ENABLED; the APIs themselves may answer
// SERVICE_DISABLED for minutes more (ServiceDisabled), which the workflow waits out.
func (b *Bootstrap) EnableServices(ctx context.Context, in EnableServicesInput) (EnableServicesResult, error) {
	services := in.Services
	if len(services) == 0 {
		services = ProjectServices
	}
	what := fmt.Sprintf("enable %s in GCP project %s", strings.Join(services, ", "), in.ProjectID)
	res := EnableServicesResult{ProjectID: in.ProjectID}
	if in.ProjectID == "" {
		return res, Permanent(ErrInvalidArgument, what+": no project ID given", "pass spec.ProjectID(slug)", nil)
	}
	parent := "projects/" + in.ProjectID
	if d, ok := resumeDetails[lroProgress](ctx); ok && d.Operation != "" {
		// An earlier attempt started the operation: wait for it rather than enabling again.
		if err := b.waitUsage(ctx, what, d.Operation); err != nil && !isHTTPNotFound(err) {
			return res, err
		}
	}
	names := make([]string, len(services))
	for i, s := range services {
		names[i] = parent + "/services/" + s
	}
	got, err := b.usage.Services.BatchGet(parent).Names(names...).Context(ctx).Do()
	if err != nil {
		return res, classify("read the APIs enabled in GCP project "+in.ProjectID, err)
	}
	enabled := map[string]bool{}
	for _, s := range got.Services {
		if s.State == "ENABLED" && s.Config != nil {
			enabled[s.Config.Name] = true
		}
	}
	var missing []string
	for _, s := range services {
		if !enabled[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return res, nil
	}
	op, err := b.usage.Services.BatchEnable(parent, &serviceusage.BatchEnableServicesRequest{ServiceIds: missing}).Context(ctx).Do()
	if err != nil {
		// Without billing Service Usage refuses: FAILED_PRECONDITION, ErrorInfo
		// UREQ_PROJECT_BILLING_NOT_FOUND ("Billing account for project 'N' is not found").
		if ge := new(googleapi.Error); errors.As(err, &ge) && (errorReason(err) == "UREQ_PROJECT_BILLING_NOT_FOUND" || strings.Contains(ge.Message, "Billing must be enabled")) {
			return res, Permanent(ErrPrecondition, fmt.Sprintf("%s: HTTP %d: %s", what, ge.Code, ge.Message),
				"link a billing account to the project (the create's billing step does; check that it ran and that "+config.EnvBillingAccount+" is an open account), then retry", err)
		}
		return res, classify(what, err)
	}
	if !op.Done {
		if err := b.waitUsage(ctx, what, op.Name); err != nil {
			return res, err
		}
	} else if op.Error != nil {
		return res, Permanent(ErrOperationFailed, fmt.Sprintf("%s: operation %s failed: %s", what, op.Name, op.Error.Message), serviceUsageFix, nil)
	}
	res.Enabled = slices.Clone(missing)
	return res, nil
}

const serviceUsageFix = "read the message (billing, org policy restricting services or quota are common causes), fix it, then retry the step"

// waitUsage polls a Service Usage operation until done, heartbeating its name.
func (b *Bootstrap) waitUsage(ctx context.Context, what, name string) error {
	d := lroProgress{Operation: name}
	heartbeat(ctx, d)
	return pollUntil(ctx, b.PollInterval, d, func() (bool, error) {
		op, err := b.usage.Operations.Get(name).Context(ctx).Do()
		switch {
		case err != nil:
			return false, classify(what+": poll operation "+name, err)
		case !op.Done:
			return false, nil
		case op.Error != nil:
			return true, Permanent(ErrOperationFailed, fmt.Sprintf("%s: operation %s failed: %s", what, name, op.Error.Message), serviceUsageFix, nil)
		}
		return true, nil
	})
}

// isHTTPNotFound reports a classified or raw 404 (an operation the service no longer knows).
func isHTTPNotFound(err error) bool {
	ge := new(googleapi.Error)
	return errors.As(err, &ge) && ge.Code == http.StatusNotFound
}
