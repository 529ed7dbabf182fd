package engine_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

const relayYAML = `
version: otel_dataflow/v1
policies:
  channel_capacity: { pdata: 16 }
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

func signalFlow(t *testing.T, ps engine.PipelineStatus, s pdata.Signal) engine.Flow {
	t.Helper()
	for _, sf := range ps.Signals {
		if sf.Signal == s {
			return sf.Flow
		}
	}
	t.Fatalf("no flow for %s in %+v", s, ps.Signals)
	return engine.Flow{}
}

func nodeStatus(t *testing.T, ps engine.PipelineStatus, name string) engine.NodeStatus {
	t.Helper()
	for _, n := range ps.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return engine.NodeStatus{}
}

func mismatchMetric(reg *telemetry.Registry) float64 {
	var n float64
	for _, s := range reg.Snapshot() {
		if s.Name == "ackflow_accounting_mismatch_total" {
			n += s.Value
		}
	}
	return n
}

// The status says, per signal, what was admitted and settled and what is
// in flight and since when, and per node what it holds.
func TestStatusReportsSignalsNodesAndAges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		out.hold = true
		tb := newTestbed(t, relayYAML, map[string]engine.Processor{"a": &relay{subscribe: true}, "out": out}, engine.Options{})
		tb.eng.Start()
		src := tb.source("src")
		for range 3 {
			src.feed <- pdata.New(pdatatest.Logs(5))
		}
		for range 2 {
			src.feed <- pdata.New(pdatatest.Metrics(4))
		}
		synctest.Wait()
		time.Sleep(5 * time.Second) // the bubble's clock: the held items age
		synctest.Wait()

		ps := tb.eng.Status()[0]
		logs, metrics := signalFlow(t, ps, pdata.Logs), signalFlow(t, ps, pdata.Metrics)
		if logs.Admitted != 15 || logs.InFlight() != 15 || metrics.Admitted != 8 || metrics.InFlight() != 8 {
			t.Fatalf("logs %+v, metrics %+v: want 15 and 8 admitted and in flight", logs, metrics)
		}
		if ps.Flow.Admitted != 23 || ps.Flow.InFlight() != 23 {
			t.Fatalf("total flow %+v, want 23 admitted and in flight", ps.Flow)
		}
		if age := logs.OldestInFlight; age < 4*time.Second || age > 5*time.Second {
			t.Fatalf("oldest logs in flight %v, want about 5s (a lower bound)", age)
		}
		if age := ps.Flow.OldestInFlight; age < 4*time.Second || age > 5*time.Second {
			t.Fatalf("oldest in flight %v, want about 5s", age)
		}
		s := nodeStatus(t, ps, "src")
		if s.Kind != "receiver" || s.InFlight != 23 || s.OldestInFlight < 4*time.Second || s.Sent != 23 {
			t.Fatalf("receiver status %+v: want 23 sent and in flight for about 5s", s)
		}
		if len(s.Outputs) != 1 || s.Outputs[0].Port != "default" || s.Outputs[0].To[0] != "a" || s.Outputs[0].Capacity != 16 {
			t.Fatalf("receiver outputs %+v", s.Outputs)
		}
		a := nodeStatus(t, ps, "a")
		if a.Kind != "processor" || a.InFlight != -1 || a.Received != 23 || a.Sent != 23 || a.QueueCapacity != 16 || a.State != "running" {
			t.Fatalf("processor status %+v", a)
		}
		o := nodeStatus(t, ps, "out")
		if o.Kind != "exporter" || o.InFlight != 23 || o.Received != 23 || o.Acked != 0 {
			t.Fatalf("exporter status %+v: want 23 received and held", o)
		}

		out.releaseHeld()
		synctest.Wait()
		ps = tb.eng.Status()[0]
		if f := ps.Flow; f.Delivered != 23 || f.InFlight() != 0 || f.OldestInFlight != 0 {
			t.Fatalf("after the acks: %+v", f)
		}
		if o := nodeStatus(t, ps, "out"); o.InFlight != 0 || o.Acked != 23 {
			t.Fatalf("exporter after the acks: %+v", o)
		}
		if s := nodeStatus(t, ps, "src"); s.InFlight != 0 || s.OldestInFlight != 0 {
			t.Fatalf("receiver after the acks: %+v", s)
		}
		tb.shutdown()
		if ps := tb.eng.Status()[0]; ps.Mismatches != 0 || mismatchMetric(tb.registry) != 0 {
			t.Fatalf("mismatches %d (metric %v) after a clean run", ps.Mismatches, mismatchMetric(tb.registry))
		}
	})
}

// Items older than the fine ring's span are aged by the coarse ring.
func TestOldestInFlightBeyondTheFineRing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		out.hold = true
		tb := newTestbed(t, relayYAML, map[string]engine.Processor{"a": &relay{}, "out": out}, engine.Options{})
		tb.eng.Start()
		tb.source("src").feed <- pdata.New(pdatatest.Traces(2))
		synctest.Wait()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		tb.source("src").feed <- pdata.New(pdatatest.Traces(1)) // a young item does not hide the old one
		synctest.Wait()
		f := signalFlow(t, tb.eng.Status()[0], pdata.Traces)
		if f.OldestInFlight < 10*time.Minute-140*time.Second || f.OldestInFlight > 10*time.Minute {
			t.Fatalf("oldest traces in flight %v, want 10m within the coarse resolution", f.OldestInFlight)
		}
		out.releaseHeld()
		synctest.Wait()
		tb.shutdown()
	})
}

// A failing node's failures are counted by cause on the node.
func TestStatusCountsNacksByCauseAndDropsByReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := newTestbed(t, relayYAML, map[string]engine.Processor{"a": &relay{}, "out": &judge{}}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 9, 2)
		synctest.Wait()
		ps := tb.eng.Status()[0]
		o := nodeStatus(t, ps, "out")
		if o.Acked != 6 || o.Nacked["timeout"] != 6 || o.Dropped["filtered"] != 6 || o.InFlight != 0 {
			t.Fatalf("exporter counters %+v: want 6 acked, 6 nacked (timeout), 6 dropped (filtered)", o)
		}
		if f := ps.Flow; f.Delivered != 6 || f.Nacked != 6 || f.Dropped != 6 || f.InFlight() != 0 {
			t.Fatalf("flow %+v", f)
		}
		tb.shutdown()
	})
}

// judge acks, nacks and drops in turn.
type judge struct{ n int }

func (j *judge) OnPData(m *pdata.Message, fx engine.Effects) error {
	j.n++
	switch j.n % 3 {
	case 0:
		fx.NotifyAck(m)
	case 1:
		fx.NotifyNack(m, pdata.Nack{Reason: "slow", Cause: pdata.CauseTimeout})
	default:
		fx.Drop(m, "filtered")
	}
	return nil
}

func (*judge) OnControl(engine.Control, engine.Effects) error { return nil }

// lenient is a receiver that admits what it is fed and records every
// outcome, even one that should not happen (a second outcome).
type lenient struct {
	feed chan *pdata.Message

	mu       sync.Mutex
	outcomes []engine.Control
}

func (l *lenient) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	for {
		select {
		case m := <-l.feed:
			fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{7, 8, 9})
			_ = fx.Send(ctx, m)
		case <-ctx.Done():
			return nil
		}
	}
}

func (l *lenient) OnOutcome(c engine.Control) {
	l.mu.Lock()
	l.outcomes = append(l.outcomes, c)
	l.mu.Unlock()
}

// doubler is a buggy processor: it answers a message and a clone of it,
// which carries the same return route: the item is settled twice.
type doubler struct{}

func (doubler) OnPData(m *pdata.Message, fx engine.Effects) error {
	c := m.Clone()
	fx.NotifyAck(m)
	fx.NotifyAck(c)
	return nil
}

func (doubler) OnControl(engine.Control, engine.Effects) error { return nil }

// swallower is a buggy exporter: it never answers, not even at its forced
// shutdown.
type swallower struct{}

func (swallower) OnPData(*pdata.Message, engine.Effects) error   { return nil }
func (swallower) OnControl(engine.Control, engine.Effects) error { return nil }

const lenientYAML = `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:lenient }
          out: { type: exporter:test }
        connections:
          - { from: src, to: out }
