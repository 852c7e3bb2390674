package cloudsql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SeedInstance adds a RUNNABLE instance as if its CREATE operation had finished at created, with no
// operation left behind: for fleets that existed before the simulator started. body is the
// DatabaseInstance JSON a client would insert (name, region, databaseVersion, settings); it is
// validated like an insert, and the project must exist first. Lock held.
func (p *Part) SeedInstance(project string, body []byte, created time.Time) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // as decodeBody: numbers round-trip as the client wrote them
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("cloud SQL instance body: %w", err)
	}
	if rm, ok := p.s.Part("resourcemanager").(projectChecker); ok && !rm.ProjectActive(project) {
		return fmt.Errorf("cloud SQL instance in project %s: the project does not exist", project)
	}
	name, msg := validateInsert(m)
	if msg != "" {
		return errors.New(msg)
	}
	if p.instances[key(project, name)] != nil {
		return fmt.Errorf("cloud SQL instance %s already exists", instanceLedgerName(project, name))
	}
	in := p.newInstance(project, name, m, created)
	in.state = stateRunnable
	p.instances[key(project, name)] = in
	p.s.Created(Name, instanceLedgerName(project, name))
	return nil
}
