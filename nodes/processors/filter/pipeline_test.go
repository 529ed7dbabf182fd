package filter_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/nodes/processors/filter"
	"github.com/ackflow/ackflow/pdata"
)

// These tests run the node in a real pipeline (inside a synctest bubble,
// no sockets): a source receiver that records the outcome of each message
// it admits, the filter under its reference URN, and a sink exporter.

const pipelineYAML = `
nodes:
  in: { type: receiver:filtertest_source }
  filter:
    type: urn:otel:processor:filter
    config:
      logs: { include: { severity_texts: [WARN] } }
  out: { type: exporter:filtertest_sink }
connections:
  - { from: in, to: filter }
  - { from: filter, to: out }
`

// outcome is what the source heard back for one message.
type outcome struct {
	ack  bool
	nack pdata.Nack
}

// source admits what the test puts in feed and records each outcome.
type source struct {
	feed chan *pdata.Message

	mu       sync.Mutex
	nextID   uint64
	outcomes map[uint64]outcome
	waiting  int
	drained  chan struct{}
	draining bool
}

func (s *source) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	for {
		select {
		case m := <-s.feed:
			s.mu.Lock()
			s.nextID++
			id := s.nextID
			s.waiting++
			s.mu.Unlock()
			fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{id})
			if err := fx.Send(ctx, m); err != nil {
				return fmt.Errorf("source: send: %w", err)
			}
		case <-ctx.Done():
			s.mu.Lock()
			s.draining = true
			if s.waiting == 0 {
				close(s.drained)
			}
			s.mu.Unlock()
			select {
			case <-s.drained:
			case <-fx.Aborted():
			}
			return nil
		}
	}
}

func (s *source) OnOutcome(c engine.Control) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes[c.CallData[0]] = outcome{ack: c.Kind == engine.KindAck, nack: c.Nack}
	s.waiting--
	if s.draining && s.waiting == 0 {
		close(s.drained)
	}
}

func (s *source) outcome(id uint64) (outcome, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.outcomes[id]
	return o, ok
}

// sink keeps what it receives and acks it, or nacks it with nack set.
type sink struct {
	mu   sync.Mutex
	got  []*pdata.Payload
	nack *pdata.Nack
}

func (s *sink) OnPData(m *pdata.Message, fx engine.Effects) error {
	s.mu.Lock()
	s.got = append(s.got, m.Payload())
	n := s.nack
	s.mu.Unlock()
	if n != nil {
		fx.NotifyNack(m, *n)
	} else {
		fx.NotifyAck(m)
	}
	return nil
}

func (*sink) OnControl(engine.Control, engine.Effects) error { return nil }

func (s *sink) received() []*pdata.Payload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*pdata.Payload(nil), s.got...)
}

// testbed is a running engine with the source and the sink.
type testbed struct {
	t   *testing.T
	eng *engine.Engine
	src *source
	out *sink
}

func newTestbed(t *testing.T) *testbed {
	t.Helper()
	tb := &testbed{t: t, src: &source{feed: make(chan *pdata.Message), outcomes: map[uint64]outcome{}, drained: make(chan struct{})}, out: &sink{}}
	tb.eng = enginetest.Start(t, enginetest.Pipeline(pipelineYAML), engine.Options{},
		filter.NewFactory(),
		engine.Factory{Type: "receiver:filtertest_source", NewReceiver: func(engine.NodeContext) (engine.Receiver, error) { return tb.src, nil }},
		engine.Factory{Type: "exporter:filtertest_sink", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return tb.out, nil }},
	)
	return tb
}

// send admits m and returns the id of its outcome.
func (tb *testbed) send(m *pdata.Message) uint64 {
	tb.src.feed <- m
	synctest.Wait() // the pipeline is idle: m was answered, or is held nowhere
	tb.src.mu.Lock()
	defer tb.src.mu.Unlock()
	return tb.src.nextID
}

// outcome returns the outcome of message id, which must have arrived.
func (tb *testbed) outcome(id uint64) outcome {
	tb.t.Helper()
	o, ok := tb.src.outcome(id)
	if !ok {
		tb.t.Fatalf("message %d: no outcome reached the source", id)
	}
	return o
}

// shutdown drains the pipeline and returns its flow.
func (tb *testbed) shutdown() engine.Flow {
	tb.t.Helper()
	enginetest.Shutdown(tb.t, tb.eng)
	return tb.eng.Status()[0].Flow
}

