package retry

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// The parked queue retries in time order, equal times in parking order,
// and removeFrom takes out exactly the messages due at or after a time.
func TestParkedQueueOrder(t *testing.T) {
	var q parkedQueue
	base := time.Unix(100, 0)
	msgs := make([]*pdata.Message, 6)
	for i, off := range []time.Duration{3, 1, 2, 1, 5, 4} {
		msgs[i] = pdatatest.Msg(pdatatest.Logs(1))
		q.park(msgs[i], base.Add(off*time.Second), attempt{n: 2}, pdata.Nack{})
	}
	if at, ok := q.next(); !ok || !at.Equal(base.Add(time.Second)) {
		t.Fatalf("next = %v %v, want base+1s", at, ok)
	}
	late := q.removeFrom(base.Add(4 * time.Second))
	if len(late) != 2 || late[0].m != msgs[5] || late[1].m != msgs[4] {
		t.Fatalf("removeFrom(4s) = %d messages, want the ones at 4s then 5s", len(late))
	}
	if _, ok := q.popDue(base); ok {
		t.Fatal("popDue before the earliest time returned a message")
	}
	var got []*pdata.Message
	for {
		e, ok := q.popDue(base.Add(time.Hour))
		if !ok {
			break
		}
		got = append(got, e.m)
	}
	if want := []*pdata.Message{msgs[1], msgs[3], msgs[2], msgs[0]}; !slices.Equal(got, want) || q.Len() != 0 {
		t.Fatalf("popped in the wrong order (or %d left)", q.Len())
	}
}

// parkOne sends one message through p and nacks it transiently: it ends
// up parked.
func parkOne(t *testing.T, p *processor, fx *refusingEffects) {
	t.Helper()
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
}

// refusingEffects records the nacks sent upstream.
type refusingEffects struct {
	benchEffects
	nacks []pdata.Nack
}

func (e *refusingEffects) NotifyNack(_ *pdata.Message, n pdata.Nack) { e.nacks = append(e.nacks, n) }

// The engine refuses wakeups only once the node's outputs closed, which
// it does only when nothing is pending; should it refuse one while a
// message is parked, the message is answered (node_shutdown), not held
// forever. Any other refusal is a failure of the node.
func TestRetryWakeupRefused(t *testing.T) {
	t.Run("shutting down", func(t *testing.T) {
		p := newTestCore(DefaultConfig())
		fx := &refusingEffects{benchEffects: benchEffects{now: time.Unix(100, 0), err: wakeup.ErrShuttingDown}}
		parkOne(t, p, fx)
		want := pdata.Nack{
			Reason: "retry: the engine refused the retry wakeup: the node is shutting down while waiting for retry 1, after 1 attempt over 0s: down",
			Cause:  pdata.CauseNodeShutdown,
		}
		if len(fx.nacks) != 1 || fx.nacks[0] != want {
			t.Fatalf("upstream nacks = %#v, want [%#v]", fx.nacks, want)
		}
		if p.Pending() != 0 || p.m.parked.Value() != 0 || p.m.gaveUp[giveUpShutdown].Value() != 1 {
			t.Fatalf("pending %d, parked gauge %d, gave_up{shutdown} %d", p.Pending(), p.m.parked.Value(), p.m.gaveUp[giveUpShutdown].Value())
		}
	})
	t.Run("other error fails the node", func(t *testing.T) {
		p := newTestCore(DefaultConfig())
		fx := &refusingEffects{benchEffects: benchEffects{now: time.Unix(100, 0), err: wakeup.ErrCapacity}}
		m := pdatatest.Msg(pdatatest.Logs(1))
		if err := p.OnPData(m, fx); err != nil {
			t.Fatal(err)
		}
		f, _ := m.Unwind(pdata.Nacks)
		err := p.OnControl(engine.Control{Kind: engine.KindNack, Msg: m, CallData: f.CallData, Nack: pdata.Nack{Reason: "down"}}, fx)
		if !errors.Is(err, wakeup.ErrCapacity) || !strings.Contains(err.Error(), "retry: arm the retry wakeup") {
			t.Fatalf("err = %v", err)
		}
	})
}

// A wakeup delivery of an older arming is ignored; the current one sends.
func TestStaleRetryWakeupIgnored(t *testing.T) {
	p := newTestCore(DefaultConfig())
	fx := &refusingEffects{benchEffects: benchEffects{now: time.Unix(100, 0)}}
	parkOne(t, p, fx)
	cur := fx.wake
	fx.now, fx.sent = cur.When, nil
	for _, stale := range []wakeup.Due{{Slot: cur.Slot, When: cur.When, Revision: cur.Revision + 1}, {Slot: 7, When: cur.When, Revision: cur.Revision}} {
		if err := p.OnControl(engine.Control{Kind: engine.KindWakeup, Wakeup: stale}, fx); err != nil {
			t.Fatal(err)
		}
	}
	if fx.sent != nil || p.parked.Len() != 1 {
		t.Fatal("a stale wakeup sent the parked message")
	}
	if err := p.OnControl(engine.Control{Kind: engine.KindWakeup, Wakeup: cur}, fx); err != nil {
		t.Fatal(err)
	}
	if fx.sent == nil || p.parked.Len() != 0 || p.inFlight != 1 {
		t.Fatalf("sent %v, parked %d, in flight %d after the wakeup", fx.sent != nil, p.parked.Len(), p.inFlight)
	}
}

// The node never calls RequeueLater: a resume is an engine bug. The data
// is answered upstream (not lost) and the node fails.
func TestUnexpectedResume(t *testing.T) {
	p := newTestCore(DefaultConfig())
	fx := &refusingEffects{benchEffects: benchEffects{now: time.Unix(100, 0)}}
	err := p.OnControl(engine.Control{Kind: engine.KindResume, Msg: pdatatest.Msg(pdatatest.Logs(1))}, fx)
	if err == nil || len(fx.nacks) != 1 {
		t.Fatalf("err %v, nacks %v", err, fx.nacks)
	}
}
