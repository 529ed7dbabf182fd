package otlp_test

import (
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/receivers/otlp"
)

func loadConfig(t *testing.T, yaml string) (otlp.Config, error) {
	t.Helper()
	n, err := nodetest.NodeConfig(otlp.Type, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return otlp.Load(n)
}

// The reference engine's spellings of the protocols' settings set
// ackflow's.
func TestReferenceProtocolKeys(t *testing.T) {
	cfg, err := loadConfig(t, `protocols:
  grpc:
    listening_addr: 127.0.0.1:4317
    max_decoding_message_size: 8MiB
    initial_stream_window_size: 1MiB
    initial_connection_window_size: 4MiB
    tcp_keepalive: 45s
    load_shed: true
  http:
    listening_addr: 127.0.0.1:4318
    max_request_body_size: 2MiB
    accept_compressed_requests: false`)
	if err != nil {
		t.Fatal(err)
	}
	g, h := cfg.Protocols.GRPC, cfg.Protocols.HTTP
	if g.MaxRequestSize == nil || *g.MaxRequestSize != 8<<20 || h.MaxRequestSize == nil || *h.MaxRequestSize != 2<<20 {
		t.Errorf("max_request_size: grpc %v, http %v; want 8MiB and 2MiB", g.MaxRequestSize, h.MaxRequestSize)
	}
	if g.Transport == nil || g.Transport.StreamWindow != 1<<20 || g.Transport.ConnWindow != 4<<20 {
		t.Errorf("grpc transport %+v, want the reference windows", g.Transport)
	}
	if h.RequestCompression == nil || len(*h.RequestCompression) != 0 {
		t.Errorf("http request_compression %v, want [] (uncompressed only)", h.RequestCompression)
	}
	if g.RequestCompression != nil {
		t.Errorf("grpc request_compression %v, want the default", g.RequestCompression)
	}
}

func TestReferenceProtocolKeyErrors(t *testing.T) {
	_, err := loadConfig(t, `protocols:
  grpc:
    listening_addr: 127.0.0.1:4317
    max_request_body_size: 1MiB
    max_decoding_message_size: 1MiB
    max_request_size: 2MiB
  http:
    listening_addr: 127.0.0.1:4318
    initial_stream_window_size: 1MiB
    accept_compressed_requests: false
    request_compression: [gzip]`)
	errs := config.Errors(err)
	want := []string{
		"config.protocols.grpc.max_decoding_message_size: max_decoding_message_size and max_request_size are both set",
		"config.protocols.grpc.max_request_body_size: max_request_body_size is a setting of protocols.http",
		"config.protocols.http.accept_compressed_requests: accept_compressed_requests and request_compression are both set",
		"config.protocols.http.initial_stream_window_size: initial_stream_window_size is a setting of protocols.grpc",
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
