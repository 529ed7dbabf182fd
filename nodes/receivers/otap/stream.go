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
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// A stream is served by three goroutines:
//
//	reader      takes a per-stream slot, then reads the next message
//	            (so at most max_concurrent_requests_per_stream batches are
//	            ever read and not yet answered: past it HTTP/2 flow control
//	            holds the client back)
//	controller  the handler's goroutine: owns the decoder and the stream's
//	            state (serving, ending), decodes, admits, keeps the batches'
//	            deadlines, and decides when the stream ends
//	writer      sends the BatchStatus replies in the order they are
//	            answered, and gives the batch's slot back once its reply
//	            is written
//
// A batch is answered once: by its outcome (OnOutcome, any goroutine), by
// a refusal, by its deadline, or by the shutdown deadline; the stream's
// mutex makes that exactly-once. It is settled once too, when its outcome
// arrives, which gives back its shared claims (admission); a stream is
// forgotten only when it has ended and every batch it admitted is settled.
// Every answer fits the reply queue without waiting: a batch holds its
// slot until its reply is written, and the queue has a place per slot.

// streamState is where a stream is in its life. Only the controller moves
// it, in one place (end).
type streamState uint8

const (
	serving streamState = iota // reading and admitting batches
	ending                     // no more batches admitted; answering those held
)

// inbound is what the server codec makes of one received message (codec.go),
// or the error that ended the reading.
type inbound struct {
	bar     arrowpb.BatchArrowRecords
	size    int   // bytes after gRPC decompression
	failure error // decompression failed (a gRPC status: see otlpgrpc.DecompressFailure)
	invalid error // not a BatchArrowRecords
	err     error // reading failed: io.EOF when the client half-closed
}

// reply is one BatchStatus to write; seq is the batch's entry (0 for a
// batch refused before it had one).
type reply struct {
	seq    uint64
	status *arrowpb.BatchStatus
}

// entry is a batch read and not yet both answered and settled.
type entry struct {
	batchID  int64
	items    int
	adm      admission
	admitted bool      // in the pipeline: settled by its outcome
	answered bool      // its reply is queued
	sent     bool      // its reply is written
	settled  bool      // its outcome came back (or it never entered)
	due      time.Time // answer by then (unanswered), or written by then (answered)
}

type stream struct {
	r      *Receiver
	id     uint64
	signal pdata.Signal

	slots    chan struct{} // a token per batch read and not yet replied
	replies  chan reply    // to the writer; a place per slot
	progress chan struct{} // the writer wrote a reply (capacity 1)
	owed     atomic.Int64  // batches read whose reply is not yet written

	mu      sync.Mutex
	entries map[uint64]*entry
	nextSeq uint64
	closed  bool // replies is closed: nothing more is answered
	ended   bool // the handler returned

	// Controller-only state.
	state  streamState
	reason endReason
	result error      // the status the handler returns when it ends
	fifo   []deadline // entries by due time (approximately: see expire)
	timer  clock.Timer
	armed  time.Time // when timer fires; zero when disarmed
}

// deadline is an entry's place in the controller's deadline queue.
type deadline struct {
	seq uint64
	due time.Time
}

func newStream(r *Receiver, id uint64, s pdata.Signal) *stream {
	n := r.cfg.perStream()
	return &stream{
		r: r, id: id, signal: s,
		slots:    make(chan struct{}, n),
		replies:  make(chan reply, n),
		progress: make(chan struct{}, 1),
		entries:  make(map[uint64]*entry, n),
	}
}

// serve runs one OTAP stream of signal s on the handler's goroutine.
func (r *Receiver) serve(s pdata.Signal, gs grpc.ServerStream) error {
	r.handlers.Add(1)
	defer r.handlers.Done()
	st, v, ok := r.register(s)
	if !ok {
		r.metrics.ended[s][endTooMany].Inc()
		if v == vShutdown {
			return status.Error(codes.Unavailable, "receiver is shutting down; reconnect to another instance or later")
		}
		return status.Errorf(codes.ResourceExhausted, "max_streams (%d) OTAP streams are open; retry later", r.cfg.MaxStreams)
	}
	return st.run(gs)
}

