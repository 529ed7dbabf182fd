// Package noop is exporter:noop: it acknowledges every message at once and
// discards it. It ends test and benchmark pipelines, so that what is
// measured is everything before it.
//
// # Quick start
//
//	nodes:
//	  out: { type: exporter:noop }
package noop
