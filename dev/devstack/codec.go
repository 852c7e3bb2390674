package devstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/sourcegraph/lifecycle/internal/codec"
)

// CodecKeysFile is the local stack's payload key ring. It is made once and kept with the dev
// server's database: a new key would leave the stored histories unreadable.
func (s *Stack) CodecKeysFile() string { return filepath.Join(s.Opts.Dir, "codec.keys") }

func (s *Stack) ensureCodecKeys() error {
	f := s.CodecKeysFile()
	if _, err := os.Stat(f); err == nil {
		return nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	ring := fmt.Sprintf("# The local stack's payload key ring (%s): id:base64key, newest last.\nlocal-%s:%s\n",
		codec.EnvKeysFile, time.Now().UTC().Format("20060102"), base64.StdEncoding.EncodeToString(k))
	return os.WriteFile(f, []byte(ring), 0o600)
}

// ClientOptions are a Temporal client's options for this stack, decoding its payloads.
func (s *Stack) ClientOptions() (client.Options, error) {
	b, err := os.ReadFile(s.CodecKeysFile())
	if err != nil {
		return client.Options{}, err
	}
	cdc, err := codec.Parse(string(b))
	if err != nil {
		return client.Options{}, fmt.Errorf("%s: %w", s.CodecKeysFile(), err)
	}
	return client.Options{HostPort: s.TemporalAddr(), Logger: quietLogger{},
		DataConverter: cdc.DataConverter(), FailureConverter: cdc.FailureConverter()}, nil
}

// Dial is a Temporal client for this stack that reads its encrypted payloads.
func (s *Stack) Dial(ctx context.Context) (client.Client, error) {
	o, err := s.ClientOptions()
	if err != nil {
		return nil, err
	}
	return client.DialContext(ctx, o)
}
