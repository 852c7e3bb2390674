package config

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/sdk/client"
)

func TestGrpcCompression(t *testing.T) {
	t.Setenv(EnvCodecDisabled, "1")
	for _, tc := range []struct {
		env  string
		want client.GrpcCompression
		err  string
	}{
		{"", &client.GrpcCompressionGzip{}, ""},
		{"none", &client.GrpcCompressionNone{}, ""},
		{"zstd", nil, `TEMPORAL_GRPC_COMPRESSION="zstd": use gzip (the default) or none`},
	} {
		t.Setenv("TEMPORAL_GRPC_COMPRESSION", tc.env)
		o, err := TemporalFromEnv().ClientOptions(slog.Default())
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.env, err, tc.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.env, err)
		case fmt.Sprintf("%T", o.ConnectionOptions.GrpcCompression) != fmt.Sprintf("%T", tc.want):
			t.Errorf("%q: compression %T, want %T", tc.env, o.ConnectionOptions.GrpcCompression, tc.want)
		}
	}
}

func TestProbeEgressIsReadAsCIDRs(t *testing.T) {
	t.Setenv("LIFECYCLE_PROBE_EGRESS", " 198.18.0.10/32, 2001:db8:10::/48 ,")
	c, err := CloudFromEnv()
	if err != nil || len(c.ProbeEgress) != 2 || c.ProbeEgress[0] != "198.18.0.10/32" || c.ProbeEgress[1] != "2001:db8:10::/48" {
		t.Fatalf("ProbeEgress %v %v", c.ProbeEgress, err)
	}
	for v, want := range map[string]string{"198.18.0.10": "not a CIDR range", "198.18.0.10/24": "198.18.0.0/24"} {
		t.Setenv("LIFECYCLE_PROBE_EGRESS", v)
		if _, err := CloudFromEnv(); err == nil || !strings.Contains(err.Error(), "LIFECYCLE_PROBE_EGRESS") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want an error naming the variable and %q, got %v", v, want, err)
		}
	}
	t.Setenv("LIFECYCLE_PROBE_EGRESS", "")
	if c, err := CloudFromEnv(); err != nil || len(c.ProbeEgress) != 0 {
		t.Fatalf("unset: %v %v", c.ProbeEgress, err)
	}
}

func TestProjectSettingsAreRequiredAgainstRealGCP(t *testing.T) {
	for env, want := range map[string]string{
		EnvProjectParent:  "folders/N or organizations/N",
		EnvBillingAccount: "billingAccounts/XXXXXX-XXXXXX-XXXXXX",
	} {
		t.Setenv(env, "123")
		if _, err := CloudFromEnv(); err == nil || !strings.Contains(err.Error(), env) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=123: want an error naming the variable and %q, got %v", env, want, err)
		}
		t.Setenv(env, "")
	}
	t.Setenv(EnvProjectParent, "folders/123")
	t.Setenv(EnvBillingAccount, "billingAccounts/0A1B2C-3D4E5F-000000")
	c, err := CloudFromEnv()
	if err != nil || c.ProjectParent != "folders/123" || c.BillingAccount != "billingAccounts/0A1B2C-3D4E5F-000000" {
		t.Fatalf("%+v %v", c, err)
	}
	if err := c.RequireProjectSettings(); err != nil {
		t.Fatal(err)
	}
	// Against the real Resource Manager (no endpoint override) both are required, by name.
	for _, tc := range []struct {
		c    Cloud
		want string
	}{
		{Cloud{BillingAccount: c.BillingAccount}, EnvProjectParent},
		{Cloud{ProjectParent: c.ProjectParent}, EnvBillingAccount},
	} {
		if err := tc.c.RequireProjectSettings(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: want an error naming %s, got %v", tc.c, tc.want, err)
		}
	}
	// The simulator (an endpoint override) needs neither.
	if err := (Cloud{GCPGRPCEndpoint: "127.0.0.1:8091"}).RequireProjectSettings(); err != nil {
		t.Errorf("simulator: %v", err)
	}
}
