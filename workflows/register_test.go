package workflows

import (
	"slices"
	"testing"
)

// Workflows are started by name (the entity's children, the starter's rollout, Update-with-Start
// of the entity), so every name a caller uses must be one the worker registers.
func TestEveryWorkflowNameIsRegistered(t *testing.T) {
	var registered []string
	for _, r := range Workflows() {
		if slices.Contains(registered, r.Name) {
			t.Errorf("%s is registered twice", r.Name)
		}
		registered = append(registered, r.Name)
	}
	used := []string{WorkflowInstance, WorkflowFleetUpgrade, WorkflowAdoptFleet}
	for _, name := range operationWorkflows {
		used = append(used, name)
	}
	for _, name := range used {
		if !slices.Contains(registered, name) {
			t.Errorf("workflow type %q is started by name but not registered (Workflows())", name)
		}
	}
}
