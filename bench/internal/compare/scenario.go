package compare

import (
	"fmt"
	"slices"
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
	// ArrowCollector is the OpenTelemetry Collector built with contrib's
	// otelarrow receiver and exporter (interop/otelarrowcol, its own
	// module on collector v0.145.0): the peer of the OTAP scenarios.
	ArrowCollector
)

func (k Kind) String() string {
	switch k {
	case Ackflow:
		return "ackflow"
	case Baseline:
		return "baseline"
	case ArrowCollector:
		return "otelarrowcol"
	}
	return "collector"
}

// collector reports whether k is one of the Collector builds.
func (k Kind) collector() bool { return k == Collector || k == ArrowCollector }

// Ports are the loopback ports of one system run.
type Ports struct {
	Receiver int // the port the load goes to (OTLP/gRPC or OTAP)
	// Hop is a port inside the system under test, for scenarios with a
	// second tier (Scenario.Hop): its tier 1 exports to it, its tier 2
	// listens on it.
	Hop int
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
	// Needs lists the ackflow components (as `ackflow components` names
	// them) the configuration uses beyond those every build has: an
	// ackflow binary without them makes the system unavailable (Restrict).
	Needs []string
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
	// Load is the load generator's protocol: OTLP/gRPC (loadgen.GRPC, also
	// when empty) or OTAP streams (loadgen.OTAP).
	Load loadgen.Protocol
	// SinkProtocol is what the sink serves: OTLP/gRPC (loadgen.GRPC, also
	// when empty) or OTAP streams (loadgen.OTAP). The OTAP sink decodes
	// every batch and counts items and bytes on the wire.
	SinkProtocol loadgen.Protocol
	// Hop gives each system a second port (Ports.Hop) for a hop between
	// two tiers inside it.
	Hop bool
	// WireTolerance, when above 0, is the goal on bytes on the wire per
	// item at the OTAP sink: ackflow's at most 1 + WireTolerance times the
	// reference collector's.
	WireTolerance float64
	// Overload runs the overload protocol instead of saturation+latency.
	Overload bool
	// Target is the headline goal against the reference collector, as
	// "≥ 3×" (0: none); TargetSource says where it comes from (empty:
	// issue 9).
	Target       float64
	TargetSource string
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
			Description: fmt.Sprintf("OTLP/gRPC %s → batch → OTLP/gRPC exporter → sink; ackflow wait_for_result: true and batch flush_when_idle: true (its answer waits for the sink: without that, for the next request too); collector with its sending_queue (defaults) and without", sig),
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
		{
			Name: "otap_forward",
			Description: "OTAP logs (one Arrow stream per client) → OTAP exporter → OTAP sink; ackflow receiver:otap (wait_for_result: true) → exporter:otap; " +
				"collector: otelarrow receiver → otelarrow exporter, its defaults (reference) and with sending_queue wait_for_result: true (end-to-end acks)",
			Signal:        loadgen.Logs,
			Sinks:         1,
			Load:          loadgen.OTAP,
			SinkProtocol:  loadgen.OTAP,
			Target:        3,
			TargetSource:  "OTAP issue",
			WireTolerance: wireTolerance,
			Systems: []System{
				{Name: "ackflow", Kind: Ackflow, Config: ackflowOTAPForward, Needs: otapNodes},
				noBaseline("the bare hop speaks OTLP only"),
				{Name: "collector", Kind: ArrowCollector, Reference: true, Config: collectorOTAPForward(queueDefault)},
				{Name: "collector-e2e", Kind: ArrowCollector, Config: collectorOTAPForward(waitForResult)},
			},
		},
		{
			Name: "otlp_otap_otlp",
			Description: "OTLP/gRPC logs → tier 1 (OTLP receiver → OTAP exporter) → loopback → tier 2 (OTAP receiver → OTLP/gRPC exporter) → sink, both tiers in one process, answers after the sink; " +
				"collector: otlp → otelarrow, otelarrow → otlp_grpc, with sending_queue wait_for_result: true on both exporters (reference) and with the defaults",
			Signal: loadgen.Logs,
			Sinks:  1,
			Hop:    true,
			Systems: []System{
				{Name: "ackflow", Kind: Ackflow, Config: ackflowOTLPOTAPOTLP, Needs: otapNodes},
				noBaseline("the bare hop speaks OTLP only: it has no OTAP tier"),
				{Name: "collector-e2e", Kind: ArrowCollector, Reference: true, Config: collectorOTLPOTAPOTLP(waitForResult)},
				{Name: "collector", Kind: ArrowCollector, Config: collectorOTLPOTAPOTLP(queueDefault)},
			},
		},
	}
}

// otapNodes are the ackflow components the OTAP scenarios need.
var otapNodes = []string{"receiver:otap", "exporter:otap"}

// wireTolerance is the goal on OTAP bytes on the wire per item: ackflow
// within 10 % of the collector.
const wireTolerance = 0.10

// Availability is what the binaries of a run can do.
type Availability struct {
	// Components are the component types the ackflow binary lists (`ackflow
	// components`); nil means not checked: every need counts as met.
	Components map[string]bool
	// ArrowCollector, when set, says why there is no otelarrow collector
	// (interop/otelarrowcol did not build).
	ArrowCollector string
}

// Restrict returns sc with each system the binaries cannot run marked
// unavailable, saying why; a system already unavailable keeps its reason.
func Restrict(sc Scenario, a Availability) Scenario {
	sc.Systems = slices.Clone(sc.Systems)
	for i := range sc.Systems {
		s := &sc.Systems[i]
		if s.Unavailable != "" {
			continue
		}
		switch {
		case s.Kind == Ackflow && a.Components != nil:
			var missing []string
			for _, n := range s.Needs {
				if !a.Components[n] {
					missing = append(missing, n)
				}
			}
			if len(missing) > 0 {
				s.Unavailable = fmt.Sprintf("this ackflow build has no %s (`ackflow components` does not list it)", strings.Join(missing, " and no "))
			}
		case s.Kind == ArrowCollector && a.ArrowCollector != "":
			s.Unavailable = a.ArrowCollector
		}
	}
	return sc
}

// Uses reports whether a system of sc runs programs of kind k.
func (sc Scenario) Uses(k Kind) bool {
	return slices.ContainsFunc(sc.Systems, func(s System) bool { return s.Kind == k && s.Unavailable == "" })
}

// load returns the load generator's protocol.
func (sc Scenario) load() loadgen.Protocol {
	if sc.Load == "" {
		return loadgen.GRPC
	}
	return sc.Load
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
    pprof: true
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

// ackflowForward batches with flush_when_idle: the client's answer waits
// for the sink, and with the batch defaults alone it would also wait for
// the next request (one request is below min_size), which the
// Collector's client, answered by its batch processor, never does.
func ackflowForward(_ loadgen.Signal, p Ports) string {
	return ackflowHead(p) + fmt.Sprintf(`          batch:
            type: processor:batch
            config: { flush_when_idle: true }
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
	// waitForResult keeps the exporters' sending_queue but has it answer
	// after the export (sending_queue.wait_for_result: true): end-to-end
	// acknowledgements, as the otelarrow exporter's README recommends "for
	// additional safety".
	waitForResult
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
