// Command devstack starts and stops the local stack (`make demo`, `make stop`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sourcegraph/lifecycle/dev/devstack"
	"github.com/sourcegraph/lifecycle/internal/forms"
	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/workflows"
)

const usage = `usage: devstack up [-sample] [-fleet N] [-prod]
                                    start Temporal (+ Web UI), simulator, worker, starter;
                                    -sample files a new-instance issue; -fleet seeds N running
                                    instances and files an upgrade-tracking issue (the fleet rollout);
                                    -prod runs the Temporal server on PostgreSQL instead of the dev
                                    server, without a Web UI (make build-prod; apt-get install postgresql)
       devstack down                stop exactly what "up" started
Run from the repository root; binaries come from bin/ (make build).`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	root, _ := os.Getwd()
	opts := devstack.Defaults(root)
	switch os.Args[1] {
	case "up":
		fs := flag.NewFlagSet("up", flag.ExitOnError)
		sample := fs.Bool("sample", false, "file a sample new-instance issue through the simulated GitHub")
		fleet := fs.Int("fleet", 0, "seed this many running instances at "+devstack.FleetFrom+" and roll "+devstack.LatestVersion+" out to them")
		prod := fs.Bool("prod", false, "a production-like Temporal: the server on PostgreSQL (data under .local/postgres), no Web UI")
		fs.Parse(os.Args[2:])
		if *prod {
			p, err := devstack.NewProdTemporal(opts.BinDir)
			if err != nil {
				fmt.Fprintln(os.Stderr, "devstack:", err)
				os.Exit(1)
			}
			p.UseDefaultPorts()
			opts.Prod, opts.Headless = p, true
		}
		if err := up(opts, *sample, *fleet); err != nil {
			fmt.Fprintln(os.Stderr, "devstack:", err)
			os.Exit(1)
		}
	case "down":
		stopped, err := devstack.Down(opts.Dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "devstack:", err)
			os.Exit(1)
		}
		if len(stopped) == 0 {
			fmt.Println("nothing was running")
		}
		for _, s := range stopped {
			fmt.Println("stopped", s)
		}
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
}

func up(opts devstack.Options, sample bool, fleet int) error {
	ctx := context.Background()
	fmt.Println("starting the local stack (logs and pids under .local/) ...")
	s, err := devstack.Up(ctx, opts)
	if err != nil {
		return err
	}
	ui := s.UIURL()
	if s.Opts.Prod != nil {
		ui = "none (production-like Temporal: the server on PostgreSQL)"
	}
	fmt.Printf(`
  Temporal (gRPC)    %s
  Temporal Web UI    %s
  simulator REST     %s   (state: %s/_sim/state)
  simulator gRPC     %s
  starter            %s   (webhooks: /webhooks/github)
  worker health      %s/readyz
  codec server       %s/codec   (bin/temporal ... --codec-endpoint %s/codec; bin/mi reads .local/codec.keys)
`, s.TemporalAddr(), ui, s.SimURL(), s.SimURL(), s.SimGRPCAddr(), s.StarterURL(), s.WorkerURL(), s.WorkerURL(), s.WorkerURL())
	if fleet > 0 {
		defer func() {
			if err := rollout(ctx, s, fleet); err != nil {
				fmt.Fprintln(os.Stderr, "devstack:", err)
			}
		}()
	}
	if !sample {
		return nil
	}
	slug := fmt.Sprintf("acme-%d", time.Now().Unix()%100000)
	is, err := s.FileNewInstance(ctx, slug)
	if err != nil {
		return err
	}
	id := workflows.OperationWorkflowID(forms.OpCreate, slug,
		workflows.IssueKey(workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: is.GetNumber()}))
	if _, err := s.WaitWorkflow(ctx, id, 30*time.Second); err != nil {
		return err
	}
	fmt.Printf(`
Filed issue %s (new instance %q) as alice in the simulated GitHub.
It reached the starter as a signed webhook; instance workflow %s started create workflow %s.

  Watch it:   %s
  The issue:  %s/api/v3/repos/%s/%s/issues/%d/comments

`, is.GetHTMLURL(), slug, workflows.InstanceWorkflowID(slug), id, s.Temporal().WorkflowURL(id), s.SimURL(), devstack.SampleOwner, devstack.SampleRepo, is.GetNumber())
	state, err := follow(ctx, s, id, 5*time.Minute)
	if err != nil {
		return err
	}
	fmt.Printf("\ncreate %s: %s. Try https://%s through the simulator, from an address on its allowlist: curl -H 'Host: %s' -H 'X-Sim-Client-IP: %s' %s/__version\n\nStop everything with: make stop\n",
		slug, state, spec.DefaultDomain(slug), spec.DefaultDomain(slug), devstack.SampleCustomerIP, s.SimURL())
	return nil
}

