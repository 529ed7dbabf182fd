package interop

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // the collector's exporter compresses with gzip by default
	"google.golang.org/grpc/status"
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
// the items it received, or refuses everything with a set code
// (setRefusal) and counts the items it refused. It keeps the fingerprints
// of the items of tagged resources (content_test.go), by tag.
type sink struct {
	addr string

	mu      sync.Mutex
	got     counts
	refused counts
	refuse  codes.Code          // codes.OK accepts
	printed map[string][]string // fingerprints of accepted tagged items
	changed chan struct{}       // closed and replaced on every export
}

// startSink serves the three OTLP services on a free loopback port until
// the end of the test.
func startSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: ln.Addr().String(), printed: map[string][]string{}, changed: make(chan struct{})}
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

// record counts one export of d items, whose tagged items print adds to
// a map of fingerprints, and returns the sink's answer.
func (s *sink) record(d counts, print func(map[string][]string)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		close(s.changed)
		s.changed = make(chan struct{})
	}()
	if s.refuse != codes.OK {
		s.refused = s.refused.add(d)
		return status.Errorf(s.refuse, "the interop sink refuses %s", d)
	}
	s.got = s.got.add(d)
	print(s.printed)
	return nil
}

// setRefusal makes the sink answer every export with code (codes.OK:
// accept again).
func (s *sink) setRefusal(code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = code
}

// refusedCounts returns what the sink has refused so far.
func (s *sink) refusedCounts() counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// prints returns the sorted fingerprints of the accepted items tagged tag.
func (s *sink) prints(tag string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(slices.Values(s.printed[tag]))
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
	err := h.s.record(counts{Logs: req.Logs().LogRecordCount()}, func(out map[string][]string) { logPrints(req.Logs(), out) })
	return plogotlp.NewExportResponse(), err
}

type sinkMetrics struct {
	pmetricotlp.UnimplementedGRPCServer
	s *sink
}

func (h *sinkMetrics) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	err := h.s.record(counts{Points: req.Metrics().DataPointCount()}, func(out map[string][]string) { metricPrints(req.Metrics(), out) })
	return pmetricotlp.NewExportResponse(), err
}

type sinkTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	s *sink
}

func (h *sinkTraces) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	err := h.s.record(counts{Spans: req.Traces().SpanCount()}, func(out map[string][]string) { spanPrints(req.Traces(), out) })
	return ptraceotlp.NewExportResponse(), err
}
