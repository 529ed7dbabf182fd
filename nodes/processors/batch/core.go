package batch

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// numSignals and numBuffers size the per-(signal, form) state: logs,
// metrics and traces, each as OTLP bytes and as decoded pdata.
const (
	numSignals = 3
	numBuffers = 2 * numSignals
)

// bufKey identifies one buffer, a (form, signal) pair: form × 3 + signal.
// It is also the buffer's wakeup slot and travels in the call data of every
// batch, so an outcome finds its buffer without looking at its payload.
type bufKey uint8

func keyOf(f pdata.Form, s pdata.Signal) bufKey { return bufKey(int(f)*numSignals + int(s)) }

func (k bufKey) signal() pdata.Signal { return pdata.Signal(int(k) % numSignals) }
func (k bufKey) form() pdata.Form     { return pdata.Form(int(k) / numSignals) }
func (k bufKey) String() string       { return k.signal().String() + "/" + formName(k.form()) }

// callDataTag marks the first call data word of this node's frames, so that
// a frame it did not write (a bug elsewhere) is ignored rather than misread.
const callDataTag = 0xba7c_0000

// callData is the frame of batch id of buffer k: {tag | k, id, 0}.
func callData(k bufKey, id uint64) pdata.CallData {
	return pdata.CallData{callDataTag | uint64(k), id, 0}
}

// parseCallData decodes callData; ok is false for words it did not write.
func parseCallData(cd pdata.CallData) (k bufKey, id uint64, ok bool) {
	if cd[0]&^0xff != callDataTag || cd[0]&0xff >= numBuffers {
		return 0, 0, false
	}
	return bufKey(cd[0] & 0xff), cd[1], true
}

// state is where the node is in its life. It only moves forward.
type state uint8

const (
	stateRunning  state = iota // batching
	stateDraining              // Shutdown handled: everything flushed; outcomes are still routed
	stateStopped               // forced Shutdown: every held input was nacked
)

var stateNames = [...]string{"running", "draining", "stopped"}

func (s state) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(?)"
}

// inputState is where one input is. inputHeld is the only state that
// changes: resolveAck and resolveNack are the only ways out of it.
type inputState uint8

const (
	inputHeld   inputState = iota // its data is pending, in a held batch or in flight
	inputAcked                    // every batch carrying its data was acked: acked upstream
	inputNacked                   // a batch carrying its data failed: nacked upstream; terminal
)

var inputStateNames = [...]string{"held", "acked", "nacked"}

func (s inputState) String() string {
	if int(s) < len(inputStateNames) {
		return inputStateNames[s]
	}
	return "input_state(?)"
}

// input is one message received from upstream.
type input struct {
	msg   *pdata.Message // the original, with the upstream frames; nil once resolved
	buf   *buffer
	items int
	// refs counts the places holding its data: pieces in the pending queue
	// plus batches (held or in flight) carrying any of it. The input is
	// acked when an ack brings it to zero.
	refs  int
	state inputState
	// leases are the input payload's (pdata.Lease): the batches carrying
	// any of its data borrow them, for the exporter's transport to retain.
	leases pdata.Leases
}

// piece is a part (or the whole) of one input's data, in the buffer's form.
type piece struct {
	in *input
	// OTLP form: requests whose concatenation is this piece. When framed
	// is set they are the buffers one input arrived in (pieces of a
	// request), joined by framed.Requests before the piece is cut.
	chunks [][]byte
	framed *pdata.Payload
	// Decoded form: the items [off, off+items) of src, a read-only value
	// (plog.Logs, pmetric.Metrics, ptrace.Traces) of total items.
	src        any
	off, total int

	items  int
	weight int // bytes (OTLP) or items (decoded): what the limits measure
	// atomic pieces are not split again: a re-encoded fragment of an
	// oversize entry, or an entry that could not be split.
	atomic bool
}

// share is an input's part of one batch, in items.
type share struct {
	in    *input
	items int
}

// batch is one output message and the inputs whose data it carries.
type batch struct {
	id     uint64
	msg    *pdata.Message
	shares []share
	// pieces are kept while the batch is held (cut but not sent), so that
	// it can be rebuilt without the data of inputs nacked meanwhile.
	pieces []piece
	// leases are those of its inputs' data (pdata.Lease), retained while
	// the batch may still be read: an input can be nacked, and its sender
	// answered, while another batch carrying its data is in flight.
	leases pdata.Leases
}

