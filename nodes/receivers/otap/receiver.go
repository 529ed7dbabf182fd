package otap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/internal/memlimit"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// Type is the node type.
const Type = "receiver:otap"

// Connection bounds, as receiver:otlp's.
const (
	// handshakeTimeout bounds a new connection's TLS and HTTP/2 handshake.
	handshakeTimeout = 10 * time.Second
	// idleTimeout closes connections that carry no stream.
	idleTimeout = 2 * time.Minute
	// abortFlush is how long, at the shutdown deadline, the streams may
	// take to write the answers they owe before their connections close.
	abortFlush = time.Second
)

// NewFactory returns the factory of receiver:otap.
func NewFactory() engine.Factory {
	f := engine.ReceiverFactory(Type,
		"OpenTelemetry Arrow (OTAP) gRPC streams for logs, metrics and traces; each batch answered after its outcome", Load,
		func(nc engine.NodeContext, cfg Config) (engine.Receiver, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	return f
}

// Receiver is receiver:otap. Run serves until its context ends and then
// drains; OnOutcome settles batches from any goroutine.
type Receiver struct {
	name    string
	cfg     Config
	tls     *tls.Config
	logger  *slog.Logger
	clock   clock.Clock
	metrics *metrics
	fx      engine.ReceiverEffects // set by Run before any stream is served

	inFlight atomic.Int64 // batches admitted and not yet settled
	held     atomic.Int64 // their decoded bytes

	mu       sync.Mutex
	streams  map[uint64]*stream // streams with a handler or unsettled batches
	nextID   uint64
	draining chan struct{}  // closed when Run's context ends
	aborting chan struct{}  // closed at the shutdown deadline
	handlers sync.WaitGroup // stream handlers
	workers  sync.WaitGroup // their readers and writers

	// memory reads the process's memory pressure (tests replace it).
	memory func() memlimit.Reading
}

var _ engine.Receiver = (*Receiver)(nil)

// New builds the receiver from a validated config. A bad certificate fails
// here, not at the first stream.
func New(nc engine.NodeContext, cfg Config) (*Receiver, error) {
	logger := nc.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{
		name: nc.Node.Name, cfg: cfg, logger: logger, clock: nc.Clock,
		metrics:  newMetrics(nc.Metrics, nc.Labels),
		streams:  make(map[uint64]*stream),
		draining: make(chan struct{}),
		aborting: make(chan struct{}),
		memory:   memlimit.Pressure,
	}
	if r.clock == nil {
		r.clock = clock.Real()
	}
	if cfg.TLS != nil {
		var err error
		if r.tls, err = cfg.TLS.Load(); err != nil {
			return nil, fmt.Errorf("%s %q: %w", Type, r.name, err)
		}
	}
	return r, nil
}

// Run serves until ctx ends, then drains: no new streams, every stream
// answers the batches it holds as their outcomes arrive and then ends, and
// Run returns. At the shutdown deadline (fx.Aborted) the batches still
// waiting are answered UNAVAILABLE at once and the connections close.
func (r *Receiver) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	r.fx = fx
	l, err := fx.Listen(ctx, "tcp", r.cfg.ListeningAddr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", Type, r.name, err)
	}
	// grpc-go decompresses a message before the handler can charge it:
	// the receiver's share of the process's decompression gate.
	defer otlpgrpc.ReserveDecompression(r.decompressionShare())()
	gs := r.newServer()
	failed := make(chan error, 1)
	go func() {
		if err := gs.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			failed <- err
		}
	}()
	r.logger.Info("otap receiver listening", "addr", l.Addr().String(), "tls", r.tls != nil)

	var runErr error
	select {
	case <-ctx.Done():
	case <-fx.Aborted():
	case err := <-failed:
		runErr = fmt.Errorf("%s %q: %w", Type, r.name, err)
	}
	close(r.draining)
	r.logger.Info("otap receiver draining", "batches_in_flight", r.inFlight.Load())
	graceful := make(chan struct{})
	go func() { defer close(graceful); gs.GracefulStop() }()
	select {
	case <-graceful:
	case <-fx.Aborted():
		// The streams answer what waits and end; the graceful stop then
		// flushes those answers and closes the connections, unless a
		// client does not read them.
		close(r.aborting)
		select {
		case <-graceful:
		case <-time.After(abortFlush):
			gs.Stop()
			<-graceful
		}
	}
	r.handlers.Wait()
	r.workers.Wait() // every stream's context is cancelled by now
	r.logger.Info("otap receiver stopped")
	return runErr
}

// decompressionShare is what the receiver adds to the process's gRPC
// decompression gate: its byte budget, but at least one message of
// max_request_size; with no budget, no bound.
func (r *Receiver) decompressionShare() int64 {
	if r.cfg.MaxInFlightBytes <= 0 {
		return 1 << 50
	}
	return max(int64(r.cfg.MaxInFlightBytes), int64(r.cfg.MaxRequestSize))
}

