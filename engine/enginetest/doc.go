// Package enginetest runs small pipelines in the real engine for tests,
// and reads what they report. Where engine/nodetest steps one node through
// the engine's contract, enginetest runs a whole document: receivers,
// processors and exporters on their own goroutines, with the engine's
// accounting and metrics.
//
// # Running a pipeline
//
// Start loads a YAML document with the node types of the factories it is
// given, builds the engine and starts it; Pipeline writes the document of
// a single pipeline around its nodes and connections. Run does the same and waits until
// the engine is done by itself, which is how a pipeline whose receivers
// finish (a traffic generator with max_signal_count) ends. Shutdown drains
// a pipeline that does not end by itself. Every failure (an invalid
// document, a node that fails, a pipeline that hangs) fails the test; the
// waits are bounded by Timeout, a guard against a hang, not a delay.
//
//	eng := enginetest.Run(t, enginetest.Pipeline(body), engine.Options{},
//		trafficgen.NewFactory(), mynode.NewFactory(), noop.NewFactory())
//	if got := enginetest.Value(t, eng.Metrics(), "ackflow_node_acked_items_total", "node", "out"); got != 1000 {
//		t.Errorf("acked %v, want 1000", got)
//	}
//
// The functions start no goroutine of their own and read time only to
// bound their waits, so they work inside a testing/synctest bubble.
//
// # Reading metrics
//
// Value returns one series of a telemetry.Registry (and fails the test when
// there is none); Sum adds every series of a family that carries the given
// labels. Labels are written as name, value pairs, as telemetry.Labels
// takes them.
//
// This package is for tests only; no production code imports it.
package enginetest
