package serviceusage_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	gkebackupclient "cloud.google.com/go/gkebackup/apiv1"
	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	rm "cloud.google.com/go/resourcemanager/apiv3"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/cloudbilling/v1"
	compute "google.golang.org/api/compute/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/api/serviceusage/v1"
	"google.golang.org/api/sqladmin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/stack"
)

// clients are the real Google clients, pointed at one simulator with every part.
type clients struct {
	s       *sim.Sim
	rm      *rm.ProjectsClient
	gke     *container.ClusterManagerClient
	backup  *gkebackupclient.BackupForGKEClient
	sql     *sqladmin.Service
	compute *compute.Service
	billing *cloudbilling.APIService
	usage   *serviceusage.Service
}

func setup(t *testing.T, timings sim.Timings) *clients {
	t.Helper()
	ctx := context.Background()
	s, err := stack.Start(sim.Config{Timings: timings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	grpcOpts := []option.ClientOption{option.WithEndpoint(s.GRPCAddr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))}
	restOpts := []option.ClientOption{option.WithEndpoint(s.URL() + "/"), option.WithoutAuthentication()}
	c := &clients{s: s}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	c.rm, err = rm.NewProjectsClient(ctx, grpcOpts...)
	must(err)
	c.gke, err = container.NewClusterManagerClient(ctx, grpcOpts...)
	must(err)
	c.backup, err = gkebackupclient.NewBackupForGKEClient(ctx, grpcOpts...)
	must(err)
	t.Cleanup(func() { c.rm.Close(); c.gke.Close(); c.backup.Close() })
	c.sql, err = sqladmin.NewService(ctx, restOpts...)
	must(err)
	c.compute, err = compute.NewService(ctx, option.WithEndpoint(s.URL()+"/compute/v1/"), option.WithoutAuthentication())
	must(err)
	c.billing, err = cloudbilling.NewService(ctx, restOpts...)
	must(err)
	c.usage, err = serviceusage.NewService(ctx, restOpts...)
	must(err)
	return c
}

// newProject creates a project as the worker does (with a parent) and returns its number.
func (c *clients) newProject(t *testing.T, id string) string {
	t.Helper()
	ctx := context.Background()
	op, err := c.rm.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: id, Parent: "folders/123"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := op.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(p.Name, "projects/")
}

// wantServiceDisabled checks Google's answer to a call of a disabled API: PERMISSION_DENIED / 403,
// the "has not been used in project N" message and an ErrorInfo SERVICE_DISABLED naming the
// service and the consumer project.
func wantServiceDisabled(t *testing.T, err error, service, title, number string) {
	t.Helper()
	ae, ok := apierror.FromError(err)
	if !ok {
		t.Fatalf("%s: want an API error, got %v", service, err)
	}
	if ae.GRPCStatus() != nil && ae.GRPCStatus().Code() != codes.PermissionDenied || ae.HTTPCode() > 0 && ae.HTTPCode() != http.StatusForbidden {
		t.Fatalf("%s: want PERMISSION_DENIED / 403, got %v", service, err)
	}
	reason, domain, md := errorInfo(err)
	if reason != "SERVICE_DISABLED" || domain != "googleapis.com" || md["service"] != service || md["consumer"] != "projects/"+number {
		t.Fatalf("%s: ErrorInfo reason %q domain %q metadata %v", service, reason, domain, md)
	}
	if !strings.Contains(err.Error(), title+" has not been used in project "+number+" before or it is disabled. Enable it by visiting") {
		t.Fatalf("%s: message %v", service, err)
	}
}

// errorInfo is the ErrorInfo of a gRPC error (apierror), or of a REST error's JSON details: a
// body that also carries the legacy "errors" list, as Cloud SQL's does, is beyond apierror's
// parser, so the googleapi.Error's decoded details are read instead.
func errorInfo(err error) (reason, domain string, metadata map[string]string) {
	if ae, ok := apierror.FromError(err); ok && ae.Reason() != "" {
		return ae.Reason(), ae.Domain(), ae.Metadata()
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return "", "", nil
	}
	for _, d := range ge.Details {
		m, _ := d.(map[string]any)
		if m["@type"] != "type.googleapis.com/google.rpc.ErrorInfo" {
			continue
		}
		metadata = map[string]string{}
		md, _ := m["metadata"].(map[string]any)
		for k, v := range md {
			metadata[k], _ = v.(string)
		}
		reason, _ = m["reason"].(string)
		domain, _ = m["domain"].(string)
		return reason, domain, metadata
	}
	return "", "", nil
}

// A new project has every API disabled: GKE, Backup for GKE and Cloud SQL Admin refuse it with
// SERVICE_DISABLED (Cloud SQL also with the legacy reason accessNotConfigured).
func TestNewProjectHasItsAPIsDisabled(t *testing.T) {
	c := setup(t, sim.Timings{})
	ctx := context.Background()
	number := c.newProject(t, "tenant-new")

	_, err := c.gke.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/tenant-new/locations/-"})
	wantServiceDisabled(t, err, "container.googleapis.com", "Kubernetes Engine API", number)
	_, err = c.backup.ListBackupPlans(ctx, &gkebackuppb.ListBackupPlansRequest{Parent: "projects/tenant-new/locations/us-central1"}).Next()
	wantServiceDisabled(t, err, "gkebackup.googleapis.com", "Backup for GKE API", number)
	_, err = c.sql.Instances.List("tenant-new").Context(ctx).Do()
	wantServiceDisabled(t, err, "sqladmin.googleapis.com", "Cloud SQL Admin API", number)
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusForbidden || len(ge.Errors) != 1 || ge.Errors[0].Reason != "accessNotConfigured" {
		t.Fatalf("Cloud SQL: want 403 accessNotConfigured, got %v", err)
	}
	_, err = c.compute.Networks.Get("tenant-new", "default").Context(ctx).Do()
	wantServiceDisabled(t, err, "compute.googleapis.com", "Compute Engine API", number)
	if !errors.As(err, &ge) || ge.Code != http.StatusForbidden || len(ge.Errors) != 1 || ge.Errors[0].Reason != "accessNotConfigured" {
		t.Fatalf("Compute Engine: want 403 accessNotConfigured, got %v", err)
	}

	// A project that existed before the simulator started (seeded) was made usable back then.
	stack.MakeUsable(c.s, "tenant-new")
	if _, err := c.gke.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/tenant-new/locations/-"}); err != nil {
		t.Fatalf("after MakeUsable: %v", err)
	}
}

