package kafka

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// Defaults. Keys and defaults follow the reference engine's Kafka exporter
// where ackflow has no reason to differ; the topics are the Collector's.
const (
	// DefaultClientID names the producer to the brokers.
	DefaultClientID = "ackflow"
	// DefaultTimeout bounds one export, from its start to the broker's
	// answer for its last record (the reference's timeout_ms: 5000).
	DefaultTimeout = 5 * time.Second
	// DefaultMaxInFlight is the most exports at once (the reference's).
	DefaultMaxInFlight = 10
	// DefaultCompression sends record batches as they are, like the
	// reference; franz-go alone would use snappy.
	DefaultCompression = "none"
	// DefaultRequiredAcks waits for every in-sync replica, which franz-go's
	// idempotent producer requires.
	DefaultRequiredAcks = "all"
	// DefaultMaxMessageBytes is the Collector's and the reference's
	// 1,000,000 bytes, within Kafka's default max.message.bytes (1,048,588
	// for brokers; 1,000,012 for topics in older Kafkas and in franz-go).
	DefaultMaxMessageBytes = 1_000_000
	// DefaultLingerMS sends a partition's records at once. The reference
	// lingers 5ms, but ackflow's processor:batch already makes the
	// batches, and an export waits for its records: lingering adds its
	// whole length to every export and caps an exporter at max_in_flight
	// exports per linger (10 per 5ms: 2,000 per second).
	DefaultLingerMS = 0
	// DefaultPartitioningStrategy hashes keys as Kafka's Java producer does
	// (murmur2) and keeps unkeyed records on one partition per batch.
	DefaultPartitioningStrategy = "murmur2_random"
	// DefaultMessageFormatHeader is the reference's header name.
	DefaultMessageFormatHeader = "MessageFormat"
	// DefaultEncoding sends requests as received.
	DefaultEncoding = EncodingProto

	// Default topics, the Collector's.
	DefaultTracesTopic  = "otlp_spans"
	DefaultMetricsTopic = "otlp_metrics"
	DefaultLogsTopic    = "otlp_logs"
)

// Encodings of a signal's records.
const (
	EncodingProto = "otlp_proto" // the OTLP request's protobuf bytes, as received
	EncodingJSON  = "otlp_json"  // OTLP/JSON, converted through pdata
)

// Limits of the numeric keys.
const (
	minMaxMessageBytes = 1 << 10   // room for a small request beside the framing
	maxMaxMessageBytes = 512 << 20 // franz-go refuses batches over 1 GiB; brokers far less
	maxMaxInFlight     = 100_000   // the reference's bound
	maxTopicLen        = 249       // Kafka's
	maxLingerMS        = 60_000    // franz-go's limit: one minute
)

var (
	compressions  = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	requiredAcks  = []string{"all", "leader", "none"}
	encodings     = []string{EncodingProto, EncodingJSON}
	saslMechanism = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
)

// Config is the `config` block of exporter:kafka.
type Config struct {
	// Brokers are the seed brokers, host:port each: a YAML list, or one
	// comma-separated string as in the reference.
	Brokers Brokers `yaml:"brokers"`
	// ClientID names the producer to the brokers (quotas, logs).
	ClientID string `yaml:"client_id"`
	// Traces, Metrics and Logs route each signal.
	Traces  SignalConfig `yaml:"traces"`
	Metrics SignalConfig `yaml:"metrics"`
	Logs    SignalConfig `yaml:"logs"`
	// Timeout bounds one export; TimeoutMS is the reference's spelling of
	// the same key, in milliseconds. At most one may be set.
	Timeout   *config.Duration `yaml:"timeout"`
	TimeoutMS *int             `yaml:"timeout_ms"`
	// Compression of record batches: none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	// RequiredAcks is all (every in-sync replica), leader or none.
	RequiredAcks string `yaml:"required_acks"`
	// EnableIdempotence turns on franz-go's idempotent producer (the
	// broker drops the duplicates of the client's own retries). It
	// requires required_acks: all.
	EnableIdempotence bool `yaml:"enable_idempotence"`
	// MaxMessageBytes bounds a record batch, hence a record: larger
	// payloads are cut into several records.
	MaxMessageBytes config.Size `yaml:"max_message_bytes"`
	// LingerMS is how long a partition's batch waits for more records.
	LingerMS int `yaml:"linger_ms"`
	// MaxInFlight is the most exports at once; beyond it pdata waits.
	MaxInFlight int `yaml:"max_in_flight"`
	// PartitioningStrategy maps record keys to partitions (see partitioners).
	PartitioningStrategy string `yaml:"partitioning_strategy"`
	// AllowAutoCreateTopics lets the brokers create a missing topic.
	AllowAutoCreateTopics bool `yaml:"allow_auto_create_topics"`
	// MessageFormatHeader names the record header that carries the
	// encoding: "otlp" for otlp_proto (the reference's value), "otlp_json".
	MessageFormatHeader string `yaml:"message_format_header"`
	// TLS turns TLS on; `tls: {}` verifies brokers against the system roots.
	TLS *iotlp.ClientTLS `yaml:"tls"`
	// Auth configures SASL.
	Auth *Auth `yaml:"auth"`
}

