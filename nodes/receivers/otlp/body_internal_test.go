package otlp

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
)

// zeros returns n zero bytes, and gzipped.
func zeros(t testing.TB, n int) (raw, gz []byte) {
	t.Helper()
	raw = make([]byte, n)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return raw, buf.Bytes()
}

// chunked hides a reader's length, as a body without Content-Length.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// A body is read into buffers that end exactly its size. With a
// Content-Length one buffer doubles from a modest start: allocations total
// under twice the body and the reservation (old buffer and new one while
// copying) peaks at 1.5 times the body. Of unknown size (chunked,
// decompressed) it is read in chunks of at most 1 MiB and copied once:
// the reservation peaks at twice the body plus a chunk. Success with a
// budget of that peak and another holder proves the bound: every growth
// beyond it would fail.
func TestReadBodyRightSizedBuffer(t *testing.T) {
	const size = 16 << 20 // BenchmarkReadBody goes to 64 MiB; -race is slow
	raw, gz := zeros(t, size)
	tests := []struct {
		name   string
		enc    string
		r      io.Reader
		length int64
		size   int
		peak   int64 // most the reservation may reach
	}{
		{"identity with Content-Length", "", bytes.NewReader(raw), size, size, size + size/2},
		{"identity chunked", "", chunked{bytes.NewReader(raw)}, -1, size, 2*size + preallocLimit},
		{"gzip", "gzip", bytes.NewReader(gz), int64(len(gz)), size, 2*size + preallocLimit + gzipDecoderMemory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCore(nil, newMetrics(nil, nil), tt.peak+1, false)
			other := &reservation{c: c}
			if !other.grow(1) { // the first-holder exception does not apply
				t.Fatal("cannot reserve 1 byte")
			}
			rsv := &reservation{c: c}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b, err := readBody(tt.r, tt.enc, 64<<20, tt.length, rsv)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatalf("read within a budget of %d bytes: %v", tt.peak, err)
			}
			if len(b) != tt.size || cap(b) != len(b) {
				t.Fatalf("buffer len %d cap %d, want len %d", len(b), cap(b), tt.size)
			}
			if rsv.held != int64(cap(b)) {
				t.Fatalf("reservation %d after the read, want the buffer's capacity %d", rsv.held, cap(b))
			}
			if got, most := after.TotalAlloc-before.TotalAlloc, uint64(2*tt.size+2*preallocLimit); got > most {
				t.Fatalf("reading a %d-byte body allocated %d bytes, want at most %d", tt.size, got, most)
			}
			rsv.release()
			other.release()
			if n := c.inFlightBytes.Load(); n != 0 {
				t.Fatalf("%d bytes still reserved", n)
			}
		})
	}
}

// Another request's reservation and this body's do not fit: the read stops
// with errBudget, having never reserved past the budget. Alone, a body
// larger than the budget is read (it would be refused forever otherwise).
func TestReadBodyStopsAtTheBudget(t *testing.T) {
	const budget = 1 << 20
	c := newCore(nil, newMetrics(nil, nil), budget, false)
	other := &reservation{c: c}
	other.grow(budget / 2)
	raw, gz := zeros(t, 2<<20)
	for _, enc := range []string{"", "gzip"} {
		body := raw
		if enc == "gzip" {
			body = gz
		}
		rsv := &reservation{c: c}
		_, err := readBody(bytes.NewReader(body), enc, 64<<20, int64(len(body)), rsv)
		if !errors.Is(err, errBudget) {
			t.Fatalf("%q body over the budget: %v, want errBudget", enc, err)
		}
		if rsv.held > budget/2 {
			t.Fatalf("%q: reserved %d with %d of %d taken", enc, rsv.held, budget/2, budget)
		}
		rsv.release()
	}
	other.release()
	rsv := &reservation{c: c}
	b, err := readBody(bytes.NewReader(raw), "", 64<<20, int64(len(raw)), rsv)
	if err != nil || len(b) != len(raw) {
		t.Fatalf("a body alone, larger than the budget: %d bytes, %v", len(b), err)
	}
	rsv.release()
}

// Limits still apply with the reservation: over max_request_size, as sent
// or decompressed, is errTooLarge.
func TestReadBodyTooLarge(t *testing.T) {
	c := newCore(nil, newMetrics(nil, nil), 0, false)
	raw, gz := zeros(t, 1<<20)
	for _, tt := range []struct {
		name   string
		enc    string
		r      io.Reader
		length int64
	}{
		{"chunked", "", chunked{bytes.NewReader(raw)}, -1},
		{"gzip bomb", "gzip", bytes.NewReader(gz), int64(len(gz))},
	} {
		rsv := &reservation{c: c}
		if _, err := readBody(tt.r, tt.enc, 64<<10, tt.length, rsv); !errors.Is(err, errTooLarge) {
			t.Fatalf("%s over the limit: %v, want errTooLarge", tt.name, err)
		}
	}
}

// BenchmarkReadBody reports what reading a body allocates (B/op) for
// each way a body comes: with a Content-Length, chunked, gzipped. Each
// body goes back to the pool once read, as when its request ends.
func BenchmarkReadBody(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20, 64 << 20} {
		raw, gz := zeros(b, size)
		for _, tt := range []struct {
			name string
			enc  string
			body []byte
			hide bool
		}{{"length", "", raw, false}, {"chunked", "", raw, true}, {"gzip", "gzip", gz, false}} {
			b.Run(fmt.Sprintf("size=%dKiB/%s", size>>10, tt.name), func(b *testing.B) {
				c := newCore(nil, newMetrics(nil, nil), 0, false)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					var r io.Reader = bytes.NewReader(tt.body)
					length := int64(len(tt.body))
					if tt.hide {
						r, length = chunked{r}, -1
					}
					rsv := &reservation{c: c}
					if _, err := readBody(r, tt.enc, 64<<20, length, rsv); err != nil {
						b.Fatal(err)
					}
					rsv.release()
				}
			})
		}
	}
}
