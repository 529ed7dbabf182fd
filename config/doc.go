// Package config parses and validates the ackflow configuration document
// (version otel_dataflow/v1, the reference engine's shape) into a typed model
// that the engine builds pipelines from.
//
// # Quick start
//
//	data, err := config.ReadFile("ackflow.yaml") // refuses one over MaxFileSize
//	...
//	doc, err := config.Load("ackflow.yaml", data, registry)
//	if err != nil {
//		fmt.Fprintln(os.Stderr, err) // one positioned error per line
//		os.Exit(1)
//	}
//	for _, g := range doc.Groups {
//		for _, p := range g.Pipelines {
//			pol := doc.Resolved(p) // pipeline -> group -> top level -> defaults
//			...
//		}
//	}
//
// # What is checked, and when
//
// [Parse] first bounds the input: a file over [MaxFileSize] is refused
// (ErrTooLarge), and so is an alias that refers to a value containing it or
// aliases and merge keys that would add more than [MaxAliasExpansion] values
// (ErrAlias), before anything follows an alias; a key given twice in a
// mapping is reported once (ErrDuplicate) and the first one is kept. It then
// decodes strictly (an unknown field anywhere in the structure that
// ackflow owns is an error) and checks everything that needs no knowledge of
// node types: the version, the policies, the engine block, node types being
// well formed, outputs, connections, ports and cycles. Each node's `config`
// block is kept raw ([Node.Config]) because only the node knows its schema.
//
// [Document.Validate] asks a [NodeTypes] registry whether every node type
// exists and lets each node validate its own block. [Load] does both and
// reports the errors of both steps together.
//
// Nothing stops at the first problem: every error found is returned in one
// errors.Join, sorted by position in the file, each an [*Error] naming the
// file, line, column, YAML path and a hint. [Errors] lists them. Each error
// wraps a sentinel (ErrUnknownField, ErrCycle, ...) for errors.Is.
//
// # Writing a node's config
//
// A node package decodes its block with [DecodeNodeConfig] (which decodes
// strictly with [DecodeStrict]) into a struct pre-filled with its defaults,
// then validates it with paths built from the node's path, returning
// [Errorf] errors for every problem:
//
//	func decodeConfig(n *config.Node) (Config, error) {
//		return config.DecodeNodeConfig(n, DefaultConfig(), (*Config).Validate)
//	}
//
// Errors whose line is unknown get it from their path when they reach
// [Document.Validate], so validators need only build correct paths.
// [Duration] and [Size] give node configs the document's duration and size
// syntax.
//
// # Keys of the reference engine that ackflow does not need
//
// A key that the reference engine documents and ackflow does not act on is
// accepted and reported, never silently: each is an [IgnoredKey] with its
// path and why ackflow does not need it, listed by [Document.Ignored] (and
// [LoadReport], even when the document has errors) in document order. A
// config struct declares one with a tag on a field that takes any value:
//
//	ClientPoolSize any `yaml:"client_pool_size" ackflow:"ignored,not needed: ackflow sizes its connection pool itself"`
//
// and a validator that accepts a value without acting on it returns
// [Ignore] among its errors. [DecodeNodeConfig] sets both apart from the
// errors. A key that is neither known nor ignored stays an unknown-field
// error with its did-you-mean; [Strict] turns the ignored keys into errors
// for those who want them refused (`ackflow validate --strict`).
//
// # Module organization
//
//	model.go          Document, Group, Pipeline, Node, Connection, Kind
//	policy.go         policies, defaults and their resolution
//	parse.go          Parse: document, groups, pipelines
//	parse_policy.go   engine block and policies
//	parse_node.go     nodes (type, outputs) and connections (from, to, ports)
//	tree.go           checks before the tree is read: size, alias cycles and bombs, duplicate keys
//	graph.go          checks across nodes: receivers, references, ports, cycles
//	validate.go       NodeTypes, Document.Validate, Load, LoadReport
//	strict.go         DecodeStrict for node configs
//	ignored.go        IgnoredKey, Ignore, Strict, Document.Ignored
//	reference.go      the reference engine's keys ackflow ignores, by level
//	nodeconfig.go     DecodeNodeConfig, Node.ConfigHas, CheckSingleOutput
//	errors.go         Error, sentinels, Errorf, Errors
//	path.go           Path
//	duration.go       Duration
//	size.go           Size
package config
