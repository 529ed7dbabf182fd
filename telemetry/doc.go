// Package telemetry is ackflow's metric registry: counters and gauges that
// node goroutines update without locks, grouped into families that the admin
// server exposes in the Prometheus text format.
//
// # Naming
//
// Families are named ackflow_<scope>_<what>[_<unit>][_total], in base units
// (_seconds, _bytes). Labels identify where a value comes from (pipeline,
// node, port, destination, reason) and never carry ids of individual
// messages, so a family's cardinality is fixed by the configuration.
//
// # Concurrency
//
// Counter and Gauge are safe for concurrent use; updating one is a single
// atomic operation. Registration takes a lock and is meant for start-up.
package telemetry
