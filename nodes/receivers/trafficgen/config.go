package trafficgen

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

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
	// DefaultLogAttributes, DefaultMetricAttributes and
	// DefaultPointsPerMetric shape the synthetic data when
	// num_log_attributes, num_metric_attributes and
	// num_data_points_per_metric are absent.
	DefaultLogAttributes    = 2
	DefaultMetricAttributes = 3
	DefaultPointsPerMetric  = 10
	// maxAttributes caps num_log_attributes and num_metric_attributes;
	// maxPointsPerMetric caps num_data_points_per_metric; maxResourceSets
	// caps the entries of resource_attributes.
	maxAttributes      = 128
	maxPointsPerMetric = 10_000
	maxResourceSets    = 1024
	maxResourceWeight  = 1_000_000
)

// Data sources (`data_source`).
const (
	// SourceSynthetic is ackflow's synthetic data (the default): HTTP-like
	// logs, metrics and spans with a configurable shape.
	SourceSynthetic = "synthetic"
	// SourceSemanticConventions is data shaped by the OpenTelemetry
	// semantic conventions: spans, metrics and events of HTTP, database,
	// messaging and RPC instrumentation, from a catalog built into ackflow
	// (the reference engine reads a registry instead: registry_path).
	SourceSemanticConventions = "semantic_conventions"
)

// Generation strategies (`generation_strategy`).
const (
	// PreGenerated builds a few payloads at start and replays them (the
	// default): the cheapest, with repeating timestamps and ids.
	PreGenerated = "pre_generated"
	// Fresh builds every message anew, with the current time and unique
	// ids, at the cost of an encode per message.
	Fresh = "fresh"
)

// Production modes (`traffic_config.production_mode`).
const (
	// ProductionSmooth spreads the messages evenly over each second (the
	// default).
	ProductionSmooth = "smooth"
	// ProductionOpen sends each second's share as fast as downstream
	// takes it, at the start of the second.
	ProductionOpen = "open"
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
	// DataSource is synthetic (default) or semantic_conventions.
	DataSource string `yaml:"data_source"`
	// GenerationStrategy is pre_generated (default) or fresh.
	GenerationStrategy string `yaml:"generation_strategy"`
	// ResourceAttributes are attribute sets merged into the resource of
	// the messages, taken in turn in proportion to their weights.
	ResourceAttributes ResourceAttributes `yaml:"resource_attributes"`

	RegistryPath     any `yaml:"registry_path" ackflow:"ignored,not taken: ackflow reads no semantic-conventions registry; data_source: semantic_conventions uses a catalog built into ackflow (HTTP, database, messaging, RPC)"`
	TransportHeaders any `yaml:"transport_headers" ackflow:"ignored,ackflow messages carry no transport headers"`
}

// ResourceAttributes is `resource_attributes`, in any of the reference
// engine's three forms: one map, a list of maps (weight 1 each), or a list
// of {attrs: map, weight: N}.
type ResourceAttributes []ResourceAttributeSet

// ResourceAttributeSet is one set of resource attributes and its weight:
// how many messages of every sum-of-weights carry it.
type ResourceAttributeSet struct {
	Attrs  map[string]string `yaml:"attrs"`
	Weight int               `yaml:"weight"`
}

// UnmarshalYAML reads the three forms; a missing weight is 1.
func (r *ResourceAttributes) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		*r = ResourceAttributes{{Attrs: m, Weight: 1}}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return &config.Error{Msg: "want a map of attributes or a list of them", Err: config.ErrType,
			Hint: "write resource_attributes: {tenant.id: prod}, a list of such maps, or a list of {attrs: {...}, weight: N}"}
	}
	out := make(ResourceAttributes, 0, len(n.Content))
	for _, item := range n.Content {
		set := ResourceAttributeSet{Weight: 1}
		if item.Kind == yaml.MappingNode && hasKey(item, "attrs") {
			// A weighted set: attrs and weight only.
			for i := 0; i+1 < len(item.Content); i += 2 {
				if k := item.Content[i].Value; k != "attrs" && k != "weight" {
					return &config.Error{Msg: fmt.Sprintf("unknown field %q in a weighted set", k), Err: config.ErrUnknownField,
						Hint: "a weighted set has attrs and weight only"}
				}
			}
			var v struct {
				Attrs  map[string]string `yaml:"attrs"`
				Weight *int              `yaml:"weight"`
			}
			if err := item.Decode(&v); err != nil {
				return err
			}
			set.Attrs = v.Attrs
			if v.Weight != nil {
				set.Weight = *v.Weight
			}
		} else if err := item.Decode(&set.Attrs); err != nil {
			return err
		}
		out = append(out, set)
	}
	*r = out
	return nil
}

// hasKey reports whether mapping n has key k.
func hasKey(n *yaml.Node, k string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return true
		}
	}
	return false
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
	// ProductionMode is smooth (default) or open.
	ProductionMode string `yaml:"production_mode"`
	// NumLogAttributes is the attributes of each synthetic log record
	// (default 2: thread.id, thread.name).
	NumLogAttributes *int `yaml:"num_log_attributes"`
	// UseTraceContext gives each synthetic log record a trace and span id.
	UseTraceContext bool `yaml:"use_trace_context"`
	// NumMetricAttributes is the attributes of each synthetic data point
	// (default 3: method, route, status code).
	NumMetricAttributes *int `yaml:"num_metric_attributes"`
	// NumDataPointsPerMetric is the data points of each synthetic metric
	// (default 10).
	NumDataPointsPerMetric *int `yaml:"num_data_points_per_metric"`
}

