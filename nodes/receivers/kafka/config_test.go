package kafka_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/receivers/kafka"
)

// valid is the smallest valid block: the rest has defaults.
const valid = "brokers: [kafka-1:9092]\ngroup_id: g\n"

// Each case: the error names the YAML path, says what is wrong, and gives
// a hint.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		path, want string
	}{
		{"no brokers", "group_id: g", "config.brokers", "brokers is required"},
		{"bad broker", "brokers: [kafka-1]\ngroup_id: g", "config.brokers[0]", `invalid broker address "kafka-1"`},
		{"bad port", "brokers: 'kafka-1:9092,kafka-2:x'\ngroup_id: g", "config.brokers[1]", `invalid broker address "kafka-2:x"`},
		{"no group", "brokers: [k:9092]", "config.group_id", "group_id is required"},
		{"empty client id", valid + "client_id: ''", "config.client_id", "client_id must not be empty"},
		{"encoding", valid + "logs: {encoding: otlp_arrow}", "config.logs.encoding", `unknown encoding "otlp_arrow"`},
		{"topic name", valid + "logs: {topics: ['bad topic']}", "config.logs.topics[0]", `invalid topic name "bad topic"`},
		{"topic pattern", valid + "logs: {topics: ['^logs-(']}", "config.logs.topics[0]", "invalid topic pattern"},
		{"topic twice", valid + "logs: {topics: [t]}\nmetrics: {topics: [t]}", "config.metrics.topics[0]", `topic "t" is already consumed as logs`},
		{"no topic", valid + "logs: {topics: []}\nmetrics: {topics: []}\ntraces: {topics: []}", "config", "no topic to consume"},
		{"exclude without regex", valid + "logs: {topics: [a], exclude_topics: [b]}", "config.logs.exclude_topics", "needs a topic pattern"},
		{"exclude pattern", valid + "logs: {topics: ['^a'], exclude_topics: ['(']}", "config.logs.exclude_topics[0]", "invalid exclude pattern"},
		{"exclude hits a literal", valid + "logs: {topics: ['^logs-.*'], exclude_topics: ['-test$']}\nmetrics: {topics: [m-test]}",
			"config.metrics.topics", `topic "m-test" is excluded`},
		{"dead letter consumed", valid + "dead_letter_topic: otlp_logs", "config.dead_letter_topic", "is one of the consumed topics"},
		{"dead letter matched", valid + "logs: {topics: ['^otlp']}\ndead_letter_topic: otlp_dlq", "config.dead_letter_topic", "is one of the consumed topics"},
		{"dead letter name", valid + "dead_letter_topic: 'a/b'", "config.dead_letter_topic", `invalid topic name "a/b"`},
		{"offset reset", valid + "auto_offset_reset: error", "config.auto_offset_reset", `unknown auto_offset_reset "error"`},
		{"commit mode", valid + "commit: {mode: sometimes}", "config.commit.mode", `unknown commit mode "sometimes"`},
		{"commit interval", valid + "commit: {interval: -1s}", "config.commit.interval", "must not be negative"},
		{"fetch min", valid + "fetch_min_bytes: 0", "config.fetch_min_bytes", "out of range"},
		{"fetch max below min", valid + "fetch_min_bytes: 2KiB\nfetch_max_bytes: 1KiB", "config.fetch_max_bytes", "less than fetch_min_bytes"},
		{"fetch max", valid + "fetch_max_bytes: 4GiB", "config.fetch_max_bytes", "out of range"},
		{"partition fetch", valid + "max_partition_fetch_bytes: 0", "config.max_partition_fetch_bytes", "out of range"},
		{"fetch wait", valid + "max_fetch_wait_ms: -1", "config.max_fetch_wait_ms", "out of range"},
		{"session", valid + "session_timeout_ms: 0", "config.session_timeout_ms", "must be positive"},
		{"heartbeat", valid + "session_timeout_ms: 3000\nheartbeat_interval_ms: 3000", "config.heartbeat_interval_ms", "must be less than session_timeout_ms"},
		{"strategy", valid + "rebalance_strategy: cooperative-sticky", "config.rebalance_strategy", `unknown rebalance_strategy "cooperative-sticky"`},
		{"isolation", valid + "isolation_level: serializable", "config.isolation_level", "unknown isolation_level"},
		{"records per partition", valid + "max_in_flight_records: {per_partition: 0}", "config.max_in_flight_records.per_partition", "must be at least 1"},
		{"records above total", valid + "max_in_flight_records: {per_partition: 20, total: 10}", "config.max_in_flight_records.per_partition", "more than total"},
		{"bytes total", valid + "max_in_flight_bytes: {total: 10B}", "config.max_in_flight_bytes.total", "too small"},
		{"bytes above total", valid + "max_in_flight_bytes: {per_partition: 2MiB, total: 1MiB}", "config.max_in_flight_bytes.per_partition", "more than total"},
		{"timeout", valid + "timeout: 0s", "config.timeout", "must be positive"},
		{"timeout too long", valid + "timeout: 2m", "config.timeout", "too long"},
		{"retry initial", valid + "retry: {initial_interval: 0s}", "config.retry.initial_interval", "must be positive"},
		{"retry max", valid + "retry: {initial_interval: 10s, max_interval: 1s}", "config.retry.max_interval", "less than initial_interval"},
		{"retry multiplier", valid + "retry: {multiplier: 0.5}", "config.retry.multiplier", "at least 1"},
		{"retry jitter", valid + "retry: {randomization_factor: 1}", "config.retry.randomization_factor", "must be in [0, 1)"},
		{"tls pair", valid + "tls: {cert_file: c.pem}", "config.tls", "cert_file and key_file must be set together"},
		{"auth without sasl", valid + "auth: {}", "config.auth.sasl", "auth needs a sasl block"},
		{"sasl mechanism", valid + "auth: {sasl: {mechanism: GSSAPI, username: u, password: p}}", "config.auth.sasl.mechanism", `unknown SASL mechanism "GSSAPI"`},
		{"sasl user", valid + "auth: {sasl: {mechanism: PLAIN, password: p}}", "config.auth.sasl.username", "username is required"},
		{"unknown key", valid + "max_inflight: 3", "config.max_inflight", `unknown field "max_inflight"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := nodetest.ValidateConfig(kafka.NewFactory(), tc.yaml)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			for _, ce := range config.Errors(err) {
				if ce.Path.String() == tc.path && strings.Contains(ce.Msg, tc.want) {
					if ce.Hint == "" && !errors.Is(ce, config.ErrUnknownField) {
						t.Errorf("%s: no hint", ce)
					}
					return
				}
			}
			t.Errorf("error %v\nwant one at %s mentioning %q", err, tc.path, tc.want)
		})
	}
}

// Configurations that must pass: the reference's getting-started block
// (brokers as a comma-separated string), every key set, and the defaults.
func TestConfigAccepted(t *testing.T) {
	for name, cfg := range map[string]string{
		"reference": `
brokers: "broker-1:9092"
group_id: "my-consumer-group"
client_id: "my-client"
traces:
  topics:
    - "otel-traces"
`,
		"everything": `
brokers: [kafka-1:9092, kafka-2:9092]
group_id: g
client_id: c
group_instance_id: i
logs: {topics: ['^logs-.*', audit], exclude_topics: ['-test$'], encoding: otlp_json}
metrics: {topics: [m]}
traces: {topics: []}
auto_offset_reset: earliest
commit: {mode: manual, interval: 1s}
fetch_min_bytes: 1
fetch_max_bytes: 50MiB
max_partition_fetch_bytes: 1MiB
max_fetch_wait_ms: 500
session_timeout_ms: 45000
heartbeat_interval_ms: 3000
rebalance_strategy: range
isolation_level: read_committed
tls: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}
auth: {sasl: {mechanism: SCRAM-SHA-512, username: u, password: p}}
dead_letter_topic: dead
max_in_flight_records: {per_partition: 500, total: 5000}
max_in_flight_bytes: {per_partition: 8MiB, total: 32MiB}
timeout: 20s
retry: {initial_interval: 500ms, max_interval: 1m, multiplier: 2, randomization_factor: 0.2}
`,
		"defaults": valid,
	} {
		if err := nodetest.ValidateConfig(kafka.NewFactory(), cfg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The defaults are the Collector's topics in otlp_proto, read from the
// latest offset, committed manually.
func TestConfigDefaults(t *testing.T) {
	n, err := nodetest.NodeConfig(kafka.Type, valid, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kafka.Load(n)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logs.Topics[0] != "otlp_logs" || cfg.Metrics.Topics[0] != "otlp_metrics" || cfg.Traces.Topics[0] != "otlp_spans" ||
		cfg.Logs.Encoding != "otlp_proto" || cfg.AutoOffsetReset != "latest" || cfg.Commit.Mode != "manual" ||
		cfg.RebalanceStrategy != "cooperative_sticky" || cfg.ClientID != "ackflow" {
		t.Errorf("defaults: %+v", cfg)
	}
}
