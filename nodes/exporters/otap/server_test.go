package otap_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/pdata"
	otapcodec "github.com/ackflow/ackflow/pdata/otap"
)

// backend is a loopback OTAP server: the three Arrow services, each
// stream decoded with its own otap.Decoder (so the data is checked as a
// real receiver would), answered as the test scripts it.
type backend struct {
	addr string
	// auto, when set, answers each batch as it arrives: the code, or
	// hold=true to hand it to the test instead.
	auto func(*received) (code arrowpb.StatusCode, hold bool)
	// skipDecode answers without decoding (benchmarks measure the exporter).
	skipDecode bool
	// gate, when set, holds every stream's reading until it is closed:
	// HTTP/2 flow control then stops the exporter's sends.
	gate chan struct{}

	streams  chan *serverStream // each stream as it opens
	batches  chan *received     // each batch the test answers
	nextID   atomic.Int32
	wg       sync.WaitGroup
	encMu    sync.Mutex
	encoding []string // grpc-encoding of each stream, in order
}

// received is one batch at the backend.
type received struct {
	stream *serverStream
	bar    *arrowpb.BatchArrowRecords
	batch  *otapcodec.Batch
	err    error // decode failure
}

// answer sends the batch's status; false if its stream is gone.
func (r *received) answer(code arrowpb.StatusCode, msg string) bool {
	return r.stream.send(&arrowpb.BatchStatus{BatchId: r.bar.GetBatchId(), StatusCode: code, StatusMessage: msg}, true)
}

func (r *received) ok() bool { return r.answer(arrowpb.StatusCode_OK, "") }

// serverStream is one stream at the backend.
type serverStream struct {
	id         int32
	signal     pdata.Signal
	md         metadata.MD
	halfClosed chan struct{} // closed when the client has called CloseSend
	ended      chan struct{} // closed when the handler has returned
	breakWith  chan error    // the handler returns what it receives

	mu          sync.Mutex
	sendFn      func(*arrowpb.BatchStatus) error
	closed      bool
	outstanding int
	changed     chan struct{} // poked when outstanding drops
}

// send sends a status; answered says it settles one received batch.
func (s *serverStream) send(st *arrowpb.BatchStatus, answered bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if err := s.sendFn(st); err != nil {
		return false
	}
	if answered {
		s.outstanding--
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}
	return true
}

// brk ends the stream with err, unanswered batches and all.
func (s *serverStream) brk(err error) { s.breakWith <- err }

func (s *serverStream) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outstanding
}

// arrowStream is what the three generated server streams share.
type arrowStream interface {
	Send(*arrowpb.BatchStatus) error
	Recv() (*arrowpb.BatchArrowRecords, error)
	Context() context.Context
}

type logsService struct {
	arrowpb.UnimplementedArrowLogsServiceServer
	b *backend
}

func (s logsService) ArrowLogs(st arrowpb.ArrowLogsService_ArrowLogsServer) error {
	return s.b.serve(pdata.Logs, st)
}

type metricsService struct {
	arrowpb.UnimplementedArrowMetricsServiceServer
	b *backend
}

func (s metricsService) ArrowMetrics(st arrowpb.ArrowMetricsService_ArrowMetricsServer) error {
	return s.b.serve(pdata.Metrics, st)
}

type tracesService struct {
	arrowpb.UnimplementedArrowTracesServiceServer
	b *backend
}

func (s tracesService) ArrowTraces(st arrowpb.ArrowTracesService_ArrowTracesServer) error {
	return s.b.serve(pdata.Traces, st)
}

// backendOption configures a backend before it serves.
type backendOption func(*backend, *[]grpc.ServerOption)

// autoOK answers every batch OK as it arrives, without telling the test.
func autoOK() backendOption {
	return func(b *backend, _ *[]grpc.ServerOption) {
		b.auto = func(*received) (arrowpb.StatusCode, bool) { return arrowpb.StatusCode_OK, false }
	}
}

// readOnly answers every batch OK without decoding it.
func readOnly() backendOption {
	return func(b *backend, o *[]grpc.ServerOption) {
		autoOK()(b, o)
		b.skipDecode = true
	}
}

// withServerOptions adds gRPC server options (TLS, windows).
func withServerOptions(opts ...grpc.ServerOption) backendOption {
	return func(_ *backend, o *[]grpc.ServerOption) { *o = append(*o, opts...) }
}

