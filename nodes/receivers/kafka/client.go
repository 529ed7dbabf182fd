package kafka

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientOpts are the kgo options of the receiver's client: a group
// consumer that never commits on its own (DisableAutoCommit), whose
// rebalances wait for the poll loop to admit what it fetched
// (BlockRebalanceOnPoll), and which produces dead letters.
func (r *Receiver) clientOpts() []kgo.Opt {
	c := &r.cfg
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.WithLogger(kgoLogger{r.logger}),

		kgo.ConsumerGroup(c.GroupID),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(r.onAssigned),
		kgo.OnPartitionsRevoked(r.onRevoked),
		kgo.OnPartitionsLost(r.onLost),
		kgo.Balancers(balancer(c.RebalanceStrategy)),
		kgo.SessionTimeout(ms(c.SessionTimeoutMs)),
		kgo.HeartbeatInterval(ms(c.HeartbeatIntervalMs)),
		kgo.RebalanceTimeout(rebalanceTimeout),

		kgo.ConsumeResetOffset(resetOffset(c.AutoOffsetReset)),
		kgo.FetchMinBytes(int32(c.FetchMinBytes)),
		kgo.FetchMaxBytes(int32(c.FetchMaxBytes)),
		kgo.FetchMaxPartitionBytes(int32(c.MaxPartitionFetchBytes)),
		kgo.FetchMaxWait(ms(c.MaxFetchWaitMs)),

		// Dead letters: a produce fails after the timeout (and is tried
		// again after a backoff); no idempotence, which would need the
		// IDEMPOTENT_WRITE permission for little gain in an at-least-once
		// path.
		kgo.RecordDeliveryTimeout(time.Duration(c.Timeout)),
		kgo.DisableIdempotentWrite(),
	}
	if c.IsolationLevel == "read_committed" {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	opts = append(opts, r.router.consumeOpts()...)
	if r.instanceID != "" {
		opts = append(opts, kgo.InstanceID(r.instanceID))
	}
	if r.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(r.tls))
	}
	if c.Auth != nil && c.Auth.SASL != nil {
		opts = append(opts, kgo.SASL(mechanism(c.Auth.SASL)))
	}
	return append(opts, r.extraOpts...)
}

func balancer(name string) kgo.GroupBalancer {
	switch name {
	case "range":
		return kgo.RangeBalancer()
	case "round_robin":
		return kgo.RoundRobinBalancer()
	case "sticky":
		return kgo.StickyBalancer()
	}
	return kgo.CooperativeStickyBalancer()
}

func resetOffset(name string) kgo.Offset {
	if name == "earliest" {
		return kgo.NewOffset().AtStart()
	}
	return kgo.NewOffset().AtEnd()
}

func mechanism(s *SASL) sasl.Mechanism {
	switch s.Mechanism {
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.Username, Pass: s.Password}.AsSha512Mechanism()
	}
	return plain.Auth{User: s.Username, Pass: s.Password}.AsMechanism()
}

// kgoLogger passes kgo's warnings and errors to the node's logger.
type kgoLogger struct{ l *slog.Logger }

func (kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lv := slog.LevelInfo
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	case kgo.LogLevelDebug:
		lv = slog.LevelDebug
	}
	k.l.Log(context.Background(), lv, "kafka client: "+msg, keyvals...)
}
