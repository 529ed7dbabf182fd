package otap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	exporter "github.com/ackflow/ackflow/nodes/exporters/otap"
)

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // each must appear in the error: the path, the problem, the fix
	}{
		{"minimal", "grpc_endpoint: http://127.0.0.1:4317\n", nil},
		{"reference example", "grpc_endpoint: http://127.0.0.1:4317\ncompression_method: zstd\nstream_queue_capacity: 64\nstreams_per_signal: 1\n", nil},
		{"full", "grpc_endpoint: https://gw:4317\ncompression: gzip\narrow: {payload_compression: zstd, max_stream_lifetime: 10m}\n" +
			"stream_queue_capacity: 8\nstreams_per_signal: 4\nheaders: {authorization: Basic dXNlcjpwYXNz, x-scope-orgid: tenant-1}\n" +
			"timeout: 5s\nmax_in_flight: 128\ntls: {ca_file: ca.pem, include_system_ca_certs_pool: true}\ntransport: {write_buffer_size: 512KiB}\n", nil},
		{"both compressions agreeing", "grpc_endpoint: http://h:1\ncompression: none\ncompression_method: none\n", nil},
		{"no lifetime", "grpc_endpoint: http://h:1\narrow: {max_stream_lifetime: 0s}\n", nil},
		{"no endpoint", "timeout: 5s\n", []string{"config.grpc_endpoint", "required", "http://127.0.0.1:4317"}},
		{"no scheme", "grpc_endpoint: 127.0.0.1:4317\n", []string{"config.grpc_endpoint", "http://"}},
		{"path", "grpc_endpoint: http://h:4317/v1\n", []string{"config.grpc_endpoint", "no path"}},
		{"tls on plaintext", "grpc_endpoint: http://h:4317\ntls: {ca_file: ca.pem}\n", []string{"config.tls", "plaintext", "https://"}},
		{"half a client cert", "grpc_endpoint: https://h:1\ntls: {cert_file: c.pem}\n", []string{"config.tls", "together"}},
		{"bad compression", "grpc_endpoint: http://h:1\ncompression: brotli\n", []string{"config.compression", `"brotli"`, "none, gzip, zstd"}},
		{"bad compression_method", "grpc_endpoint: http://h:1\ncompression_method: deflate\n", []string{"config.compression_method", `"deflate"`, "none, gzip, zstd"}},
		{"compressions disagree", "grpc_endpoint: http://h:1\ncompression: gzip\ncompression_method: zstd\n",
			[]string{"config.compression_method", `compression_method "zstd" and compression "gzip"`, "keep only compression"}},
		{"bad payload compression", "grpc_endpoint: http://h:1\narrow: {payload_compression: gzip}\n", []string{"config.arrow.payload_compression", `"gzip"`, "none, zstd"}},
		{"negative lifetime", "grpc_endpoint: http://h:1\narrow: {max_stream_lifetime: -1s}\n", []string{"config.arrow.max_stream_lifetime", "negative", "or 0"}},
		{"bad lifetime", "grpc_endpoint: http://h:1\narrow: {max_stream_lifetime: soon}\n", []string{"config.arrow.max_stream_lifetime", "duration"}},
		{"zero queue", "grpc_endpoint: http://h:1\nstream_queue_capacity: 0\n", []string{"config.stream_queue_capacity", "from 1 to", "default 64"}},
		{"huge queue", "grpc_endpoint: http://h:1\nstream_queue_capacity: 100000000\n", []string{"config.stream_queue_capacity", "from 1 to 65536"}},
		{"zero streams", "grpc_endpoint: http://h:1\nstreams_per_signal: 0\n", []string{"config.streams_per_signal", "default 1"}},
		{"too many streams", "grpc_endpoint: http://h:1\nstreams_per_signal: 1000\n", []string{"config.streams_per_signal", "from 1 to 256"}},
		{"zero timeout", "grpc_endpoint: http://h:1\ntimeout: 0s\n", []string{"config.timeout", "positive", "15s"}},
		{"zero in flight", "grpc_endpoint: http://h:1\nmax_in_flight: 0\n", []string{"config.max_in_flight", "at least 1", "default 64"}},
		{"reserved header", "grpc_endpoint: http://h:1\nheaders: {grpc-timeout: 1s}\n", []string{"config.headers.grpc-timeout", "reserved"}},
		{"header name", "grpc_endpoint: http://h:1\nheaders: {\"x tenant\": a}\n", []string{`config.headers["x tenant"]`, "character"}},
		{"header value", "grpc_endpoint: http://h:1\nheaders: {x-tenant: \"caf\u00e9\"}\n", []string{"config.headers.x-tenant", "printable ASCII"}},
		{"binary header value", "grpc_endpoint: http://h:1\nheaders: {x-blob-bin: \"caf\u00e9\"}\n", nil},
		{"collector key", "grpc_endpoint: http://h:1\narrow: {num_streams: 2}\n", []string{"config.arrow.num_streams"}},
		{"unknown key", "grpc_endpoint: http://h:1\nendpoint: x\n", []string{"config.endpoint"}},
		{"buffer too large", "grpc_endpoint: http://h:1\ntransport: {write_buffer_size: 1GiB}\n", []string{"config.transport.write_buffer_size", "out of range"}},
		{"every error at once", "compression: lz4\nstreams_per_signal: 0\ntimeout: -1s\n",
			[]string{"grpc_endpoint", "compression", "streams_per_signal", "timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := nodetest.NodeConfig(exporter.Type, tt.yaml, nil)
			if err != nil {
				t.Fatal(err)
			}
			n.Path = config.Path{}.Key("nodes").Key("out")
			err = exporter.NewFactory().Validate(n)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid config accepted")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	n, err := nodetest.NodeConfig(exporter.Type, "grpc_endpoint: http://h:1\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := exporter.Load(n)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GRPCCompression() != "zstd" || cfg.Arrow.PayloadCompression != "none" ||
		time.Duration(cfg.Arrow.MaxStreamLifetime) != 30*time.Second || cfg.StreamQueueCapacity != 64 ||
		cfg.StreamsPerSignal != 1 || time.Duration(cfg.Timeout) != 15*time.Second || cfg.MaxInFlight != 64 {
		t.Fatalf("defaults %+v", cfg)
	}
	for yaml, want := range map[string]string{
		"compression_method: none\n": "none",
		"compression: gzip\n":        "gzip",
	} {
		n, _ := nodetest.NodeConfig(exporter.Type, "grpc_endpoint: http://h:1\n"+yaml, nil)
		cfg, err := exporter.Load(n)
		if err != nil || cfg.GRPCCompression() != want {
			t.Fatalf("%s: compression %q (%v), want %q", yaml, cfg.GRPCCompression(), err, want)
		}
	}
}
