package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

const startUsageFormat = `Usage: mi start <operation> <slug> -issue owner/repo#N [-by LOGIN] [operation flags]

Break-glass: asks the instance for an operation without an issue form, as the same "request"
Update the starter sends for a form (a create starts the instance's workflow, as the form does).
The instance's workflow checks it like any request: one operation at a time, the state machine.
-issue is required: the issue is the request's audit trail, where the status comment, the SLA
clock and the decisions go. File an issue (any, without a request label) and name it. mi checks
on GitHub that it exists and is open before it starts anything, and once the request is accepted
comments there who asked (-by), that it came through mi, and why (-reason, on every operation).
GitHub is reached with the worker's GITHUB_TOKEN (the bot) and GITHUB_API_URL (GitHub Enterprise
or the local stack's simulator; empty for github.com).

Operations and their flags:
%sA teardown is not offered here: file the teardown issue form (it needs a second person's approval).

Common flags:
  -issue owner/repo#N   the issue the request belongs to (a number alone: sourcegraph/customer#N)
  -by LOGIN             the requester, your GitHub login (default $MI_USER, else $USER)

Settings: the instance's workflow keeps the settings of its last request (trial length, soak,
SLA calendar, ...), and mi sends those again; LIFECYCLE_LATEST_VERSION and TEMPORAL_UI_URL, when
set, replace theirs. The starter's other LIFECYCLE_* variables apply to issue-filed requests only
(a create from mi gets the defaults).

An instance made before this service has no workflow until a fleet rollout adopts it: upgrade it
through a rollout (an upgrade-tracking issue), not with mi start.

Examples:
  mi start suspend acme -reason "unpaid invoice, agreed with the CE" -issue sourcegraph/customer#4242
  mi start upgrade acme -version 5.10.1 -issue sourcegraph/customer#4250
  mi start extend-trial acme-trial -days 14 -reason "evaluation extended" -issue 4251
`

// startOp is an operation mi start can request, with the flags it takes.
type startOp struct {
	op       forms.Operation
	flags    []string // besides -issue and -by
	required []string
	help     string // its flags, for the usage
}

// startOrder is the order of the operations in the help.
var startOrder = []string{"suspend", "resume", "reload-frontend", "enable-telemetry", "disable-telemetry", "upgrade",
	"extend-trial", "convert-trial", "update-ip-allowlist", "create"}

var startOps = map[string]startOp{
	"create": {forms.OpCreate, []string{"customer", "type", "admin-email", "domain", "size", "region", "version", "allowlist", "telemetry", "agreement-date", "reason"},
		[]string{"customer", "type", "admin-email"},
		"-customer NAME -type production|trial|internal -admin-email ADDR [-domain D] [-size small|medium|large]\n" +
			"    [-region R] [-version X.Y.Z] [-allowlist CIDR,...] [-telemetry] [-agreement-date YYYY-MM-DD] [-reason R]"},
	"suspend": {forms.OpSuspend, []string{"reason", "expected-resume", "agreement-date"}, []string{"reason"},
		"-reason R [-expected-resume YYYY-MM-DD] [-agreement-date YYYY-MM-DD]"},
	"resume":          {forms.OpResume, []string{"reason"}, nil, "[-reason R]"},
	"reload-frontend": {forms.OpReloadFrontend, []string{"reason"}, nil, "[-reason R]"},
	"enable-telemetry": {forms.OpEnableTelemetry, []string{"reason", "customer-agreed"}, []string{"customer-agreed"},
		"-customer-agreed (the customer agreed in writing) [-reason R]"},
	"disable-telemetry": {forms.OpDisableTelemetry, []string{"reason"}, nil, "[-reason R]"},
	"upgrade": {forms.OpUpgrade, []string{"version", "force", "reason"}, []string{"version"},
		"-version X.Y.Z [-force (also on the pause/insiders release channel)] [-reason R]"},
	"extend-trial":  {forms.OpExtendTrial, []string{"days", "reason"}, []string{"days", "reason"}, "-days N (1-30) -reason R"},
	"convert-trial": {forms.OpConvertTrial, []string{"agreement-date", "reason"}, []string{"agreement-date"}, "-agreement-date YYYY-MM-DD (when the paid agreement was signed) [-reason R]"},
	"update-ip-allowlist": {forms.OpUpdateAllowlist, []string{"allowlist", "confirmed", "reason"}, []string{"allowlist", "confirmed"},
		"-allowlist CIDR,CIDR -confirmed (the customer confirmed this exact list) [-reason R]"},
}

