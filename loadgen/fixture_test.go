package loadgen

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// verdict decides the answer to request number n (0-based, in arrival
// order): OK, or an error code; hang makes the server wait for the client
// to give up.
type verdict struct {
	code codes.Code // gRPC; codes.OK for success
	http int        // HTTP status; 0 for 200
	hang bool
	// abort ends an OTAP stream with code instead of answering the batch.
	abort bool
}

// sink is an in-test OTLP server on 127.0.0.1 that decodes every request
// (to prove the bytes are valid OTLP) and counts requests and items.
type sink struct {
	t      testing.TB
	decide func(n int64) verdict

	requests atomic.Int64
	items    atomic.Int64
	mu       sync.Mutex
	bad      []string // decode failures
	methods  map[string]int
}

func newSink(t testing.TB, decide func(int64) verdict) *sink {
	if decide == nil {
		decide = func(int64) verdict { return verdict{} }
	}
	return &sink{t: t, decide: decide, methods: map[string]int{}}
}

// count decodes one request of the signal named by path and returns the
// verdict for it.
func (s *sink) count(path string, body []byte) verdict {
	items, err := decodeItems(path, body)
	return s.tally(path, items, err)
}

// tally counts one request of items items (err: it did not decode) and
// returns the verdict for it.
func (s *sink) tally(path string, items int, err error) verdict {
	n := s.requests.Add(1) - 1
	s.mu.Lock()
	s.methods[path]++
	if err != nil {
		s.bad = append(s.bad, fmt.Sprintf("%s: %v", path, err))
	}
	s.mu.Unlock()
	s.items.Add(int64(items))
	return s.decide(n)
}

// requireClean fails the test if any request did not decode.
func (s *sink) requireClean(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		t.Fatalf("sink got %d undecodable requests, first: %s", len(s.bad), s.bad[0])
	}
}

func decodeItems(path string, body []byte) (int, error) {
	switch {
	case strings.Contains(path, "logs"):
		r := plogotlp.NewExportRequest()
		if err := r.UnmarshalProto(body); err != nil {
			return 0, err
		}
		return r.Logs().LogRecordCount(), nil
	case strings.Contains(path, "metric"):
		r := pmetricotlp.NewExportRequest()
		if err := r.UnmarshalProto(body); err != nil {
			return 0, err
		}
		return r.Metrics().DataPointCount(), nil
	case strings.Contains(path, "trace"):
		r := ptraceotlp.NewExportRequest()
		if err := r.UnmarshalProto(body); err != nil {
			return 0, err
		}
		return r.Traces().SpanCount(), nil
	}
	return 0, fmt.Errorf("unknown path %q", path)
}

// serveGRPC starts s as a gRPC server on 127.0.0.1:0 and returns its
// address; it stops at the end of the test.
func serveGRPC(t *testing.T, s *sink) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(otlpgrpc.ServerOptions(64<<20, otlpgrpc.Transport{})...)
	otlpgrpc.RegisterServer(gs, grpcSink{s})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// grpcSink serves the OTLP gRPC services with the sink's verdicts.
type grpcSink struct{ s *sink }

func (g grpcSink) Export(ctx context.Context, sig pdata.Signal, read func(*otlpgrpc.Request) error) (*otlpgrpc.Response, error) {
	var req otlpgrpc.Request
	if err := read(&req); err != nil {
		return nil, err
	}
	v := g.s.count(sig.String(), req.Bytes())
	if v.hang {
		<-ctx.Done()
		return nil, status.Error(codes.Canceled, "client gave up")
	}
	if v.code != codes.OK {
		return nil, status.Error(v.code, "test sink says no")
	}
	return &otlpgrpc.Response{}, nil
}

