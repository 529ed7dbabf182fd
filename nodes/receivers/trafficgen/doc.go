// Package trafficgen is receiver:traffic_generator: it admits synthetic
// logs, metrics and traces into a pipeline, at a set rate or as fast as
// downstream accepts, for demos, tests and benchmarks of the engine.
//
// # Quick start
//
//	nodes:
//	  gen:
//	    type: receiver:traffic_generator
//	    config:
//	      traffic_config:
//	        signals_per_second: 1000   # items/s across all signals; null: as fast as possible
//	        max_signal_count: 100000   # stop after that many items; null: never
//	        max_batch_size: 100        # items per message
//	        log_weight: 60             # relative shares of the items
//	        metric_weight: 30
//	        trace_weight: 10
//	        log_body_size_bytes: 100
//	      enable_ack_nack: true        # count acks and nacks, bound what is in flight
//	      max_inflight: 1024
//	      data_source: synthetic       # or semantic_conventions (a built-in catalog)
//	      generation_strategy: pre_generated   # or fresh
//	      resource_attributes: [{attrs: {tenant.id: prod}, weight: 3}, {attrs: {tenant.id: ppe}}]
//
// # How it works
//
// At construction the node encodes a small pool of OTLP requests per
// signal (poolSize variants of max_batch_size items) and checks them with
// the wire scan, so that Run's per-message work is a pdata.New over an
// immutable shared payload, a send, and a few atomic counter updates. The
// data is deterministic and its timestamps fixed at start: payloads are
// replayed unchanged, like the reference engine's pre_generated strategy.
// With generation_strategy fresh the pool builds each message instead, at
// the clock's time with ids that never repeat. Resource attribute sets are
// taken in turn by smooth weighted round robin. data_source
// semantic_conventions draws the data from a catalog of the semantic
// conventions built into the package (semconv.go) instead of the synthetic
// HTTP-like data.
//
// A plan picks each message's signal by weighted fair queuing on items, so
// no signal runs more than one message ahead of its weighted share, and the
// total stops exactly at max_signal_count (the last message is shorter if
// needed).
// A pacer releases the message starting with item k at k/signals_per_second
// after start (production_mode open: at the start of that second), waiting
// on a timer of the node's clock (tests use a fake
// clock). After a stall of more than a second it moves its schedule up
// instead of bursting to catch up.
//
// With enable_ack_nack every message carries a frame of this node
// (interests acks and nacks, call data = signal); OnOutcome counts the
// outcome by signal and frees one of max_inflight slots, a counting
// semaphore that Run waits on when all are taken.
//
// # Stopping
//
// Run returns by itself once max_signal_count items are sent, or when the
// engine cancels its context at the start of the drain. Before returning it
// waits, with enable_ack_nack, for the outcome of every message it sent;
// when the shutdown deadline aborts it returns at once. A downstream node
// that holds data until its Shutdown (which comes only after every
// receiver has returned) therefore holds Run until the deadline.
//
// # Module organization
//
//	config.go     Config, defaults, validation, settings
//	factory.go    NewFactory: decoding and construction
//	data.go       synthetic OTLP requests, the payload pool, the rotation of resource sets
//	semconv.go    the semantic-conventions catalog and its requests
//	plan.go       the weighted signal plan and the pacer
//	generator.go  Run, OnOutcome and the in-flight bound
//	metrics.go    the node's metric families
package trafficgen
