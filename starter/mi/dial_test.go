package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Without a key ring, mi names the key ring and how to set it, and does not send on-call to check
// TEMPORAL_ADDRESS, which is fine.
func TestDialWithoutKeyRingNamesTheKeyRing(t *testing.T) {
	t.Chdir(t.TempDir()) // no .local/codec.keys here or above
	t.Setenv("LIFECYCLE_CODEC_KEYS", "")
	t.Setenv("LIFECYCLE_CODEC_KEYS_FILE", "")
	t.Setenv("LIFECYCLE_CODEC_DISABLED", "")
	t.Setenv("TEMPORAL_ADDRESS", "temporal.example.com:7233")
	var out, errb bytes.Buffer
	code := newApp(&out, &errb, func(string) string { return "" }).run(context.Background(), []string{"list"})
	if code != exitError {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitError, errb.String())
	}
	msg := errb.String()
	if !strings.Contains(msg, "LIFECYCLE_CODEC_KEYS_FILE") || strings.Contains(msg, "TEMPORAL_ADDRESS") {
		t.Errorf("the error must name the key ring, not the address:\n%s", msg)
	}
}
