package testsink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrStopped is returned by Restart after Stop.
var ErrStopped = errors.New("testsink: stopped")

// rebindFor bounds how long Restart retries to bind the sink's address:
// between Close and Restart the kernel may give the port to an outgoing
// connection, which holds it until it closes.
const rebindFor = 5 * time.Second

// Sink is an OTLP/gRPC destination on 127.0.0.1: the logs, metrics and
// traces collector services of pdata's gRPC server API. It answers as its
// mode (or Decide function) says and records the items of the calls it
// accepted. The zero value is not usable; use New. Safe for concurrent use.
type Sink struct {
	addr string

	life sync.Mutex // serialises Close, Restart and Stop
	srv  *server    // nil while closed; set under life and mu

	mu       sync.Mutex
	stopped  bool
	mode     Mode
	decide   func(Call) Verdict
	delay    time.Duration
	rate     int       // bytes per second; 0 = unlimited
	linkFree time.Time // when the simulated link is free again
	gate     chan struct{}
	book     book
	changed  chan struct{} // closed and replaced whenever book changes
}

// server is one incarnation of the gRPC server, from Start to Close.
type server struct {
	gs     *grpc.Server
	served chan struct{} // closed when Serve returned
}

// New starts a sink on a free port of 127.0.0.1 in mode OK. It is stopped
// when the test ends.
func New(t testing.TB) *Sink {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsink: %v", err)
	}
	s := &Sink{addr: lis.Addr().String(), gate: make(chan struct{}), changed: make(chan struct{}), book: newBook()}
	s.serve(lis)
	t.Cleanup(s.Stop)
	return s
}

// Addr returns the sink's host:port; it stays the same across Restart.
func (s *Sink) Addr() string { return s.addr }

// Endpoint returns the sink's address as an exporter's grpc_endpoint:
// http://host:port.
func (s *Sink) Endpoint() string { return "http://" + s.addr }

func (s *Sink) String() string {
	return fmt.Sprintf("testsink %s: %s", s.addr, s.Stats())
}

func (s *Sink) serve(lis net.Listener) {
	gs := grpc.NewServer(grpc.WaitForHandlers(true))
	plogotlp.RegisterGRPCServer(gs, &logsService{s: s})
	pmetricotlp.RegisterGRPCServer(gs, &metricsService{s: s})
	ptraceotlp.RegisterGRPCServer(gs, &tracesService{s: s})
	srv := &server{gs: gs, served: make(chan struct{})}
	go func() {
		defer close(srv.served)
		_ = gs.Serve(lis)
	}()
	s.srv = srv
}

// Close stops the server: the listener closes (new connections are
// refused), open connections are closed and calls in progress, hanging ones
// included, fail. It returns once every call has returned. The records stay;
// Restart serves again. Idempotent.
func (s *Sink) Close() {
	s.life.Lock()
	defer s.life.Unlock()
	s.closeLocked()
}

func (s *Sink) closeLocked() {
	if s.srv == nil {
		return
	}
	s.srv.gs.Stop() // WaitForHandlers: returns after the last handler
	<-s.srv.served
	s.srv = nil
}

// Restart serves again on the same address, closing the server first if
// it runs. It retries the bind for a few seconds if the port is taken and
// fails with ErrStopped after Stop.
func (s *Sink) Restart() error {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	s.closeLocked()
	deadline := time.Now().Add(rebindFor)
	for {
		lis, err := net.Listen("tcp", s.addr)
		if err == nil {
			s.serve(lis)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testsink: restart on %s: %w", s.addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Running reports whether the server is up (not closed or stopped).
func (s *Sink) Running() bool {
	s.life.Lock()
	defer s.life.Unlock()
	return s.srv != nil
}

// Stop closes the sink for good; New registers it with t.Cleanup. Safe to
// call twice and after Close.
func (s *Sink) Stop() {
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.closeLocked()
}

// handle answers one call and records it.
func (s *Sink) handle(ctx context.Context, signal string, size int, keys []string) error {
	c := s.arrive(signal, size, keys)
	defer s.leave()
	decide, v, gate, wait := s.plan(c)
	if decide != nil {
		v = decide(c)
	}
	if v.Hang {
		select {
		case <-gate:
		case <-ctx.Done():
			return s.fail(status.FromContextError(ctx.Err()).Err())
		}
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return s.fail(status.FromContextError(ctx.Err()).Err())
		}
	}
	if v.Code != codes.OK {
		return s.fail(status.Error(v.Code, "testsink says "+strings.ToLower(v.Code.String())))
	}
	s.accept(size, keys)
	return nil
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	s *Sink
}

func (l *logsService) Export(ctx context.Context, r plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	ld := r.Logs()
	return plogotlp.NewExportResponse(), l.s.handle(ctx, SignalLogs, new(plog.ProtoMarshaler).LogsSize(ld), LogKeys(ld))
}

type metricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	s *Sink
}

func (m *metricsService) Export(ctx context.Context, r pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := r.Metrics()
	return pmetricotlp.NewExportResponse(), m.s.handle(ctx, SignalMetrics, new(pmetric.ProtoMarshaler).MetricsSize(md), MetricKeys(md))
}

type tracesService struct {
	ptraceotlp.UnimplementedGRPCServer
	s *Sink
}

func (tr *tracesService) Export(ctx context.Context, r ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	td := r.Traces()
	return ptraceotlp.NewExportResponse(), tr.s.handle(ctx, SignalTraces, new(ptrace.ProtoMarshaler).TracesSize(td), TraceKeys(td))
}
