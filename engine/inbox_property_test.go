package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
)

// contractModel drives an engine.Inbox with random interleavings of pdata,
// control, wakeups, resumes, gate changes, the drain, the deadline and the
// consumers' end, and checks the node contract at every step.
type contractModel struct {
	t   *testing.T
	rng *rand.Rand
	in  *engine.Inbox
	now time.Time

	input       []*pdata.Message
	inputClosed bool
	control     []engine.Control
	gateOpen    bool
	held        []*pdata.Message // delivered pdata the model node has not answered yet

	ids       map[*pdata.Message]int // pdata id
	fates     map[int]string         // pdata id -> "delivered" | "stranded" | "resumed"
	resumes   map[int]bool           // pdata ids waiting in RequeueLater
	ctrlSent  map[uint64]bool        // posted control ids, true once delivered
	ctrlOrder []uint64               // posted ids not yet delivered, in order
	nextID    int
	nextCtrl  uint64

	queuedAtAbort  uint64 // the last control posted when the deadline was reported
	sinceIdle      int    // pdata delivered since the last StepIdle
	idles          int
	burst          int // controls delivered since the last pdata
	shutdowns      int
	forced         int
	outputsClosed  bool
	done           bool
	downstreamDone bool
	lastState      engine.Lifecycle
}

type modelInput contractModel

func (s *modelInput) TryRecv() (*pdata.Message, bool) {
	if len(s.input) == 0 {
		return nil, s.inputClosed
	}
	m := s.input[0]
	s.input = s.input[1:]
	return m, false
}

type modelControl contractModel

func (s *modelControl) TakeAll(dst []engine.Control) []engine.Control {
	dst = append(dst, s.control...)
	s.control = s.control[:0]
	return dst
}

func newContractModel(t *testing.T, seed uint64) *contractModel {
	m := &contractModel{
		t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		gateOpen: true,
		ids:      map[*pdata.Message]int{}, fates: map[int]string{}, resumes: map[int]bool{},
		ctrlSent: map[uint64]bool{},
	}
	m.in = engine.NewInbox(engine.InboxConfig{
		Input:     (*modelInput)(m),
		Control:   (*modelControl)(m),
		Scheduler: wakeup.NewScheduler(4, nil),
		Resumes:   wakeup.NewResumes[*pdata.Message](8, nil),
		Gate:      func() bool { return m.gateOpen },
		Pending:   func() int { return len(m.held) },
		Deadline:  func() time.Time { return m.now },
		Idler:     true,
	})
	return m
}

func (m *contractModel) fail(format string, args ...any) {
	m.t.Helper()
	m.t.Fatalf("state %s: %s", m.in.State(), fmt.Sprintf(format, args...))
}

// act performs one random external event or node action.
func (m *contractModel) act() {
	switch r := m.rng.IntN(100); {
	case r < 25 && !m.inputClosed:
		msg := pdata.New(pdata.FromOTLPChunks(pdata.Logs, nil, 1))
		m.nextID++
		m.ids[msg] = m.nextID
		m.input = append(m.input, msg)
	case r < 45 && !m.done:
		m.nextCtrl++
		m.ctrlSent[m.nextCtrl] = false
		m.ctrlOrder = append(m.ctrlOrder, m.nextCtrl)
		m.control = append(m.control, engine.Control{Kind: engine.KindPosted, Value: m.nextCtrl})
	case r < 52:
		// Refused once the outputs closed (ErrShuttingDown): that is the contract too.
		_, _, err := m.in.Scheduler().Set(wakeup.Slot(m.rng.IntN(4)), m.now.Add(time.Duration(m.rng.IntN(50))*time.Millisecond))
		if err != nil && !m.outputsClosed {
			m.fail("SetWakeup refused before the outputs closed: %v", err)
		}
	case r < 58 && len(m.held) > 0:
		// The node gives a held message back for later (retry-like).
		msg := m.held[0]
		if err := m.in.Resumes().Push(m.now.Add(time.Duration(m.rng.IntN(50))*time.Millisecond), msg); err == nil {
			m.held = m.held[1:]
			m.resumes[m.ids[msg]] = true
		}
	case r < 70 && len(m.held) > 0:
		m.held = m.held[1:] // the node answers one
	case r < 76:
		m.gateOpen = !m.gateOpen
	case r < 84:
		m.now = m.now.Add(time.Duration(m.rng.IntN(30)) * time.Millisecond)
	case r < 86:
		m.inputClosed = true
		m.in.Latch()
	case r < 87:
		m.abort()
	case r < 88 && m.outputsClosed:
		m.downstreamDone = true
		m.in.DownstreamDone()
	default:
		for range m.rng.IntN(40) {
			if !m.step() {
				break
			}
		}
	}
}

