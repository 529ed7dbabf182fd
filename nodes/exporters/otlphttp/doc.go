// Package otlphttp is exporter:otlp_http: it POSTs each message as one
// OTLP/HTTP protobuf request and acks or nacks it from the answer.
//
// Each signal goes to endpoint + /v1/logs, /v1/metrics or /v1/traces, or
// to its own logs_endpoint, metrics_endpoint or traces_endpoint, used as
// given. Uncompressed bodies are read straight from the payload's chunks:
// bytes a receiver took in go out unchanged and uncopied. Up to
// max_in_flight requests run at once, each on its own goroutine and
// connection; while all slots are taken the exporter refuses pdata through
// the inbox gate, so nothing is dropped.
//
// # Outcomes
//
// 2xx acks (a partial success too: its rejected items are counted and
// logged, rate-limited). 429, 502, 503, 504 and connection errors nack as
// transient, with the Retry-After the destination sent in the reason;
// every other status (400, 401, 403, 404, 413, 500, ...) nacks as
// permanent, as the OTLP specification says. A request cut by the timeout
// nacks with cause timeout, one cut by a forced shutdown with cause
// node_shutdown.
//
// # Files
//
//	config.go    Config, defaults, Validate, per-signal URLs
//	exporter.go  factory, Exporter, the HTTP transport and the status mapping
//	metrics.go   the exporter's series
package otlphttp
