package config

// Keys of the reference engine's document that ackflow accepts without
// acting on them, where the parser reads mappings key by key (the blocks
// decoded into structs tag their fields instead: `ackflow:"ignored,..."`).
// Each maps to why ackflow does not need it. See IgnoredKey.
var (
	// ignoredTop are the top level's.
	ignoredTop = map[string]string{
		"topics": reasonTopics,
	}
	// ignoredGroup are a group's.
	ignoredGroup = map[string]string{
		"topics": reasonTopics,
	}
	// ignoredPipeline are a pipeline's.
	ignoredPipeline = map[string]string{
		"type":       "not needed: an ackflow pipeline carries OTLP bytes, decoded data and OTAP Arrow alike",
		"extensions": "ackflow has no extensions: the nodes run without the capabilities bound to them",
	}
)

const reasonTopics = "not needed: ackflow has no topics (receiver:topic, exporter:topic); join pipelines with an exporter and a receiver instead"
