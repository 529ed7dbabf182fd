package trafficgen

import (
	"errors"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/pdata"
)

// Defaults and limits of the configuration keys.
const (
	// DefaultMaxBatchSize is the default number of items per message.
	DefaultMaxBatchSize = 100
	// DefaultLogBodySize is the default size of a log record's body.
	DefaultLogBodySize = 100
	// DefaultMaxInflight bounds the messages awaiting their outcome when
	// enable_ack_nack is on: enough to keep a pipeline of a few nodes with
	// 128-message channels busy, small enough that the generator never runs
	// far ahead of what downstream has answered.
	DefaultMaxInflight = 1024

	// MaxBatchSize caps max_batch_size: a message is built in memory whole,
	// and the pool holds several of them per signal.
	MaxBatchSize = 100_000
	// MaxSignalsPerSecond caps signals_per_second; null is the way to ask
	// for more.
	MaxSignalsPerSecond = 1_000_000_000
	// MaxLogBodySize caps log_body_size_bytes.
	MaxLogBodySize = 1 << 20
	// maxInflightLimit caps max_inflight.
	maxInflightLimit = 1_000_000
)

// Config is the `config` block of a receiver:traffic_generator node.
type Config struct {
	// TrafficConfig describes the traffic (the reference engine's key).
	TrafficConfig TrafficConfig `yaml:"traffic_config"`
	// EnableAckNack subscribes every message to its ack and nack, counts
	// them, and bounds the messages awaiting an outcome by MaxInflight
	// (default false: fire and forget, bounded only by backpressure).
	EnableAckNack bool `yaml:"enable_ack_nack"`
	// MaxInflight is the most messages awaiting their outcome at once when
	// EnableAckNack is on (default 1024). Ignored otherwise: without a
	// subscription the generator never hears the outcome.
	MaxInflight int `yaml:"max_inflight"`
}

