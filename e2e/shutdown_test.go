package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// outcome is what one client got: a gRPC code, or an HTTP status (or a
// transport error).
type outcome struct {
	name       string
	first      string // the first item key of the request
	grpc       bool
	code       codes.Code // gRPC
	http       int        // HTTP status
	retryAfter string     // HTTP Retry-After
	err        error      // the gRPC error, or the HTTP transport error
}

func (o outcome) String() string {
	if o.grpc {
		return fmt.Sprintf("%s: %v (%v)", o.name, o.code, o.err)
	}
	return fmt.Sprintf("%s: HTTP %d (%v)", o.name, o.http, o.err)
}

// is reports whether o is the gRPC code c or the HTTP status h.
func (o outcome) is(c codes.Code, h int) bool {
	if o.grpc {
		return o.code == c
	}
	return o.err == nil && o.http == h
}

// launch sends one request per signal over gRPC and one over HTTP
// protobuf, each on its own goroutine, and returns the payloads and a
// channel that gets every outcome. The caller must receive them all.
func launch(t *testing.T, p *pipe, conn *grpc.ClientConn, hc *http.Client, tag string, items int) ([]payload, <-chan outcome) {
	t.Helper()
	ctx := callCtx(t)
	var sent []payload
	out := make(chan outcome, 2*len(signals))
	for _, sig := range signals {
		pg := makePayload(sig, tag+".grpc."+sig, items)
		ph := makePayload(sig, tag+".http."+sig, items+1)
		sent = append(sent, pg, ph)
		go func() {
			err := pg.Export(ctx, conn)
			out <- outcome{name: "gRPC " + sig, first: pg.Keys[0], grpc: true, code: status.Code(err), err: err}
		}()
		go func() {
			a, err := postHTTP(ctx, hc, p.httpURL, ph, mediaProto, "")
			out <- outcome{name: "HTTP " + sig, first: ph.Keys[0], http: a.code, retryAfter: a.retryAfter, err: err}
		}()
	}
	return sent, out
}

