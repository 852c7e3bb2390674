package workflows

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// checkPayload holds a request to the rules of its issue form (forms' Validate methods), whoever
// sent it: the request Update is an entry point too (the Temporal CLI, the Web UI), not only the
// starter and mi. The answer names the form's field and the fix.
func (r OperationRequest) checkPayload() error {
	if strings.TrimSpace(r.Requester) == "" {
		return errors.New("say who asks: set \"requester\" to your GitHub login")
	}
	var slug string
	var err error
	switch r.Operation {
	case forms.OpCreate:
		slug, err = r.Create.Slug, r.Create.Validate()
	case forms.OpSuspend:
		slug, err = r.Suspend.Slug, r.Suspend.Validate()
	case forms.OpResume:
		slug, err = r.Resume.Slug, r.Resume.Validate()
	case forms.OpTeardown:
		slug, err = r.Teardown.Slug, r.Teardown.Validate()
	case forms.OpExtendTrial:
		slug, err = r.ExtendTrial.Slug, r.ExtendTrial.Validate()
	case forms.OpConvertTrial:
		slug, err = r.ConvertTrial.Slug, r.ConvertTrial.Validate()
	case forms.OpUpdateAllowlist:
		slug, err = r.Allowlist.Slug, r.Allowlist.Validate()
	case forms.OpReloadFrontend:
		slug, err = r.Reload.Slug, r.Reload.Validate()
	case forms.OpEnableTelemetry, forms.OpDisableTelemetry:
		if r.Telemetry.Enable != (r.Operation == forms.OpEnableTelemetry) {
			return fmt.Errorf("a %s request must set \"enable\" to %t", r.Operation, r.Operation == forms.OpEnableTelemetry)
		}
		slug, err = r.Telemetry.Slug, r.Telemetry.Validate()
	case forms.OpUpgrade:
		slug, err = r.Slug, spec.ValidateVersion("version", r.Upgrade.Version)
	}
	if err != nil {
		return fmt.Errorf("the %s request is not valid:\n%w", r.Operation, err)
	}
	if slug != r.Slug {
		return fmt.Errorf("the %s request is for `%s` but its details name `%s`: make them the same", r.Operation, r.Slug, slug)
	}
	return nil
}
