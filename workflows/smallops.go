package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/sourcegraph/lifecycle/activities"
	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The small operations: one or two steps each, all through config.yaml (convert-to-paid
// too), with the same harness as the big ones: status comment, SLA clock, parking
// and operator decisions.

// ReloadFrontend restarts the frontend so it reloads the site config: bumping
// spec.frontendRestartedAt rolls the deployment, like `kubectl rollout restart`. Then it waits
// until the instance is healthy again and serves its version.
func ReloadFrontend(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	inst := in.Instance
	host := soHost(inst)

	var o *operation
	var at string
	steps := []Step{
		{
			Name: "restart", Title: "Restart the frontend (reload site config)",
			// No undo: a restart cannot be taken back, and it changes no state worth restoring.
			Run: func(ctx workflow.Context) error {
				// A retry writes the same value: the same change, found again by its name.
				if at == "" {
					at = workflow.Now(ctx).UTC().Format(time.RFC3339)
				}
				_, err := o.changeConfig(ctx, "restart", "restart the frontend", func(c *spec.Config) error {
					c.Spec.FrontendRestartedAt = at
					return nil
				})
				if err == nil {
					o.runner.SetFact("Frontend restarted at", at)
				}
				return err
			},
		},
		{
			Name: "healthy", Title: "Wait until the instance is healthy",
			Run: func(ctx workflow.Context) error { return soakFor(ctx, o.settings, host, inst.Version) },
		},
	}
	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	return o.run(ctx, steps)
}

// SetTelemetry turns user-level telemetry on or off in config.yaml.
func SetTelemetry(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	t := in.Request.Telemetry
	enable := t != nil && t.Enable
	word := "off"
	if enable {
		word = "on"
	}

	var o *operation
	var old bool
	var seen bool
	steps := []Step{
		{
			Name: "telemetry", Title: "Turn user-level telemetry " + word,
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "telemetry-"+word, "turn user-level telemetry "+word, func(c *spec.Config) error {
					// The first read is the value before this operation (a retry may read its own write).
					if !seen {
						old, seen = c.Spec.UserLevelTelemetry, true
					}
					c.Spec.UserLevelTelemetry = enable
					return nil
				})
				if err == nil {
					o.runner.SetFact("User-level telemetry", word)
				}
				return err
			},
			Undo: func(ctx workflow.Context) error {
				if !seen {
					return nil
				}
				_, err := o.changeConfig(ctx, "undo-telemetry-"+word, fmt.Sprintf("set user-level telemetry back to %s", soOnOff(old)), func(c *spec.Config) error {
					c.Spec.UserLevelTelemetry = old
					return nil
				})
				return err
			},
		},
	}
	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	if t == nil {
		return o.reject(ctx, "the request carries no telemetry details"), nil
	}
	return o.run(ctx, steps)
}

// UpdateAllowlist replaces the instance's IP allowlist: config.yaml first (the
// declared state, reviewed in the pull request), then the Cloudflare WAF rule that enforces it.
// Ranges that are not network addresses (142.250.217.110/29) are rejected with the corrected
// range, never silently fixed: the customer must confirm the correction.
func UpdateAllowlist(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	inst := in.Instance
	host := soHost(inst)
	var want []string
	if a := in.Request.Allowlist; a != nil {
		want = slices.Clone(a.IPAllowlist)
	}

	var o *operation
	var old []string
	var seen bool
	steps := []Step{
		{
			Name: "config", Title: "Write the allowlist to config.yaml",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "allowlist", "update the IP allowlist", func(c *spec.Config) error {
					if !seen {
						old, seen = slices.Clone(c.Spec.IPAllowlist), true
						o.runner.SetFact("Previous allowlist", soList(old))
					}
					c.Spec.IPAllowlist = slices.Clone(want)
					return nil
				})
				return err
			},
			Undo: func(ctx workflow.Context) error {
				if !seen {
					return nil
				}
				_, err := o.changeConfig(ctx, "undo-allowlist", "restore the previous IP allowlist", func(c *spec.Config) error {
					c.Spec.IPAllowlist = slices.Clone(old)
					return nil
				})
				return err
			},
		},
		{
			Name: "cloudflare", Title: "Apply the allowlist in Cloudflare",
			Run: func(ctx workflow.Context) error {
				monitoring, err := soSetAllowlist(ctx, host, want)
				if len(monitoring) > 0 {
					o.runner.SetFact(factMonitoring, strings.Join(monitoring, ", "))
				}
				return err
			},
			Undo: func(ctx workflow.Context) error {
				if !seen {
					return nil
				}
				_, err := soSetAllowlist(ctx, host, old)
				return err
			},
		},
	}
	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	if in.Request.Allowlist == nil {
		return o.reject(ctx, "the request carries no allowlist"), nil
	}
	if len(want) == 0 {
		return o.reject(ctx, "the allowlist is empty: that would open the instance to everyone; list at least one range"), nil
	}
	if err := allowlistError(ctx, "IP allowlist", want); err != nil {
		return o.reject(ctx, err.Error()), nil
	}
	o.runner.SetFact("New allowlist", soList(want))
	return o.run(ctx, steps)
}