// retainLeases holds the leases of bt's payload until releaseLeases.
func (bt *batch) retainLeases() {
	bt.leases = bt.msg.Payload().Leases()
	bt.leases.Retain()
}

// releaseLeases is called once nothing reads bt any more: its outcome
// came back, or it was never sent.
func (bt *batch) releaseLeases() {
	bt.leases.Release()
	bt.leases = nil
}

// live reports whether any input of b still awaits an outcome.
func (b *batch) live() bool {
	for _, s := range b.shares {
		if s.in.state == inputHeld {
			return true
		}
	}
	return false
}

// buffer is the state of one (signal, form).
type buffer struct {
	key  bufKey
	kind otlpwire.Kind
	lim  limits
	m    *bufMetrics

	pending       []piece   // not yet cut into batches, in arrival order
	pendingWeight int       // sum of the pending pieces' weights
	pendingInputs int       // distinct inputs with pending pieces
	batchStart    time.Time // arrival of the oldest pending data; zero when nothing is pending
	armed         wakeup.Revision

	inputs   int               // inputs held: counted against inbound_request_limit
	held     []*batch          // cut, waiting for room under outbound_request_limit, in order
	inflight map[uint64]*batch // sent, awaiting their outcome
}

// processor is the batch processor's state machine. One node goroutine
// owns it; it is not safe for concurrent use.
type processor struct {
	set   settings
	bufs  [numBuffers]*buffer // nil for the forms the node does not batch in
	m     *metrics
	state state

	inputs    int    // inputs held in all buffers: Pending
	nextID    uint64 // of the next batch
	throttled bool   // AcceptPData last found an inbound limit reached
	cut       cutter
}

var (
	_ engine.Processor  = (*processor)(nil)
	_ engine.Gate       = (*processor)(nil)
	_ engine.Drainer    = (*processor)(nil)
	_ engine.WakeupUser = (*processor)(nil)
)

func newCore(set settings, m *metrics) *processor {
	p := &processor{set: set, m: m}
	for k := range bufKey(numBuffers) {
		if !set.active(k.form()) {
			continue
		}
		lim := set.otap
		if k.form() == pdata.FormOTLP {
			lim = set.otlp
		}
		p.bufs[k] = &buffer{
			key: k, kind: wireKind(k.signal()), lim: lim, m: m.buf[k],
			inflight: make(map[uint64]*batch),
		}
	}
	return p
}

// active reports whether the node batches in form f.
func (s settings) active(f pdata.Form) bool {
	switch s.format {
	case FormatOTLP:
		return f == pdata.FormOTLP
	case FormatOTAP:
		return f == pdata.FormDecoded
	}
	return true
}

// activeBuffers lists which buffers exist for s.
func (s settings) activeBuffers() (a [numBuffers]bool) {
	for k := range bufKey(numBuffers) {
		a[k] = s.active(k.form())
	}
	return a
}

func wireKind(s pdata.Signal) otlpwire.Kind {
	switch s {
	case pdata.Metrics:
		return otlpwire.Metrics
	case pdata.Traces:
		return otlpwire.Traces
	}
	return otlpwire.Logs
}

// WakeupSlots implements engine.WakeupUser: one flush wakeup per (signal,
// form), whatever the format, so slot numbers never depend on it.
func (p *processor) WakeupSlots() int { return numBuffers }

// Pending implements engine.Drainer: inputs not yet answered upstream.
func (p *processor) Pending() int { return p.inputs }

// AcceptPData implements engine.Gate. The node refuses data while any
// buffer holds inbound_request_limit inputs: the next input could be for
// that buffer, and refusing (backpressure) is better than nacking it.
func (p *processor) AcceptPData() bool {
	limited := false
	for _, b := range p.bufs {
		if b != nil && b.inputs >= p.set.inbound {
			limited = true
		}
	}
	if limited != p.throttled { // a change: keep the gauge in step
		p.throttled = limited
		if limited {
			p.m.throttled.Add(1)
		} else {
			p.m.throttled.Add(-1)
		}
	}
	return !limited && p.state == stateRunning
}

