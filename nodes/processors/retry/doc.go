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
//	      max_parked: 1000          # messages admitted at once, in flight or parked
//
// # How it works
//
// Every message sent downstream carries a frame of this node subscribed to
// acks and nacks with ReturnData, whose call data is the attempt number and
// the time of the first attempt. The node therefore keeps no state for the
// data in flight. On a transient nack it reads the frame's call data,
// decides, and parks the data in its own min-heap by retry time (parked.go)
// under one wakeup slot aimed at the earliest retry; when the wakeup fires
// it pushes a frame for the next attempt on each message due and sends it
// again. It does not use the engine's RequeueLater, whose capacity is the
// pipeline's channel_capacity.pdata.
//
// Any message sent may come back for a retry, so the node admits no more
// than it can park: it is an engine.Gate refusing pdata while in flight
// plus parked reach max_parked. Parking therefore never fails for room,
// and the limit back-pressures the senders instead of nacking them.
//
// Nothing is lost silently: every input ends as one ack or one nack
// upstream. A nack the node makes itself has its reason prefixed with what
// was tried ("retry: gave up after 5 attempts over 12.3s (max_retries 4):
// <downstream reason>") and keeps downstream's permanent flag and cause,
// except when shutting down stops the retries: then the cause is
// node_shutdown.
//
// # Shutdown
//
// The node is an engine.Drainer counting the messages in flight and
// parked, so after Shutdown the engine keeps its outputs open and its
// wakeup live. At Shutdown parked messages keep their schedule while it
// falls before the shutdown deadline; a retry that would come at or after
// the deadline, parked then or failing later, is answered at once with
// cause node_shutdown. At the forced Shutdown every parked message is
// answered with cause node_shutdown; answers for the data in flight are
// still routed.
//
// # Module organization
//
//	config.go   Config, defaults, validation
//	factory.go  NewFactory: decoding and construction
//	core.go     the state machine: OnPData, OnControl, Pending, AcceptPData
//	parked.go   the min-heap of messages waiting for their retry
//	backoff.go  the backoff formula and the jitter source
//	metrics.go  the node's metric families
package retry
