package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/internal/forms"
)

// FleetFrom is the version a demo fleet runs before its rollout to LatestVersion.
const FleetFrom = "5.9.0"

// SeedFleet makes n running instances at FleetFrom in the simulator (POST /_sim/fleet), as if made
// by hand before this service: the canary rctest, two other internal instances, a quarter trials,
// the rest customers. It returns their slugs.
func (s *Stack) SeedFleet(ctx context.Context, n int) ([]string, error) {
	type inst struct {
		Slug    string `json:"slug"`
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	fleet := []inst{{"rctest", "internal", FleetFrom}}
	for i := 1; len(fleet) < n; i++ {
		typ := "production"
		switch {
		case i <= 2:
			typ = "internal"
		case i%4 == 0:
			typ = "trial"
		}
		fleet = append(fleet, inst{fmt.Sprintf("demo-%s-%02d", typ[:4], i), typ, FleetFrom})
	}
	body, _ := json.Marshal(map[string]any{"instances": fleet})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.SimURL()+"/_sim/fleet", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("seeding the fleet in the simulator: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("seeding the fleet in the simulator: %s: %s", resp.Status, b)
	}
	slugs := make([]string, len(fleet))
	for i, f := range fleet {
		slugs[i] = f.Slug
	}
	return slugs, nil
}

// FileUpgradeTracking files an upgrade-tracking issue for version as alice: it starts the rollout
// through the real webhook path.
func (s *Stack) FileUpgradeTracking(ctx context.Context, version string) (*github.Issue, error) {
	body := fmt.Sprintf("### %s\n\n%s\n\n### %s\n\n- [ ] %s\n\n### %s\n\n_No response_\n\n### %s\n\n- [ ] %s\n",
		forms.FieldTargetVersion, version, forms.FieldDryRun, forms.OptionDryRun, forms.FieldConcurrency, forms.FieldApproval, forms.OptionApproval)
	is, _, err := s.GitHubAs("alice").Issues.Create(ctx, SampleOwner, SampleRepo, &github.IssueRequest{
		Title:  github.String(version + " managed instances upgrade"),
		Body:   github.String(body),
		Labels: &[]string{forms.TeamLabel, forms.UpgradeTrackingLabel},
	})
	if err != nil {
		return nil, fmt.Errorf("filing the upgrade-tracking issue in the simulated GitHub: %w", err)
	}
	return is, nil
}
