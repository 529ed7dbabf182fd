// Package compare runs ackflow, the OpenTelemetry Collector and a bare-hop
// baseline side by side under the same load and prints what each achieved.
// It is the engine of the `compare` command (bench/cmd/compare); issue 9
// describes the goals against the Collector, issue 17 the baseline.
//
// # Protocol
//
// A scenario ([Scenarios]) names the systems it compares: ackflow, the
// baseline (bench/cmd/baseline, a bare grpc-go hop that keeps requests as
// bytes: the least work a Go program can do for the same answer) and one
// or more collector variants, each rendered as a configuration file (the
// baseline: a command line) on fresh loopback ports. Rounds alternate the order of the systems (the
// reference collector first in even rounds, last in odd ones). For each
// system in each round the runner:
//
//  1. starts the sink (bench/cmd/sink) if the scenario exports, then the
//     system under test, and waits until it listens;
//  2. reads its idle RSS (VmRSS);
//  3. sends an unmeasured warm-up, then waits for the system to go idle;
//  4. saturates it for the phase's duration with the load generator
//     (package loadgen, pre-encoded requests, the same bytes for every
//     system), waits until it is idle again (a collector may still be
//     emptying its sending queue) and divides the items acknowledged to
//     the clients by the CPU time the system used meanwhile
//     (/proc/PID/stat utime+stime): items per CPU-second, the headline.
//     The count starts when the generator says it is ready to send
//     (loadgen.ReadyLine), after preparing its requests: an OTAP load
//     pre-encodes a ring of batches per stream first;
//  5. sends at half the reference collector's saturation rate and keeps
//     the client latency percentiles;
//  6. reads its peak RSS (VmHWM) and stops everything.
//
// The overload scenario measures the saturation rate with a fast sink, then
// restarts the system with a slow sink (fixed bytes per second) and offers
// three times that rate from 256 clients with a 10 s timeout: requests
// answered OK, answered with an error, or hung (no answer in time), and
// the peak RSS.
//
// # OTAP
//
// Scenarios say which protocol the load speaks (Scenario.Load: OTLP/gRPC
// or OTAP streams) and which the sink serves (Scenario.SinkProtocol). The
// OTAP sink decodes every batch and reports items, message bytes and bytes
// on the wire (Result.Sink); the table adds bytes per item and, with
// Scenario.WireTolerance, the goal against the reference collector. The
// OTAP scenarios' peer is the Collector built with contrib's otelarrow
// components (ArrowCollector, interop/otelarrowcol). Restrict marks the
// systems a run's binaries cannot serve as unavailable, with the reason:
// an ackflow build without the components a configuration needs
// (System.Needs), or an otelarrow collector that did not build.
//
// # Placement
//
// On a machine with two CPUs the system under test runs on CPU 0 with
// GOMAXPROCS=1 and everything else (load generator, sinks) on CPU 1,
// through taskset. Without taskset the processes run unpinned and the
// runner says so.
//
// # The baseline
//
// The baseline is measured exactly like the others (same placement, load,
// /proc accounting and phases) but is never the reference: ratios are
// printed against both yardsticks, from the same run and paired by round.
// Where the bare hop cannot do the scenario's job (other signals, fan-out,
// storage, overload) its column says why instead of showing a number.
//
// # Honesty rules
//
// Warm-up is never measured; every phase is bounded in time; a system that
// fails to start or answers nothing prints "failed" and the reason instead
// of a number; a capability a build lacks prints "not available in this
// build".
package compare
