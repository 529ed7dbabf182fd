// Package kafka is receiver:kafka: it consumes OTLP logs, metrics and
// traces from Kafka topics as a member of a consumer group (franz-go's
// kgo), sends each record into the pipeline as one message, and commits a
// partition's offset only past records whose outcome is settled.
//
// # The guarantee: at least once
//
// A record is delivered at least once: its offset is committed only once
// it is settled. A record the pipeline acked is read again only when its
// partition changes hands (a restart, a crash, a rebalance) before a
// commit carries it. Duplicates are bounded: after a crash, the records
// from the last commit on; after a drain cut short by the shutdown
// deadline or a rebalance, the partition's records from its first
// unsettled one on (those whose outcome did not come in time, and the
// settled ones after them). When a partition is given up, the receiver
// counts what its next owner will deliver again: the records not settled
// (abandoned_records_total) and those settled since the last successful
// commit (duplicate_records_total). commit.mode: auto trades this for at
// most once: offsets are committed as records are fetched, whatever their
// outcome.
//
// # The commit rule
//
// Per partition the receiver keeps its records in offset order from fetch
// to settlement. A record is settled when the pipeline acked it, when it
// was produced to dead_letter_topic and that produce was acked, or when it
// was dropped because it can never succeed (a permanent nack without a
// dead-letter topic, a record that is not a valid request, an empty one).
// The partition is committed up to, not including, its lowest record not
// settled, or past its last record when all are:
//
//	offsets   5   6   7   8   9
//	state     ok  ok  nack ok ok     commit 7: the next owner starts at 7
//
// A transient nack never settles a record: the partition is paused
// (kgo PauseFetchPartitions), the record is sent again from memory after
// a backoff (retry.*) as often as it fails, and fetching resumes once it is
// acked. Records fetched after it may be delivered meanwhile; the commit
// stays behind it. A failing dead-letter produce is retried the same way.
// The start position is committed as soon as the first record of a
// partition is fetched, so that a restart before the first outcome does
// not reset (auto_offset_reset: latest) past it.
//
// # Bounded memory
//
// max_in_flight_records and max_in_flight_bytes bound what the receiver
// holds. Per partition the record limit bounds its window, from its lowest
// unsettled record to its last fetched one (acks behind a slow record do
// not make room), which also bounds what a new owner reads twice; the
// byte limit bounds the values held. A partition at its limits is paused
// and resumes once back under half of them. The total limits bound the
// records and bytes held by all partitions: at one the receiver stops
// polling. A poll takes no more records than any fetching partition
// has room for and no more than half a partition's limit (so that a
// partition resuming while the poll waits cannot pass its limit either),
// and is sized against the byte limits by the largest record seen so far:
// the record limits are never passed, the byte limits by less than one
// record (a partition under its limit always takes one more), or by more
// only with a record larger than any before it. Besides, kgo buffers at
// most one fetch per broker (fetch_max_bytes).
//
// # Rebalances and the drain
//
// The client blocks rebalances while a poll's records are being admitted
// (BlockRebalanceOnPoll, released before they are sent), so a revoke never
// falls between a fetch and its bookkeeping. On OnPartitionsRevoked the
// partitions stop: their records not in the pipeline are abandoned, the
// outcomes of the others are awaited for at most the timeout, what is
// settled is committed, and the partitions are forgotten; outcomes coming
// later are counted as late and ignored. On OnPartitionsLost they are
// forgotten at once, without a commit. Commits are serialized, and a
// revoke or a loss waits for the commit in progress, so that no commit
// ever carries a partition already given up (which could rewind its new
// owner). When Run's context ends, the receiver stops fetching, waits for
// the outcomes of what is in the pipeline (until the shutdown deadline,
// fx.Aborted), commits, and leaves the group.
//
// # Module organization
//
//	config.go    the config block and its validation
//	topics.go    topics to signals, and the Kafka subscription
//	decode.go    a record's value to a payload (wire scan or JSON decode)
//	core.go      the state machine: records, the commit rule, limits, backoff
//	receiver.go  the node: poll loop, outcomes, rebalance callbacks, retries, commits, drain
//	client.go    the kgo options
//	metrics.go   ackflow_receiver_kafka_* series
package kafka
