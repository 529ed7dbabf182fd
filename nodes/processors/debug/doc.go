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
//	      mode: batch                # batch (a report per message) | signal (per item)
//	      signals: [logs, metrics, spans]
//	      output: /tmp/debug.txt     # absent: the node's logger
//	      filters: [{predicate: {field: attribute, value: [{key: service.name, value: checkout}]}, mode: include}]
//	      sampling: {type: zap_sampling, sampling_initial: 5, sampling_thereafter: 100, sampling_interval: 1}
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
// Mode signal reports item by item instead: no summary, one line per log
// record, data point or span. Filters (the reference engine's attribute
// predicates) choose the items shown, never those forwarded; zap sampling
// thins the reports out per interval of the engine clock. The lines go to
// the node's logger or, with output, to a file opened at the first line and
// closed at Shutdown.
//
// The node never subscribes to outcomes, so acks and nacks from downstream
// pass straight through it. A message it cannot forward is nacked upstream
// with the cause of the failure (route_full, route_closed, node_shutdown).
// At Shutdown it logs a summary of what passed, per signal.
//
// # Module organization
//
//	config.go     Config, verbosity, mode, output, filters, sampling, validation
//	factory.go    NewFactory: decoding and construction
//	processor.go  forwarding, nacks, the summary, the output file, the sampler
//	format.go     what each verbosity and mode logs, and the filters
package debug
