package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/internal/testsink"
)

// outcomeYAML is receiver:otlp with the given timeout → processor:batch →
// exporter:otlp_grpc to sinkAddr.
func outcomeYAML(sinkAddr, timeout string) string {
	return yamlDoc("", fmt.Sprintf(`
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
              timeout: %s
          batch:
            type: processor:batch
            config: { max_batch_duration: 10ms }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "http://%s" }
        connections:
          - { from: in, to: batch }
          - { from: batch, to: out }
`, timeout, sinkAddr))
}

func hasRetryInfo(err error) bool {
	for _, d := range status.Convert(err).Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return true
		}
	}
	return false
}

// want is the answer a client must get.
type want struct {
	code  codes.Code // gRPC
	http  int        // HTTP status
	retry bool       // RetryInfo / Retry-After present
}

// sendAll sends one request per signal over gRPC, HTTP protobuf and HTTP
// JSON, concurrently, and checks every answer against w. It returns the
// keys of the items sent.
func sendAll(t *testing.T, p *pipe, tag string, w want) []string {
	t.Helper()
	conn := dialGRPC(t, p.grpcAddr)
	hc := httpClient(t, p)
	ctx := callCtx(t)
	var sent []string
	var wg sync.WaitGroup
	for _, sig := range signals {
		pg := makePayload(sig, tag+".grpc."+sig, 5)
		sent = append(sent, pg.Keys...)
		wg.Go(func() {
			err := pg.Export(ctx, conn)
			if got := status.Code(err); got != w.code {
				t.Errorf("gRPC %s: code %v (%v), want %v", sig, got, err, w.code)
			} else if w.code != codes.OK && hasRetryInfo(err) != w.retry {
				t.Errorf("gRPC %s: RetryInfo present = %t, want %t (%v)", sig, hasRetryInfo(err), w.retry, err)
			}
		})
		for _, media := range []string{mediaProto, mediaJSON} {
			ph := makePayload(sig, tag+".http."+media+"."+sig, 6)
			sent = append(sent, ph.Keys...)
			wg.Go(func() {
				a, err := postHTTP(ctx, hc, p.httpURL, ph, media, "")
				switch {
				case err != nil:
					t.Errorf("HTTP %s %s: %v", media, sig, err)
				case a.code != w.http:
					t.Errorf("HTTP %s %s: %v, want status %d", media, sig, a, w.http)
				case (a.retryAfter != "") != w.retry:
					t.Errorf("HTTP %s %s: %v, want Retry-After present = %t", media, sig, a, w.retry)
				case a.media != media:
					t.Errorf("HTTP %s %s: answer in %q, want the request's media type", media, sig, a.media)
				}
			})
		}
	}
	wg.Wait()
	return sent
}

// TestOutcomeMapping checks each answer of the sink (and its silence) as
// the client sees it, over gRPC and HTTP, for every signal.
func TestOutcomeMapping(t *testing.T) {
	hang := func(testsink.Call) testsink.Verdict { return testsink.Verdict{Code: codes.OK, Hang: true} }
	rows := []struct {
		name    string
		decide  func(testsink.Call) testsink.Verdict
		timeout string
		want    want
	}{
		{"sink unavailable", testsink.Answer(codes.Unavailable), "10s", want{codes.Unavailable, 503, true}},
		{"sink invalid argument", testsink.Answer(codes.InvalidArgument), "10s", want{codes.InvalidArgument, 400, false}},
		{"sink hangs past the receiver timeout", hang, "300ms", want{codes.DeadlineExceeded, 504, false}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			s := newSink(t, row.decide)
			p := startPipe(t, outcomeYAML(s.Addr(), row.timeout), "grpc", "http")
			sent := sendAll(t, p, "outcome", row.want)
			n := uint64(len(sent))
			if row.decide(testsink.Call{}).Hang {
				// The receiver gave up waiting; the data is still on its
				// way. Once the sink answers, it is delivered.
				if ok := s.Stats().OKCalls; ok != 0 {
					t.Errorf("sink accepted %d calls before it was released", ok)
				}
				s.Release()
				waitFor(t, "the late acks", func() bool { f := p.flow(); return f.Delivered == n })
				if err := p.shutdown(drainDeadline); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
				s.RequireExactly(t, sent)
				p.requireFlow(t, n, n, 0)
				return
			}
			if err := p.shutdown(drainDeadline); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			s.RequireExactly(t, nil)
			p.requireFlow(t, n, 0, n)
		})
	}
}

// rawCodec sends and receives bytes as they are, so that a test can send
// a gRPC request that is not valid protobuf.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

var grpcMethods = map[string]string{
	sigLogs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
	sigMetrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	sigTraces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}

