// Package nodetest steps one processor or exporter through the engine's
// contract without goroutines, channels or sleeps: a fake clock, captured
// outputs, scripted acks and nacks from downstream, and a record of every
// outcome that reaches upstream. It follows raft's fake network: tests drive
// the node, the harness plays the engine.
package nodetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// Node ids used on the routes the harness builds.
const (
	UpstreamID pdata.NodeID = 1 // the harness's stand-in for the sender
	NodeID     pdata.NodeID = 2 // the node under test
)

// Start is the fake clock's initial time.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Outcome is an ack or nack that reached upstream.
type Outcome struct {
	Kind engine.ControlKind // KindAck or KindNack
	Msg  *pdata.Message
	ID   uint64 // the id given to the input by SendPData
	Nack pdata.Nack
}

// Option configures a Harness.
type Option func(*Harness)

// WithOutputs declares the node's output ports (default: "default").
func WithOutputs(ports ...string) Option { return func(h *Harness) { h.ports = ports } }

// WithPortCapacity makes sends on every port fail with ErrFull once n
// messages are captured and not yet taken with TakeSent. The harness never
// blocks, so Send fails like TrySend where the engine's Send would wait.
func WithPortCapacity(n int) Option { return func(h *Harness) { h.portCap = n } }

// WithResumeCapacity sets how many RequeueLater messages may wait (default 128).
func WithResumeCapacity(n int) Option { return func(h *Harness) { h.resumeCap = n } }

// WithRegistry registers the node's metrics in r.
func WithRegistry(r *telemetry.Registry) Option { return func(h *Harness) { h.Metrics = r } }

// Harness drives one processor or exporter.
type Harness struct {
	T       testing.TB
	Clock   *clock.Fake
	Metrics *telemetry.Registry
	Node    engine.Processor

	ports     []string
	portCap   int
	resumeCap int
	sent      map[string][]*pdata.Message
	upstream  []Outcome
	dropped   map[string]int
	queued    []*pdata.Message // pdata refused by the gate, delivered when it opens
	nextID    uint64

	sched        *wakeup.Scheduler
	resumes      *wakeup.Resumes[*pdata.Message]
	timer        time.Duration
	nextTick     time.Time
	shutdownSeen bool // Shutdown delivered: no more pdata
	forced       bool // the forced Shutdown was delivered
	shutdown     bool // outputs closed: after Shutdown, once nothing is pending
	latched      bool // resumes made due

	mu     sync.Mutex      // guards what other goroutines may touch:
	posted []any           // Post
	routed []routedOutcome // NotifyAck / NotifyNack from exporter goroutines
	async  chan struct{}   // signalled (never blocking) when posted or routed grows
}

type routedOutcome struct {
	m    *pdata.Message
	ack  bool
	nack pdata.Nack
}

// New builds the node from f with the YAML config block cfg ("" for none).
// The config must pass f.Validate.
func New(t testing.TB, f engine.Factory, cfg string, opts ...Option) *Harness {
	t.Helper()
	h := &Harness{
		T: t, Clock: clock.NewFake(Start), ports: []string{"default"}, resumeCap: 128,
		sent: map[string][]*pdata.Message{}, dropped: map[string]int{},
		async: make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(h)
	}
	n, err := NodeConfig(f.Type, cfg, h.ports)
	if err != nil {
		t.Fatalf("nodetest: %v", err)
	}
	if f.Validate != nil {
		if err := f.Validate(n); err != nil {
			t.Fatalf("nodetest: config rejected: %v", err)
		}
	}
	p, err := f.NewProcessor(engine.NodeContext{
		Node: n, Pipeline: "test/main", Clock: h.Clock, Logger: discardLogger(),
		Metrics: h.Metrics, Labels: telemetry.Labels("pipeline", "test/main", "node", n.Name),
	})
	if err != nil {
		t.Fatalf("nodetest: build %s: %v", f.Type, err)
	}
	h.Node = p
	slots := 0
	if w, ok := p.(engine.WakeupUser); ok {
		slots = w.WakeupSlots()
	}
	h.sched = wakeup.NewScheduler(slots, nil)
	h.resumes = wakeup.NewResumes[*pdata.Message](h.resumeCap, nil)
	return h
}

// NodeConfig builds a config.Node of type typeName named "node" with the
// YAML config block cfg and the given output ports.
func NodeConfig(typeName, cfg string, ports []string) (*config.Node, error) {
	n := &config.Node{Name: "node", Type: typeName, Outputs: ports}
	if cfg != "" {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil {
			return nil, fmt.Errorf("config block: %w", err)
		}
		if len(doc.Content) > 0 {
			n.Config = doc.Content[0]
		}
	}
	return n, nil
}