// gated holds reading until the returned func is called, with 64 KiB
// HTTP/2 windows so that the exporter's sends stop soon.
func gated(release *func()) backendOption {
	return func(b *backend, o *[]grpc.ServerOption) {
		b.gate = make(chan struct{})
		*release = sync.OnceFunc(func() { close(b.gate) })
		*o = append(*o, grpc.InitialWindowSize(64<<10), grpc.InitialConnWindowSize(64<<10))
	}
}

// newBackend serves on 127.0.0.1:0 until the test ends.
func newBackend(t testing.TB, opts ...backendOption) *backend {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, lis, opts...)
}

func serveOn(t testing.TB, lis net.Listener, opts ...backendOption) *backend {
	t.Helper()
	b := &backend{addr: lis.Addr().String(), streams: make(chan *serverStream, 64), batches: make(chan *received, 1024)}
	sopts := []grpc.ServerOption{
		grpc.StatsHandler(encodingRecorder{b}), grpc.MaxRecvMsgSize(64 << 20),
		grpc.WaitForHandlers(true), // Stop returns after the last handler: then b.wg.Wait
	}
	for _, o := range opts {
		o(b, &sopts)
	}
	gs := grpc.NewServer(sopts...)
	arrowpb.RegisterArrowLogsServiceServer(gs, logsService{b: b})
	arrowpb.RegisterArrowMetricsServiceServer(gs, metricsService{b: b})
	arrowpb.RegisterArrowTracesServiceServer(gs, tracesService{b: b})
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() {
		if b.gate != nil {
			select {
			case <-b.gate:
			default:
				close(b.gate)
			}
		}
		gs.Stop()
		<-done
		b.wg.Wait()
	})
	return b
}

// serve runs one stream: a goroutine reads and decodes the batches in
// order, and the handler returns when the test breaks the stream, or once
// the client has half-closed it and every batch is answered.
func (b *backend) serve(sig pdata.Signal, st arrowStream) error {
	md, _ := metadata.FromIncomingContext(st.Context())
	s := &serverStream{
		id: b.nextID.Add(1), signal: sig, md: md, sendFn: st.Send,
		halfClosed: make(chan struct{}), ended: make(chan struct{}), breakWith: make(chan error, 1),
		changed: make(chan struct{}, 1),
	}
	defer func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.ended)
	}()
	b.streams <- s
	recvDone := make(chan struct{})
	b.wg.Go(func() {
		defer close(recvDone)
		if b.gate != nil {
			select {
			case <-b.gate:
			case <-st.Context().Done():
				return
			}
		}
		dec := otapcodec.NewDecoder(otapcodec.DecoderOptions{MaxBatchBytes: 256 << 20, MaxDictionaryBytes: 256 << 20})
		for {
			bar, err := st.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) {
					close(s.halfClosed)
				}
				return
			}
			r := &received{stream: s, bar: bar}
			if !b.skipDecode {
				r.batch, r.err = dec.Decode(sig, bar)
			}
			s.mu.Lock()
			s.outstanding++
			s.mu.Unlock()
			if b.auto != nil {
				if code, hold := b.auto(r); !hold {
					r.answer(code, "")
					continue
				}
			}
			b.batches <- r
		}
	})
	for {
		select {
		case err := <-s.breakWith:
			return err
		case <-recvDone:
			if s.pending() == 0 {
				return nil
			}
			recvDone = nil // half-closed: wait for the answers
		case <-s.changed:
			if recvDone == nil && s.pending() == 0 {
				return nil
			}
		case <-st.Context().Done():
			return st.Context().Err()
		}
	}
}

func (b *backend) nextStream(t testing.TB) *serverStream {
	t.Helper()
	return otlptest.Recv(t, b.streams, "stream at the backend")
}

func (b *backend) next(t testing.TB) *received {
	t.Helper()
	r := otlptest.Recv(t, b.batches, "batch at the backend")
	if r.err != nil {
		t.Fatalf("backend could not decode batch %d: %v", r.bar.GetBatchId(), r.err)
	}
	return r
}

// encodings returns the grpc-encoding of each stream opened so far.
func (b *backend) encodings() []string {
	b.encMu.Lock()
	defer b.encMu.Unlock()
	return append([]string(nil), b.encoding...)
}

// encodingRecorder records the compression each stream declares.
type encodingRecorder struct{ b *backend }

func (encodingRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (e encodingRecorder) HandleRPC(_ context.Context, s stats.RPCStats) {
	if h, ok := s.(*stats.InHeader); ok {
		e.b.encMu.Lock()
		e.b.encoding = append(e.b.encoding, h.Compression)
		e.b.encMu.Unlock()
	}
}
func (encodingRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (encodingRecorder) HandleConn(context.Context, stats.ConnStats) {}
