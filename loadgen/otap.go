package loadgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// StatusEncode counts requests the generator could not encode as an OTAP
// batch: a bug of the encoder, never of the system under test.
const StatusEncode = "encode"

// otapTransport sends the pool as OTAP: each connection carries one Arrow
// stream of the signal, shared by the workers of that connection. Batches
// are encoded on the fly, each by its stream's encoder (package
// pdata/otap) and in the order they are sent, because an Arrow stream is
// stateful: a batch may refer to schemas and dictionaries an earlier
// batch of the same stream defined, so no batch can be encoded ahead for
// another stream or sent twice.
//
// With Config.OTAPRing the batches are encoded before the run instead,
// so that the generator's CPU goes to sending (see encodeRing).
//
// For the same reason the pool's requests are not sent as they are: a
// stream that saw the pool's 8 requests has every log body in its
// dictionaries, and from then on would send 2-byte indices instead of
// bodies, which no real stream of logs does. Each batch is a copy of its
// pool request made unique (see unique): the same shape and sizes, no
// value another batch carried where real telemetry would not repeat one.
type otapTransport struct {
	conns   []*grpc.ClientConn
	streams []*arrowStream
	src     []any        // the pool's requests, decoded once: plog.Logs, ptrace.Traces, or metrics' *pdata.Payload
	batches atomic.Int64 // batches made, numbering their unique values
}

func newOTAPTransport(cfg Config, t target, pool *Pool) (*otapTransport, error) {
	d := &dialer{allowAny: cfg.AllowNonLoopback}
	dopts := append(otlpgrpc.DialOptions(otlpgrpc.Transport{}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}),
	)
	copts := []grpc.CallOption{grpc.MaxCallRecvMsgSize(maxResponseSize)}
	if cfg.Compression != NoCompression {
		copts = append(copts, grpc.UseCompressor(string(cfg.Compression)))
	}
	sig := pdataSignal(cfg.Signal)
	tr := &otapTransport{}
	for i, raw := range pool.Raw {
		src, err := decodeRequest(sig, raw)
		if err != nil {
			return nil, fmt.Errorf("loadgen: pool request %d: %w", i, err)
		}
		tr.src = append(tr.src, src)
	}
	opts := otap.EncoderOptions{Zstd: cfg.ArrowCompression == Zstd}
	for range cfg.connections() {
		cc, err := grpc.NewClient("passthrough:///"+t.hostPort(), dopts...)
		if err != nil {
			_ = tr.close()
			return nil, fmt.Errorf("loadgen: gRPC client for %s: %w", t.hostPort(), err)
		}
		tr.conns = append(tr.conns, cc)
		st := &arrowStream{open: streamOpener(cc, sig, copts), opts: opts}
		if cfg.OTAPRing > 0 {
			if st.ring, err = tr.encodeRing(opts, cfg.OTAPRing); err != nil {
				_ = tr.close()
				return nil, err
			}
		}
		tr.streams = append(tr.streams, st)
	}
	return tr, nil
}

// encodeRing encodes n unique batches with a new encoder: a stream's
// ring. Sent in order from the start of a new stream, they are what that
// encoder would have sent on it; so a stream that has sent its ring ends,
// and the next batch opens a new stream that sends the ring again. The
// ring of every stream is its own (no batch of any ring repeats another's
// values): a value comes back only after every stream's ring, more
// batches than a stream's dictionaries hold.
func (tr *otapTransport) encodeRing(opts otap.EncoderOptions, n int) ([]*arrowpb.BatchArrowRecords, error) {
	enc := otap.NewEncoder(opts)
	defer enc.Close()
	ring := make([]*arrowpb.BatchArrowRecords, n)
	for k := range ring {
		b := tr.batches.Add(1)
		bar, err := enc.Encode(unique(tr.src[int(b)%len(tr.src)], b))
		if err != nil {
			return nil, fmt.Errorf("loadgen: pre-encode batch %d: %w", k, err)
		}
		bar.BatchId = int64(k) // the id it has on every stream that sends it
		ring[k] = bar
	}
	return ring, nil
}

