package kafka_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/exporters/kafka"
)

func load(t *testing.T, yaml string) (kafka.Config, error) {
	t.Helper()
	n, err := nodetest.NodeConfig(kafka.Type, yaml, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Path = config.Path{}.Key("nodes").Key("out")
	return kafka.Load(n)
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := load(t, "brokers: [k1:9092]\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Traces.Topic != "otlp_spans" || cfg.Metrics.Topic != "otlp_metrics" || cfg.Logs.Topic != "otlp_logs" {
		t.Fatalf("topics %q %q %q", cfg.Traces.Topic, cfg.Metrics.Topic, cfg.Logs.Topic)
	}
	if cfg.Logs.Encoding != "otlp_proto" || cfg.ClientID != "ackflow" || cfg.RequiredAcks != "all" || !cfg.EnableIdempotence ||
		cfg.MaxMessageBytes != 1_000_000 || cfg.LingerMS != 0 || cfg.MaxInFlight != 10 || cfg.Compression != "none" ||
		cfg.PartitioningStrategy != "murmur2_random" || cfg.MessageFormatHeader != "MessageFormat" || !cfg.AllowAutoCreateTopics {
		t.Fatalf("defaults %+v", cfg)
	}
	if cfg.ExportTimeout() != 5*time.Second {
		t.Fatalf("timeout %s", cfg.ExportTimeout())
	}
	// A signal block keeps the defaults it does not set.
	cfg, err = load(t, "brokers: k1:9092, k2:9092\ntimeout_ms: 1500\nlogs: {encoding: otlp_json}\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logs.Topic != "otlp_logs" || cfg.Logs.Encoding != "otlp_json" || len(cfg.Brokers) != 2 || cfg.Brokers[1] != "k2:9092" {
		t.Fatalf("logs %+v brokers %q", cfg.Logs, cfg.Brokers)
	}
	if cfg.ExportTimeout() != 1500*time.Millisecond {
		t.Fatalf("timeout_ms: %s", cfg.ExportTimeout())
	}
}

func TestConfigValidation(t *testing.T) {
	const b = "brokers: [127.0.0.1:9092]\n"
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // each must appear in the error; nil: valid
	}{
		{"minimal", b, nil},
		{"full", b + `client_id: gw-1
traces: {topic: spans, encoding: otlp_json, partition_key: trace_id}
metrics: {topic: metrics.v1, partition_key: [service.name, host.name]}
logs: {topic: logs_v1, partition_key: service.name}
timeout: 10s
compression: zstd
required_acks: leader
enable_idempotence: false
max_message_bytes: 4MiB
linger_ms: 20
max_in_flight: 64
partitioning_strategy: consistent_random
allow_auto_create_topics: false
message_format_header: X-Format
tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}
auth: {sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}}
`, nil},
		{"comma string", "brokers: a:1,b:2\n", nil},
		{"no brokers", "client_id: x\n", []string{"config.brokers", "brokers is required"}},
		{"empty brokers", "brokers: []\n", []string{"config.brokers", "required"}},
		{"broker without port", "brokers: [kafka]\n", []string{"config.brokers[0]", "not host:port"}},
		{"broker bad port", "brokers: [kafka:99999]\n", []string{"config.brokers[0]", "valid port"}},
		{"broker mapping", "brokers: {a: b}\n", []string{"config.brokers", "list of host:port"}},
		{"empty client id", b + "client_id: \"\"\n", []string{"config.client_id", "1 to 256"}},
		{"empty topic", b + "logs: {topic: \"\"}\n", []string{"config.logs.topic", "is empty"}},
		{"bad topic", b + "traces: {topic: \"a/b\"}\n", []string{"config.traces.topic", "'/'", "a-z"}},
		{"dot topic", b + "metrics: {topic: ..}\n", []string{"config.metrics.topic", "not allowed"}},
		{"long topic", b + "logs: {topic: " + strings.Repeat("t", 250) + "}\n", []string{"longer than 249"}},
		{"bad encoding", b + "logs: {encoding: avro}\n", []string{"config.logs.encoding", "avro", "otlp_json"}},
		{"otap encoding", b + "logs: {encoding: otap_proto}\n", []string{"config.logs.encoding", "not supported yet"}},
		{"trace_id on metrics", b + "metrics: {partition_key: trace_id}\n", []string{"config.metrics.partition_key", "traces and logs"}},
		{"empty key list", b + "logs: {partition_key: []}\n", []string{"config.logs.partition_key", "empty list"}},
		{"empty attribute", b + "logs: {partition_key: [service.name, \"\"]}\n", []string{"config.logs.partition_key[1]", "empty attribute"}},
		{"repeated attribute", b + "logs: {partition_key: [a, a]}\n", []string{"config.logs.partition_key[1]", "twice"}},
		{"key mapping", b + "logs: {partition_key: {a: b}}\n", []string{"config.logs.partition_key", "resource attribute name"}},
		{"unknown signal key", b + "logs: {topic_from_transport_header: x}\n", []string{"config.logs.topic_from_transport_header", "unknown field"}},
		{"both timeouts", b + "timeout: 1s\ntimeout_ms: 1000\n", []string{"config.timeout_ms", "both"}},
		{"zero timeout", b + "timeout: 0s\n", []string{"config.timeout", "positive"}},
		{"negative timeout_ms", b + "timeout_ms: -5\n", []string{"config.timeout_ms", "positive"}},
		{"bad compression", b + "compression: brotli\n", []string{"config.compression", "brotli", "lz4"}},
		{"bad acks", b + "required_acks: some\n", []string{"config.required_acks", "some"}},
		{"reference acks", b + "required_acks: one\n", []string{"config.required_acks", "leader"}},
		{"leader acks with idempotence", b + "required_acks: leader\n", []string{"config.required_acks", "enable_idempotence: false", "franz-go"}},
		{"no acks with idempotence", b + "required_acks: none\n", []string{"config.required_acks", "enable_idempotence"}},
		{"no acks without idempotence", b + "required_acks: none\nenable_idempotence: false\n", nil},
		{"message bytes too small", b + "max_message_bytes: 100\n", []string{"config.max_message_bytes", "out of range", "1KiB"}},
		{"message bytes too large", b + "max_message_bytes: 1GiB\n", []string{"config.max_message_bytes", "out of range"}},
		{"message bytes not a size", b + "max_message_bytes: lots\n", []string{"config.max_message_bytes", "invalid size"}},
		{"negative linger", b + "linger_ms: -1\n", []string{"config.linger_ms", "0 to 60000"}},
		{"linger over a minute", b + "timeout: 5m\nlinger_ms: 60001\n", []string{"config.linger_ms", "franz-go"}},
		{"linger over timeout", b + "timeout: 100ms\nlinger_ms: 100\n", []string{"config.linger_ms", "timeout"}},
		{"zero in flight", b + "max_in_flight: 0\n", []string{"config.max_in_flight", "1 to 100000"}},
		{"huge in flight", b + "max_in_flight: 100001\n", []string{"config.max_in_flight"}},
		{"bad strategy", b + "partitioning_strategy: sticky\n", []string{"config.partitioning_strategy", "murmur2_random"}},
		{"empty format header", b + "message_format_header: \"\"\n", []string{"config.message_format_header", "empty"}},
		{"half a client cert", b + "tls: {cert_file: c.pem}\n", []string{"config.tls", "together"}},
		{"auth without sasl", b + "auth: {}\n", []string{"config.auth.sasl", "sasl block"}},
		{"sasl incomplete", b + "auth: {sasl: {mechanism: PLAIN}}\n", []string{"config.auth.sasl.username", "config.auth.sasl.password"}},
		{"sasl no mechanism", b + "auth: {sasl: {username: u, password: p}}\n", []string{"config.auth.sasl.mechanism", "required"}},
		{"sasl unknown mechanism", b + "auth: {sasl: {mechanism: GSSAPI, username: u, password: p}}\n", []string{"config.auth.sasl.mechanism", "GSSAPI", "SCRAM-SHA-256"}},
		{"sasl msk", b + "auth: {sasl: {mechanism: AWS_MSK_IAM_OAUTHBEARER, username: u, password: p}}\n", []string{"not supported yet"}},
		{"unknown key", b + "producer_config: {a: b}\n", []string{"config.producer_config", "unknown field"}},
		{"several at once", "compression: brotli\nmax_in_flight: 0\n", []string{"config.brokers", "config.compression", "config.max_in_flight"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.yaml)
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
			for _, e := range config.Errors(err) {
				if e.Hint == "" {
					t.Errorf("no hint: %v", e)
				}
			}
			if !errors.Is(err, config.ErrInvalidValue) && !errors.Is(err, config.ErrUnknownField) && !errors.Is(err, config.ErrType) {
				t.Errorf("error %v has no config class", err)
			}
		})
	}
}
