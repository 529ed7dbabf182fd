package kafka

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/config"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
)

// Defaults. Where the reference engine's receiver:kafka or the Collector's
// kafka receiver has the key, theirs.
const (
	// DefaultClientID is the Kafka client id (the Collector uses
	// "otel-collector"; the reference requires one).
	DefaultClientID = "ackflow"
	// DefaultAutoOffsetReset: with no committed offset, start at the end.
	DefaultAutoOffsetReset = "latest"
	// DefaultSessionTimeout and DefaultHeartbeatInterval are the group
	// membership timings (session_timeout_ms, heartbeat_interval_ms).
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	// DefaultFetchMinBytes, DefaultFetchMaxBytes, DefaultMaxPartitionFetchBytes
	// and DefaultMaxFetchWait shape the fetch requests.
	DefaultFetchMinBytes          = 1
	DefaultFetchMaxBytes          = 1 << 20
	DefaultMaxPartitionFetchBytes = 1 << 20
	DefaultMaxFetchWait           = 250 * time.Millisecond
	// DefaultRebalanceStrategy moves as few partitions as possible, and
	// only those, on a rebalance.
	DefaultRebalanceStrategy = "cooperative_sticky"
	// DefaultIsolationLevel reads every record, as Kafka's default.
	DefaultIsolationLevel = "read_uncommitted"
	// DefaultMaxInFlightRecordsPerPartition and DefaultMaxInFlightRecords
	// bound the records held from fetch to settlement.
	DefaultMaxInFlightRecordsPerPartition = 1000
	DefaultMaxInFlightRecords             = 10000
	// DefaultMaxInFlightBytesPerPartition and DefaultMaxInFlightBytes bound
	// their values' bytes.
	DefaultMaxInFlightBytesPerPartition = 16 << 20
	DefaultMaxInFlightBytes             = 64 << 20
	// DefaultTimeout bounds the wait for a revoked partition's outcomes, a
	// dead-letter produce and an offset commit.
	DefaultTimeout = 10 * time.Second
	// Retry backoff, as processor:retry's.
	DefaultRetryInitialInterval     = time.Second
	DefaultRetryMaxInterval         = 30 * time.Second
	DefaultRetryMultiplier          = 1.5
	DefaultRetryRandomizationFactor = 0.5

	// rebalanceTimeout is the group's rebalance timeout (kgo's default):
	// a revoked partition's wait (timeout) must end well before it.
	rebalanceTimeout = 60 * time.Second
	// maxInt32 bounds the sizes Kafka's protocol carries as int32.
	maxInt32 = math.MaxInt32
)

// Default topics per signal: the Collector's kafka receiver's.
var defaultTopics = map[string]string{"logs": "otlp_logs", "metrics": "otlp_metrics", "traces": "otlp_spans"}

