// Package attribute is processor:attribute: it inserts, upserts, updates,
// deletes, renames and hashes the attributes of resources, scopes and
// items (log records, spans, metric data points), as the reference
// engine's attributes processor does, and forwards every message on its
// route.
//
// # Quick start
//
//	nodes:
//	  attrs:
//	    type: processor:attribute
//	    config:
//	      apply_to: [resource, signal]   # default [signal]
//	      actions:
//	        - { action: upsert, key: deployment.environment, value: prod }
//	        - { action: delete, key: http.request.header.authorization }
//	        - { action: rename, source_key: service, destination_key: service.name }
//	        - { action: hash, key: user.email, salt: s3cret }
//
// # How it works
//
// The actions run in order on every attribute list of the chosen domains
// (see editor for the rules). OTLP payloads are rewritten on the wire by
// otlpwire.Rewriter: only the changed KeyValue entries are re-encoded, and
// the length prefixes of the messages that enclose them recomputed; the
// rest is copied as it is. No action decodes an OTLP payload. Decoded
// payloads, and OTAP payloads (converted to pdata, which pdata counts),
// are edited in a copy of their pdata model, by the same rules.
//
// A message whose payload cannot be read is nacked upstream as permanent;
// nothing is ever dropped. The node does not subscribe to outcomes, so
// acks and nacks pass straight through.
//
// # Module organization
//
//	config.go     Config, Action, literal values, validation
//	edit.go       editor: the actions on the bytes (otlpwire.AttrsEditor)
//	pdatapath.go  the same actions on pdata's model
//	processor.go  core: the engine.Processor, the choice of path
//	metrics.go    the node's metrics
//	factory.go    NewFactory
package attribute