// Every message gets exactly one outcome at its sender: kept whole, the
// same payload reaches the exporter; filtered whole, the sender is acked
// at once and the items count as dropped; reduced, the exporter gets the
// smaller payload and its ack reaches the sender. The pipeline balances:
// admitted = delivered + nacked + dropped, the items removed from the
// reduced message counted as dropped with reason filtered, and no
// accounting mismatch.
func TestPipelineOutcomesAndAccounting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := newTestbed(t)
		warnOnly := logsPayload(t, buildLogs(t, logRes{recs: []logRec{{id: "w1", sevText: "WARN"}, {id: "w2", sevText: "WARN"}}}))
		none := logsPayload(t, buildLogs(t, logRes{recs: []logRec{{id: "i1", sevText: "INFO"}, {id: "i2", sevText: "INFO"}, {id: "i3"}}}))
		mixed := logsPayload(t, testLogs(t)) // r1 and r5 are WARN

		whole := tb.send(pdata.New(warnOnly))
		dropped := tb.send(pdata.New(none))
		reduced := tb.send(pdata.New(mixed))
		for _, id := range []uint64{whole, dropped, reduced} {
			if o := tb.outcome(id); !o.ack {
				t.Fatalf("message %d: %v, want an ack", id, o.nack)
			}
		}
		got := tb.out.received()
		if len(got) != 2 || got[0] != warnOnly {
			t.Fatalf("the sink got %d payloads (first untouched: %v), want the whole one as sent, then the reduced one", len(got), len(got) > 0 && got[0] == warnOnly)
		}
		if ids := logIDs(t, got[1]); len(ids) != 2 || ids[0] != "r1" || ids[1] != "r5" {
			t.Fatalf("reduced payload holds %v, want [r1 r5]", ids)
		}

		f := tb.shutdown()
		if f.Admitted != 11 || f.Delivered != 4 || f.Nacked != 0 || f.Dropped != 7 || f.InFlight() != 0 {
			t.Fatalf("flow %+v; want 11 admitted = 4 delivered + 0 nacked + 7 dropped, nothing in flight", f)
		}
		if f.Admitted != f.Delivered+f.Nacked+f.Dropped {
			t.Fatalf("flow %+v: admitted != delivered + nacked + dropped", f)
		}
		reg := tb.eng.Metrics()
		nodeDropped := enginetest.Value(t, reg, "ackflow_node_dropped_items_total", "node", "filter", "reason", filter.ReasonFiltered)
		filtered := enginetest.Value(t, reg, "ackflow_processor_filter_filtered_items_total", "node", "filter", "signal", "logs")
		if filtered != 7 || nodeDropped != 7 {
			// 3 from the message filtered whole, 4 removed from the mixed one.
			t.Fatalf("filtered_items_total %v, node dropped{filtered} %v; want 7 and 7", filtered, nodeDropped)
		}
		if got := enginetest.Sum(reg, "ackflow_pipeline_dropped_items_total"); got != 7 {
			t.Fatalf("pipeline dropped %v, want 7", got)
		}
		if got := enginetest.Sum(reg, "ackflow_accounting_mismatch_total"); got != 0 {
			t.Fatalf("accounting mismatches: %v", got)
		}
	})
}

// A nack of the reduced message reaches the original sender.
func TestPipelineNackOfReducedMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tb := newTestbed(t)
		tb.out.nack = &pdata.Nack{Reason: "backend refused", Permanent: true}
		id := tb.send(pdata.New(logsPayload(t, testLogs(t))))
		o := tb.outcome(id)
		if o.ack || o.nack.Reason != "backend refused" || !o.nack.Permanent {
			t.Fatalf("outcome %+v, want the sink's permanent nack", o)
		}
		if got := tb.out.received(); len(got) != 1 || got[0].Items() != 2 {
			t.Fatalf("the sink got %d payloads, want the reduced one", len(got))
		}
		f := tb.shutdown()
		if f.Admitted != 6 || f.Nacked != 2 || f.Dropped != 4 || f.Delivered != 0 {
			t.Fatalf("flow %+v, want 6 admitted: the 2 kept nacked, the 4 removed dropped", f)
		}
		if got := enginetest.Sum(tb.eng.Metrics(), "ackflow_accounting_mismatch_total"); got != 0 {
			t.Fatalf("accounting mismatches: %v", got)
		}
	})
}
