package otlp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/internal/memlimit"
	"github.com/ackflow/ackflow/pdata"
)

// verdict is how a request is answered. Each protocol maps it to its own
// status (grpc.go, http.go); metrics name it with String.
type verdict uint8

const (
	vOK            verdict = iota // delivered (or admitted, without wait_for_result)
	vMalformed                    // not a valid request: never forwarded
	vTooLarge                     // over max_request_size
	vUnsupported                  // content type or encoding not accepted
	vBusy                         // over max_concurrent_requests
	vBudget                       // over max_in_flight_bytes
	vMemory                       // the process is near its memory limit
	vBodyTimeout                  // the body did not arrive in time (timeout, or too slow)
	vBackpressure                 // the pipeline stayed full until the timeout
	vNackTransient                // the pipeline nacked; retrying may work
	vNackPermanent                // the pipeline nacked; retrying cannot work
	vTimeout                      // admitted, no outcome within the timeout
	vShutdown                     // the receiver is draining or was aborted
	vCanceled                     // the client went away or its deadline passed
	vUnroutable                   // the pipeline refused the message (no output port)
	numVerdicts
)

var verdictNames = [numVerdicts]string{
	"ok", "malformed", "too_large", "unsupported", "busy", "budget", "memory", "body_timeout", "backpressure",
	"nack_transient", "nack_permanent", "timeout", "shutdown", "canceled", "unroutable",
}

func (v verdict) String() string { return verdictNames[v] }

// refusesItems reports whether a request answered with v had been parsed,
// so that its items are known and were refused.
func (v verdict) refusesItems() bool {
	switch v {
	case vBudget, vBackpressure, vNackTransient, vNackPermanent, vTimeout, vShutdown, vCanceled, vUnroutable:
		return true
	}
	return false
}

// result is a verdict and the message for the client.
type result struct {
	v   verdict
	msg string
}

// outcome is an ack or nack delivered to a waiting request.
type outcome struct {
	ack  bool
	nack pdata.Nack
}

// waiters maps request ids to the requests awaiting their outcome.
// OnOutcome runs on other goroutines, hence the lock; it is held only for a
// map operation.
type waiters struct {
	mu sync.Mutex
	m  map[uint64]chan outcome
}

// hold is the byte reservation of a request in the pipeline.
type hold struct {
	bytes  int64
	waited bool         // the client waits for the outcome (wait_for_result)
	lease  *pdata.Lease // the request's buffers, released at the outcome (see leaseOf)
}

// holds are the reservations of requests whose outcome has not come back:
// the budget covers data until it has left the pipeline, not only until
// its client was answered (a client that gave up does not free memory).
type holds struct {
	mu sync.Mutex
	m  map[uint64]hold
}

func (h *holds) put(id uint64, v hold) {
	h.mu.Lock()
	if h.m == nil {
		h.m = make(map[uint64]hold)
	}
	h.m[id] = v
	h.mu.Unlock()
}

func (h *holds) take(id uint64) (hold, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.m[id]
	delete(h.m, id)
	return v, ok
}

// chanPool recycles outcome channels. A channel returns to the pool only
// once its request is answered: out of the map and drained, so no sender
// can still hold it.
var chanPool = sync.Pool{New: func() any { return make(chan outcome, 1) }}

func (w *waiters) add(id uint64) chan outcome {
	ch := chanPool.Get().(chan outcome)
	w.mu.Lock()
	w.m[id] = ch
	w.mu.Unlock()
	return ch
}

// take removes id and returns its channel, or nil if the request was
// answered already (a late outcome).
func (w *waiters) take(id uint64) chan outcome {
	w.mu.Lock()
	ch, ok := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	if !ok {
		return nil
	}
	return ch
}

// len returns the number of requests awaiting an outcome.
func (w *waiters) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m)
}

// callData is what the receiver stores in its frame: the request id, and
// the protocol and signal so that a late outcome is counted where it
// belongs.
func callData(id uint64, p protocol, s pdata.Signal) pdata.CallData {
	return pdata.CallData{id, uint64(p)<<8 | uint64(s)}
}