// OnPData admits one input into the buffer of its signal and form, and
// flushes that buffer if the input completes a batch.
func (p *processor) OnPData(m *pdata.Message, fx engine.Effects) error {
	if p.state != stateRunning {
		// The engine delivers no data after Shutdown; answer it anyway.
		p.nackMsg(m, pdata.Nack{Reason: "batch: node is shutting down", Cause: pdata.CauseNodeShutdown}, fx)
		return nil
	}
	pl := m.Payload()
	if pl == nil {
		p.nackMsg(m, pdata.Nack{Reason: "batch: message carries no payload", Permanent: true}, fx)
		return nil
	}
	if pl.Items() == 0 {
		// Nothing to batch, nothing to wait for.
		p.m.empty.Inc()
		fx.NotifyAck(m)
		return nil
	}
	b, pc, err := p.admit(pl)
	if err != nil {
		// The data cannot be converted to the batching form; it never will.
		p.nackMsg(m, pdata.Nack{Reason: "batch: " + err.Error(), Permanent: true}, fx)
		return nil
	}
	in := &input{msg: m, buf: b, items: pc.items, refs: 1, leases: pl.Leases()}
	pc.in = in
	b.inputs++
	b.m.inputs.Add(1)
	p.inputs++

	now := fx.Now()
	if len(b.pending) == 0 {
		b.batchStart = now
	}
	b.pending = append(b.pending, pc)
	b.pendingWeight += pc.weight
	b.pendingInputs++

	switch {
	case p.set.maxDuration == 0 || b.pendingWeight >= b.lim.lower:
		return p.flush(b, triggerSize, now, fx)
	case b.inputs >= p.set.inbound && b.pendingInputs == b.inputs:
		// The gate closes, and no ack can reopen it: every held input is
		// pending. Waiting for the timer would only add latency (and at
		// shutdown, when wakeups are gone, it would never come).
		return p.flush(b, triggerLimit, now, fx)
	case b.armed == 0:
		return p.arm(b, fx)
	}
	return nil
}

// admit picks the buffer for pl and makes the piece holding all of it,
// converting pl to the form the node batches in.
func (p *processor) admit(pl *pdata.Payload) (*buffer, piece, error) {
	form := pl.Form()
	switch {
	case p.set.format == FormatOTLP:
		form = pdata.FormOTLP
	case p.set.format == FormatOTAP, form == pdata.FormOTAP:
		// Arrow batches are batched decoded: concatenating record
		// batches would mean renumbering their parent ids.
		form = pdata.FormDecoded
	}
	b := p.bufs[keyOf(form, pl.Signal())]
	if form == pdata.FormOTLP {
		chunks, err := pl.Chunks() // encodes a decoded payload, once
		if err != nil {
			return nil, piece{}, fmt.Errorf("encode %s to OTLP: %w", pl.Signal(), err)
		}
		if pl.Form() != form {
			p.m.converted[form].Inc()
		}
		pc := piece{chunks: chunks, items: pl.Items(), weight: pl.Bytes()}
		if pl.Framed() {
			pc.framed = pl // joined only if the piece must be cut (see joined)
		}
		return b, pc, nil
	}
	v, err := decodedValue(pl) // decodes OTLP bytes, once
	if err != nil {
		return nil, piece{}, fmt.Errorf("decode %s request: %w", pl.Signal(), err)
	}
	if pl.Form() != form {
		p.m.converted[form].Inc()
	}
	n := decodedItems(v)
	return b, piece{src: v, total: n, items: n, weight: n}, nil
}

// OnControl handles outcomes of batches, flush wakeups and shutdown.
func (p *processor) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindAck:
		p.onOutcome(c.CallData, true, pdata.Nack{}, fx)
	case engine.KindNack:
		p.onOutcome(c.CallData, false, c.Nack, fx)
	case engine.KindWakeup:
		return p.onWakeup(c.Wakeup, fx)
	case engine.KindShutdown:
		return p.onShutdown(c, fx)
	}
	return nil
}

