package engine

import (
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
)

// controlBurstLimit is how many control messages in a row the inbox
// delivers before it lets one pdata through (fairness, DESIGN §5).
const controlBurstLimit = 32

// inboxState is where a node is in its life. Every transition happens in
// inbox.next: running → draining when the pipeline's receivers stopped
// admitting; draining → closing when Shutdown is released (or at the
// deadline, forced); closing → done when the node may stop.
type inboxState uint8

const (
	stateRunning  inboxState = iota // normal operation
	stateDraining                   // receivers stopped admitting: waiting for the input to close and empty
	stateClosing                    // Shutdown delivered, outputs closed: waiting for Pending to reach zero
	stateDone                       // nothing more will be delivered
)

var stateNames = [...]string{"running", "draining", "closing", "done"}

func (s inboxState) String() string { return stateNames[s] }

// event is what the inbox hands to the node: a pdata message or a control.
type event struct {
	pdata   *pdata.Message
	control Control
}

// inbox is a processor's single receive point. It merges the node's control
// queue, its pdata input, its wakeups, delayed resumes and periodic timer,
// and it decides when the node sees Shutdown. It is owned by the node
// goroutine.
type inbox struct {
	clock   clock.Clock
	input   <-chan *pdata.Message // nil: no input, counts as closed
	held    *pdata.Message        // received while draining to detect closure, not yet delivered
	closed  bool                  // input closed (and nothing held)
	ctrl    *ctrlQueue
	queued  []Control // taken from ctrl; queued[qnext:] not yet delivered
	qnext   int
	sched   *wakeup.Scheduler
	resumes *wakeup.Resumes[*pdata.Message]
	timer   clock.Timer
	armed   time.Time // deadline the timer is set for; zero if idle

	tickPeriod time.Duration
	nextTick   time.Time

	burst int // control messages delivered since the last pdata
	state inboxState

	latch           <-chan struct{} // closed when the pipeline's receivers have drained
	abort           <-chan struct{} // closed at the shutdown deadline
	aborted         bool
	resumesDue      bool   // pending resumes were made due (input drained, or deadline)
	outputsClosed   bool   // see closeOutputs
	onOutputsClosed func() // closes the node's output edges

	abortSeen bool // the deadline was seen; preAbort controls go before the forced Shutdown
	preAbort  int
	deadline  func() time.Time // the drain deadline, once the drain started

	// downstream is closed when every node that consumes this node's
	// outputs has stopped. A node stays until then, so the outcomes its
	// consumers send back (including the nacks of their forced Shutdown)
	// still reach it and travel on upstream.
	downstream     <-chan struct{}
	downstreamSeen bool // wait saw downstream closed

	gate    func() bool // the node's AcceptPData, or always true
	pending func() int  // the node's Drainer.Pending, or always 0
}

// next blocks until there is something for the node and returns it; ok is
// false once the node is done. Abandoned pdata at the deadline is handed to
// strand, which nacks it.
func (in *inbox) next(strand func(*pdata.Message)) (ev event, ok bool) {
	for {
		if in.state == stateDone {
			return event{}, false
		}
		now := in.now()
		if in.state == stateRunning && isClosed(in.latch) {
			in.state = stateDraining
		}
		if !in.aborted && isClosed(in.abort) {
			// Outcomes already queued go first: a node must not nack, at
			// its forced Shutdown, data whose ack is waiting in its queue.
			if c, ok := in.popBeforeAbort(); ok {
				return event{control: c}, true
			}
			return in.abortNow(strand), true
		}
		if in.aborted {
			in.strandInput(strand)
		}
		accept := in.state < stateClosing && in.gate()

		// Fairness: after a burst of control, pdata goes first once.
		if accept && in.burst >= controlBurstLimit {
			if m, ok := in.tryPData(); ok {
				in.burst = 0
				return event{pdata: m}, true
			}
		}
		if c, ok := in.popControl(now); ok {
			in.burst++
			return event{control: c}, true
		}
		if in.state == stateDraining && in.drained() {
			in.state = stateClosing
			return event{control: Control{Kind: KindShutdown, Deadline: in.deadline()}}, true
		}
		if in.state == stateClosing && !in.outputsClosed && (in.aborted || in.pending() == 0) {
			in.closeOutputs()
		}
		if in.state == stateClosing && in.finished() {
			in.state = stateDone
			return event{}, false
		}
		if accept {
			if m, ok := in.tryPData(); ok {
				in.burst = 0
				return event{pdata: m}, true
			}
		}
		in.wait(now, accept)
	}
}