// serveHTTP starts s as an OTLP/HTTP server on 127.0.0.1:0 and returns its
// base URL.
func serveHTTP(t *testing.T, s *sink) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad request", http.StatusUnsupportedMediaType)
			return
		}
		var body io.Reader = r.Body
		switch r.Header.Get("Content-Encoding") {
		case "gzip":
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		case "zstd":
			zr, err := zstd.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			defer zr.Close()
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		v := s.count(r.URL.Path, b)
		if v.hang {
			<-r.Context().Done()
			return
		}
		if v.http != 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "test sink says no", v.http)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// serveOTAP starts s as an OTAP server (the three Arrow stream services)
// on 127.0.0.1:0 and returns its address and the number of streams it
// has served so far.
func serveOTAP(t *testing.T, s *sink) (string, *atomic.Int64) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &otapSink{s: s}
	gs := grpc.NewServer()
	arrowpb.RegisterArrowLogsServiceServer(gs, otapLogs{o: o})
	arrowpb.RegisterArrowMetricsServiceServer(gs, otapMetrics{o: o})
	arrowpb.RegisterArrowTracesServiceServer(gs, otapTraces{o: o})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return lis.Addr().String(), &o.streams
}

// otapSink serves Arrow streams with the sink's verdicts. Each stream
// decodes its batches in arrival order with its own decoder, as a real
// receiver must: a batch out of order, or encoded for another stream,
// fails to decode and the sink notes it.
type otapSink struct {
	s       *sink
	streams atomic.Int64
}

func (o *otapSink) serve(sig pdata.Signal, recv func() (*arrowpb.BatchArrowRecords, error), send func(*arrowpb.BatchStatus) error) error {
	o.streams.Add(1)
	dec := otap.NewDecoder(otap.DecoderOptions{})
	defer dec.Close()
	for {
		bar, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		items := 0
		b, err := dec.Decode(sig, bar)
		if err == nil {
			items = b.Items()
		}
		v := o.s.tally(sig.String(), items, err)
		switch {
		case v.hang: // this batch is never answered; the stream goes on
			continue
		case v.abort:
			return status.Error(v.code, "test sink ends the stream")
		}
		st := &arrowpb.BatchStatus{BatchId: bar.GetBatchId(), StatusCode: arrowpb.StatusCode(v.code)}
		if v.code != codes.OK {
			st.StatusMessage = "test sink says no"
		}
		if err := send(st); err != nil {
			return err
		}
	}
}

type otapLogs struct {
	arrowpb.UnimplementedArrowLogsServiceServer
	o *otapSink
}

func (x otapLogs) ArrowLogs(st arrowpb.ArrowLogsService_ArrowLogsServer) error {
	return x.o.serve(pdata.Logs, st.Recv, st.Send)
}

type otapMetrics struct {
	arrowpb.UnimplementedArrowMetricsServiceServer
	o *otapSink
}

func (x otapMetrics) ArrowMetrics(st arrowpb.ArrowMetricsService_ArrowMetricsServer) error {
	return x.o.serve(pdata.Metrics, st.Recv, st.Send)
}

type otapTraces struct {
	arrowpb.UnimplementedArrowTracesServiceServer
	o *otapSink
}

func (x otapTraces) ArrowTraces(st arrowpb.ArrowTracesService_ArrowTracesServer) error {
	return x.o.serve(pdata.Traces, st.Recv, st.Send)
}

// serve starts a sink for protocol p and returns the endpoint to give the
// generator.
func serve(t *testing.T, p Protocol, s *sink) string {
	switch p {
	case HTTP:
		return serveHTTP(t, s)
	case OTAP:
		addr, _ := serveOTAP(t, s)
		return addr
	}
	return serveGRPC(t, s)
}

// testConfig is a small, fast configuration aimed at endpoint.
func testConfig(p Protocol, endpoint string) Config {
	cfg := DefaultConfig()
	cfg.Protocol = p
	cfg.Endpoint = endpoint
	cfg.Workers = 3
	cfg.Items = 50
	cfg.BodySize = 64
	cfg.Pool = 3
	cfg.Duration = 0
	cfg.Requests = 30
	return cfg
}
