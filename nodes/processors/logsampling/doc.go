// Package logsampling is processor:log_sampling: it keeps a share of the
// log records that pass and drops the rest, counted as dropped with reason
// "sampled". Metrics and traces pass through untouched.
//
// # Quick start
//
//	nodes:
//	  sampler:
//	    type: processor:log_sampling
//	    config:
//	      policy:
//	        ratio: { emit: 1, out_of: 10 }        # one record in ten
//	        # or: zip: { interval: 1m, max_items: 100 }  # at most 100 records a minute
//
// # How it works
//
// A policy (sampler.go) decides, for each logs message, how many of its
// records to keep; like the reference engine it keeps the first ones. A
// message kept whole is forwarded as it is; one kept not at all is dropped
// (fx.Drop: acked upstream, its items counted as dropped); otherwise the
// request is cut to its first records (trim.go): OTLP bytes without
// decoding (only the resource entry the cut falls in is rewritten), other
// forms in the pdata model. The node never subscribes: what it forwards
// keeps its return route.
//
// The zip windows are measured with the engine clock (fx.Now) from the
// first logs message, so the node needs no timer and tests use the fake
// clock. Both policies are deterministic: there is no randomness to seed.
//
// # Accounting
//
// A message forwarded in part is cut with fx.DropPart before it is sent:
// the engine replaces its payload with the records kept and counts the
// others as dropped with reason "sampled" on the node; when the message's
// outcome reaches its receiver, the pipeline accounts the cut-away records
// as dropped and the kept ones by the outcome, so admitted = delivered +
// nacked + dropped holds. The node itself counts them in its
// dropped_items_total too, and keeps no state about messages in flight.
//
// # Files
//
//	config.go     keys and validation
//	sampler.go    the ratio and zip policies (pure state machines)
//	trim.go       cutting a payload to its first records
//	processor.go  OnPData: pass, drop, or cut and forward
//	metrics.go    kept, dropped and error counters
package logsampling
