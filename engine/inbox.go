package engine

import (
	"time"

	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
)

// controlBurstLimit is how many control messages in a row the inbox
// delivers before it lets one pdata through (fairness; docs/ENGINE.md, "The inbox").
const controlBurstLimit = 32

// Lifecycle is where a processor or exporter is in its life. Every
// transition happens in Inbox.Next, in one place each (the become*
// methods):
//
//	running ──latch──▶ draining ──input closed and empty──▶ closing ──Pending()==0──▶ closed ──▶ done
//	   └──────────┴──────── deadline ──▶ aborting ──▶ aborted ──────────────────────────────────▶ done
//
// Closing and closed also go to aborting at the deadline.
type Lifecycle uint8

const (
	// LifeRunning is normal operation.
	LifeRunning Lifecycle = iota
	// LifeDraining: the pipeline's receivers stopped admitting; the node
	// still gets its input until it is closed and empty, then its resumes,
	// then Shutdown.
	LifeDraining
	// LifeClosing: Shutdown was delivered; the outputs stay open (and the
	// wakeups live) while the node holds work (Pending > 0).
	LifeClosing
	// LifeClosed: the outputs are closed; the node waits for the nodes it
	// feeds to stop, so their last outcomes still reach it.
	LifeClosed
	// LifeAborting: the shutdown deadline was seen; the control messages
	// queued before it and the resumes are delivered, then the forced
	// Shutdown.
	LifeAborting
	// LifeAborted: the forced Shutdown was delivered and the outputs are
	// closed; pdata that still arrives is stranded (nacked unseen).
	LifeAborted
	// LifeDone: nothing more will be delivered.
	LifeDone
)

var lifecycleNames = [...]string{"running", "draining", "closing", "closed", "aborting", "aborted", "done"}

func (l Lifecycle) String() string {
	if int(l) < len(lifecycleNames) {
		return lifecycleNames[l]
	}
	return "lifecycle(?)"
}

// StepKind says what Inbox.Next asks of the node's shell.
type StepKind uint8

const (
	// StepWait: nothing to deliver until one of the events Inbox.Wait
	// lists.
	StepWait StepKind = iota
	// StepPData: deliver Step.PData to OnPData.
	StepPData
	// StepControl: deliver Step.Control to OnControl.
	StepControl
	// StepStrand: the deadline passed before the node saw Step.PData;
	// nack it upstream with cause node_shutdown, do not deliver it.
	StepStrand
	// StepCloseOutputs: close the node's outputs (the shutdown wave moves
	// on to the nodes it feeds). Its wakeups are already dropped.
	StepCloseOutputs
	// StepDone: the node is finished; its goroutine returns.
	StepDone
	// StepIdle: the node handled pdata since the last StepIdle and nothing
	// is ready for it now; call its OnIdle (Idler). Only for nodes whose
	// InboxConfig sets Idler.
	StepIdle
)

var stepNames = [...]string{"wait", "pdata", "control", "strand", "close_outputs", "done", "idle"}

func (k StepKind) String() string { return stepNames[k] }

// Step is one decision of the inbox.
type Step struct {
	Kind    StepKind
	PData   *pdata.Message // StepPData, StepStrand
	Control Control        // StepControl
}

// Wait lists the events that can change the inbox's next step. The shell
// blocks until one of them (or a control message, which is always
// awaited) and reports it with the matching Inbox method.
type Wait struct {
	Input      bool      // a pdata message (Offer) or the input's close (InputClosed)
	Timer      time.Time // zero: no timer; else the earliest due resume, wakeup or tick
	Latch      bool      // the pipeline's receivers stopped admitting (Latch)
	Abort      bool      // the shutdown deadline (Abort)
	Downstream bool      // every node this one feeds has stopped (DownstreamDone)
}

// PDataSource is a node's pdata input, read without waiting.
type PDataSource interface {
	// TryRecv returns the next message, or closed once the source is
	// closed and empty; (nil, false) means nothing for now.
	TryRecv() (m *pdata.Message, closed bool)
}

// ControlSource is a node's control queue, read without waiting.
type ControlSource interface {
	// TakeAll appends every queued control message to dst, in order, and
	// returns it; the source is left empty.
	TakeAll(dst []Control) []Control
}

