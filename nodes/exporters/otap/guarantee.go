package otap

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: a message is acked from its batch status and nacked on
// a failed status, a broken stream or after timeout.
var declareGuarantee = guarantee.From(Load, func(c Config, _ *config.Node) guarantee.Node {
	return guarantee.Deliver(guarantee.Endpoint(c.GRPCEndpoint), time.Duration(c.Timeout))
})
