package otlpgrpc_test

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds a test that would otherwise hang; nothing waits for it to pass.
const wait = 10 * time.Second

// recv receives one value from ch, or fails the test after wait.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within %s", what, wait)
		var zero T
		return zero
	}
}

// echoServer records every request and answers with a fixed response.
type echoServer struct {
	got  chan received
	resp otlpgrpc.Response
}

type received struct {
	signal pdata.Signal
	body   []byte
}

func (e *echoServer) Export(_ context.Context, s pdata.Signal, read func(*otlpgrpc.Request) error) (*otlpgrpc.Response, error) {
	var req otlpgrpc.Request
	if err := read(&req); err != nil {
		return nil, err
	}
	e.got <- received{s, req.Bytes()}
	return &e.resp, nil
}

// serve starts a raw OTLP server on loopback and returns a client
// connection to it; both are stopped by the test's cleanup.
func serve(t *testing.T, srv otlpgrpc.Server) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(otlpgrpc.ServerOptions(4<<20, otlpgrpc.Transport{})...)
	otlpgrpc.RegisterServer(gs, srv)
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), append(otlpgrpc.DialOptions(otlpgrpc.Transport{}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		gs.Stop()
		<-done
	})
	return conn
}

// TestServicesTakeGeneratedClients sends with the OpenTelemetry generated
// clients (the real protobuf codec) and checks that the raw server gets
// exactly the bytes those clients encode, for every signal.
func TestServicesTakeGeneratedClients(t *testing.T) {
	srv := &echoServer{got: make(chan received, 1)}
	conn := serve(t, srv)
	ctx := context.Background()

	logs := plogotlp.NewExportRequestFromLogs(pdatatest.LogsData("g", 10, 0, 16))
	wantLogs, _ := logs.MarshalProto()
	if _, err := plogotlp.NewGRPCClient(conn).Export(ctx, logs); err != nil {
		t.Fatal(err)
	}
	checkReceived(t, srv, pdata.Logs, wantLogs)

	metrics := pmetricotlp.NewExportRequestFromMetrics(pdatatest.MetricsData("g", 4))
	wantMetrics, _ := metrics.MarshalProto()
	if _, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, metrics); err != nil {
		t.Fatal(err)
	}
	checkReceived(t, srv, pdata.Metrics, wantMetrics)

	traces := ptraceotlp.NewExportRequestFromTraces(pdatatest.TracesData("g", 3))
	wantTraces, _ := traces.MarshalProto()
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, traces); err != nil {
		t.Fatal(err)
	}
	checkReceived(t, srv, pdata.Traces, wantTraces)
}

func checkReceived(t *testing.T, srv *echoServer, s pdata.Signal, want []byte) {
	t.Helper()
	got := recv(t, srv.got, "request")
	if got.signal != s || !bytes.Equal(got.body, want) {
		t.Fatalf("server got %s %d bytes, want %s %d bytes (equal %t)", got.signal, len(got.body), s, len(want), bytes.Equal(got.body, want))
	}
}

// TestClientSendsChunksAndReadsPartialSuccess sends a payload made of two
// chunks through the raw client, compressed each way, to a server that
// answers a partial success.
func TestClientSendsChunksAndReadsPartialSuccess(t *testing.T) {
	srv := &echoServer{
		got:  make(chan received, 1),
		resp: otlpgrpc.Response{Body: otlpgrpc.AppendPartialSuccess(nil, otlpgrpc.PartialSuccess{Rejected: 2, Message: "late"})},
	}
	conn := serve(t, srv)
	a, b := pdatatest.LogsBytes("a", 5, 0, 8), pdatatest.LogsBytes("b", 7, 0, 8)
	for _, comp := range []string{"", otlpgrpc.Gzip, otlpgrpc.Zstd} {
		t.Run("compression="+comp, func(t *testing.T) {
			var opts []grpc.CallOption
			if comp != "" {
				opts = append(opts, grpc.UseCompressor(comp))
			}
			client := otlpgrpc.NewClient(conn, opts...)
			var resp otlpgrpc.Response
			err := client.Export(context.Background(), pdata.Logs, &otlpgrpc.ExportRequest{Chunks: [][]byte{a, b}}, &resp)
			if err != nil {
				t.Fatal(err)
			}
			got := recv(t, srv.got, "request")
			if want := append(append([]byte(nil), a...), b...); !bytes.Equal(got.body, want) {
				t.Fatal("server did not get the concatenated chunks")
			}
			p, err := pdata.FromOTLP(pdata.Logs, got.body)
			if err != nil || p.Items() != 12 {
				t.Fatalf("concatenation is not one request of 12 items: %v", err)
			}
			ps, err := otlpgrpc.ParsePartialSuccess(resp.Body)
			if err != nil || ps.Rejected != 2 || ps.Message != "late" {
				t.Fatalf("partial success %+v, %v", ps, err)
			}
		})
	}
}

func TestFullMethod(t *testing.T) {
	for s, want := range map[pdata.Signal]string{
		pdata.Logs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
		pdata.Metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
		pdata.Traces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	} {
		if got := otlpgrpc.FullMethod(s); got != want {
			t.Errorf("%s: %s, want %s", s, got, want)
		}
	}
}
