package otap

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/nodes/internal/exportdriver"
	iotlp "github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	otapcodec "github.com/ackflow/ackflow/pdata/otap"
)

// Type is the node type.
const Type = "exporter:otap"

// name prefixes nack reasons and logs.
const name = "otap"

// NewFactory returns the factory of exporter:otap.
func NewFactory() engine.Factory {
	f := engine.ProcessorFactory(Type,
		"sends OTAP (OpenTelemetry Arrow) on long-lived gRPC streams per signal; acks each message from its batch status, nacks (permanent or transient) otherwise",
		Load, func(nc engine.NodeContext, cfg Config) (engine.Processor, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	// Export decodes the payload on its own goroutine and a lane encodes it
	// into Arrow records (copies) under the waiter's lock, which an export
	// that gives up takes before returning.
	f.ReleasesPayloads = true
	return f
}

// Exporter is the exporter: the shared in-flight driver (max_in_flight,
// timeout, drain, forced shutdown) over this package's stream transport.
// It implements engine.Processor, engine.Gate and engine.Drainer through
// the driver.
type Exporter struct {
	*exportdriver.Exporter
	streams *Metrics
	t       *transport
}

// StreamMetrics returns the exporter's stream metrics; Metrics returns
// the driver's.
func (e *Exporter) StreamMetrics() *Metrics { return e.streams }

// New builds the exporter from a validated config. Nothing connects
// before the first export: each signal's streams open on first use.
func New(nc engine.NodeContext, cfg Config) (*Exporter, error) {
	m := NewMetrics(nc.Metrics, nc.Labels)
	clk, log := nc.Clock, nc.Logger
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, err := newTransport(cfg, clk, log, m)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", Type, nc.Node.Name, err)
	}
	d := exportdriver.NewExporter(nc, name, prefix, time.Duration(cfg.Timeout), cfg.MaxInFlight, t)
	return &Exporter{Exporter: d, streams: m, t: t}, nil
}

// streamMethods are the three OTAP services' bidirectional streams.
var streamMethods = [3]struct {
	desc   *grpc.StreamDesc
	method string
}{
	pdata.Logs:    {&arrowpb.ArrowLogsService_ServiceDesc.Streams[0], arrowpb.ArrowLogsService_ArrowLogs_FullMethodName},
	pdata.Metrics: {&arrowpb.ArrowMetricsService_ServiceDesc.Streams[0], arrowpb.ArrowMetricsService_ArrowMetrics_FullMethodName},
	pdata.Traces:  {&arrowpb.ArrowTracesService_ServiceDesc.Streams[0], arrowpb.ArrowTracesService_ArrowTraces_FullMethodName},
}

// transport is the exportdriver.Transport of exporter:otap: per signal,
// streams_per_signal lanes, each a bounded queue and the goroutine that
// owns its current stream (lane.go). Export hands the payload to the least
// loaded lane and waits for the batch's outcome.
type transport struct {
	conn     *grpc.ClientConn
	clk      clock.Clock
	log      *slog.Logger
	m        *Metrics
	md       metadata.MD // headers, the streams' initial metadata; nil if none
	callOpts []grpc.CallOption
	encoder  otapcodec.EncoderOptions
	lifetime time.Duration // 0: streams live until they break
	timeout  time.Duration // bounds a retired stream's last answers

	lanes [3][]*lane
	rr    [3]atomic.Uint32 // where the least-loaded search starts, per signal

	ctx    context.Context // ends at Close: every goroutine watches it
	cancel context.CancelFunc
	wg     sync.WaitGroup // lanes, receivers and retired streams

	hook func(event string) // tests: "dequeued", "queue_full", "late"; set before the first export

	warnMu      sync.Mutex
	unmatchWarn warnLimiter
	streamWarn  warnLimiter
}

func newTransport(cfg Config, clk clock.Clock, log *slog.Logger, m *Metrics) (*transport, error) {
	target, secure, err := parseEndpoint(cfg.GRPCEndpoint)
	if err != nil {
		return nil, fmt.Errorf("grpc_endpoint: %w", err)
	}
	creds := insecure.NewCredentials()
	if secure {
		tlsCfg, err := cfg.TLS.Load()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tlsCfg)
	}
	var tuning iotlp.Transport
	if cfg.Transport != nil {
		tuning = *cfg.Transport
	}
	opts := append(iotlp.DialOptions(tuning.Or(iotlp.ExporterTransport)),
		grpc.WithTransportCredentials(creds),
		grpc.WithUserAgent("ackflow"),
	)
	conn, err := grpc.NewClient(target, opts...)
	if err != nil {
		return nil, fmt.Errorf("grpc client for %s: %w", target, err)
	}
	t := &transport{
		conn:     conn,
		clk:      clk,
		log:      log,
		m:        m,
		encoder:  otapcodec.EncoderOptions{Zstd: cfg.Arrow.PayloadCompression == "zstd"},
		lifetime: time.Duration(cfg.Arrow.MaxStreamLifetime),
		timeout:  time.Duration(cfg.Timeout),
	}
	if c := cfg.GRPCCompression(); c != "none" {
		t.callOpts = append(t.callOpts, grpc.UseCompressor(c))
	}
	if len(cfg.Headers) > 0 {
		t.md = metadata.New(cfg.Headers)
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for _, s := range pdata.Signals() {
		for range cfg.StreamsPerSignal {
			t.lanes[s] = append(t.lanes[s], &lane{t: t, signal: s, queue: make(chan *waiter, cfg.StreamQueueCapacity)})
		}
	}
	return t, nil
}

// Export implements exportdriver.Transport: it queues p on the least
// loaded lane of its signal (waiting while that queue is full) and returns
// the batch's outcome, or a failure as soon as ctx ends. An OTLP payload
// is decoded here, on the export's own goroutine, so that the lane
// goroutine only converts and encodes.
func (t *transport) Export(ctx context.Context, p *pdata.Payload) exportdriver.Result {
	s := p.Signal()
	if p.Form() == pdata.FormOTLP {
		if err := decode(p); err != nil {
			return exportdriver.EncodeFailure("OTAP", s, err)
		}
	}
	l := t.pick(s)
	w := newWaiter(p, l)
	l.start()
	select {
	case l.queue <- w:
	default: // the stream is behind: wait for room, which is backpressure
		t.m.queueFull[s].Inc()
		t.event("queue_full")
		select {
		case l.queue <- w:
		case <-ctx.Done():
			w.resolve(ended(ctx))
			return w.res
		}
	}
	t.m.queued[s].Add(1)
	select {
	case <-w.done:
	case <-ctx.Done():
		w.resolve(ended(ctx)) // loses to an outcome already settled
		<-w.done
		// An encoding under way finishes first (a later one sees the
		// waiter settled and skips it): the wait is the point.
		w.reading.Lock()
		w.reading.Unlock()
	}
	return w.res
}

// decode fills the payload's decoded form, cached for the encoder.
func decode(p *pdata.Payload) error {
	var err error
	switch p.Signal() {
	case pdata.Logs:
		_, err = p.Logs()
	case pdata.Metrics:
		_, err = p.Metrics()
	default:
		_, err = p.Traces()
	}
	return err
}

// ended is the result of an export whose context ended first; the driver
// turns it into a timeout or shutdown nack from the context's cause.
func ended(ctx context.Context) exportdriver.Result {
	return exportdriver.Result{Status: "canceled", Err: context.Cause(ctx)}
}

// pick returns the lane of signal s with the fewest exports assigned,
// starting the search at a rotating index so that ties spread.
func (t *transport) pick(s pdata.Signal) *lane {
	ls := t.lanes[s]
	if len(ls) == 1 {
		return ls[0]
	}
	start := int(t.rr[s].Add(1) % uint32(len(ls)))
	best := ls[start]
	for i := 1; i < len(ls); i++ {
		if l := ls[(start+i)%len(ls)]; l.load.Load() < best.load.Load() {
			best = l
		}
	}
	return best
}

// Close implements exportdriver.Transport. The driver calls it once no
// export is in flight: it ends every stream and goroutine, then the
// connection.
func (t *transport) Close() error {
	t.cancel()
	t.wg.Wait()
	return t.conn.Close()
}

// event tells a test hook what happened, for tests that must know where
// a goroutine is without polling.
func (t *transport) event(e string) {
	if t.hook != nil {
		t.hook(e)
	}
}

// warn logs a stream event, at most once per 10s per kind.
func (t *transport) warn(l *warnLimiter, msg string, args ...any) {
	t.warnMu.Lock()
	n, ok := l.allow(t.clk.Now())
	t.warnMu.Unlock()
	if ok {
		t.log.Warn(name+": "+msg, append(args, "suppressed_since_last", n)...)
	}
}

// statusResult maps a BatchStatus to the export's outcome. Its codes are
// gRPC's, and so is the mapping: exporter:otlp_grpc's (the OTLP
// specification's retryable list). UNAVAILABLE, RESOURCE_EXHAUSTED,
// DEADLINE_EXCEEDED, ABORTED, CANCELED (and OUT_OF_RANGE, DATA_LOSS from a
// peer that sends codes outside OTAP's enum) are transient; INVALID_ARGUMENT,
// PERMISSION_DENIED, UNAUTHENTICATED and INTERNAL, like any other code,
// are permanent: the same batch would fail again, and retrying a batch that
// broke the receiver would only break it again.
func statusResult(st *arrowpb.BatchStatus) exportdriver.Result {
	if st.GetStatusCode() == arrowpb.StatusCode_OK {
		return exportdriver.Result{Status: "ok"}
	}
	c := codes.Code(st.GetStatusCode())
	return exportdriver.Result{
		Status:    codeName(c),
		Err:       fmt.Errorf("%s: %s", codeName(c), st.GetStatusMessage()),
		Permanent: !retryable(c),
	}
}

// retryable reports whether a batch refused with code c may be sent again.
func retryable(c codes.Code) bool {
	switch c {
	case codes.Canceled, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted,
		codes.OutOfRange, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// codeNames are the status label values, one per gRPC code.
var codeNames = map[codes.Code]string{
	codes.OK: "ok", codes.Canceled: "canceled", codes.Unknown: "unknown",
	codes.InvalidArgument: "invalid_argument", codes.DeadlineExceeded: "deadline_exceeded",
	codes.NotFound: "not_found", codes.AlreadyExists: "already_exists",
	codes.PermissionDenied: "permission_denied", codes.ResourceExhausted: "resource_exhausted",
	codes.FailedPrecondition: "failed_precondition", codes.Aborted: "aborted",
	codes.OutOfRange: "out_of_range", codes.Unimplemented: "unimplemented",
	codes.Internal: "internal", codes.Unavailable: "unavailable", codes.DataLoss: "data_loss",
	codes.Unauthenticated: "unauthenticated",
}

// codeName returns the label of c; codes outside gRPC's set share one.
func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return "unknown_code"
}
