// Package debug is processor:debug: it logs the data that passes through
// it, at a chosen verbosity, and forwards every message unchanged.
//
// # Quick start
//
//	nodes:
//	  dbg:
//	    type: processor:debug
//	    config:
//	      verbosity: normal          # basic | normal | detailed
//	      signals: [logs, metrics, spans]
//
// # How it works
//
// Each message is logged through the node's logger (log/slog, level Info):
// basic writes one line per message from what the payload already knows
// (signal, items, bytes of an OTLP payload) and decodes nothing; normal adds
// the resource and scope counts, which decodes the payload once (the decoded
// form is cached in the payload); detailed adds one line per resource,
// scope, log record, metric data point and span. Then the message is sent on
// unchanged: the same *pdata.Message, payload and return route.
//
// The node never subscribes to outcomes, so acks and nacks from downstream
// pass straight through it. A message it cannot forward is nacked upstream
// with the cause of the failure (route_full, route_closed, node_shutdown).
// At Shutdown it logs a summary of what passed, per signal.
//
// # Module organization
//
//	config.go     Config, verbosity, defaults, validation
//	factory.go    NewFactory: decoding and construction
//	processor.go  forwarding, nacks, the summary
//	format.go     what each verbosity logs
package debug
