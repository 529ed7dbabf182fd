package otlp

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee says when each protocol answers its clients: after the
// pipeline's outcome unless wait_for_result is false (at the top level or
// for the protocol), within the protocol's timeout.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, Load, func(c Config, _ *config.Node) guarantee.Node {
		var intakes []guarantee.Intake
		for _, p := range []struct {
			name string
			pr   *Protocol
		}{{"grpc", c.Protocols.GRPC}, {"http", c.Protocols.HTTP}} {
			if p.pr == nil {
				continue
			}
			wait, key, timeout := c.WaitForResult, "wait_for_result", time.Duration(c.Timeout)
			if o := p.pr.WaitForResult; o != nil {
				wait, key = *o, "protocols."+p.name+".wait_for_result"
			}
			if o := p.pr.Timeout; o != nil {
				timeout = time.Duration(*o)
			}
			intakes = append(intakes, guarantee.ClientIntake(p.name, wait, key, timeout))
		}
		return guarantee.Receiver(intakes...)
	})
}
