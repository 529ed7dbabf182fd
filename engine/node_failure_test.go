package engine_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// failSecond subscribes and forwards the first message, fails on the second.
type failSecond struct{ n int }

func (r *failSecond) OnPData(m *pdata.Message, fx engine.Effects) error {
	r.n++
	if r.n == 2 {
		return errors.New("boom")
	}
	fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{42})
	return fx.Send(m)
}

func (r *failSecond) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck:
		fx.NotifyAck(c.Msg)
	case engine.KindNack:
		fx.NotifyNack(c.Msg, c.Nack)
	}
	return nil
}

// After a node fails, outcomes of messages it had already forwarded must
// still reach the receiver (they used to be counted and dropped).
func TestFailedNodePassesOnOutcomesOfForwardedData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		out.hold = true
		tb := newTestbed(t, twoHop, map[string]engine.Processor{"a": &failSecond{}, "out": out}, engine.Options{})
		tb.eng.Start()
		src := tb.source("src")
		src.feed <- pdatatest.Msg(pdatatest.Logs(1)) // forwarded, held by out
		src.feed <- pdatatest.Msg(pdatatest.Logs(1)) // a fails: nacked by the engine
		synctest.Wait()
		out.releaseHeld() // out acks the first one: it goes to a, which failed
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := tb.eng.Shutdown(ctx)
		acked, nacked, outstanding := src.counts()
		t.Logf("shutdown=%v acked=%d nacked=%d outstanding=%d flow=%+v", err, acked, nacked, outstanding, tb.eng.Status()[0].Flow)
		if outstanding != 0 {
			t.Fatalf("%d message(s) never answered", outstanding)
		}
	})
}