// startLine is one operation's line of the usage.
func startLine(name string) string {
	return fmt.Sprintf("  mi start %s <slug> -issue owner/repo#N %s\n", name, startOps[name].help)
}

// startUsage is mi start's help: every operation with its flags.
var startUsage = func() string {
	var b strings.Builder
	for _, n := range startOrder {
		b.WriteString(startLine(n))
	}
	return fmt.Sprintf(startUsageFormat, b.String())
}()

// startOpUsage is the usage printed after a mistake in the line of one operation.
func startOpUsage(name string) string {
	return "Usage:\n" + startLine(name) + "  (-by LOGIN: the requester, default $MI_USER, else $USER)\n\n" +
		"Run \"mi help start\" for every operation, the settings sent and examples.\n"
}

func startOpNames() string { return strings.Join(startOrder, ", ") }

// startOptions is a parsed mi start line.
type startOptions struct {
	Op    forms.Operation
	Slug  string
	Issue workflows.IssueRef
	By    string

	Reason, Version, AgreementDate, ExpectedResume, Allowlist string
	Force, CustomerAgreed, Confirmed, Telemetry               bool
	Days                                                      int
	Customer, Type, Domain, Size, Region, AdminEmail          string
}

func (a *app) parseStart(args []string) (startOptions, error) {
	var o startOptions
	var issue string
	fs := newFlags("start")
	fs.StringVar(&issue, "issue", "", "")
	fs.StringVar(&o.By, "by", "", "")
	fs.StringVar(&o.Reason, "reason", "", "")
	fs.StringVar(&o.Version, "version", "", "")
	fs.BoolVar(&o.Force, "force", false, "")
	fs.IntVar(&o.Days, "days", 0, "")
	fs.StringVar(&o.AgreementDate, "agreement-date", "", "")
	fs.StringVar(&o.ExpectedResume, "expected-resume", "", "")
	fs.BoolVar(&o.CustomerAgreed, "customer-agreed", false, "")
	fs.BoolVar(&o.Confirmed, "confirmed", false, "")
	fs.StringVar(&o.Allowlist, "allowlist", "", "")
	fs.StringVar(&o.Customer, "customer", "", "")
	fs.StringVar(&o.Type, "type", "", "")
	fs.StringVar(&o.Domain, "domain", "", "")
	fs.StringVar(&o.Size, "size", "", "")
	fs.StringVar(&o.Region, "region", "", "")
	fs.StringVar(&o.AdminEmail, "admin-email", "", "")
	fs.BoolVar(&o.Telemetry, "telemetry", false, "")
	pos, err := parseArgs("start", fs, args)
	var ue *usageError
	if errors.As(err, &ue) && len(args) > 0 {
		if _, ok := startOps[args[0]]; ok {
			ue.usage = startOpUsage(args[0])
		}
	}
	if err != nil {
		return o, err
	}
	if len(pos) == 0 {
		return o, usagef("start", "name the operation and the instance: mi start <operation> <slug> -issue owner/repo#N (operations: %s)", startOpNames())
	}
	name := strings.ToLower(pos[0])
	if name == "teardown" {
		return o, usagef("start", "mi does not start a teardown: file the teardown issue form (a second person approves it, then a grace period runs)")
	}
	op, ok := startOps[name]
	if !ok {
		return o, usagef("start", "%q is not an operation mi can start; use one of %s", pos[0], startOpNames())
	}
	o.Op = op.op
	bad := func(format string, args ...any) error {
		return &usageError{cmd: "start", msg: fmt.Sprintf(format, args...), usage: startOpUsage(name)}
	}
	if len(pos) < 2 {
		return o, bad("name the instance: mi start %s <slug> -issue owner/repo#N", name)
	}
	if len(pos) > 2 {
		return o, bad("too many arguments (%q): values go in flags, e.g. -reason %s", strings.Join(pos[2:], " "), quote(strings.Join(pos[2:], " ")))
	}
	o.Slug = pos[1]
	if err := spec.ValidateSlug("slug", o.Slug); err != nil {
		return o, bad("%s", err)
	}
	set := flagsSet(fs)
	given := slices.Sorted(maps.Keys(set))
	for _, f := range given {
		if f != "issue" && f != "by" && !slices.Contains(op.flags, f) {
			return o, bad("-%s does not apply to %s; %s takes %s", f, name, name, flagList(op.flags))
		}
	}
	for _, f := range op.required {
		if !set[f] {
			return o, bad("%s needs -%s", name, f)
		}
	}
	if issue == "" {
		return o, bad("-issue owner/repo#N is required: the issue is the request's audit trail (its status comment, SLA clock and decisions go there). "+
			"File an issue without a request label, then: mi start %s %s -issue %s/%s#<number> ...", name, o.Slug, defaultOwner, defaultRepo)
	}
	if o.Issue, err = parseIssue(issue); err != nil {
		return o, bad("-%s", err)
	}
	if o.By = a.who(o.By); o.By == "" {
		return o, bad("say who asks: add -by <your GitHub login>, or set MI_USER")
	}
	return o, nil
}

