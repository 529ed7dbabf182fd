package interop

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the collector's exporter compresses with gzip by default
)

// counts are OTLP items by signal: log records, metric data points, spans.
type counts struct{ Logs, Points, Spans int }

func (c counts) add(d counts) counts {
	return counts{c.Logs + d.Logs, c.Points + d.Points, c.Spans + d.Spans}
}

func (c counts) sub(d counts) counts {
	return counts{c.Logs - d.Logs, c.Points - d.Points, c.Spans - d.Spans}
}

func (c counts) atLeast(d counts) bool {
	return c.Logs >= d.Logs && c.Points >= d.Points && c.Spans >= d.Spans
}

func (c counts) total() int { return c.Logs + c.Points + c.Spans }

func (c counts) String() string {
	return fmt.Sprintf("%d logs, %d points, %d spans", c.Logs, c.Points, c.Spans)
}

// sink is an in-test OTLP/gRPC server that accepts everything and counts
// the items it received.
type sink struct {
	addr string

	mu      sync.Mutex
	got     counts
	changed chan struct{} // closed and replaced on every export
}

// startSink serves the three OTLP services on a free loopback port until
// the end of the test.
func startSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: ln.Addr().String(), changed: make(chan struct{})}
	srv := grpc.NewServer()
	plogotlp.RegisterGRPCServer(srv, &sinkLogs{s: s})
	pmetricotlp.RegisterGRPCServer(srv, &sinkMetrics{s: s})
	ptraceotlp.RegisterGRPCServer(srv, &sinkTraces{s: s})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return s
}

func (s *sink) record(d counts) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = s.got.add(d)
	close(s.changed)
	s.changed = make(chan struct{})
}

// counts returns what the sink has received so far.
func (s *sink) counts() counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// waitFor waits until the sink has received at least want, or timeout
// passes, and returns what it has then.
func (s *sink) waitFor(want counts, timeout time.Duration) counts {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got, changed := s.got, s.changed
		s.mu.Unlock()
		if got.atLeast(want) {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			return got
		}
	}
}

type sinkLogs struct {
	plogotlp.UnimplementedGRPCServer
	s *sink
}

func (h *sinkLogs) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	h.s.record(counts{Logs: req.Logs().LogRecordCount()})
	return plogotlp.NewExportResponse(), nil
}

type sinkMetrics struct {
	pmetricotlp.UnimplementedGRPCServer
	s *sink
}

func (h *sinkMetrics) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	h.s.record(counts{Points: req.Metrics().DataPointCount()})
	return pmetricotlp.NewExportResponse(), nil
}

type sinkTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	s *sink
}

func (h *sinkTraces) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	h.s.record(counts{Spans: req.Traces().SpanCount()})
	return ptraceotlp.NewExportResponse(), nil
}
