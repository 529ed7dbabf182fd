package otlp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"
)

// zstdFrame encodes b as one frame: single-segment (its window is its
// size) when window is 0, else declaring window, a power of two of at least
// 64 KiB (the descriptor is set after encoding with a 64 KiB window: any
// larger window decodes the same data).
func zstdFrame(t *testing.T, b []byte, window int) []byte {
	t.Helper()
	opts := []zstd.EOption{zstd.WithEncoderConcurrency(1), zstd.WithSingleSegment(window == 0)}
	if window > 0 {
		opts = append(opts, zstd.WithWindowSize(64<<10))
	}
	e, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := e.EncodeAll(b, nil)
	if single := f[4]&(1<<5) != 0; single != (window == 0) {
		t.Fatalf("frame single-segment %t, want %t", single, window == 0)
	}
	if window > 0 {
		f[5] = byte(bits.Len(uint(window))-1-10) << 3 // exponent, mantissa 0
	}
	return f
}

// The watch reports every frame's window (single-segment: its content
// size; otherwise its window descriptor), skips skippable frames, and
// passes the stream through unchanged, however the reads split it.
func TestZstdWatchReportsEveryFrame(t *testing.T) {
	data := bytes.Repeat([]byte("ackflow telemetry "), 20000) // 360 kB
	skippable := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, zstdSkippableMagic|3), 5)
	skippable = append(skippable, "12345"...)
	var stream []byte
	stream = append(stream, zstdFrame(t, data[:100], 0)...)
	stream = append(stream, skippable...)
	stream = append(stream, zstdFrame(t, data, 1<<20)...)
	stream = append(stream, zstdFrame(t, data, 256<<10)...)
	want := append(append(append([]byte{}, data[:100]...), data...), data...)

	for _, split := range []struct {
		name string
		r    func(io.Reader) io.Reader
	}{{"whole", func(r io.Reader) io.Reader { return r }}, {"byte by byte", iotest.OneByteReader}} {
		t.Run(split.name, func(t *testing.T) {
			var windows []int64
			w := newZstdWatch(split.r(bytes.NewReader(stream)), func(window int64) error {
				windows = append(windows, window)
				return nil
			})
			d, err := zstd.NewReader(w, zstd.WithDecoderConcurrency(1))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			got, err := io.ReadAll(d)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("decoded %d bytes through the watch (%v), want %d", len(got), err, len(want))
			}
			if !slices.Equal(windows, []int64{zstdMinWindow, 1 << 20, 256 << 10}) {
				t.Fatalf("windows %v, want [1024 1048576 262144]", windows)
			}
		})
	}
}

// A zstd body is charged its frame's window before the decoder allocates
// it: a frame declaring 8 MiB does not fit a budget with 4 MiB left and is
// refused with errBudget; a single-segment frame of a small request costs
// little more than the request.
func TestReadBodyChargesTheZstdWindow(t *testing.T) {
	const budget = 4 << 20
	c := newCore(nil, newMetrics(nil, nil), budget, false)
	other := &reservation{c: c}
	other.grow(1)
	data := bytes.Repeat([]byte("x"), 100<<10)

	big := zstdFrame(t, data, 8<<20)
	rsv := &reservation{c: c}
	if _, err := readBody(bytes.NewReader(big), "zstd", 64<<20, int64(len(big)), rsv); !errors.Is(err, errBudget) {
		t.Fatalf("8 MiB window with 4 MiB of budget: %v, want errBudget", err)
	}
	rsv.release()

	small := zstdFrame(t, data, 0)
	rsv = &reservation{c: c}
	b, err := readBody(bytes.NewReader(small), "zstd", 64<<20, int64(len(small)), rsv)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("small single-segment body: %d bytes, %v", len(b), err)
	}
	if rsv.held != int64(cap(b)) {
		t.Fatalf("reservation %d after the read, want the buffer's %d", rsv.held, cap(b))
	}
	rsv.release()
	other.release()
	if n := c.inFlightBytes.Load(); n != 0 {
		t.Fatalf("%d bytes still reserved", n)
	}
}