func flagList(flags []string) string {
	if len(flags) == 0 {
		return "no other flags"
	}
	s := make([]string, len(flags))
	for i, f := range flags {
		s[i] = "-" + f
	}
	return strings.Join(s, ", ")
}

// buildRequest is the typed request of a parsed line, checked with the same validators as the
// issue forms (a create without -version gets settings.LatestVersion).
func buildRequest(o startOptions, settings workflows.Settings, now time.Time) (workflows.OperationRequest, error) {
	bad := func(err error) (workflows.OperationRequest, error) {
		return workflows.OperationRequest{}, &usageError{cmd: "start", msg: err.Error(), usage: startOpUsage(string(o.Op))}
	}
	issue := o.Issue
	r := workflows.OperationRequest{Operation: o.Op, Slug: o.Slug, Issue: &issue, Requester: o.By, RequestedAt: now.UTC(), Settings: settings}
	reason := strings.TrimSpace(o.Reason)
	if o.AgreementDate != "" {
		t, err := time.Parse(time.DateOnly, o.AgreementDate)
		if err != nil {
			return bad(fmt.Errorf("-agreement-date %q: write the date as YYYY-MM-DD, e.g. %s", o.AgreementDate, now.UTC().Format(time.DateOnly)))
		}
		r.AgreedAt = t // the SLA's resolution counts from the agreement date, as on the forms
	}
	if o.ExpectedResume != "" {
		t, err := time.Parse(time.DateOnly, o.ExpectedResume)
		if err != nil {
			return bad(fmt.Errorf("-expected-resume %q: write the date as YYYY-MM-DD", o.ExpectedResume))
		}
		if o.AgreementDate != "" && !t.After(r.AgreedAt) {
			return bad(fmt.Errorf("-expected-resume %s must be after the agreement date %s", o.ExpectedResume, o.AgreementDate))
		}
	}
	var cidrs []string
	if o.Allowlist != "" {
		cidrs = forms.ParseList(o.Allowlist)
		if err := spec.ValidateAllowlist("-allowlist", cidrs); err != nil {
			return bad(err)
		}
	}
	switch o.Op {
	case forms.OpSuspend:
		if reason == "" {
			return bad(fmt.Errorf("a suspension needs -reason (it goes on the record and the issue)"))
		}
		r.Suspend = &forms.Suspend{Slug: o.Slug, Reason: reason, ExpectedResume: o.ExpectedResume, AgreementDate: o.AgreementDate}
	case forms.OpResume:
		r.Resume = &forms.Resume{Slug: o.Slug, Reason: reason}
	case forms.OpReloadFrontend:
		r.Reload = &forms.ReloadFrontend{Slug: o.Slug, Reason: reason}
	case forms.OpEnableTelemetry:
		if !o.CustomerAgreed {
			return bad(fmt.Errorf("enable-telemetry needs -customer-agreed: the customer must have agreed in writing to share user-level usage data"))
		}
		r.Telemetry = &forms.Telemetry{Slug: o.Slug, Enable: true, CustomerAgreed: true, Reason: reason}
	case forms.OpDisableTelemetry:
		r.Telemetry = &forms.Telemetry{Slug: o.Slug, Reason: reason}
	case forms.OpUpgrade:
		if err := spec.ValidateVersion("-version", o.Version); err != nil {
			return bad(err)
		}
		r.Upgrade = &workflows.UpgradeRequest{Version: o.Version, Force: o.Force}
	case forms.OpExtendTrial:
		if o.Days < forms.MinExtendDays || o.Days > forms.MaxExtendDays {
			return bad(fmt.Errorf("-days %d: a trial is extended by %d to %d days at a time; for longer, extend again later or convert it (mi start convert-trial)",
				o.Days, forms.MinExtendDays, forms.MaxExtendDays))
		}
		if reason == "" {
			return bad(fmt.Errorf("extend-trial needs -reason"))
		}
		r.ExtendTrial = &forms.ExtendTrial{Slug: o.Slug, Days: o.Days, Reason: reason}
	case forms.OpConvertTrial:
		if o.AgreementDate == "" {
			return bad(fmt.Errorf("convert-trial needs -agreement-date YYYY-MM-DD (when the paid agreement was signed)"))
		}
		r.ConvertTrial = &forms.ConvertTrial{Slug: o.Slug, AgreementDate: o.AgreementDate}
	case forms.OpUpdateAllowlist:
		if len(cidrs) == 0 || !o.Confirmed {
			return bad(fmt.Errorf("update-ip-allowlist needs -allowlist CIDR,CIDR and -confirmed (the customer confirmed this exact list)"))
		}
		r.Allowlist = &forms.AllowlistUpdate{Slug: o.Slug, IPAllowlist: cidrs, CustomerConfirmed: true}
	case forms.OpCreate:
		ni := forms.NewInstance{Customer: strings.TrimSpace(o.Customer), Slug: o.Slug, Domain: strings.ToLower(o.Domain),
			Type: spec.InstanceType(strings.ToLower(o.Type)), Size: spec.Size(strings.ToLower(o.Size)), Region: o.Region,
			Version: o.Version, AdminEmail: o.AdminEmail, IPAllowlist: cidrs, UserLevelTelemetry: o.Telemetry, AgreementDate: o.AgreementDate}
		if ni.Customer == "" {
			return bad(fmt.Errorf("create needs -customer (the customer's name)"))
		}
		if ni.Domain == "" {
			ni.Domain = spec.DefaultDomain(o.Slug)
		}
		if ni.Size == "" {
			ni.Size = spec.Small
		}
		if ni.Region == "" {
			ni.Region = spec.Regions[0]
		}
		checks := []error{spec.ValidateDomain("-domain", ni.Domain), spec.ValidateInstanceType("-type", ni.Type),
			spec.ValidateSize("-size", ni.Size), spec.ValidateRegion("-region", ni.Region), spec.ValidateEmail("-admin-email", ni.AdminEmail)}
		switch {
		case ni.Version != "":
			checks = append(checks, spec.ValidateVersion("-version", ni.Version))
		case settings.LatestVersion == "":
			checks = append(checks, fmt.Errorf("create needs -version X.Y.Z (or LIFECYCLE_LATEST_VERSION set to the latest tested version)"))
		}
		for _, err := range checks {
			if err != nil {
				return bad(err)
			}
		}
		r.Create = &ni
	default:
		return bad(fmt.Errorf("mi cannot start %s", o.Op))
	}
	return r, nil
}

