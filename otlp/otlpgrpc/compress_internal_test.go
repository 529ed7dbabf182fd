package otlpgrpc

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
)

// zstdFrame compresses b into one zstd frame whose header declares the
// window of windowDescriptor (RFC 8878 §3.1.1.1.2: exponent<<3 | mantissa,
// the window being 2^(10+exponent) plus mantissa eighths of it).
func zstdFrame(t *testing.T, b []byte, windowDescriptor byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := e.EncodeAll(b, nil)
	// magic (4 bytes), frame header descriptor, then the window descriptor
	// when the single-segment flag (bit 5) is clear.
	if f[4]&(1<<5) != 0 {
		t.Fatalf("frame is single-segment: no window descriptor to set")
	}
	f[5] = windowDescriptor
	return f
}

// Window descriptors: 8 MiB is 2^23 (exponent 13), 9 MiB is 2^23 + 1/8.
const (
	window8MiB = 13 << 3
	window9MiB = 13<<3 | 1
)

// decompressed reads what the registered grpc-go compressor name yields for
// the compressed bytes in, as grpc-go would (one buffer per read).
func decompressed(t *testing.T, name string, in []byte) mem.BufferSlice {
	t.Helper()
	c := encoding.GetCompressor(name)
	r, err := c.Decompress(bytes.NewReader(in))
	if err != nil {
		t.Fatalf("%s: Decompress must never fail, got %v", name, err)
	}
	var out mem.BufferSlice
	buf := make([]byte, 7) // small reads: the trailer spans buffers
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out = append(out, mem.SliceBuffer(bytes.Clone(buf[:n])))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: Read must never fail, got %v", name, err)
		}
	}
	if c, ok := r.(io.Closer); ok {
		_ = c.Close()
	}
	return out
}

func TestOneRegistrationPerCompressorAndItIsOurs(t *testing.T) {
	for _, name := range []string{Zstd, Gzip} {
		if _, ok := encoding.GetCompressor(name).(compressor); !ok {
			t.Errorf("%s: registered compressor is %T, want otlpgrpc's", name, encoding.GetCompressor(name))
		}
	}
}

func TestDecompressFailureEndsWithTrailer(t *testing.T) {
	plain := bytes.Repeat([]byte("telemetry "), 500)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(plain)
	_ = w.Close()
	good := gz.Bytes()
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-5] ^= 0xff // the CRC or size: fails at the end

	tests := []struct {
		name, comp string
		in         []byte
		want       string // "" means success with plain
	}{
		{"zstd ok at 8 MiB window", Zstd, zstdFrame(t, plain, window8MiB), ""},
		{"zstd window over the cap", Zstd, zstdFrame(t, plain, window9MiB), "zstd: "},
		{"zstd garbage", Zstd, []byte("not zstd at all"), "zstd: "},
		{"zstd truncated", Zstd, zstdFrame(t, plain, window8MiB)[:20], "zstd: "},
		{"gzip ok", Gzip, good, ""},
		{"gzip garbage", Gzip, []byte("not gzip at all"), "gzip: "},
		{"gzip corrupt after the data", Gzip, corrupt, "gzip: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := decompressed(t, tt.comp, tt.in)
			failure := decompressFailure(out)
			if tt.want == "" {
				if failure != nil || !bytes.Equal(out.Materialize(), plain) {
					t.Fatalf("failure %v, equal %t", failure, bytes.Equal(out.Materialize(), plain))
				}
				return
			}
			st := status.Convert(failure)
			if failure == nil || st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "decompress request: "+tt.want) {
				t.Fatalf("decompressFailure = %v; want INVALID_ARGUMENT starting %q", failure, tt.want)
			}
			var req Request
			if err := (Codec{}).Unmarshal(out, &req); err != nil || req.Body != nil || req.err() == nil {
				t.Fatalf("Unmarshal: %v, body %d bytes, err() %v", err, len(req.Body), req.err())
			}
			if err := (Codec{}).Unmarshal(out, &Response{}); err == nil {
				t.Fatal("a response that failed to decompress was accepted")
			}
		})
	}
}