// abort reports the deadline; every control already posted must reach the
// node before its forced Shutdown.
func (m *contractModel) abort() {
	if !m.in.Aborted() {
		m.queuedAtAbort = m.nextCtrl
	}
	m.inputClosed = true
	m.in.Abort()
}

// step runs one inbox step and checks it; false when the inbox waits.
func (m *contractModel) step() bool {
	m.t.Helper()
	gate := m.gateOpen
	pdataWaiting := len(m.input) > 0 || m.in.Buffered() > 0
	controlWaiting := len(m.ctrlOrder) > 0
	st := m.in.Next(m.now)
	if s := m.in.State(); s < m.lastState {
		m.fail("lifecycle went back from %s to %s", m.lastState, s)
	}
	m.lastState = m.in.State()
	if m.done && st.Kind != engine.StepDone {
		m.fail("%s after done", st.Kind)
	}
	switch st.Kind {
	case engine.StepWait:
		if controlWaiting {
			m.fail("waits with control %v queued", m.ctrlOrder)
		}
		if gate && pdataWaiting && m.shutdowns == 0 && m.forced == 0 {
			m.fail("waits with pdata queued and the gate open")
		}
		if m.sinceIdle > 0 && m.in.State() < engine.LifeAborting {
			m.fail("waits after %d pdata without an idle step", m.sinceIdle)
		}
		return false
	case engine.StepIdle:
		if m.sinceIdle == 0 {
			m.fail("idle step without pdata since the last one")
		}
		if controlWaiting {
			m.fail("idle step with control %v queued", m.ctrlOrder)
		}
		if gate && pdataWaiting {
			m.fail("idle step with pdata ready through an open gate")
		}
		m.sinceIdle = 0
		m.idles++
	case engine.StepDone:
		if !m.downstreamDone {
			m.fail("done before its consumers stopped")
		}
		if !m.outputsClosed {
			m.fail("done with its outputs open")
		}
		m.done = true
		return false
	case engine.StepPData:
		id := m.ids[st.PData]
		if !gate {
			m.fail("pdata %d delivered through a closed gate", id)
		}
		if m.shutdowns > 0 || m.forced > 0 {
			m.fail("pdata %d delivered after Shutdown", id)
		}
		if controlWaiting && m.burst < 32 {
			m.fail("pdata %d overtook control after only %d controls", id, m.burst)
		}
		m.setFate(id, "delivered")
		m.sinceIdle++
		m.burst = 0
		m.held = append(m.held, st.PData)
	case engine.StepStrand:
		if m.forced == 0 && !m.in.Aborted() {
			m.fail("pdata stranded before the deadline")
		}
		m.setFate(m.ids[st.PData], "stranded")
	case engine.StepCloseOutputs:
		if m.outputsClosed {
			m.fail("outputs closed twice")
		}
		if m.shutdowns == 0 && m.forced == 0 {
			m.fail("outputs closed before Shutdown")
		}
		if m.forced == 0 && len(m.held) > 0 {
			m.fail("outputs closed while the node holds %d messages", len(m.held))
		}
		m.outputsClosed = true
	case engine.StepControl:
		m.checkControl(st.Control, gate && pdataWaiting)
	}
	return true
}

