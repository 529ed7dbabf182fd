package otap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	"github.com/ackflow/ackflow/pdata"
	otapcodec "github.com/ackflow/ackflow/pdata/otap"
)

// Backoff between stream opens after an open failed, or after a stream
// broke before the server answered anything on it: the reference's.
const (
	initialBackoff = 10 * time.Millisecond
	maxBackoff     = 10 * time.Second
)

// nextBackoff doubles d, from initialBackoff up to maxBackoff.
func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return initialBackoff
	}
	return min(2*d, maxBackoff)
}

// errClosed ends what is left on a stream when the exporter closes.
var errClosed = errors.New("exporter closed")

// waiter is one export between Export and its outcome. resolve settles it
// exactly once, whoever comes first: the batch's status, the failure of
// its stream, an encoding error, or the end of the export's context.
type waiter struct {
	p       *pdata.Payload
	lane    *lane
	settled atomic.Bool
	res     exportdriver.Result // written once, before done is closed
	done    chan struct{}
	// reading is held by the lane while it encodes p. An export whose
	// context ends takes it before returning, so that nothing reads the
	// payload once its outcome is reported: a receiver may then give the
	// payload's buffers back for reuse (engine.Factory.ReleasesPayloads).
	reading sync.Mutex
}

func newWaiter(p *pdata.Payload, l *lane) *waiter {
	l.load.Add(1)
	return &waiter{p: p, lane: l, done: make(chan struct{})}
}

// live reports whether the export still waits for an outcome.
func (w *waiter) live() bool { return !w.settled.Load() }

// resolve settles the export with r, unless it is settled already; it
// reports whether r is the outcome.
func (w *waiter) resolve(r exportdriver.Result) bool {
	if !w.settled.CompareAndSwap(false, true) {
		return false
	}
	w.res = r
	w.lane.load.Add(-1)
	close(w.done)
	return true
}

// lane is one of a signal's streams_per_signal slots: a bounded queue and
// the goroutine that owns the slot's current stream, with the stream's
// encoder (its dictionaries) and its lifetime. The goroutine starts at the
// lane's first export; it opens a stream when a batch is waiting and none
// is open, and replaces it when it breaks or retires.
type lane struct {
	t      *transport
	signal pdata.Signal
	queue  chan *waiter
	load   atomic.Int64 // exports assigned to the lane and not settled
	once   sync.Once
}

// start runs the lane's goroutine, once. Export calls it; the driver never
// calls Export and Close at the same time.
func (l *lane) start() {
	l.once.Do(func() { l.t.wg.Go(func() { l.run(l.t.ctx) }) })
}

// run is the lane's goroutine: open a stream for the first batch waiting,
// serve it until it ends, repeat; back off after failures.
func (l *lane) run(ctx context.Context) {
	var delay time.Duration // before the next open; 0 after a healthy stream
	var carry *waiter       // taken for a stream that had ended: first on the next
	for {
		w := carry
		carry = nil
		if w == nil || !w.live() {
			var ok bool
			if w, ok = l.next(ctx); !ok {
				return
			}
		}
		if delay > 0 {
			if !l.sleep(ctx, delay) {
				w.resolve(exportdriver.Result{Status: "canceled", Err: errClosed})
				return
			}
			if !w.live() { // its export ended during the backoff
				var ok bool
				if w, ok = l.next(ctx); !ok {
					return
				}
			}
		}
		s, err := l.open(ctx)
		if err != nil {
			if ctx.Err() != nil {
				w.resolve(exportdriver.Result{Status: "canceled", Err: errClosed})
				return
			}
			l.failOpen(w, err)
			delay = nextBackoff(delay)
			continue
		}
		var healthy bool
		healthy, carry = l.serve(ctx, s, w)
		if healthy {
			delay = 0
		} else {
			delay = nextBackoff(delay)
		}
	}
}

// next returns the next live export from the queue, or false when ctx
// ends.
func (l *lane) next(ctx context.Context) (*waiter, bool) {
	for {
		select {
		case w := <-l.queue:
			l.dequeued()
			if w.live() { // else its export ended while it waited
				return w, true
			}
		case <-ctx.Done():
			return nil, false
		}
	}
}

// dequeued accounts for a batch taken from the queue.
func (l *lane) dequeued() {
	l.t.m.queued[l.signal].Add(-1)
	l.t.event("dequeued")
}

