// Package filter is processor:filter: it keeps or drops log records,
// spans and metrics by include/exclude rules, per signal, with the keys of
// the reference engine's filter processor (and a few of the Collector's).
//
// # Quick start
//
//	nodes:
//	  filter:
//	    type: processor:filter        # or urn:otel:processor:filter
//	    config:
//	      logs:
//	        include:
//	          match_type: strict      # or regexp (RE2, unanchored)
//	          severity_number: { min: WARN }
//	        exclude:
//	          match_type: regexp
//	          bodies: ["^healthcheck"]
//	      traces:
//	        exclude:
//	          span_kinds: [internal]
//	      metrics:
//	        include:
//	          metric_names: [http.server.request.duration]
//
// # Semantics
//
// For each signal an item (log record, span, or metric with all its data
// points) is kept when it matches include, if include is set, and does not
// match exclude, if exclude is set. A rule matches an item when every
// property it sets matches. Resource attributes must all match; record,
// span, event and link attributes need one match; lists of names, texts
// and bodies need one match. A signal with no rule passes untouched and
// is never decoded.
//
// # Data path
//
// A payload is decoded with pdata (plog, pmetric, ptrace) only when its
// signal has rules. The rules are evaluated over the read-only decoded
// form, once per resource for the resource-level properties and once per
// item for the rest, into a reused decision slice. Then:
//
//   - every item kept: the message goes on untouched, with its original
//     payload (bytes are not re-encoded);
//   - no item kept: the message is dropped with engine.Effects.Drop,
//     reason "filtered": its sender gets an ack, the items count as
//     dropped;
//   - some kept: the kept items are copied into a new payload
//     (pdata.FromLogs, ...), and engine.Effects.DropPart gives it to the
//     message before the send, counting the others as dropped, reason
//     "filtered"; the message goes on with the same return route, and when
//     its outcome reaches the receiver the pipeline accounts the removed
//     items as dropped and the kept ones by the outcome.
//
// The node never subscribes to outcomes, so the ack or nack of what it
// sends on reaches the original sender directly. A payload that cannot be
// decoded is nacked permanently.
//
// # Module organization
//
//	config.go     Config (YAML), validation and compilation into matchers
//	match.go      string, value, attribute and span-kind matchers
//	logs.go       log rules: decisions and the copy of the kept records
//	traces.go     span rules
//	metricsig.go  metric rules
//	processor.go  OnPData: decode, decide, forward, drop or reduce
//	metrics.go    the node's counters
//	factory.go    NewFactory
package filter
