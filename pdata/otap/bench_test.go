package otap_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// benchLogs is the benchmarks' batch: 1,000 log records of about 185
// bytes of OTLP each, with 4 string attributes.
const benchLogs = 1000

// steadyStream returns a logs stream's first batch (schema, dictionaries)
// and a next one of the same data: only its records, as a stream sends
// once its dictionaries are warm.
func steadyStream(b *testing.B, zstd bool) (first, next *arrowpb.BatchArrowRecords) {
	ld := logsData(1, benchLogs)
	bars := encodeStream(b, zstd, payloadOf(ld), payloadOf(ld))
	return bars[0], bars[1]
}

func forZstd(b *testing.B, f func(b *testing.B, zstd bool)) {
	for _, zstd := range []bool{false, true} {
		b.Run(fmt.Sprintf("zstd=%v", zstd), func(b *testing.B) { f(b, zstd) })
	}
}

func BenchmarkDecode(b *testing.B) {
	forZstd(b, func(b *testing.B, zstd bool) {
		first, next := steadyStream(b, zstd)
		dec := otap.NewDecoder(otap.DecoderOptions{})
		defer dec.Close()
		if _, err := dec.Decode(pdata.Logs, first); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dec.Decode(pdata.Logs, next); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeFirst decodes a stream's first batch: the schemas and
// whole dictionaries, on a new decoder.
func BenchmarkDecodeFirst(b *testing.B) {
	forZstd(b, func(b *testing.B, zstd bool) {
		first, _ := steadyStream(b, zstd)
		b.ReportAllocs()
		for b.Loop() {
			dec := otap.NewDecoder(otap.DecoderOptions{})
			if _, err := dec.Decode(pdata.Logs, first); err != nil {
				b.Fatal(err)
			}
			dec.Close()
		}
	})
}

func BenchmarkToPdata(b *testing.B) {
	first, _ := steadyStream(b, false)
	batch := decodeStream(b, pdata.Logs, first)[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := batch.ToPdata(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeOTAP re-encodes a decoded batch on a warm encoder.
func BenchmarkEncodeOTAP(b *testing.B) {
	forZstd(b, func(b *testing.B, zstd bool) {
		first, _ := steadyStream(b, false)
		p := otap.Payload(decodeStream(b, pdata.Logs, first)[0])
		enc := otap.NewEncoder(otap.EncoderOptions{Zstd: zstd})
		defer enc.Close()
		if _, err := enc.Encode(p); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc.Encode(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeOTLP encodes a new OTLP payload each time on a warm
// encoder: unmarshaling the request into pdata, then the producer.
func BenchmarkEncodeOTLP(b *testing.B) {
	forZstd(b, func(b *testing.B, zstd bool) {
		raw := marshal(b, logsData(1, benchLogs))
		enc := otap.NewEncoder(otap.EncoderOptions{Zstd: zstd})
		defer enc.Close()
		b.ReportAllocs()
		for b.Loop() {
			p, err := pdata.FromOTLP(pdata.Logs, raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := enc.Encode(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnmarshalOTLP is the baseline: the same logs as an OTLP
// request, unmarshaled into pdata.
func BenchmarkUnmarshalOTLP(b *testing.B) {
	raw := marshal(b, logsData(1, benchLogs))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(raw))/benchLogs, "otlp-bytes/log")
}

// forwardStreams and forwardRing shape BenchmarkForward: that many
// inbound streams, each sending a ring of that many unique batches from
// the start of a new stream, as bench's otap_forward load does (setting
// them up takes a few seconds).
const (
	forwardStreams = 16
	forwardRing    = 48
)

// forwardLogs returns batch seq of a forward stream: benchLogs records
// with a 185-byte body of random text each (unique, as the load
// generator's), timestamps, a severity and one integer attribute.
func forwardLogs(rng *rand.Rand, seq int) plog.Logs {
	const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ0123456789 =:/.-_ "
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "loadgen")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("forward")
	body := make([]byte, 185)
	for i := range benchLogs {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(t0 + int64(seq)*1e9 + int64(i)*1000))
		lr.SetObservedTimestamp(pcommon.Timestamp(t0 + int64(seq)*1e9 + int64(i)*1000 + 1000))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetSeverityText("INFO")
		n := copy(body, fmt.Sprintf("batch %d record %d ", seq, i))
		for j := n; j < len(body); j++ {
			body[j] = alphabet[rng.IntN(len(alphabet))]
		}
		lr.Body().SetStr(string(body))
		lr.Attributes().PutInt("sequence", int64(i))
	}
	return ld
}

// BenchmarkForward is otap_forward's path through the codec: batches of
// forwardStreams inbound streams, interleaved, each decoded by its
// stream's decoder and re-encoded (zstd) on one outbound encoder. One op
// is one batch. decode is the decoding alone.
func BenchmarkForward(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var rings [forwardStreams][]*arrowpb.BatchArrowRecords
	for s := range rings {
		var ps []*pdata.Payload
		for i := range forwardRing {
			ps = append(ps, pdata.FromLogs(forwardLogs(rng, s*forwardRing+i)))
		}
		rings[s] = encodeStream(b, false, ps...)
	}
	for _, encode := range []bool{false, true} {
		name := "decode"
		if encode {
			name = "decode+encode"
		}
		b.Run(name, func(b *testing.B) {
			enc := otap.NewEncoder(otap.EncoderOptions{Zstd: true})
			defer enc.Close()
			var decs [forwardStreams]*otap.Decoder
			var out int
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s, at := i%forwardStreams, (i/forwardStreams)%forwardRing
				if at == 0 {
					if decs[s] != nil {
						decs[s].Close()
					}
					decs[s] = otap.NewDecoder(otap.DecoderOptions{})
				}
				batch, err := decs[s].Decode(pdata.Logs, rings[s][at])
				if err != nil {
					b.Fatal(err)
				}
				if encode {
					bar, err := enc.Encode(otap.Payload(batch))
					if err != nil {
						b.Fatal(err)
					}
					out += proto.Size(bar)
				}
			}
			b.ReportMetric(float64(b.N)*benchLogs/b.Elapsed().Seconds(), "items/s")
			if encode {
				b.ReportMetric(float64(out)/float64(b.N)/benchLogs, "B/item")
			}
		})
	}
}