// run is the controller.
func (st *stream) run(gs grpc.ServerStream) error {
	ctx := gs.Context()
	r := st.r
	dec := otap.NewDecoder(otap.DecoderOptions{
		MaxBatchBytes:      int64(r.cfg.Arrow.MaxBatchBytes),
		MaxDictionaryBytes: int64(r.cfg.Arrow.MaxDictionaryBytes),
		MaxExpandedBytes:   int64(r.cfg.Arrow.MaxExpandedBytes),
	})
	defer dec.Close()
	st.timer = r.clock.NewTimer(time.Hour)
	st.timer.Stop()
	defer st.timer.Stop()

	// The reader and writer may outlive the handler by a moment: a read
	// or write blocked on the client ends when the handler's return
	// cancels the stream. Run waits for them (workers).
	in := make(chan *inbound, 1)
	stopReading := make(chan struct{})
	r.workers.Go(func() { st.read(ctx, gs, in, stopReading) })
	writerDone := make(chan struct{})
	r.workers.Go(func() { defer close(writerDone); st.write(gs) })
	defer func() {
		close(stopReading)
		st.finish()
		if st.owed.Load() <= 0 {
			<-writerDone // idle: it ends as the queue closes
		}
		r.metrics.streams[st.signal].Add(-1)
		r.metrics.ended[st.signal][st.reason].Inc()
	}()

	draining, aborting := r.draining, r.aborting
	for {
		if st.over() {
			return st.result
		}
		select {
		case m := <-in:
			st.receive(ctx, dec, m)
		case <-st.progress:
		case <-st.timer.C():
			st.armed = time.Time{}
			st.expire()
		case <-draining:
			draining = nil
			st.end(endDraining, status.Error(codes.Unavailable, "receiver is shutting down; reconnect to another instance or later"))
		case <-aborting:
			aborting = nil
			st.end(endAborted, status.Error(codes.Unavailable, "receiver stopped at its shutdown deadline; reconnect"))
			st.answerAll(vShutdown, "shutdown deadline reached before the outcome; the data may still be delivered")
		case <-ctx.Done():
			st.end(endClientGone, status.FromContextError(ctx.Err()).Err())
			return st.result
		}
		st.arm()
	}
}

// over reports that the handler may return: ending, and every reply owed
// written, unless the client does not read them.
func (st *stream) over() bool {
	return st.state == ending && (st.owed.Load() == 0 || st.reason == endRepliesStuck)
}

// end moves the stream to ending, once: the first reason wins.
func (st *stream) end(reason endReason, result error) {
	if st.state == ending {
		return
	}
	st.state, st.reason, st.result = ending, reason, result
}

// read is the reader: a slot, then a message, until the stream ends.
func (st *stream) read(ctx context.Context, gs grpc.ServerStream, out chan<- *inbound, stop <-chan struct{}) {
	for {
		select {
		case st.slots <- struct{}{}:
		case <-ctx.Done():
			return
		case <-stop:
			return
		}
		m := &inbound{}
		if err := gs.RecvMsg(m); err != nil {
			m.err = err
		}
		select {
		case out <- m:
		case <-ctx.Done():
			return
		case <-stop:
			return
		}
		if m.err != nil {
			return
		}
	}
}

