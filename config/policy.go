package config

import "time"

// Defaults applied when nothing is configured.
const (
	DefaultPDataCapacity             = 128 // channel_capacity.pdata
	DefaultControlNodeCapacity       = 256 // channel_capacity.control.node
	DefaultControlPipelineCapacity   = 256 // channel_capacity.control.pipeline
	DefaultControlCompletionCapacity = 256 // channel_capacity.control.completion
	DefaultRuntimeMetrics            = MetricsBasic
	DefaultShutdownTimeout           = Duration(30 * time.Second)
	DefaultBindAddress               = "127.0.0.1:8080"
	MinMemoryLimit                   = Size(32 << 20) // the least engine.memory_limit accepted
)

// Policies are the settings that a pipeline inherits from its group and the
// top level. A nil family means "not set at this level": the next outer level
// decides, then the defaults.
//
// Resolution is by family, as in the reference engine: the innermost level
// that sets a family supplies the whole family. Fields omitted inside a set
// family take their defaults, not values from an outer level, so one block
// can be read on its own.
type Policies struct {
	ChannelCapacity *ChannelCapacity // `channel_capacity`
	Telemetry       *TelemetryPolicy // `telemetry`
	Resources       *Resources       // `resources`
}

// ChannelCapacity bounds the channels between nodes. Every value is at
// least 1: a zero capacity would deadlock the pipeline at its first message.
type ChannelCapacity struct {
	Control ControlCapacity // `control`
	PData   int             // `pdata`: capacity of every pdata channel
}

// ControlCapacity sizes the control queues. Node is what ackflow uses; the
// other two are kept so that the reference engine's files load unchanged.
type ControlCapacity struct {
	Node       int // `node`: per-node control inbox
	Pipeline   int // `pipeline`: pipeline-wide control channel (reference engine)
	Completion int // `completion`: completion channel (reference engine)
}

// MetricsLevel is how much runtime telemetry a pipeline records.
type MetricsLevel string

// Runtime metrics levels, from cheapest to most detailed.
const (
	MetricsNone     MetricsLevel = "none"
	MetricsBasic    MetricsLevel = "basic"
	MetricsNormal   MetricsLevel = "normal"
	MetricsDetailed MetricsLevel = "detailed"
)

// metricsLevels lists the valid levels in the order shown in hints.
var metricsLevels = []MetricsLevel{MetricsNone, MetricsBasic, MetricsNormal, MetricsDetailed}

// TelemetryPolicy is the `telemetry` policy family.
type TelemetryPolicy struct {
	RuntimeMetrics MetricsLevel // `runtime_metrics`
}

// Resources is the `resources` policy family.
type Resources struct {
	CoreAllocation CoreAllocation // `core_allocation`
}

// Core allocation types.
const (
	AllCores  = "all_cores"  // one copy of the pipeline per CPU
	CoreCount = "core_count" // exactly Count copies
	CoreSet   = "core_set"   // one copy per core of a set (not pinned): Count copies
)

// CoreAllocation says how many independent copies of a pipeline to run
// (docs/ENGINE.md, "Pipeline copies"). The zero value, Type "", is the default: one copy.
type CoreAllocation struct {
	Type  string // "", AllCores, CoreCount or CoreSet
	Count int    // copies for CoreCount and CoreSet (the cores of the set); at least 1
}

// Copies returns the number of pipeline copies to start on a machine with
// numCPU CPUs: numCPU for all_cores, Count for core_count and core_set
// (not capped by numCPU: the user asked for that many), and 1 when unset.
// It never returns less than 1.
func (c CoreAllocation) Copies(numCPU int) int {
	switch c.Type {
	case AllCores:
		return max(numCPU, 1)
	case CoreCount, CoreSet:
		return max(c.Count, 1)
	default:
		return 1
	}
}

// ResolvedPolicies are the concrete policies of one pipeline.
type ResolvedPolicies struct {
	ChannelCapacity ChannelCapacity
	Telemetry       TelemetryPolicy
	Resources       Resources
}

// DefaultChannelCapacity returns the channel capacities used when no level
// sets channel_capacity; a family that is set starts from these.
func DefaultChannelCapacity() ChannelCapacity {
	return ChannelCapacity{
		Control: ControlCapacity{
			Node:       DefaultControlNodeCapacity,
			Pipeline:   DefaultControlPipelineCapacity,
			Completion: DefaultControlCompletionCapacity,
		},
		PData: DefaultPDataCapacity,
	}
}

// Resolved returns p's policies, each family taken from the first level that
// sets it: the pipeline, its group, the top level, then the defaults
// (capacities 128 pdata / 256 control, runtime metrics basic, one copy).
func (d *Document) Resolved(p *Pipeline) ResolvedPolicies {
	levels := []*Policies{&p.Policies}
	for _, g := range d.Groups {
		if g.Name == p.Group {
			levels = append(levels, &g.Policies)
			break
		}
	}
	levels = append(levels, &d.Policies)

	r := ResolvedPolicies{
		ChannelCapacity: DefaultChannelCapacity(),
		Telemetry:       TelemetryPolicy{RuntimeMetrics: DefaultRuntimeMetrics},
	}
	r.ChannelCapacity = first(levels, r.ChannelCapacity, func(l *Policies) *ChannelCapacity { return l.ChannelCapacity })
	r.Telemetry = first(levels, r.Telemetry, func(l *Policies) *TelemetryPolicy { return l.Telemetry })
	r.Resources = first(levels, r.Resources, func(l *Policies) *Resources { return l.Resources })
	return r
}

// first returns the family from the innermost level that sets it, or def.
func first[T any](levels []*Policies, def T, family func(*Policies) *T) T {
	for _, l := range levels {
		if v := family(l); v != nil {
			return *v
		}
	}
	return def
}
