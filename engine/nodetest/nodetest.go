// Package nodetest steps one processor or exporter through the engine's
// contract without goroutines, channels or sleeps: a fake clock, captured
// outputs, scripted acks and nacks from downstream, and a record of every
// outcome that reaches upstream. It follows raft's fake network: tests drive
// the node, the harness plays the engine.
//
// The harness is a second shell around engine.Inbox, the state machine the
// engine's node goroutine runs: the fairness cap, the gate, resumes and
// wakeups, Shutdown only on a closed and empty input, the forced Shutdown,
// sends refused after the deadline and the stranding of unseen pdata are
// the engine's own rules, not a copy of them.
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

// Harness drives one processor or exporter through engine.Inbox, the
// state machine the engine's node goroutine runs: fairness, the gate,
// resumes and wakeups, Shutdown only once the input is closed and empty,
// the forced Shutdown and the stranding of pdata at the deadline all
// behave as in a pipeline.
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
	nextID    uint64

	inbox         *engine.Inbox
	input         []*pdata.Message // sent by the test, not yet taken by the inbox
	inputClosed   bool             // Shutdown closed the input
	control       []engine.Control // delivered by the test, not yet taken by the inbox
	outputsClosed bool
	deadline      time.Time
	running       bool   // inside run: a nested run call returns at once
	asyncTaken    uint64 // posts and outcomes taken from other goroutines so far

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
		Node: n, Pipeline: "test/main", Copies: 1, Clock: h.Clock, Logger: discardLogger(),
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
	cfgIn := engine.InboxConfig{
		Input:     (*inputSource)(h),
		Control:   (*controlSource)(h),
		Scheduler: wakeup.NewScheduler(slots, nil),
		Resumes:   wakeup.NewResumes[*pdata.Message](h.resumeCap, nil),
		Deadline:  func() time.Time { return h.deadline },
	}
	if g, ok := p.(engine.Gate); ok {
		cfgIn.Gate = g.AcceptPData
	}
	if d, ok := p.(engine.Drainer); ok {
		cfgIn.Pending = d.Pending
	}
	_, cfgIn.Idler = p.(engine.Idler)
	h.inbox = engine.NewInbox(cfgIn)
	if s, ok := p.(engine.Starter); ok {
		if err := s.Start((*effects)(h)); err != nil {
			t.Fatalf("nodetest: Start: %v", err)
		}
		h.run()
	}
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
// so that the outcome is recorded with a fresh id, which it returns. The
// message goes through the node's inbox: if the gate is closed it waits
// there, as in a pipeline. Sending after Shutdown fails the test: the
// input is closed.
func (h *Harness) SendPData(m *pdata.Message) uint64 {
	h.T.Helper()
	return h.SendBurst(m)[0]
}

// SendBurst is SendPData for messages that arrive together: the node gets
// them one after the other, then, if it is an engine.Idler, one OnIdle, as
// the engine does when they were waiting in its input at once. It returns
// their ids in order.
func (h *Harness) SendBurst(ms ...*pdata.Message) []uint64 {
	h.T.Helper()
	if h.inputClosed {
		h.T.Fatalf("nodetest: SendPData after Shutdown: the node's input is closed")
	}
	ids := make([]uint64, len(ms))
	for i, m := range ms {
		h.nextID++
		m.Subscribe(UpstreamID, pdata.AcksAndNacks, pdata.CallData{h.nextID})
		h.input = append(h.input, m)
		ids[i] = h.nextID
	}
	h.run()
	return ids
}

// Queued is the number of pdata messages waiting for the gate to open.
func (h *Harness) Queued() int { return len(h.input) + h.inbox.Buffered() }

// State returns the node's lifecycle state.
func (h *Harness) State() engine.Lifecycle { return h.inbox.State() }

