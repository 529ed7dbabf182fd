// Package typerouter is processor:type_router: it sends logs, metrics and
// traces to the output ports named after them, without looking inside the
// data (the payload knows its signal), and without joining the return
// route: acks and nacks from downstream pass straight through it.
//
// # Quick start
//
//	nodes:
//	  router:
//	    type: processor:type_router
//	    outputs: [logs, metrics, traces]
//	    config:
//	      admission_policy: { on_full: reject_immediately } # or backpressure
//	connections:
//	  - { from: in, to: router }
//	  - { from: 'router["logs"]', to: logs_out }
//	  - { from: 'router["metrics"]', to: metrics_out }
//	  - { from: 'router["traces"]', to: traces_out }
//
// # Route selection
//
// A message goes to the connected port named after its signal. If that
// port is not connected it goes to the node's default output: its
// default_output, or its only connected port when that port is not itself
// named after a signal. Otherwise it is nacked permanently, naming the
// missing port. Routes are resolved once, from the connected ports, at the
// first message (table in route.go).
//
// # Full outputs
//
// The router never waits on one output, so a blocked signal cannot stall
// the others. With admission_policy.on_full: reject_immediately (the
// default, as in the reference engine) a message whose output is full is
// nacked (transient, cause route_full). With backpressure the first such
// message per output is parked and re-offered every 200ms (one wakeup
// slot); later ones for the same output are nacked, and the node stops
// taking data only while every output it can select holds a parked
// message. Parked messages are delivered before the node finishes at
// Shutdown, or nacked with cause node_shutdown at the deadline.
//
// # Files
//
//	config.go   keys, defaults and validation (output names included)
//	route.go    the route table
//	router.go   the state machine: OnPData, wakeups, shutdown
//	metrics.go  the decision counter
package typerouter
