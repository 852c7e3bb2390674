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
