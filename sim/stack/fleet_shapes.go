package stack

import (
	"encoding/json"
	"fmt"
	"strings"

	"cloud.google.com/go/container/apiv1/containerpb"
	"cloud.google.com/go/gkebackup/apiv1/gkebackuppb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	sqladmin "google.golang.org/api/sqladmin/v1"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// The shapes below are what the create workflow and its activities make. They are mirrored, not
// imported: the activities' tests import this package, so it cannot import activities.
// TestSeededFleetLooksCreated (activities/fleet_seed_test.go) compares them with the activities'
// own and fails when the two drift apart.

// nodePoolTiers mirrors activities.NodePoolFor.
var nodePoolTiers = map[spec.Size]struct {
	machineType   string
	nodes, diskGB int32
}{
	spec.Small:  {"n2-highmem-4", 2, 100},
	spec.Medium: {"n2-highmem-8", 3, 200},
	spec.Large:  {"n2-highmem-16", 4, 300},
}

// sqlTiers mirrors activities.SQLTier.
var sqlTiers = map[spec.Size]string{
	spec.Small:  "db-custom-2-7680",
	spec.Medium: "db-custom-4-15360",
	spec.Large:  "db-custom-8-30720",
}

const (
	sqlDatabaseVersion = "POSTGRES_16" // activities.SQLDatabaseVersion
	sqlEdition         = "ENTERPRISE"  // activities.SQLEdition
	sqlRetentionDays   = 7
	backupCron         = "0 3 * * *" // activities.GKEBackupCron
	backupRetainDays   = 90          // activities.GKEBackupRetainDays
	dnsComment         = "managed by the lifecycle service"
)

// instanceConfig is the config.yaml create writes, with alerting as its last step left it.
func instanceConfig(p *fleetPlan) *spec.Config {
	labels := map[string]string{"instance-type": string(p.Type)}
	for k, v := range p.Labels {
		labels[k] = v
	}
	return &spec.Config{
		APIVersion: spec.APIVersion, Kind: spec.Kind,
		Metadata: spec.Metadata{Name: p.Slug, Labels: labels},
		Spec: spec.Spec{
			SourcegraphVersion: p.Version,
			ReleaseChannel:     p.ReleaseChannel,
			Domain:             spec.Domain{PrimaryDNSName: p.Domain},
			Infrastructure:     spec.Infrastructure{GCP: spec.GCP{Region: p.Region}},
			Size:               p.Size,
			MaintenanceWindow:  p.MaintenanceWindow,
			IPAllowlist:        p.IPAllowlist,
			Debug:              spec.Debug{EnableAlerting: p.alerting, EnableDeletionProtection: true},
		},
		Status: spec.StatusFor(p.Slug, p.Region),
	}
}

// projectSpec is what EnsureProject creates (display name as the create workflow names it).
func projectSpec(slug string, labels map[string]string) *resourcemanagerpb.Project {
	name := "Sourcegraph " + slug
	if len(name) > 30 {
		name = strings.TrimRight(name[:30], "- ")
	}
	return &resourcemanagerpb.Project{ProjectId: spec.ProjectID(slug), DisplayName: name, Labels: labels}
}

// clusterSpec is what EnsureCluster creates: the cluster with its primary node pool.
func clusterSpec(size spec.Size, labels map[string]string) *containerpb.Cluster {
	tier := nodePoolTiers[size]
	return &containerpb.Cluster{
		Name:           spec.ClusterName,
		Description:    "Sourcegraph dedicated instance (managed by the lifecycle service)",
		ResourceLabels: labels,
		ReleaseChannel: &containerpb.ReleaseChannel{Channel: containerpb.ReleaseChannel_REGULAR},
		Network:        spec.NetworkName,
		Subnetwork:     spec.SubnetworkName,
		AddonsConfig:   &containerpb.AddonsConfig{GkeBackupAgentConfig: &containerpb.GkeBackupAgentConfig{Enabled: true}},
		NodePools: []*containerpb.NodePool{{
			Name:             spec.NodePoolName,
			InitialNodeCount: (tier.nodes + 2) / 3, // activities.NodesPerZone over GKE's 3 default zones
			Config: &containerpb.NodeConfig{
				MachineType:    tier.machineType,
				DiskSizeGb:     tier.diskGB,
				OauthScopes:    []string{"https://www.googleapis.com/auth/cloud-platform"},
				ResourceLabels: labels,
			},
			Management: &containerpb.NodeManagement{AutoRepair: true, AutoUpgrade: true},
		}},
	}
}

// sqlInsertBody is the instances.insert body EnsureSQLInstance sends, encoded by the client's own
// types so numbers and field names are exactly the client's.
func sqlInsertBody(region string, size spec.Size) ([]byte, error) {
	tier, ok := sqlTiers[size]
	if !ok {
		return nil, fmt.Errorf("no Cloud SQL tier for size %q", size)
	}
	return json.Marshal(&sqladmin.DatabaseInstance{
		Name:            spec.SQLInstanceName,
		DatabaseVersion: sqlDatabaseVersion,
		Region:          region,
		Settings: &sqladmin.Settings{
			Tier:                      tier,
			Edition:                   sqlEdition,
			ActivationPolicy:          "ALWAYS",
			DeletionProtectionEnabled: true,
			BackupConfiguration: &sqladmin.BackupConfiguration{
				Enabled:                     true,
				PointInTimeRecoveryEnabled:  true,
				TransactionLogRetentionDays: sqlRetentionDays,
				BackupRetentionSettings:     &sqladmin.BackupRetentionSettings{RetainedBackups: sqlRetentionDays, RetentionUnit: "COUNT"},
			},
			UserLabels: map[string]string{"managed-by": "lifecycle"},
		},
	})
}

// backupPlanSpec is what EnsureBackupPlan creates: daily, kept 90 days, everything in the cluster.
func backupPlanSpec(cluster string, labels map[string]string) *gkebackuppb.BackupPlan {
	return &gkebackuppb.BackupPlan{
		Cluster:         cluster,
		Description:     "Daily backup of the Sourcegraph dedicated instance (managed by the lifecycle service)",
		Labels:          labels,
		RetentionPolicy: &gkebackuppb.BackupPlan_RetentionPolicy{BackupRetainDays: backupRetainDays},
		BackupSchedule:  &gkebackuppb.BackupPlan_Schedule{CronSchedule: backupCron},
		BackupConfig: &gkebackuppb.BackupPlan_BackupConfig{
			BackupScope:       &gkebackuppb.BackupPlan_BackupConfig_AllNamespaces{AllNamespaces: true},
			IncludeVolumeData: true,
			IncludeSecrets:    true,
		},
	}
}
