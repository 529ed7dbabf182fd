package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// Helpers for the tests that send OTLP to the built binary's receiver.

// otlpConfig is a pipeline with an OTLP receiver on both protocols (on
// free loopback ports), a processor that decodes every message
// (processor:debug at verbosity normal counts resources and scopes), and an
// exporter that acks everything.
const otlpConfig = `
version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
groups:
  g:
    pipelines:
      p:
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          dbg: { type: processor:debug, config: { verbosity: normal } }
          out: { type: exporter:noop }
        connections:
          - { from: in, to: dbg }
          - { from: dbg, to: out }
`

// otlpProcess is a running ackflow with its OTLP receiver's addresses.
type otlpProcess struct {
	*process
	admin, grpcAddr, httpAddr string
}

// startOTLP runs the binary with otlpConfig and waits for both listeners.
func startOTLP(t *testing.T) *otlpProcess {
	t.Helper()
	p, admin := started(t, writeConfig(t, otlpConfig))
	re := regexp.MustCompile(`otlp receiver listening.* protocol=(grpc|http) addr=([0-9.:]+)`)
	o := &otlpProcess{process: p, admin: admin}
	deadline := time.Now().Add(30 * time.Second)
	for o.grpcAddr == "" || o.httpAddr == "" {
		for _, m := range re.FindAllStringSubmatch(p.String(), -1) {
			if m[1] == "grpc" {
				o.grpcAddr = m[2]
			} else {
				o.httpAddr = m[2]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver did not log its listeners:\n%s", p)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return o
}

// rawGRPC sends one message to the Export method of service over h2c,
// without grpc-go (whose clients compress by themselves): with enc set the
// message is sent as it is, flagged compressed with grpc-encoding enc. It
// returns the gRPC status the receiver answered.
func rawGRPC(t *testing.T, addr, service, enc string, msg []byte) (codes.Code, string) {
	t.Helper()
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	frame := make([]byte, 5, 5+len(msg))
	if enc != "" {
		frame[0] = 1
	}
	n := len(msg) // big-endian length (encoding/binary's name is taken here)
	frame[1], frame[2], frame[3], frame[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	frame = append(frame, msg...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/opentelemetry.proto.collector."+service+"/Export", bytes.NewReader(frame))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	if enc != "" {
		req.Header.Set("Grpc-Encoding", enc)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("gRPC %s: %v", service, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	st, m := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if st == "" { // a trailers-only answer
		st, m = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	code, err := strconv.Atoi(st)
	if err != nil {
		t.Fatalf("gRPC %s: no grpc-status in the answer (HTTP %d)", service, resp.StatusCode)
	}
	return codes.Code(code), m
}

// Services, as rawGRPC takes them.
const (
	logsService    = "logs.v1.LogsService"
	metricsService = "metrics.v1.MetricsService"
	tracesService  = "trace.v1.TraceService"
)

// postOTLP posts body to path of the receiver's HTTP listener and returns
// the status code and the answer.
func postOTLP(t *testing.T, addr, path, contentType, enc string, body []byte) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// requireServing checks that the process is alive and still serves normal
// clients: the OpenTelemetry generated gRPC client, and OTLP/HTTP protobuf
// and JSON.
func (o *otlpProcess) requireServing(t *testing.T) {
	t.Helper()
	get(t, o.admin+"/livez", http.StatusOK)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("still here")
	req := plogotlp.NewExportRequestFromLogs(ld)
	cc, err := grpc.NewClient(o.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := plogotlp.NewGRPCClient(cc).Export(ctx, req); err != nil {
		t.Fatalf("a normal gRPC client after the hostile request: %v\n%s", err, o.process)
	}
	pb, _ := req.MarshalProto()
	if code, body := postOTLP(t, o.httpAddr, "/v1/logs", "application/x-protobuf", "", pb); code != http.StatusOK {
		t.Fatalf("a normal HTTP protobuf client after the hostile request: %d %q", code, body)
	}
	js, _ := req.MarshalJSON()
	if code, body := postOTLP(t, o.httpAddr, "/v1/logs", "application/json", "", js); code != http.StatusOK {
		t.Fatalf("a normal HTTP JSON client after the hostile request: %d %q", code, body)
	}
}

// requireAlive fails the test if the process died or crashed: its admin
// server must answer and its log must hold no fatal error or panic.
func (o *otlpProcess) requireAlive(t *testing.T) {
	t.Helper()
	resp, err := http.Get(o.admin + "/livez")
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ackflow is not alive (%v):\n%.4000s", err, o.process)
	}
	if logs := o.process.String(); regexp.MustCompile(`(?m)^(fatal error|panic):`).MatchString(logs) {
		t.Fatalf("ackflow crashed:\n%.4000s", logs)
	}
}