// ValidateConfig runs f.Validate on the YAML config block cfg, for
// validation tests.
func ValidateConfig(f engine.Factory, cfg string, ports ...string) error {
	if len(ports) == 0 {
		ports = []string{"default"}
	}
	n, err := NodeConfig(f.Type, cfg, ports)
	if err != nil {
		return err
	}
	if f.Validate == nil {
		return nil
	}
	return f.Validate(n)
}

// SendPData delivers m from upstream, after subscribing the upstream frame
// so that the outcome is recorded with a fresh id, which it returns. If the
// node's gate is closed the message waits, as in the engine's inbox.
func (h *Harness) SendPData(m *pdata.Message) uint64 {
	h.T.Helper()
	h.nextID++
	m.Subscribe(UpstreamID, pdata.AcksAndNacks, pdata.CallData{h.nextID})
	h.queued = append(h.queued, m)
	h.pump()
	return h.nextID
}

// Queued is the number of pdata messages waiting for the gate to open.
func (h *Harness) Queued() int { return len(h.queued) }

func (h *Harness) accepts() bool {
	g, ok := h.Node.(engine.Gate)
	return !ok || g.AcceptPData()
}

// pump delivers queued pdata while the gate is open, then drains posts and
// outcomes routed from other goroutines.
func (h *Harness) pump() {
	h.T.Helper()
	for {
		h.drainAsync()
		if len(h.queued) == 0 || h.shutdownSeen || !h.accepts() {
			return
		}
		m := h.queued[0]
		h.queued = h.queued[1:]
		if err := h.Node.OnPData(m, (*effects)(h)); err != nil {
			h.T.Fatalf("nodetest: OnPData: %v", err)
		}
	}
}

// Control delivers one control message to the node.
func (h *Harness) Control(c engine.Control) {
	h.T.Helper()
	if err := h.Node.OnControl(c, (*effects)(h)); err != nil {
		h.T.Fatalf("nodetest: OnControl(%s): %v", c.Kind, err)
	}
	if c.Kind == engine.KindShutdown {
		h.shutdownSeen = true
		h.forced = h.forced || c.Forced
	}
	h.pump()
	h.maybeCloseOutputs()
}

// maybeCloseOutputs plays the engine: after Shutdown a node's outputs
// close, and its wakeups are dropped, once it holds nothing (Pending is 0)
// or the forced Shutdown was delivered.
func (h *Harness) maybeCloseOutputs() {
	if h.shutdownSeen && !h.shutdown && (h.forced || h.Pending() == 0) {
		h.shutdown = true
		h.sched.BeginShutdown()
	}
}

// OutputsClosed reports whether the node's outputs are closed.
func (h *Harness) OutputsClosed() bool { return h.shutdown }

// Sent returns the messages the node sent on port and not yet taken.
func (h *Harness) Sent(port string) []*pdata.Message { return h.sent[port] }

// TakeSent returns and forgets the messages sent on port.
func (h *Harness) TakeSent(port string) []*pdata.Message {
	s := h.sent[port]
	delete(h.sent, port)
	return s
}

// RequireSent fails unless exactly n messages were sent on port, and
// returns them (taken).
func (h *Harness) RequireSent(port string, n int) []*pdata.Message {
	h.T.Helper()
	s := h.TakeSent(port)
	if len(s) != n {
		h.T.Fatalf("sent on %q: got %d messages, want %d", port, len(s), n)
	}
	return s
}

// Ack plays downstream acknowledging m (a message the node sent).
func (h *Harness) Ack(m *pdata.Message) { h.T.Helper(); h.route(m, true, pdata.Nack{}) }

// Nack plays downstream refusing m.
func (h *Harness) Nack(m *pdata.Message, n pdata.Nack) { h.T.Helper(); h.route(m, false, n) }

// route is the engine's ack routing: pop to the nearest interested frame,
// deliver to the node or record upstream.
func (h *Harness) route(m *pdata.Message, ack bool, n pdata.Nack) {
	h.T.Helper()
	want, kind := pdata.Nacks, engine.KindNack
	if ack {
		want, kind = pdata.Acks, engine.KindAck
	}
	f, ok := m.Unwind(want)
	if !ok {
		return
	}
	switch f.Node {
	case UpstreamID:
		h.upstream = append(h.upstream, Outcome{Kind: kind, Msg: m, ID: f.CallData[0], Nack: n})
	case NodeID:
		h.Control(engine.Control{Kind: kind, Msg: m, CallData: f.CallData, Nack: n})
	default:
		h.T.Fatalf("nodetest: outcome routed to unknown node %d", f.Node)
	}
}

// Upstream returns the outcomes that reached upstream so far, in order.
func (h *Harness) Upstream() []Outcome { h.drainAsync(); return h.upstream }

