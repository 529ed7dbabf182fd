// Package durablebuffer is processor:durable_buffer: it persists every
// input to a local write-ahead log (package storage/wal) before acking it
// upstream, then delivers from the log downstream at least once.
//
// # Quick start
//
//	nodes:
//	  buffer:
//	    type: processor:durable_buffer
//	    config:
//	      path: /var/lib/ackflow/buffer  # each pipeline copy uses copy-N below it
//	      retention_size_cap: 10GiB      # all copies together
//	      size_cap_policy: backpressure  # or drop_oldest
//	      durability: fsync              # upstream acked once on disk (or write)
//
// # How it works
//
// Ingest: each input is written to the log as one record (its OTLP bytes
// as received behind an 8-byte header: signal and item count) and kept in
// memory until its commit. Commits are group commits: while one fsync runs,
// later inputs are written and share the next. When a commit completes the
// inputs it covers are acked upstream (or nacked if it failed).
//
// Delivery: a reader walks the log oldest first; each record is sent as a
// new message subscribed to its outcome, with the record's sequence number
// as call data, while the delivery window (sent or backing off) holds fewer
// than max_in_flight bundles. An ack marks the record done; a permanent
// nack drops it (counted, reason permanent); a transient nack puts it in
// backoff with random jitter. One wakeup slot is armed at the earliest
// retry time; a wakeup of an older arming is ignored. A bundle in backoff
// keeps only its sequence number and retry time: the retry reads the record
// again from the log. So the memory of the window is bounded by
// max_in_flight however long an outage lasts, and newer bundles keep
// flowing while older ones back off.
//
// Housekeeping (every poll_interval): the open segment is sealed when older
// than max_segment_open_duration, segments older than max_age are dropped
// (reason expired), with drop_oldest the oldest sealed segments are dropped
// while the log is over its cap (reason drop_oldest), progress is persisted
// (fully delivered sealed segments are deleted), the gauges are refreshed,
// and sends that found the output full are tried again.
//
// Shutdown: delivery stops; the node waits for the outstanding commits and
// the answers of what is in flight, then seals the open segment, persists
// its progress and closes the log. What was not delivered stays on disk and
// goes out after restart. At the forced Shutdown inputs not yet committed
// are nacked (node_shutdown) and the log is closed at once; bundles that
// were in flight are delivered again after restart (the duplicates
// at-least-once allows).
//
// # Module organization
//
//	config.go   Config, defaults, validation
//	factory.go  NewFactory, New: open and recover the copy's log
//	buffer.go   Buffer: ingest, commit, delivery, retries, housekeeping, shutdown
//	window.go   the bounded delivery window and its retry heap
//	record.go   the record format
//	metrics.go  the node's series
package durablebuffer
