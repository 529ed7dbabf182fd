package engine

import (
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/pdata"
)

// loop is the node goroutine's side of the contract: the channels, the
// clock and the timer around an Inbox. It reports what it sees (latch,
// abort, a message, the input's close, the consumers' end) and blocks only
// where the Inbox says there is nothing to do.
type loop struct {
	*Inbox
	clock      clock.Clock
	input      chanSource // nil: the node has no input
	ctrl       *ctrlQueue
	latch      <-chan struct{} // closed when the pipeline's receivers have drained
	abort      <-chan struct{} // closed at the shutdown deadline
	downstream <-chan struct{} // closed when every consumer of the node's outputs has stopped
	timer      clock.Timer
	armed      time.Time // deadline the timer is set for; zero if idle
}

// next observes the pipeline's signals and returns the inbox's next step
// that is not a wait: waiting happens here.
func (l *loop) next() Step {
	for {
		// Latch and abort are polled at every step, not only while
		// waiting: a node that is never idle must still see them.
		if !l.Latched() && isClosed(l.latch) {
			l.Latch()
		}
		if !l.Aborted() && isClosed(l.abort) {
			l.Abort()
		}
		var now time.Time
		if l.Clocked() {
			now = l.clock.Now()
		}
		st := l.Next(now)
		if st.Kind != StepWait {
			return st
		}
		l.wait(now, l.Inbox.Wait())
	}
}

// wait blocks until one of the events w names, or a control message.
func (l *loop) wait(now time.Time, w Wait) {
	var input <-chan *pdata.Message
	if w.Input {
		input = l.input
	}
	var latch, abort, downstream <-chan struct{}
	if w.Latch {
		latch = l.latch
	}
	if w.Abort {
		abort = l.abort
	}
	if w.Downstream {
		downstream = l.downstream
	}
	select {
	case <-l.ctrl.signal:
	case m, ok := <-input:
		if ok {
			l.Offer(m)
		} else {
			l.InputClosed()
		}
	case <-l.armTimer(now, w.Timer):
		l.armed = time.Time{}
	case <-latch:
		l.Latch()
	case <-abort:
		l.Abort()
	case <-downstream:
		l.DownstreamDone()
	}
}

// armTimer points the node's single timer at next and returns its channel,
// or nil when nothing is due.
func (l *loop) armTimer(now, next time.Time) <-chan time.Time {
	if next.IsZero() {
		return nil
	}
	if !next.Equal(l.armed) {
		d := next.Sub(now)
		if l.timer == nil {
			l.timer = l.clock.NewTimer(d)
		} else {
			l.timer.Reset(d)
		}
		l.armed = next
	}
	return l.timer.C()
}

// chanSource is a pdata channel read without waiting.
type chanSource <-chan *pdata.Message

func (c chanSource) TryRecv() (*pdata.Message, bool) {
	select {
	case m, ok := <-c:
		return m, !ok
	default:
		return nil, false
	}
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