// sleep waits d on the clock; false if ctx ended first.
func (l *lane) sleep(ctx context.Context, d time.Duration) bool {
	tm := l.t.clk.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// open starts a stream with the configured headers as its metadata and
// its receive goroutine.
func (l *lane) open(ctx context.Context) (*stream, error) {
	sctx, cancel := context.WithCancel(ctx)
	octx := sctx
	if l.t.md != nil {
		octx = metadata.NewOutgoingContext(sctx, l.t.md)
	}
	m := streamMethods[l.signal]
	cs, err := l.t.conn.NewStream(octx, m.desc, m.method, l.t.callOpts...)
	if err != nil {
		cancel()
		l.t.m.openFailures[l.signal].Inc()
		return nil, err
	}
	s := &stream{lane: l, cs: cs, cancel: cancel, pending: make(map[int64]*waiter), recvDone: make(chan struct{})}
	l.t.m.opened[l.signal].Inc()
	l.t.m.open[l.signal].Add(1)
	l.t.wg.Go(s.receive)
	return s, nil
}

// failOpen nacks the export that wanted the stream and every one queued
// behind it: the stream they were waiting for could not be opened, and
// the next attempt waits a backoff. Exports queued later wait for it.
func (l *lane) failOpen(w *waiter, err error) {
	r := exportdriver.Result{Status: "stream_open_failed", Err: fmt.Errorf("open %s stream: %s", l.signal, describe(err))}
	l.t.warn(&l.t.streamWarn, "stream open failed", "signal", l.signal.String(), "error", describe(err))
	for {
		select {
		case q := <-l.queue:
			l.dequeued()
			q.resolve(r)
		default:
			// w last: whoever sees its outcome knows the queue was
			// drained, and that what it queues next waits for the backoff.
			w.resolve(r)
			return
		}
	}
}

// sendOutcome is what became of one batch handed to a stream.
type sendOutcome uint8

const (
	sent          sendOutcome = iota // on the wire, or skipped (its export had ended)
	encodeFailed                     // settled permanently; the encoder must go
	streamStopped                    // the stream is done: its receiver settles what it held
	notSent                          // the stream had ended before the batch went out: it waits for the next
)

// serve sends first and then the lane's queue on s until s retires (its
// lifetime, or an encoding error), breaks, or the exporter closes. It
// reports whether s was healthy: retired or closed by us, or answered by
// the server at least once. Only then is the next open not delayed. A
// batch taken from the queue after s ended, unsent, is returned: it goes
// first on the next stream.
func (l *lane) serve(ctx context.Context, s *stream, first *waiter) (healthy bool, carry *waiter) {
	enc := otapcodec.NewEncoder(l.t.encoder)
	defer enc.Close()
	var lifetime <-chan time.Time
	if l.t.lifetime > 0 {
		tm := l.t.clk.NewTimer(l.t.lifetime)
		defer tm.Stop()
		lifetime = tm.C()
	}
	w := first
	for {
		if w != nil {
			switch l.send(s, enc, w) {
			case encodeFailed:
				l.retire(ctx, s, endEncodeError)
				return true, nil
			case notSent:
				carry = w
				fallthrough
			case streamStopped: // the receiver is about to say why
				select {
				case <-s.recvDone:
					return l.stopped(ctx, s), carry
				case <-ctx.Done():
					l.shutdown(s)
					return true, carry
				}
			}
		}
		w = nil
		select {
		case w = <-l.queue:
			l.dequeued()
		case <-lifetime:
			l.retire(ctx, s, endLifetime)
			return true, nil
		case <-s.recvDone:
			return l.stopped(ctx, s), nil
		case <-ctx.Done():
			l.shutdown(s)
			return true, nil
		}
	}
}

// send encodes w's payload with the stream's encoder, registers its
// batch id and sends it.
func (l *lane) send(s *stream, enc *otapcodec.Encoder, w *waiter) sendOutcome {
	if s.ended() {
		return notSent
	}
	w.reading.Lock()
	if !w.live() {
		w.reading.Unlock()
		return sent // its export ended while it waited: nothing to send
	}
	bar, err := enc.Encode(w.p)
	w.reading.Unlock()
	if err != nil {
		w.resolve(exportdriver.EncodeFailure("OTAP", l.signal, err))
		return encodeFailed
	}
	l.t.m.encoded[l.signal][w.p.Form()].Inc()
	if !s.register(bar.GetBatchId(), w) {
		return notSent
	}
	// Counted before SendMsg: its status may arrive before SendMsg returns.
	l.t.m.sent[l.signal].Inc()
	l.t.m.sentBytes[l.signal].Add(uint64(proto.Size(bar)))
	if err := s.cs.SendMsg(bar); err != nil {
		// The stream is finished (grpc-go: io.EOF, the server ended it, or
		// it was aborted with err): Recv returns why, and the receiver
		// settles every batch registered, this one too.
		return streamStopped
	}
	return sent
}

// retire stops s taking batches: it half-closes s, and a goroutine lets
// the batches in flight on it finish, for at most the export timeout; what
// is left then is nacked transiently. The lane opens a new stream for its
// next batch meanwhile.
func (l *lane) retire(ctx context.Context, s *stream, why endReason) {
	l.t.m.ended[l.signal][why].Inc()
	l.t.m.open[l.signal].Add(-1)
	_ = s.cs.CloseSend()
	tm := l.t.clk.NewTimer(l.t.timeout)
	l.t.wg.Go(func() {
		defer tm.Stop()
		select {
		case <-s.recvDone:
		case <-tm.C():
			s.fail("stream_retired", fmt.Errorf("%s stream retired (%s): no status within %s", l.signal, why, l.t.timeout))
		case <-ctx.Done():
			s.fail("canceled", errClosed)
		}
		s.cancel()
		<-s.recvDone
	})
}

// stopped accounts for s after its receiver ended (a broken stream, or
// one the server ended) and reports whether it had been healthy. A stream
// that ended because the exporter is closing is a shutdown.
func (l *lane) stopped(ctx context.Context, s *stream) bool {
	if ctx.Err() != nil {
		l.shutdown(s)
		return true
	}
	why := endBroken
	if errors.Is(s.recvErr, io.EOF) {
		why = endServerClosed
	}
	l.t.m.ended[l.signal][why].Inc()
	l.t.m.open[l.signal].Add(-1)
	s.cancel()
	l.t.warn(&l.t.streamWarn, "stream ended", "signal", l.signal.String(), "reason", why.String(), "error", describe(s.recvErr))
	return s.answered.Load()
}

// shutdown ends s when the exporter closes. The driver closes the
// transport only with no export in flight, so nothing is lost: whatever
// s still holds was settled by its export's context.
func (l *lane) shutdown(s *stream) {
	l.t.m.ended[l.signal][endShutdown].Inc()
	l.t.m.open[l.signal].Add(-1)
	s.fail("canceled", errClosed)
	s.cancel()
	<-s.recvDone
}

// stream is one gRPC stream of a lane: the batches sent on it and not yet
// answered, by batch id. The lane goroutine registers and sends; the
// receive goroutine matches answers and, when the stream ends, settles
// what is left.
type stream struct {
	lane     *lane
	cs       grpc.ClientStream
	cancel   context.CancelFunc
	answered atomic.Bool // the server sent a status

	mu      sync.Mutex
	pending map[int64]*waiter
	failed  *exportdriver.Result // set once the stream has ended; nil while it runs

	recvDone chan struct{} // closed when the receiver has returned
	recvErr  error         // why Recv failed; read after recvDone
}

// register records w as batch id, unless the stream has ended.
func (s *stream) register(id int64, w *waiter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return false
	}
	s.pending[id] = w
	return true
}

