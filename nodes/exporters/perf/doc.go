// Package perf is exporter:perf, the reference engine's throughput
// exporter for benchmarks: it acknowledges every message at once and logs,
// every frequency, what arrived per signal (messages, items, bytes, their
// rates and a smoothed items rate), with optional process and host usage
// sections, and a summary at Shutdown.
//
// # Quick start
//
//	nodes:
//	  perf:
//	    type: exporter:perf
//	    config:
//	      frequency: 1000       # milliseconds between reports (or a duration: 1s)
//	      smoothing_factor: 0.3 # weight of the latest interval in the smoothed rate
//	      cpu_usage: true       # process and host CPU
//	      mem_usage: true       # process resident and virtual memory
//	      disk_usage: true      # bytes the process read and wrote
//	      io_usage: true        # network traffic per interface
//	      self_usage: true      # the Go runtime: goroutines, heap, GC cycles
//
// # How it works
//
// Counting is per message on the node goroutine: the item count and the
// payload's size are cached in the payload, so nothing is decoded (a
// decoded payload is encoded once for its size; an OTAP payload reports
// its in-memory Arrow size instead of being converted). The timer
// (fx.StartTimer) drives the reports and the engine clock (fx.Now)
// measures the intervals, so tests run on the fake clock. Usage comes from
// Linux's /proc and getrusage (usage.go); a section that cannot be read is
// left out of the reports and its error logged once.
//
// # Files
//
//	config.go    keys, defaults and validation
//	exporter.go  counting, acking, the reports and the summary
//	usage.go     the process and host usage readers
//	metrics.go   the counters exported per signal
package perf
