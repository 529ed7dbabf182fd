package retry

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// benchEffects is the least an engine does for the retry core: it keeps the
// last sent message and the last wakeup armed, and forgets outcomes, so
// that a benchmark measures the node and not a harness.
type benchEffects struct {
	now  time.Time
	sent *pdata.Message
	wake wakeup.Due // the last arming
	err  error      // returned by SetWakeup
}

func (e *benchEffects) Now() time.Time                             { return e.now }
func (e *benchEffects) Send(m *pdata.Message) error                { e.sent = m; return nil }
func (e *benchEffects) SendTo(_ string, m *pdata.Message) error    { return e.Send(m) }
func (e *benchEffects) TrySend(m *pdata.Message) error             { return e.Send(m) }
func (e *benchEffects) TrySendTo(_ string, m *pdata.Message) error { return e.Send(m) }
func (e *benchEffects) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(2, in, cd)
}
func (e *benchEffects) NotifyAck(*pdata.Message)              {}
func (e *benchEffects) NotifyNack(*pdata.Message, pdata.Nack) {}
func (e *benchEffects) SetWakeup(slot wakeup.Slot, at time.Time) (wakeup.Revision, bool, error) {
	if e.err != nil {
		return 0, false, e.err
	}
	e.wake = wakeup.Due{Slot: slot, When: at, Revision: e.wake.Revision + 1}
	return e.wake.Revision, false, nil
}
func (e *benchEffects) CancelWakeup(wakeup.Slot) bool { return false }
func (e *benchEffects) RequeueLater(time.Time, *pdata.Message) error {
	return wakeup.ErrUnsupported
}
func (e *benchEffects) StartTimer(time.Duration)                                 {}
func (e *benchEffects) Post(any)                                                 {}
func (e *benchEffects) Drop(*pdata.Message, string)                              {}
func (e *benchEffects) DropPart(m *pdata.Message, kept *pdata.Payload, _ string) { m.Shrink(kept) }
func (e *benchEffects) Ports() []string                                          { return []string{"default"} }

var _ engine.Effects = (*benchEffects)(nil)

// fire plays the engine's timer: the clock reaches the last arming and the
// wakeup is delivered.
func fire(p *processor, fx *benchEffects) {
	fx.now = fx.wake.When
	_ = p.OnControl(engine.Control{Kind: engine.KindWakeup, Wakeup: fx.wake}, fx)
}

// outcome plays the engine's routing: pop the node's frame, deliver.
func outcome(p *processor, fx *benchEffects, kind engine.ControlKind) {
	m := fx.sent
	f, _ := m.Unwind(pdata.Acks | pdata.Nacks)
	_ = p.OnControl(engine.Control{Kind: kind, Msg: m, CallData: f.CallData, Nack: pdata.Nack{Reason: "503"}}, fx)
}

func BenchmarkRetry(b *testing.B) {
	cases := []struct {
		name  string
		nacks int // transient nacks before the ack
	}{
		{"ack", 0},
		{"nack-resume-ack", 1},
		{"3-nacks-then-ack", 3},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxElapsedTime = 0
			p := newTestCore(cfg)
			fx := &benchEffects{now: time.Unix(1, 0)}
			m := pdatatest.Msg(pdatatest.Logs(1))
			b.ReportAllocs()
			for b.Loop() {
				_ = p.OnPData(m, fx)
				for range c.nacks {
					outcome(p, fx, engine.KindNack)
					fire(p, fx)
				}
				outcome(p, fx, engine.KindAck)
			}
			if p.Pending() != 0 {
				b.Fatalf("pending = %d", p.Pending())
			}
		})
	}
}

var discard = slog.New(slog.DiscardHandler)

// newTestCore builds the core from cfg with unregistered metrics and a
// fixed jitter seed.
func newTestCore(cfg Config) *processor {
	pol := cfg.policy()
	return newCore(pol, newRand("t", "retry", 0, time.Unix(0, 0)), newMetrics(nil, nil, pol.maxParked), discard)
}
