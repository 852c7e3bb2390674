// Package config reads the settings the worker, starter and CLI share from the environment, so
// the same binaries run against the local stack or production without code changes.
package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/google/go-github/v55/github"

	"github.com/sourcegraph/lifecycle/internal/codec"
)

// Temporal is how to reach the Temporal service: the local dev server, a self-hosted cluster
// (mTLS) or Temporal Cloud (API key).
type Temporal struct {
	Address   string // TEMPORAL_ADDRESS, default 127.0.0.1:7233
	Namespace string // TEMPORAL_NAMESPACE, default "default"
	TLSCert   string // TEMPORAL_TLS_CERT: client certificate file (mTLS)
	TLSKey    string // TEMPORAL_TLS_KEY
	APIKey    string // TEMPORAL_API_KEY (Temporal Cloud); implies TLS
	UIURL     string // TEMPORAL_UI_URL, for links to runs; default http://127.0.0.1:8233
	// LocalKeysFile is a key ring file read when neither codec variable is set: mi finds the
	// local stack's .local/codec.keys this way.
	LocalKeysFile string
	// Compression is TEMPORAL_GRPC_COMPRESSION: "gzip" (default, the SDK's) or "none". Payloads
	// are encrypted before they leave the process and ciphertext does not compress: in a
	// 1,000-instance rollout, none took the worker's CPU per upgrade from 57 to 54 ms, but the
	// stack's total (dev server included) did not move, so gzip stays the default.
	Compression string
}

// TemporalFromEnv reads the TEMPORAL_* variables.
// EnvCodecDisabled=1 runs without payload encryption (a throwaway stack only).
const EnvCodecDisabled = "LIFECYCLE_CODEC_DISABLED"

