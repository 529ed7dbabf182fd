package retry

import (
	"errors"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// refusingEffects refuses every RequeueLater with err and records the nacks
// sent upstream.
type refusingEffects struct {
	benchEffects
	err   error
	nacks []pdata.Nack
}

func (e *refusingEffects) RequeueLater(time.Time, *pdata.Message) error { return e.err }

func (e *refusingEffects) NotifyNack(_ *pdata.Message, n pdata.Nack) { e.nacks = append(e.nacks, n) }

// The nodetest harness latches shutdown and delivers Shutdown together, so
// the window between them (RequeueLater refused with ErrShuttingDown while
// the node still runs) and errors the engine does not document are driven
// here directly.
func TestRequeueRefusal(t *testing.T) {
	errOdd := errors.New("odd engine error")
	tests := []struct {
		name   string
		err    error
		want   pdata.Nack
		reason giveUp
	}{
		{"shutdown latched", wakeup.ErrShuttingDown, pdata.Nack{
			Reason: "retry: shutting down, not retried after 1 attempt over 0s: down", Cause: pdata.CauseNodeShutdown,
		}, giveUpShutdown},
		{"queue full", wakeup.ErrResumeCapacity, pdata.Nack{
			Reason: "retry: cannot schedule a retry, the delayed resume queue is full, after 1 attempt over 0s: down", Cause: pdata.CauseCapacity,
		}, giveUpRequeueRejected},
		{"other error keeps the cause", errOdd, pdata.Nack{
			Reason: "retry: cannot schedule a retry (odd engine error), after 1 attempt over 0s: down", Cause: pdata.CauseTimeout,
		}, giveUpRequeueRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &processor{pol: DefaultConfig().policy(), rng: newRand("t", "n", 0, time.Unix(0, 0)), m: newMetrics(nil, nil), log: discard}
			fx := &refusingEffects{benchEffects: benchEffects{now: time.Unix(100, 0)}, err: tt.err}
			m := pdatatest.Msg(pdatatest.Logs(1))
			m.Subscribe(1, pdata.AcksAndNacks, pdata.CallData{42}) // upstream
			if err := p.OnPData(m, fx); err != nil {
				t.Fatal(err)
			}
			f, _ := m.Unwind(pdata.Nacks) // downstream refuses: the engine pops the node's frame
			err := p.OnControl(engine.Control{Kind: engine.KindNack, Msg: m, CallData: f.CallData,
				Nack: pdata.Nack{Reason: "down", Cause: pdata.CauseTimeout}}, fx)
			if err != nil {
				t.Fatal(err)
			}
			if len(fx.nacks) != 1 || fx.nacks[0] != tt.want {
				t.Fatalf("upstream nacks = %#v, want [%#v]", fx.nacks, tt.want)
			}
			// The frame pushed for the refused retry is gone: the nack goes
			// to upstream, not back to this node.
			if top, _ := m.Top(); m.Depth() != 1 || top.CallData[0] != 42 {
				t.Fatalf("route depth %d, top %+v: the node's retry frame was left on the message", m.Depth(), top)
			}
			if p.m.rejected.Value() != 1 || p.m.gaveUp[tt.reason].Value() != 1 || p.Pending() != 0 {
				t.Fatalf("rejected %d, gave_up{%s} %d, pending %d", p.m.rejected.Value(), tt.reason, p.m.gaveUp[tt.reason].Value(), p.Pending())
			}
		})
	}
}
