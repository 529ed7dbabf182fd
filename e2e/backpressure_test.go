package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// backpressureYAML is receiver:otlp → processor:retry → exporter:otlp_grpc
// (one export at a time) with channels of one message.
func backpressureYAML(sinkAddr string) string {
	return yamlDoc(`
policies:
  channel_capacity: { pdata: 1 }`, fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          retry: { type: processor:retry }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s", max_in_flight: 1 }
        connections:
          - { from: in, to: retry }
          - { from: retry, to: out }
`, sinkAddr))
}

// TestBackpressureLosesNothing: many concurrent clients against a sink
// that blocks. The pipeline fills (one export, one message per channel),
// the rest wait in the receiver without being admitted; once the sink is
// released every request is acked and every item arrives exactly once.
func TestBackpressureLosesNothing(t *testing.T) {
	const rounds = 7 // × 3 signals × 2 protocols = 42 requests
	s := hangingSink(t)
	p := startPipe(t, backpressureYAML(s.Addr()), "grpc", "http")
	conn, hc := dialGRPC(t, p.grpcAddr), httpClient(t, p)
	var sent []payload
	var all []<-chan outcome
	for r := range rounds {
		ps, out := launch(t, p, conn, hc, fmt.Sprintf("bp%d", r), 4+r%3)
		sent = append(sent, ps...)
		all = append(all, out)
	}
	keys := allKeys(sent)

	// Saturated: one export at the sink, the exporter's and the retry's
	// input channels full, the rest held back in the receiver.
	waitFor(t, "the pipeline to fill", func() bool {
		return s.Stats().Calls == 1 && p.node("out").Queued == 1 && p.node("retry").Queued == 1
	})
	if f := p.flow(); f.Admitted >= uint64(len(keys)) {
		t.Errorf("with the pipeline full every item was admitted (%+v): no backpressure", f)
	}

	s.Release()
	for _, out := range all {
		for range 2 * len(signals) {
			o := recv(t, out, "a client's answer")
			if !o.is(codes.OK, 200) {
				t.Errorf("%v, want OK (status %v)", o, status.Convert(o.err).Message())
			}
		}
	}
	s.RequireExactly(t, keys)
	if maxIn := s.Stats().MaxInFlight; maxIn != 1 {
		t.Errorf("sink saw %d exports at once, want 1 (max_in_flight)", maxIn)
	}
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	n := uint64(len(keys))
	p.requireFlow(t, n, n, 0)
}

// TestBackpressureRefusalsAreNotAdmitted: with the sink blocked and a
// receiver timeout of 500ms, the requests that got into the full pipeline
// are answered DEADLINE_EXCEEDED / 504 (outcome unknown), the others
// UNAVAILABLE / 503 with a retry hint (backpressure). Once the sink is
// released it gets exactly the data of the first kind: a retryable refusal
// never lets data through, so a client's retry cannot duplicate it.
func TestBackpressureRefusalsAreNotAdmitted(t *testing.T) {
	const rounds = 4 // × 3 signals × 2 protocols = 24 requests
	s := hangingSink(t)
	p := startPipe(t, strings.Replace(backpressureYAML(s.Addr()),
		`http: { listening_addr: "127.0.0.1:0" }`,
		`http: { listening_addr: "127.0.0.1:0" }
              timeout: 500ms`, 1), "grpc", "http")
	conn, hc := dialGRPC(t, p.grpcAddr), httpClient(t, p)
	byName := map[string]payload{}
	var all []<-chan outcome
	for r := range rounds {
		ps, out := launch(t, p, conn, hc, fmt.Sprintf("bp%d", r), 4)
		for _, pl := range ps {
			byName[pl.Keys[0]] = pl
		}
		all = append(all, out)
	}
	var admitted []string
	refused := 0
	for _, out := range all {
		for range 2 * len(signals) {
			o := recv(t, out, "a client's answer")
			switch {
			case o.is(codes.DeadlineExceeded, 504):
				admitted = append(admitted, o.first)
			case o.is(codes.Unavailable, 503):
				refused++
				if o.grpc && !hasRetryInfo(o.err) {
					t.Errorf("%v: no RetryInfo", o)
				}
				if !o.grpc && o.retryAfter == "" {
					t.Errorf("%v: no Retry-After", o)
				}
			default:
				t.Errorf("%v, want DeadlineExceeded / 504 or Unavailable / 503", o)
			}
		}
	}
	if len(admitted) == 0 || refused == 0 {
		t.Errorf("%d requests timed out inside the pipeline and %d were refused; want some of each", len(admitted), refused)
	}
	t.Logf("%d admitted, %d refused", len(admitted), refused)
	var want []string
	for _, first := range admitted {
		want = append(want, byName[first].Keys...)
	}
	n := uint64(len(want))
	if f := p.flow(); f.Admitted != n {
		t.Errorf("flow %+v: want exactly the %d items of the %d requests that timed out inside admitted", f, n, len(admitted))
	}
	s.Release()
	waitFor(t, "the admitted data to be delivered", func() bool { return p.flow().Delivered == n })
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	s.RequireExactly(t, want)
	p.requireFlow(t, n, n, 0)
}

// TestShutdownWithFullPipeline: Shutdown starts while the pipeline is full
// and more requests wait to get in. Released during the drain: every
// client is answered, OK only with its data at the sink, UNAVAILABLE / 503
// only without any of it, and the drain ends clean. Not released before
// the deadline: every client is answered UNAVAILABLE / 503.
func TestShutdownWithFullPipeline(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(fmt.Sprintf("released during the drain=%t", release), func(t *testing.T) {
			const rounds = 3 // × 3 signals × 2 protocols = 18 requests
			s := hangingSink(t)
			p := startPipe(t, backpressureYAML(s.Addr()), "grpc", "http")
			conn, hc := dialGRPC(t, p.grpcAddr), httpClient(t, p)
			byFirst := map[string]payload{}
			var all []<-chan outcome
			for r := range rounds {
				ps, out := launch(t, p, conn, hc, fmt.Sprintf("full%d", r), 4)
				for _, pl := range ps {
					byFirst[pl.Keys[0]] = pl
				}
				all = append(all, out)
			}
			waitFor(t, "the pipeline to fill", func() bool {
				return s.Stats().Calls == 1 && p.node("out").Queued == 1 && p.node("retry").Queued == 1
			})
			deadline := drainDeadline
			if !release {
				deadline = drainDeadlineShort
			}
			stopped := make(chan error, 1)
			go func() { stopped <- p.shutdown(deadline) }()
			if release {
				p.logs.waitMessage(t, "otlp receiver draining", 1)
				s.Release()
			}
			var okKeys []string
			unsent := 0 // HTTP requests whose connection the closing listener reset
			for _, out := range all {
				for range 2 * len(signals) {
					o := recv(t, out, "a client's answer")
					switch {
					case release && o.is(codes.OK, 200):
						okKeys = append(okKeys, byFirst[o.first].Keys...)
					case o.is(codes.Unavailable, 503) || (!o.grpc && o.err != nil):
						if !o.grpc && o.err != nil {
							unsent++
						}
						if miss := s.Missing(byFirst[o.first].Keys); len(miss) != len(byFirst[o.first].Keys) {
							t.Errorf("%v, but the sink accepted %d of its items", o, len(byFirst[o.first].Keys)-len(miss))
						}
					default:
						t.Errorf("%v, want OK or Unavailable / 503", o)
					}
				}
			}
			err := recv(t, stopped, "Shutdown to return")
			if release && err != nil {
				t.Errorf("Shutdown: %v, want a clean drain", err)
			}
			if !release && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown: %v, want %v", err, context.DeadlineExceeded)
			}
			// A connection still in the listener's backlog when the drain
			// closes the listener is reset by the kernel: its client sees
			// EOF. That is acceptable for a request the receiver never saw,
			// and for one it refused as shutting down (its data is not at the
			// sink, checked above): closing the connection at the end of the
			// drain can reset it before the client read that 503 (a known
			// limit of the HTTP/1 drain, see the closing note of 2026-12-06).
			// Every other request it saw must have been answered.
			sent := float64(rounds * len(signals))
			saw := p.metric("ackflow_receiver_otlp_requests_total", "protocol", "http")
			refused := p.metric("ackflow_receiver_otlp_requests_total", "protocol", "http", "outcome", "shutdown")
			if want := sent - float64(unsent); saw < want || saw > want+min(refused, float64(unsent)) {
				t.Errorf("the receiver answered %v HTTP requests (%v of them refused as shutting down); want %v (%v sent, %d reset), plus at most the refused ones among the reset",
					saw, refused, want, sent, unsent)
			}
			s.RequireExactly(t, okKeys)
			f := p.flow()
			if f.Admitted != f.Delivered+f.Nacked || f.Dropped != 0 || f.Delivered != uint64(len(okKeys)) {
				t.Errorf("flow %+v: want admitted = delivered (%d, the OK requests' items) + nacked", f, len(okKeys))
			}
			t.Logf("%d items OK, %d HTTP requests reset unseen, flow %+v", len(okKeys), unsent, f)
		})
	}
}

// TestConcurrencyLimit: with max_concurrent_requests 4 and a blocked sink,
// HTTP requests beyond the 4 held are refused at once with 503 and a retry
// hint; gRPC requests beyond 4 streams wait in the client (the limit is the
// connection's stream limit). After the release every held or queued
// request is acked, and only their data reaches the sink.
func TestConcurrencyLimit(t *testing.T) {
	const limit, perProtocol = 4, 7
	s := hangingSink(t)
	p := startPipe(t, strings.Replace(outcomeYAML(s.Addr(), "20s"), "timeout: 20s",
		fmt.Sprintf("timeout: 20s\n              max_concurrent_requests: %d", limit), 1), "grpc", "http")
	conn, hc := dialGRPC(t, p.grpcAddr), httpClient(t, p)
	ctx := callCtx(t)
	type reply struct {
		pl   payload
		grpc bool
		err  error
		http httpAnswer
	}
	answers := make(chan reply, 2*perProtocol)
	for i := range perProtocol {
		sig := signals[i%len(signals)]
		pg, ph := makePayload(sig, fmt.Sprintf("limit.grpc.%d", i), 4), makePayload(sig, fmt.Sprintf("limit.http.%d", i), 5)
		go func() { answers <- reply{pl: pg, grpc: true, err: pg.Export(ctx, conn)} }()
		go func() {
			a, err := postHTTP(ctx, hc, p.httpURL, ph, mediaProto, "")
			answers <- reply{pl: ph, err: err, http: a}
		}()
	}
	// The refusals come first: nothing else can answer while the sink hangs.
	for range perProtocol - limit {
		a := recv(t, answers, "an HTTP refusal")
		if a.grpc || a.err != nil || a.http.code != 503 || a.http.retryAfter == "" {
			t.Fatalf("first answer: grpc=%t %v %v, want HTTP 503 with Retry-After", a.grpc, a.err, a.http)
		}
	}
	s.Release()
	var want []string
	for range perProtocol + limit {
		a := recv(t, answers, "a client's answer")
		if a.err != nil || (!a.grpc && a.http.code != 200) {
			t.Errorf("grpc=%t: %v %v, want OK", a.grpc, a.err, a.http)
		}
		want = append(want, a.pl.Keys...)
	}
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	s.RequireExactly(t, want)
	n := uint64(len(want))
	p.requireFlow(t, n, n, 0)
}

// TestClientDeadlineGetsTheReceiversAnswer: a gRPC client whose deadline
// is shorter than the receiver's timeout still gets the receiver's verdict
// (UNAVAILABLE while the pipeline is full, DEADLINE_EXCEEDED with a reason
// once admitted) before its own deadline, never its own bare timeout: a
// request never just hangs.
func TestClientDeadlineGetsTheReceiversAnswer(t *testing.T) {
	s := hangingSink(t)
	p := startPipe(t, backpressureYAML(s.Addr()), "grpc")
	conn := dialGRPC(t, p.grpcAddr)
	type answer struct{ err error }
	answers := make(chan answer, 6)
	for i := range 6 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
			defer cancel()
			answers <- answer{makePayload(sigLogs, fmt.Sprintf("deadline%d", i), 3).Export(ctx, conn)}
		}()
	}
	for range 6 {
		a := recv(t, answers, "a client's answer")
		st := status.Convert(a.err)
		switch {
		case st.Code() == codes.Unavailable && strings.Contains(st.Message(), "pipeline full"):
		case st.Code() == codes.DeadlineExceeded && strings.Contains(st.Message(), "no outcome within"):
		default:
			t.Errorf("answer %v (%q): want the receiver's UNAVAILABLE or DEADLINE_EXCEEDED with its reason, before the client's own deadline", st.Code(), st.Message())
		}
	}
	s.Release()
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}