// InboxConfig is what an Inbox decides from.
type InboxConfig struct {
	Input     PDataSource   // nil: the node has no input (counts as closed)
	Control   ControlSource // required
	Scheduler *wakeup.Scheduler
	Resumes   *wakeup.Resumes[*pdata.Message]
	// Gate is the node's AcceptPData (nil: always accepts); Pending is its
	// Drainer count (nil: 0). Deadline is the drain deadline carried by
	// Shutdown (nil: none).
	Gate     func() bool
	Pending  func() int
	Deadline func() time.Time
	// Idler: the node implements Idler and gets a StepIdle after the pdata
	// it handled, once nothing more is ready.
	Idler bool
}

// Inbox is the node contract: the one place that decides what a processor
// or exporter gets next. Control before pdata, but one pdata after
// controlBurstLimit controls in a row; buffered control before due
// resumes, wakeups and ticks; pdata only while the gate is open; Shutdown
// only once the input is closed and empty and the resumes are delivered;
// at the deadline the control already queued, then the resumes, then a
// forced Shutdown, and every pdata that arrives from then on is stranded.
// An Idler gets a StepIdle when a burst of pdata ends: nothing more ready.
//
// Like raft's RawNode it has no goroutine, channel or clock: the caller
// passes the time, reports external events (Offer, InputClosed, Latch,
// Abort, DownstreamDone) and carries out each Step. The engine's node
// goroutine and the nodetest harness are two such shells, so a node's unit
// tests run the contract the engine runs.
//
// An Inbox is not safe for concurrent use; one goroutine owns it.
type Inbox struct {
	cfg      InboxConfig
	state    Lifecycle
	queued   []Control // taken from cfg.Control; queued[qnext:] not yet delivered
	qnext    int
	burst    int            // control messages delivered since the last pdata
	held     *pdata.Message // received but not yet delivered (Offer, or taken to see the input's close)
	closed   bool           // the input is closed (held may still be set)
	preAbort int            // aborting: control messages still to deliver before the forced Shutdown
	busy     bool           // pdata was delivered since the last StepIdle

	tickPeriod time.Duration
	nextTick   time.Time

	waitFor Wait // what the last StepWait waits for

	// External facts, reported by the shell.
	latched        bool
	abortRequested bool
	downstreamDone bool
}

// NewInbox returns an inbox in LifeRunning.
func NewInbox(cfg InboxConfig) *Inbox {
	if cfg.Gate == nil {
		cfg.Gate = func() bool { return true }
	}
	if cfg.Pending == nil {
		cfg.Pending = func() int { return 0 }
	}
	if cfg.Deadline == nil {
		cfg.Deadline = func() time.Time { return time.Time{} }
	}
	return &Inbox{cfg: cfg, closed: cfg.Input == nil}
}

// State returns the node's lifecycle state.
func (in *Inbox) State() Lifecycle { return in.state }

// Scheduler returns the node's wakeup scheduler.
func (in *Inbox) Scheduler() *wakeup.Scheduler { return in.cfg.Scheduler }

// Resumes returns the node's delayed resumes.
func (in *Inbox) Resumes() *wakeup.Resumes[*pdata.Message] { return in.cfg.Resumes }

// Buffered is the number of pdata messages taken from the input and not
// yet delivered (0 or 1).
func (in *Inbox) Buffered() int {
	if in.held != nil {
		return 1
	}
	return 0
}

// Clocked reports whether Next needs the current time: only when something
// is scheduled. Reading the clock costs more than the rest of a message's
// trip through the inbox, so shells pass a zero time otherwise.
func (in *Inbox) Clocked() bool {
	return in.cfg.Resumes.Len() > 0 || in.cfg.Scheduler.Len() > 0 || in.tickPeriod > 0
}

// StartTimer delivers a KindTimerTick every period from now (0 stops it).
// Ticks stop when the node leaves LifeRunning.
func (in *Inbox) StartTimer(now time.Time, period time.Duration) {
	in.tickPeriod = period
	in.nextTick = now.Add(period)
}

// Offer hands the inbox a message the shell received while waiting.
func (in *Inbox) Offer(m *pdata.Message) { in.held = m }

// InputClosed reports the input closed (seen while waiting).
func (in *Inbox) InputClosed() { in.closed = true }

// Latch reports that the pipeline's receivers stopped admitting.
func (in *Inbox) Latch() { in.latched = true }

// Abort reports the shutdown deadline.
func (in *Inbox) Abort() { in.abortRequested = true }

// DownstreamDone reports that every node fed by this one has stopped.
func (in *Inbox) DownstreamDone() { in.downstreamDone = true }