func fromCallData(cd pdata.CallData) (id uint64, p protocol, s pdata.Signal, ok bool) {
	p, s = protocol(cd[1]>>8), pdata.Signal(cd[1]&0xff)
	return cd[0], p, s, p < numProtocols && s <= pdata.Traces
}

// core admits requests into the pipeline and resolves them from outcomes.
// It is shared by the gRPC and HTTP servers and safe for concurrent use.
type core struct {
	clock   clock.Clock
	metrics *metrics
	fx      engine.ReceiverEffects // set by Run before any request is served

	maxBytes      int64        // max_in_flight_bytes; 0 = unlimited
	inFlightBytes atomic.Int64 // bytes of bodies being read and of requests in the pipeline
	holds         holds        // request id → bytes reserved until its outcome

	nextID   atomic.Uint64
	waiters  waiters
	draining atomic.Bool

	// admitting tracks requests inside admit, serving every request
	// handler: the drain waits on them.
	admitting, serving tracker

	// memory reads the process's memory pressure (memlimit.Pressure;
	// tests replace it).
	memory func() memlimit.Reading

	// reuseBuffers: every node below releases payloads
	// (engine.NodeContext.ReuseBuffers), so a request's transport
	// buffers go back for reuse once its outcome arrived.
	reuseBuffers bool
}

func newCore(clk clock.Clock, m *metrics, maxInFlightBytes int64, reuseBuffers bool) *core {
	return &core{clock: clk, metrics: m, maxBytes: maxInFlightBytes, waiters: waiters{m: map[uint64]chan outcome{}},
		memory: memlimit.Pressure, reuseBuffers: reuseBuffers}
}

// leaseOf returns the lease a request handler would release: its
// transport's, when the pipeline lets the receiver reuse buffers, else nil
// (never released: the garbage collector reclaims the buffers).
func (c *core) leaseOf(l *pdata.Lease) *pdata.Lease {
	if !c.reuseBuffers {
		return nil
	}
	return l
}

// requestLease returns the lease the request handler lent p, if any: its
// only one, lent only where the pipeline lets the receiver reuse buffers
// (see leaseOf).
func requestLease(p *pdata.Payload) *pdata.Lease {
	if ls := p.Leases(); len(ls) == 1 {
		return ls[0]
	}
	return nil
}

// refuseEarly returns the answer to a request that can be refused before
// its body is read: over max_in_flight_bytes, or the process near its
// memory limit (engine.memory_limit or GOMEMLIMIT).
func (c *core) refuseEarly() (result, bool) {
	if c.overBudget() {
		return c.budgetRefusal(), true
	}
	if r := c.memory(); r.High() {
		return result{vMemory, fmt.Sprintf("the process holds %d MiB, near its memory limit of %d MiB; retry later",
			r.Used>>20, r.Limit>>20)}, true
	}
	return result{}, false
}

// reserve adds n bytes to the in-flight budget for a request that already
// holds mine. A request alone is always let through, so that a request
// larger than the budget is not refused forever: the budget may then be
// exceeded by that one request, never by two.
func (c *core) reserve(n, mine int64) bool {
	if c.maxBytes <= 0 || n <= 0 {
		return true
	}
	if held := c.inFlightBytes.Add(n); held > c.maxBytes && held != mine+n {
		c.inFlightBytes.Add(-n)
		return false
	}
	c.metrics.heldBytes.Add(n)
	return true
}

// overBudget reports a budget already spent, so that a request is refused
// before its body is read: under overload, reading bodies only to refuse
// them would itself be the memory problem.
func (c *core) overBudget() bool {
	return c.maxBytes > 0 && c.inFlightBytes.Load() >= c.maxBytes
}

func (c *core) budgetRefusal() result {
	return result{vBudget, fmt.Sprintf("more than max_in_flight_bytes (%d bytes) of request data is held; retry later", c.maxBytes)}
}