// onOutcome applies the ack or nack of one batch to the inputs it carries.
func (p *processor) onOutcome(cd pdata.CallData, ack bool, n pdata.Nack, fx engine.Effects) {
	k, id, ok := parseCallData(cd)
	var b *buffer
	if ok {
		b = p.bufs[k]
	}
	var bt *batch
	if b != nil {
		bt = b.inflight[id]
	}
	if bt == nil {
		p.m.lateOutcomes.Inc()
		return
	}
	delete(b.inflight, id)
	b.m.inflight.Add(-1)
	bt.releaseLeases()
	for _, s := range bt.shares {
		in := s.in
		if in.state != inputHeld {
			continue // already nacked by another batch: first nack wins
		}
		if !ack {
			p.resolveNack(in, n.Wrap("batch"), fx)
			continue
		}
		in.refs--
		if in.refs == 0 {
			p.resolveAck(in, fx)
		}
	}
	if p.state == stateRunning {
		p.sendHeld(b, false, fx)
	}
}

// onWakeup flushes a buffer whose batch is old enough. A wakeup for a batch
// already flushed, or early for the current one, is ignored: the batch's
// own age decides, not the wakeup.
func (p *processor) onWakeup(d wakeup.Due, fx engine.Effects) error {
	if d.Slot >= numBuffers || p.bufs[d.Slot] == nil {
		p.m.staleWakeups.Inc()
		return nil
	}
	b := p.bufs[d.Slot]
	if d.Revision == b.armed {
		b.armed = 0 // delivered: no longer live in the scheduler
	}
	if len(b.pending) == 0 || p.state != stateRunning {
		p.m.staleWakeups.Inc()
		return nil
	}
	now := fx.Now()
	deadline := b.batchStart.Add(p.set.maxDuration)
	if now.Before(deadline) {
		p.m.staleWakeups.Inc()
		if b.armed == 0 {
			return p.arm(b, fx) // the live wakeup was this early one
		}
		return nil
	}
	b.m.lateness.Set(now.Sub(deadline).Seconds())
	return p.flush(b, triggerTimer, now, fx)
}

// idleFlusher is the processor of a node with flush_when_idle: an
// engine.Idler that also flushes when a batch's outcome leaves its buffer
// with nothing in flight. This is Nagle's rule: a batch goes at once when
// the way is clear, and what arrives while an earlier batch is out waits
// for its outcome (or min_size, or max_batch_duration), so batches grow
// with the load and not with the clock.
type idleFlusher struct{ *processor }

var _ engine.Idler = idleFlusher{}

// OnIdle flushes the buffers that are quiet: nothing more is ready to
// join their batches.
func (p idleFlusher) OnIdle(fx engine.Effects) error { return p.flushQuiet(fx) }

// OnControl is the processor's; an outcome may leave its buffer quiet.
func (p idleFlusher) OnControl(c engine.Control, fx engine.Effects) error {
	if err := p.processor.OnControl(c, fx); err != nil {
		return err
	}
	if c.Kind == engine.KindAck || c.Kind == engine.KindNack {
		return p.flushQuiet(fx)
	}
	return nil
}

// flushQuiet flushes every buffer with data pending and no batch awaiting
// its outcome or outbound room.
func (p idleFlusher) flushQuiet(fx engine.Effects) error {
	if p.state != stateRunning {
		return nil
	}
	var now time.Time
	var errs []error
	for _, b := range p.bufs {
		if b == nil || len(b.pending) == 0 || len(b.inflight) > 0 || len(b.held) > 0 {
			continue
		}
		if now.IsZero() {
			now = fx.Now()
		}
		errs = append(errs, p.flush(b, triggerIdle, now, fx))
	}
	return errors.Join(errs...)
}

