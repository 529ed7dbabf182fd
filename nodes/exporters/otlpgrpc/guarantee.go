package otlpgrpc

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: an export is acked on the destination's success and
// nacked on failure or after timeout.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, Load, func(c Config, _ *config.Node) guarantee.Node {
		return guarantee.Deliver(guarantee.Endpoint(c.GRPCEndpoint), time.Duration(c.Timeout))
	})
}