// receive handles one message from the reader.
func (st *stream) receive(ctx context.Context, dec *otap.Decoder, m *inbound) {
	switch {
	case errors.Is(m.err, io.EOF):
		<-st.slots // the end of the stream owes no reply
		st.end(endClosed, nil)
		return
	case m.err != nil:
		<-st.slots
		st.end(endClientGone, m.err)
		return
	case m.failure != nil, m.invalid != nil:
		// No batch id to answer: the stream ends with the failure.
		<-st.slots
		v, reason, result := vMalformed, endMalformed, m.invalid
		if m.failure != nil {
			reason, result = endDecompress, m.failure
			if status.Code(m.failure) == codes.Unavailable {
				v = vBudget // the process's decompression gate
			}
		} else {
			result = status.Error(codes.InvalidArgument, "not a BatchArrowRecords message: "+m.invalid.Error())
		}
		st.r.metrics.answered(st.signal, v, -1)
		st.end(reason, result)
		return
	}
	st.owed.Add(1)
	st.r.metrics.bytes[st.signal].Add(uint64(m.size))
	if st.state == ending {
		// Read after the stream began to end (draining): not admitted,
		// but decoded, so that the answer can count its items.
		st.refuse(m.bar.BatchId, vShutdown, -1, "receiver is shutting down; send it again on another stream")
		return
	}
	b, err := dec.Decode(st.signal, &m.bar)
	if err != nil {
		v, reason := vMalformed, endMalformed
		if errors.Is(err, otap.ErrTooLarge) {
			v, reason = vTooLarge, endTooLarge
		}
		msg := fmt.Sprintf("batch %d: %v", m.bar.BatchId, err)
		st.refuse(m.bar.BatchId, v, -1, msg)
		st.end(reason, status.Error(codes.InvalidArgument, msg))
		return
	}
	st.admit(ctx, m.bar.BatchId, b)
}

// admit sends a decoded batch into the pipeline and records its entry.
func (st *stream) admit(ctx context.Context, batchID int64, b *otap.Batch) {
	r := st.r
	n := b.Items()
	if n == 0 {
		st.refuse(batchID, vOK, 0, "")
		return
	}
	adm, v := r.admit(int64(b.Size()))
	if v != vOK {
		st.refuse(batchID, v, n, refusalText(v, r))
		return
	}
	m := pdata.New(otap.Payload(b))
	st.mu.Lock()
	st.nextSeq++
	seq := st.nextSeq
	due := r.clock.Now().Add(time.Duration(r.cfg.Timeout))
	e := &entry{batchID: batchID, items: n, adm: adm, admitted: true, due: due}
	st.entries[seq] = e
	st.mu.Unlock()
	// Subscribed before the send: the outcome may come back before Send
	// returns.
	r.fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{st.id, seq})
	if v, err := r.send(ctx, m); err != nil {
		r.release(adm)
		st.mu.Lock()
		e.admitted, e.settled = false, true
		st.mu.Unlock()
		st.answer(seq, v, sendFailureText(v, err, r))
		return
	}
	r.metrics.items[st.signal].Add(uint64(n))
	st.fifo = append(st.fifo, deadline{seq: seq, due: due})
	if !r.cfg.WaitForResult {
		st.answer(seq, vOK, "")
	}
}

// settle records a batch's outcome: its claims are given back, and it is
// answered unless it was already (then the outcome is late).
func (st *stream) settle(seq uint64, ack bool, nack pdata.Nack) {
	st.mu.Lock()
	e := st.entries[seq]
	if e == nil || e.settled || !e.admitted {
		st.mu.Unlock()
		return
	}
	e.settled = true
	answered, closed := e.answered, st.closed
	st.mu.Unlock()
	st.r.release(e.adm)
	if answered || closed {
		if st.r.cfg.WaitForResult || closed {
			st.r.metrics.late[st.signal].Inc()
		}
		st.tidy(seq)
		return
	}
	switch {
	case ack:
		st.answer(seq, vOK, "")
	case nack.Permanent:
		st.answer(seq, vNackPermanent, "rejected by the pipeline: "+nack.Reason)
	default:
		st.answer(seq, vNackTransient, "not delivered, retry later: "+nack.Reason)
	}
	st.tidy(seq)
}