// follow prints the operation's checklist as its steps finish, until it ends, parks or time runs out.
func follow(ctx context.Context, s *devstack.Stack, id string, within time.Duration) (string, error) {
	tc, err := s.Dial(ctx)
	if err != nil {
		return "", err
	}
	defer tc.Close()
	printed := map[string]workflows.StepState{}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		v, err := tc.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
		if err == nil {
			var p workflows.Progress
			if err := v.Get(&p); err != nil {
				return "", err
			}
			for _, st := range p.Steps {
				if st.State != workflows.StepPending && printed[st.Name] != st.State {
					printed[st.Name] = st.State
					fmt.Printf("  %-8s %s\n", st.State, st.Title)
				}
			}
			switch {
			case p.Parked != nil:
				return "parked on " + p.Parked.Step + ": " + p.Parked.Error + " (decide with bin/mi decide, a slash command or an Update: docs/operating.md)", nil
			case p.State != "running":
				return p.State, nil
			}
		}
		time.Sleep(time.Second)
	}
	return "still running after " + within.String() + "; follow it in the Web UI", nil
}

// rollout seeds a fleet, files the upgrade-tracking issue and prints the rollout's waves as they go.
func rollout(ctx context.Context, s *devstack.Stack, n int) error {
	slugs, err := s.SeedFleet(ctx, max(n, 3))
	if err != nil {
		return err
	}
	is, err := s.FileUpgradeTracking(ctx, devstack.LatestVersion)
	if err != nil {
		return err
	}
	id := workflows.RolloutWorkflowID(workflows.IssueRef{Owner: devstack.SampleOwner, Repo: devstack.SampleRepo, Number: is.GetNumber()})
	if _, err := s.WaitWorkflow(ctx, id, 30*time.Second); err != nil {
		return err
	}
	fmt.Printf(`
Seeded %d running instances at %s and filed upgrade-tracking issue %s for %s.
The rollout %s plans the waves, then upgrades the canary, the internal instances, trials and
customers; the issue's body carries the live checklist.

  Watch it:   %s
  The issue:  %s/api/v3/repos/%s/%s/issues/%d

`, len(slugs), devstack.FleetFrom, is.GetHTMLURL(), devstack.LatestVersion, id, s.Temporal().WorkflowURL(id),
		s.SimURL(), devstack.SampleOwner, devstack.SampleRepo, is.GetNumber())
	tc, err := s.Dial(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	last := ""
	for deadline := time.Now().Add(30 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		v, err := tc.QueryWorkflow(ctx, id, "", workflows.QueryRollout)
		if err != nil {
			continue
		}
		var st workflows.RolloutState
		if err := v.Get(&st); err != nil {
			return err
		}
		line := fmt.Sprintf("  %-17s %s", st.Phase, st.Reason)
		if line != last {
			fmt.Println(line)
			last = line
		}
		switch st.Phase {
		case workflows.PhaseDone, workflows.PhaseAborted, workflows.PhaseRejected, workflows.PhasePlanned, workflows.PhaseHalted:
			fmt.Println("\nStop everything with: make stop")
			return nil
		}
	}
	fmt.Println("  still running after 30m; follow it in the Web UI")
	return nil
}