// send sends pool request i, made unique, as the next batch of worker w's
// stream (with a ring: the ring's next batch).
func (tr *otapTransport) send(ctx context.Context, w, i int) result {
	return tr.streams[w%len(tr.streams)].send(ctx, func() *pdata.Payload { return unique(tr.src[i], tr.batches.Add(1)) })
}

// decodeRequest decodes an export request of signal s: plog.Logs or
// ptrace.Traces for unique to copy, or, for metrics, which are sent as
// they are, the payload every batch shares (it decodes once, safely for
// concurrent use).
func decodeRequest(s pdata.Signal, raw []byte) (any, error) {
	p, err := pdata.FromOTLP(s, raw)
	if err != nil {
		return nil, err
	}
	switch s {
	case pdata.Metrics:
		if _, err := p.Metrics(); err != nil {
			return nil, err
		}
		return p, nil
	case pdata.Traces:
		return p.Traces()
	}
	return p.Logs()
}

// unique returns a copy of src, batch number n, whose values that real
// telemetry does not repeat from batch to batch are its own: each log
// body starts with "batch <n>: " (overwriting as many bytes, so sizes
// stay), and trace and span ids have n in their last 8 bytes (XOR, so
// parents still match their children). Metrics are sent as they are: the
// values of their points are not dictionary-encoded, and their names and
// attributes repeat in real streams too.
func unique(src any, n int64) *pdata.Payload {
	switch src := src.(type) {
	case plog.Logs:
		ld := plog.NewLogs()
		src.CopyTo(ld)
		mark := fmt.Sprintf("batch %d: ", n)
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if b := lr.Body(); b.Type() == pcommon.ValueTypeStr {
						b.SetStr(mark + b.Str()[min(len(mark), len(b.Str())):])
					}
				}
			}
		}
		return pdata.FromLogs(ld)
	case ptrace.Traces:
		td := ptrace.NewTraces()
		src.CopyTo(td)
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
					xorTail(tid[:], n)
					xorTail(sid[:], n)
					sp.SetTraceID(tid)
					sp.SetSpanID(sid)
					if !pid.IsEmpty() {
						xorTail(pid[:], n)
						sp.SetParentSpanID(pid)
					}
				}
			}
		}
		return pdata.FromTraces(td)
	}
	return src.(*pdata.Payload)
}

// xorTail XORs n into the last 8 bytes of id.
func xorTail(id []byte, n int64) {
	tail := id[len(id)-8:]
	binary.LittleEndian.PutUint64(tail, binary.LittleEndian.Uint64(tail)^uint64(n))
}

func (tr *otapTransport) close() error {
	for _, s := range tr.streams {
		s.close()
	}
	var errs []error
	for _, cc := range tr.conns {
		errs = append(errs, cc.Close())
	}
	return errors.Join(errs...)
}

// arrowClient is the client side of any of the three Arrow streams.
type arrowClient interface {
	Send(*arrowpb.BatchArrowRecords) error
	Recv() (*arrowpb.BatchStatus, error)
	CloseSend() error
}

// streamOpener returns the function that opens sig's Arrow stream on cc.
func streamOpener(cc *grpc.ClientConn, sig pdata.Signal, copts []grpc.CallOption) func(context.Context) (arrowClient, error) {
	return func(ctx context.Context) (arrowClient, error) {
		switch sig {
		case pdata.Metrics:
			return arrowpb.NewArrowMetricsServiceClient(cc).ArrowMetrics(ctx, copts...)
		case pdata.Traces:
			return arrowpb.NewArrowTracesServiceClient(cc).ArrowTraces(ctx, copts...)
		}
		return arrowpb.NewArrowLogsServiceClient(cc).ArrowLogs(ctx, copts...)
	}
}

