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
//	trail.go      answered requests whose copies are still tracked (max_trailing)
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
// slow or dead destination does not stop the others. Intake pauses
// (engine.Gate) while max_inflight inputs wait for their answer or
// max_inflight copies wait for room; nothing is ever nacked for a limit.
// An input answered upstream no longer counts: its remaining copies are
// tracked on the trail, bounded by max_trailing, beyond which the oldest
// is dropped (its copies abandoned and counted). So a slow best-effort
// destination neither throttles intake nor grows memory without bound.
//
// After Shutdown the node keeps resolving the inputs whose upstream still
// waits, from the outcomes that arrive (engine.Drainer: Pending counts
// them and the copies they still need to send). Answered inputs are
// dropped at Shutdown: best-effort copies never hold a drain. At the
// forced Shutdown every input whose upstream still waits is nacked with
// cause node_shutdown. Upstream sees exactly one ack or nack per input.
//
// # Concurrency
//
// The processor is not safe for concurrent use: the engine calls it from
// the node goroutine only, and it starts no goroutine.
package fanout
