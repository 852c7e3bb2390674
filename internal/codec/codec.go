// Package codec encrypts every Temporal payload (docs/design.md invariant 10): workflow inputs,
// results, signals, Updates, memos and activity arguments hold customer data (admin emails,
// allowlists), so Temporal's database and its operators see only ciphertext. AES-256-GCM with a
// key ring for rotation: payloads are encrypted with the newest key and carry its ID in their
// metadata, so any key still in the ring decrypts them. The codec server (Handler) lets the Web
// UI show decoded payloads to whoever may call it.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Metadata of an encrypted payload.
const (
	MetadataEncoding = "encoding"
	MetadataKeyID    = "encryption-key-id"
	// EncodingEncrypted marks a payload this codec encrypted; anything else passes through, so
	// histories written before encryption was turned on still decode.
	EncodingEncrypted = "binary/encrypted"
)

// Environment: the key ring, inline or in a file (one "id:base64key" per line or comma).
const (
	EnvKeys     = "LIFECYCLE_CODEC_KEYS"
	EnvKeysFile = "LIFECYCLE_CODEC_KEYS_FILE"
)

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Codec is a converter.PayloadCodec over a key ring.
type Codec struct {
	aeads   map[string]cipher.AEAD
	current string // the newest key: it encrypts
}

// Parse reads a key ring: "id:base64key" entries separated by commas or newlines, oldest first
// (lines starting with # are comments);
// each key is 32 bytes (AES-256) in standard or URL base64. Errors name the entry and the fix.
func Parse(ring string) (*Codec, error) {
	c := &Codec{aeads: map[string]cipher.AEAD{}}
	var entries []string
	for _, line := range strings.Split(ring, "\n") {
		if line = strings.TrimSpace(line); !strings.HasPrefix(line, "#") { // a comment line may hold commas
			entries = append(entries, strings.Split(line, ",")...)
		}
	}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		id, b64, ok := strings.Cut(e, ":")
		if !ok || !keyIDRE.MatchString(id) {
			return nil, fmt.Errorf("codec key %q: want id:base64key, the id 1-64 letters, digits, '.', '_' or '-' (e.g. 2026-12:%s)", redact(e), exampleKey)
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			if key, err = base64.URLEncoding.DecodeString(b64); err != nil {
				return nil, fmt.Errorf("codec key %q: the key is not base64: generate one with `openssl rand -base64 32`", id)
			}
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("codec key %q: %d bytes, want 32 (AES-256): generate one with `openssl rand -base64 32`", id, len(key))
		}
		if _, dup := c.aeads[id]; dup {
			return nil, fmt.Errorf("codec key %q is listed twice", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c.aeads[id], c.current = aead, id
	}
	if c.current == "" {
		return nil, errors.New("the codec key ring is empty: set at least one id:base64key")
	}
	return c, nil
}

const exampleKey = "<openssl rand -base64 32>"

func redact(entry string) string {
	if id, _, ok := strings.Cut(entry, ":"); ok {
		return id + ":…"
	}
	if len(entry) > 8 {
		return entry[:8] + "…"
	}
	return entry
}

// FromFile reads a key ring file.
func FromFile(file string) (*Codec, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	c, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// FromEnv reads the key ring from LIFECYCLE_CODEC_KEYS or the file LIFECYCLE_CODEC_KEYS_FILE;
// nil, nil when neither is set (payloads stay unencrypted).
func FromEnv() (*Codec, error) {
	ring, file := os.Getenv(EnvKeys), os.Getenv(EnvKeysFile)
	switch {
	case ring != "" && file != "":
		return nil, fmt.Errorf("set %s or %s, not both", EnvKeys, EnvKeysFile)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKeysFile, err)
		}
		ring = string(b)
	case ring == "":
		return nil, nil
	}
	c, err := Parse(ring)
	if err != nil {
		from := EnvKeys
		if file != "" {
			from = EnvKeysFile
		}
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return c, nil
}

// KeyID is the key that encrypts.
func (c *Codec) KeyID() string { return c.current }

// Encode encrypts each payload (its whole proto, so the original encoding and metadata are
// hidden too) with the newest key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	aead := c.aeads[c.current]
	for i, p := range payloads {
		plain, err := p.Marshal()
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte(c.current)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.current)),
		}
	}
	return out, nil
}

// Decode decrypts payloads this codec encrypted and passes the others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, fmt.Errorf("payload encrypted with key %q, which is not in the key ring: add it back to %s (keep retired keys until no history needs them)", id, EnvKeys)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, fmt.Errorf("payload encrypted with key %q is truncated", id)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("payload encrypted with key %q does not decrypt: the key under that ID changed, or the payload was altered", id)
		}
		var orig commonpb.Payload
		if err := orig.Unmarshal(plain); err != nil {
			return nil, err
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter is the default converter with this codec: what clients and workers use.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// FailureConverter encrypts failures too: an error's message and stack trace (say, a DNS step's
// "point DNS record <customer domain> at …") go into the failure's encoded attributes, a payload
// this codec encrypts, and Temporal stores "Encoded failure" in their place. Every client and
// worker must use it with DataConverter, or they read each other's failures as that placeholder.
func (c *Codec) FailureConverter() converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: c.DataConverter(), EncodeCommonAttributes: true})
}

// Handler is the codec server the Web UI calls (POST …/encode, …/decode), with CORS for the UI's
// origins (comma-separated, e.g. "http://127.0.0.1:8233,http://localhost:8233": CORS names one
// origin per answer, so the request's own is echoed when it is listed) and, if token is set, a
// required bearer token.
func Handler(c *Codec, origins, token string) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	var allowed []string
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			allowed = append(allowed, o)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(allowed) > 0 {
			origin := allowed[0] // a caller without an Origin header is not a browser
			if o := r.Header.Get("Origin"); o != "" {
				origin = ""
				if slices.Contains(allowed, o) {
					origin = o
				}
			}
			if origin != "" {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
				w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			}
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			http.Error(w, "the codec server needs Authorization: Bearer <LIFECYCLE_CODEC_TOKEN>", http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	})
}
