package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// source is a test receiver: it admits what the test puts in feed and
// records the outcome of each message by the id it subscribed with.
type source struct {
	feed chan *pdata.Message

	mu       sync.Mutex
	nextID   uint64
	waiting  map[uint64]bool
	acked    int
	nacked   []pdata.Nack
	refused  int
	finished chan struct{} // closed when all outstanding outcomes arrived during drain
	draining bool
}

func newSource() *source {
	return &source{feed: make(chan *pdata.Message), waiting: map[uint64]bool{}, finished: make(chan struct{})}
}

func (s *source) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	for {
		select {
		case m := <-s.feed:
			s.mu.Lock()
			s.nextID++
			id := s.nextID
			s.waiting[id] = true
			s.mu.Unlock()
			fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{id})
			if err := fx.Send(ctx, m); err != nil {
				s.mu.Lock()
				delete(s.waiting, id)
				s.refused++
				s.mu.Unlock()
			}
		case <-ctx.Done():
			s.mu.Lock()
			s.draining = true
			if len(s.waiting) == 0 {
				close(s.finished)
			}
			s.mu.Unlock()
			select {
			case <-s.finished:
			case <-fx.Aborted():
			}
			return nil
		}
	}
}

func (s *source) OnOutcome(c engine.Control) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := c.CallData[0]
	if !s.waiting[id] {
		panic(fmt.Sprintf("source: outcome for unknown or answered id %d", id))
	}
	delete(s.waiting, id)
	if c.Kind == engine.KindAck {
		s.acked++
	} else {
		s.nacked = append(s.nacked, c.Nack)
	}
	if s.draining && len(s.waiting) == 0 {
		close(s.finished)
	}
}

func (s *source) counts() (acked, nacked, outstanding int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked, len(s.nacked), len(s.waiting)
}

// relay forwards pdata and, when subscribe is set, subscribes to the
// outcome and passes it upstream: traffic in both directions at every hop.
type relay struct{ subscribe bool }

func (r *relay) OnPData(m *pdata.Message, fx engine.Effects) error {
	if r.subscribe {
		fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{42})
	}
	if err := fx.Send(m); err != nil {
		fx.NotifyNack(m, pdata.Nack{Reason: err.Error(), Cause: pdata.CauseRouteClosed})
	}
	return nil
}

func (r *relay) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck:
		if c.CallData[0] != 42 {
			return fmt.Errorf("relay: call data %v, want 42", c.CallData)
		}
		fx.NotifyAck(c.Msg)
	case engine.KindNack:
		fx.NotifyNack(c.Msg, c.Nack)
	}
	return nil
}

// sink is a test exporter. By default it acks at once; hold keeps messages
// until the test releases them (or, with batch > 0, until batch are held);
// gate closes admission.
type sink struct {
	mu      sync.Mutex
	hold    bool
	batch   int
	closed  bool // gate
	got     []*pdata.Message
	held    []*pdata.Message
	arrived chan struct{} // one token per message
	fx      engine.Effects
	release chan struct{}
	forced  int
}

func newSink() *sink {
	return &sink{arrived: make(chan struct{}, 1<<16), release: make(chan struct{}, 1)}
}

func (s *sink) AcceptPData() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed
}

func (s *sink) setGate(open bool) {
	s.mu.Lock()
	s.closed = !open
	s.mu.Unlock()
}

func (s *sink) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

func (s *sink) OnPData(m *pdata.Message, fx engine.Effects) error {
	s.mu.Lock()
	s.fx = fx
	s.got = append(s.got, m)
	hold := s.hold
	var burst []*pdata.Message
	if hold {
		s.held = append(s.held, m)
		if s.batch > 0 && len(s.held) >= s.batch {
			burst, s.held = s.held, nil
		}
	}
	s.mu.Unlock()
	s.arrived <- struct{}{}
	if !hold {
		fx.NotifyAck(m)
	}
	for _, h := range burst {
		fx.NotifyAck(h)
	}
	return nil
}

// releaseHeld asks the sink's goroutine to ack what it holds. Safe from
// the test goroutine: Post is.
func (s *sink) releaseHeld() {
	s.mu.Lock()
	fx := s.fx
	s.mu.Unlock()
	if fx != nil {
		fx.Post(nil)
	}
}

func (s *sink) OnControl(c engine.Control, fx engine.Effects) error {
	switch {
	case c.Kind == engine.KindPosted: // release held messages: ack them
		s.mu.Lock()
		held := s.held
		s.held = nil
		s.mu.Unlock()
		for _, m := range held {
			fx.NotifyAck(m)
		}
	case c.Kind == engine.KindShutdown && c.Forced:
		s.mu.Lock()
		held := s.held
		s.held = nil
		s.forced++
		s.mu.Unlock()
		for _, m := range held {
			fx.NotifyNack(m, pdata.Nack{Reason: "sink stopped", Cause: pdata.CauseNodeShutdown})
		}
	}
	return nil
}

func (s *sink) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// testbed builds an engine from YAML with test node factories bound to
// the given instances by node name.
type testbed struct {
	t        *testing.T
	eng      *engine.Engine
	sources  map[string]*source
	procs    map[string]engine.Processor
	registry *telemetry.Registry
}

func newTestbed(t *testing.T, yaml string, procs map[string]engine.Processor, opts engine.Options) *testbed {
	t.Helper()
	tb := &testbed{t: t, sources: map[string]*source{}, procs: procs, registry: telemetry.NewRegistry()}
	var smu sync.Mutex
	reg := engine.MustRegistry(
		engine.Factory{Type: "receiver:test_source", NewReceiver: func(nc engine.NodeContext) (engine.Receiver, error) {
			smu.Lock()
			defer smu.Unlock()
			s := newSource()
			tb.sources[fmt.Sprintf("%s#%d", nc.Node.Name, nc.Copy)] = s
			return s, nil
		}},
		engine.Factory{Type: "processor:test", NewProcessor: tb.lookup},
		engine.Factory{Type: "exporter:test", NewProcessor: tb.lookup},
	)
	doc, err := config.Load("test.yaml", []byte(yaml), reg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if err := engine.Check(doc); err != nil {
		t.Fatalf("wiring: %v", err)
	}
	opts.Metrics = tb.registry
	tb.eng, err = engine.New(doc, reg, opts)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	return tb
}

func (tb *testbed) lookup(nc engine.NodeContext) (engine.Processor, error) {
	p, ok := tb.procs[nc.Node.Name]
	if !ok {
		return nil, fmt.Errorf("no test processor for node %q", nc.Node.Name)
	}
	return p, nil
}

func (tb *testbed) source(name string) *source { return tb.sources[name+"#0"] }

// shutdown drains with a generous deadline and fails the test if the
// drain was not clean.
func (tb *testbed) shutdown() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tb.eng.Shutdown(ctx); err != nil {
		tb.t.Fatalf("shutdown: %v", err)
	}
}
