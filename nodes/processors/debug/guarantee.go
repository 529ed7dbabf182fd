package debug

import (
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: the node never subscribes, so outcomes pass straight
// through it.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, decodeConfig, func(c Config, _ *config.Node) guarantee.Node {
		return guarantee.PassThrough("logs what passes (verbosity " + c.Verbosity + "); the outcome passes through")
	})
}
