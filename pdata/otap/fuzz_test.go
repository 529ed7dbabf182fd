package otap_test

import (
	"errors"
	"testing"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otap"
)

// fuzzStreams holds, for each signal and compression, the first two
// batches of a real stream: FuzzDecode replaces one payload of them.
type fuzzStreams map[pdata.Signal][2][]*arrowpb.BatchArrowRecords

func newFuzzStreams(t testing.TB) fuzzStreams {
	out := fuzzStreams{}
	for _, s := range pdata.Signals() {
		var both [2][]*arrowpb.BatchArrowRecords
		for i, zstd := range []bool{false, true} {
			both[i] = encodeStream(t, zstd, payloadOf(dataOf(s, 0, 5)), payloadOf(dataOf(s, 1, 6)))
		}
		out[s] = both
	}
	return out
}

// pick decodes the fuzzer's choice: a stream, a batch of it (0, or 1
// after 0) and a payload of that batch.
func (fs fuzzStreams) pick(sig, at uint8) (s pdata.Signal, bars []*arrowpb.BatchArrowRecords, batch, payload int) {
	s = pdata.Signal(sig % 3)
	bars = fs[s][at>>7]
	batch = int(at>>6) & 1
	payload = int(at&0x3f) % len(bars[batch].ArrowPayloads)
	return s, bars, batch, payload
}

// FuzzDecode decodes a real stream's first one or two batches with one
// payload's type and Arrow IPC bytes replaced by the fuzzer's (seeded
// with every payload of the streams of every signal, compressed or not):
// the second batch exercises the stream's state, dictionary deltas and
// schema ids. Whatever it makes, nothing may panic, and errors wrap a
// sentinel; a batch that decodes must convert to exactly Items() items or
// fail, and re-encode to a batch that decodes to the same items, or fail.
func FuzzDecode(f *testing.F) {
	fs := newFuzzStreams(f)
	for sig := range uint8(3) {
		for at := range 256 {
			s, bars, batch, payload := fs.pick(sig, uint8(at))
			if at&0x3f != payload || int(sig) != int(s) {
				continue // each payload once
			}
			p := bars[batch].ArrowPayloads[payload]
			f.Add(sig, uint8(at), int32(p.Type), p.Record)
		}
	}
	f.Fuzz(func(t *testing.T, sig, at uint8, typ int32, rec []byte) {
		s, bars, batch, payload := fs.pick(sig, at)
		bar := clone(bars[batch])
		bar.ArrowPayloads[payload].Type = arrowpb.ArrowPayloadType(typ)
		bar.ArrowPayloads[payload].Record = rec

		dec := otap.NewDecoder(otap.DecoderOptions{MaxBatchBytes: 4 << 20, MaxDictionaryBytes: 4 << 20})
		defer dec.Close()
		if batch == 1 {
			if _, err := dec.Decode(s, bars[0]); err != nil {
				t.Fatalf("the real first batch: %v", err)
			}
		}
		b, err := dec.Decode(s, bar)
		if err != nil {
			if !errors.Is(err, otap.ErrInvalid) && !errors.Is(err, otap.ErrTooLarge) {
				t.Fatalf("Decode error wraps no sentinel: %v", err)
			}
			return
		}
		checkDecoded(t, s, b)
	})
}

// checkDecoded checks what must hold of any batch Decode accepted.
func checkDecoded(t *testing.T, s pdata.Signal, b *otap.Batch) {
	t.Helper()
	if v, err := b.ToPdata(); err == nil && itemsOf(v) != b.Items() {
		t.Fatalf("ToPdata gave %d items, Items() = %d", itemsOf(v), b.Items())
	}
	enc := otap.NewEncoder(otap.EncoderOptions{})
	defer enc.Close()
	bar, err := enc.Encode(otap.Payload(b))
	if err != nil {
		return
	}
	dec := otap.NewDecoder(otap.DecoderOptions{})
	defer dec.Close()
	again, err := dec.Decode(s, bar)
	if err != nil {
		t.Fatalf("a re-encoded batch does not decode: %v", err)
	}
	if again.Items() != b.Items() {
		t.Fatalf("re-encoded batch holds %d items, not %d", again.Items(), b.Items())
	}
}
