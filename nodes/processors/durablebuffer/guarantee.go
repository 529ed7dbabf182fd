package durablebuffer

import (
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: the node acks once the data is stored with its
// durability, then delivers from disk; the ways it may still lose stored
// data are listed.
func declareGuarantee(n *config.Node) (guarantee.Node, error) {
	return guarantee.Declare(n, load, func(c Config, _ *config.Node) guarantee.Node {
		losses := []string{"permanent nacks from below (dropped, counted)"}
		if c.SizeCapPolicy == DropOldest {
			losses = append(losses, "the oldest data at the size cap (size_cap_policy: drop_oldest)")
		}
		if c.MaxAge > 0 {
			losses = append(losses, "data older than max_age "+guarantee.FormatDuration(time.Duration(c.MaxAge)))
		}
		return guarantee.Durable(c.Durability, losses...)
	})
}