// run plays the node goroutine: it carries out the inbox's steps until the
// inbox has nothing to do at the fake clock's time.
func (h *Harness) run() {
	// No T.Helper here but before each failure: this runs for every step,
	// and Helper walks the stack (it showed in the benchmarks' CPU).
	if h.running {
		return // an effect of the step in progress: the outer run goes on
	}
	h.running = true
	defer func() { h.running = false }()
	for {
		st := h.inbox.Next(h.Clock.Now())
		switch st.Kind {
		case engine.StepWait, engine.StepDone:
			return
		case engine.StepPData:
			if err := h.Node.OnPData(st.PData, (*effects)(h)); err != nil {
				h.T.Helper()
				h.T.Fatalf("nodetest: OnPData: %v", err)
			}
		case engine.StepControl:
			if err := h.Node.OnControl(st.Control, (*effects)(h)); err != nil {
				h.T.Helper()
				h.T.Fatalf("nodetest: OnControl(%s): %v", st.Control.Kind, err)
			}
		case engine.StepStrand:
			h.route(st.PData, false, pdata.Nack{
				Reason: "node stopped at the shutdown deadline before handling the data",
				Cause:  pdata.CauseNodeShutdown,
			})
		case engine.StepCloseOutputs:
			h.outputsClosed = true
		case engine.StepIdle:
			if err := h.Node.(engine.Idler).OnIdle((*effects)(h)); err != nil {
				h.T.Helper()
				h.T.Fatalf("nodetest: OnIdle: %v", err)
			}
		}
	}
}

// Control delivers one control message to the node through its inbox.
func (h *Harness) Control(c engine.Control) {
	h.T.Helper()
	h.control = append(h.control, c)
	h.run()
}

// OutputsClosed reports whether the node's outputs are closed.
func (h *Harness) OutputsClosed() bool { return h.outputsClosed }

// Done reports whether the node finished: its outputs are closed, it holds
// nothing, and the harness's downstream was stopped (StopDownstream).
func (h *Harness) Done() bool { return h.inbox.State() == engine.LifeDone }

// StopDownstream plays the end of the nodes the harness's outputs feed:
// once its outputs are closed and it holds nothing, the node is done, and
// an outcome that reaches it afterwards fails the test.
func (h *Harness) StopDownstream() {
	h.T.Helper()
	h.inbox.DownstreamDone()
	h.run()
}

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
func (h *Harness) Ack(m *pdata.Message) { h.T.Helper(); h.route(m, true, pdata.Nack{}); h.run() }

// Nack plays downstream refusing m.
func (h *Harness) Nack(m *pdata.Message, n pdata.Nack) {
	h.T.Helper()
	h.route(m, false, n)
	h.run()
}

// route is the engine's ack routing: pop to the nearest interested frame,
// queue it for the node or record it upstream.
func (h *Harness) route(m *pdata.Message, ack bool, n pdata.Nack) {
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
		if h.Done() {
			h.T.Helper()
			h.T.Fatalf("nodetest: %s reached the node after it was done (the engine would lose it)", kind)
		}
		h.control = append(h.control, engine.Control{Kind: kind, Msg: m, CallData: f.CallData, Nack: n})
	default:
		h.T.Helper()
		h.T.Fatalf("nodetest: outcome routed to unknown node %d", f.Node)
	}
}

// Upstream returns the outcomes that reached upstream so far, in order.
func (h *Harness) Upstream() []Outcome { h.DeliverAsync(); return h.upstream }