// Enabling needs billing: without a billing account batchEnable answers FAILED_PRECONDITION with
// an ErrorInfo UREQ_PROJECT_BILLING_NOT_FOUND; linked, it enables, and the APIs answer once the
// enabling has propagated.
func TestEnableNeedsBillingAndPropagates(t *testing.T) {
	const propagation = 2 * time.Second
	c := setup(t, sim.Timings{ProjectOperation: sim.Duration(100 * time.Millisecond), ServicePropagation: sim.Duration(propagation)})
	ctx := context.Background()
	number := c.newProject(t, "tenant-boot")
	services := []string{"container.googleapis.com", "compute.googleapis.com", "gkebackup.googleapis.com", "sqladmin.googleapis.com"}
	enable := func() (*serviceusage.Operation, error) {
		return c.usage.Services.BatchEnable("projects/tenant-boot", &serviceusage.BatchEnableServicesRequest{ServiceIds: services}).Context(ctx).Do()
	}

	_, err := enable()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusBadRequest ||
		!strings.Contains(ge.Message, "Billing account for project '"+number+"' is not found. Billing must be enabled for activation of service(s)") {
		t.Fatalf("batchEnable without billing: %v", err)
	}
	if reason, domain, md := errorInfo(err); reason != "UREQ_PROJECT_BILLING_NOT_FOUND" || domain != "serviceusage.googleapis.com/billing-enabled" || md["project"] != number {
		t.Fatalf("batchEnable without billing: ErrorInfo %v", err)
	}

	info, err := c.billing.Projects.GetBillingInfo("projects/tenant-boot").Context(ctx).Do()
	if err != nil || info.BillingEnabled || info.BillingAccountName != "" {
		t.Fatalf("a new project's billing info: %+v %v", info, err)
	}
	_, err = c.billing.Projects.UpdateBillingInfo("projects/tenant-boot", &cloudbilling.ProjectBillingInfo{BillingAccountName: "billingAccounts/nope"}).Context(ctx).Do()
	if !errors.As(err, &ge) || ge.Code != http.StatusBadRequest {
		t.Fatalf("a malformed billing account: %v", err)
	}
	info, err = c.billing.Projects.UpdateBillingInfo("projects/tenant-boot", &cloudbilling.ProjectBillingInfo{BillingAccountName: "billingAccounts/0A1B2C-3D4E5F-000000"}).Context(ctx).Do()
	if err != nil || !info.BillingEnabled || info.BillingAccountName != "billingAccounts/0A1B2C-3D4E5F-000000" || info.ProjectId != "tenant-boot" {
		t.Fatalf("link billing: %+v %v", info, err)
	}
	if _, err := c.billing.Projects.GetBillingInfo("projects/never-created").Context(ctx).Do(); !errors.As(err, &ge) || ge.Code != http.StatusForbidden {
		t.Fatalf("billing info of an unknown project: %v", err)
	}

	op, err := enable()
	if err != nil || op.Done || !strings.HasPrefix(op.Name, "operations/") {
		t.Fatalf("batchEnable: %+v %v", op, err)
	}
	for deadline := time.Now().Add(10 * time.Second); !op.Done; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the batchEnable operation did not finish")
		}
		if op, err = c.usage.Operations.Get(op.Name).Context(ctx).Do(); err != nil {
			t.Fatal(err)
		}
	}
	enabledAt := time.Now()
	if op.Error != nil {
		t.Fatalf("batchEnable failed: %+v", op.Error)
	}
	got, err := c.usage.Services.Get("projects/tenant-boot/services/container.googleapis.com").Context(ctx).Do()
	if err != nil || got.State != "ENABLED" {
		t.Fatalf("services.get after enabling: %+v %v", got, err)
	}
	// Service Usage says ENABLED at once; GKE keeps refusing until the change has propagated.
	_, err = c.gke.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/tenant-boot/locations/-"})
	if time.Since(enabledAt) < propagation {
		wantServiceDisabled(t, err, "container.googleapis.com", "Kubernetes Engine API", number)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err = c.gke.ListClusters(ctx, &containerpb.ListClustersRequest{Parent: "projects/tenant-boot/locations/-"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GKE still refuses %s after enabling: %v", time.Since(enabledAt), err)
		}
	}
	if d := time.Since(enabledAt); d < propagation-100*time.Millisecond {
		t.Fatalf("GKE answered %s after enabling, before the %s propagation", d, propagation)
	}
	if _, err := c.sql.Instances.List("tenant-boot").Context(ctx).Do(); err != nil {
		t.Fatalf("Cloud SQL after propagation: %v", err)
	}
	it := c.backup.ListBackupPlans(ctx, &gkebackuppb.ListBackupPlansRequest{Parent: "projects/tenant-boot/locations/us-central1"})
	if _, err := it.Next(); err != nil && err != iterator.Done {
		t.Fatalf("Backup for GKE after propagation: %v", err)
	}

	// Too many services in one batch is the caller's mistake.
	many := make([]string, 21)
	for i := range many {
		many[i] = "container.googleapis.com"
	}
	_, err = c.usage.Services.BatchEnable("projects/tenant-boot", &serviceusage.BatchEnableServicesRequest{ServiceIds: many}).Context(ctx).Do()
	if !errors.As(err, &ge) || ge.Code != http.StatusBadRequest || !strings.Contains(ge.Message, "maximum of 20") {
		t.Fatalf("21 services: %v", err)
	}
}

// A service account cannot create a project without a parent (organisation or folder).
func TestCreateProjectWithoutParentIsRefused(t *testing.T) {
	c := setup(t, sim.Timings{})
	_, err := c.rm.CreateProject(context.Background(), &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{ProjectId: "tenant-orphan"}})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "Service accounts cannot create projects without a parent.") {
		t.Fatalf("CreateProject without a parent: %v", err)
	}
}
