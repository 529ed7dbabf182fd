package engine_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// tracker behaves like fan-out: keeps the original, sends a detached clone,
// answers the original on the clone's outcome, nacks what it still holds at
// the forced Shutdown.
type tracker struct {
	held    map[uint64]*pdata.Message
	next    uint64
	block   chan struct{}
	entered chan struct{}
}

func (r *tracker) OnPData(m *pdata.Message, fx engine.Effects) error {
	r.next++
	if r.next == 2 {
		r.entered <- struct{}{}
		<-r.block
	}
	r.held[r.next] = m
	c := m.CloneDetached()
	fx.Subscribe(c, pdata.AcksAndNacks, pdata.CallData{r.next})
	if err := fx.Send(c); err != nil {
		delete(r.held, r.next)
		fx.NotifyNack(m, pdata.Nack{Reason: err.Error(), Cause: pdata.CauseNodeShutdown})
	}
	return nil
}

func (r *tracker) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck, engine.KindNack:
		orig, ok := r.held[c.CallData[0]]
		if !ok {
			return nil // already answered
		}
		delete(r.held, c.CallData[0])
		if c.Kind == engine.KindAck {
			fx.NotifyAck(orig)
		} else {
			fx.NotifyNack(orig, c.Nack)
		}
	case engine.KindShutdown:
		if c.Forced {
			for id, m := range r.held {
				delete(r.held, id)
				fx.NotifyNack(m, pdata.Nack{Reason: "deadline", Cause: pdata.CauseNodeShutdown})
			}
		}
	}
	return nil
}

// The ack of message 1 is already in the tracker's control queue when the
// deadline strikes: it must be delivered before the forced Shutdown, or
// delivered data would be reported to the client as failed.
func TestForcedShutdownComesAfterBufferedAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &tracker{held: map[uint64]*pdata.Message{}, block: make(chan struct{}), entered: make(chan struct{}, 1)}
		out := newSink()
		out.hold = true
		tb := newTestbed(t, twoHop, map[string]engine.Processor{"a": a, "out": out}, engine.Options{})
		tb.eng.Start()
		src := tb.source("src")
		src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		<-a.entered // message 1 forwarded; a is busy with message 2
		synctest.Wait()
		out.releaseHeld() // out acks message 1: the ack waits in a's control queue
		synctest.Wait()
		done := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			done <- tb.eng.Shutdown(ctx)
		}()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		close(a.block)
		<-done
		acked, nacked, outstanding := src.counts()
		t.Logf("acked=%d nacked=%d outstanding=%d delivered-by-sink=%d", acked, nacked, outstanding, out.received())
		if acked != 1 || nacked != 1 || outstanding != 0 {
			t.Fatalf("message 1 reached the sink and was acked, but the client got a nack")
		}
	})
}