// settingsFor is what a request from mi carries: the instance's current settings (those of its
// last request, normally the starter's), with LIFECYCLE_LATEST_VERSION and TEMPORAL_UI_URL from
// the environment when set. The starter's other settings are not read here (see the help).
func (a *app) settingsFor(base workflows.Settings) (workflows.Settings, error) {
	if v := strings.TrimSpace(a.getenv("LIFECYCLE_LATEST_VERSION")); v != "" {
		if err := spec.ValidateVersion("LIFECYCLE_LATEST_VERSION", v); err != nil {
			return base, err
		}
		base.LatestVersion = v
	}
	if ui := strings.TrimSpace(a.getenv("TEMPORAL_UI_URL")); ui != "" {
		base.WebUI = fmt.Sprintf("%s/namespaces/%s/workflows", strings.TrimRight(ui, "/"), a.tcfg.Namespace)
	}
	return base, nil
}

func (a *app) start(ctx context.Context, args []string) error {
	o, err := a.parseStart(args)
	if err != nil {
		return err
	}
	// Check the flags before dialling (the instance's own settings are read later).
	settings, err := a.settingsFor(workflows.Settings{})
	if err != nil {
		return err
	}
	if _, err := buildRequest(o, settings, a.now()); err != nil {
		return err
	}
	// The issue is the audit trail: it must exist and be open before anything starts.
	gh, err := a.githubClient()
	if err != nil {
		return err
	}
	if err := checkIssue(ctx, gh, o.Issue); err != nil {
		return err
	}
	tc, closeFn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	msg, err := a.sendRequest(ctx, tc, o)
	if err != nil {
		return err
	}
	a.recordOnIssue(ctx, gh, o.Issue, auditComment(o, msg))
	fmt.Fprintln(a.stdout, msg)
	return nil
}

