package workflows

import (
	"fmt"
	"slices"

	"go.temporal.io/sdk/workflow"
)

// AdoptFleetWorkflowID is the fleet adoption's ID: one runs at a time, and running it again
// adopts only what is still unmanaged.
const AdoptFleetWorkflowID = "adopt-fleet"

// adoptBatch is how many adoptions are asked at once (local activities in one workflow task).
const adoptBatch = 20

// AdoptFleetInput starts a fleet adoption (`mi adopt -all`).
type AdoptFleetInput struct {
	By       string   `json:"by"`
	Settings Settings `json:"settings,omitzero"`
	Revision int      `json:"revision,omitempty"`
}

// AdoptFleetResult says what the adoption did: every instance of the config repo is in exactly
// one of Adopted (newly), Managed (already) and Refused (with the reason).
type AdoptFleetResult struct {
	Listed  int            `json:"listed"`
	Adopted []string       `json:"adopted,omitempty"`
	Managed int            `json:"managed"`
	Refused []AdoptOutcome `json:"refused,omitempty"`
}

// AdoptFleet takes every instance of the config repo under management: each instance's entity is
// started (reading its config.yaml) where none runs yet. It is idempotent: a managed instance
// only answers its state, a torn-down one is refused as gone, and nothing is started twice.
func AdoptFleet(ctx workflow.Context, in AdoptFleetInput) (AdoptFleetResult, error) {
	ctx = withRevision(withSettings(ctx, in.Settings), in.Revision)
	var res AdoptFleetResult
	fleet, err := listFleet(ctx, "List the fleet from the config repo")
	if err != nil {
		return res, fmt.Errorf("listing the fleet from the config repo: %w", err)
	}
	res.Listed = len(fleet)
	run := workflow.GetInfo(ctx).WorkflowExecution.RunID
	for start := 0; start < len(fleet); start += adoptBatch {
		batch := fleet[start:min(start+adoptBatch, len(fleet))]
		waits := make([]func(workflow.Context) (AdoptOutcome, error), len(batch))
		for i, e := range batch {
			if e.Error != "" {
				continue // an unreadable config.yaml: refused below without asking
			}
			waits[i] = executeLocalAsync[AdoptOutcome](ctx, CloudCall, "Adopt "+e.Slug, localLifecycle.Adopt,
				AdoptInput{Slug: e.Slug, By: in.By, UpdateID: AdoptFleetWorkflowID + "/" + run + "/" + e.Slug})
		}
		for i, e := range batch {
			var out AdoptOutcome
			switch {
			case waits[i] == nil:
				out = AdoptOutcome{Slug: e.Slug, Refused: "its config.yaml cannot be read: " + e.Error}
			default:
				var err error
				if out, err = waits[i](ctx); err != nil {
					out = AdoptOutcome{Slug: e.Slug, Refused: "could not ask its workflow: " + errorMessage(err)}
				}
			}
			switch {
			case out.Refused != "":
				res.Refused = append(res.Refused, out)
			case out.New:
				res.Adopted = append(res.Adopted, out.Slug)
			default:
				res.Managed++
			}
		}
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("Adopting the fleet for @%s: %d of %d asked; %d adopted, %d already managed, %d refused.",
			in.By, min(start+adoptBatch, len(fleet)), len(fleet), len(res.Adopted), res.Managed, len(res.Refused)))
	}
	slices.Sort(res.Adopted)
	return res, nil
}
