package otlpgrpc_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"

	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// BenchmarkCodecUnmarshal: a request in one buffer is kept as is; one
// spread over several (16 KiB HTTP/2 frames) is joined with one copy.
func BenchmarkCodecUnmarshal(b *testing.B) {
	body := pdatatest.LogsBytes("bench", 1000, 0, 100)
	for _, frame := range []int{len(body), 16 << 10} {
		b.Run(fmt.Sprintf("buffers=%d", (len(body)+frame-1)/frame), func(b *testing.B) {
			var data mem.BufferSlice
			for off := 0; off < len(body); off += frame {
				data = append(data, mem.SliceBuffer(body[off:min(off+frame, len(body))]))
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			var req otlpgrpc.Request
			for b.Loop() {
				if err := (otlpgrpc.Codec{}).Unmarshal(data, &req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// nopLogs is a generated-code logs server that accepts everything: what a
// server that decodes every request costs.
type nopLogs struct {
	plogotlp.UnimplementedGRPCServer
}

func (*nopLogs) Export(context.Context, plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	return plogotlp.NewExportResponse(), nil
}

// rawLogs is the raw-codec server: read, scan, answer.
type rawLogs struct{}

func (rawLogs) Export(_ context.Context, s pdata.Signal, read func(*otlpgrpc.Request) error) (*otlpgrpc.Response, error) {
	var req otlpgrpc.Request
	if err := read(&req); err != nil {
		return nil, err
	}
	if _, err := pdata.FromOTLPBuffers(s, req.Body); err != nil {
		return nil, err
	}
	return &otlpgrpc.Response{}, nil
}

// BenchmarkServer compares receiving with the raw codec and the wire scan
// against the generated code that decodes into pdata, over loopback with
// 8 requests of 1,000 logs in flight (client and server share the CPUs).
func BenchmarkServer(b *testing.B) {
	const logs, clients = 1000, 8
	body := pdatatest.LogsBytes("bench", logs, 0, 100)
	for _, raw := range []bool{true, false} {
		name := "generated"
		if raw {
			name = "raw"
		}
		b.Run(name, func(b *testing.B) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var gs *grpc.Server
			if raw {
				gs = grpc.NewServer(otlpgrpc.ServerOptions(64<<20, otlpgrpc.Transport{})...)
				otlpgrpc.RegisterServer(gs, rawLogs{})
			} else {
				gs = grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
				plogotlp.RegisterGRPCServer(gs, &nopLogs{})
			}
			served := make(chan struct{})
			go func() { defer close(served); _ = gs.Serve(lis) }()
			defer func() { gs.Stop(); <-served }()
			conn, err := grpc.NewClient(lis.Addr().String(), append(otlpgrpc.DialOptions(otlpgrpc.Transport{}),
				grpc.WithTransportCredentials(insecure.NewCredentials()))...)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			client := otlpgrpc.NewClient(conn)
			req := &otlpgrpc.ExportRequest{Chunks: [][]byte{body}}
			b.SetBytes(int64(len(body)) * clients)
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for range clients {
					wg.Go(func() {
						if err := client.Export(context.Background(), pdata.Logs, req, &otlpgrpc.Response{}); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(logs*clients)*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}
