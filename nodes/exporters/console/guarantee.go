package console

import (
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: every message is acked and only counted (printed with
// verbosity detailed); nothing is stored or forwarded.
func declareGuarantee(*config.Node) (guarantee.Node, error) {
	return guarantee.Discard("acks every message and prints a summary: nothing is stored or forwarded"), nil
}