func (m *contractModel) checkControl(c engine.Control, pdataReady bool) {
	m.t.Helper()
	if pdataReady && m.burst >= 32 && m.in.State() < engine.LifeClosing && c.Kind != engine.KindShutdown {
		m.fail("pdata starved: %d controls in a row with pdata ready", m.burst+1)
	}
	m.burst++
	switch c.Kind {
	case engine.KindPosted:
		id := c.Value.(uint64)
		if len(m.ctrlOrder) == 0 || m.ctrlOrder[0] != id {
			m.fail("control %d out of order (want %v)", id, m.ctrlOrder)
		}
		m.ctrlOrder = m.ctrlOrder[1:]
		m.ctrlSent[id] = true
	case engine.KindWakeup, engine.KindResume:
		// At the deadline only the control queued before it goes first.
		if len(m.ctrlOrder) > 0 && (m.in.State() != engine.LifeAborting || m.ctrlOrder[0] <= m.queuedAtAbort) {
			m.fail("%s overtook queued control %v", c.Kind, m.ctrlOrder)
		}
		if c.Kind == engine.KindWakeup && c.Wakeup.When.After(m.now) {
			m.fail("wakeup due %s delivered at %s", c.Wakeup.When, m.now)
		}
		if c.Kind == engine.KindResume {
			id := m.ids[c.Msg]
			if !m.resumes[id] {
				m.fail("resume of %d that was not requeued", id)
			}
			delete(m.resumes, id)
			m.held = append(m.held, c.Msg)
		}
	case engine.KindShutdown:
		if c.Forced {
			m.forced++
			if m.forced > 1 {
				m.fail("forced Shutdown twice")
			}
			if len(m.ctrlOrder) > 0 && m.ctrlOrder[0] <= m.queuedAtAbort {
				m.fail("forced Shutdown overtook control queued before the deadline")
			}
			m.held = nil // the forced Shutdown answers everything
			return
		}
		m.shutdowns++
		if m.shutdowns > 1 {
			m.fail("Shutdown twice")
		}
		if len(m.input) > 0 || !m.inputClosed || m.in.Buffered() > 0 {
			m.fail("Shutdown with the input open or not empty")
		}
		if len(m.resumes) > 0 {
			m.fail("Shutdown with %d resumes pending", len(m.resumes))
		}
	}
}

func (m *contractModel) setFate(id int, fate string) {
	m.t.Helper()
	if f, ok := m.fates[id]; ok {
		m.fail("pdata %d %s, already %s", id, fate, f)
	}
	m.fates[id] = fate
}

// finish plays the end of the run: the drain, the node answering, its
// consumers stopping, and time passing, until the inbox is done; then
// every message must have had exactly one fate.
func (m *contractModel) finish() {
	m.t.Helper()
	m.inputClosed = true
	m.in.Latch()
	if m.rng.IntN(2) == 0 {
		m.abort()
	}
	for range 10000 {
		if m.done {
			break
		}
		if !m.step() {
			m.held = nil
			m.now = m.now.Add(time.Second)
			if m.outputsClosed {
				m.downstreamDone = true
				m.in.DownstreamDone()
			}
		}
	}
	if !m.done {
		m.fail("not done after the drain")
	}
	for id := 1; id <= m.nextID; id++ {
		if _, ok := m.fates[id]; !ok {
			m.fail("pdata %d neither delivered nor stranded", id)
		}
	}
	for id, ok := range m.ctrlSent {
		if !ok {
			m.fail("control %d never delivered", id)
		}
	}
}

func TestInboxContractUnderRandomInterleavings(t *testing.T) {
	idles := 0
	defer func() {
		if idles == 0 {
			t.Error("no idle step in any run: the model does not exercise Idler")
		}
	}()
	for seed := range uint64(400) {
		m := newContractModel(t, seed)
		for range 300 {
			m.act()
			if m.done {
				break
			}
		}
		m.finish()
		idles += m.idles
	}
}