// Closed sets of the string keys.
var (
	encodings          = []string{"otlp_proto", "otlp_json"}
	offsetResets       = []string{"earliest", "latest"}
	commitModes        = []string{"manual", "auto"}
	rebalanceStrategy  = []string{"cooperative_sticky", "range", "round_robin", "sticky"}
	isolationLevels    = []string{"read_uncommitted", "read_committed"}
	saslMechanisms     = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
	validTopicNameChar = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

// Config is the `config` block of receiver:kafka.
type Config struct {
	// Brokers are the seed brokers, host:port each: a list, or one string
	// of comma-separated addresses as the reference writes them.
	Brokers Brokers `yaml:"brokers"`
	// GroupID is the consumer group; offsets are committed under it.
	GroupID string `yaml:"group_id"`
	// ClientID names the client in the brokers' logs and quotas.
	ClientID string `yaml:"client_id"`
	// GroupInstanceID makes the member static (KIP-345). With several
	// pipeline copies, each copy's is suffixed with -<copy index>.
	GroupInstanceID string `yaml:"group_instance_id"`
	// Logs, Metrics and Traces say which topics carry each signal, and in
	// which encoding.
	Logs    Signal `yaml:"logs"`
	Metrics Signal `yaml:"metrics"`
	Traces  Signal `yaml:"traces"`
	// AutoOffsetReset is where a partition without a committed offset
	// starts: earliest or latest.
	AutoOffsetReset string `yaml:"auto_offset_reset"`
	// Commit says when offsets are committed.
	Commit Commit `yaml:"commit"`
	// Fetch shaping: Kafka's fetch.min.bytes, fetch.max.bytes,
	// max.partition.fetch.bytes and fetch.max.wait.ms.
	FetchMinBytes          config.Size `yaml:"fetch_min_bytes"`
	FetchMaxBytes          config.Size `yaml:"fetch_max_bytes"`
	MaxPartitionFetchBytes config.Size `yaml:"max_partition_fetch_bytes"`
	MaxFetchWaitMs         int         `yaml:"max_fetch_wait_ms"`
	// SessionTimeoutMs and HeartbeatIntervalMs time the group membership.
	SessionTimeoutMs    int `yaml:"session_timeout_ms"`
	HeartbeatIntervalMs int `yaml:"heartbeat_interval_ms"`
	// RebalanceStrategy is the partition assignor: cooperative_sticky,
	// range, round_robin or sticky. Every member of a group must agree.
	RebalanceStrategy string `yaml:"rebalance_strategy"`
	// IsolationLevel is read_uncommitted or read_committed.
	IsolationLevel string `yaml:"isolation_level"`
	// TLS connects to the brokers over TLS; an empty block uses the system
	// roots.
	TLS *iotlp.ClientTLS `yaml:"tls"`
	// Auth authenticates with SASL.
	Auth *Auth `yaml:"auth"`
	// DeadLetterTopic receives the records that can never be delivered (a
	// permanent nack, or not a valid request); empty drops and counts them.
	DeadLetterTopic string `yaml:"dead_letter_topic"`
	// MaxInFlightRecords and MaxInFlightBytes bound what the receiver
	// holds, per partition and in total; at a bound it stops fetching. A
	// partition's record limit bounds its window, from its lowest
	// unsettled record to its last fetched one.
	MaxInFlightRecords RecordLimits `yaml:"max_in_flight_records"`
	MaxInFlightBytes   ByteLimits   `yaml:"max_in_flight_bytes"`
	// Timeout bounds the wait for a revoked partition's outcomes, a
	// dead-letter produce and an offset commit.
	Timeout config.Duration `yaml:"timeout"`
	// Retry is the backoff before a record nacked transiently is sent
	// again (and before a failed dead-letter produce is tried again).
	Retry Retry `yaml:"retry"`
}

// Brokers is a list of host:port; YAML may give it as a list or as one
// comma-separated string.
type Brokers []string

// UnmarshalYAML accepts a sequence of strings or one comma-separated string.
func (b *Brokers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*b = nil
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				*b = append(*b, part)
			}
		}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*b = list
	return nil
}

// Signal is the `logs`, `metrics` or `traces` block.
type Signal struct {
	// Topics to consume; an entry starting with ^ is a regular expression
	// (Go syntax, matched anywhere in the name unless anchored at the end
	// with $). An empty list consumes nothing for the signal.
	Topics []string `yaml:"topics"`
	// ExcludeTopics are regular expressions of topics not to consume,
	// allowed with a regex in Topics. Kafka gets one subscription for the
	// whole receiver, so an excluded topic is consumed by no signal.
	ExcludeTopics []string `yaml:"exclude_topics"`
	// Encoding of the records: otlp_proto (an OTLP export request, passed
	// on as bytes) or otlp_json (decoded).
	Encoding string `yaml:"encoding"`
}

// Commit is the `commit` block.
type Commit struct {
	// Mode manual (at least once): commit only up to the lowest record not
	// yet settled. auto (at most once across restarts and rebalances):
	// commit up to the last record fetched, whatever its outcome.
	Mode string `yaml:"mode"`
	// Interval between commits; 0 commits as soon as the committable
	// offset moves (one commit request at a time, each carrying everything
	// settled meanwhile).
	Interval config.Duration `yaml:"interval"`
}

