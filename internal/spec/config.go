// Package spec holds the instance's declared state: the config.yaml kept for each instance in the
// config repo (modelled on sourcegraph/cloud's environments/<env>/deployments/<slug>/config.yaml),
// the deterministic names of its cloud resources, and the validation of every user-supplied field.
package spec

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// InstanceType is the instance-type label: it decides SLAs, rollout waves and trial timers.
type InstanceType string

const (
	Production InstanceType = "production"
	Trial      InstanceType = "trial"
	Internal   InstanceType = "internal"
)

// ReleaseChannel: fleet upgrades skip "pause" and "insiders".
type ReleaseChannel string

const (
	Stable   ReleaseChannel = "stable"
	Pause    ReleaseChannel = "pause"
	Insiders ReleaseChannel = "insiders"
)

// Size is the instance's size tier; it picks machine types and node counts.
type Size string

const (
	Small  Size = "small"
	Medium Size = "medium"
	Large  Size = "large"
)

const (
	APIVersion = "sourcegraph.com/v1"
	Kind       = "SourcegraphCloud"
)

// Config is one instance's config.yaml.
type Config struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   Metadata `yaml:"metadata"`
	Spec       Spec     `yaml:"spec"`
	Status     Status   `yaml:"status"`
}

type Metadata struct {
	Name   string            `yaml:"name"` // the slug
	Labels map[string]string `yaml:"labels,omitempty"`
}

type Spec struct {
	SourcegraphVersion string             `yaml:"sourcegraphVersion"`
	ReleaseChannel     ReleaseChannel     `yaml:"releaseChannel,omitempty"`
	Domain             Domain             `yaml:"domain"`
	Infrastructure     Infrastructure     `yaml:"infrastructure"`
	Size               Size               `yaml:"size"`
	IPAllowlist        []string           `yaml:"ipAllowlist,omitempty"`
	MaintenanceWindow  *MaintenanceWindow `yaml:"maintenanceWindow,omitempty"`
	UserLevelTelemetry bool               `yaml:"userLevelTelemetry"`
	// Suspended takes the workloads down (scale to zero) while keeping data.
	Suspended bool `yaml:"suspended,omitempty"`
	// FrontendRestartedAt is bumped to roll the frontend (reload site config), like
	// `kubectl rollout restart` keyed on an annotation.
	FrontendRestartedAt string `yaml:"frontendRestartedAt,omitempty"`
	Debug               Debug  `yaml:"debug"`
}

type Domain struct {
	PrimaryDNSName string `yaml:"primaryDNSName"`
}

type Infrastructure struct {
	GCP GCP `yaml:"gcp"`
}

type GCP struct {
	Region string `yaml:"region"`
}

// MaintenanceWindow is when disruptive work may start, in UTC: a weekday set and an hour range.
type MaintenanceWindow struct {
	Days      []string `yaml:"days"`      // e.g. ["sat", "sun"]
	StartHour int      `yaml:"startHour"` // 0-23, UTC
	Hours     int      `yaml:"hours"`     // length, 1-24
}

// Debug mirrors the seeds' .spec.debug switches the workflows own.
type Debug struct {
	EnableAlerting           bool `yaml:"enableAlerting"`
	EnableDeletionProtection bool `yaml:"enableDeletionProtection"`
}

// Status records where the instance's resources live (the seeds' .status.gcp.*).
type Status struct {
	GCP GCPStatus `yaml:"gcp"`
}

type GCPStatus struct {
	ProjectID   string `yaml:"projectId,omitempty"`
	Region      string `yaml:"region,omitempty"`
	Cluster     string `yaml:"cluster,omitempty"`
	NodePool    string `yaml:"nodePool,omitempty"`
	CloudSQL    string `yaml:"cloudSQL,omitempty"`
	BackupPlan  string `yaml:"backupPlan,omitempty"`
	IngressHost string `yaml:"ingressHost,omitempty"`
}

// Type returns the instance-type label.
func (c *Config) Type() InstanceType { return InstanceType(c.Metadata.Labels["instance-type"]) }

// Marshal renders config.yaml.
func (c *Config) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Parse reads config.yaml, rejecting unknown fields and wrong kinds.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config.yaml: %w", err)
	}
	if c.APIVersion != APIVersion || c.Kind != Kind {
		return nil, fmt.Errorf("config.yaml: apiVersion/kind are %q/%q, want %q/%q", c.APIVersion, c.Kind, APIVersion, Kind)
	}
	return &c, nil
}
