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

// slowRelay subscribes and forwards, but blocks in OnPData until the test
// lets it go: it is mid-message when the deadline strikes.
type slowRelay struct {
	entered chan struct{}
	unblock chan struct{}
	sendErr error
}

func (r *slowRelay) OnPData(m *pdata.Message, fx engine.Effects) error {
	r.entered <- struct{}{}
	<-r.unblock
	fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{42})
	if err := fx.Send(m); err != nil {
		r.sendErr = err
		fx.NotifyNack(m, pdata.Nack{Reason: err.Error(), Cause: pdata.CauseNodeShutdown})
	}
	return nil
}

func (r *slowRelay) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck:
		fx.NotifyAck(c.Msg)
	case engine.KindNack:
		fx.NotifyNack(c.Msg, c.Nack)
	}
	return nil
}

const twoHop = `
version: otel_dataflow/v1
policies:
  channel_capacity: { pdata: 4 }
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          a:   { type: processor:test }
          out: { type: exporter:test }
        connections:
          - { from: src, to: a }
          - { from: a, to: out }
`

// A node that sends after the deadline must get ErrAborted, and whatever
// still reaches a stopped consumer's channel must be answered: the
// receiver always gets an outcome.
func TestSendAfterDownstreamAbortStillAnswersTheSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := &slowRelay{entered: make(chan struct{}, 1), unblock: make(chan struct{})}
		out := newSink()
		out.hold = true
		tb := newTestbed(t, twoHop, map[string]engine.Processor{"a": a, "out": out}, engine.Options{})
		tb.eng.Start()
		src := tb.source("src")
		src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		<-a.entered
		done := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			done <- tb.eng.Shutdown(ctx)
		}()
		time.Sleep(2 * time.Second) // past the deadline: out has aborted and stopped
		synctest.Wait()
		close(a.unblock)
		<-done
		acked, nacked, outstanding := src.counts()
		f := tb.eng.Status()[0].Flow
		t.Logf("sendErr=%v acked=%d nacked=%d outstanding=%d flow=%+v lost=%v", a.sendErr, acked, nacked, outstanding, f,
			metric(tb, "ackflow_node_outcomes_after_stop_total", "a"))
		if outstanding != 0 || f.InFlight() != 0 {
			t.Fatalf("message never answered: outstanding=%d inflight=%d", outstanding, f.InFlight())
		}
	})
}

func metric(tb *testbed, name, node string) float64 {
	for _, s := range tb.registry.Snapshot() {
		if s.Name != name {
			continue
		}
		for _, l := range s.Labels {
			if l.Name == "node" && l.Value == node {
				return s.Value
			}
		}
	}
	return -1
}
