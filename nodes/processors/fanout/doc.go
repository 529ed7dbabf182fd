// Package fanout is processor:fanout (urn:otel:processor:fanout): it sends
// a copy of each input to several output ports and answers its sender once,
// according to await_ack.
//
// # Semantics
//
// Destinations are output ports. A destination may be the fallback of
// another (fallback_for): it is held back until its origin fails (nack,
// closed output or timeout), then sent in its place; chains A -> B -> C
// work, and a chain succeeds as soon as one member acks. In parallel mode
// every chain starts at once; in sequential mode one chain at a time, in
// config order, the next when the previous resolved.
//
//   - await_ack: none acks upstream right after dispatch and tracks nothing.
//   - await_ack: primary answers upstream with the primary chain's outcome;
//     the other chains are best-effort copies that still run to the end.
//   - await_ack: all acks once every chain succeeded and nacks at the first
//     chain that failed for good; after that nothing more is sent.
//
// A nack upstream names the destination that decided it and keeps the
// downstream nack's permanent flag and cause (a timeout has cause
// timeout, a closed output route_closed).
//
// # Paths
//
// Three implementations, chosen from the configuration:
//
//	fire-and-forget  await_ack: none                 no state at all
//	slim primary     parallel, primary, no fallback  request -> original message
//	                 and no timeout
//	full             everything else                 per-destination state machine,
//	                                                 deadlines, chains, cursor
//
// # Module organization
//
//	config.go     Config, Validate, the derived plan
//	node.go       factory, engine.Processor, backlog and wakeup plumbing, shutdown
//	fastpaths.go  fire-and-forget and slim primary
//	core.go       the full path's request and destination state machines
//	deadlines.go  per-destination deadline lists and the timeout wakeup
//	backlog.go    copies waiting for room on a full output
//	slab.go       request storage with generation-checked indexes
//	metrics.go    ackflow_processor_fanout_* series
//
// # Time, backpressure and shutdown
//
// Timeouts are exact: one wakeup slot aimed at the earliest pending
// deadline, revision-checked. A timed-out destination is failed for good:
// its late outcome is counted and ignored.
//
// On the tracked paths copies are sent without waiting (TrySend); a copy
// that finds its output full waits in that destination's backlog, so a
// slow or dead destination does not stop the others. With max_inflight
// set, intake pauses (engine.Gate) while max_inflight requests are tracked
// or max_inflight copies wait; nothing is ever nacked for a limit.
//
// After Shutdown the node keeps resolving tracked requests from the
// outcomes that arrive (engine.Drainer). At the forced Shutdown every
// request whose upstream still waits is nacked with cause node_shutdown.
// Upstream sees exactly one ack or nack per input.
//
// # Concurrency
//
// The processor is not safe for concurrent use: the engine calls it from
// the node goroutine only, and it starts no goroutine.
package fanout