// sendRequest sends the request Update (Update-with-Start for a create) and words the answer.
func (a *app) sendRequest(ctx context.Context, tc temporalAPI, o startOptions) (string, error) {
	var base workflows.Settings
	if o.Op != forms.OpCreate {
		// The instance's own settings are sent again; an instance made before this service has
		// none yet (its first request adopts it from its config.yaml).
		r, err := record(ctx, tc, o.Slug)
		switch {
		case err == nil && r.State == workflows.StateDeleted:
			return "", fmt.Errorf("instance %s was torn down (its workflow has ended): there is nothing to %s. To have it again, create it: a new-instance issue, or mi start create %s ...",
				o.Slug, o.Op, o.Slug)
		case err == nil:
			base = r.Settings
		case !isNoWorkflow(err):
			return "", err
		}
	}
	settings, err := a.settingsFor(base)
	if err != nil {
		return "", err
	}
	req, err := buildRequest(o, settings, a.now())
	if err != nil {
		return "", err
	}
	uctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	// Its own Update ID per issue and operation: running mi again after a lost answer gets the
	// same result, and the form of the same issue is told apart (the entity names the duplicate).
	accepted, err := workflows.AskInstance(uctx, tc, workflows.Ask{Request: req,
		UpdateID: workflows.RequestUpdateID(o.Issue, o.Op, "mi"), Via: "mi, by @" + o.By})
	var refused *workflows.Refused
	switch {
	case errors.As(err, &refused) && refused.Duplicate:
		return "", fmt.Errorf("%s asked for this already (%s). One issue asks once: see `mi status %s`, or name another issue",
			o.Issue, refused.Reason, o.Slug)
	case errors.As(err, &refused):
		return "", fmt.Errorf("instance %s refused the %s: %s", o.Slug, o.Op, refused.Reason)
	case err != nil:
		return "", callError("sending the request to "+workflows.InstanceWorkflowID(o.Slug), err)
	}
	var b strings.Builder
	b.WriteString(accepted.Message)
	if accepted.WorkflowID != "" {
		fmt.Fprintf(&b, "\n  %s\nFollow it with: mi status %s", a.tcfg.WorkflowURL(accepted.WorkflowID), o.Slug)
	}
	return b.String(), nil
}

// isNoWorkflow reports whether err is record's answer for a slug without a workflow.
func isNoWorkflow(err error) bool {
	var nw *noWorkflowError
	return errors.As(err, &nw)
}