func (r *Receiver) newServer() *grpc.Server {
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(serverCodec{}),
		grpc.MaxRecvMsgSize(int(r.cfg.MaxRequestSize)),
		grpc.MaxConcurrentStreams(uint32(r.cfg.MaxStreamsPerConnection)),
		grpc.ConnectionTimeout(handshakeTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idleTimeout}),
	}
	// The buffers and windows of receiver:otlp's gRPC connections, minus
	// its codec (the first option of ServerOptions).
	var t otlpgrpc.Transport
	if r.cfg.Transport != nil {
		t = *r.cfg.Transport
	}
	opts = append(opts, otlpgrpc.ServerOptions(int(r.cfg.MaxRequestSize), t)[1:]...)
	if r.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(r.tls)))
	}
	gs := grpc.NewServer(opts...)
	svc := &services{r: r}
	arrowpb.RegisterArrowLogsServiceServer(gs, svc)
	arrowpb.RegisterArrowMetricsServiceServer(gs, svc)
	arrowpb.RegisterArrowTracesServiceServer(gs, svc)
	return gs
}

// services implements the three OTAP services; each stream runs on its
// handler's goroutine (stream.go).
type services struct {
	arrowpb.UnimplementedArrowLogsServiceServer
	arrowpb.UnimplementedArrowMetricsServiceServer
	arrowpb.UnimplementedArrowTracesServiceServer
	r *Receiver
}

func (s *services) ArrowLogs(st arrowpb.ArrowLogsService_ArrowLogsServer) error {
	return s.r.serve(pdata.Logs, st)
}

func (s *services) ArrowMetrics(st arrowpb.ArrowMetricsService_ArrowMetricsServer) error {
	return s.r.serve(pdata.Metrics, st)
}

func (s *services) ArrowTraces(st arrowpb.ArrowTracesService_ArrowTracesServer) error {
	return s.r.serve(pdata.Traces, st)
}

// OnOutcome implements engine.Receiver: it settles the batch the outcome
// belongs to and answers it if it still waits. It never blocks.
func (r *Receiver) OnOutcome(c engine.Control) {
	id, seq := c.CallData[0], c.CallData[1]
	r.mu.Lock()
	st := r.streams[id]
	r.mu.Unlock()
	if st == nil {
		return // not a frame of ours: every batch of a stream settles before it is forgotten
	}
	st.settle(seq, c.Kind == engine.KindAck, c.Nack)
}

// register adds a new stream, or refuses it: draining, or max_streams.
func (r *Receiver) register(s pdata.Signal) (*stream, verdict, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.draining:
		return nil, vShutdown, false
	default:
	}
	if len(r.streams) >= r.cfg.MaxStreams {
		return nil, vBusy, false
	}
	r.nextID++
	st := newStream(r, r.nextID, s)
	r.streams[st.id] = st
	r.metrics.streams[s].Add(1)
	return st, vOK, true
}

// forget removes a stream that has ended and has no batch left to settle.
func (r *Receiver) forget(st *stream) {
	r.mu.Lock()
	delete(r.streams, st.id)
	r.mu.Unlock()
}

// admission is a batch's claim on the receiver's shared limits.
type admission struct{ bytes int64 }

// admit claims a slot of max_concurrent_requests and size bytes of
// max_in_flight_bytes for a decoded batch, or says why not. A batch alone
// is always let through the byte budget, so that one larger than the
// budget is not refused forever.
func (r *Receiver) admit(size int64) (admission, verdict) {
	if n := r.inFlight.Add(1); n > int64(r.cfg.MaxConcurrentRequests) {
		r.inFlight.Add(-1)
		return admission{}, vBusy
	}
	if max := int64(r.cfg.MaxInFlightBytes); max > 0 {
		if held := r.held.Add(size); held > max && held != size {
			r.held.Add(-size)
			r.inFlight.Add(-1)
			return admission{}, vBudget
		}
	} else {
		r.held.Add(size)
	}
	if m := r.memory(); m.High() {
		r.release(admission{bytes: size})
		return admission{}, vMemory
	}
	r.metrics.inFlight.Set(r.inFlight.Load())
	r.metrics.held.Set(r.held.Load())
	return admission{bytes: size}, vOK
}

// release gives an admission back: the batch settled, or never entered.
func (r *Receiver) release(a admission) {
	r.inFlight.Add(-1)
	r.held.Add(-a.bytes)
	r.metrics.inFlight.Set(r.inFlight.Load())
	r.metrics.held.Set(r.held.Load())
}

// send admits m into the pipeline, waiting while it is full until the
// timeout, the stream's end or the shutdown deadline.
func (r *Receiver) send(ctx context.Context, m *pdata.Message) (verdict, error) {
	err := r.fx.TrySend(m)
	if !errors.Is(err, engine.ErrFull) {
		return sendVerdict(err, false), err
	}
	timer := r.clock.NewTimer(time.Duration(r.cfg.Timeout))
	defer timer.Stop()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.fx.Send(sctx, m) }()
	select {
	case err = <-done:
		return sendVerdict(err, false), err
	case <-timer.C():
		cancel()
		err = <-done // nil if the send won the race: admitted after all
		return sendVerdict(err, true), err
	}
}

// sendVerdict is the verdict of a send that returned err.
func sendVerdict(err error, timedOut bool) verdict {
	switch {
	case err == nil:
		return vOK
	case timedOut:
		return vBackpressure
	case errors.Is(err, engine.ErrAborted), errors.Is(err, engine.ErrClosed),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return vShutdown
	}
	return vUnroutable
}
