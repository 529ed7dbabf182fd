// Package retry is processor:retry: it resends data that downstream
// refused with a transient nack, after an exponential backoff with random
// jitter, and passes acks, permanent nacks and exhausted retries upstream.
//
// # Quick start
//
//	nodes:
//	  retry:
//	    type: processor:retry
//	    config:
//	      initial_interval: 1s      # wait before the first retry
//	      max_interval: 30s         # cap on the wait, before jitter
//	      multiplier: 1.5           # growth of the wait per attempt
//	      randomization_factor: 0.5 # each wait is spread by ±50 %
//	      max_elapsed_time: 5m      # no retry starts later than this after the first send (0: no limit)
//	      max_retries: 0            # retries after the first send (0: no limit)
//
// # How it works
//
// Every message sent downstream carries a frame of this node subscribed to
// acks and nacks with ReturnData, whose call data is the attempt number and
// the time of the first attempt. The node therefore keeps no per-message
// map: on a transient nack it reads the frame's call data, decides, pushes a
// new frame for the next attempt and hands the data back to the engine with
// RequeueLater; the engine returns it as a resume control when the backoff
// has passed, and the node sends it again.
//
// Nothing is lost silently: every input ends as one ack or one nack
// upstream. A nack the node makes itself has its reason prefixed with what
// was tried ("retry: gave up after 5 attempts over 12.3s (max_retries 4):
// <downstream reason>") and keeps downstream's permanent flag and cause,
// except when the node cannot retry at all: a refused RequeueLater has
// cause capacity, and one refused because the node is shutting down has
// cause node_shutdown.
//
// # Shutdown
//
// At the shutdown latch the engine delivers every pending resume at once,
// so data waiting for a retry is sent once more before Shutdown. After the
// latch no retry can be scheduled: a transient nack is answered upstream
// with cause node_shutdown. The node is an engine.Drainer counting the
// messages it sent whose outcome has not come back, so that late outcomes
// are still routed until the deadline.
//
// # Module organization
//
//	config.go   Config, defaults, validation
//	factory.go  NewFactory: decoding and construction
//	core.go     the state machine: OnPData, OnControl, Pending
//	backoff.go  the backoff formula and the jitter source
//	metrics.go  the node's metric families
package retry
