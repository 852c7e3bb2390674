package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func TestRoundTripHidesTheData(t *testing.T) {
	c, err := Parse("k1:" + newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	dc := c.DataConverter()
	in := map[string]string{"adminEmail": "admin@acme-corp.example"}
	p, err := dc.ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.GetData(), []byte("acme-corp")) || string(p.Metadata[MetadataKeyID]) != "k1" || string(p.Metadata[MetadataEncoding]) != EncodingEncrypted {
		t.Fatalf("the payload is not encrypted: %q %v", p.GetData(), p.Metadata)
	}
	var out map[string]string
	if err := dc.FromPayload(p, &out); err != nil || out["adminEmail"] != in["adminEmail"] {
		t.Fatalf("decoded %v, %v", out, err)
	}
}

func TestRotation(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	old, _ := Parse("k1:" + k1)
	ring, err := Parse("# the ring, oldest first, newest last\nk1:" + k1 + ",\nk2:" + k2)
	if err != nil {
		t.Fatal(err)
	}
	if ring.KeyID() != "k2" {
		t.Fatalf("the newest key must encrypt, got %s", ring.KeyID())
	}
	p, _ := old.DataConverter().ToPayload("written with k1")
	var s string
	if err := ring.DataConverter().FromPayload(p, &s); err != nil || s != "written with k1" {
		t.Fatalf("a rotated ring must still read k1's payloads: %q %v", s, err)
	}
	p2, _ := ring.DataConverter().ToPayload("written with k2")
	if err := old.DataConverter().FromPayload(p2, &s); err == nil || !strings.Contains(err.Error(), `key "k2"`) {
		t.Fatalf("a ring without k2 must say which key it lacks, got %v", err)
	}
	// Unencrypted payloads (history from before encryption) pass through.
	plain, _ := converter.GetDefaultDataConverter().ToPayload("plain")
	if err := ring.DataConverter().FromPayload(plain, &s); err != nil || s != "plain" {
		t.Fatalf("plain payload: %q %v", s, err)
	}
	// A tampered payload or a changed key fails loudly.
	p2.Data[len(p2.Data)-1] ^= 1
	if err := ring.DataConverter().FromPayload(p2, &s); err == nil || !strings.Contains(err.Error(), "does not decrypt") {
		t.Fatalf("tampered: %v", err)
	}
}

func TestParseErrorsNameTheFix(t *testing.T) {
	for ring, want := range map[string]string{
		"":               "empty",
		"nokey":          "want id:base64key",
		"k1:not base64!": "not base64",
		"k1:" + base64.StdEncoding.EncodeToString([]byte("short")):      "5 bytes, want 32",
		"bad id:" + base64.StdEncoding.EncodeToString(make([]byte, 32)): "want id:base64key",
	} {
		if _, err := Parse(ring); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", ring, err, want)
		}
	}
	k := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if _, err := Parse("a:" + k + ",a:" + k); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate id: %v", err)
	}
	if _, err := Parse("secretpart:zzz"); err == nil || strings.Contains(err.Error(), "zzz") {
		t.Errorf("an error must not echo key material: %v", err)
	}
}

func TestCodecServer(t *testing.T) {
	c, _ := Parse("k1:" + newKey(t))
	srv := httptest.NewServer(Handler(c, "http://127.0.0.1:8233", "s3cret"))
	defer srv.Close()
	p, _ := c.DataConverter().ToPayload("admin@acme-corp.example")
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	post := func(token string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := post("wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %s", resp.Status)
	}
	resp := post("s3cret")
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:8233" {
		t.Fatalf("decode: %s, CORS %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	var out struct {
		Payloads []struct {
			Data string `json:"data"`
		} `json:"payloads"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Payloads) != 1 {
		t.Fatalf("decode answer: %+v %v", out, err)
	}
	if d, _ := base64.StdEncoding.DecodeString(out.Payloads[0].Data); !strings.Contains(string(d), "admin@acme-corp.example") {
		t.Fatalf("the codec server did not decode: %q", d)
	}
	pre, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	if resp, err := http.DefaultClient.Do(pre); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %v %v", resp, err)
	}
}

// The local dev server's Web UI is reached as http://127.0.0.1:8233 or, as the dev server itself
// prints it, http://localhost:8233: the codec server answers each origin in its list with that
// origin (CORS allows one), and no other.
func TestCodecServerAllowsEachListedOrigin(t *testing.T) {
	c, _ := Parse("k1:" + newKey(t))
	srv := httptest.NewServer(Handler(c, "http://127.0.0.1:8233, http://localhost:8233", ""))
	defer srv.Close()
	for origin, want := range map[string]string{
		"http://127.0.0.1:8233":    "http://127.0.0.1:8233",
		"http://localhost:8233":    "http://localhost:8233",
		"http://evil.example:8233": "",
	} {
		req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want %q", origin, got, want)
		}
	}
}

// A failure's message and stack trace are encrypted like payloads, and decode for key holders.
func TestFailureConverterHidesTheMessage(t *testing.T) {
	c, err := Parse("k1:" + newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "point DNS record acme.example.com at ingress"
	f := c.FailureConverter().ErrorToFailure(temporal.NewNonRetryableApplicationError(secret, "InvalidArgument", nil))
	b, err := proto.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("acme.example.com")) {
		t.Fatalf("the failure holds the message in clear: %v", f)
	}
	var app *temporal.ApplicationError
	if err := c.FailureConverter().FailureToError(f); !errors.As(err, &app) || app.Message() != secret || app.Type() != "InvalidArgument" {
		t.Fatalf("decoded: %v", err)
	}
}