// shutdownYAML is receiver:otlp → processor:batch (flushing after age) →
// exporter:otlp_grpc.
func shutdownYAML(sinkAddr, age string) string {
	return yamlDoc("", fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          batch:
            type: processor:batch
            config: { max_batch_duration: %s, otlp: { min_size: 1MiB } }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s" }
        connections:
          - { from: in, to: batch }
          - { from: batch, to: out }
`, age, sinkAddr))
}

// TestShutdownAnswersRequestsInFlight: requests whose data is at a hanging
// sink when Shutdown starts get OK once the sink answers within the
// deadline; the drain refuses new requests meanwhile, and ends clean.
func TestShutdownAnswersRequestsInFlight(t *testing.T) {
	s := hangingSink(t)
	p := startPipe(t, shutdownYAML(s.Addr(), "5ms"), "grpc", "http")
	conn := dialGRPC(t, p.grpcAddr)
	hc := httpClient(t, p)
	sent, outcomes := launch(t, p, conn, hc, "drain", 5)
	keys := allKeys(sent)
	waitFor(t, "every request to reach the sink", func() bool { return s.AllArrived(keys) })

	stopped := make(chan error, 1)
	go func() { stopped <- p.shutdown(drainDeadline) }()
	p.logs.waitMessage(t, "otlp receiver draining", 1)

	// New requests are refused while the drain waits for the sink.
	late := makePayload(sigLogs, "during-drain", 4)
	ctx := callCtx(t)
	if err := late.Export(ctx, conn); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC request during the drain: %v, want Unavailable", err)
	}
	if a, err := postHTTP(ctx, hc, p.httpURL, late, mediaProto, ""); err == nil && a.code != 503 {
		t.Errorf("HTTP request during the drain: %v, want 503 or a refused connection", a)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while the sink still held every export", err)
	default:
	}
	if f := p.flow(); f.InFlight() != uint64(len(keys)) {
		t.Errorf("during the drain: flow %+v, want all %d items in flight", f, len(keys))
	}

	s.Release()
	for range 2 * len(signals) {
		if o := recv(t, outcomes, "a client's answer"); !o.is(codes.OK, 200) {
			t.Errorf("%v, want OK", o)
		}
	}
	if err := recv(t, stopped, "Shutdown to return"); err != nil {
		t.Errorf("Shutdown: %v, want a clean drain", err)
	}
	s.RequireExactly(t, keys)
	n := uint64(len(keys))
	p.requireFlow(t, n, n, 0)
}

// TestShutdownFlushesHeldBatches: requests whose data a batch processor
// holds (its age limit is an hour away) when Shutdown starts are flushed by
// the drain, delivered, and answered OK; the drain ends clean.
func TestShutdownFlushesHeldBatches(t *testing.T) {
	s := newSink(t, nil)
	p := startPipe(t, shutdownYAML(s.Addr(), "1h"), "grpc", "http")
	sent, outcomes := launch(t, p, dialGRPC(t, p.grpcAddr), httpClient(t, p), "held", 5)
	keys := allKeys(sent)
	n := uint64(len(keys))
	waitFor(t, "every item to be admitted", func() bool { return p.flow().Admitted == n })
	if c := s.Stats().Calls; c != 0 {
		t.Fatalf("sink got %d calls before the drain: the batch did not hold the data", c)
	}
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v, want a clean drain", err)
	}
	for range 2 * len(signals) {
		if o := recv(t, outcomes, "a client's answer"); !o.is(codes.OK, 200) {
			t.Errorf("%v, want OK", o)
		}
	}
	s.RequireExactly(t, keys)
	p.requireFlow(t, n, n, 0)
}

// TestShutdownDeadlineAnswersUnavailable: when the deadline passes while
// the sink still hangs, every client gets UNAVAILABLE / 503, Shutdown
// returns the deadline error and everything admitted is nacked.
func TestShutdownDeadlineAnswersUnavailable(t *testing.T) {
	s := hangingSink(t)
	p := startPipe(t, shutdownYAML(s.Addr(), "5ms"), "grpc", "http")
	sent, outcomes := launch(t, p, dialGRPC(t, p.grpcAddr), httpClient(t, p), "deadline", 5)
	keys := allKeys(sent)
	waitFor(t, "every request to reach the sink", func() bool { return s.AllArrived(keys) })

	if err := p.shutdown(drainDeadlineShort); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want %v", err, context.DeadlineExceeded)
	}
	for range 2 * len(signals) {
		if o := recv(t, outcomes, "a client's answer"); !o.is(codes.Unavailable, 503) {
			t.Errorf("%v, want Unavailable / 503", o)
		}
	}
	s.RequireExactly(t, nil)
	n := uint64(len(keys))
	p.requireFlow(t, n, 0, n)
}

// TestShutdownNotHeldByIdleConnections: a client connection that never
// sends a request (an HTTP client's spare connection, a TCP health check,
// a gRPC client that stalled before its preface) must not hold the drain of
// a pipeline with nothing in flight: Shutdown returns nil well before a 3s
// deadline, and the engine is done when it returns.
func TestShutdownNotHeldByIdleConnections(t *testing.T) {
	for _, proto := range []string{"http", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			s := newSink(t, nil)
			p := startPipe(t, shutdownYAML(s.Addr(), "5ms"), "grpc", "http")
			addr := p.grpcAddr
			if proto == "http" {
				addr = strings.TrimPrefix(p.httpURL, "http://")
			}
			idle, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer idle.Close()
			// A request on a newer connection: the listener accepts in
			// order, so once it is answered the idle connection has been
			// accepted by the server too.
			pl := makePayload(sigLogs, "idle."+proto, 4)
			if proto == "http" {
				tr := &http.Transport{DisableKeepAlives: true}
				defer tr.CloseIdleConnections()
				if a, err := postHTTP(callCtx(t), &http.Client{Transport: tr}, p.httpURL, pl, mediaProto, ""); err != nil || a.code != 200 {
					t.Fatalf("request: %v %v", a, err)
				}
			} else if err := pl.Export(callCtx(t), dialGRPC(t, p.grpcAddr)); err != nil {
				t.Fatalf("request: %v", err)
			}
			start := time.Now()
			if err := p.shutdown(3 * time.Second); err != nil {
				t.Errorf("Shutdown with nothing in flight: %v after %v: the idle %s connection held the drain", err, time.Since(start), proto)
			}
			p.requireFlow(t, 4, 4, 0)
		})
	}
}
