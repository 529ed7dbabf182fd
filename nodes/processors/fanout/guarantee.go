package fanout

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: which copies the answer waits for (await_ack), with
// each destination's primary flag, fallback and timeout.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, decodeConfig, func(c Config, _ *config.Node) guarantee.Node {
		f := guarantee.Fanout{Await: string(c.AwaitAck), Sequential: c.Mode == ModeSequential}
		for i, d := range c.Destinations {
			gd := guarantee.Destination{Port: d.Port, Primary: d.Primary, FallbackFor: d.FallbackFor, Index: i}
			if d.Timeout != nil {
				gd.Timeout = time.Duration(*d.Timeout)
			}
			f.Destinations = append(f.Destinations, gd)
		}
		return guarantee.FanOut(f)
	})
}