// TakeUpstream returns and forgets the outcomes that reached upstream.
func (h *Harness) TakeUpstream() []Outcome {
	h.drainAsync()
	u := h.upstream
	h.upstream = nil
	return u
}

// RequireAcked fails unless exactly the inputs ids were acked upstream, in
// any order, and nothing else reached upstream; the outcomes are taken.
func (h *Harness) RequireAcked(ids ...uint64) {
	h.T.Helper()
	h.requireOutcomes(engine.KindAck, ids)
}

// RequireNacked is RequireAcked for nacks; it returns the outcomes so the
// test can check the reasons.
func (h *Harness) RequireNacked(ids ...uint64) []Outcome {
	h.T.Helper()
	return h.requireOutcomes(engine.KindNack, ids)
}

func (h *Harness) requireOutcomes(kind engine.ControlKind, ids []uint64) []Outcome {
	h.T.Helper()
	got := h.TakeUpstream()
	var gotIDs []uint64
	for _, o := range got {
		if o.Kind != kind {
			h.T.Fatalf("upstream: got %s for input %d (%v), want only %ss of %v", o.Kind, o.ID, o.Nack, kind, ids)
		}
		gotIDs = append(gotIDs, o.ID)
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	slices.SortFunc(gotIDs, cmp.Compare)
	if !slices.Equal(gotIDs, want) {
		h.T.Fatalf("upstream %ss: got inputs %v, want %v", kind, gotIDs, want)
	}
	return got
}

// Advance moves the fake clock by d and delivers, in deadline order, the
// timer ticks, due resumes and due wakeups on the way.
func (h *Harness) Advance(d time.Duration) {
	h.T.Helper()
	end := h.Clock.Now().Add(d)
	for {
		at, ok := h.nextDue()
		if !ok || at.After(end) {
			break
		}
		if at.After(h.Clock.Now()) {
			h.Clock.Set(at)
		}
		h.fireDue()
	}
	h.Clock.Set(end)
	h.pump()
}

func (h *Harness) nextDue() (time.Time, bool) {
	var best time.Time
	found := false
	consider := func(t time.Time, ok bool) {
		if ok && (!found || t.Before(best)) {
			best, found = t, true
		}
	}
	consider(h.resumes.Next())
	consider(h.sched.Next())
	consider(h.nextTick, h.timer > 0)
	return best, found
}

// fireDue delivers everything due now: resumes first, then wakeups, then a tick.
func (h *Harness) fireDue() {
	now := h.Clock.Now()
	for {
		if m, _, ok := h.resumes.PopDue(now); ok {
			h.Control(engine.Control{Kind: engine.KindResume, Msg: m})
			continue
		}
		if d, ok := h.sched.PopDue(now); ok {
			h.Control(engine.Control{Kind: engine.KindWakeup, Wakeup: d})
			continue
		}
		break
	}
	if h.timer > 0 && !h.nextTick.After(now) {
		h.nextTick = now.Add(h.timer)
		h.Control(engine.Control{Kind: engine.KindTimerTick})
	}
}

// FireWakeup delivers a Wakeup control for slot with the given revision and
// time as is, for tests of stale or unknown wakeups.
func (h *Harness) FireWakeup(slot wakeup.Slot, when time.Time, rev wakeup.Revision) {
	h.T.Helper()
	h.Control(engine.Control{Kind: engine.KindWakeup, Wakeup: wakeup.Due{Slot: slot, When: when, Revision: rev}})
}

// Shutdown plays the engine's drain: pending resumes become due and are
// delivered, then Shutdown with the deadline. Queued pdata is delivered
// first if the gate opens. The node keeps its wakeups and its outputs
// until it holds nothing more (Pending is 0).
func (h *Harness) Shutdown(deadline time.Time) {
	h.T.Helper()
	h.latch()
	h.pump()
	h.Control(engine.Control{Kind: engine.KindShutdown, Deadline: deadline})
}

func (h *Harness) latch() {
	if h.latched {
		return
	}
	h.latched = true
	h.resumes.BeginShutdown(h.Clock.Now())
	h.fireDue()
}

// ForceShutdown plays the deadline: resumes are delivered, then the forced
// Shutdown; the outputs close after it.
func (h *Harness) ForceShutdown() {
	h.T.Helper()
	h.latch()
	h.Control(engine.Control{Kind: engine.KindShutdown, Deadline: h.Clock.Now(), Forced: true})
}

// Pending returns the node's Drainer count, or 0.
func (h *Harness) Pending() int {
	if d, ok := h.Node.(engine.Drainer); ok {
		return d.Pending()
	}
	return 0
}

// Dropped returns the items dropped per reason.
func (h *Harness) Dropped() map[string]int { return h.dropped }

// Wakeups returns the number of live wakeups.
func (h *Harness) Wakeups() int { return h.sched.Len() }

// NextWakeup returns the earliest live wakeup deadline.
func (h *Harness) NextWakeup() (time.Time, bool) { return h.sched.Next() }

// Resumes returns the number of messages waiting in RequeueLater.
func (h *Harness) Resumes() int { return h.resumes.Len() }

// DeliverAsync delivers posts and outcomes that other goroutines (an
// exporter's I/O) handed to the effects, and returns how many. Queued pdata
// then flows if they opened the node's gate, as in the engine's inbox.
func (h *Harness) DeliverAsync() int {
	h.T.Helper()
	n := h.drainAsync()
	h.pump()
	return n
}

// WaitAsync waits until another goroutine has handed the effects a post
// or an outcome, or until timeout (wall clock: a bound for tests whose
// node talks to real sockets, not a sleep), then delivers what is queued
// and returns how many it delivered (0 on timeout).
func (h *Harness) WaitAsync(timeout time.Duration) int {
	h.T.Helper()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		if n := h.drainAsync(); n > 0 {
			h.pump()
			return n
		}
		select {
		case <-h.async: // may be stale (its items already delivered): look again
		case <-t.C:
			return h.DeliverAsync()
		}
	}
}

