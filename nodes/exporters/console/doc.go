// Package console is exporter:console: it acknowledges every message and
// prints to standard output, every interval, one line per signal with the
// items and messages per second over the interval and the totals, then a
// final summary at Shutdown. It ends demo pipelines.
//
// # Quick start
//
//	nodes:
//	  out:
//	    type: exporter:console
//	    config:
//	      interval: 1s        # time between two summaries
//	      verbosity: basic    # basic | detailed (also one line per message)
//
// Output:
//
//	12:00:01 out logs: 1000 items/s, 10.0 msgs/s | total 1000 items, 10 msgs
//	12:00:01 out metrics: 500 items/s, 5.0 msgs/s | total 500 items, 5 msgs
//	12:00:02 out logs: final: 2000 items, 20 msgs in 2s (1000 items/s)
//
// # How it works
//
// The node counts per signal and acks each message as it arrives. Its
// periodic timer (Effects.StartTimer) starts with the first message, since
// a node gets its effects only when called; each tick prints the signals
// seen so far, with rates over the real time elapsed since the previous
// tick on the engine clock. Writes are best effort: a failed write is
// logged once, and the data is acked all the same.
//
// # Module organization
//
//	config.go    Config, defaults, validation
//	factory.go   NewFactory and the writer used by tests
//	exporter.go  counting, acks, the summary lines
package console