// answer queues the reply of entry seq with verdict v, once.
func (st *stream) answer(seq uint64, v verdict, msg string) {
	st.mu.Lock()
	e := st.entries[seq]
	if e == nil || e.answered {
		st.mu.Unlock()
		return
	}
	e.answered = true
	e.due = st.r.clock.Now().Add(time.Duration(st.r.cfg.Timeout)) // to be written by then
	// Counted before the reply is queued: a client that has its answer
	// finds it in the metrics.
	st.r.metrics.answered(st.signal, v, e.items)
	if !st.closed {
		st.replies <- reply{seq: seq, status: batchStatus(e.batchID, v, msg)}
	}
	st.mu.Unlock()
}

// refuse answers a batch that never entered the pipeline (no entry).
func (st *stream) refuse(batchID int64, v verdict, items int, msg string) {
	st.r.metrics.answered(st.signal, v, items) // before the client can see the answer
	st.mu.Lock()
	if !st.closed {
		st.replies <- reply{status: batchStatus(batchID, v, msg)}
	}
	st.mu.Unlock()
}

// answerAll answers every batch not yet answered with v: the shutdown
// deadline.
func (st *stream) answerAll(v verdict, msg string) {
	st.mu.Lock()
	var open []uint64
	for seq, e := range st.entries {
		if !e.answered {
			open = append(open, seq)
		}
	}
	st.mu.Unlock()
	for _, seq := range open {
		st.answer(seq, v, msg)
	}
}

// wrote records that the reply of seq is written; the writer calls it.
func (st *stream) wrote(seq uint64) {
	if seq != 0 {
		st.mu.Lock()
		if e := st.entries[seq]; e != nil {
			e.sent = true
		}
		st.mu.Unlock()
		st.tidy(seq)
	}
	st.owed.Add(-1)
	<-st.slots
	select {
	case st.progress <- struct{}{}:
	default:
	}
}

// tidy forgets entry seq once it is settled and its reply written (or
// never to be: the stream ended), and the stream once it has ended with
// nothing left.
func (st *stream) tidy(seq uint64) {
	st.mu.Lock()
	if e := st.entries[seq]; e != nil && e.settled && (e.sent || st.closed) {
		delete(st.entries, seq)
	}
	gone := st.ended && len(st.entries) == 0
	st.mu.Unlock()
	if gone {
		st.r.forget(st)
	}
}

// finish closes the reply queue when the handler ends: what is still owed
// is not written. Batches still in the pipeline keep the stream known
// until they settle.
func (st *stream) finish() {
	st.mu.Lock()
	st.closed, st.ended = true, true
	close(st.replies)
	for seq, e := range st.entries {
		if e.settled {
			delete(st.entries, seq)
		}
	}
	gone := len(st.entries) == 0
	st.mu.Unlock()
	if gone {
		st.r.forget(st)
	}
}

// write is the writer: replies in order, until the queue closes. After a
// failed write the rest is dropped: the stream is broken and its
// controller sees it.
func (st *stream) write(gs grpc.ServerStream) {
	broken := false
	for rep := range st.replies {
		if !broken {
			if err := gs.SendMsg(rep.status); err != nil {
				broken = true
			}
		}
		st.wrote(rep.seq)
	}
}

