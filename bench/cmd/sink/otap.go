package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/otlp/otlpgrpc" // registers gzip and zstd with grpc-go
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// decompressReserve raises the process's gRPC decompression bound (see
// otlpgrpc.ReserveDecompression) far above what its senders keep in
// flight: the sink must never be the one that refuses.
const decompressReserve = 1 << 30

// otapSink serves the three OTAP stream services. Each stream has its own
// decoder, fed the stream's batches in order, as a receiver must: it
// proves the batches valid and counts their items. It answers every batch
// once decoded: OK, or INVALID_ARGUMENT with the decoder's error.
type otapSink struct {
	requests, bytes, wire, items, errors atomic.Int64
	reported                             sync.Once // the first decode error goes to stderr
}

func (s *otapSink) server() *grpc.Server {
	otlpgrpc.ReserveDecompression(decompressReserve)
	gs := grpc.NewServer(append([]grpc.ServerOption{grpc.StatsHandler(wireCounter{&s.wire})}, transport...)...)
	arrowpb.RegisterArrowLogsServiceServer(gs, arrowLogs{s: s})
	arrowpb.RegisterArrowMetricsServiceServer(gs, arrowMetrics{s: s})
	arrowpb.RegisterArrowTracesServiceServer(gs, arrowTraces{s: s})
	return gs
}

func (s *otapSink) totals() Totals {
	return Totals{
		Requests: s.requests.Load(), Bytes: s.bytes.Load(), Items: s.items.Load(),
		WireBytes: s.wire.Load(), Errors: s.errors.Load(),
	}
}

// serve answers one stream's batches until the sender closes it.
func (s *otapSink) serve(sig pdata.Signal, recv func() (*arrowpb.BatchArrowRecords, error), send func(*arrowpb.BatchStatus) error) error {
	dec := otap.NewDecoder(otap.DecoderOptions{})
	defer dec.Close()
	for {
		bar, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		s.requests.Add(1)
		s.bytes.Add(int64(proto.Size(bar)))
		st := &arrowpb.BatchStatus{BatchId: bar.GetBatchId()}
		if b, err := dec.Decode(sig, bar); err != nil {
			s.errors.Add(1)
			s.reported.Do(func() { fmt.Fprintf(os.Stderr, "sink: %s batch %d does not decode: %v\n", sig, bar.GetBatchId(), err) })
			st.StatusCode, st.StatusMessage = arrowpb.StatusCode_INVALID_ARGUMENT, err.Error()
		} else {
			s.items.Add(int64(b.Items()))
		}
		if err := send(st); err != nil {
			return err
		}
	}
}

type arrowLogs struct {
	arrowpb.UnimplementedArrowLogsServiceServer
	s *otapSink
}

func (a arrowLogs) ArrowLogs(st arrowpb.ArrowLogsService_ArrowLogsServer) error {
	return a.s.serve(pdata.Logs, st.Recv, st.Send)
}

type arrowMetrics struct {
	arrowpb.UnimplementedArrowMetricsServiceServer
	s *otapSink
}

func (a arrowMetrics) ArrowMetrics(st arrowpb.ArrowMetricsService_ArrowMetricsServer) error {
	return a.s.serve(pdata.Metrics, st.Recv, st.Send)
}

type arrowTraces struct {
	arrowpb.UnimplementedArrowTracesServiceServer
	s *otapSink
}

func (a arrowTraces) ArrowTraces(st arrowpb.ArrowTracesService_ArrowTracesServer) error {
	return a.s.serve(pdata.Traces, st.Recv, st.Send)
}

// wireCounter adds up the size of every gRPC message received as it came
// over the connection: compressed, with its 5-byte header.
type wireCounter struct{ n *atomic.Int64 }

func (w wireCounter) HandleRPC(_ context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		w.n.Add(int64(in.WireLength))
	}
}

func (wireCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (wireCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (wireCounter) HandleConn(context.Context, stats.ConnStats)                       {}