// allowlistError is why an allowlist is refused, nil if it is not. Refusing private and
// non-routable ranges came after some workflows ran: the version marker is written only when such
// a range is refused, so a history that accepted one replays as it ran, and others gain no event.
func allowlistError(ctx workflow.Context, field string, cidrs []string) error {
	if err := spec.ValidateCIDRs(field, cidrs); err != nil {
		return err
	}
	if err := spec.ValidateAllowlist(field, cidrs); err != nil &&
		workflow.GetVersion(ctx, "allowlist-public-ranges", workflow.DefaultVersion, 1) == 1 {
		return err
	}
	return nil
}

// ConvertTrial makes a trial a production instance ("convert to paid"): the
// instance-type label in config.yaml becomes production, so the trial timer no longer applies and
// costs are attributed to the customer. The instance workflow removes the trial clock.
func ConvertTrial(ctx workflow.Context, in OperationInput) (OperationResult, error) {
	ctx = withOperation(ctx, in)
	var o *operation
	var old string
	var seen bool
	steps := []Step{
		{
			Name: "instance-type", Title: "Set instance-type to production",
			Run: func(ctx workflow.Context) error {
				_, err := o.changeConfig(ctx, "instance-type", "set instance-type to production", func(c *spec.Config) error {
					if c.Metadata.Labels == nil {
						c.Metadata.Labels = map[string]string{}
					}
					if !seen {
						old, seen = c.Metadata.Labels["instance-type"], true
					}
					c.Metadata.Labels["instance-type"] = string(spec.Production)
					return nil
				})
				return err
			},
			Undo: func(ctx workflow.Context) error {
				if !seen {
					return nil
				}
				_, err := o.changeConfig(ctx, "undo-instance-type", "set instance-type back to "+soOr(old, "(none)"), func(c *spec.Config) error {
					if old == "" {
						delete(c.Metadata.Labels, "instance-type")
						return nil
					}
					if c.Metadata.Labels == nil {
						c.Metadata.Labels = map[string]string{}
					}
					c.Metadata.Labels["instance-type"] = old
					return nil
				})
				return err
			},
		},
	}
	o, err := beginOperation(ctx, in, steps)
	if err != nil {
		return OperationResult{}, err
	}
	ct := in.Request.ConvertTrial
	if ct == nil {
		return o.reject(ctx, "the request carries no conversion details"), nil
	}
	if ct.AgreementDate != "" {
		o.runner.SetFact("Agreement date", ct.AgreementDate)
	}
	res, err := o.run(ctx, steps)
	if err == nil && res.Outcome == OutcomeSucceeded {
		res.Instance.Type = spec.Production
	}
	return res, err
}

// soHost is the instance's hostname.
func soHost(inst Instance) string {
	if inst.Domain != "" {
		return inst.Domain
	}
	return spec.DefaultDomain(inst.Slug)
}

func soSetAllowlist(ctx workflow.Context, host string, cidrs []string) ([]string, error) {
	out, err := execute[activities.SetAllowlistOutput](ctx, CloudCall, fmt.Sprintf("Set the Cloudflare allowlist of %s (%d ranges)", host, len(cidrs)),
		(*activities.Cloudflare).SetAllowlist, activities.SetAllowlistInput{Host: host, CIDRs: cidrs})
	return out.Monitoring, err
}

func soList(cidrs []string) string {
	if len(cidrs) == 0 {
		return "(none: open to everyone)"
	}
	return strings.Join(cidrs, ", ")
}

func soOnOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func soOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