// RecordLimits is `max_in_flight_records`.
type RecordLimits struct {
	PerPartition int `yaml:"per_partition"`
	Total        int `yaml:"total"`
}

// ByteLimits is `max_in_flight_bytes`.
type ByteLimits struct {
	PerPartition config.Size `yaml:"per_partition"`
	Total        config.Size `yaml:"total"`
}

// Retry is the `retry` block. The wait before redelivery n (1 for the
// first) is min(initial_interval × multiplier^(n-1), max_interval) ×
// (1 ± randomization_factor), as processor:retry's.
type Retry struct {
	InitialInterval     config.Duration `yaml:"initial_interval"`
	MaxInterval         config.Duration `yaml:"max_interval"`
	Multiplier          float64         `yaml:"multiplier"`
	RandomizationFactor float64         `yaml:"randomization_factor"`
}

// Auth is the `auth` block.
type Auth struct {
	SASL *SASL `yaml:"sasl"`
}

// SASL is `auth.sasl`.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
}

// DefaultConfig returns the defaults; brokers and group_id have none.
func DefaultConfig() Config {
	return Config{
		ClientID:               DefaultClientID,
		Logs:                   Signal{Topics: []string{defaultTopics["logs"]}, Encoding: "otlp_proto"},
		Metrics:                Signal{Topics: []string{defaultTopics["metrics"]}, Encoding: "otlp_proto"},
		Traces:                 Signal{Topics: []string{defaultTopics["traces"]}, Encoding: "otlp_proto"},
		AutoOffsetReset:        DefaultAutoOffsetReset,
		Commit:                 Commit{Mode: "manual"},
		FetchMinBytes:          DefaultFetchMinBytes,
		FetchMaxBytes:          DefaultFetchMaxBytes,
		MaxPartitionFetchBytes: DefaultMaxPartitionFetchBytes,
		MaxFetchWaitMs:         int(DefaultMaxFetchWait / time.Millisecond),
		SessionTimeoutMs:       int(DefaultSessionTimeout / time.Millisecond),
		HeartbeatIntervalMs:    int(DefaultHeartbeatInterval / time.Millisecond),
		RebalanceStrategy:      DefaultRebalanceStrategy,
		IsolationLevel:         DefaultIsolationLevel,
		MaxInFlightRecords:     RecordLimits{PerPartition: DefaultMaxInFlightRecordsPerPartition, Total: DefaultMaxInFlightRecords},
		MaxInFlightBytes:       ByteLimits{PerPartition: DefaultMaxInFlightBytesPerPartition, Total: DefaultMaxInFlightBytes},
		Timeout:                config.Duration(DefaultTimeout),
		Retry: Retry{
			InitialInterval:     config.Duration(DefaultRetryInitialInterval),
			MaxInterval:         config.Duration(DefaultRetryMaxInterval),
			Multiplier:          DefaultRetryMultiplier,
			RandomizationFactor: DefaultRetryRandomizationFactor,
		},
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

// signals returns the three signal blocks with their keys, in routing
// order.
func (c *Config) signals() []struct {
	key string
	sig *Signal
} {
	return []struct {
		key string
		sig *Signal
	}{{"logs", &c.Logs}, {"metrics", &c.Metrics}, {"traces", &c.Traces}}
}

// Validate reports every problem under its YAML path below p. It reads no
// file and opens no connection.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	bad := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	oneOf := func(key, v string, set []string) {
		if !slices.Contains(set, v) {
			bad(p.Key(key), "use one of "+strings.Join(set, ", "), "unknown %s %q", key, v)
		}
	}

	if len(c.Brokers) == 0 {
		bad(p.Key("brokers"), "list the seed brokers as host:port, such as [\"kafka-1:9092\", \"kafka-2:9092\"]", "brokers is required")
	}
	for i, b := range c.Brokers {
		if host, port, ok := strings.Cut(b, ":"); !ok || host == "" || port == "" || strings.Trim(port, "0123456789") != "" {
			bad(p.Key("brokers").Index(i), "write host:port, such as kafka-1:9092", "invalid broker address %q", b)
		}
	}
	if strings.TrimSpace(c.GroupID) == "" {
		bad(p.Key("group_id"), "name the consumer group whose offsets the receiver commits, such as ackflow", "group_id is required")
	}
	if strings.TrimSpace(c.ClientID) == "" {
		bad(p.Key("client_id"), "remove the key for the default ("+DefaultClientID+") or name the client", "client_id must not be empty")
	}

	errs = append(errs, c.validateTopics(p))

	oneOf("auto_offset_reset", c.AutoOffsetReset, offsetResets)
	oneOf("rebalance_strategy", c.RebalanceStrategy, rebalanceStrategy)
	oneOf("isolation_level", c.IsolationLevel, isolationLevels)
	if !slices.Contains(commitModes, c.Commit.Mode) {
		bad(p.Key("commit").Key("mode"), "use manual (at least once: commit only what was delivered) or auto (at most once)",
			"unknown commit mode %q", c.Commit.Mode)
	}
	if c.Commit.Interval < 0 {
		bad(p.Key("commit").Key("interval"), "use 0 to commit as soon as the offset moves, or a duration such as 1s",
			"interval must not be negative, got %s", c.Commit.Interval)
	}

	if c.FetchMinBytes < 1 || c.FetchMinBytes > maxInt32 {
		bad(p.Key("fetch_min_bytes"), "use a size from 1B to 2GiB-1, such as 1", "fetch_min_bytes %s is out of range", c.FetchMinBytes)
	}
	switch {
	case c.FetchMaxBytes < 1 || c.FetchMaxBytes > maxInt32:
		bad(p.Key("fetch_max_bytes"), "use a size from 1B to 2GiB-1, such as 1MiB", "fetch_max_bytes %s is out of range", c.FetchMaxBytes)
	case c.FetchMaxBytes < c.FetchMinBytes:
		bad(p.Key("fetch_max_bytes"), "raise fetch_max_bytes to at least fetch_min_bytes",
			"fetch_max_bytes %s is less than fetch_min_bytes %s", c.FetchMaxBytes, c.FetchMinBytes)
	}
	if c.MaxPartitionFetchBytes < 1 || c.MaxPartitionFetchBytes > maxInt32 {
		bad(p.Key("max_partition_fetch_bytes"), "use a size from 1B to 2GiB-1, such as 1MiB",
			"max_partition_fetch_bytes %s is out of range", c.MaxPartitionFetchBytes)
	}
	if c.MaxFetchWaitMs < 0 || c.MaxFetchWaitMs > 300000 {
		bad(p.Key("max_fetch_wait_ms"), "use milliseconds from 0 to 300000, such as 250",
			"max_fetch_wait_ms %d is out of range", c.MaxFetchWaitMs)
	}
	if c.SessionTimeoutMs < 1 {
		bad(p.Key("session_timeout_ms"), "use milliseconds such as 10000", "session_timeout_ms must be positive, got %d", c.SessionTimeoutMs)
	}
	switch {
	case c.HeartbeatIntervalMs < 1:
		bad(p.Key("heartbeat_interval_ms"), "use milliseconds such as 3000", "heartbeat_interval_ms must be positive, got %d", c.HeartbeatIntervalMs)
	case c.SessionTimeoutMs >= 1 && c.HeartbeatIntervalMs >= c.SessionTimeoutMs:
		bad(p.Key("heartbeat_interval_ms"), "keep it well below session_timeout_ms, usually a third of it",
			"heartbeat_interval_ms %d must be less than session_timeout_ms %d", c.HeartbeatIntervalMs, c.SessionTimeoutMs)
	}

	errs = append(errs, c.validateLimits(p))

	switch t := time.Duration(c.Timeout); {
	case t <= 0:
		bad(p.Key("timeout"), "use a positive duration such as 10s", "timeout must be positive, got %s", c.Timeout)
	case t >= rebalanceTimeout:
		bad(p.Key("timeout"), fmt.Sprintf("use less than the group's rebalance timeout (%s), such as 10s: a revoked partition waits this long for its outcomes", rebalanceTimeout),
			"timeout %s is too long", c.Timeout)
	}
	errs = append(errs, c.Retry.validate(p.Key("retry")))

	if c.TLS != nil {
		errs = append(errs, c.TLS.Validate(p.Key("tls")))
	}
	if c.Auth != nil {
		errs = append(errs, c.Auth.validate(p.Key("auth")))
	}
	return errors.Join(errs...)
}

