// Package exportdriver is the in-flight core the exporters that send one
// payload per export run on: exporter:otlp_grpc, exporter:otlp_http and
// exporter:otap. The OTLP wire plumbing they send with (the raw codec, the
// services, compression, TLS, the small response parsers) is package
// otlp/otlpgrpc; a transport gets the payload and encodes it for its
// destination (EncodeFailure when it cannot).
//
// # Exporters
//
// [Driver] is the in-flight bookkeeping: each message is one export on its
// own goroutine, at most max_in_flight at once (the inbox gate), completed
// with an ack or a nack and a Post that frees the slot on the node
// goroutine; a forced shutdown cancels and nacks what is left. The exporters
// only supply the transport ([Transport]). [Exporter] wires a Driver and its
// [Metrics] to a node, and [ValidateExport] checks the configuration keys
// the two exporters share.
//
// # Module organization
//
//	driver.go    Driver, Transport, Result: the exporters' in-flight core
//	exporter.go  Exporter, ValidateExport
//	metrics.go   the Driver's metrics
package exportdriver
