package batch

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: outcomes pass through (an input is acked when every
// batch holding its data is), after a hold of up to max_batch_duration.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, decodeConfig, func(c Config, _ *config.Node) guarantee.Node {
		return guarantee.Batch(time.Duration(c.MaxBatchDuration))
	})
}
