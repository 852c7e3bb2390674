package stack

import (
	"errors"
	"fmt"
	"time"

	"github.com/sourcegraph/lifecycle/internal/spec"
	"github.com/sourcegraph/lifecycle/sim"
	"github.com/sourcegraph/lifecycle/sim/cloudflare"
	"github.com/sourcegraph/lifecycle/sim/cloudsql"
	"github.com/sourcegraph/lifecycle/sim/compute"
	"github.com/sourcegraph/lifecycle/sim/github"
	"github.com/sourcegraph/lifecycle/sim/gke"
	"github.com/sourcegraph/lifecycle/sim/gkebackup"
	"github.com/sourcegraph/lifecycle/sim/instances"
	"github.com/sourcegraph/lifecycle/sim/resourcemanager"
)

// FleetInstance is one instance to seed: an instance created by hand before the lifecycle service
// existed. Slug and Version are required; the rest default as noted. The JSON names are those of
// POST /_sim/fleet.
type FleetInstance struct {
	Slug              string                  `json:"slug"`
	Type              spec.InstanceType       `json:"type,omitempty"`           // default production
	Version           string                  `json:"version"`                  // e.g. 5.9.0
	ReleaseChannel    spec.ReleaseChannel     `json:"releaseChannel,omitempty"` // default stable
	Domain            string                  `json:"domain,omitempty"`         // default <slug>.sourcegraphcloud.com
	Region            string                  `json:"region,omitempty"`         // default us-central1
	Size              spec.Size               `json:"size,omitempty"`           // default small
	MaintenanceWindow *spec.MaintenanceWindow `json:"maintenanceWindow,omitempty"`
	Alerting          *bool                   `json:"alerting,omitempty"` // default true
	Labels            map[string]string       `json:"labels,omitempty"`   // more metadata.labels, e.g. account
	// IPAllowlist is written to config.yaml only: no WAF rule is made, as if it had been deleted in
	// the dashboard (the allowlist drift check reports it missing; /reconcile makes it).
	IPAllowlist []string `json:"ipAllowlist,omitempty"`
}

// seededAge is how long ago seeded instances were created and their version merged: far enough
// back that nothing about them is still in progress.
const seededAge = 30 * 24 * time.Hour

// SeedFleet makes instances exist and serve, as if the create workflow had made each one and its
// rollout had landed long ago: config.yaml on the config repo's default branch (all of them in one
// commit), the GCP project ACTIVE, the GKE cluster RUNNING with its node pool at the size's node
// count, the Cloud SQL instance RUNNABLE (activation ALWAYS, deletion protection on), the Backup
// for GKE plan READY and the proxied Cloudflare CNAME to the ingress. No operations are left
// behind. Everything is checked before anything is made, so a bad or taken value leaves the
// simulator unchanged and is reported as a *spec.FieldError naming it (instances[2].version).
func SeedFleet(s *sim.Sim, instances []FleetInstance) error {
	_, err := seedFleet(s, instances)
	return err
}

// seeded is what POST /_sim/fleet answers.
type seeded struct {
	Commit    string           `json:"commit"`   // the config repo commit holding every config.yaml
	MergedAt  time.Time        `json:"mergedAt"` // when the versions landed
	Instances []seededInstance `json:"instances"`
}

type seededInstance struct {
	Slug              string              `json:"slug"`
	Type              spec.InstanceType   `json:"type"`
	Version           string              `json:"version"`
	ReleaseChannel    spec.ReleaseChannel `json:"releaseChannel"`
	Domain            string              `json:"domain"`
	Region            string              `json:"region"`
	Size              spec.Size           `json:"size"`
	MaintenanceWindow *windowJSON         `json:"maintenanceWindow,omitempty"`
	Alerting          bool                `json:"alerting"`
	Labels            map[string]string   `json:"labels,omitempty"`
	ProjectID         string              `json:"projectId"`
	ConfigPath        string              `json:"configPath"`
	IngressHost       string              `json:"ingressHost"`
}

// windowJSON is spec.MaintenanceWindow with JSON names (spec only names its YAML).
type windowJSON struct {
	Days      []string `json:"days"`
	StartHour int      `json:"startHour"`
	Hours     int      `json:"hours"`
}

