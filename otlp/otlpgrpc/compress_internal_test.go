package otlpgrpc

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
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
			msg, failed := decompressFailure(out)
			if tt.want == "" {
				if failed || !bytes.Equal(out.Materialize(), plain) {
					t.Fatalf("failed %t (%q), equal %t", failed, msg, bytes.Equal(out.Materialize(), plain))
				}
				return
			}
			if !failed || !strings.HasPrefix(msg, tt.want) {
				t.Fatalf("decompressFailure = %q, %t; want a failure starting %q", msg, failed, tt.want)
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
	msg, _ := decompressFailure(decompressed(t, Zstd, zstdFrame(t, []byte("x"), window9MiB)))
	if !strings.Contains(msg, "window") {
		t.Fatalf("failure %q does not say the window is the problem", msg)
	}
}

func TestNoTrailerInOrdinaryBodies(t *testing.T) {
	for _, b := range [][]byte{nil, {1}, bytes.Repeat([]byte{0}, 64), failMark[:]} {
		if _, failed := decompressFailure(mem.BufferSlice{mem.SliceBuffer(b)}); failed {
			t.Fatalf("%x read as a failure trailer", b)
		}
	}
}
