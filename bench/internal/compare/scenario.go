package compare

import (
	"fmt"
	"strings"

	"github.com/ackflow/ackflow/loadgen"
)

// Kind is the program a system runs.
type Kind int

// Kinds.
const (
	// Ackflow is ackflow itself (cmd/ackflow).
	Ackflow Kind = iota
	// Collector is the OpenTelemetry Collector (bench/cmd/otelcol).
	Collector
	// Baseline is the yardstick (bench/cmd/baseline): a bare grpc-go hop
	// that keeps requests as bytes, the least work a Go program can do for
	// the same answer. ackflow's speed goal is a fraction of it.
	Baseline
)

func (k Kind) String() string {
	switch k {
	case Ackflow:
		return "ackflow"
	case Baseline:
		return "baseline"
	}
	return "collector"
}

// Ports are the loopback ports of one system run.
type Ports struct {
	Receiver int // OTLP/gRPC port of the system under test
	// Admin is ackflow's admin server, the collector's metrics endpoint or
	// the baseline's /metrics and pprof.
	Admin int
	Sinks []int // the sink's ports, one per exporter
	Dir   string
}

// System is one contender in a scenario.
type System struct {
	// Name labels the table's column.
	Name string
	Kind Kind
	// Config renders the configuration file of an ackflow or collector
	// system.
	Config func(sig loadgen.Signal, p Ports) string
	// Args is the command line of a baseline system, which has no
	// configuration file.
	Args func(sig loadgen.Signal, p Ports) []string
	// Unavailable, when set, is printed instead of numbers: the build (or,
	// for the baseline, the bare hop) has no such capability.
	Unavailable string
	// Reference marks the collector variant whose saturation rate sets the
	// latency phase's rate, and the denominator of the headline ratio.
	// The baseline is never the reference: it is the other yardstick.
	Reference bool
}

// Scenario is one comparison.
type Scenario struct {
	Name        string
	Description string
	Signal      loadgen.Signal
	// Sinks is how many sink ports the systems export to (0: none).
	Sinks int
	// Overload runs the overload protocol instead of saturation+latency.
	Overload bool
	// Target is the headline goal against the reference collector, as
	// "≥ 3×" (0: none).
	Target float64
	// BaselineGoal is the headline goal against the baseline: ackflow's
	// items per CPU-second at least this fraction of the bare hop's
	// (docs/ENGINE.md: half; 0: none).
	BaselineGoal float64
	Systems      []System
}

// speedGoal is ackflow's speed goal against the bare hop (docs/ENGINE.md,
// "Bytes, not objects").
const speedGoal = 0.5

