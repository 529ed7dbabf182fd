package trafficgen

import (
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: generated data has no client; with enable_ack_nack the
// generator awaits and counts each message's outcome as a client would.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, decodeConfig, func(c Config, _ *config.Node) guarantee.Node {
		if c.EnableAckNack {
			return guarantee.Receiver(guarantee.Intake{
				Answer: guarantee.AnswerAfterOutcome,
				Line:   "generates data and counts each message's outcome (enable_ack_nack: true)",
			})
		}
		return guarantee.Receiver(guarantee.Intake{
			Answer: guarantee.AnswerNone,
			Key:    "enable_ack_nack: false",
			Line:   "generates data and awaits no outcome (enable_ack_nack: false)",
		})
	})
}