func seedFleet(s *sim.Sim, in []FleetInstance) (*seeded, error) {
	cfg := s.Config()
	plans, err := planFleet(in, cfg.ConfigEnv) // validation and YAML need no lock
	if err != nil {
		return nil, err
	}
	defer s.Lock()()
	ps, err := fleetPartsOf(s)
	if err != nil {
		return nil, err
	}
	if err := ps.checkFree(plans, cfg.ConfigRepo); err != nil {
		return nil, err
	}
	at := s.Now().Add(-s.Timings().Rollout.D() - seededAge)
	for _, p := range plans {
		if err := ps.seedCloud(p, at); err != nil {
			return nil, fmt.Errorf("seeding %s: %w", p.Slug, err)
		}
	}
	files := make(map[string][]byte, len(plans))
	for _, p := range plans {
		files[p.path] = p.config
	}
	commit, err := ps.gh.PushDefaultBranch(cfg.ConfigRepo, github.Push{
		Message: fmt.Sprintf("Add %d instances created by hand", len(plans)),
		Author:  "Sourcegraph Cloud", Email: "cloud@sourcegraph.com", Date: at, Files: files,
	})
	if err != nil {
		return nil, fmt.Errorf("seeding the config repo %s: %w", cfg.ConfigRepo, err)
	}
	out := &seeded{Commit: commit, MergedAt: at, Instances: make([]seededInstance, 0, len(plans))}
	for _, p := range plans {
		// The push deployed each instance now; its rollout really landed long ago.
		if !ps.inst.BackdateRollout(p.Slug, at) {
			return nil, fmt.Errorf("seeding %s: the instances part did not deploy %s from %s", p.Slug, p.path, cfg.ConfigRepo)
		}
		out.Instances = append(out.Instances, p.view())
	}
	if f, ok := s.Part(fleetName).(*fleetPart); ok {
		f.seeded += len(plans)
	}
	return out, nil
}

// fleetParts are the parts a seeded instance lives in.
type fleetParts struct {
	rm     *resourcemanager.Part
	gke    *gke.Part
	backup *gkebackup.Part
	sql    *cloudsql.Part
	cf     *cloudflare.Part
	gh     *github.Part
	inst   *instances.Part
	net    *compute.Part
}

func fleetPartsOf(s *sim.Sim) (*fleetParts, error) {
	var ps fleetParts
	var ok [8]bool
	ps.rm, ok[0] = s.Part(resourcemanager.Name).(*resourcemanager.Part)
	ps.gke, ok[1] = s.Part(gke.Name).(*gke.Part)
	ps.backup, ok[2] = s.Part(gkebackup.Name).(*gkebackup.Part)
	ps.sql, ok[3] = s.Part(cloudsql.Name).(*cloudsql.Part)
	ps.cf, ok[4] = s.Part(cloudflare.Name).(*cloudflare.Part)
	ps.gh, ok[5] = s.Part("github").(*github.Part)
	ps.inst, ok[6] = s.Part("instances").(*instances.Part)
	ps.net, ok[7] = s.Part(compute.Name).(*compute.Part)
	for _, o := range ok {
		if !o {
			return nil, errors.New("seeding a fleet needs every part of the simulator: start it with stack.Start or stack.Parts")
		}
	}
	return &ps, nil
}

// checkFree rejects instances whose config, project, hostname or DNS record already exists, or
// whose domain no simulated Cloudflare zone holds. One read of the config repo's tree serves every
// instance; the other checks are map lookups. Lock held.
func (ps *fleetParts) checkFree(plans []*fleetPlan, configRepo string) error {
	paths := make([]string, len(plans))
	for i, p := range plans {
		paths[i] = p.path
	}
	taken := map[string]bool{}
	for _, path := range ps.gh.ExistingFiles(configRepo, paths) {
		taken[path] = true
	}
	for _, p := range plans {
		switch {
		case taken[p.path]:
			return p.fieldErr("slug", p.Slug, "already has a config.yaml in the config repo ("+configRepo+"/"+p.path+"): the instance exists")
		case ps.rm.ProjectExists(p.projectID):
			return p.fieldErr("slug", p.Slug, "its GCP project "+p.projectID+" already exists")
		}
		if owner, ok := ps.inst.HostOwner(p.Domain); ok {
			return p.fieldErr("domain", p.Domain, "is already used by instance `"+owner+"`")
		}
		zone, ok := ps.cf.ZoneFor(p.Domain)
		if !ok {
			return p.fieldErr("domain", p.Domain, "is in no Cloudflare zone of the simulator (sourcegraphcloud.com, sourcegraph.com)")
		}
		if ps.cf.HasRecords(p.Domain) {
			return p.fieldErr("domain", p.Domain, "already has a DNS record")
		}
		p.zoneID = zone
	}
	return nil
}

// seedCloud makes what the create workflow's cloud steps make, in their order. Lock held.
func (ps *fleetParts) seedCloud(p *fleetPlan, at time.Time) error {
	labels := func() map[string]string { return map[string]string{"instance-type": string(p.Type), "slug": p.Slug} }
	if err := ps.rm.SeedProject(projectSpec(p.Slug, labels()), at); err != nil {
		return err
	}
	ps.net.SeedNetwork(p.projectID, p.Region, spec.NetworkName, spec.SubnetworkName, spec.SubnetworkRange)
	if err := ps.gke.SeedCluster(p.projectID, p.Region, clusterSpec(p.Size, labels()), at); err != nil {
		return err
	}
	body, err := sqlInsertBody(p.Region, p.Size)
	if err != nil {
		return err
	}
	if err := ps.sql.SeedInstance(p.projectID, body, at); err != nil {
		return err
	}
	location := "projects/" + p.projectID + "/locations/" + p.Region
	if err := ps.backup.SeedBackupPlan(location, spec.BackupPlanName, backupPlanSpec(location+"/clusters/"+spec.ClusterName, labels()), at); err != nil {
		return err
	}
	return ps.cf.SeedRecord(p.zoneID, "CNAME", p.Domain, spec.IngressHost(p.Slug), true, dnsComment, at)
}