// arrowStream is one connection's Arrow stream, reopened (with a new
// encoder) after it ends, or, with a ring, after it has sent the ring.
type arrowStream struct {
	open func(context.Context) (arrowClient, error)
	opts otap.EncoderOptions
	ring []*arrowpb.BatchArrowRecords // pre-encoded batches; nil: encode each when sent

	// mu is held while a batch is encoded and sent, so batches leave in
	// the order the encoder made them; it also guards cur, retired and
	// closed.
	mu      sync.Mutex
	cur     *streamRun   // nil or ended: the next send opens a new one
	retired []*streamRun // half-closed after their ring, answering what is pending
	closed  bool
	wg      sync.WaitGroup // the receive loops
}

// streamRun is one opening of the stream: its encoder, and the batches
// sent on it that await their BatchStatus.
type streamRun struct {
	client arrowClient
	cancel context.CancelFunc
	done   chan struct{} // closed when the receive loop returns
	enc    *otap.Encoder // used under arrowStream.mu only; nil with a ring
	next   int64         // the next batch id (with a ring: its index), under arrowStream.mu

	mu      sync.Mutex
	pending map[int64]chan<- result
	ended   bool // the receive loop returned: pending is empty for good
}

// send encodes payload() as the stream's next batch (with a ring: takes
// the ring's next batch), sends it and waits for its status or ctx. The
// latency counts from the send, not the encoding.
func (s *arrowStream) send(ctx context.Context, payload func() *pdata.Payload) result {
	answer := make(chan result, 1)
	s.mu.Lock()
	run, err := s.running(ctx)
	if err != nil {
		s.mu.Unlock()
		return failure(ctx, err)
	}
	id := run.next
	var bar *arrowpb.BatchArrowRecords
	if s.ring != nil {
		bar = s.ring[id] // shared by every run of the ring: never modified
	} else {
		if bar, err = run.enc.Encode(payload()); err != nil {
			s.abandon(run) // the encoder's state is unknown: start over on a new stream
			s.mu.Unlock()
			return result{status: StatusEncode}
		}
		// The stream numbers its batches itself: statuses are matched by
		// id, whatever numbering the encoder uses.
		bar.BatchId = id
	}
	run.next++
	size := int64(proto.Size(bar))
	if !run.await(id, answer) {
		s.mu.Unlock()
		return result{status: StatusTransport}
	}
	start := time.Now()
	err = run.client.Send(bar)
	if s.ring != nil && run.next == int64(len(s.ring)) {
		s.retire(run)
	}
	s.mu.Unlock()
	// io.EOF means the stream broke: the receive loop gets the real
	// status and hands it to every pending batch, this one included.
	if err != nil && !errors.Is(err, io.EOF) {
		run.forget(id)
		return failure(ctx, err)
	}
	select {
	case r := <-answer:
		r.latency, r.bytes = time.Since(start), size
		return r
	case <-ctx.Done():
		run.forget(id)
		return result{status: StatusTimeout}
	}
}

// running returns the current run, opening one if there is none. The
// stream lives until close or until it ends; only the wait for it to open
// is bounded by ctx. Called with s.mu held.
func (s *arrowStream) running(ctx context.Context) (*streamRun, error) {
	if s.closed {
		return nil, errors.New("loadgen: transport closed")
	}
	if s.cur != nil && !s.cur.hasEnded() {
		return s.cur, nil
	}
	if s.cur != nil {
		s.cur.closeEncoder()
		s.cur = nil
	}
	sctx, cancel := context.WithCancel(context.Background())
	type opened struct {
		c   arrowClient
		err error
	}
	done := make(chan opened, 1)
	go func() {
		c, err := s.open(sctx)
		done <- opened{c, err}
	}()
	var o opened
	select {
	case o = <-done:
	case <-ctx.Done():
		cancel()
		<-done
		return nil, ctx.Err()
	}
	if o.err != nil {
		cancel()
		return nil, o.err
	}
	run := &streamRun{client: o.c, cancel: cancel, done: make(chan struct{}), pending: map[int64]chan<- result{}}
	if s.ring == nil {
		run.enc = otap.NewEncoder(s.opts)
	}
	s.cur = run
	s.wg.Go(run.receive)
	return run, nil
}