// Scenarios returns every scenario, in the order they are documented.
func Scenarios() []Scenario {
	withQueue := System{Name: "collector", Kind: Collector, Reference: true, Config: collectorForward(queueDefault)}
	noQueue := System{Name: "collector-noqueue", Kind: Collector, Config: collectorForward(queueDisabled)}
	// The baseline serves logs, in two modes; elsewhere its column says why
	// there is no bare-hop figure.
	baseline := func(args func(loadgen.Signal, Ports) []string) System {
		return System{Name: "baseline", Kind: Baseline, Args: args}
	}
	noBaseline := func(why string) System {
		return System{Name: "baseline", Kind: Baseline, Unavailable: why}
	}
	forward := func(name string, sig loadgen.Signal) Scenario {
		sc := Scenario{
			Name:        name,
			Description: fmt.Sprintf("OTLP/gRPC %s → batch → OTLP/gRPC exporter → sink; ackflow wait_for_result: true; collector with its sending_queue (defaults) and without", sig),
			Signal:      sig,
			Sinks:       1,
			Target:      3,
			Systems: []System{
				{Name: "ackflow", Kind: Ackflow, Config: ackflowForward},
				noBaseline("the bare hop serves LogsService only"),
				withQueue,
				noQueue,
			},
		}
		if sig == loadgen.Logs {
			sc.Systems[1], sc.BaselineGoal = baseline(baselineForward), speedGoal
			sc.Description += "; baseline: bare hop, answers after the sink"
		}
		return sc
	}
	return []Scenario{
		{
			Name:         "passthrough",
			Description:  "OTLP/gRPC logs → noop exporter (collector: otlp → nop; baseline: bare hop, walk and answer)",
			Signal:       loadgen.Logs,
			Target:       3,
			BaselineGoal: speedGoal,
			Systems: []System{
				{Name: "ackflow", Kind: Ackflow, Config: ackflowPassthrough},
				baseline(baselineAck),
				{Name: "collector", Kind: Collector, Reference: true, Config: collectorPassthrough},
			},
		},
		forward("forward", loadgen.Logs),
		{
			Name:        "fanout3",
			Description: "OTLP/gRPC logs → three OTLP/gRPC exporters → sink; ackflow fanout await_ack: all; collector: one pipeline with three exporters",
			Signal:      loadgen.Logs,
			Sinks:       3,
			Target:      2,
			Systems: []System{
				{Name: "ackflow", Kind: Ackflow, Config: ackflowFanout3},
				noBaseline("the bare hop forwards to one destination"),
				{Name: "collector", Kind: Collector, Reference: true, Config: collectorFanout3},
			},
		},
		{
			Name:        "durable",
			Description: "OTLP/gRPC logs → batch → durable buffer (fsync) → OTLP/gRPC exporter → sink; collector: persistent sending_queue on file_storage (fsync: true)",
			Signal:      loadgen.Logs,
			Sinks:       1,
			Systems: []System{
				{Name: "ackflow", Kind: Ackflow, Config: ackflowDurable},
				noBaseline("the bare hop stores nothing"),
				{Name: "collector", Kind: Collector, Reference: true, Config: collectorDurable},
			},
		},
		{
			Name:        "overload",
			Description: "forward at 3× each system's saturation rate into a slow sink; 256 concurrent clients, 10 s client timeout; ackflow with engine.memory_limit 100MiB, collector-memlimit with memory_limiter limit_mib 128",
			Signal:      loadgen.Logs,
			Sinks:       1,
			Overload:    true,
			Systems: []System{
				{Name: "ackflow", Kind: Ackflow, Config: ackflowOverload},
				noBaseline("the bare hop has no admission control: it is a yardstick of speed, not of overload"),
				{Name: "collector", Kind: Collector, Reference: true, Config: collectorForward(queueDefault)},
				{Name: "collector-memlimit", Kind: Collector, Config: collectorForward(queueDefault | memoryLimiter)},
			},
		},
		forward("forward-metrics", loadgen.Metrics),
		forward("forward-traces", loadgen.Traces),
	}
}

// Lookup returns the scenario called name.
func Lookup(name string) (Scenario, error) {
	var names []string
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(names, ", "))
}

// ackflow configurations. Every one has the admin server (readiness,
// pprof) on its own port and the receiver's defaults (wait_for_result:
// true).

func ackflowHead(p Ports) string {
	return fmt.Sprintf(`version: otel_dataflow/v1
engine:
  http_admin:
    bind_address: 127.0.0.1:%d
groups:
  default:
    pipelines:
      main:
        nodes:
          in:
            type: receiver:otlp
            config:
              wait_for_result: true
              protocols:
                grpc: { listening_addr: 127.0.0.1:%d }
`, p.Admin, p.Receiver)
}

func ackflowPassthrough(_ loadgen.Signal, p Ports) string {
	return ackflowHead(p) + `          out:
            type: exporter:noop
        connections:
          - { from: in, to: out }
`
}

func ackflowForward(_ loadgen.Signal, p Ports) string {
	return ackflowHead(p) + fmt.Sprintf(`          batch:
            type: processor:batch
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://127.0.0.1:%d" }
        connections:
          - { from: in, to: batch }
          - { from: batch, to: out }
`, p.Sinks[0])
}

// ackflowOverload is ackflowForward with a process memory limit
// (engine.memory_limit) of 100 MiB: the Go runtime's limit is soft, so an
// operator who can afford 128 MiB of RSS sets about a fifth less.
func ackflowOverload(sig loadgen.Signal, p Ports) string {
	return strings.Replace(ackflowForward(sig, p), "engine:\n", "engine:\n  memory_limit: 100MiB\n", 1)
}

func ackflowDurable(_ loadgen.Signal, p Ports) string {
	return ackflowHead(p) + fmt.Sprintf(`          batch:
            type: processor:batch
          buffer:
            type: processor:durable_buffer
            config: { path: %q, durability: fsync }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://127.0.0.1:%d" }
        connections:
          - { from: in, to: batch }
          - { from: batch, to: buffer }
          - { from: buffer, to: out }
`, p.Dir, p.Sinks[0])
}