func TemporalFromEnv() Temporal {
	return Temporal{
		Address:   Getenv("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
		Namespace: Getenv("TEMPORAL_NAMESPACE", "default"),
		TLSCert:   os.Getenv("TEMPORAL_TLS_CERT"),
		TLSKey:    os.Getenv("TEMPORAL_TLS_KEY"),
		APIKey:    os.Getenv("TEMPORAL_API_KEY"),
		UIURL:     strings.TrimRight(Getenv("TEMPORAL_UI_URL", "http://127.0.0.1:8233"), "/"),

		Compression: Getenv("TEMPORAL_GRPC_COMPRESSION", "gzip"),
	}
}

// ClientOptions turns the settings into SDK options.
func (t Temporal) ClientOptions(log *slog.Logger) (client.Options, error) {
	o := client.Options{HostPort: t.Address, Namespace: t.Namespace, Logger: tlog.NewStructuredLogger(log)}
	switch t.Compression {
	case "", "gzip":
		o.ConnectionOptions.GrpcCompression = &client.GrpcCompressionGzip{}
	case "none":
		o.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	default:
		return o, fmt.Errorf("TEMPORAL_GRPC_COMPRESSION=%q: use gzip (the default) or none", t.Compression)
	}
	// Payloads are encrypted (invariant 10). A missing or bad key ring stops the process here,
	// not at the first payload it cannot read.
	cdc, err := codec.FromEnv()
	if err == nil && cdc == nil && t.LocalKeysFile != "" {
		cdc, err = codec.FromFile(t.LocalKeysFile)
	}
	switch {
	case err != nil:
		return o, err
	case cdc != nil:
		o.DataConverter, o.FailureConverter = cdc.DataConverter(), cdc.FailureConverter()
	case os.Getenv(EnvCodecDisabled) != "1":
		return o, &NoKeyRingError{}
	}
	switch {
	case t.TLSCert != "" || t.TLSKey != "":
		if t.TLSCert == "" || t.TLSKey == "" {
			return o, fmt.Errorf("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
		}
		cert, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
		if err != nil {
			return o, fmt.Errorf("loading TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		o.ConnectionOptions.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case t.APIKey != "":
		o.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
		o.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// WorkflowURL links a workflow in the Web UI (its latest run).
func (t Temporal) WorkflowURL(workflowID string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", t.UIURL, t.Namespace, url.PathEscape(workflowID))
}

// GitHub is how to reach GitHub (or GitHub Enterprise, or the simulator).
type GitHub struct {
	Token         string // GITHUB_TOKEN
	APIURL        string // GITHUB_API_URL: empty for github.com; e.g. http://127.0.0.1:8090/ for the simulator
	WebhookSecret string // GITHUB_WEBHOOK_SECRET: required by the starter
}

// Client is the bot's go-github client: hc's transport (nil: the default) with the token, aimed at
// APIURL when set. The worker, the starter and mi all build theirs here.
func (g GitHub) Client(hc *http.Client) (*github.Client, error) {
	c := github.NewClient(hc).WithAuthToken(g.Token)
	if g.APIURL == "" {
		return c, nil
	}
	c, err := c.WithEnterpriseURLs(g.APIURL, g.APIURL)
	if err != nil {
		return nil, fmt.Errorf("GITHUB_API_URL %q is not a URL (e.g. https://github.example.com/api/v3/): %w", g.APIURL, err)
	}
	return c, nil
}

// GitHubFromEnv reads the GITHUB_* variables.
func GitHubFromEnv() GitHub {
	return GitHub{Token: os.Getenv("GITHUB_TOKEN"), APIURL: os.Getenv("GITHUB_API_URL"), WebhookSecret: os.Getenv("GITHUB_WEBHOOK_SECRET")}
}

// Cloud is how the activities reach GCP, Cloudflare and the instances. Empty endpoints mean the
// real services; the local stack points them all at the simulator.
type Cloud struct {
	// GCPGRPCEndpoint (GCP_GRPC_ENDPOINT) overrides the gRPC endpoint of GKE, Backup for GKE and
	// Resource Manager, as host:port. GCPInsecure (GCP_INSECURE=true) dials it in plaintext without
	// credentials: the simulator only. Otherwise Application Default Credentials are used.
	GCPGRPCEndpoint string
	GCPInsecure     bool
	// SQLAdminEndpoint (SQLADMIN_ENDPOINT) overrides https://sqladmin.googleapis.com/.
	SQLAdminEndpoint string
	// ComputeEndpoint (COMPUTE_ENDPOINT) overrides https://compute.googleapis.com/compute/v1/ (the
	// VPC network the create makes for the cluster).
	ComputeEndpoint string
	// CloudBillingEndpoint (CLOUDBILLING_ENDPOINT) and ServiceUsageEndpoint
	// (SERVICEUSAGE_ENDPOINT) override https://cloudbilling.googleapis.com/ and
	// https://serviceusage.googleapis.com/ (REST), which make a new project usable.
	CloudBillingEndpoint string
	ServiceUsageEndpoint string
	// ProjectParent (GCP_PROJECT_PARENT) is where new projects go, folders/N or organizations/N:
	// a service account cannot create a project without one. BillingAccount
	// (GCP_BILLING_ACCOUNT, billingAccounts/XXXXXX-XXXXXX-XXXXXX) is linked to every new project:
	// nothing can be enabled in a project without billing. Both are required against the real
	// Resource Manager (RequireProjectSettings).
	ProjectParent  string
	BillingAccount string
	// CloudflareAPIURL (CLOUDFLARE_API_URL) overrides https://api.cloudflare.com/client/v4;
	// CloudflareToken (CLOUDFLARE_API_TOKEN) is a token with DNS and zone WAF edit rights.
	CloudflareAPIURL string
	CloudflareToken  string
	// ProbeURL (INSTANCE_PROBE_URL) sends uptime probes to this base URL with the instance's Host
	// header (the simulator); empty probes https://<instance host> directly.
	ProbeURL string
	// ProbeEgress (LIFECYCLE_PROBE_EGRESS, comma-separated CIDRs) are the ranges the uptime probes
	// leave from. Every IP allowlist also admits them, or the WAF would answer the probes 403.
	ProbeEgress []string
	// ConfigRepo (CONFIG_REPO, owner/name) and ConfigEnv (CONFIG_ENV) locate the GitOps config.
	ConfigRepo string
	ConfigEnv  string
	// PollInterval (CLOUD_POLL_INTERVAL) is how often long-running operations (backups, clusters,
	// Cloud SQL) are polled; zero keeps the activities' default (2 s). Test stacks and the
	// benchmarks, whose operations take milliseconds, poll faster.
	PollInterval time.Duration
	// ConfigBatchWait (LIFECYCLE_CONFIG_BATCH_WAIT) is how long a config change waits for others
	// to share its pull request; 0 opens one pull request per change.
	ConfigBatchWait time.Duration
}

// DefaultConfigBatchWait is LIFECYCLE_CONFIG_BATCH_WAIT's default.
const DefaultConfigBatchWait = time.Second

// CloudFromEnv reads the cloud settings; a malformed value is an error naming its variable.
func CloudFromEnv() (Cloud, error) {
	poll, err := DurationEnv("CLOUD_POLL_INTERVAL", 0)
	if err != nil {
		return Cloud{}, err
	}
	egress, err := CIDRsEnv("LIFECYCLE_PROBE_EGRESS")
	if err != nil {
		return Cloud{}, err
	}
	batchWait := time.Duration(0)
	if os.Getenv("LIFECYCLE_CONFIG_BATCH_WAIT") != "0" {
		if batchWait, err = DurationEnv("LIFECYCLE_CONFIG_BATCH_WAIT", DefaultConfigBatchWait); err != nil {
			return Cloud{}, fmt.Errorf("%w (or 0 for one pull request per config change)", err)
		}
	}
	parent := os.Getenv(EnvProjectParent)
	if parent != "" && !projectParentPattern.MatchString(parent) {
		return Cloud{}, fmt.Errorf("%s=%q: want folders/N or organizations/N (the numeric ID of the folder or organisation new projects go in)", EnvProjectParent, parent)
	}
	billing := os.Getenv(EnvBillingAccount)
	if billing != "" && !billingAccountPattern.MatchString(billing) {
		return Cloud{}, fmt.Errorf("%s=%q: want billingAccounts/XXXXXX-XXXXXX-XXXXXX (gcloud billing accounts list shows the ID)", EnvBillingAccount, billing)
	}
	return Cloud{
		ProjectParent:        parent,
		BillingAccount:       billing,
		CloudBillingEndpoint: os.Getenv("CLOUDBILLING_ENDPOINT"),
		ServiceUsageEndpoint: os.Getenv("SERVICEUSAGE_ENDPOINT"),
		ProbeEgress:          egress,
		GCPGRPCEndpoint:      os.Getenv("GCP_GRPC_ENDPOINT"),
		GCPInsecure:          os.Getenv("GCP_INSECURE") == "true",
		SQLAdminEndpoint:     os.Getenv("SQLADMIN_ENDPOINT"),
		ComputeEndpoint:      os.Getenv("COMPUTE_ENDPOINT"),
		CloudflareAPIURL:     os.Getenv("CLOUDFLARE_API_URL"),
		CloudflareToken:      os.Getenv("CLOUDFLARE_API_TOKEN"),
		ProbeURL:             os.Getenv("INSTANCE_PROBE_URL"),
		ConfigRepo:           Getenv("CONFIG_REPO", "sourcegraph/cloud"),
		ConfigEnv:            Getenv("CONFIG_ENV", "prod"),
		PollInterval:         poll,
		ConfigBatchWait:      batchWait,
	}, nil
}

// The variables that make a new project usable.
const (
	EnvProjectParent  = "GCP_PROJECT_PARENT"
	EnvBillingAccount = "GCP_BILLING_ACCOUNT"
)

var (
	projectParentPattern  = regexp.MustCompile(`^(folders|organizations)/[0-9]+$`)
	billingAccountPattern = regexp.MustCompile(`^billingAccounts/[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$`)
)

// RequireProjectSettings refuses to run against the real Resource Manager (GCP_GRPC_ENDPOINT
// unset) without the project parent and billing account: every create would park at its first
// cloud step. The simulator is let through, whose stacks set both anyway.
func (c Cloud) RequireProjectSettings() error {
	if c.GCPGRPCEndpoint != "" {
		return nil
	}
	if c.ProjectParent == "" {
		return fmt.Errorf("%s is not set: a service account cannot create a GCP project without a parent; set it to the folder or organisation new projects go in (folders/N or organizations/N)", EnvProjectParent)
	}
	if c.BillingAccount == "" {
		return fmt.Errorf("%s is not set: a new GCP project has no billing account, and no API can be enabled without one; set it to billingAccounts/XXXXXX-XXXXXX-XXXXXX (the worker's service account needs Billing Account User on it)", EnvBillingAccount)
	}
	return nil
}

// CIDRsEnv reads a comma-separated list of network ranges (203.0.113.0/24, 198.51.100.7/32).
func CIDRsEnv(key string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(os.Getenv(key), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a CIDR range; write ranges like 203.0.113.0/24 or 198.51.100.7/32, comma-separated", key, item)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("%s: %q has host bits set; write the network address, %s", key, item, p.Masked())
		}
		out = append(out, p.String())
	}
	return out, nil
}

// DurationEnv reads a positive Go duration ("500ms", "2s"), or def when the variable is unset.
func DurationEnv(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive Go duration such as 500ms or 2s", key, v)
	}
	return d, nil
}

// IntEnv reads a positive integer, or def when the variable is unset.
func IntEnv(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive whole number", key, v)
	}
	return n, nil
}

// Getenv returns the variable or a default.
func Getenv(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// Logger is the JSON slog logger every binary uses; LOG_LEVEL=debug|info|warn|error.
func Logger(component string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(Getenv("LOG_LEVEL", "info"))); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})).With("component", component)
}

