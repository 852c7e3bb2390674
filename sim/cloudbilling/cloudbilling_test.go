package cloudbilling_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/api/cloudbilling/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/sourcegraph/lifecycle/sim"
	simbilling "github.com/sourcegraph/lifecycle/sim/cloudbilling"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

// TestProjectBillingInfo drives the real cloudbilling/v1 client: a new project has no billing
// account; updateBillingInfo links one (and an empty name unlinks it); a malformed account is
// refused; a project the caller cannot see is 403; a seeded project comes billed.
func TestProjectBillingInfo(t *testing.T) {
	ctx := context.Background()
	s, err := sim.Start(sim.Config{}, resourcemanager.New, simbilling.New)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	func() {
		defer s.Lock()()
		rm := s.Part(resourcemanager.Name).(*resourcemanager.Part)
		for _, id := range []string{"tenant-new", "tenant-seeded"} {
			if err := rm.SeedProject(&resourcemanagerpb.Project{ProjectId: id, Parent: "folders/1"}, s.Now()); err != nil {
				t.Fatal(err)
			}
		}
		// tenant-new stands for a project fresh from CreateProject: nothing linked yet.
		s.Part(simbilling.Name).(*simbilling.Part).Reset()
		s.Part(simbilling.Name).(*simbilling.Part).ProjectSeeded("tenant-seeded")
	}()
	c, err := cloudbilling.NewService(ctx, option.WithEndpoint(s.URL()+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	get := func(id string) (*cloudbilling.ProjectBillingInfo, error) {
		return c.Projects.GetBillingInfo("projects/" + id).Context(ctx).Do()
	}
	update := func(id, account string) (*cloudbilling.ProjectBillingInfo, error) {
		return c.Projects.UpdateBillingInfo("projects/"+id, &cloudbilling.ProjectBillingInfo{BillingAccountName: account}).Context(ctx).Do()
	}
	wantCode := func(err error, code int, what string) {
		t.Helper()
		var ge *googleapi.Error
		if !errors.As(err, &ge) || ge.Code != code {
			t.Fatalf("%s: want HTTP %d, got %v", what, code, err)
		}
	}

	if info, err := get("tenant-new"); err != nil || info.BillingEnabled || info.BillingAccountName != "" || info.Name != "projects/tenant-new/billingInfo" {
		t.Fatalf("a new project: %+v %v", info, err)
	}
	if info, err := get("tenant-seeded"); err != nil || !info.BillingEnabled || info.BillingAccountName != simbilling.SeededAccount {
		t.Fatalf("a seeded project: %+v %v", info, err)
	}
	_, err = update("tenant-new", "billingAccounts/012345-567890")
	wantCode(err, http.StatusBadRequest, "a malformed account")
	const acct = "billingAccounts/012345-567890-ABCDEF"
	if info, err := update("tenant-new", acct); err != nil || !info.BillingEnabled || info.BillingAccountName != acct || info.ProjectId != "tenant-new" {
		t.Fatalf("link: %+v %v", info, err)
	}
	if info, err := get("tenant-new"); err != nil || !info.BillingEnabled || info.BillingAccountName != acct {
		t.Fatalf("after linking: %+v %v", info, err)
	}
	if info, err := update("tenant-new", ""); err != nil || info.BillingEnabled {
		t.Fatalf("unlink: %+v %v", info, err)
	}
	_, err = get("never-created")
	wantCode(err, http.StatusForbidden, "an unknown project")
	if got := s.Ledger()["cloudbilling/projects/tenant-new/billingInfo"]; got != (sim.Counts{Created: 1, Mutated: 1}) {
		t.Errorf("ledger %+v, want the link created once and the unlink a change", got)
	}
}
