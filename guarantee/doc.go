// Package guarantee derives what a configuration promises its clients: for
// every path from a receiver to an exporter, what an OK answer means
// (delivered, stored durably, best effort, acked before delivery, ...), and
// the contradictions in the settings that weaken it.
//
// # Declarations
//
// The engine knows no node by name, so each node type declares what it
// does to the promise: engine.Factory's Guarantee field is a Declarer,
// which reads a node's config and returns a Node built with one of the
// constructors:
//
//	Receiver(ClientIntake(...))  when the client is answered, and its deadline
//	PassThrough(line)            passes the outcome through (debug)
//	Batch(hold)                  passes the outcome through, holding data up to hold
//	Retry(maxElapsed, n)         resends transient failures, then passes the outcome
//	Durable(mode, losses...)     answers once stored, then delivers from disk
//	FanOut(Fanout{...})          answers per await_ack: none, primary, all
//	Filter(reason, line)         drops items on purpose and acks them
//	Route(line)                  sends each message to one of its outputs
//	Early(line, key)             answers before delivery
//	Deliver(dest, timeout)       an exporter that acks after its destination
//	Discard(line)                an exporter that acks and delivers nothing
//
// From adapts a type's config loader, so a declaration reads the values
// the node runs with. A type without a declaration gets an honest line,
// "unknown: node type X declares no guarantee", and the paths through it
// are "unknown" past it.
//
// # Analysis
//
// Analyze walks every path of every pipeline depth first, from each
// receiver (each of its intakes when they differ, e.g. gRPC waits for the
// outcome and HTTP does not) through the ports each node sends on (a
// fan-out's destinations, a router's outputs, the default output
// otherwise), to an exporter or a port that is not connected. Along a
// path, the first node that answers without waiting for what is below it
// decides the promise:
//
//	receiver, wait_for_result: false         acked_before_delivery
//	durable buffer                           durable (its durability: fsync or write)
//	fan-out, await_ack: none                 best_effort
//	fan-out branch not in the primary chain  best_effort (the other branches say so too)
//	exporter that delivers                   delivered: at least once, since a failure reaches the client
//	exporter that discards                   discarded
//	node without a declaration               unknown
//
// Cycles, refused by config validation, stop a walk with a warning rather
// than loop. At most MaxPaths paths are analysed per pipeline.
//
// # Warnings
//
// Contradictions are reported with a code, the node and the YAML path of
// the setting to change, and a hint: an early answer in front of a
// durable buffer (early_answer_before_durable), await_ack: none in front
// of a single exporter (await_none_single_exporter), a retry behind a
// fan-out branch that is not awaited (retry_behind_unawaited), a fallback
// whose origin can never fail (fallback_never_fires), a node before the
// answer whose timeout, hold or retry time exceeds the receiver's timeout
// (timeout_exceeds_receiver), a port sent on but not connected
// (port_not_connected), and a cycle.
//
// # JSON
//
// Report marshals to the document served at GET /api/v1/guarantees and
// printed by `ackflow validate --format json`. Its field names are stable
// within ReportVersion; docs/OPERATIONS.md lists them.
package guarantee