func TestWindowErrorNamesTheLimit(t *testing.T) {
	failure := decompressFailure(decompressed(t, Zstd, zstdFrame(t, []byte("x"), window9MiB)))
	if failure == nil || !strings.Contains(failure.Error(), "window") {
		t.Fatalf("failure %v does not say the window is the problem", failure)
	}
}

func TestNoTrailerInOrdinaryBodies(t *testing.T) {
	for _, b := range [][]byte{nil, {1}, bytes.Repeat([]byte{0}, 64), failMark[:]} {
		if failure := decompressFailure(mem.BufferSlice{mem.SliceBuffer(b)}); failure != nil {
			t.Fatalf("%x read as a failure trailer", b)
		}
	}
}

// The decompression gate: what readers decompress is charged before it is
// produced, a message that does not fit beside the others ends with an
// UNAVAILABLE failure, and Close gives every byte back, however the
// reader ended.
func TestDecompressionGate(t *testing.T) {
	gate := &byteGate{base: 1 << 20}
	gz := encoding.GetCompressor(Gzip).(compressor)
	gz.gate = gate
	bomb := func(n int) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		_, _ = w.Write(make([]byte, n))
		_ = w.Close()
		return b.Bytes()
	}
	read := func(r io.Reader) mem.BufferSlice {
		var out mem.BufferSlice
		for {
			buf := make([]byte, 32<<10)
			n, err := r.Read(buf)
			out = append(out, mem.SliceBuffer(buf[:n]))
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatalf("Read must never fail, got %v", err)
			}
		}
	}

	first, _ := gz.Decompress(bytes.NewReader(bomb(600 << 10)))
	if out := read(first); decompressFailure(out) != nil || out.Len() != 600<<10 {
		t.Fatalf("600 KiB under a 1 MiB gate: failure %v, %d bytes", decompressFailure(out), out.Len())
	}
	if held := gate.held.Load(); held != 600<<10 {
		t.Fatalf("gate holds %d bytes while the first message is open, want 600 KiB", held)
	}
	second, _ := gz.Decompress(bytes.NewReader(bomb(600 << 10)))
	failure := decompressFailure(read(second))
	if st := status.Convert(failure); failure == nil || st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "retry") {
		t.Fatalf("a second 600 KiB beside the first: %v, want UNAVAILABLE with a retry hint", failure)
	}
	_ = second.(io.Closer).Close()
	if held := gate.held.Load(); held != 600<<10 {
		t.Fatalf("gate holds %d bytes after the refused message closed, want the first's 600 KiB", held)
	}
	_ = first.(io.Closer).Close()
	if held := gate.held.Load(); held != 0 {
		t.Fatalf("gate holds %d bytes with every reader closed", held)
	}

	// A reader abandoned before its end (grpc-go stops one byte past its
	// message limit) gives its charge back on Close too.
	third, _ := gz.Decompress(bytes.NewReader(bomb(600 << 10)))
	_, _ = third.Read(make([]byte, 64<<10))
	_ = third.(io.Closer).Close()
	if held := gate.held.Load(); held != 0 {
		t.Fatalf("gate holds %d bytes after an abandoned reader closed", held)
	}
	if out := read(mustDecompress(t, gz, bomb(900<<10))); decompressFailure(out) != nil {
		t.Fatalf("900 KiB alone under a 1 MiB gate: %v", decompressFailure(out))
	}
}

func mustDecompress(t *testing.T, c compressor, in []byte) io.Reader {
	t.Helper()
	r, err := c.Decompress(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Reservations raise the process's bound and give it back once.
func TestReserveDecompression(t *testing.T) {
	_, before := Decompressing()
	release := ReserveDecompression(64 << 20)
	if _, limit := Decompressing(); limit != before+64<<20 {
		t.Fatalf("limit %d after reserving 64 MiB over %d", limit, before)
	}
	release()
	release()
	if _, limit := Decompressing(); limit != before {
		t.Fatalf("limit %d after releasing twice, want %d", limit, before)
	}
}