// Dial connects to Temporal with these settings, naming the address in the error.
func (t Temporal) Dial(ctx context.Context, log *slog.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := t.ClientOptions(log)
	if err != nil {
		return nil, err
	}
	opts.MetricsHandler = metrics
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, &ConnectError{Address: t.Address, Err: err}
	}
	return c, nil
}

// NoKeyRingError: neither key ring variable is set and encryption is not disabled.
type NoKeyRingError struct{}

func (*NoKeyRingError) Error() string {
	return fmt.Sprintf("%s (or %s) is not set: payloads would reach Temporal in clear. Set a key ring, e.g. %s=k1:$(openssl rand -base64 32), the same on every worker, starter and mi; or %s=1 for a throwaway stack",
		codec.EnvKeys, codec.EnvKeysFile, codec.EnvKeys, EnvCodecDisabled)
}

// ConnectError is a failure to reach Temporal, as opposed to a setting that stopped Dial before it
// tried (a key ring, TLS files): only this one is worth checking TEMPORAL_ADDRESS for.
type ConnectError struct {
	Address string
	Err     error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("connecting to Temporal at %s (TEMPORAL_ADDRESS): %v", e.Address, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// HealthRoutes serves /healthz (the process is up) and /readyz (Temporal answers), the probes
// Kubernetes and the local stack use.
func HealthRoutes(mux *http.ServeMux, tc client.Client) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			http.Error(w, "temporal unreachable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// DefaultDriftRepo is where the allowlist drift issue lives when LIFECYCLE_DRIFT_REPO is unset.
const DefaultDriftRepo = "sourcegraph/customer"

// DriftRepo is LIFECYCLE_DRIFT_REPO (owner/name, lower case), DefaultDriftRepo when unset:
// the worker opens the drift issue there and the starter serves `/reconcile` there only.
func DriftRepo() (string, error) {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("LIFECYCLE_DRIFT_REPO")))
	if v == "" {
		return DefaultDriftRepo, nil
	}
	owner, name, ok := strings.Cut(v, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/ ") {
		return "", fmt.Errorf("LIFECYCLE_DRIFT_REPO=%q: want one repository as owner/name, e.g. sourcegraph/customer", os.Getenv("LIFECYCLE_DRIFT_REPO"))
	}
	return v, nil
}