// validateTopics checks the signal blocks and the dead-letter topic.
func (c *Config) validateTopics(p config.Path) error {
	var errs []error
	bad := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	owner := map[string]string{} // literal topic -> signal
	consumes := false
	var excludes []*regexp.Regexp
	for _, s := range c.signals() {
		sp := p.Key(s.key)
		if !slices.Contains(encodings, s.sig.Encoding) {
			bad(sp.Key("encoding"), "use one of "+strings.Join(encodings, ", "), "unknown encoding %q", s.sig.Encoding)
		}
		hasRegex := false
		for i, t := range s.sig.Topics {
			tp := sp.Key("topics").Index(i)
			if strings.HasPrefix(t, "^") {
				hasRegex = true
				if _, err := regexp.Compile(t); err != nil {
					bad(tp, "write a Go regular expression, such as ^otlp_logs_.*", "invalid topic pattern %q: %v", t, err)
				}
				consumes = true
				continue
			}
			if msg := topicNameProblem(t); msg != "" {
				bad(tp, "a topic name is 1 to 249 of a-z A-Z 0-9 . _ -; start it with ^ for a regular expression", "%s", msg)
				continue
			}
			consumes = true
			if prev, dup := owner[t]; dup {
				bad(tp, "give each topic to one signal", "topic %q is already consumed as %s", t, prev)
				continue
			}
			owner[t] = s.key
		}
		if len(s.sig.ExcludeTopics) > 0 && !hasRegex {
			bad(sp.Key("exclude_topics"), "exclude_topics filters the topics a regex (a topic starting with ^) matches; list no literal topic you do not want instead",
				"exclude_topics needs a topic pattern in %s.topics", s.key)
		}
		for i, e := range s.sig.ExcludeTopics {
			re, err := regexp.Compile(e)
			switch {
			case e == "":
				bad(sp.Key("exclude_topics").Index(i), "remove the empty entry", "an exclude pattern is empty")
			case err != nil:
				bad(sp.Key("exclude_topics").Index(i), "write a Go regular expression, such as ^otlp_logs_test$", "invalid exclude pattern %q: %v", e, err)
			default:
				excludes = append(excludes, re)
			}
		}
	}
	if !consumes {
		bad(p, "give at least one signal (logs, metrics or traces) a topic", "no topic to consume")
	}
	// Exclusions apply to the whole receiver: a literal topic of any
	// signal that an exclusion matches would silently never be consumed.
	for t, sig := range owner {
		for _, re := range excludes {
			if re.MatchString(t) {
				bad(p.Key(sig).Key("topics"), "exclusions apply to every signal (one Kafka subscription): narrow the exclude pattern or remove the topic",
					"topic %q is excluded by exclude_topics pattern %q", t, re.String())
			}
		}
	}
	if d := c.DeadLetterTopic; d != "" {
		if msg := topicNameProblem(d); msg != "" {
			bad(p.Key("dead_letter_topic"), "a topic name is 1 to 249 of a-z A-Z 0-9 . _ -", "%s", msg)
		} else if rt, err := newRouter(c); err == nil {
			if _, consumed := rt.route(d); consumed {
				bad(p.Key("dead_letter_topic"), "use a topic the receiver does not consume: it would read its own dead letters back",
					"dead_letter_topic %q is one of the consumed topics", d)
			}
		}
	}
	return errors.Join(errs...)
}

