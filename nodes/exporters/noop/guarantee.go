package noop

import (
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: every message is acked at once and discarded.
func declareGuarantee(*config.Node) (guarantee.Node, error) {
	return guarantee.Discard("acks every message at once and discards it"), nil
}
