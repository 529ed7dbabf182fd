package otlp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/internal/otlptest"
	"github.com/ackflow/ackflow/nodes/receivers/otlp"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// pending starts one gRPC and one HTTP request and returns their answers
// and the two messages they put into the pipeline.
func pending(t *testing.T, f *fixture) (<-chan error, <-chan httpResult, []*pdata.Message) {
	t.Helper()
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("d", 2, 0, 8))
	client := plogotlp.NewGRPCClient(f.grpcConn())
	grpcAnswer := async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
	first := f.next()
	httpAnswer := f.post("/v1/logs", "application/x-protobuf", "", pdatatest.LogsBytes("d", 2, 0, 8))
	return grpcAnswer, httpAnswer, []*pdata.Message{first, f.next()}
}

func TestDrainResolvesRequestsInFlight(t *testing.T) {
	f := start(t, both)
	grpcAnswer, httpAnswer, msgs := pending(t, f)
	f.cancel() // the drain starts: listeners close, requests in flight wait on
	select {
	case err := <-f.done:
		t.Fatalf("Run returned with requests in flight: %v", err)
	default:
	}
	for _, m := range msgs {
		f.resolve(m, true, pdata.Nack{})
	}
	if err := otlptest.Recv(t, grpcAnswer, "gRPC answer"); err != nil {
		t.Fatalf("gRPC request in flight at drain: %v", err)
	}
	if res := otlptest.Recv(t, httpAnswer, "HTTP answer"); res.status != http.StatusOK {
		t.Fatalf("HTTP request in flight at drain: %d %v", res.status, res.err)
	}
	if err := f.waitRun(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestAbortAnswersUnavailable(t *testing.T) {
	f := start(t, both)
	grpcAnswer, httpAnswer, msgs := pending(t, f)
	f.cancel()
	f.abort() // the shutdown deadline: nothing resolves the requests
	if err := f.waitRun(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := status.Convert(otlptest.Recv(t, grpcAnswer, "gRPC answer")); st.Code() != codes.Unavailable {
		t.Fatalf("gRPC answer at the deadline: %s %q, want Unavailable", st.Code(), st.Message())
	}
	res := otlptest.Recv(t, httpAnswer, "HTTP answer")
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Fatalf("HTTP answer at the deadline: %d %v, want 503 with Retry-After", res.status, res.err)
	}
	for _, m := range msgs {
		f.resolve(m, true, pdata.Nack{}) // too late: counted, ignored
	}
	if got := f.counter("ackflow_receiver_otlp_late_outcomes_total"); got != 2 {
		t.Fatalf("late outcomes %v, want 2", got)
	}
}

func TestConcurrencyLimitRefusesBeforeReading(t *testing.T) {
	f := start(t, both+"max_concurrent_requests: 1\n")
	grpcAnswer, httpAnswer, msgs := pending(t, f) // each protocol at its limit
	// Another connection: on the first one grpc-go's client would queue the
	// call itself (the server allows one stream per connection at this limit).
	other, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = plogotlp.NewGRPCClient(other).Export(context.Background(), plogotlp.NewExportRequest())
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "too many concurrent") {
		t.Fatalf("gRPC over the limit: %s %q", st.Code(), st.Message())
	}
	res := otlptest.Recv(t, f.post("/v1/logs", "application/x-protobuf", "", nil), "answer")
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") != "1" {
		t.Fatalf("HTTP over the limit: %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
	for _, m := range msgs {
		f.resolve(m, true, pdata.Nack{})
	}
	if err := otlptest.Recv(t, grpcAnswer, "answer"); err != nil {
		t.Fatal(err)
	}
	if res := otlptest.Recv(t, httpAnswer, "answer"); res.status != http.StatusOK {
		t.Fatalf("%d", res.status)
	}
	if got := f.counter("ackflow_receiver_otlp_requests_total", "outcome", "busy"); got != 2 {
		t.Fatalf("busy requests %v, want 2", got)
	}
}

func TestMutualTLS(t *testing.T) {
	certs := otlptest.NewCerts(t)
	f := start(t, both+"tls:\n  cert_file: "+certs.ServerCert+"\n  key_file: "+certs.ServerKey+"\n  client_ca_file: "+certs.CAFile+"\n")
	pem, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	clientCert, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}

	conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(withCert)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("tls", 1, 0, 8))
	answer := async(func(ctx context.Context) error { _, err := plogotlp.NewGRPCClient(conn).Export(ctx, req); return err })
	f.resolve(f.next(), true, pdata.Nack{})
	if err := otlptest.Recv(t, answer, "answer"); err != nil {
		t.Fatalf("gRPC with a client certificate: %v", err)
	}

	f.client = &http.Client{Transport: &http.Transport{TLSClientConfig: withCert, ForceAttemptHTTP2: true}}
	body := pdatatest.LogsBytes("tls", 1, 0, 8)
	req2, _ := http.NewRequest(http.MethodPost, "https://"+f.httpAddr+"/v1/logs", strings.NewReader(string(body)))
	req2.Header.Set("Content-Type", "application/x-protobuf")
	httpAnswer := f.do(req2)
	f.resolve(f.next(), true, pdata.Nack{})
	if res := otlptest.Recv(t, httpAnswer, "answer"); res.status != http.StatusOK {
		t.Fatalf("HTTPS with a client certificate: %d %v", res.status, res.err)
	}

	// Without a client certificate the handshake fails.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer noCert.CloseIdleConnections()
	req3, _ := http.NewRequest(http.MethodPost, "https://"+f.httpAddr+"/v1/logs", strings.NewReader(string(body)))
	if resp, err := noCert.Do(req3); err == nil {
		resp.Body.Close()
		t.Fatal("HTTPS without a client certificate was accepted")
	}
	f.noneSent()
}

func TestRunFailsWhenTheAddressIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	n, err := nodetest.NodeConfig(otlp.Type, "protocols:\n  grpc:\n    listening_addr: 127.0.0.1:0\n  http:\n    listening_addr: "+taken.Addr().String()+"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	fx := newFakeFx()
	rcv, err := otlp.NewFactory().NewReceiver(engine.NodeContext{Node: n, Clock: fx.clock})
	if err != nil {
		t.Fatal(err)
	}
	err = rcv.Run(context.Background(), fx)
	if err == nil || !strings.Contains(err.Error(), "http") {
		t.Fatalf("Run on a taken address: %v", err)
	}
}

func TestBadCertificateFailsAtBuild(t *testing.T) {
	n, err := nodetest.NodeConfig(otlp.Type, grpcOnly+"tls:\n  cert_file: /nonexistent/cert.pem\n  key_file: /nonexistent/key.pem\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = otlp.NewFactory().NewReceiver(engine.NodeContext{Node: n, Clock: newFakeFx().clock})
	if err == nil || !strings.Contains(err.Error(), "cert_file") {
		t.Fatalf("build with a missing certificate: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // each must appear; nil: valid
	}{
		{"grpc only", grpcOnly, nil},
		{"both with overrides", "timeout: 10s\nprotocols:\n  grpc:\n    listening_addr: 127.0.0.1:4317\n    wait_for_result: false\n    timeout: 1s\n  http:\n    listening_addr: 127.0.0.1:4318\n    max_request_size: 8MiB\n", nil},
		{"compression as a list", grpcOnly + "request_compression: [zstd, gzip]\n", nil},
		{"no compression", grpcOnly + "request_compression: []\n", nil},
		{"no protocol", "timeout: 5s\n", []string{"protocols", "enable at least one protocol"}},
		{"missing address", "protocols:\n  grpc: {}\n", []string{"protocols.grpc.listening_addr", "listening_addr is required"}},
		{"bad address", "protocols:\n  http:\n    listening_addr: localhost\n", []string{"protocols.http.listening_addr", "host:port"}},
		{"bad port", "protocols:\n  http:\n    listening_addr: 127.0.0.1:99999\n", []string{"invalid port"}},
		{"same port", "protocols:\n  grpc:\n    listening_addr: 0.0.0.0:4317\n  http:\n    listening_addr: 127.0.0.1:4317\n", []string{"conflicts"}},
		{"negative timeout", grpcOnly + "timeout: -1s\n", []string{"config.timeout", "positive"}},
		{"negative limit", grpcOnly + "max_concurrent_requests: -1\n", []string{"max_concurrent_requests"}},
		{"zero size", grpcOnly + "max_request_size: 0\n", []string{"max_request_size"}},
		{"unknown compression", grpcOnly + "request_compression: [gzip, deflate]\n", []string{"request_compression[1]", "deflate"}},
		{"tls without key", grpcOnly + "tls:\n  cert_file: a.pem\n", []string{"tls.key_file", "required"}},
		{"unknown key", grpcOnly + "wait_for_results: true\n", []string{"wait_for_results"}},
		{"per-protocol override checked", "protocols:\n  grpc:\n    listening_addr: 127.0.0.1:0\n    timeout: 0s\n", []string{"protocols.grpc.timeout"}},
		{"grpc transport", "protocols:\n  grpc:\n    listening_addr: 127.0.0.1:0\n    transport: {read_buffer_size: 1MiB, write_buffer_size: 1MiB, initial_stream_window: 64KiB, initial_connection_window: 8MiB}\n", nil},
		{"window below 64 KiB", "protocols:\n  grpc:\n    listening_addr: 127.0.0.1:0\n    transport: {initial_stream_window: 16KiB}\n", []string{"protocols.grpc.transport.initial_stream_window", "out of range"}},
		{"transport on http", "protocols:\n  http:\n    listening_addr: 127.0.0.1:0\n    transport: {read_buffer_size: 1MiB}\n", []string{"protocols.http.transport", "gRPC connections only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := otlptest.RequireConfig(t, otlp.NewFactory(), "in", tt.yaml, tt.wantErr...)
			if err != nil && len(config.Errors(err)) == 0 && !errors.Is(err, config.ErrUnknownField) {
				t.Fatalf("error is not a config error: %v", err)
			}
		})
	}
}

// TestInFlightBytesBoundRefusesRetryably: with the byte budget taken by a
// request awaiting its outcome, the next one (any protocol) is refused
// UNAVAILABLE / 503 at once; once the first is answered, requests are
// admitted again.
func TestInFlightBytesBoundRefusesRetryably(t *testing.T) {
	f := start(t, both+"max_in_flight_bytes: 10\n") // smaller than any request
	client := plogotlp.NewGRPCClient(f.grpcConn())
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("b", 2, 0, 8))
	first := async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
	m := f.next() // admitted although larger than the budget: nothing else is held
	_, err := client.Export(context.Background(), req)
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "max_in_flight_bytes") {
		t.Fatalf("gRPC over the byte budget: %s %q", st.Code(), st.Message())
	}
	res := otlptest.Recv(t, f.post("/v1/logs", "application/x-protobuf", "", pdatatest.LogsBytes("b", 2, 0, 8)), "answer")
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Fatalf("HTTP over the byte budget: %d, Retry-After %q", res.status, res.header.Get("Retry-After"))
	}
	f.noneSent()
	f.resolve(m, true, pdata.Nack{})
	if err := otlptest.Recv(t, first, "answer"); err != nil {
		t.Fatal(err)
	}
	again := async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
	f.resolve(f.next(), true, pdata.Nack{})
	if err := otlptest.Recv(t, again, "answer"); err != nil {
		t.Fatalf("after the budget freed: %v", err)
	}
}

// TestInFlightBytesHeldUntilTheOutcome: a client that got its timeout does
// not free the bytes; its data is still in the pipeline until the outcome.
func TestInFlightBytesHeldUntilTheOutcome(t *testing.T) {
	f := start(t, both+"max_in_flight_bytes: 10\ntimeout: 5s\n")
	client := plogotlp.NewGRPCClient(f.grpcConn())
	req := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("h", 2, 0, 8))
	first := async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
	m := f.next()
	f.fx.clock.WaitTimers(1)
	f.fx.clock.Advance(5 * time.Second)
	if err := otlptest.Recv(t, first, "answer"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("first request: %v, want DEADLINE_EXCEEDED", err)
	}
	_, err := client.Export(context.Background(), req)
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "max_in_flight_bytes") {
		t.Fatalf("while the first request's data is in the pipeline: %s %q, want refused", st.Code(), st.Message())
	}
	f.resolve(m, true, pdata.Nack{}) // the data left the pipeline
	again := async(func(ctx context.Context) error { _, err := client.Export(ctx, req); return err })
	f.resolve(f.next(), true, pdata.Nack{})
	if err := otlptest.Recv(t, again, "answer"); err != nil {
		t.Fatalf("after the outcome: %v", err)
	}
}
