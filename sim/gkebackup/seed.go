package gkebackup

import (
	"time"

	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// SeedBackupPlan adds a READY plan (DEACTIVATED if asked so) as if its create operation had
// finished at created, with no operation left behind: for fleets that existed before the simulator
// started. It validates like CreateBackupPlan; the project and cluster must exist first. Lock held.
func (p *Part) SeedBackupPlan(parent, id string, in *gkebackuppb.BackupPlan, created time.Time) error {
	if _, err := p.parseName("parent", parent, "projects", "locations"); err != nil {
		return err
	}
	bp, err := p.newPlan(parent, id, in, timestamppb.New(created))
	if err != nil {
		return err
	}
	bp.State = gkebackuppb.BackupPlan_READY
	if bp.Deactivated {
		bp.State = gkebackuppb.BackupPlan_DEACTIVATED
	}
	p.plans[bp.Name] = bp
	p.s.Created(Name, bp.Name)
	return nil
}
