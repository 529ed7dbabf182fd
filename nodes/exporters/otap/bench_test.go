package otap_test

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// BenchmarkExport measures the exporter over loopback gRPC against a
// backend that reads each batch and answers OK without decoding it: 8
// messages of 1,000 logs in flight per iteration, each acked from its own
// batch status. otap sends an OTAP payload as it is (re-encoded, not
// converted); otlp sends OTLP bytes as a receiver took them in, so each
// message is decoded and converted to Arrow.
func BenchmarkExport(b *testing.B) {
	const logs, batch = 1000, 8
	ld := pdatatest.LogsData("bench", logs, 100, 100)
	raw, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		b.Fatal(err)
	}
	otap := otapPayload(b, ld)
	for _, form := range []string{"otap", "otlp"} {
		for _, comp := range []string{"none", "zstd"} {
			b.Run("form="+form+"/compression="+comp, func(b *testing.B) {
				bk := newBackend(b, readOnly())
				h, _ := newExporter(b, endpoint(bk)+"compression: "+comp+"\n")
				defer h.Shutdown(h.Clock.Now())
				payload := func() *pdata.Payload {
					if form == "otap" {
						return otap
					}
					p, err := pdata.FromOTLP(pdata.Logs, raw) // a fresh payload: nothing cached
					if err != nil {
						b.Fatal(err)
					}
					return p
				}
				b.ReportAllocs()
				for b.Loop() {
					for range batch {
						h.SendPData(pdatatest.Msg(payload()))
					}
					settle(b, h)
					if n := len(h.TakeUpstream()); n != batch {
						b.Fatalf("%d outcomes, want %d", n, batch)
					}
				}
				b.ReportMetric(float64(logs*batch)*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
			})
		}
	}
}