// TrafficConfig is the shape of the generated traffic.
type TrafficConfig struct {
	// SignalsPerSecond is the target rate in items (log records, metric
	// data points, spans) per second across all signals. Nil (absent or
	// null) means as fast as downstream accepts.
	SignalsPerSecond *int64 `yaml:"signals_per_second"`
	// MaxSignalCount stops the generator after that many items in total;
	// Run then returns by itself. Nil means no limit.
	MaxSignalCount *int64 `yaml:"max_signal_count"`
	// MaxBatchSize is the most items per message (default 100).
	MaxBatchSize int `yaml:"max_batch_size"`
	// LogWeight, MetricWeight and TraceWeight are the relative shares of
	// items of each signal. When none is set the generator sends logs
	// only; when any is set, an unset one is 0 (as in the reference
	// engine, whose weights all default to 0).
	LogWeight    *int64 `yaml:"log_weight"`
	MetricWeight *int64 `yaml:"metric_weight"`
	TraceWeight  *int64 `yaml:"trace_weight"`
	// LogBodySizeBytes is the size of each log record's body (default 100;
	// 0 omits the body). Accepts units: 1KiB.
	LogBodySizeBytes config.Size `yaml:"log_body_size_bytes"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{
		TrafficConfig: TrafficConfig{
			MaxBatchSize:     DefaultMaxBatchSize,
			LogBodySizeBytes: DefaultLogBodySize,
		},
		MaxInflight: DefaultMaxInflight,
	}
}

// Validate reports every invalid value, each as a *config.Error under p
// (the node's `config` path) naming the key and the fix, joined.
func (c *Config) Validate(p config.Path) error {
	var errs []error
	tp := p.Key("traffic_config")
	bad := func(path config.Path, hint, format string, args ...any) {
		errs = append(errs, config.Errorf(path, hint, format, args...))
	}
	t := &c.TrafficConfig
	if v := t.SignalsPerSecond; v != nil && (*v < 1 || *v > MaxSignalsPerSecond) {
		bad(tp.Key("signals_per_second"), "use a positive rate such as 1000, or null to generate as fast as possible",
			"must be from 1 to %d, got %d", MaxSignalsPerSecond, *v)
	}
	if v := t.MaxSignalCount; v != nil && *v < 1 {
		bad(tp.Key("max_signal_count"), "use a positive count such as 100000, or null for no limit",
			"must be at least 1, got %d", *v)
	}
	if t.MaxBatchSize < 1 || t.MaxBatchSize > MaxBatchSize {
		bad(tp.Key("max_batch_size"), "use a number of items per message such as 100",
			"must be from 1 to %d, got %d", MaxBatchSize, t.MaxBatchSize)
	}
	if t.LogBodySizeBytes > MaxLogBodySize {
		bad(tp.Key("log_body_size_bytes"), "use a body size such as 100 or 1KiB (0 omits the body)",
			"must be at most %s, got %s", config.Size(MaxLogBodySize), t.LogBodySizeBytes)
	}
	anyPositive, anySet, negative := false, false, false
	for _, w := range []struct {
		key string
		v   *int64
	}{{"log_weight", t.LogWeight}, {"metric_weight", t.MetricWeight}, {"trace_weight", t.TraceWeight}} {
		if w.v == nil {
			continue
		}
		anySet = true
		switch {
		case *w.v < 0:
			negative = true
			bad(tp.Key(w.key), "use 0 to disable this signal, or a positive relative weight such as 1",
				"must not be negative, got %d", *w.v)
		case *w.v > 0:
			anyPositive = true
		}
	}
	if anySet && !anyPositive && !negative {
		bad(tp, "set log_weight: 1 for logs only, or remove the weights",
			"at least one of log_weight, metric_weight and trace_weight must be greater than 0")
	}
	if c.MaxInflight < 1 || c.MaxInflight > maxInflightLimit {
		bad(p.Key("max_inflight"), "use a number of messages such as 1024",
			"must be from 1 to %d, got %d", maxInflightLimit, c.MaxInflight)
	}
	return errors.Join(errs...)
}

// settings is a validated Config in the units the generator works in.
type settings struct {
	rate     int64          // items per second; 0: as fast as possible
	limit    int64          // items in total; 0: no limit
	batch    int            // items per message
	weights  [3]uint64      // by pdata.Signal
	bodySize int            // log body bytes
	ackNack  bool           // subscribe and count outcomes
	inflight int            // max messages awaiting an outcome (ackNack only)
	maxLag   time.Duration  // how far behind schedule the pacer may fall before it stops catching up
	signals  []pdata.Signal // those with a positive weight, in order
}

// settings converts a validated config.
func (c *Config) settings() settings {
	t := &c.TrafficConfig
	s := settings{
		batch:    t.MaxBatchSize,
		bodySize: int(t.LogBodySizeBytes),
		ackNack:  c.EnableAckNack,
		inflight: c.MaxInflight,
		maxLag:   time.Second,
	}
	if t.SignalsPerSecond != nil {
		s.rate = *t.SignalsPerSecond
		// A message never carries more than a second's worth, so that a
		// low rate still gives at least one message per second rather than
		// one large burst every few seconds.
		s.batch = int(min(int64(s.batch), s.rate))
	}
	if t.MaxSignalCount != nil {
		s.limit = *t.MaxSignalCount
	}
	weight := func(v *int64) uint64 {
		if v == nil {
			return 0
		}
		return uint64(*v)
	}
	s.weights = [3]uint64{pdata.Logs: weight(t.LogWeight), pdata.Metrics: weight(t.MetricWeight), pdata.Traces: weight(t.TraceWeight)}
	if t.LogWeight == nil && t.MetricWeight == nil && t.TraceWeight == nil {
		s.weights[pdata.Logs] = 1
	}
	for _, sig := range pdata.Signals() {
		if s.weights[sig] > 0 {
			s.signals = append(s.signals, sig)
		}
	}
	return s
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), n.CheckSingleOutput())
	})
}
