package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/internal/testsink"
)

// retryYAML is receiver:otlp → processor:retry (10ms, at most 5 retries)
// → exporter:otlp_grpc to sinkAddr.
func retryYAML(sinkAddr string) string {
	return yamlDoc("", fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          retry:
            type: processor:retry
            config:
              initial_interval: 10ms
              max_interval: 20ms
              multiplier: 1.5
              randomization_factor: 0.2
              max_retries: 5
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s" }
        connections:
          - { from: in, to: retry }
          - { from: retry, to: out }
`, sinkAddr))
}

// retryRequests sends, concurrently, one request per signal over gRPC and
// one per signal over HTTP (protobuf for logs and metrics, JSON for traces).
// check gets each client's outcome: a gRPC error or an HTTP status. It
// returns the payloads sent.
func retryRequests(t *testing.T, p *pipe, check func(name string, grpcErr error, httpStatus int)) []payload {
	t.Helper()
	conn := dialGRPC(t, p.grpcAddr)
	hc := httpClient(t, p)
	ctx := callCtx(t)
	var sent []payload
	var wg sync.WaitGroup
	for _, sig := range signals {
		pg := makePayload(sig, "retry.grpc."+sig, 5)
		ph := makePayload(sig, "retry.http."+sig, 7)
		sent = append(sent, pg, ph)
		media := mediaProto
		if sig == sigTraces {
			media = mediaJSON
		}
		wg.Go(func() { check("gRPC "+sig, pg.Export(ctx, conn), 0) })
		wg.Go(func() {
			a, err := postHTTP(ctx, hc, p.httpURL, ph, media, "")
			if err != nil {
				t.Errorf("HTTP %s: %v", sig, err)
				return
			}
			check("HTTP "+sig, nil, a.code)
		})
	}
	wg.Wait()
	return sent
}

func allKeys(ps []payload) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Keys...)
	}
	return out
}

// TestRetryRecoversFromTransientFailures: the sink fails the first 3 calls
// of every request with UNAVAILABLE, then accepts. Each client gets OK,
// each request reached the sink 4 times and was accepted once.
func TestRetryRecoversFromTransientFailures(t *testing.T) {
	const failures = 3
	s := newSink(t, func(c testsink.Call) testsink.Verdict {
		if c.Tries < failures {
			return testsink.Verdict{Code: codes.Unavailable}
		}
		return testsink.Verdict{Code: codes.OK}
	})
	p := startPipe(t, retryYAML(s.Addr()), "grpc", "http")
	sent := retryRequests(t, p, func(name string, err error, code int) {
		if err != nil || (code != 0 && code != 200) {
			t.Errorf("%s: %v / HTTP %d, want OK", name, err, code)
		}
	})
	for _, pl := range sent {
		if got := s.Tries(pl.Keys[0]); got != failures+1 {
			t.Errorf("request %s reached the sink %d times, want %d", pl.Keys[0], got, failures+1)
		}
	}
	s.RequireExactly(t, allKeys(sent))
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	n := uint64(len(allKeys(sent)))
	p.requireFlow(t, n, n, 0)
}

// TestRetryPermanentFailureIsNotRetried: a sink answering INVALID_ARGUMENT
// sees each request once, and the client gets INVALID_ARGUMENT / 400.
func TestRetryPermanentFailureIsNotRetried(t *testing.T) {
	s := newSink(t, testsink.Answer(codes.InvalidArgument))
	p := startPipe(t, retryYAML(s.Addr()), "grpc", "http")
	sent := retryRequests(t, p, func(name string, err error, code int) {
		if status.Code(err) != codes.InvalidArgument && code != 400 {
			t.Errorf("%s: %v / HTTP %d, want InvalidArgument / 400", name, err, code)
		}
	})
	// After the drain nothing can be sent any more: the counts are final.
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, pl := range sent {
		if got := s.Tries(pl.Keys[0]); got != 1 {
			t.Errorf("request %s reached the sink %d times, want once (no retry of a permanent failure)", pl.Keys[0], got)
		}
	}
	s.RequireExactly(t, nil)
	n := uint64(len(allKeys(sent)))
	p.requireFlow(t, n, 0, n)
}

// TestRetryGivesUpAfterMaxRetries: a sink that is always UNAVAILABLE sees
// each request 1 + max_retries times; the client gets UNAVAILABLE / 503.
func TestRetryGivesUpAfterMaxRetries(t *testing.T) {
	s := newSink(t, testsink.Answer(codes.Unavailable))
	p := startPipe(t, retryYAML(s.Addr()), "grpc", "http")
	sent := retryRequests(t, p, func(name string, err error, code int) {
		if status.Code(err) != codes.Unavailable && code != 503 {
			t.Errorf("%s: %v / HTTP %d, want Unavailable / 503", name, err, code)
		}
	})
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	for _, pl := range sent {
		if got := s.Tries(pl.Keys[0]); got != 6 {
			t.Errorf("request %s reached the sink %d times, want 6 (1 + max_retries 5)", pl.Keys[0], got)
		}
	}
	n := uint64(len(allKeys(sent)))
	p.requireFlow(t, n, 0, n)
}

// TestRetryWaitingAtShutdownIsAnswered: data waiting for a retry a minute
// away when Shutdown starts is sent once more (the sink is still down) and
// its client answered UNAVAILABLE / 503; the drain does not wait for the
// backoff and ends clean.
func TestRetryWaitingAtShutdownIsAnswered(t *testing.T) {
	s := newSink(t, testsink.Answer(codes.Unavailable))
	yaml := strings.NewReplacer("initial_interval: 10ms", "initial_interval: 1m",
		"max_interval: 20ms", "max_interval: 1m").Replace(retryYAML(s.Addr()))
	p := startPipe(t, yaml, "grpc", "http")
	sent, outcomes := launch(t, p, dialGRPC(t, p.grpcAddr), httpClient(t, p), "retry-shutdown", 5)
	keys := allKeys(sent)
	waitFor(t, "every request to fail once", func() bool { return s.AllArrived(keys) })
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v, want a clean drain", err)
	}
	for range 2 * len(signals) {
		if o := recv(t, outcomes, "a client's answer"); !o.is(codes.Unavailable, 503) {
			t.Errorf("%v, want Unavailable / 503", o)
		}
	}
	for _, pl := range sent {
		if got := s.Tries(pl.Keys[0]); got < 1 || got > 2 {
			t.Errorf("request %s reached the sink %d times, want 1 or 2 (at most one resend at shutdown)", pl.Keys[0], got)
		}
	}
	n := uint64(len(keys))
	p.requireFlow(t, n, 0, n)
}