// topicNameProblem says what is wrong with a literal topic name, or "".
func topicNameProblem(t string) string {
	switch {
	case t == "":
		return "a topic name is empty"
	case len(t) > 249:
		return fmt.Sprintf("topic name %q is longer than 249 characters", t)
	case t == "." || t == "..":
		return fmt.Sprintf("topic name %q is reserved", t)
	case !validTopicNameChar.MatchString(t):
		return fmt.Sprintf("invalid topic name %q", t)
	}
	return ""
}

func (c *Config) validateLimits(p config.Path) error {
	var errs []error
	rp, bp := p.Key("max_in_flight_records"), p.Key("max_in_flight_bytes")
	r, b := c.MaxInFlightRecords, c.MaxInFlightBytes
	if r.PerPartition < 1 {
		errs = append(errs, config.Errorf(rp.Key("per_partition"), "use a positive count such as 1000",
			"per_partition must be at least 1, got %d", r.PerPartition))
	}
	if r.Total < 1 {
		errs = append(errs, config.Errorf(rp.Key("total"), "use a positive count such as 10000", "total must be at least 1, got %d", r.Total))
	} else if r.PerPartition > r.Total {
		errs = append(errs, config.Errorf(rp.Key("per_partition"), "keep per_partition at most total",
			"per_partition %d is more than total %d", r.PerPartition, r.Total))
	}
	if b.PerPartition < 1<<10 {
		errs = append(errs, config.Errorf(bp.Key("per_partition"), "use a size of at least 1KiB, such as 16MiB",
			"per_partition %s is too small", b.PerPartition))
	}
	if b.Total < 1<<10 {
		errs = append(errs, config.Errorf(bp.Key("total"), "use a size of at least 1KiB, such as 64MiB", "total %s is too small", b.Total))
	} else if b.PerPartition > b.Total {
		errs = append(errs, config.Errorf(bp.Key("per_partition"), "keep per_partition at most total",
			"per_partition %s is more than total %s", b.PerPartition, b.Total))
	}
	return errors.Join(errs...)
}