func (c *core) releaseBytes(n int64) {
	if c.maxBytes > 0 && n > 0 {
		c.inFlightBytes.Add(-n)
		c.metrics.heldBytes.Add(-n)
	}
}

// errBudget is returned by a body read that max_in_flight_bytes cut short.
var errBudget = errors.New("max_in_flight_bytes reached while reading the request body")

// reservation is one request's share of max_in_flight_bytes. A body being
// read grows it before every buffer it allocates (HTTP), so memory is
// charged as the bytes arrive rather than after the whole body is in;
// admit then takes it over until the data's outcome. The zero value holds
// nothing; it is owned by one goroutine.
type reservation struct {
	c    *core
	held int64
	// bufs are the pooled buffers the body was read into (alloc), put
	// back by discard or release unless taken (take).
	bufs []*[]byte
}

// alloc reserves n bytes and returns an empty buffer of capacity n from
// bodyPool (errBudget if the budget is spent).
func (r *reservation) alloc(n int) ([]byte, error) {
	if !r.grow(int64(n)) {
		return nil, errBudget
	}
	h := bodyPool().Get(n)
	r.bufs = append(r.bufs, h)
	return (*h)[:0:n], nil
}

// discard gives back the bytes of b, a buffer from alloc that nothing
// references any more, and the buffer to the pool.
func (r *reservation) discard(b []byte) {
	r.shrink(int64(cap(b)))
	if h := r.take(b); h != nil {
		bodyPool().Put(h)
	}
}

// take removes b's buffer from those the reservation puts back, and
// returns it: nil for a buffer not from alloc.
func (r *reservation) take(b []byte) *[]byte {
	if cap(b) == 0 {
		return nil
	}
	first := &b[:1][0]
	for i, h := range r.bufs {
		if cap(*h) > 0 && &(*h)[:1][0] == first {
			r.bufs = slices.Delete(r.bufs, i, i+1)
			return h
		}
	}
	return nil
}

// grow reserves n more bytes; false when the budget is spent.
func (r *reservation) grow(n int64) bool {
	if !r.c.reserve(n, r.held) {
		return false
	}
	r.held += n
	return true
}

// shrink gives n bytes back.
func (r *reservation) shrink(n int64) {
	n = min(n, r.held)
	r.c.releaseBytes(n)
	r.held -= n
}

// release gives everything back: the bytes still held (the request was
// refused) and the buffers not taken, which nothing references.
func (r *reservation) release() {
	r.shrink(r.held)
	for _, h := range r.bufs {
		bodyPool().Put(h)
	}
	r.bufs = nil
}

// admit sends a parsed request into the pipeline and, with
// wait_for_result, waits for its outcome, the timeout, the client or the
// shutdown deadline, whichever comes first. The timeout covers the whole
// request: time spent blocked on a full pipeline counts against it.
//
// size is the request body's size after decompression, for metrics. res
// is what the body already reserved while it was read (HTTP); admit takes
// it over. When it holds nothing (gRPC, whose bodies grpc-go reads), size
// bytes are reserved here.
//
// Callers bracket admit and the writing of its answer with
// admitting.enter and admitting.leave, so that at the shutdown deadline
// the drain closes connections only after the answers are out.
func (c *core) admit(ctx context.Context, pr protocol, st *settings, s pdata.Signal, p *pdata.Payload, size int, res *reservation) result {
	items := p.Items()
	c.metrics.bytes[pr][s].Add(uint64(size))
	if res == nil {
		res = &reservation{c: c}
	}
	if res.held == 0 && !res.grow(int64(size)) {
		requestLease(p).Release() // never admitted: nothing else reads it
		r := c.budgetRefusal()
		c.metrics.answered(pr, s, r.v, items)
		return r
	}
	held := res.held
	res.held = 0 // admit owns the bytes now
	r, inPipeline := c.admitAndWait(ctx, pr, st, s, p, held)
	if !inPipeline {
		c.releaseBytes(held) // otherwise the outcome releases them
	}
	c.metrics.answered(pr, s, r.v, items)
	return r
}

