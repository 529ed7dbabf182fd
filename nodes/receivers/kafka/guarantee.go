package kafka

import (
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/guarantee"
)

// declareGuarantee says when a record counts as answered: its offset is
// committed after its outcome (commit.mode: manual, at least once), or
// whatever its outcome (auto, at most once across restarts).
var declareGuarantee = guarantee.From(Load, func(c Config, _ *config.Node) guarantee.Node {
	dead := "a permanent nack is dropped and counted"
	if c.DeadLetterTopic != "" {
		dead = "a permanent nack goes to " + c.DeadLetterTopic
	}
	in := guarantee.Intake{
		Answer: guarantee.AnswerAfterOutcome,
		Line:   "commits an offset only after the record's outcome (at least once); retries transient nacks itself; " + dead,
	}
	if c.Commit.Mode == "auto" {
		in = guarantee.Intake{
			Answer: guarantee.AnswerOnAdmission,
			Key:    "commit.mode: auto",
			Line:   "commits offsets whatever the outcome (commit.mode: auto): at most once across restarts and rebalances",
		}
	}
	return guarantee.Receiver(in)
})