func (r *Retry) validate(p config.Path) error {
	var errs []error
	initial, maxIv := time.Duration(r.InitialInterval), time.Duration(r.MaxInterval)
	if initial <= 0 {
		errs = append(errs, config.Errorf(p.Key("initial_interval"), "use a positive duration such as 1s",
			"initial_interval must be positive, got %s", r.InitialInterval))
	}
	switch {
	case maxIv <= 0:
		errs = append(errs, config.Errorf(p.Key("max_interval"), "use a positive duration such as 30s",
			"max_interval must be positive, got %s", r.MaxInterval))
	case initial > 0 && maxIv < initial:
		errs = append(errs, config.Errorf(p.Key("max_interval"), "raise max_interval to at least initial_interval",
			"max_interval %s is less than initial_interval %s", r.MaxInterval, r.InitialInterval))
	}
	if !(r.Multiplier >= 1) || math.IsInf(r.Multiplier, 0) {
		errs = append(errs, config.Errorf(p.Key("multiplier"), "use a finite number of at least 1 (1 keeps the wait constant, 2 doubles it)",
			"multiplier must be at least 1, got %v", r.Multiplier))
	}
	if !(r.RandomizationFactor >= 0 && r.RandomizationFactor < 1) {
		errs = append(errs, config.Errorf(p.Key("randomization_factor"), "use a number from 0 (no jitter) up to, but not including, 1",
			"randomization_factor must be in [0, 1), got %v", r.RandomizationFactor))
	}
	return errors.Join(errs...)
}

func (a *Auth) validate(p config.Path) error {
	if a.SASL == nil {
		return config.Errorf(p.Key("sasl"), "add a sasl block with mechanism, username and password, or remove auth", "auth needs a sasl block")
	}
	s, sp := a.SASL, p.Key("sasl")
	var errs []error
	if !slices.Contains(saslMechanisms, s.Mechanism) {
		errs = append(errs, config.Errorf(sp.Key("mechanism"), "use one of "+strings.Join(saslMechanisms, ", "),
			"unknown SASL mechanism %q", s.Mechanism))
	}
	if s.Username == "" {
		errs = append(errs, config.Errorf(sp.Key("username"), "set the SASL user name", "username is required"))
	}
	if s.Password == "" {
		errs = append(errs, config.Errorf(sp.Key("password"), "set the SASL password", "password is required"))
	}
	return errors.Join(errs...)
}