// expire handles due entries: an unanswered one is answered
// DEADLINE_EXCEEDED and given the timeout again to be written; an
// answered one not written by then means the client does not read its
// replies, and the stream ends.
func (st *stream) expire() {
	now := st.r.clock.Now()
	for len(st.fifo) > 0 && !st.fifo[0].due.After(now) {
		d := st.fifo[0]
		st.fifo = st.fifo[1:]
		st.mu.Lock()
		e := st.entries[d.seq]
		var answered, sent bool
		var due time.Time
		if e != nil {
			answered, sent, due = e.answered, e.sent, e.due
		}
		st.mu.Unlock()
		switch {
		case e == nil || sent:
		case !answered:
			st.answer(d.seq, vTimeout, fmt.Sprintf("no outcome within %s; the data may still be delivered", time.Duration(st.r.cfg.Timeout)))
			st.fifo = append(st.fifo, deadline{seq: d.seq, due: now.Add(time.Duration(st.r.cfg.Timeout))})
		case due.After(now):
			st.fifo = append(st.fifo, deadline{seq: d.seq, due: due})
		default:
			st.end(endRepliesStuck, status.Errorf(codes.DeadlineExceeded,
				"batch %d's status was not read within %s: the client does not read its replies", e.batchID, time.Duration(st.r.cfg.Timeout)))
			return
		}
	}
}

// arm sets the timer for the earliest deadline. Deadlines are appended in
// about increasing order (re-queued ones may be a little early), so the
// head is the one to wait for.
func (st *stream) arm() {
	if len(st.fifo) == 0 {
		if !st.armed.IsZero() {
			st.timer.Stop()
			st.armed = time.Time{}
		}
		return
	}
	due := st.fifo[0].due
	if st.armed.Equal(due) {
		return
	}
	st.timer.Stop()
	st.timer.Reset(max(due.Sub(st.r.clock.Now()), 0))
	st.armed = due
}

// batchStatus is the reply of a batch answered with v.
func batchStatus(batchID int64, v verdict, msg string) *arrowpb.BatchStatus {
	return &arrowpb.BatchStatus{BatchId: batchID, StatusCode: statusCodes[v], StatusMessage: msg}
}

// statusCodes map verdicts to OTAP status codes, as receiver:otlp maps
// them to gRPC codes: retryable refusals UNAVAILABLE, the client's fault
// INVALID_ARGUMENT.
var statusCodes = [numVerdicts]arrowpb.StatusCode{
	vOK:            arrowpb.StatusCode_OK,
	vMalformed:     arrowpb.StatusCode_INVALID_ARGUMENT,
	vTooLarge:      arrowpb.StatusCode_INVALID_ARGUMENT,
	vBusy:          arrowpb.StatusCode_UNAVAILABLE,
	vBudget:        arrowpb.StatusCode_UNAVAILABLE,
	vMemory:        arrowpb.StatusCode_UNAVAILABLE,
	vBackpressure:  arrowpb.StatusCode_UNAVAILABLE,
	vNackTransient: arrowpb.StatusCode_UNAVAILABLE,
	vNackPermanent: arrowpb.StatusCode_INVALID_ARGUMENT,
	vTimeout:       arrowpb.StatusCode_DEADLINE_EXCEEDED,
	vShutdown:      arrowpb.StatusCode_UNAVAILABLE,
	vUnroutable:    arrowpb.StatusCode_UNAVAILABLE,
}

// refusalText says why a decoded batch was not admitted.
func refusalText(v verdict, r *Receiver) string {
	switch v {
	case vBusy:
		return fmt.Sprintf("max_concurrent_requests (%d) batches are in the pipeline; retry later", r.cfg.MaxConcurrentRequests)
	case vBudget:
		return fmt.Sprintf("more than max_in_flight_bytes (%d bytes) of batches are held; retry later", int64(r.cfg.MaxInFlightBytes))
	case vMemory:
		m := r.memory()
		return fmt.Sprintf("the process holds %d MiB, near its memory limit of %d MiB; retry later", m.Used>>20, m.Limit>>20)
	}
	return v.String()
}

// sendFailureText says why the pipeline did not take a batch.
func sendFailureText(v verdict, err error, r *Receiver) string {
	switch v {
	case vBackpressure:
		return fmt.Sprintf("pipeline full for %s; retry later", time.Duration(r.cfg.Timeout))
	case vShutdown:
		return "receiver is shutting down: " + err.Error()
	}
	return "pipeline refused the batch: " + err.Error()
}
