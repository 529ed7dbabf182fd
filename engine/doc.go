// Package engine runs ackflow pipelines: it builds the graph a configuration
// describes, runs one goroutine per node, carries pdata downstream on
// bounded channels and routes every ack and nack back along the message's
// return route, and drains everything at shutdown so that each admitted
// item gets an answer.
//
// The engine knows no node type by name: node packages hand it a Factory
// (see ProcessorFactory and ReceiverFactory), collected in a Registry.
//
// # Nodes
//
// A Receiver runs its own goroutines and admits data with ReceiverEffects.
// A processor or exporter is a Processor: a synchronous core that the
// engine calls one message at a time from the node's goroutine, with
// Effects for everything it may ask (sends, subscriptions, outcomes,
// wakeups, delayed resumes, timers, self-posts, drops). Optional interfaces
// refine the contract: Gate (refuse pdata without nacking it), Drainer
// (keep working after Shutdown while Pending is above zero), WakeupUser
// (declare wakeup slots) and Idler (act when a burst of pdata ends).
//
// # The node contract
//
// Inbox decides what a processor or exporter gets next: control before
// pdata with a fairness cap, buffered control before due wakeups and
// resumes, pdata only through an open gate, Shutdown only once the input is
// closed and empty, and at the deadline a forced Shutdown with whatever
// still arrives stranded (nacked with cause node_shutdown). It is a pure
// state machine: the node goroutine (loop.go) and the nodetest harness are
// its two shells, so node tests run the same rules as pipelines. Lifecycle
// names the states.
//
// # Module organization
//
//	node.go       the node API: Processor, Receiver, Effects, Control, NodeContext
//	registry.go   Factory, Registry, ProcessorFactory, ReceiverFactory
//	inbox.go      Inbox, the node contract (pure)
//	loop.go       the node goroutine's shell around the Inbox
//	pipeline.go   one pipeline copy: build, start, ack routing, failure, sweep
//	effects.go    Effects and ReceiverEffects as the engine implements them
//	edge.go       bounded channels, output ports, the shutdown wave
//	ctrlqueue.go  a node's unbounded control queue
//	wiring.go     connections to channels
//	engine.go     Engine: start, drain, abort
//	metrics.go    per-node counters
//	accounting.go admission stamps, age rings, the coarse clock
//	ledger.go     a pipeline's item accounting per signal, the conservation check
//	status.go     Status: pipelines, signals, nodes, ports
//	tap.go        Tap: non-blocking samples of a node's output port
//
// # Accounting
//
// Every item a receiver admits gets exactly one final outcome, counted per
// pipeline and signal when it returns to the ingress frame: admitted =
// delivered + nacked + dropped + in flight. The ingress frame carries a
// stamp (admission time and signal, in the third call-data word, which is
// the engine's), so settling needs no table. Two rings of counters by
// admission time, one added to before the send and one when the outcome
// arrives, give the oldest item in flight and a check that cannot
// false-alarm while traffic flows; at exit the counters must balance
// exactly. A failure is counted in ackflow_accounting_mismatch_total and
// logged once (ledger.check).
//
// docs/ENGINE.md describes the design and the decisions behind it.
package engine
