package otlphttp_test

import (
	"sync"
	"testing"

	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// BenchmarkExport measures the exporter over loopback OTLP/HTTP against a
// backend that accepts everything: 8 messages of 1,000 logs in flight per
// iteration, each acked from its own answer.
func BenchmarkExport(b *testing.B) {
	const logs, batch = 1000, 8
	bk := newBackend(b, false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case c := <-bk.calls:
				c.ok()
			case <-stop:
				return
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	h, _ := newExporter(b, "endpoint: "+bk.srv.URL+"\n")
	defer h.Shutdown(h.Clock.Now())
	p := pdatatest.LogsPayload("bench", logs, 0, 100)
	b.SetBytes(int64(p.Bytes()) * batch)
	b.ReportAllocs()
	for b.Loop() {
		for range batch {
			h.SendPData(pdatatest.Msg(p))
		}
		settle(b, h)
		h.TakeUpstream()
	}
	b.ReportMetric(float64(logs*batch)*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
}