// onShutdown flushes everything at the first Shutdown and nacks what is
// still held at the forced one.
func (p *processor) onShutdown(c engine.Control, fx engine.Effects) error {
	if !c.Forced {
		if p.state != stateRunning {
			return nil
		}
		p.state = stateDraining
		now := fx.Now()
		var errs []error
		for _, b := range p.bufs {
			if b == nil {
				continue
			}
			errs = append(errs, p.flush(b, triggerShutdown, now, fx))
			p.sendHeld(b, true, fx) // outputs close after this call: send now
		}
		return errors.Join(errs...)
	}
	if p.state == stateStopped {
		return nil
	}
	p.state = stateStopped
	nack := pdata.Nack{Reason: "batch: shutdown deadline reached before the outcome", Cause: pdata.CauseNodeShutdown}
	for _, b := range p.bufs {
		if b == nil {
			continue
		}
		// resolveNack compacts b.pending: walk a copy.
		for _, pc := range slices.Clone(b.pending) {
			if pc.in.state == inputHeld {
				p.resolveNack(pc.in, nack, fx)
			}
		}
		for _, bt := range b.held {
			p.failBatch(bt, nack, fx)
			bt.releaseLeases() // never sent
		}
		b.m.held.Add(-int64(len(b.held)))
		clear(b.held)
		b.held = b.held[:0]
		ids := make([]uint64, 0, len(b.inflight))
		for id := range b.inflight {
			ids = append(ids, id)
		}
		slices.Sort(ids) // nack in send order
		for _, id := range ids {
			p.failBatch(b.inflight[id], nack, fx)
		}
		b.m.inflight.Add(-int64(len(b.inflight)))
		clear(b.inflight)
	}
	if p.throttled { // nothing is held any more
		p.throttled = false
		p.m.throttled.Add(-1)
	}
	if p.inputs != 0 {
		return fmt.Errorf("batch: %d inputs still held after the forced shutdown nacked everything", p.inputs)
	}
	return nil
}

// flush cuts the pending data of b into batches and sends what the
// outbound limit allows. A size flush with max_size set may keep a last,
// small batch pending, so that the next inputs fill it up.
func (p *processor) flush(b *buffer, t trigger, now time.Time, fx engine.Effects) error {
	if len(b.pending) == 0 {
		p.disarm(b, fx)
		return nil
	}
	b.m.flushes[t].Inc()
	b.m.pendingInputs.Add(uint64(b.pendingInputs))
	pendingItems := 0
	for _, pc := range b.pending {
		pendingItems += pc.items
	}
	b.m.pendingItems.Add(uint64(pendingItems))
	if b.m.pendingBytes != nil {
		b.m.pendingBytes.Add(uint64(b.pendingWeight))
	}
	b.m.age.Set(now.Sub(b.batchStart).Seconds())

	retain := t == triggerSize && p.set.maxDuration > 0
	p.cutPending(b, retain, fx)
	if len(b.pending) == 0 {
		b.batchStart = time.Time{}
		p.disarm(b, fx)
	} else {
		// The kept tail is part of the input that triggered the flush
		// (everything before it was below the lower limit), so it
		// arrived now.
		b.batchStart = now
		if err := p.arm(b, fx); err != nil {
			return err
		}
	}
	p.sendHeld(b, t == triggerShutdown, fx)
	return nil
}

// arm sets the flush wakeup of b's current batch.
func (p *processor) arm(b *buffer, fx engine.Effects) error {
	rev, _, err := fx.SetWakeup(wakeup.Slot(b.key), b.batchStart.Add(p.set.maxDuration))
	switch {
	case errors.Is(err, wakeup.ErrShuttingDown):
		return nil // the Shutdown that follows flushes the batch
	case err != nil:
		return fmt.Errorf("batch %s: arm flush wakeup: %w", b.key, err)
	}
	b.armed = rev
	return nil
}

// disarm cancels b's flush wakeup, if live.
func (p *processor) disarm(b *buffer, fx engine.Effects) {
	if b.armed != 0 {
		fx.CancelWakeup(wakeup.Slot(b.key))
		b.armed = 0
	}
}

// dropNackedShares rebuilds a held batch without the data of inputs that
// were nacked while it waited: their senders retry that data, so sending it
// too would duplicate it downstream.
func (p *processor) dropNackedShares(b *buffer, bt *batch) {
	if !slices.ContainsFunc(bt.shares, func(s share) bool { return s.in.state == inputNacked }) {
		return
	}
	bt.shares = slices.DeleteFunc(bt.shares, func(s share) bool { return s.in.state == inputNacked })
	bt.pieces = slices.DeleteFunc(bt.pieces, func(pc piece) bool { return pc.in.state == inputNacked })
	p.cut.failed = p.cut.failed[:0] // the cut's failures are settled; none apply here
	bt.msg = pdata.New(p.payloadOf(b, bt.pieces))
	p.m.rebuilt.Inc()
}

