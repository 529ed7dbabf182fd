package retry

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: transient nacks are retried within max_elapsed_time
// and max_retries; acks and permanent nacks pass through.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, decodeConfig, func(c Config, _ *config.Node) guarantee.Node {
		return guarantee.Retry(time.Duration(c.MaxElapsedTime), c.MaxRetries)
	})
}