// Wait lists what the last StepWait waits for.
func (in *Inbox) Wait() Wait { return in.waitFor }

// Latched reports whether Latch was called.
func (in *Inbox) Latched() bool { return in.latched }

// Aborted reports whether Abort was called.
func (in *Inbox) Aborted() bool { return in.abortRequested }

// Next decides the node's next step at now (zero when !Clocked()).
func (in *Inbox) Next(now time.Time) Step {
	if in.latched && in.state == LifeRunning {
		in.becomeDraining()
	}
	if in.abortRequested && in.state < LifeAborting {
		in.becomeAborting(now)
	}
	switch in.state {
	case LifeAborting:
		return in.stepAborting(now)
	case LifeAborted:
		return in.stepAborted(now)
	case LifeDone:
		return Step{Kind: StepDone}
	}

	accept := in.state < LifeClosing && in.cfg.Gate()
	// Fairness: after a burst of control, pdata goes first once.
	if accept && in.burst >= controlBurstLimit {
		if m, ok := in.tryPData(); ok {
			return in.deliverPData(m)
		}
	}
	if c, ok := in.popControl(now); ok {
		in.burst++
		return Step{Kind: StepControl, Control: c}
	}
	switch in.state {
	case LifeDraining:
		if in.inputDrained() {
			if in.cfg.Resumes.Len() == 0 {
				return in.becomeClosing()
			}
			// The input is closed and empty: the resumes are due at
			// once, delivered before Shutdown.
			in.cfg.Resumes.BeginShutdown(now)
			if m, _, ok := in.cfg.Resumes.PopDue(now); ok {
				in.burst++
				return Step{Kind: StepControl, Control: Control{Kind: KindResume, Msg: m}}
			}
		}
	case LifeClosing:
		if in.cfg.Pending() == 0 {
			return in.becomeClosed()
		}
	case LifeClosed:
		if in.downstreamDone && in.cfg.Pending() == 0 {
			return in.becomeDone()
		}
	}
	if accept {
		if m, ok := in.tryPData(); ok {
			return in.deliverPData(m)
		}
	}
	if in.busy {
		// Nothing is ready: the end of a burst. Once per burst, and only
		// on the normal path (not while aborting).
		in.busy = false
		return Step{Kind: StepIdle}
	}
	return in.wait(now, accept)
}

// deliverPData hands m to the node.
func (in *Inbox) deliverPData(m *pdata.Message) Step {
	in.burst = 0
	in.busy = in.cfg.Idler
	return Step{Kind: StepPData, PData: m}
}

// becomeDraining: the receivers stopped admitting.
func (in *Inbox) becomeDraining() { in.state = LifeDraining }

// becomeClosing delivers Shutdown: the input is closed and drained.
func (in *Inbox) becomeClosing() Step {
	in.state = LifeClosing
	return Step{Kind: StepControl, Control: Control{Kind: KindShutdown, Deadline: in.cfg.Deadline()}}
}

// becomeClosed ends the node's part in the data path: its wakeups are
// dropped (it can no longer act on them) and its outputs close, which
// closes the next node's input: the shutdown wave. Until then a node that
// still holds work after Shutdown keeps its wakeups: a fan-out's timeouts
// still fail over during a drain.
func (in *Inbox) becomeClosed() Step {
	in.state = LifeClosed
	in.cfg.Scheduler.BeginShutdown()
	return Step{Kind: StepCloseOutputs}
}

// becomeAborting: the deadline. The control messages queued now are
// delivered first (a node must not nack, at its forced Shutdown, data
// whose ack is waiting in its queue), but not later arrivals, so the
// deadline is not postponed indefinitely. Resumes become due at once.
func (in *Inbox) becomeAborting(now time.Time) {
	in.state = LifeAborting
	in.queued = append(in.queued[:0], in.queued[in.qnext:]...)
	in.queued, in.qnext = in.cfg.Control.TakeAll(in.queued), 0
	in.preAbort = len(in.queued)
	in.cfg.Resumes.BeginShutdown(now)
}

// becomeAborted delivers the forced Shutdown after stranding what is
// queued for the node.
func (in *Inbox) becomeAborted() Step {
	in.state = LifeAborted
	return Step{Kind: StepControl, Control: Control{Kind: KindShutdown, Deadline: in.cfg.Deadline(), Forced: true}}
}

// becomeDone: nothing more will be delivered.
func (in *Inbox) becomeDone() Step {
	in.state = LifeDone
	return Step{Kind: StepDone}
}

