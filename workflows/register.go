package workflows

// Registration names a workflow function. Names are explicit because the instance workflow
// starts its operations by name (operationWorkflows), and a rename must not break them.
type Registration struct {
	Name string
	Func any
}

// Workflows lists every workflow, for the worker and the tests to register.
func Workflows() []Registration {
	return []Registration{
		{WorkflowInstance, InstanceLifecycle},
		{WorkflowCreate, Create},
		{WorkflowSuspend, Suspend},
		{WorkflowResume, Resume},
		{WorkflowTeardown, Teardown},
		{WorkflowConvertTrial, ConvertTrial},
		{WorkflowUpdateAllowlist, UpdateAllowlist},
		{WorkflowReloadFrontend, ReloadFrontend},
		{WorkflowSetTelemetry, SetTelemetry},
		{WorkflowUpgrade, Upgrade},
		{WorkflowFleetUpgrade, FleetUpgrade},
		{WorkflowAdoptFleet, AdoptFleet},
	}
}