// ended reports whether the stream has ended for its batches.
func (s *stream) ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed != nil
}

// fail ends the stream for its batches: every one still pending is
// settled with a transient failure (status, err); later registrations are
// refused (the lane sends those batches on its next stream). Only the
// first call counts.
func (s *stream) fail(status string, err error) {
	s.mu.Lock()
	if s.failed != nil {
		s.mu.Unlock()
		return
	}
	r := exportdriver.Result{Status: status, Err: err}
	s.failed = &r
	ws := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, w := range ws {
		w.resolve(r)
	}
}

// receive is the stream's receive goroutine: it settles each batch from
// its status, and every batch left when the stream ends.
func (s *stream) receive() {
	defer close(s.recvDone)
	sig := s.lane.signal
	for {
		st := new(arrowpb.BatchStatus)
		err := s.cs.RecvMsg(st)
		if err != nil {
			s.recvErr = err
			if errors.Is(err, io.EOF) {
				s.fail("stream_closed", fmt.Errorf("the server ended the %s stream without answering", sig))
			} else {
				s.fail("stream_broken", fmt.Errorf("%s stream broke: %s", sig, describe(err)))
			}
			return
		}
		s.onStatus(st)
	}
}

// onStatus settles the batch st answers. An answer naming no batch in
// flight is counted and logged, and settles nothing.
func (s *stream) onStatus(st *arrowpb.BatchStatus) {
	t, sig := s.lane.t, s.lane.signal
	s.answered.Store(true)
	t.m.statuses[sig][statusIndex(st.GetStatusCode())].Inc()
	s.mu.Lock()
	w, ok := s.pending[st.GetBatchId()]
	if ok {
		delete(s.pending, st.GetBatchId())
	}
	s.mu.Unlock()
	if !ok {
		t.m.unmatched[sig].Inc()
		t.warn(&t.unmatchWarn, "status for no batch in flight", "signal", sig.String(),
			"batch_id", st.GetBatchId(), "code", st.GetStatusCode().String(), "message", st.GetStatusMessage())
		return
	}
	if !w.resolve(statusResult(st)) {
		t.m.late[sig].Inc()
		t.event("late")
	}
}

// describe renders a gRPC error as "code: message".
func describe(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, io.EOF) {
		return "ended by the server"
	}
	st := status.Convert(err)
	return codeName(st.Code()) + ": " + st.Message()
}

// warnEvery is the least time between two warnings of one kind.
const warnEvery = 10 * time.Second

// warnLimiter lets one warning through per warnEvery and counts the rest.
type warnLimiter struct {
	last       time.Time
	suppressed int
}

// allow reports whether a warning may be logged now, and how many were
// suppressed since the last one.
func (w *warnLimiter) allow(now time.Time) (int, bool) {
	if !w.last.IsZero() && now.Sub(w.last) < warnEvery {
		w.suppressed++
		return 0, false
	}
	n := w.suppressed
	w.last, w.suppressed = now, 0
	return n, true
}