func (in *Inbox) stepAborting(now time.Time) Step {
	if in.preAbort > 0 {
		in.preAbort--
		c := in.queued[in.qnext]
		in.qnext++
		return Step{Kind: StepControl, Control: c}
	}
	// Resumed data goes back to the node before its forced Shutdown, so
	// it answers that data with the shutdown cause like everything else.
	if m, _, ok := in.cfg.Resumes.PopDue(now); ok {
		return Step{Kind: StepControl, Control: Control{Kind: KindResume, Msg: m}}
	}
	if m, ok := in.tryPData(); ok {
		return Step{Kind: StepStrand, PData: m}
	}
	return in.becomeAborted()
}

// stepAborted: after the forced Shutdown the outputs close; the node still
// gets the outcomes of what it sent, and whatever upstream nodes still send
// (until their own forced Shutdown) is stranded. It stops once its
// consumers have stopped and its input is closed, so nothing sent at the
// last moment is left in a channel without an answer.
func (in *Inbox) stepAborted(now time.Time) Step {
	if !in.cfg.Scheduler.ShuttingDown() {
		in.cfg.Scheduler.BeginShutdown()
		return Step{Kind: StepCloseOutputs}
	}
	if m, ok := in.tryPData(); ok {
		return Step{Kind: StepStrand, PData: m}
	}
	if c, ok := in.popControl(now); ok {
		return Step{Kind: StepControl, Control: c}
	}
	if in.downstreamDone && in.closed && in.cfg.Resumes.Len() == 0 {
		return in.becomeDone()
	}
	return in.wait(now, false)
}

// tryPData takes one pdata message without waiting.
func (in *Inbox) tryPData() (*pdata.Message, bool) {
	if m := in.held; m != nil {
		in.held = nil
		return m, true
	}
	if in.closed {
		return nil, false
	}
	m, closed := in.cfg.Input.TryRecv()
	if closed {
		in.closed = true
	}
	return m, m != nil
}

// popControl returns buffered control first, then due resumes, wakeups and
// timer ticks: a due wakeup never overtakes control already queued.
func (in *Inbox) popControl(now time.Time) (Control, bool) {
	if in.qnext == len(in.queued) {
		clear(in.queued)
		in.queued, in.qnext = in.cfg.Control.TakeAll(in.queued[:0]), 0
	}
	if in.qnext < len(in.queued) {
		c := in.queued[in.qnext]
		in.qnext++
		return c, true
	}
	if now.IsZero() {
		return Control{}, false // nothing is scheduled (see Clocked)
	}
	if m, _, ok := in.cfg.Resumes.PopDue(now); ok {
		return Control{Kind: KindResume, Msg: m}, true
	}
	if d, ok := in.cfg.Scheduler.PopDue(now); ok {
		return Control{Kind: KindWakeup, Wakeup: d}, true
	}
	if in.tickPeriod > 0 && !in.nextTick.After(now) && in.state == LifeRunning {
		in.nextTick = now.Add(in.tickPeriod)
		return Control{Kind: KindTimerTick}, true
	}
	return Control{}, false
}

// inputDrained reports whether the input is closed and empty. With the
// gate closed, one message is taken and held so that the input's close can
// still be seen.
func (in *Inbox) inputDrained() bool {
	if in.held != nil {
		return false
	}
	if !in.closed {
		m, closed := in.cfg.Input.TryRecv()
		if m != nil {
			in.held = m
			return false
		}
		in.closed = closed
	}
	return in.closed
}

// wait says what can change the next step.
func (in *Inbox) wait(now time.Time, accept bool) Step {
	w := Wait{
		Input:      (accept || in.state == LifeDraining || in.state == LifeAborted) && !in.closed && in.held == nil,
		Latch:      !in.latched,
		Abort:      !in.abortRequested,
		Downstream: (in.state == LifeClosed || in.state == LifeAborted) && !in.downstreamDone,
	}
	if !now.IsZero() {
		w.Timer = in.nextDue()
	}
	in.waitFor = w
	return Step{Kind: StepWait}
}

// nextDue is the earliest time a resume, wakeup or tick is due.
func (in *Inbox) nextDue() time.Time {
	var next time.Time
	consider := func(t time.Time, ok bool) {
		if ok && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(in.cfg.Resumes.Next())
	consider(in.cfg.Scheduler.Next())
	consider(in.nextTick, in.tickPeriod > 0 && in.state == LifeRunning)
	return next
}
