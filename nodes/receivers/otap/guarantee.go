package otap

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee says when a batch is answered: after the pipeline's
// outcome unless wait_for_result is false, within timeout.
var declareGuarantee = guarantee.From(Load, func(c Config, _ *config.Node) guarantee.Node {
	return guarantee.Receiver(guarantee.ClientIntake("", c.WaitForResult, "wait_for_result", time.Duration(c.Timeout)))
})
