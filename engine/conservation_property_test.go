package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/processors/batch"
	"github.com/ackflow/ackflow/nodes/processors/durablebuffer"
	"github.com/ackflow/ackflow/nodes/processors/fanout"
	"github.com/ackflow/ackflow/nodes/processors/retry"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// The conservation property: whatever the traffic and however the sinks
// fail, every admitted item gets exactly one final outcome, the status
// never reports a mismatch while traffic flows, and at the end
// admitted = delivered + nacked + dropped per signal, matching what the
// receivers' clients were told.
//
// Two copies of:
//
//	src → retry → fan ─primary→ batch → a
//	                  ├backup (fallback)→ b
//	                  └analytics → durable_buffer → c
//
// where a, b and c ack, nack (transient or permanent), drop or answer late
// (past the fan-out's timeout), at random.
const conservationYAML = `
version: otel_dataflow/v1
policies:
  channel_capacity: { pdata: 4 }
  resources: { core_allocation: { type: core_count, count: 2 } }
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:random }
          retry:
            type: processor:retry
            config: { initial_interval: 2ms, max_interval: 10ms, max_retries: 2, max_elapsed_time: 0s }
          fan:
            type: processor:fanout
            outputs: [primary, backup, analytics]
            config:
              max_inflight: 64
              destinations:
                - { port: primary, primary: true, timeout: 50ms }
                - { port: backup, fallback_for: primary, timeout: 50ms }
                - { port: analytics }
          batch: { type: processor:batch, config: { max_batch_duration: 3ms } }
          buffer:
            type: processor:durable_buffer
            config: { path: %q, durability: write, poll_interval: 5ms, initial_retry_interval: 2ms, max_retry_interval: 10ms }
          a: { type: exporter:flaky }
          b: { type: exporter:flaky }
          c: { type: exporter:flaky }
        connections:
          - { from: src, to: retry }
          - { from: retry, to: fan }
          - { from: 'fan["primary"]', to: batch }
          - { from: batch, to: a }
          - { from: 'fan["backup"]', to: b }
          - { from: 'fan["analytics"]', to: buffer }
          - { from: buffer, to: c }
`

func TestConservationProperty(t *testing.T) {
	seeds := []uint64{1, 2, uint64(time.Now().UnixNano())}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runConservation(t, seed, 150)
		})
	}
}

func runConservation(t *testing.T, seed uint64, perCopy int) {
	var mu sync.Mutex
	var sources []*randomSource
	reg := engine.MustRegistry(
		fanout.NewFactory(), batch.NewFactory(), retry.NewFactory(), durablebuffer.NewFactory(),
		engine.Factory{Type: "receiver:random", NewReceiver: func(nc engine.NodeContext) (engine.Receiver, error) {
			mu.Lock()
			defer mu.Unlock()
			s := newRandomSource(seed+uint64(nc.Copy)*7919, perCopy)
			sources = append(sources, s)
			return s, nil
		}},
		engine.Factory{Type: "exporter:flaky", NewProcessor: func(nc engine.NodeContext) (engine.Processor, error) {
			return &flaky{rng: rand.New(rand.NewPCG(seed, uint64(nc.Copy)*31+uint64(len(nc.Node.Name)+int(nc.Node.Name[0]))))}, nil
		}},
	)
	doc := loadDoc(t, fmt.Sprintf(conservationYAML, t.TempDir()), reg)
	metrics := telemetry.NewRegistry()
	logs := &logBuffer{}
	eng, err := engine.New(doc, reg, engine.Options{Metrics: metrics, Logger: slogTo(logs)})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start()

	// Status reads at random moments while the traffic flows.
	stopReads, readsDone := make(chan struct{}), make(chan struct{})
	reads := 0
	go func() {
		defer close(readsDone)
		rng := rand.New(rand.NewPCG(seed, 99))
		for {
			select {
			case <-stopReads:
				return
			case <-time.After(time.Duration(rng.IntN(2000)) * time.Microsecond):
			}
			for _, ps := range eng.Status() {
				reads++
				if ps.Mismatches != 0 {
					t.Errorf("seed %d: mismatch while traffic flows: %+v\n%s", seed, ps.Signals, logs.String())
					return
				}
			}
		}
	}()
	for _, s := range sources {
		select {
		case <-s.sentAll:
		case <-time.After(time.Minute): // a guard against a hang, not a wait
			t.Fatalf("seed %d: the sources did not send everything", seed)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := eng.Shutdown(ctx); err != nil {
		t.Fatalf("seed %d: shutdown: %v", seed, err)
	}
	close(stopReads)
	<-readsDone

	ps := eng.Status()[0]
	if ps.Mismatches != 0 || mismatchMetric(metrics) != 0 || strings.Contains(logs.String(), "accounting mismatch") {
		t.Fatalf("seed %d: mismatches %d (metric %v):\n%s", seed, ps.Mismatches, mismatchMetric(metrics), logs.String())
	}
	var told [3]struct{ acked, nacked, refused uint64 }
	for _, s := range sources {
		if err := s.err(); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for sig := range told {
			told[sig].acked += s.acked[sig]
			told[sig].nacked += s.nacked[sig]
		}
	}
	for _, sf := range ps.Signals {
		f := sf.Flow
		if f.Admitted != f.Delivered+f.Nacked+f.Dropped || f.InFlight() != 0 {
			t.Errorf("seed %d: %s does not balance: %+v", seed, sf.Signal, f)
		}
		if c := told[sf.Signal]; c.acked != f.Delivered+f.Dropped || c.nacked != f.Nacked {
			t.Errorf("seed %d: %s: clients were told %d acked and %d nacked; the accounting says %+v", seed, sf.Signal, c.acked, c.nacked, f)
		}
	}
	if ps.Flow.Admitted == 0 || ps.Flow.Nacked == 0 || ps.Flow.Delivered == 0 {
		t.Errorf("seed %d: traffic did not exercise both outcomes: %+v", seed, ps.Flow)
	}
	t.Logf("seed %d: %d status reads, flow %+v", seed, reads, ps.Flow)
}

// randomSource admits perCopy messages of random signals and sizes, and
// checks that each gets exactly one outcome.
type randomSource struct {
	rng     *rand.Rand
	n       int
	sentAll chan struct{}

	mu          sync.Mutex
	waiting     map[uint64][2]int // id -> signal, items
	acked       [3]uint64
	nacked      [3]uint64
	problems    []string
	draining    bool
	outstanding chan struct{} // closed once draining and nothing waits
}

func newRandomSource(seed uint64, n int) *randomSource {
	return &randomSource{
		rng: rand.New(rand.NewPCG(seed, 17)), n: n, sentAll: make(chan struct{}),
		waiting: map[uint64][2]int{}, outstanding: make(chan struct{}),
	}
}

func (s *randomSource) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	for i := range s.n {
		sig := pdata.Signal(s.rng.IntN(3))
		items := 1 + s.rng.IntN(20)
		var p *pdata.Payload
		switch sig {
		case pdata.Logs:
			p = pdatatest.Logs(items)
		case pdata.Metrics:
			p = pdatatest.Metrics(items)
		default:
			p = pdatatest.Traces(items)
		}
		m := pdata.New(p)
		id := uint64(i + 1)
		s.mu.Lock()
		s.waiting[id] = [2]int{int(sig), items}
		s.mu.Unlock()
		fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{id})
		if err := fx.Send(ctx, m); err != nil {
			s.mu.Lock()
			delete(s.waiting, id)
			s.mu.Unlock()
		}
	}
	close(s.sentAll)
	<-ctx.Done()
	s.mu.Lock()
	s.draining = true
	if len(s.waiting) == 0 {
		close(s.outstanding)
	}
	s.mu.Unlock()
	select {
	case <-s.outstanding:
	case <-fx.Aborted():
	}
	return nil
}

