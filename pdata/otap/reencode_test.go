package otap_test

import (
	"fmt"
	"sync"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// inbound returns n batches of signal s decoded from one stream, and the
// data each holds. tag makes streams' vocabularies differ.
func inbound(t testing.TB, s pdata.Signal, tag, n int) ([]*otap.Batch, []any) {
	t.Helper()
	var want []any
	var ps []*pdata.Payload
	for seq := range n {
		v := dataOf(s, tag*10+seq, 15+seq*7)
		want = append(want, v)
		ps = append(ps, payloadOf(v))
	}
	return decodeStream(t, s, encodeStream(t, true, ps...)...), want
}

// reencode encodes ps on one new encoder and decodes the result on one new
// decoder.
func reencode(t testing.TB, s pdata.Signal, zstd bool, ps ...*pdata.Payload) []*otap.Batch {
	t.Helper()
	return decodeStream(t, s, encodeStream(t, zstd, ps...)...)
}

func TestReencodeOTAP(t *testing.T) {
	for _, s := range pdata.Signals() {
		t.Run(s.String(), func(t *testing.T) {
			batches, want := inbound(t, s, 1, 4)
			var ps []*pdata.Payload
			for _, b := range batches {
				ps = append(ps, otap.Payload(b))
			}
			convBefore, _ := pdata.OTAPConversions()
			got := reencode(t, s, true, ps...)
			if conv, _ := pdata.OTAPConversions(); conv != convBefore {
				t.Fatalf("re-encoding converted %d payloads to pdata", conv-convBefore)
			}
			for i := range got {
				requireData(t, got[i], want[i])
			}
		})
	}
}

// Batches of two inbound streams, whose dictionaries are not deltas of
// each other, interleaved on one outbound stream: the writer must send
// replacements where it cannot send deltas.
func TestReencodeMixedStreams(t *testing.T) {
	for _, s := range pdata.Signals() {
		t.Run(s.String(), func(t *testing.T) {
			a, wantA := inbound(t, s, 1, 3)
			b, wantB := inbound(t, s, 2, 3)
			var ps []*pdata.Payload
			var want []any
			for i := range a {
				ps = append(ps, otap.Payload(a[i]), otap.Payload(b[i]))
				want = append(want, wantA[i], wantB[i])
			}
			// An OTLP payload in the middle: the producer's own schema
			// ids take over the payload types, then hand them back.
			extra := dataOf(s, 77, 9)
			ps = append(ps[:3], append([]*pdata.Payload{otlpPayloadOf(t, s, extra)}, ps[3:]...)...)
			want = append(want[:3], append([]any{extra}, want[3:]...)...)

			bars := encodeStream(t, false, ps...)
			if _, full := dictionaryBatches(bars[1:]...); full == 0 {
				t.Fatal("no replacement dictionary: the streams' dictionaries did not clash")
			}
			got := decodeStream(t, s, bars...)
			for i := range got {
				requireData(t, got[i], want[i])
			}
		})
	}
}

// One batch read by many goroutines at once: conversions and re-encodes
// on several encoders (run with -race).
func TestBatchConcurrentUse(t *testing.T) {
	batches, want := inbound(t, pdata.Traces, 3, 2)
	b := batches[1]
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			got, err := b.ToPdata()
			if err == nil && itemsOf(got) != itemsOf(want[1]) {
				err = fmt.Errorf("converted %d items", itemsOf(got))
			}
			errs <- err
		})
		wg.Go(func() {
			enc := otap.NewEncoder(otap.EncoderOptions{Zstd: true})
			defer enc.Close()
			_, err := enc.Encode(otap.Payload(b))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	requireData(t, b, want[1])
}

func TestItemsAndSize(t *testing.T) {
	for _, s := range pdata.Signals() {
		t.Run(s.String(), func(t *testing.T) {
			batches, want := inbound(t, s, 4, 2)
			for i, b := range batches {
				if b.Items() != itemsOf(want[i]) {
					t.Errorf("batch %d: Items() = %d, want %d", i, b.Items(), itemsOf(want[i]))
				}
				// The records hold at least a few bytes per item, and
				// not more than the OTLP encoding many times over.
				otlp := len(marshal(t, want[i]))
				if b.Size() < b.Items()*4 || b.Size() > 64*otlp {
					t.Errorf("batch %d: Size() = %d for %d items (%d bytes of OTLP)", i, b.Size(), b.Items(), otlp)
				}
			}
		})
	}
}

func TestEmptyBatch(t *testing.T) {
	for _, s := range pdata.Signals() {
		dec := otap.NewDecoder(otap.DecoderOptions{})
		b, err := dec.Decode(s, &arrowpb.BatchArrowRecords{BatchId: 7})
		dec.Close()
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		v, err := b.ToPdata()
		if err != nil || b.Items() != 0 || itemsOf(v) != 0 || b.Size() != 0 {
			t.Fatalf("%s: empty batch: items %d, size %d, %v, %v", s, b.Items(), b.Size(), v, err)
		}
		// Re-encoded, it is still an empty batch.
		got := reencode(t, s, false, otap.Payload(b))
		if got[0].Items() != 0 {
			t.Fatalf("%s: re-encoded empty batch holds %d items", s, got[0].Items())
		}
	}
}

func TestPayload(t *testing.T) {
	batches, want := inbound(t, pdata.Logs, 5, 1)
	b := batches[0]
	p := otap.Payload(b)
	if p.Form() != pdata.FormOTAP || p.Signal() != pdata.Logs || p.Items() != b.Items() {
		t.Fatalf("payload: form %s, signal %s, items %d", p.Form(), p.Signal(), p.Items())
	}
	if got, ok := otap.BatchOf(p); !ok || got != b {
		t.Fatalf("BatchOf = %p, %v; want %p", got, ok, b)
	}
	if _, ok := otap.BatchOf(payloadOf(want[0])); ok {
		t.Fatal("BatchOf found a batch in a decoded payload")
	}

	convs, items := pdata.OTAPConversions()
	ld, err := p.Logs()
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	if canonical(t, ld) != canonical(t, want[0]) {
		t.Fatal("Logs() differs from the data sent")
	}
	chunks, err := p.Chunks()
	if err != nil || len(chunks) != 1 {
		t.Fatalf("Chunks: %d chunks, %v", len(chunks), err)
	}
	if string(chunks[0]) != string(marshal(t, ld)) {
		t.Fatal("Chunks() is not the OTLP encoding of Logs()")
	}
	gotConvs, gotItems := pdata.OTAPConversions()
	if gotConvs != convs+1 || gotItems != items+uint64(b.Items()) {
		t.Fatalf("OTAPConversions went from %d/%d to %d/%d, want one payload of %d items",
			convs, items, gotConvs, gotItems, b.Items())
	}
}