// admitAndWait does the work of admit. inPipeline reports that the data
// entered the pipeline and its bytes stay reserved until its outcome
// arrives (see holds), whatever the client was answered.
func (c *core) admitAndWait(ctx context.Context, pr protocol, st *settings, s pdata.Signal, p *pdata.Payload, size int64) (res result, inPipeline bool) {
	// Released here unless the data enters the pipeline, then at its
	// outcome.
	lease := requestLease(p)
	if c.draining.Load() || closed(c.fx.Aborted()) {
		lease.Release()
		return result{vShutdown, "receiver is shutting down; retry on another instance or later"}, false
	}
	if p.Items() == 0 {
		lease.Release()
		return result{v: vOK}, false // nothing to deliver
	}
	m := pdata.New(p)
	id := c.nextID.Add(1)
	var ch chan outcome
	var timer clock.Timer // without wait_for_result, only a blocked send needs one
	timeout := answerWithin(ctx, st.timeout)
	if st.waitForResult {
		timer = c.clock.NewTimer(timeout)
		defer timer.Stop()
		ch = c.waiters.add(id)
	}
	if st.waitForResult || c.maxBytes > 0 || lease != nil {
		c.fx.Subscribe(m, pdata.AcksAndNacks, callData(id, pr, s))
	}
	if c.maxBytes > 0 || lease != nil {
		// Recorded before the send: the outcome may come back before
		// Send returns.
		c.holds.put(id, hold{bytes: size, waited: st.waitForResult, lease: lease})
	}
	c.metrics.inFlight[pr][s].Add(1)
	defer c.metrics.inFlight[pr][s].Add(-1)

	timedOut, err := c.send(ctx, m, timer, timeout)
	if err != nil {
		if st.waitForResult {
			c.waiters.take(id) // never admitted: no outcome can come
			chanPool.Put(ch)
		}
		c.holds.take(id)
		lease.Release() // never sent: nothing else reads it
		return sendFailure(err, timedOut, timeout), false
	}
	c.metrics.items[pr][s].Add(uint64(p.Items()))
	inPipeline = c.maxBytes > 0
	if !st.waitForResult {
		return result{v: vOK}, inPipeline
	}
	if timedOut {
		return c.giveUp(id, ch, result{vTimeout, fmt.Sprintf("admitted, but no outcome within %s", timeout)}), inPipeline
	}
	select {
	case o := <-ch:
		chanPool.Put(ch)
		return fromOutcome(o), inPipeline
	case <-timer.C():
		return c.giveUp(id, ch, result{vTimeout, fmt.Sprintf("no outcome within %s; the data may still be delivered", timeout)}), inPipeline
	case <-ctx.Done():
		return c.giveUp(id, ch, result{vCanceled, "client went away: " + context.Cause(ctx).Error()}), inPipeline
	case <-c.fx.Aborted():
		return c.giveUp(id, ch, result{vShutdown, "shutdown deadline reached before the outcome; the data may still be delivered"}), inPipeline
	}
}

// answerWithin is how long a request may wait for the pipeline: the
// receiver's timeout, shortened to end a little before the client's own
// deadline (gRPC sends it with the request) so that the client gets the
// receiver's answer — UNAVAILABLE or DEADLINE_EXCEEDED with a reason —
// instead of timing out on its side with nothing to go on.
func answerWithin(ctx context.Context, timeout time.Duration) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return timeout
	}
	left := time.Until(dl)
	margin := min(max(left/20, 5*time.Millisecond), 500*time.Millisecond)
	return max(min(timeout, left-margin), time.Millisecond)
}

// giveUp answers a request with r unless its outcome won the race: the
// waiter is removed so that a later outcome is counted as late and
// dropped, and nothing is left behind for the request.
func (c *core) giveUp(id uint64, ch chan outcome, r result) result {
	if c.waiters.take(id) == nil {
		// OnOutcome took the waiter first and is about to deliver.
		r = fromOutcome(<-ch)
	}
	chanPool.Put(ch)
	return r
}

