// Command devstack starts and stops the local stack (`make demo`, `make stop`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sourcegraph/lifecycle/internal/devstack"
)

const usage = `usage: devstack up [-sample]   start Temporal (+ Web UI), simulator, worker, starter; -sample files a new-instance issue
       devstack down          stop exactly what "up" started
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
		fs.Parse(os.Args[2:])
		if err := up(opts, *sample); err != nil {
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

func up(opts devstack.Options, sample bool) error {
	ctx := context.Background()
	fmt.Println("starting the local stack (logs and pids under .local/) ...")
	s, err := devstack.Up(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Printf(`
  Temporal (gRPC)    %s
  Temporal Web UI    %s
  simulator REST     %s   (state: %s/_sim/state)
  simulator gRPC     %s
  starter            %s   (webhooks: /webhooks/github)
  worker health      %s/readyz
`, s.TemporalAddr(), s.UIURL(), s.SimURL(), s.SimURL(), s.SimGRPCAddr(), s.StarterURL(), s.WorkerURL())
	if !sample {
		return nil
	}
	slug := fmt.Sprintf("acme-%d", time.Now().Unix()%100000)
	is, err := s.FileNewInstance(ctx, slug)
	if err != nil {
		return err
	}
	id := devstack.IntakeID(is.GetNumber())
	if _, err := s.WaitWorkflow(ctx, id, 30*time.Second); err != nil {
		return err
	}
	fmt.Printf(`
Filed issue %s (new instance %q) as alice in the simulated GitHub.
It reached the starter as a signed webhook and started workflow %s.

  Watch it:   %s
  The issue:  %s/api/v3/repos/%s/%s/issues/%d/comments

Stop everything with: make stop
`, is.GetHTMLURL(), slug, id, s.Temporal().WorkflowURL(id), s.SimURL(), devstack.SampleOwner, devstack.SampleRepo, is.GetNumber())
	return nil
}