// DefaultConfig returns the configuration used for absent keys.
func DefaultConfig() Config {
	return Config{
		TrafficConfig: TrafficConfig{
			MaxBatchSize:     DefaultMaxBatchSize,
			LogBodySizeBytes: DefaultLogBodySize,
			ProductionMode:   ProductionSmooth,
		},
		MaxInflight:        DefaultMaxInflight,
		DataSource:         SourceSynthetic,
		GenerationStrategy: PreGenerated,
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
	oneOf := func(path config.Path, key, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			bad(path, "use "+strings.Join(allowed, " or "), "unknown %s %q", key, v)
		}
	}
	oneOf(p.Key("data_source"), "data_source", c.DataSource, SourceSynthetic, SourceSemanticConventions)
	oneOf(p.Key("generation_strategy"), "generation_strategy", c.GenerationStrategy, PreGenerated, Fresh)
	oneOf(tp.Key("production_mode"), "production_mode", t.ProductionMode, ProductionSmooth, ProductionOpen)
	count := func(key string, v *int, lo, hi int, hint string) {
		if v != nil && (*v < lo || *v > hi) {
			bad(tp.Key(key), hint, "must be from %d to %d, got %d", lo, hi, *v)
		}
	}
	count("num_log_attributes", t.NumLogAttributes, 0, maxAttributes, "use a number of attributes such as 2")
	count("num_metric_attributes", t.NumMetricAttributes, 0, maxAttributes, "use a number of attributes such as 3")
	count("num_data_points_per_metric", t.NumDataPointsPerMetric, 1, maxPointsPerMetric, "use a number of data points such as 10")
	rp := p.Key("resource_attributes")
	if len(c.ResourceAttributes) > maxResourceSets {
		bad(rp, "merge the sets, or use fewer", "at most %d sets, got %d", maxResourceSets, len(c.ResourceAttributes))
	}
	for i, set := range c.ResourceAttributes {
		sp := rp.Index(i) // the single-map form is located at rp
		if set.Weight < 1 || set.Weight > maxResourceWeight {
			bad(sp.Key("weight"), "use a positive weight such as 1", "must be from 1 to %d, got %d", maxResourceWeight, set.Weight)
		}
		if len(set.Attrs) == 0 {
			bad(sp, "give at least one attribute, such as tenant.id: prod", "the attribute set is empty")
		}
		for k := range set.Attrs {
			if k == "" {
				bad(sp, "name every attribute", "an attribute key is empty")
			}
		}
	}
	return errors.Join(errs...)
}

// synthOnly reports the synthetic data's keys as ignored when the data
// comes from the semantic conventions: they shape data it does not make.
func (c *Config) synthOnly(n *config.Node, p config.Path) error {
	if c.DataSource != SourceSemanticConventions {
		return nil
	}
	var errs []error
	for _, key := range []string{"log_body_size_bytes", "num_log_attributes", "use_trace_context", "num_metric_attributes", "num_data_points_per_metric"} {
		if n.ConfigHas("traffic_config", key) {
			errs = append(errs, config.Ignore(p.Key("traffic_config").Key(key),
				"not taken: it shapes data_source: synthetic data, and this node generates semantic_conventions data"))
		}
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
	open     bool           // production_mode open: each second's share at once
	fresh    bool           // generation_strategy fresh: every message built anew
	data     dataShape      // what the payloads look like
}

// dataShape is what the generated payloads look like.
type dataShape struct {
	semconv         bool // data_source semantic_conventions
	logAttrs        int  // attributes per synthetic log record
	traceContext    bool // synthetic log records carry trace and span ids
	metricAttrs     int  // attributes per synthetic data point
	pointsPerMetric int  // data points per metric
	resources       []resourceSet
}

// resourceSet is a validated ResourceAttributeSet, its keys sorted so that
// payloads are deterministic.
type resourceSet struct {
	attrs  [][2]string
	weight int
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
	s.open = t.ProductionMode == ProductionOpen
	s.fresh = c.GenerationStrategy == Fresh
	s.data = dataShape{
		semconv:         c.DataSource == SourceSemanticConventions,
		logAttrs:        DefaultLogAttributes,
		traceContext:    t.UseTraceContext,
		metricAttrs:     DefaultMetricAttributes,
		pointsPerMetric: DefaultPointsPerMetric,
	}
	if t.NumLogAttributes != nil {
		s.data.logAttrs = *t.NumLogAttributes
	}
	if t.NumMetricAttributes != nil {
		s.data.metricAttrs = *t.NumMetricAttributes
	}
	if t.NumDataPointsPerMetric != nil {
		s.data.pointsPerMetric = *t.NumDataPointsPerMetric
	}
	for _, set := range c.ResourceAttributes {
		rs := resourceSet{weight: set.Weight}
		for _, k := range slices.Sorted(maps.Keys(set.Attrs)) {
			rs.attrs = append(rs.attrs, [2]string{k, set.Attrs[k]})
		}
		s.data.resources = append(s.data.resources, rs)
	}
	return s
}

// decodeConfig decodes and validates the node's config block.
func decodeConfig(n *config.Node) (Config, error) {
	return config.DecodeNodeConfig(n, DefaultConfig(), func(c *Config, p config.Path) error {
		return errors.Join(c.Validate(p), c.synthOnly(n, p), n.CheckSingleOutput())
	})
}
