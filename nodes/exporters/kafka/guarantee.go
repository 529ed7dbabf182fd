package kafka

import (
	"strings"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee: a message is acked once the brokers acknowledged each
// of its records as required_acks asks; with required_acks: none nobody
// acknowledges, so the ack comes before the brokers have the data.
var declareGuarantee = guarantee.From(Load, func(c Config, _ *config.Node) guarantee.Node {
	brokers := "Kafka (" + strings.Join(c.Brokers, ", ") + ")"
	switch c.RequiredAcks {
	case "none":
		return guarantee.Early("produces without waiting for any broker (required_acks: none): acks before the brokers have the data",
			"required_acks: none")
	case "leader":
		n := guarantee.Deliver(brokers, c.ExportTimeout())
		n.Line += "; required_acks: leader: lost if the leader fails before replicating"
		return n
	}
	n := guarantee.Deliver(brokers, c.ExportTimeout())
	n.Line += " (every in-sync replica)"
	return n
})
