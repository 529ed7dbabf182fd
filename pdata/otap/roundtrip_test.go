package otap_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// encodeStream encodes batches payloads on one new encoder and returns
// the BatchArrowRecords, each through a proto round trip as a receiver
// gets it.
func encodeStream(t testing.TB, zstd bool, ps ...*pdata.Payload) []*arrowpb.BatchArrowRecords {
	t.Helper()
	enc := otap.NewEncoder(otap.EncoderOptions{Zstd: zstd})
	defer enc.Close()
	out := make([]*arrowpb.BatchArrowRecords, len(ps))
	for i, p := range ps {
		bar, err := enc.Encode(p)
		if err != nil {
			t.Fatalf("encode %d: %v", i, err)
		}
		if bar.BatchId != int64(i) {
			t.Fatalf("encode %d: batch id %d", i, bar.BatchId)
		}
		out[i] = wire(t, bar)
	}
	return out
}

// wire returns a copy of bar made by marshaling and unmarshaling it.
func wire(t testing.TB, bar *arrowpb.BatchArrowRecords) *arrowpb.BatchArrowRecords {
	t.Helper()
	b, err := proto.Marshal(bar)
	if err != nil {
		t.Fatalf("marshal batch: %v", err)
	}
	var got arrowpb.BatchArrowRecords
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatalf("unmarshal batch: %v", err)
	}
	return &got
}

// decodeStream decodes bars on one new decoder.
func decodeStream(t testing.TB, s pdata.Signal, bars ...*arrowpb.BatchArrowRecords) []*otap.Batch {
	t.Helper()
	dec := otap.NewDecoder(otap.DecoderOptions{})
	defer dec.Close()
	out := make([]*otap.Batch, len(bars))
	for i, bar := range bars {
		b, err := dec.Decode(s, bar)
		if err != nil {
			t.Fatalf("decode %d: %v", i, err)
		}
		out[i] = b
	}
	return out
}

// requireData checks that b converts to want, comparing OTLP encodings.
func requireData(t testing.TB, b *otap.Batch, want any) {
	t.Helper()
	got, err := b.ToPdata()
	if err != nil {
		t.Fatalf("ToPdata: %v", err)
	}
	if b.Items() != itemsOf(want) {
		t.Errorf("Items() = %d, want %d", b.Items(), itemsOf(want))
	}
	if g, w := canonical(t, got), canonical(t, want); g != w {
		t.Fatalf("data differs after the round trip:\n got %s\nwant %s", g, w)
	}
}

// canonical returns v's OTLP JSON with what the OTAP producer does not
// keep in order put in order: attributes by key, spans by span id. The
// rest, down to every value, must survive the round trip as it was.
func canonical(t testing.TB, v any) string {
	t.Helper()
	var tree any
	if err := json.Unmarshal([]byte(describe(v)), &tree); err != nil {
		t.Fatalf("canonical: %v", err)
	}
	b, err := json.Marshal(sortLists(tree))
	if err != nil {
		t.Fatalf("canonical: %v", err)
	}
	return string(b)
}

func sortLists(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = sortLists(x)
		}
		for _, key := range []string{"attributes", "spans"} {
			if l, ok := v[key].([]any); ok {
				sort.SliceStable(l, func(i, j int) bool { return sortKey(l[i]) < sortKey(l[j]) })
			}
		}
	case []any:
		for i, x := range v {
			v[i] = sortLists(x)
		}
	}
	return v
}

func sortKey(v any) string {
	m, _ := v.(map[string]any)
	k, _ := m["key"].(string)
	id, _ := m["spanId"].(string)
	return k + id
}

func describe(v any) string {
	var b []byte
	switch v := v.(type) {
	case plog.Logs:
		b, _ = (&plog.JSONMarshaler{}).MarshalLogs(v)
	case pmetric.Metrics:
		b, _ = (&pmetric.JSONMarshaler{}).MarshalMetrics(v)
	case ptrace.Traces:
		b, _ = (&ptrace.JSONMarshaler{}).MarshalTraces(v)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	for _, s := range pdata.Signals() {
		for _, zstd := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/zstd=%v", s, zstd), func(t *testing.T) {
				const batches = 4
				var want []any
				var ps []*pdata.Payload
				for seq := range batches {
					v := dataOf(s, seq, 20+seq*10)
					want = append(want, v)
					ps = append(ps, otlpPayloadOf(t, s, v))
				}
				bars := encodeStream(t, zstd, ps...)
				if deltas, _ := dictionaryBatches(bars[1:]...); deltas == 0 {
					t.Fatal("the stream sent no dictionary delta: the test data must grow its dictionaries")
				}
				got := decodeStream(t, s, bars...)
				// Converted only now, after the decoder read every later
				// batch and its dictionary deltas.
				for i, b := range got {
					if b.Signal() != s {
						t.Fatalf("batch %d: signal %s", i, b.Signal())
					}
					requireData(t, b, want[i])
				}
			})
		}
	}
}

// dictionaryBatches counts the delta and full dictionary batches bars
// carry.
func dictionaryBatches(bars ...*arrowpb.BatchArrowRecords) (deltas, full int) {
	for _, bar := range bars {
		for _, p := range bar.ArrowPayloads {
			d, f := otap.DictionaryBatches(p.Record)
			deltas, full = deltas+d, full+f
		}
	}
	return deltas, full
}