// TestMalformedRequestsNeverReachTheSink sends broken requests of every
// signal over gRPC and HTTP: each is answered INVALID_ARGUMENT / 400,
// nothing is admitted or forwarded, and the pipeline keeps working.
func TestMalformedRequestsNeverReachTheSink(t *testing.T) {
	s := newSink(t, nil)
	p := startPipe(t, outcomeYAML(s.Addr(), "10s"), "grpc", "http")
	conn := dialGRPC(t, p.grpcAddr)
	hc := httpClient(t, p)
	ctx := callCtx(t)

	for _, sig := range signals {
		good := makePayload(sig, "malformed."+sig, 6).Proto()
		bodies := map[string][]byte{
			"truncated":  good[:len(good)-3],
			"bad varint": {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
			"overlong":   append([]byte{0x0a, 0x7f}, bytes.Repeat([]byte{0x12}, 10)...),
			"field zero": {0x02, 0x00},
		}
		for name, body := range bodies {
			var out []byte
			err := conn.Invoke(ctx, grpcMethods[sig], &body, &out, grpc.ForceCodec(rawCodec{}))
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("gRPC %s %s: %v, want InvalidArgument", sig, name, err)
			}
			a, err := postRaw(ctx, hc, p.httpURL, sig, mediaProto, "", body)
			if err != nil || a.code != http.StatusBadRequest {
				t.Errorf("HTTP %s %s: %v %v, want 400", sig, name, a, err)
			}
		}
		for name, body := range map[string][]byte{
			"invalid JSON":   []byte(`{"resourceLogs": [`),
			"JSON not OTLP":  []byte(`[1, 2, 3]`),
			"gzip that isnt": []byte("plain bytes"),
		} {
			media, enc := mediaJSON, ""
			if name == "gzip that isnt" {
				media = mediaProto
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.httpURL+"/v1/"+sig, bytes.NewReader(body))
			req.Header.Set("Content-Type", media)
			if name == "gzip that isnt" {
				enc = "gzip"
				req.Header.Set("Content-Encoding", enc)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Errorf("HTTP %s %s: %v", sig, name, err)
				continue
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("HTTP %s %s: status %d, want 400", sig, name, resp.StatusCode)
			}
		}
	}
	if f := p.flow(); f.Admitted != 0 {
		t.Errorf("malformed requests were admitted: %+v", f)
	}
	if c := s.Stats().Calls; c != 0 {
		t.Errorf("sink got %d calls from malformed requests", c)
	}

	// The pipeline is unharmed: a good request goes through.
	pl := makePayload(sigLogs, "after-malformed", 4)
	if err := pl.Export(ctx, conn); err != nil {
		t.Fatalf("good request after malformed ones: %v", err)
	}
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	s.RequireExactly(t, pl.Keys)
	p.requireFlow(t, 4, 4, 0)
}

// TestClientGivesUp: clients that stop waiting (their deadline passes while
// the sink hangs) leave nothing behind: the receiver counts them as
// canceled, the data is delivered once the sink answers, and the
// accounting balances.
func TestClientGivesUp(t *testing.T) {
	s := hangingSink(t)
	p := startPipe(t, outcomeYAML(s.Addr(), "10s"), "grpc", "http")
	conn, hc := dialGRPC(t, p.grpcAddr), httpClient(t, p)
	var sent []string
	var wg sync.WaitGroup
	for _, sig := range signals {
		pg, ph := makePayload(sig, "gives-up.grpc."+sig, 5), makePayload(sig, "gives-up.http."+sig, 6)
		sent = append(sent, pg.Keys...)
		sent = append(sent, ph.Keys...)
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		wg.Go(func() {
			if err := pg.Export(ctx, conn); status.Code(err) != codes.Canceled {
				t.Errorf("gRPC %s: %v, want Canceled", sig, err)
			}
		})
		wg.Go(func() {
			if a, err := postHTTP(ctx, hc, p.httpURL, ph, mediaProto, ""); !errors.Is(err, context.Canceled) {
				t.Errorf("HTTP %s: %v %v, want the client's context.Canceled", sig, a, err)
			}
		})
		keys := append(append([]string(nil), pg.Keys...), ph.Keys...)
		waitFor(t, "the requests to reach the sink", func() bool { return s.AllArrived(keys) })
		cancel()
	}
	wg.Wait()
	waitFor(t, "the receiver to count the canceled requests", func() bool {
		return p.metric("ackflow_receiver_otlp_requests_total", "outcome", "canceled") == float64(2*len(signals))
	})
	s.Release()
	n := uint64(len(sent))
	waitFor(t, "the data to be delivered", func() bool { return p.flow().Delivered == n })
	if err := p.shutdown(drainDeadline); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	s.RequireExactly(t, sent)
	p.requireFlow(t, n, n, 0)
	if late := p.metric("ackflow_receiver_otlp_late_outcomes_total"); late != float64(2*len(signals)) {
		t.Errorf("late_outcomes_total = %v, want %d (one ack per canceled request)", late, 2*len(signals))
	}
}
