// Package pdata is ackflow's unit of data: a Message is a Payload (one batch
// of logs, metrics or traces) plus its return route, a stack of subscription
// Frames that tells the engine whom to notify of the message's outcome.
//
// # Payloads
//
// A Payload holds one signal in one of three forms: OTLP protobuf bytes
// exactly as received (the pass-through form), the decoded OpenTelemetry
// pdata model, or OTAP's Arrow records as an OTAP stream carried them
// (Columnar, implemented by package pdata/otap). Conversion between the
// forms is lazy and cached, so a pipeline of nodes that only route never
// decodes; OTAPConversions counts the OTAP payloads some node needed in
// another form. Payloads are immutable once built and
// are shared by clones; a node that changes data builds a new Payload.
//
// The OTLP form is a list of chunks, each one a serialized export request.
// Because the top-level field of every OTLP export request is repeated, the
// concatenation of the chunks is itself one valid request: batching appends
// chunk lists and never copies bytes.
//
// # The return route
//
// Subscribe pushes a Frame (node, Interests, CallData) onto a message's stack,
// or merges with the top frame if it belongs to the same node. The engine pops
// frames when a node acks or nacks the message and delivers the outcome to
// the nearest frame interested in it, with that frame's CallData. The
// payload travels back only to a frame that asked for ReturnData.
//
// A Message is owned by one node at a time: after handing it to the engine
// (send, ack, nack) the node must not touch it again.
package pdata