// popBeforeAbort delivers the control messages that were queued when the
// deadline was first seen, and only those: later arrivals wait until after
// the forced Shutdown, so the deadline is not postponed indefinitely.
func (in *inbox) popBeforeAbort() (Control, bool) {
	if !in.abortSeen {
		in.abortSeen = true
		in.queued = append(in.queued[:0], in.queued[in.qnext:]...)
		in.queued, in.qnext = in.ctrl.takeAll(in.queued), 0
		in.preAbort = len(in.queued)
		if !in.resumesDue {
			in.resumesDue = true
			in.resumes.BeginShutdown(in.clock.Now())
		}
	}
	if in.preAbort > 0 {
		in.preAbort--
		c := in.queued[in.qnext]
		in.qnext++
		return c, true
	}
	// Resumed data goes back to the node before its forced Shutdown, so
	// it answers that data with the shutdown cause like everything else.
	if m, _, ok := in.resumes.PopDue(in.clock.Now()); ok {
		return Control{Kind: KindResume, Msg: m}, true
	}
	return Control{}, false
}

// strandInput nacks (through strand) whatever reaches the input after the
// deadline: upstream nodes may still send until their own forced Shutdown.
func (in *inbox) strandInput(strand func(*pdata.Message)) {
	for {
		m, ok := in.tryPData()
		if !ok {
			return
		}
		strand(m)
	}
}

// now reads the clock only when something is scheduled: reading it costs
// more than the rest of a message's trip through the inbox.
func (in *inbox) now() time.Time {
	if in.resumes.Len() == 0 && in.sched.Len() == 0 && in.tickPeriod == 0 {
		return time.Time{}
	}
	return in.clock.Now()
}

// finished reports whether a closing node may stop: only once the nodes it
// feeds have stopped, so that their last outcomes still reach it, and once
// it holds nothing more (after the forced Shutdown it has answered all).
func (in *inbox) finished() bool {
	if !in.outputsClosed {
		return false
	}
	if in.aborted {
		// Its input must be closed too, so nothing sent at the last
		// moment is left in the channel without an answer.
		return isClosed(in.downstream) && in.closed && in.resumes.Len() == 0
	}
	return isClosed(in.downstream) && in.pending() == 0
}

// tryPData takes one pdata message without waiting.
func (in *inbox) tryPData() (*pdata.Message, bool) {
	if m := in.held; m != nil {
		in.held = nil
		return m, true
	}
	if in.closed {
		return nil, false
	}
	select {
	case m, ok := <-in.input:
		if !ok {
			in.closed = true
			return nil, false
		}
		return m, true
	default:
		return nil, false
	}
}

// popControl returns buffered control first, then due resumes, wakeups and
// timer ticks: a due wakeup never overtakes control already queued.
func (in *inbox) popControl(now time.Time) (Control, bool) {
	if in.qnext == len(in.queued) {
		clear(in.queued)
		in.queued, in.qnext = in.ctrl.takeAll(in.queued[:0]), 0
	}
	if in.qnext < len(in.queued) {
		c := in.queued[in.qnext]
		in.qnext++
		return c, true
	}
	if m, _, ok := in.resumes.PopDue(now); ok {
		return Control{Kind: KindResume, Msg: m}, true
	}
	if d, ok := in.sched.PopDue(now); ok {
		return Control{Kind: KindWakeup, Wakeup: d}, true
	}
	if in.tickPeriod > 0 && !in.nextTick.After(now) && in.state == stateRunning {
		in.nextTick = now.Add(in.tickPeriod)
		return Control{Kind: KindTimerTick}, true
	}
	return Control{}, false
}

