package otlphttp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/exporters/otlphttp"
)

func load(t *testing.T, yaml string) (otlphttp.Config, error) {
	t.Helper()
	n, err := nodetest.NodeConfig(otlphttp.Type, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return otlphttp.Load(n)
}

// The reference engine's http block sets the same settings as the
// top-level keys.
func TestHTTPBlockIsMergedIntoTheSettings(t *testing.T) {
	cfg, err := load(t, `endpoint: https://otlp.example.com
client_pool_size: 2
max_response_body_length: 1048576
headers: { x-team: a }
http:
  compression: gzip
  timeout: 3s
  headers: { x-scope-orgid: tenant-1 }
  tls: { server_name_override: otlp.internal }
  connect_timeout: 1s
  user_agent: me/1`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Compression != "gzip" || time.Duration(cfg.Timeout) != 3*time.Second || cfg.TLS == nil || cfg.TLS.ServerNameOverride != "otlp.internal" {
		t.Errorf("merged compression %q, timeout %v, tls %+v; want the http block's", cfg.Compression, cfg.Timeout, cfg.TLS)
	}
	if len(cfg.Headers) != 2 || cfg.Headers["x-scope-orgid"] != "tenant-1" || cfg.Headers["x-team"] != "a" {
		t.Errorf("headers %v, want both blocks'", cfg.Headers)
	}
}

func TestHTTPBlockConflicts(t *testing.T) {
	_, err := load(t, `endpoint: http://127.0.0.1:4318
compression: zstd
timeout: 2s
headers: { X-Tenant: a }
tls: { insecure: true }
http:
  compression: gzip
  timeout: 5s
  headers: { x-tenant: b }
  tls: { insecure: true }`)
	errs := config.Errors(err)
	want := []string{
		"config.http.compression: compression is set both at the top level and in the http block",
		"config.http.timeout: timeout is set both at the top level and in the http block",
		"config.http.tls: tls is set both at the top level and in the http block",
		`config.http.headers.x-tenant: header "x-tenant" is also set in headers (as "X-Tenant")`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %v, want %d errors", err, len(want))
	}
	for i, w := range want {
		if !strings.Contains(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want %q", i, errs[i], w)
		}
	}
}

func TestHTTPBlockBadValuesAreReportedWhereWritten(t *testing.T) {
	_, err := load(t, "endpoint: http://127.0.0.1:4318\nhttp: { compression: deflate, timeout: 0s }")
	errs := config.Errors(err)
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `config.http.compression: unknown compression "deflate"`) ||
		!strings.Contains(errs[1].Error(), "config.http.timeout: timeout must be positive") {
		t.Fatalf("got %v, want the two errors under http", err)
	}
}

// tls: {insecure: true} without a CA lets the scheme decide, as in the
// reference engine: a plaintext endpoint is fine with it.
func TestInsecureTLSBlockWithPlaintextEndpoint(t *testing.T) {
	if _, err := load(t, "endpoint: http://127.0.0.1:4318\nhttp: { tls: { insecure: true } }"); err != nil {
		t.Fatalf("insecure tls with http://: %v", err)
	}
	if _, err := load(t, "endpoint: http://127.0.0.1:4318\ntls: { ca_file: ca.pem }"); err == nil || !strings.Contains(err.Error(), "tls is set but every endpoint is plaintext") {
		t.Fatalf("a CA with http:// = %v, want the plaintext error", err)
	}
}
