package e2e

import (
	"context"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// verdict is a sink's answer to one call.
type verdict struct {
	code codes.Code // codes.OK accepts the data
	hang bool       // wait until the sink is released (then answer code) or the caller gives up
}

// call is what a sink knows of a call when it decides its verdict.
type call struct {
	n     int      // 0-based, in arrival order, all signals together
	keys  []string // item keys of the request (see keys.go)
	tries int      // earlier calls whose first item key was this call's
}

// sink is an in-test OTLP/gRPC destination on 127.0.0.1: the three
// collector services of pdata's gRPC server API. It decodes every request,
// answers as decide says and records the items of the calls it accepted.
type sink struct {
	addr    string
	decide  func(call) verdict
	release chan struct{}
	relOnce sync.Once

	mu          sync.Mutex
	calls       int            // calls received
	okCalls     int            // calls accepted
	accepted    map[string]int // item key → times accepted
	arrived     map[string]int // item key → calls that carried it
	tries       map[string]int // first item key → calls
	inFlight    int
	maxInFlight int
}

// answer accepts every call.
func answer(code codes.Code) func(call) verdict {
	return func(call) verdict { return verdict{code: code} }
}

// newSink starts a sink; it stops at the end of the test.
func newSink(t *testing.T, decide func(call) verdict) *sink {
	t.Helper()
	if decide == nil {
		decide = answer(codes.OK)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: lis.Addr().String(), decide: decide, release: make(chan struct{}),
		accepted: map[string]int{}, arrived: map[string]int{}, tries: map[string]int{}}
	gs := grpc.NewServer()
	plogotlp.RegisterGRPCServer(gs, &logsService{s: s})
	pmetricotlp.RegisterGRPCServer(gs, &metricsService{s: s})
	ptraceotlp.RegisterGRPCServer(gs, &tracesService{s: s})
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		s.unblock()
		gs.Stop()
		<-served
	})
	return s
}

// deadAddr returns a loopback address nothing listens on. It is on
// 127.0.0.2, where no test binds, so the kernel cannot hand the port to
// another test's listener on 127.0.0.1 in the meantime.
func deadAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// unblock releases every hanging call, now and later. Idempotent.
func (s *sink) unblock() { s.relOnce.Do(func() { close(s.release) }) }

func (s *sink) handle(ctx context.Context, keys []string) error {
	s.mu.Lock()
	c := call{n: s.calls, keys: keys}
	if len(keys) > 0 {
		c.tries = s.tries[keys[0]]
		s.tries[keys[0]]++
	}
	s.calls++
	for _, k := range keys {
		s.arrived[k]++
	}
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	v := s.decide(c)
	if v.hang {
		select {
		case <-s.release:
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if v.code != codes.OK {
		return status.Error(v.code, "test sink says "+strings.ToLower(v.code.String()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.okCalls++
	for _, k := range keys {
		s.accepted[k]++
	}
	return nil
}

// stats returns the call counters.
func (s *sink) stats() (calls, okCalls, maxInFlight int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.okCalls, s.maxInFlight
}

func (s *sink) callCount() int {
	c, _, _ := s.stats()
	return c
}

// triesOf returns the calls that carried the request whose first item key
// is key.
func (s *sink) triesOf(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries[key]
}

// allArrived reports whether every key was carried by some call.
func (s *sink) allArrived(keys []string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if s.arrived[k] == 0 {
			return false
		}
	}
	return true
}

// missing returns the keys that the sink has not accepted yet.
func (s *sink) missing(keys []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range keys {
		if s.accepted[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// requireExactly checks that the sink accepted each key of want exactly as
// many times as it occurs in want, and nothing else.
func (s *sink) requireExactly(t testing.TB, want []string) {
	t.Helper()
	wantN := map[string]int{}
	for _, k := range want {
		wantN[k]++
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var diffs []string
	for k, n := range wantN {
		if got := s.accepted[k]; got != n {
			diffs = append(diffs, k+": got "+itoa(got)+", want "+itoa(n))
		}
	}
	for k, got := range s.accepted {
		if _, ok := wantN[k]; !ok {
			diffs = append(diffs, k+": got "+itoa(got)+", never sent")
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 10 {
			diffs = append(diffs[:10], "…")
		}
		t.Errorf("sink accepted items differ from what was sent (%d distinct sent, %d distinct accepted):\n  %s",
			len(wantN), len(s.accepted), strings.Join(diffs, "\n  "))
	}
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	s *sink
}

func (l *logsService) Export(ctx context.Context, r plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	return plogotlp.NewExportResponse(), l.s.handle(ctx, logKeys(r.Logs()))
}

type metricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	s *sink
}

func (m *metricsService) Export(ctx context.Context, r pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	return pmetricotlp.NewExportResponse(), m.s.handle(ctx, metricKeys(r.Metrics()))
}

type tracesService struct {
	ptraceotlp.UnimplementedGRPCServer
	s *sink
}

func (tr *tracesService) Export(ctx context.Context, r ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	return ptraceotlp.NewExportResponse(), tr.s.handle(ctx, traceKeys(r.Traces()))
}