// wakeAsync signals WaitAsync; a signal already pending is enough.
func (e *effects) wakeAsync() {
	select {
	case e.async <- struct{}{}:
	default:
	}
}

func (h *Harness) drainAsync() int {
	n := 0
	for {
		h.mu.Lock()
		posted, routed := h.posted, h.routed
		h.posted, h.routed = nil, nil
		h.mu.Unlock()
		if len(posted) == 0 && len(routed) == 0 {
			return n
		}
		for _, r := range routed {
			n++
			h.route(r.m, r.ack, r.nack)
		}
		for _, v := range posted {
			n++
			if err := h.Node.OnControl(engine.Control{Kind: engine.KindPosted, Value: v}, (*effects)(h)); err != nil {
				h.T.Fatalf("nodetest: OnControl(posted): %v", err)
			}
		}
	}
}

// effects is the harness seen through engine.Effects.
type effects Harness

var _ engine.Effects = (*effects)(nil)

func (e *effects) Now() time.Time { return e.Clock.Now() }

// Send is TrySend: a harness step cannot wait for room (see WithPortCapacity).
func (e *effects) Send(m *pdata.Message) error { return e.TrySend(m) }

func (e *effects) SendTo(port string, m *pdata.Message) error { return e.TrySendTo(port, m) }

func (e *effects) TrySend(m *pdata.Message) error {
	if len(e.ports) != 1 {
		return engine.ErrNoDefaultPort
	}
	return e.TrySendTo(e.ports[0], m)
}

func (e *effects) TrySendTo(port string, m *pdata.Message) error {
	if !slices.Contains(e.ports, port) {
		return fmt.Errorf("%w %q", engine.ErrUnknownPort, port)
	}
	if e.shutdown {
		return engine.ErrClosed
	}
	if e.portCap > 0 && len(e.sent[port]) >= e.portCap {
		return engine.ErrFull
	}
	e.sent[port] = append(e.sent[port], m)
	return nil
}

func (e *effects) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(NodeID, in, cd)
}

// NotifyAck and NotifyNack may come from other goroutines: queue them and
// route on the test goroutine.
func (e *effects) NotifyAck(m *pdata.Message) {
	e.mu.Lock()
	e.routed = append(e.routed, routedOutcome{m: m, ack: true})
	e.mu.Unlock()
	e.wakeAsync()
}

func (e *effects) NotifyNack(m *pdata.Message, n pdata.Nack) {
	e.mu.Lock()
	e.routed = append(e.routed, routedOutcome{m: m, nack: n})
	e.mu.Unlock()
	e.wakeAsync()
}

func (e *effects) SetWakeup(slot wakeup.Slot, when time.Time) (wakeup.Revision, bool, error) {
	return e.sched.Set(slot, when)
}

func (e *effects) CancelWakeup(slot wakeup.Slot) bool { return e.sched.Cancel(slot) }

func (e *effects) RequeueLater(when time.Time, m *pdata.Message) error {
	return e.resumes.Push(when, m)
}

func (e *effects) StartTimer(period time.Duration) {
	e.timer = period
	e.nextTick = e.Clock.Now().Add(period)
}

func (e *effects) Post(v any) {
	e.mu.Lock()
	e.posted = append(e.posted, v)
	e.mu.Unlock()
	e.wakeAsync()
}

func (e *effects) Drop(m *pdata.Message, reason string) { e.dropped[reason] += m.Items() }

func (e *effects) Ports() []string { return e.ports }