// SignalConfig routes one signal.
type SignalConfig struct {
	// Topic receives the signal's records.
	Topic string `yaml:"topic"`
	// Encoding is otlp_proto or otlp_json.
	Encoding string `yaml:"encoding"`
	// PartitionKey chooses the records' keys, hence their partitions.
	PartitionKey PartitionKey `yaml:"partition_key"`
}

// Auth is the `auth` block.
type Auth struct {
	SASL *SASL `yaml:"sasl"`
}

// SASL is the `auth.sasl` block.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// Brokers is the `brokers` list. A single string is split at commas, so
// the reference's `brokers: "k1:9092,k2:9092"` reads as a list of two.
type Brokers []string

// UnmarshalYAML reads a list of strings or one comma-separated string.
func (b *Brokers) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		var out Brokers
		for part := range strings.SplitSeq(s, ",") {
			out = append(out, strings.TrimSpace(part))
		}
		*b = out
		return nil
	case yaml.SequenceNode:
		var out []string
		if err := n.Decode(&out); err != nil {
			return err
		}
		*b = out
		return nil
	}
	return &config.Error{Msg: "want a list of host:port, got a mapping", Hint: "write brokers: [kafka-1:9092, kafka-2:9092]", Err: config.ErrType}
}

// keyMode is what a signal's records are keyed by.
type keyMode uint8

const (
	keyNone     keyMode = iota // no key: partitions by the strategy's rule for unkeyed records
	keyResource                // resource attribute values, one group per resource
	keyTraceID                 // the items' trace id, one group per trace
)

// PartitionKey is a signal's `partition_key`:
//
//	partition_key: none                      # default: no key
//	partition_key: trace_id                  # traces and logs: one record per trace id
//	partition_key: service.name              # any other name: that resource attribute
//	partition_key: [service.name, host.name] # a list: several resource attributes
//
// In the list form every entry is an attribute name, so [trace_id] keys by
// a resource attribute called trace_id.
type PartitionKey struct {
	names []string
	list  bool
}

// UnmarshalYAML reads a name or a list of names.
func (k *PartitionKey) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*k = PartitionKey{names: []string{n.Value}}
		return nil
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		*k = PartitionKey{names: names, list: true}
		return nil
	}
	return &config.Error{Msg: "want none, trace_id, a resource attribute name or a list of them, got a mapping",
		Hint: "write partition_key: service.name", Err: config.ErrType}
}

// mode returns what the key is made of.
func (k PartitionKey) mode() keyMode {
	switch {
	case !k.list && (len(k.names) == 0 || k.names[0] == "none"):
		return keyNone
	case !k.list && k.names[0] == "trace_id":
		return keyTraceID
	}
	return keyResource
}

// String renders the key as configured.
func (k PartitionKey) String() string {
	if k.list {
		return "[" + strings.Join(k.names, ", ") + "]"
	}
	if len(k.names) == 0 {
		return "none"
	}
	return k.names[0]
}

// DefaultConfig returns the defaults; brokers has none.
func DefaultConfig() Config {
	return Config{
		ClientID:              DefaultClientID,
		Traces:                SignalConfig{Topic: DefaultTracesTopic, Encoding: DefaultEncoding},
		Metrics:               SignalConfig{Topic: DefaultMetricsTopic, Encoding: DefaultEncoding},
		Logs:                  SignalConfig{Topic: DefaultLogsTopic, Encoding: DefaultEncoding},
		Compression:           DefaultCompression,
		RequiredAcks:          DefaultRequiredAcks,
		EnableIdempotence:     true,
		MaxMessageBytes:       DefaultMaxMessageBytes,
		LingerMS:              DefaultLingerMS,
		MaxInFlight:           DefaultMaxInFlight,
		PartitioningStrategy:  DefaultPartitioningStrategy,
		AllowAutoCreateTopics: true,
		MessageFormatHeader:   DefaultMessageFormatHeader,
	}
}

// Decode reads a node's config block over the defaults, without checking
// the values.
func Decode(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), nil)
}