// sendHeld sends b's held batches in order while the outbound limit allows
// (always when force: at shutdown the outputs close right after).
func (p *processor) sendHeld(b *buffer, force bool, fx engine.Effects) {
	sent := 0
	for sent < len(b.held) && (force || len(b.inflight) < p.set.outbound) {
		bt := b.held[sent]
		b.held[sent] = nil
		sent++
		if !bt.live() {
			// Every input it carries was nacked already: sending it
			// would only duplicate data the senders will retry.
			p.m.skipped.Inc()
			bt.releaseLeases() // never sent
			continue
		}
		p.dropNackedShares(b, bt)
		bt.pieces = nil
		fx.Subscribe(bt.msg, pdata.AcksAndNacks, callData(b.key, bt.id))
		if err := fx.Send(bt.msg); err != nil {
			p.failBatch(bt, sendNack(err), fx)
			bt.releaseLeases()
			continue
		}
		b.inflight[bt.id] = bt
		b.m.inflight.Add(1)
	}
	if sent > 0 {
		b.m.held.Add(-int64(sent))
		n := copy(b.held, b.held[sent:])
		clear(b.held[n:])
		b.held = b.held[:n]
	}
}

// sendNack is the nack of the inputs of a batch that could not be sent.
func sendNack(err error) pdata.Nack {
	n := pdata.Nack{Reason: "batch: send: " + err.Error()}
	switch {
	case errors.Is(err, engine.ErrClosed):
		n.Cause = pdata.CauseRouteClosed
	case errors.Is(err, engine.ErrAborted):
		n.Cause = pdata.CauseNodeShutdown
	case errors.Is(err, engine.ErrFull):
		n.Cause = pdata.CauseRouteFull
	}
	return n
}

// failBatch nacks every input of bt still held.
func (p *processor) failBatch(bt *batch, n pdata.Nack, fx engine.Effects) {
	for _, s := range bt.shares {
		if s.in.state == inputHeld {
			p.resolveNack(s.in, n, fx)
		}
	}
}

// resolveAck is the only way to inputAcked.
func (p *processor) resolveAck(in *input, fx engine.Effects) {
	in.state = inputAcked
	p.release(in)
	p.m.acked.Inc()
	m := in.msg
	in.msg = nil
	fx.NotifyAck(m)
}

// resolveNack is the only way to inputNacked. Pending pieces of the input
// are dropped from the buffer: the sender has its answer and will retry,
// so sending them would duplicate data.
func (p *processor) resolveNack(in *input, n pdata.Nack, fx engine.Effects) {
	in.state = inputNacked
	p.release(in)
	b := in.buf
	if slices.ContainsFunc(b.pending, func(pc piece) bool { return pc.in == in }) {
		kept := b.pending[:0]
		b.pendingWeight, b.pendingInputs = 0, 0
		var last *input
		for _, pc := range b.pending {
			if pc.in == in {
				continue
			}
			kept = append(kept, pc)
			b.pendingWeight += pc.weight
			if pc.in != last {
				b.pendingInputs++
				last = pc.in
			}
		}
		clear(b.pending[len(kept):])
		b.pending = kept
		if len(b.pending) == 0 {
			b.batchStart = time.Time{}
			p.disarm(b, fx)
		}
	}
	p.countNack(n)
	m := in.msg
	in.msg = nil
	fx.NotifyNack(m, n)
}

// release takes a resolved input off the limits.
func (p *processor) release(in *input) {
	in.buf.inputs--
	in.buf.m.inputs.Add(-1)
	p.inputs--
}

// nackMsg answers a message that was never admitted.
func (p *processor) nackMsg(m *pdata.Message, n pdata.Nack, fx engine.Effects) {
	p.countNack(n)
	fx.NotifyNack(m, n)
}

func (p *processor) countNack(n pdata.Nack) {
	if int(n.Cause) < len(p.m.nacked) {
		p.m.nacked[n.Cause].Inc()
	}
}
