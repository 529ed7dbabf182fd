// Package kafka is exporter:kafka: it produces each message to a Kafka
// topic per signal and acks it only once the broker has acknowledged every
// record it became.
//
// Payloads still in the form a receiver took them in go out as the bytes
// received: an OTLP request is one record's value, unless it is larger
// than max_message_bytes, in which case it is cut between resource entries
// (otlpwire.Split) and, for a resource still too large, between its scope
// entries (splitResource: the resource's own fields are repeated in each
// part). Nothing is decoded on that path. A scope too large for any record
// is refused with a permanent nack that names the sizes. The otlp_json
// encoding is the one path that decodes: each record's request goes
// through pdata's protobuf decoder and JSON encoder.
//
// # Keys
//
// partition_key chooses the records' keys, hence their partitions. With
// resource attribute names, every resource entry is read down to its
// Resource's attributes (a wire walk, no decode) and entries with the same
// values travel together in records keyed by them. With trace_id, every
// span or log record is read down to its trace id and the items of each
// trace are copied into a request of their own, under copies of their
// resource and scope: one record per trace, keyed by its hex id, as the
// Collector's partition_traces_by_id does.
//
// # Outcomes
//
// Each export hands its records to franz-go's producer with a promise per
// record and waits for every promise, or for the driver's timeout. All
// acknowledged: ack. Any refused for what it is (MESSAGE_TOO_LARGE,
// TOPIC_AUTHORIZATION_FAILED, INVALID_TOPIC_EXCEPTION, INVALID_RECORD):
// permanent nack. Anything else (franz-go already retried Kafka's
// retriable errors within the deadline), or no answer in time: transient
// nack. The records of a nacked payload that the broker did store are
// counted as duplicates: upstream will send them again (at-least-once).
//
// The in-flight bookkeeping (max_in_flight, timeout, drain, forced
// shutdown) is exportdriver's; the franz-go client is made at the first
// export and closed by the driver after the last one.
//
// # Files
//
//	config.go       Config, defaults, Validate, the brokers and partition_key shapes
//	exporter.go     factory, Exporter, the transport (client, produce, wait) and its outcome
//	burst.go        the records of a burst of messages sent together (manual flushing)
//	plan.go         a payload's records: size cuts, keys, JSON
//	wire.go         the protobuf walks below otlpwire's top level
//	outcome.go      error classes and which are permanent
//	partitioner.go  partitioning_strategy on franz-go's partitioners
//	metrics.go      the exporter's Kafka series
package kafka
