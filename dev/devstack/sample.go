package devstack

import (
	"context"
	"fmt"
	"time"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/internal/forms"
)

// SampleRepo is where customer engineers file requests (sourcegraph/customer in the seeds).
const SampleOwner, SampleRepo = "sourcegraph", "customer"

// SampleNewInstanceBody is a filled-in "new instance" issue form, as GitHub renders it.
func SampleNewInstanceBody(slug string) string {
	return fmt.Sprintf(`### %s

Acme Corporation

### %s

%s

### %s

_No response_

### %s

production

### %s

small

### %s

us-central1

### %s

_No response_

### %s

admin@acme-corp.example

### %s

203.0.113.0/24
198.51.100.16/28

### %s

No

### %s

_No response_
`, forms.FieldCustomer, forms.FieldSlug, slug, forms.FieldDomain, forms.FieldType, forms.FieldSize, forms.FieldRegion,
		forms.FieldVersion, forms.FieldAdminEmail, forms.FieldAllowlist, forms.FieldTelemetry, forms.FieldAgreement)
}

// SampleCustomerIP is an address inside the sample's IP allowlist: a request to the instance
// that says it comes from here (X-Sim-Client-IP) passes the simulated WAF, as the customer's
// browser would.
const SampleCustomerIP = "203.0.113.10"

// GitHubAs is a go-github client for the simulated GitHub, acting as a seeded user (alice is a
// customer engineer, bob and carol are on the Cloud team, mallory is on no team).
func (s *Stack) GitHubAs(user string) *github.Client {
	c, _ := github.NewClient(nil).WithAuthToken(user+"-token").WithEnterpriseURLs(s.SimURL()+"/", s.SimURL()+"/")
	return c
}

// FileNewInstance files a new-instance issue as alice, through the simulated GitHub, so it reaches
// the starter through the real webhook path. It returns the issue.
func (s *Stack) FileNewInstance(ctx context.Context, slug string) (*github.Issue, error) {
	is, _, err := s.GitHubAs("alice").Issues.Create(ctx, SampleOwner, SampleRepo, &github.IssueRequest{
		Title:  github.String("New Cloud instance: " + slug),
		Body:   github.String(SampleNewInstanceBody(slug)),
		Labels: &[]string{"team/cloud", forms.NewInstanceLabel},
	})
	if err != nil {
		return nil, fmt.Errorf("filing the sample issue in the simulated GitHub: %w", err)
	}
	return is, nil
}

// WaitWorkflow waits until the workflow with this ID exists and returns its run ID.
func (s *Stack) WaitWorkflow(ctx context.Context, id string, within time.Duration) (string, error) {
	tc, err := s.Dial(ctx)
	if err != nil {
		return "", err
	}
	defer tc.Close()
	deadline := time.Now().Add(within)
	for {
		d, err := tc.DescribeWorkflowExecution(ctx, id, "")
		if err == nil {
			return d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("workflow %s did not start within %s (last error: %v); see the starter log", id, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