func (s *randomSource) OnOutcome(c engine.Control) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.waiting[c.CallData[0]]
	if !ok {
		s.problems = append(s.problems, fmt.Sprintf("outcome %v for id %d, which has none pending", c.Kind, c.CallData[0]))
		return
	}
	delete(s.waiting, c.CallData[0])
	if c.Kind == engine.KindAck {
		s.acked[w[0]] += uint64(w[1])
	} else {
		s.nacked[w[0]] += uint64(w[1])
	}
	if s.draining && len(s.waiting) == 0 {
		close(s.outstanding)
	}
}

func (s *randomSource) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiting) > 0 {
		s.problems = append(s.problems, fmt.Sprintf("%d messages never answered", len(s.waiting)))
	}
	if len(s.problems) > 0 {
		return fmt.Errorf("source: %s", strings.Join(s.problems, "; "))
	}
	return nil
}

// flaky is an exporter that fails in every way an exporter may: it acks,
// nacks (transient or permanent), drops, or answers up to 80 ms later
// (past the fan-out's timeout), on a wakeup that keeps working while the
// pipeline drains.
type flaky struct {
	rng   *rand.Rand
	held  []heldMsg
	armed bool
}

type heldMsg struct {
	m   *pdata.Message
	due time.Time
}

func (f *flaky) WakeupSlots() int { return 1 }

func (f *flaky) Pending() int { return len(f.held) }

func (f *flaky) OnPData(m *pdata.Message, fx engine.Effects) error {
	if f.rng.IntN(100) < 20 {
		f.held = append(f.held, heldMsg{m, fx.Now().Add(time.Duration(1+f.rng.IntN(80)) * time.Millisecond)})
		f.arm(fx)
		return nil
	}
	f.answer(m, fx)
	return nil
}

func (f *flaky) arm(fx engine.Effects) {
	if f.armed || len(f.held) == 0 {
		return
	}
	if _, _, err := fx.SetWakeup(0, fx.Now().Add(2*time.Millisecond)); err == nil {
		f.armed = true
	}
}

func (f *flaky) answer(m *pdata.Message, fx engine.Effects) {
	switch r := f.rng.IntN(100); {
	case r < 60:
		fx.NotifyAck(m)
	case r < 80:
		fx.NotifyNack(m, pdata.Nack{Reason: "flaky: try again", Cause: pdata.CauseUnspecified})
	case r < 90:
		fx.NotifyNack(m, pdata.Nack{Reason: "flaky: never", Permanent: true})
	default:
		fx.Drop(m, "flaky")
	}
}

func (f *flaky) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindWakeup:
		f.armed = false
		now := fx.Now()
		kept := f.held[:0]
		for _, h := range f.held {
			if now.Before(h.due) {
				kept = append(kept, h)
				continue
			}
			f.answer(h.m, fx)
		}
		f.held = kept
		f.arm(fx)
	case engine.KindShutdown:
		for _, h := range f.held {
			if c.Forced {
				fx.NotifyNack(h.m, pdata.Nack{Reason: "flaky: stopped", Cause: pdata.CauseNodeShutdown})
			} else {
				f.answer(h.m, fx)
			}
		}
		f.held = nil
	}
	return nil
}
