package otap_test

import (
	"fmt"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/pdata/plog"

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
