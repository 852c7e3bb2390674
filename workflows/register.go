package workflows

// Registration names a workflow function. Names are explicit because the instance workflow
// starts its operations by name (operationWorkflows), and a rename must not break them.
type Registration struct {
	Name string
	Func any
	// Since is the revision the type was added at: no run of it is older, so the replay tests
	// need its histories from there on only.
	Since int
}

// Workflows lists every workflow, for the worker and the tests to register.
func Workflows() []Registration {
	return []Registration{
		{Name: WorkflowInstance, Func: InstanceLifecycle},
		{Name: WorkflowCreate, Func: Create},
		{Name: WorkflowSuspend, Func: Suspend},
		{Name: WorkflowResume, Func: Resume},
		{Name: WorkflowTeardown, Func: Teardown},
		{Name: WorkflowConvertTrial, Func: ConvertTrial},
		{Name: WorkflowUpdateAllowlist, Func: UpdateAllowlist},
		{Name: WorkflowReloadFrontend, Func: ReloadFrontend},
		{Name: WorkflowSetTelemetry, Func: SetTelemetry},
		{Name: WorkflowUpgrade, Func: Upgrade},
		{Name: WorkflowFleetUpgrade, Func: FleetUpgrade},
		{Name: WorkflowAdoptFleet, Func: AdoptFleet, Since: RevisionCorrectness},
		{Name: WorkflowRedeliverWebhooks, Func: RedeliverWebhooks, Since: RevisionCorrectness},
		{Name: WorkflowCheckAllowlistDrift, Func: CheckAllowlistDrift, Since: RevisionCorrectness},
		{Name: WorkflowReconcileAllowlists, Func: ReconcileAllowlists, Since: RevisionCorrectness},
	}
}