`

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func lenientEngine(t *testing.T, out engine.Processor) (*engine.Engine, *lenient, *telemetry.Registry, *logBuffer) {
	t.Helper()
	src := &lenient{feed: make(chan *pdata.Message)}
	reg := engine.MustRegistry(
		engine.Factory{Type: "receiver:lenient", NewReceiver: func(engine.NodeContext) (engine.Receiver, error) { return src, nil }},
		engine.Factory{Type: "exporter:test", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return out, nil }},
	)
	doc := loadDoc(t, lenientYAML, reg)
	metrics := telemetry.NewRegistry()
	logs := &logBuffer{}
	eng, err := engine.New(doc, reg, engine.Options{Metrics: metrics, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return eng, src, metrics, logs
}

// An item settled twice is caught while the pipeline runs, counted and
// logged once however often the status is read.
func TestConservationCheckCatchesADoubleOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eng, src, metrics, logs := lenientEngine(t, doubler{})
		eng.Start()
		src.feed <- pdata.New(pdatatest.Logs(3))
		synctest.Wait()
		for range 3 {
			eng.Status()
		}
		if got := logs.count("check=outcome_without_admission"); got != 1 {
			t.Fatalf("logged %d times, want once:\n%s", got, logs.b.String())
		}
		if got := mismatchMetric(metrics); got != 1 {
			t.Fatalf("ackflow_accounting_mismatch_total = %v, want 1", got)
		}
		if ps := eng.Status()[0]; ps.Mismatches != 1 {
			t.Fatalf("status mismatches %d, want 1", ps.Mismatches)
		}
		src.mu.Lock()
		for _, c := range src.outcomes {
			if c.CallData != (pdata.CallData{7, 8, 0}) {
				t.Errorf("receiver got call data %v, want its two words and the engine's third zeroed", c.CallData)
			}
		}
		src.mu.Unlock()
		if err := eng.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := logs.count("check=unbalanced_at_exit"); got != 1 {
			t.Fatalf("exit check logged %d times, want once:\n%s", got, logs.b.String())
		}
	})
}

// An item that never gets an outcome is caught at exit.
func TestConservationCheckCatchesALostItemAtExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eng, src, metrics, logs := lenientEngine(t, swallower{})
		eng.Start()
		src.feed <- pdata.New(pdatatest.Logs(4))
		synctest.Wait()
		if eng.Status()[0].Mismatches != 0 {
			t.Fatal("an item in flight is not a mismatch while the pipeline runs")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = eng.Shutdown(ctx) // the deadline: the swallower still says nothing
		eng.Status()
		if got := logs.count("check=unbalanced_at_exit"); got != 1 || !strings.Contains(logs.b.String(), "admitted=4") {
			t.Fatalf("exit check logged %d times, want once with the counters:\n%s", got, logs.b.String())
		}
		if got := mismatchMetric(metrics); got != 1 {
			t.Fatalf("ackflow_accounting_mismatch_total = %v, want 1", got)
		}
	})
}

func loadDoc(t *testing.T, yaml string, reg *engine.Registry) *config.Document {
	t.Helper()
	doc, err := config.Load("test.yaml", []byte(yaml), reg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if err := engine.Check(doc); err != nil {
		t.Fatalf("wiring: %v", err)
	}
	return doc
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func slogTo(l *logBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
