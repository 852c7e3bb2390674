package workflows

// Workflows lists every workflow function, for the worker and the tests to register.
func Workflows() []any {
	return []any{Intake}
}