// TakeUpstream returns and forgets the outcomes that reached upstream.
func (h *Harness) TakeUpstream() []Outcome {
	h.DeliverAsync()
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

// Advance moves the fake clock by d and runs the node at each deadline on
// the way: timer ticks, due resumes and due wakeups, in deadline order.
func (h *Harness) Advance(d time.Duration) {
	h.T.Helper()
	end := h.Clock.Now().Add(d)
	for {
		h.run()
		at, ok := h.nextDue()
		if !ok || at.After(end) {
			break
		}
		if !at.After(h.Clock.Now()) {
			break // due now and still not delivered: the node holds it back
		}
		h.Clock.Set(at)
	}
	h.Clock.Set(end)
	h.run()
}

// nextDue asks the inbox when it next has something scheduled.
func (h *Harness) nextDue() (time.Time, bool) {
	st := h.inbox.Next(h.Clock.Now())
	if st.Kind == engine.StepDone {
		return time.Time{}, false
	}
	if st.Kind != engine.StepWait {
		h.T.Fatalf("nodetest: inbox not idle after run (%s)", st.Kind)
	}
	w := h.inbox.Wait()
	return w.Timer, !w.Timer.IsZero()
}

// FireWakeup delivers a Wakeup control for slot with the given revision and
// time as is, for tests of stale or unknown wakeups.
func (h *Harness) FireWakeup(slot wakeup.Slot, when time.Time, rev wakeup.Revision) {
	h.T.Helper()
	h.Control(engine.Control{Kind: engine.KindWakeup, Wakeup: wakeup.Due{Slot: slot, When: when, Revision: rev}})
}

// Shutdown plays the engine's drain: the receivers stop admitting and the
// node's input closes. As in a pipeline, the node gets what is still
// queued (once its gate opens), then its pending resumes, then Shutdown
// with deadline. It keeps its wakeups and its outputs until it holds
// nothing more (Pending is 0).
func (h *Harness) Shutdown(deadline time.Time) {
	h.T.Helper()
	h.deadline = deadline
	h.inputClosed = true
	h.inbox.Latch()
	h.run()
}

// ForceShutdown plays the deadline: the control messages already queued
// and the resumes are delivered, pdata the node has not taken is nacked
// upstream with cause node_shutdown (stranded), then the forced Shutdown;
// the outputs close after it.
func (h *Harness) ForceShutdown() {
	h.T.Helper()
	if h.deadline.IsZero() {
		h.deadline = h.Clock.Now()
	}
	h.inputClosed = true
	h.inbox.Abort()
	h.run()
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
func (h *Harness) Wakeups() int { return h.inbox.Scheduler().Len() }

// NextWakeup returns the earliest live wakeup deadline.
func (h *Harness) NextWakeup() (time.Time, bool) { return h.inbox.Scheduler().Next() }

// Resumes returns the number of messages waiting in RequeueLater.
func (h *Harness) Resumes() int { return h.inbox.Resumes().Len() }

// DeliverAsync delivers posts and outcomes that other goroutines (an
// exporter's I/O) handed to the effects, and returns how many. Queued pdata
// then flows if they opened the node's gate, as in the engine's inbox.
func (h *Harness) DeliverAsync() int {
	before := h.asyncTaken
	h.takeAsync()
	h.run() // the inbox may take more on the way (controlSource)
	return int(h.asyncTaken - before)
}

// WaitAsync waits until another goroutine has handed the effects a post
// or an outcome, or until timeout (wall clock: a bound for tests whose
// node talks to real sockets, not a sleep), then delivers what is queued
// and returns how many it delivered (0 on timeout).
func (h *Harness) WaitAsync(timeout time.Duration) int {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		if n := h.DeliverAsync(); n > 0 {
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

// takeAsync routes the outcomes and queues the posts that other
// goroutines handed the effects; it returns how many.
func (h *Harness) takeAsync() int {
	h.mu.Lock()
	posted, routed := h.posted, h.routed
	h.posted, h.routed = nil, nil
	h.mu.Unlock()
	for _, r := range routed {
		h.route(r.m, r.ack, r.nack)
	}
	for _, v := range posted {
		h.control = append(h.control, engine.Control{Kind: engine.KindPosted, Value: v})
	}
	h.asyncTaken += uint64(len(routed) + len(posted))
	return len(routed) + len(posted)
}

// inputSource is the node's input as the inbox reads it.
type inputSource Harness

func (s *inputSource) TryRecv() (*pdata.Message, bool) {
	if len(s.input) == 0 {
		return nil, s.inputClosed
	}
	m := s.input[0]
	s.input = s.input[1:]
	return m, false
}

// controlSource is the node's control queue as the inbox reads it: what
// the test delivered, then outcomes and posts from other goroutines.
type controlSource Harness

func (s *controlSource) TakeAll(dst []engine.Control) []engine.Control {
	h := (*Harness)(s)
	h.takeAsync()
	dst = append(dst, h.control...)
	clear(h.control)
	h.control = h.control[:0]
	return dst
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
	if e.outputsClosed {
		return engine.ErrClosed
	}
	if e.inbox.Aborted() {
		return engine.ErrAborted // as in the engine: nothing new enters a channel after the deadline
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
	return e.inbox.Scheduler().Set(slot, when)
}

func (e *effects) CancelWakeup(slot wakeup.Slot) bool { return e.inbox.Scheduler().Cancel(slot) }

func (e *effects) RequeueLater(when time.Time, m *pdata.Message) error {
	return e.inbox.Resumes().Push(when, m)
}

func (e *effects) StartTimer(period time.Duration) { e.inbox.StartTimer(e.Clock.Now(), period) }

func (e *effects) Post(v any) {
	e.mu.Lock()
	e.posted = append(e.posted, v)
	e.mu.Unlock()
	e.wakeAsync()
}

func (e *effects) Drop(m *pdata.Message, reason string) { e.dropped[reason] += m.Items() }

func (e *effects) DropPart(m *pdata.Message, kept *pdata.Payload, reason string) {
	e.dropped[reason] += m.Shrink(kept)
}

func (e *effects) Ports() []string { return e.ports }