// send admits m, waiting while the pipeline is full until the timer fires
// (a nil timer is armed with timeout here), the client goes away or the
// shutdown deadline. The common case (room in the channel) costs no
// goroutine; only a blocked send gets one, so that the handler can watch
// the timer meanwhile.
func (c *core) send(ctx context.Context, m *pdata.Message, timer clock.Timer, timeout time.Duration) (timedOut bool, err error) {
	err = c.fx.TrySend(m)
	if !errors.Is(err, engine.ErrFull) {
		return false, err
	}
	if timer == nil {
		timer = c.clock.NewTimer(timeout)
		defer timer.Stop()
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.fx.Send(sctx, m) }()
	select {
	case err = <-done:
		return false, err
	case <-timer.C():
		cancel()
		return true, <-done // nil if the send won the race: admitted after all
	}
}

// sendFailure is the verdict of a request the pipeline did not take.
func sendFailure(err error, timedOut bool, timeout time.Duration) result {
	switch {
	case timedOut:
		return result{vBackpressure, fmt.Sprintf("pipeline full for %s; retry later", timeout)}
	case errors.Is(err, engine.ErrAborted), errors.Is(err, engine.ErrClosed):
		return result{vShutdown, "receiver is shutting down: " + err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return result{vCanceled, "client went away: " + err.Error()}
	}
	return result{vUnroutable, "pipeline refused the request: " + err.Error()}
}

func fromOutcome(o outcome) result {
	switch {
	case o.ack:
		return result{v: vOK}
	case o.nack.Permanent:
		return result{vNackPermanent, "rejected by the pipeline: " + o.nack.Reason}
	}
	return result{vNackTransient, "not delivered, retry later: " + o.nack.Reason}
}

// onOutcome delivers an ack or nack to its waiting request, or counts it
// as late. It never blocks: the channel has room for its one outcome.
func (c *core) onOutcome(ctl engine.Control) {
	id, pr, s, ok := fromCallData(ctl.CallData)
	if !ok {
		return // not a frame of ours
	}
	h, held := c.holds.take(id)
	if held {
		c.releaseBytes(h.bytes) // the data has left the pipeline
		// After an abort, nodes answered without waiting for what
		// they started: the buffers are left to the garbage collector.
		if h.lease != nil && !closed(c.fx.Aborted()) {
			h.lease.Release()
		}
	}
	ch := c.waiters.take(id)
	if ch == nil {
		if !held || h.waited {
			c.metrics.late[pr][s].Inc()
		}
		return
	}
	ch <- outcome{ack: ctl.Kind == engine.KindAck, nack: ctl.Nack}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// tracker counts goroutines inside a section and lets the drain wait until
// none is left. (A WaitGroup cannot: new requests may enter while the drain
// waits.)
type tracker struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil if nobody waits
}

func (t *tracker) enter() {
	t.mu.Lock()
	t.n++
	t.mu.Unlock()
}

func (t *tracker) leave() {
	t.mu.Lock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
	t.mu.Unlock()
}

// wait returns a channel closed once no goroutine is inside.
func (t *tracker) wait() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if t.idle == nil {
		t.idle = make(chan struct{})
	}
	return t.idle
}

// limiter bounds concurrent requests without waiting: a request over the
// limit is refused at once. Handlers check full before reading a body, so
// refused load costs no read, and take the slot once the body is in. A
// zero limit admits everything.
type limiter struct {
	max int64
	n   atomic.Int64
}

func (l *limiter) tryAcquire() bool {
	if l.max <= 0 {
		return true
	}
	if l.n.Add(1) > l.max {
		l.n.Add(-1)
		return false
	}
	return true
}

// full reports that tryAcquire would fail now, so that a request can be
// refused before its body is read; the slot itself is taken once the body
// is in (tryAcquire), so that slow uploads hold none.
func (l *limiter) full() bool {
	return l.max > 0 && l.n.Load() >= l.max
}

func (l *limiter) release() {
	if l.max > 0 {
		l.n.Add(-1)
	}
}