// drained reports whether Shutdown may be released: the input is closed
// and empty and no resume is left. The first time the input is seen closed
// and empty the pending resumes become due at once (they are delivered
// before Shutdown). With the gate closed, one message is received and held
// so that closure can still be seen.
func (in *inbox) drained() bool {
	if in.held != nil {
		return false
	}
	if !in.closed && in.input != nil {
		select {
		case m, ok := <-in.input:
			if ok {
				in.held = m
				return false
			}
		default:
			return false
		}
	}
	in.closed = true
	if !in.resumesDue {
		in.resumesDue = true
		in.resumes.BeginShutdown(in.clock.Now())
	}
	return in.resumes.Len() == 0
}

// closeOutputs ends the node's part in the data path: its outputs close
// (the next node's input with them: the shutdown wave) and its wakeups are
// dropped and refused from now on, since it can no longer act on them.
// Until then a node that still holds work after Shutdown keeps its
// wakeups: a fan-out's timeouts still fail over during a drain.
func (in *inbox) closeOutputs() {
	in.outputsClosed = true
	in.sched.BeginShutdown()
	in.onOutputsClosed()
}

// abortNow handles the deadline: every pdata still queued for the node is
// stranded (nacked by the caller) and the node gets a forced Shutdown.
func (in *inbox) abortNow(strand func(*pdata.Message)) event {
	in.aborted = true
	in.strandInput(strand)
	in.state = stateClosing
	return event{control: Control{Kind: KindShutdown, Deadline: in.deadline(), Forced: true}}
}

// wait blocks until something may have changed: a control message, pdata
// (when accepted), the timer for the next due item, the latch or the abort.
func (in *inbox) wait(now time.Time, accept bool) {
	in.armTimer(now)
	var input <-chan *pdata.Message
	if (accept || in.state == stateDraining || in.aborted) && !in.closed && in.held == nil {
		input = in.input
	}
	var latch <-chan struct{}
	if in.state == stateRunning {
		latch = in.latch
	}
	var abort <-chan struct{}
	if !in.aborted {
		abort = in.abort
	}
	// Watch the consumers until their end has been seen here: checking
	// isClosed and then selecting would lose a close in between, and a
	// closed channel left in the select would spin.
	var downstream <-chan struct{}
	if in.state == stateClosing && !in.downstreamSeen {
		downstream = in.downstream
	}
	var tc <-chan time.Time
	if in.timer != nil && !in.armed.IsZero() {
		tc = in.timer.C()
	}
	select {
	case <-in.ctrl.signal:
	case m, ok := <-input:
		if !ok {
			in.closed = true
		} else {
			in.held = m
		}
	case <-tc:
		in.armed = time.Time{}
	case <-latch:
	case <-abort:
	case <-downstream:
		in.downstreamSeen = true
	}
}

// armTimer points the node's single timer at the earliest due item.
func (in *inbox) armTimer(now time.Time) {
	if now.IsZero() {
		return // nothing scheduled (see now)
	}
	var next time.Time
	consider := func(t time.Time, ok bool) {
		if ok && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(in.resumes.Next())
	consider(in.sched.Next())
	consider(in.nextTick, in.tickPeriod > 0 && in.state == stateRunning)
	if next.IsZero() || next.Equal(in.armed) {
		return
	}
	d := next.Sub(now)
	if in.timer == nil {
		in.timer = in.clock.NewTimer(d)
	} else {
		in.timer.Reset(d)
	}
	in.armed = next
}

func isClosed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}
