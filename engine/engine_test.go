package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

const chainYAML = `
version: otel_dataflow/v1
policies:
  channel_capacity: { pdata: %d, control: { node: 1 } }
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          a:   { type: processor:test }
          b:   { type: processor:test }
          c:   { type: processor:test }
          out: { type: exporter:test }
        connections:
          - { from: src, to: a }
          - { from: a, to: b }
          - { from: b, to: c }
          - { from: c, to: out }
`

func chain(capacity int) string { return fmt.Sprintf(chainYAML, capacity) }

func feed(t *testing.T, s *source, n, items int) {
	t.Helper()
	p := pdatatest.Logs(items)
	for range n {
		s.feed <- pdata.New(p)
	}
}

func TestEndToEndAcksReachTheSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		tb := newTestbed(t, chain(8), map[string]engine.Processor{
			"a": &relay{subscribe: true}, "b": &relay{}, "c": &relay{subscribe: true}, "out": out,
		}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 100, 5)
		synctest.Wait()
		if acked, nacked, outstanding := tb.source("src").counts(); acked != 100 || nacked != 0 || outstanding != 0 {
			t.Fatalf("acked=%d nacked=%d outstanding=%d, want 100/0/0", acked, nacked, outstanding)
		}
		tb.shutdown()
		f := tb.eng.Status()[0].Flow
		if f.Admitted != 500 || f.Delivered != 500 || f.InFlight() != 0 {
			t.Fatalf("flow = %+v, want 500 admitted and delivered", f)
		}
	})
}

// The ack path must never deadlock nor block a pdata producer (docs/ENGINE.md, "The return route and the ack path"):
// every pdata channel holds one message, control queues start at one slot,
// every processor subscribes, and the sink acks in bursts of 50, so data
// and outcomes fill every queue in both directions at once.
func TestAckPathDoesNotDeadlockWithEveryQueueSaturated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		out.hold, out.batch = true, 50
		tb := newTestbed(t, chain(1), map[string]engine.Processor{
			"a": &relay{subscribe: true}, "b": &relay{subscribe: true}, "c": &relay{subscribe: true}, "out": out,
		}, engine.Options{})
		tb.eng.Start()
		const n = 2000
		src := tb.source("src")
		for range n {
			src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		}
		synctest.Wait()
		if acked, _, outstanding := src.counts(); acked != n || outstanding != 0 {
			t.Fatalf("acked=%d outstanding=%d, want %d acked: the ack path stalled", acked, outstanding, n)
		}
		tb.shutdown()
	})
}

func TestShutdownDeliversDataAdmittedBeforeIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		tb := newTestbed(t, chain(4), map[string]engine.Processor{
			"a": &relay{}, "b": &relay{}, "c": &relay{}, "out": out,
		}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 1, 1)
		synctest.Wait()
		out.setGate(false) // data piles up in the channels
		feed(t, tb.source("src"), 9, 1)
		synctest.Wait()
		done := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done <- tb.eng.Shutdown(ctx)
		}()
		synctest.Wait()
		out.setGate(true)
		out.releaseHeld() // wakes the sink's inbox to re-read its gate
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		if acked, nacked, _ := tb.source("src").counts(); acked != 10 || nacked != 0 || out.received() != 10 {
			t.Fatalf("acked=%d nacked=%d delivered=%d, want all 10 delivered", acked, nacked, out.received())
		}
	})
}

func TestShutdownDeadlineNacksEverythingHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		out.hold = true // the sink never answers by itself
		tb := newTestbed(t, chain(2), map[string]engine.Processor{
			"a": &relay{subscribe: true}, "b": &relay{}, "c": &relay{}, "out": out,
		}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 5, 1)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := tb.eng.Shutdown(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
		}
		if waited := time.Since(start); waited != 5*time.Second {
			t.Fatalf("shutdown waited %v of fake time, want exactly the 5s deadline", waited)
		}
		src := tb.source("src")
		acked, nacked, outstanding := src.counts()
		if acked != 0 || nacked != 5 || outstanding != 0 {
			t.Fatalf("acked=%d nacked=%d outstanding=%d, want every message nacked", acked, nacked, outstanding)
		}
		for _, n := range src.nacked {
			if n.Cause != pdata.CauseNodeShutdown {
				t.Fatalf("nack %v, want cause node_shutdown", n)
			}
		}
		if f := tb.eng.Status()[0].Flow; f.Nacked != 5 || f.InFlight() != 0 {
			t.Fatalf("flow %+v, want 5 nacked and nothing in flight", f)
		}
	})
}

func TestShutdownDeadlineNacksDataStuckInChannels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		out.setGate(false) // never opens: data stays queued
		tb := newTestbed(t, chain(2), map[string]engine.Processor{
			"a": &relay{}, "b": &relay{}, "c": &relay{}, "out": out,
		}, engine.Options{})
		tb.eng.Start()
		src := tb.source("src")
		go func() {
			for range 8 { // more than the channels hold: the last sends block
				src.feed <- pdatatest.Msg(pdatatest.Logs(2))
			}
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := tb.eng.Shutdown(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
		}
		acked, nacked, outstanding := src.counts()
		if acked != 0 || outstanding != 0 || nacked+src.refused != 8 {
			t.Fatalf("acked=%d nacked=%d refused=%d outstanding=%d: every message must be answered", acked, nacked, src.refused, outstanding)
		}
	})
}

func TestGateClosedDeliversControlOnlyAndLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		out.hold = true
		tb := newTestbed(t, chain(4), map[string]engine.Processor{
			"a": &relay{}, "b": &relay{}, "c": &relay{}, "out": out,
		}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 2, 1)
		synctest.Wait()
		out.setGate(false)
		go feed(t, tb.source("src"), 6, 1)
		synctest.Wait()
		if got := out.received(); got != 2 {
			t.Fatalf("sink received %d with its gate closed, want 2", got)
		}
		out.releaseHeld() // control still flows: the two held messages are acked
		synctest.Wait()
		if acked, _, _ := tb.source("src").counts(); acked != 2 {
			t.Fatalf("acked = %d, want 2 (acks flow while the gate is closed)", acked)
		}
		out.setGate(true)
		out.hold = false
		out.releaseHeld()
		synctest.Wait()
		if acked, nacked, _ := tb.source("src").counts(); acked != 8 || nacked != 0 {
			t.Fatalf("acked=%d nacked=%d after reopening, want all 8 acked", acked, nacked)
		}
		tb.shutdown()
	})
}

func TestNodeFailureFailsEngineAndNacksLaterData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		tb := newTestbed(t, chain(4), map[string]engine.Processor{
			"a": &relay{}, "b": failing{}, "c": &relay{}, "out": out,
		}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 3, 1)
		synctest.Wait()
		select {
		case <-tb.eng.Failed():
		default:
			t.Fatal("engine did not report the node failure")
		}
		if err := tb.eng.Err(); err == nil || !strings.Contains(err.Error(), `node "b"`) {
			t.Fatalf("Err() = %v, want it to name node b", err)
		}
		if acked, nacked, outstanding := tb.source("src").counts(); acked != 0 || nacked != 3 || outstanding != 0 {
			// the failing node's message and every later one are nacked by the engine
			t.Fatalf("acked=%d nacked=%d outstanding=%d", acked, nacked, outstanding)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tb.eng.Shutdown(ctx)
	})
}

type failing struct{}

func (failing) OnPData(*pdata.Message, engine.Effects) error   { return fmt.Errorf("cannot cope") }
func (failing) OnControl(engine.Control, engine.Effects) error { return nil }