// abandon drops run: its encoder is closed, its stream cancelled (the
// batches pending on it fail), and the next send opens a new stream.
// Called with s.mu held.
func (s *arrowStream) abandon(run *streamRun) {
	if s.cur == run {
		s.cur = nil
	}
	run.cancel()
	run.closeEncoder()
}

// retire half-closes run, which has sent the whole ring: the server
// answers what is pending and ends the stream; the next send opens a new
// one. Called with s.mu held.
func (s *arrowStream) retire(run *streamRun) {
	s.cur = nil
	_ = run.client.CloseSend()
	s.retired = slices.DeleteFunc(s.retired, (*streamRun).hasEnded)
	s.retired = append(s.retired, run)
}

// closeGrace is how long close lets the server end a stream after the
// client half-closed it, before cancelling it.
const closeGrace = 2 * time.Second

// close ends the stream: no more sends; the client half-closes it and
// gives the server closeGrace to answer what is pending and end it, then
// cancels it (pending batches fail) and waits for the receive loop.
func (s *arrowStream) close() {
	s.mu.Lock()
	s.closed = true
	runs := s.retired
	if s.cur != nil {
		_ = s.cur.client.CloseSend()
		runs = append(runs, s.cur)
	}
	s.cur, s.retired = nil, nil
	s.mu.Unlock()
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	expired := false
	for _, run := range runs {
		if !expired {
			select {
			case <-run.done:
			case <-t.C:
				expired = true
			}
		}
		run.cancel()
	}
	s.wg.Wait()
	for _, run := range runs {
		run.closeEncoder()
	}
}

// receive hands each BatchStatus to the batch it answers until the stream
// ends, then fails the batches still pending with the stream's status.
func (r *streamRun) receive() {
	defer close(r.done)
	defer r.cancel()
	for {
		st, err := r.client.Recv()
		if err != nil {
			r.end(err)
			return
		}
		res := result{}
		if c := codes.Code(st.GetStatusCode()); c != codes.OK {
			res.status = c.String() // OTAP's status codes are gRPC's
		}
		r.mu.Lock()
		ch, ok := r.pending[st.GetBatchId()]
		delete(r.pending, st.GetBatchId())
		r.mu.Unlock()
		if ok { // else an answer after the client gave up, or unknown
			ch <- res
		}
	}
}

// end records that the stream is over and fails every pending batch.
func (r *streamRun) end(err error) {
	res := result{status: StatusTransport} // the server ended the stream with batches unanswered
	if st, ok := status.FromError(err); ok && st.Code() != codes.OK {
		res.status = st.Code().String()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	for id, ch := range r.pending {
		ch <- res
		delete(r.pending, id)
	}
}

// await registers the answer channel of batch id; false if the stream has
// already ended.
func (r *streamRun) await(id int64, ch chan<- result) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return false
	}
	r.pending[id] = ch
	return true
}

func (r *streamRun) forget(id int64) {
	r.mu.Lock()
	delete(r.pending, id)
	r.mu.Unlock()
}

func (r *streamRun) closeEncoder() {
	if r.enc != nil {
		r.enc.Close()
	}
}

func (r *streamRun) hasEnded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ended
}

// failure classifies an error that came before any answer, as the OTLP
// gRPC sender does.
func failure(ctx context.Context, err error) result {
	if dl, ok := ctx.Deadline(); errors.Is(ctx.Err(), context.DeadlineExceeded) || ok && !time.Now().Before(dl) {
		return result{status: StatusTimeout}
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.OK {
		return result{status: st.Code().String()}
	}
	return result{status: StatusTransport}
}