func ackflowFanout3(_ loadgen.Signal, p Ports) string {
	return ackflowHead(p) + fmt.Sprintf(`          fan:
            type: processor:fanout
            outputs: [a, b, c]
            config:
              await_ack: all
              destinations: [{ port: a }, { port: b }, { port: c }]
          out_a: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://127.0.0.1:%d" } }
          out_b: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://127.0.0.1:%d" } }
          out_c: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://127.0.0.1:%d" } }
        connections:
          - { from: in, to: fan }
          - { from: 'fan["a"]', to: out_a }
          - { from: 'fan["b"]', to: out_b }
          - { from: 'fan["c"]', to: out_c }
`, p.Sinks[0], p.Sinks[1], p.Sinks[2])
}

// Baseline command lines: the same loopback ports as the others, the admin
// address serving /metrics and pprof (so -profile works for it too).

func baselineAck(_ loadgen.Signal, p Ports) []string {
	return []string{"-mode", "ack", "-listen", loopback(p.Receiver), "-admin", loopback(p.Admin)}
}

func baselineForward(_ loadgen.Signal, p Ports) []string {
	return []string{"-mode", "forward", "-listen", loopback(p.Receiver), "-admin", loopback(p.Admin), "-to", loopback(p.Sinks[0])}
}

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// Collector configurations. The receiver keeps its defaults; the internal
// metrics keep theirs (level normal) but are served on the run's own port;
// exporters send uncompressed like ackflow's (the otlp_grpc exporter
// defaults to gzip, which would make the sink receive other bytes and
// cost the collector most of its CPU).

type collectorOpts int

const (
	queueDefault  collectorOpts = 0
	queueDisabled collectorOpts = 1 << iota
	memoryLimiter
)

func collectorTelemetry(p Ports) string {
	return fmt.Sprintf(`  telemetry:
    metrics:
      level: normal
      readers:
        - pull:
            exporter:
              prometheus: { host: 127.0.0.1, port: %d }
`, p.Admin)
}

func collectorReceiver(p Ports) string {
	return fmt.Sprintf(`receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
`, p.Receiver)
}

func collectorPassthrough(sig loadgen.Signal, p Ports) string {
	return collectorReceiver(p) + `exporters:
  nop: {}
service:
` + collectorTelemetry(p) + fmt.Sprintf(`  pipelines:
    %s:
      receivers: [otlp]
      exporters: [nop]
`, sig)
}

func otlpExporter(name string, port int, extra string) string {
	return fmt.Sprintf(`  %s:
    endpoint: 127.0.0.1:%d
    tls: { insecure: true }
    compression: none
%s`, name, port, extra)
}

func collectorForward(o collectorOpts) func(loadgen.Signal, Ports) string {
	return func(sig loadgen.Signal, p Ports) string {
		extra := ""
		if o&queueDisabled != 0 {
			extra = "    sending_queue: { enabled: false }\n"
		}
		procs := "[batch]"
		limiter := ""
		if o&memoryLimiter != 0 {
			procs = "[memory_limiter, batch]"
			limiter = "  memory_limiter: { check_interval: 100ms, limit_mib: 128, spike_limit_mib: 32 }\n"
		}
		return collectorReceiver(p) + "processors:\n  batch: {}\n" + limiter +
			"exporters:\n" + otlpExporter("otlp_grpc", p.Sinks[0], extra) +
			"service:\n" + collectorTelemetry(p) + fmt.Sprintf(`  pipelines:
    %s:
      receivers: [otlp]
      processors: %s
      exporters: [otlp_grpc]
`, sig, procs)
	}
}

func collectorFanout3(sig loadgen.Signal, p Ports) string {
	return collectorReceiver(p) + "exporters:\n" +
		otlpExporter("otlp_grpc/a", p.Sinks[0], "") +
		otlpExporter("otlp_grpc/b", p.Sinks[1], "") +
		otlpExporter("otlp_grpc/c", p.Sinks[2], "") +
		"service:\n" + collectorTelemetry(p) + fmt.Sprintf(`  pipelines:
    %s:
      receivers: [otlp]
      exporters: [otlp_grpc/a, otlp_grpc/b, otlp_grpc/c]
`, sig)
}

func collectorDurable(sig loadgen.Signal, p Ports) string {
	return collectorReceiver(p) + fmt.Sprintf(`extensions:
  file_storage:
    directory: %s
    fsync: true
processors:
  batch: {}
exporters:
`, p.Dir) + otlpExporter("otlp_grpc", p.Sinks[0], "    sending_queue: { storage: file_storage }\n") +
		"service:\n  extensions: [file_storage]\n" + collectorTelemetry(p) + fmt.Sprintf(`  pipelines:
    %s:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp_grpc]
`, sig)
}
