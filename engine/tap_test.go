package engine_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// runRelay feeds n messages of 2 logs through src → a → out (acking) with
// an optional tap on a, and returns what the source and the flow saw.
func runRelay(t *testing.T, n int, tap *engine.TapOptions) (acked, nacked int, flow engine.Flow, sent []*pdata.Payload, tp *engine.Tap) {
	t.Helper()
	tb := newTestbed(t, relayYAML, map[string]engine.Processor{"a": &relay{subscribe: true}, "out": newSink()}, engine.Options{})
	tb.eng.Start()
	if tap != nil {
		var err error
		if tp, err = tb.eng.Tap(*tap); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		p := pdatatest.Logs(2)
		sent = append(sent, p)
		tb.source("src").feed <- pdata.New(p)
	}
	synctest.Wait()
	acked, nacked, _ = tb.source("src").counts()
	tb.shutdown()
	return acked, nacked, tb.eng.Status()[0].Flow, sent, tp
}

// A tap sees what a node sent, and delivery is what it is without one.
func TestTapSeesWhatPassesAndDeliveryIsUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		acked0, nacked0, flow0, _, _ := runRelay(t, 100, nil)
		acked, nacked, flow, sent, tp := runRelay(t, 100, &engine.TapOptions{Node: "a", Buffer: 1000})
		if acked != acked0 || nacked != nacked0 || flow != flow0 || acked != 100 || flow.Delivered != 200 {
			t.Fatalf("with a tap: acked %d nacked %d flow %+v; without: %d %d %+v", acked, nacked, flow, acked0, nacked0, flow0)
		}
		if tp.Pipeline != "g/p" || tp.Node != "a" || tp.Port != "default" {
			t.Fatalf("tap on %s %s %s", tp.Pipeline, tp.Node, tp.Port)
		}
		<-tp.Done() // the pipeline stopped
		if len(tp.C) != 100 || tp.Taken() != 100 || tp.Dropped() != 0 {
			t.Fatalf("tap holds %d samples (taken %d, dropped %d), want 100", len(tp.C), tp.Taken(), tp.Dropped())
		}
		for i, p := range sent {
			if s := <-tp.C; s.Payload != p || s.Copy != 0 {
				t.Fatalf("sample %d is %p (copy %d), want the payload sent, %p", i, s.Payload, s.Copy, p)
			}
		}
		tp.Close() // idempotent after the pipeline stopped
	})
}

// A tap nobody reads drops samples; the pipeline never waits for it.
func TestUnreadTapDoesNotSlowThePipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		acked, _, flow, _, tp := runRelay(t, 200, &engine.TapOptions{Node: "a", Buffer: 4})
		if acked != 200 || flow.Delivered != 400 {
			t.Fatalf("acked %d, flow %+v: the pipeline waited for the tap", acked, flow)
		}
		if tp.Taken() != 4 || tp.Dropped() != 196 {
			t.Fatalf("taken %d dropped %d, want 4 and 196", tp.Taken(), tp.Dropped())
		}
	})
}

// The rate bounds the samples per second; skipped messages are not drops.
func TestTapRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := newTestbed(t, relayYAML, map[string]engine.Processor{"a": &relay{}, "out": newSink()}, engine.Options{})
		tb.eng.Start()
		tp, err := tb.eng.Tap(engine.TapOptions{Pipeline: "p", Node: "src", Rate: 2})
		if err != nil {
			t.Fatal(err)
		}
		feed(t, tb.source("src"), 10, 1)
		synctest.Wait()
		if tp.Taken() != 1 || tp.Dropped() != 0 {
			t.Fatalf("taken %d dropped %d in the first half second, want 1 and 0", tp.Taken(), tp.Dropped())
		}
		// Past the refill at 500 ms, not on it: goroutines that wake at
		// the same instant run in no fixed order.
		time.Sleep(600 * time.Millisecond)
		feed(t, tb.source("src"), 10, 1)
		synctest.Wait()
		if tp.Taken() != 2 {
			t.Fatalf("taken %d after a second period, want 2", tp.Taken())
		}
		if n := nodeStatus(t, tb.eng.Status()[0], "src").Outputs[0].Taps; n != 1 {
			t.Fatalf("status shows %d taps, want 1", n)
		}
		tp.Close()
		if n := nodeStatus(t, tb.eng.Status()[0], "src").Outputs[0].Taps; n != 0 {
			t.Fatalf("status shows %d taps after Close, want 0", n)
		}
		tb.shutdown()
	})
}

func TestTapErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := newTestbed(t, `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          out: { type: exporter:test }
        connections:
          - { from: src, to: out }
      q:
        nodes:
          src: { type: receiver:test_source }
          out: { type: exporter:test }
        connections:
          - { from: src, to: out }
`, map[string]engine.Processor{"out": newSink()}, engine.Options{})
		tb.eng.Start()
		for _, tc := range []struct {
			o    engine.TapOptions
			want error
		}{
			{engine.TapOptions{Node: "nope"}, engine.ErrUnknownNode},
			{engine.TapOptions{Pipeline: "g/r", Node: "src"}, engine.ErrUnknownNode},
			{engine.TapOptions{Node: "src"}, engine.ErrAmbiguousNode},
			{engine.TapOptions{Pipeline: "q", Node: "out"}, engine.ErrUnknownPort},
			{engine.TapOptions{Pipeline: "g/q", Node: "src", Port: "other"}, engine.ErrUnknownPort},
		} {
			if _, err := tb.eng.Tap(tc.o); !errors.Is(err, tc.want) {
				t.Errorf("Tap(%+v) = %v, want %v", tc.o, err, tc.want)
			}
		}
		tp, err := tb.eng.Tap(engine.TapOptions{Pipeline: "g/q", Node: "src"})
		if err != nil {
			t.Fatal(err)
		}
		tb.shutdown()
		<-tp.Done()
	})
}
