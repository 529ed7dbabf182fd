package main

import (
	"net"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ackflow/ackflow/loadgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serveOTAP starts the OTAP sink on a free loopback port.
func serveOTAP(t *testing.T) (*otapSink, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &otapSink{}
	gs := s.server()
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return s, lis.Addr().String()
}

// The OTAP load generator against the OTAP sink: every batch decodes and
// is counted, its items, its protobuf bytes and its bytes on the wire
// (compressed by gRPC, so fewer than the messages' own with zstd).
func TestOTAPSinkCountsWhatTheLoadGeneratorSends(t *testing.T) {
	for _, sig := range []loadgen.Signal{loadgen.Logs, loadgen.Metrics, loadgen.Traces} {
		for _, comp := range []loadgen.Compression{loadgen.NoCompression, loadgen.Zstd} {
			t.Run(string(sig)+"/"+string(comp), func(t *testing.T) {
				s, addr := serveOTAP(t)
				cfg := loadgen.DefaultConfig()
				cfg.Endpoint, cfg.Protocol, cfg.Signal, cfg.Compression = addr, loadgen.OTAP, sig, comp
				cfg.Workers, cfg.Items, cfg.Pool, cfg.Duration, cfg.Requests = 3, 100, 3, 0, 12
				rep, err := loadgen.Run(t.Context(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				tot := s.totals()
				if rep.OK != 12 || tot.Requests != 12 || tot.Errors != 0 || tot.Items != 1200 {
					t.Fatalf("loadgen ok %d (errors %v); sink %+v; want 12 batches of 100 items, all decoded", rep.OK, rep.ErrorsByStatus, tot)
				}
				if float64(tot.Bytes) != rep.BatchBytes*12 {
					t.Errorf("sink counted %d message bytes, the load generator sent %.0f", tot.Bytes, rep.BatchBytes*12)
				}
				switch {
				case comp == loadgen.NoCompression && tot.WireBytes != tot.Bytes+5*tot.Requests:
					t.Errorf("uncompressed: %d bytes on the wire, want the messages' %d plus a 5-byte header each", tot.WireBytes, tot.Bytes)
				case comp == loadgen.Zstd && tot.WireBytes >= tot.Bytes:
					t.Errorf("zstd: %d bytes on the wire, not fewer than the messages' %d", tot.WireBytes, tot.Bytes)
				}
			})
		}
	}
}

// A batch that does not decode is answered INVALID_ARGUMENT and counted.
func TestOTAPSinkRefusesWhatDoesNotDecode(t *testing.T) {
	s, addr := serveOTAP(t)
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	st, err := arrowpb.NewArrowLogsServiceClient(cc).ArrowLogs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	bad := &arrowpb.BatchArrowRecords{BatchId: 7, ArrowPayloads: []*arrowpb.ArrowPayload{
		{SchemaId: "0", Type: arrowpb.ArrowPayloadType_LOGS, Record: []byte("not an Arrow IPC stream")},
	}}
	if err := st.Send(bad); err != nil {
		t.Fatal(err)
	}
	got, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if got.GetBatchId() != 7 || got.GetStatusCode() != arrowpb.StatusCode_INVALID_ARGUMENT {
		t.Errorf("answer %v, want batch 7 INVALID_ARGUMENT", got)
	}
	_ = st.CloseSend()
	if _, err := st.Recv(); err == nil {
		t.Error("the stream goes on after the client closed it")
	}
	if tot := s.totals(); tot.Requests != 1 || tot.Errors != 1 || tot.Items != 0 {
		t.Errorf("totals %+v, want one batch, one error", tot)
	}
}
