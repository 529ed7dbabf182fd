package otlpgrpc_test

import (
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/exporters/otlpgrpc"
)

func loadConfig(t *testing.T, yaml string) (otlpgrpc.Config, error) {
	t.Helper()
	n, err := nodetest.NodeConfig(otlpgrpc.Type, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	return otlpgrpc.Load(n)
}

func TestReferenceClientKeys(t *testing.T) {
	cfg, err := loadConfig(t, `grpc_endpoint: http://127.0.0.1:4317
compression_method: gzip
initial_stream_window_size: 1MiB
initial_connection_window_size: 2MiB
transport: { write_buffer_size: 64KiB }
num_connections: 4
connect_timeout: 1s
tcp_keepalive: 30s
proxy: { http_proxy: "http://127.0.0.1:3128" }
tls: { insecure: true }`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Compression != "gzip" {
		t.Errorf("compression = %q, want compression_method's gzip", cfg.Compression)
	}
	if tr := cfg.Transport; tr == nil || tr.StreamWindow != 1<<20 || tr.ConnWindow != 2<<20 || tr.WriteBufferSize != 64<<10 {
		t.Errorf("transport = %+v, want the reference windows with the write buffer kept", tr)
	}
}

func TestReferenceClientKeyConflicts(t *testing.T) {
	_, err := loadConfig(t, `grpc_endpoint: http://127.0.0.1:4317
compression: zstd
compression_method: gzip
initial_stream_window_size: 1KiB
initial_connection_window_size: 2MiB
transport: { initial_connection_window: 4MiB }`)
	errs := config.Errors(err)
	want := []string{
		`config.compression_method: compression_method "gzip" and compression "zstd" disagree`,
		"config.initial_stream_window_size: initial_stream_window_size 1KiB is out of range",
		"config.initial_connection_window_size: initial_connection_window_size and transport.initial_connection_window disagree",
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
