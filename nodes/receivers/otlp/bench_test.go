package otlp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// ackAll plays a pipeline that acks everything at once, until the fixture
// stops.
func ackAll(f *fixture) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case m := <-f.fx.sent:
				if top, ok := m.Top(); ok && top.Node == receiverNode {
					f.r.OnOutcome(engine.Control{Kind: engine.KindAck, Msg: m, CallData: top.CallData})
				}
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// clients is the number of concurrent requests per benchmark iteration:
// one request at a time would measure loopback latency, not the receiver.
const clients = 8

// fanOut runs one request per client concurrently and waits for all.
func fanOut(b *testing.B, request func() error) {
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			if err := request(); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
}

// BenchmarkReceiverGRPC measures the receiver's request path over loopback
// gRPC: raw codec, wire scan, admission, the ack and the answer; requests
// of 1,000 logs of about 150 bytes, 8 at a time.
func BenchmarkReceiverGRPC(b *testing.B) {
	const logs = 1000
	body := pdatatest.LogsBytes("bench", logs, 0, 100)
	for _, wait := range []bool{true, false} {
		b.Run(fmt.Sprintf("wait_for_result=%t", wait), func(b *testing.B) {
			f := start(b, grpcOnly+fmt.Sprintf("wait_for_result: %t\n", wait))
			defer f.stop()
			defer ackAll(f)()
			client := otlpgrpc.NewClient(f.grpcConn())
			req := &otlpgrpc.ExportRequest{Chunks: [][]byte{body}}
			b.SetBytes(int64(len(body)) * clients)
			b.ReportAllocs()
			for b.Loop() {
				fanOut(b, func() error {
					return client.Export(context.Background(), pdata.Logs, req, &otlpgrpc.Response{})
				})
			}
			b.ReportMetric(float64(logs*clients)*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}

// BenchmarkReceiverHTTP is BenchmarkReceiverGRPC over OTLP/HTTP protobuf.
func BenchmarkReceiverHTTP(b *testing.B) {
	const logs = 1000
	body := pdatatest.LogsBytes("bench", logs, 0, 100)
	f := start(b, httpOnly)
	defer f.stop()
	defer ackAll(f)()
	f.client.Transport.(*http.Transport).MaxIdleConnsPerHost = clients
	url := "http://" + f.httpAddr + "/v1/logs"
	b.SetBytes(int64(len(body)) * clients)
	b.ReportAllocs()
	for b.Loop() {
		fanOut(b, func() error {
			resp, err := f.client.Post(url, "application/x-protobuf", bytes.NewReader(body))
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
	}
	b.ReportMetric(float64(logs*clients)*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
}
