package main

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/internal/testsink"
)

// otapHopConfig is two pipelines in one process: OTLP in, sent over OTAP
// to the second pipeline's receiver:otap, which exports OTLP to the sink.
// Every answer crosses the OTAP hop both ways.
func otapHopConfig(otapAddr, sink string) string {
	return fmt.Sprintf(`
version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
groups:
  g:
    pipelines:
      edge:
        nodes:
          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          arrow:
            type: exporter:otap
            config: { grpc_endpoint: "http://%[1]s", timeout: 20s }
        connections:
          - { from: in, to: arrow }
      gateway:
        nodes:
          otap_in:
            type: receiver:otap
            config: { listening_addr: "%[1]s" }
          out:
            type: exporter:otlp_grpc
            config: { grpc_endpoint: "%[2]s", timeout: 10s }
        connections:
          - { from: otap_in, to: out }
`, otapAddr, sink)
}

// freeAddr returns a loopback address nobody listens on (the OTAP hop's
// exporter must know its receiver's port before the process starts).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// OTLP → exporter:otap → receiver:otap → OTLP: every item of every signal
// arrives, and the sink's refusals reach the OTLP client with their class.
func TestOTAPHopEndToEnd(t *testing.T) {
	requireComponent(t, "receiver:otap")
	sink := testsink.New(t)
	o := startHostile(t, otapHopConfig(freeAddr(t), sink.Endpoint()), 0)
	cc, err := grpc.NewClient(o.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var keys []string
	for i, sig := range []string{testsink.SignalLogs, testsink.SignalMetrics, testsink.SignalTraces} {
		for j := range 3 {
			req := testsink.NewRequest(sig, fmt.Sprintf("otap-%d-%d", i, j), 20+j)
			if err := req.Export(ctx, cc); err != nil {
				t.Fatalf("%s request %d through the OTAP hop: %v\n%s", sig, j, err, o.process)
			}
			keys = append(keys, req.Keys...)
		}
	}
	sink.RequireExactly(t, keys)

	for _, tc := range []struct {
		mode testsink.Mode
		want codes.Code
	}{
		{testsink.Permanent, codes.InvalidArgument},
		{testsink.Transient, codes.Unavailable},
	} {
		sink.SetMode(tc.mode)
		req := testsink.NewRequest(testsink.SignalLogs, "refused-"+tc.mode.String(), 8)
		err := req.Export(ctx, cc)
		if status.Code(err) != tc.want {
			t.Errorf("sink in mode %s: the OTLP client got %v, want %s", tc.mode, err, tc.want)
		}
	}
	sink.SetMode(testsink.OK)
	o.requireAlive(t)
}