// Load decodes and validates a node's config block.
func Load(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), (*Config).Validate)
}

// ExportTimeout returns the bound on one export: timeout, timeout_ms or
// the default.
func (c *Config) ExportTimeout() time.Duration {
	switch {
	case c.Timeout != nil:
		return time.Duration(*c.Timeout)
	case c.TimeoutMS != nil:
		return time.Duration(*c.TimeoutMS) * time.Millisecond
	}
	return DefaultTimeout
}

// signals returns the three signal blocks with their keys.
func (c *Config) signals() []struct {
	name string
	sc   *SignalConfig
} {
	return []struct {
		name string
		sc   *SignalConfig
	}{{"traces", &c.Traces}, {"metrics", &c.Metrics}, {"logs", &c.Logs}}
}

// Validate reports every problem under its YAML path below p.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	add := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	if len(c.Brokers) == 0 {
		add(p.Key("brokers"), "list the seed brokers, such as [kafka-1:9092, kafka-2:9092]", "brokers is required")
	}
	for i, b := range c.Brokers {
		if reason := badBroker(b); reason != "" {
			add(p.Key("brokers").Index(i), "write host:port, such as kafka-1:9092", "broker %q %s", b, reason)
		}
	}
	if c.ClientID == "" || len(c.ClientID) > 256 {
		add(p.Key("client_id"), "use 1 to 256 characters (default "+DefaultClientID+")", "client_id must be 1 to 256 characters, got %d", len(c.ClientID))
	}
	for _, s := range c.signals() {
		errs = append(errs, s.sc.validate(p.Key(s.name), s.name)...)
	}
	errs = append(errs, c.validateProducer(p)...)
	if c.MessageFormatHeader == "" {
		add(p.Key("message_format_header"), "name the header, such as "+DefaultMessageFormatHeader, "message_format_header must not be empty")
	}
	errs = append(errs, c.TLS.Validate(p.Key("tls")), c.Auth.validate(p.Key("auth")))
	return errors.Join(errs...)
}

// validateProducer checks the producer tuning keys.
func (c *Config) validateProducer(p config.Path) []error {
	var errs []error
	add := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	switch {
	case c.Timeout != nil && c.TimeoutMS != nil:
		add(p.Key("timeout_ms"), "keep timeout (a duration such as 5s) or timeout_ms, not both", "timeout and timeout_ms are both set")
	case c.Timeout != nil && *c.Timeout <= 0:
		add(p.Key("timeout"), "use a positive duration such as 5s", "timeout must be positive, got %s", *c.Timeout)
	case c.TimeoutMS != nil && *c.TimeoutMS <= 0:
		add(p.Key("timeout_ms"), "use a positive number of milliseconds such as 5000", "timeout_ms must be positive, got %d", *c.TimeoutMS)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > maxMaxInFlight {
		add(p.Key("max_in_flight"), fmt.Sprintf("use 1 to %d (default %d)", maxMaxInFlight, DefaultMaxInFlight),
			"max_in_flight must be 1 to %d, got %d", maxMaxInFlight, c.MaxInFlight)
	}
	if !slices.Contains(compressions, c.Compression) {
		add(p.Key("compression"), "use one of "+strings.Join(compressions, ", "), "unknown compression %q", c.Compression)
	}
	switch {
	case !slices.Contains(requiredAcks, c.RequiredAcks):
		hint := "use all (every in-sync replica), leader or none"
		if c.RequiredAcks == "one" || c.RequiredAcks == "1" {
			hint = "the reference's one is leader here"
		}
		add(p.Key("required_acks"), hint, "unknown required_acks %q", c.RequiredAcks)
	case c.RequiredAcks != "all" && c.EnableIdempotence:
		add(p.Key("required_acks"), "keep required_acks: all, or set enable_idempotence: false (franz-go's idempotent producer requires acks from every in-sync replica)",
			"required_acks %q needs enable_idempotence: false", c.RequiredAcks)
	}
	if c.MaxMessageBytes < minMaxMessageBytes || c.MaxMessageBytes > maxMaxMessageBytes {
		add(p.Key("max_message_bytes"), fmt.Sprintf("use %s to %s, no more than the topic's max.message.bytes (default %d)",
			config.Size(minMaxMessageBytes), config.Size(maxMaxMessageBytes), DefaultMaxMessageBytes),
			"max_message_bytes %s is out of range", c.MaxMessageBytes)
	}
	if c.LingerMS < 0 || c.LingerMS > maxLingerMS {
		add(p.Key("linger_ms"), "use 0 (send at once) to 60000 milliseconds (franz-go's limit)", "linger_ms must be 0 to %d, got %d", maxLingerMS, c.LingerMS)
	} else if t := c.ExportTimeout(); t > 0 && time.Duration(c.LingerMS)*time.Millisecond >= t {
		add(p.Key("linger_ms"), "keep linger_ms well below the timeout, or every export would time out waiting",
			"linger_ms %d is not less than the timeout %s", c.LingerMS, t)
	}
	if _, ok := partitioners[c.PartitioningStrategy]; !ok {
		add(p.Key("partitioning_strategy"), "use one of "+strings.Join(partitionerNames(), ", "),
			"unknown partitioning_strategy %q", c.PartitioningStrategy)
	}
	return errs
}

// validate checks one signal's block.
func (s *SignalConfig) validate(p config.Path, signal string) []error {
	var errs []error
	if reason := badTopic(s.Topic); reason != "" {
		errs = append(errs, config.Errorf(p.Key("topic"), "use 1 to 249 of a-z, A-Z, 0-9, '.', '_' and '-'",
			"topic %q %s", s.Topic, reason))
	}
	if !slices.Contains(encodings, s.Encoding) {
		hint := "use otlp_proto (the bytes as received) or otlp_json"
		if s.Encoding == "otap_proto" {
			hint = "otap_proto is not supported yet: use otlp_proto, or exporter:otap"
		}
		errs = append(errs, config.Errorf(p.Key("encoding"), hint, "unknown encoding %q", s.Encoding))
	}
	kp := p.Key("partition_key")
	switch s.PartitionKey.mode() {
	case keyTraceID:
		if signal == "metrics" {
			errs = append(errs, config.Errorf(kp, "metrics have no trace id: use none or resource attribute names",
				"partition_key trace_id is for traces and logs"))
		}
	case keyResource:
		if len(s.PartitionKey.names) == 0 {
			errs = append(errs, config.Errorf(kp, "name at least one resource attribute, or write none", "partition_key is an empty list"))
		}
		seen := map[string]bool{}
		for i, n := range s.PartitionKey.names {
			path := kp
			if s.PartitionKey.list {
				path = kp.Index(i)
			}
			switch {
			case n == "":
				errs = append(errs, config.Errorf(path, "write none, trace_id or a resource attribute name such as service.name", "partition_key names an empty attribute"))
			case seen[n]:
				errs = append(errs, config.Errorf(path, "remove the repeated name", "resource attribute %q is listed twice", n))
			}
			seen[n] = true
		}
	}
	return errs
}

// validate checks the auth block.
func (a *Auth) validate(p config.Path) error {
	if a == nil {
		return nil
	}
	if a.SASL == nil {
		return config.Errorf(p.Key("sasl"), "add sasl: {mechanism: PLAIN, username: ..., password: ...}, or remove auth", "auth needs a sasl block")
	}
	var errs []error
	sp := p.Key("sasl")
	switch {
	case a.SASL.Mechanism == "":
		errs = append(errs, config.Errorf(sp.Key("mechanism"), "use one of "+strings.Join(saslMechanism, ", "), "mechanism is required"))
	case !slices.Contains(saslMechanism, a.SASL.Mechanism):
		hint := "use one of " + strings.Join(saslMechanism, ", ")
		if a.SASL.Mechanism == "AWS_MSK_IAM_OAUTHBEARER" {
			hint = "AWS MSK IAM is not supported yet; " + hint
		}
		errs = append(errs, config.Errorf(sp.Key("mechanism"), hint, "unknown SASL mechanism %q", a.SASL.Mechanism))
	}
	if a.SASL.Username == "" {
		errs = append(errs, config.Errorf(sp.Key("username"), "set the SASL user", "username is required"))
	}
	if a.SASL.Password == "" {
		errs = append(errs, config.Errorf(sp.Key("password"), "set the SASL password", "password is required"))
	}
	return errors.Join(errs...)
}

// badBroker says why b is not host:port, or "".
func badBroker(b string) string {
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		return "is not host:port"
	}
	if host == "" {
		return "has no host"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "has no valid port"
	}
	return ""
}

// badTopic says why t is not a valid Kafka topic name, or "". The rules
// are the broker's (org.apache.kafka.common.internals.Topic).
func badTopic(t string) string {
	switch {
	case t == "":
		return "is empty"
	case t == "." || t == "..":
		return "is not allowed"
	case len(t) > maxTopicLen:
		return fmt.Sprintf("is longer than %d characters", maxTopicLen)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Sprintf("has the character %q at %d", c, i)
		}
	}
	return ""
}
