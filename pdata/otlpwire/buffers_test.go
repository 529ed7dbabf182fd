package otlpwire_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ackflow/ackflow/pdata/otlpwire"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// cutEvery cuts b into buffers of n bytes (the last one shorter).
func cutEvery(b []byte, n int) [][]byte {
	var bufs [][]byte
	for len(b) > n {
		bufs = append(bufs, b[:n:n])
		b = b[n:]
	}
	return append(bufs, b)
}

// cutRandomly cuts b at random points, empty buffers included.
func cutRandomly(r *rand.Rand, b []byte) [][]byte {
	var bufs [][]byte
	for len(b) > 0 {
		n := r.IntN(min(len(b), 300) + 1)
		bufs = append(bufs, b[:n:n])
		b = b[n:]
	}
	return bufs
}

// requireSameAsScan checks that ScanBuffers on bufs says what Scan says on
// b, their concatenation: the same counts, or the same error.
func requireSameAsScan(t *testing.T, k otlpwire.Kind, b []byte, bufs [][]byte) {
	t.Helper()
	want, wantErr := otlpwire.Scan(k, b)
	got, err := otlpwire.ScanBuffers(k, bufs)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || got != want {
		t.Fatalf("%s in %d buffers: ScanBuffers = %+v, %v; Scan = %+v, %v", k, len(bufs), got, err, want, wantErr)
	}
	if wantErr == nil {
		if st, ok := otlpwire.ScanBuffersInPlace(k, bufs); !ok || st != want {
			t.Fatalf("%s in %d buffers: a valid request took the slow path (%+v, %t)", k, len(bufs), st, ok)
		}
	}
}

// ScanBuffers agrees with Scan however a request is cut: valid requests of
// every kind (walked in place, never joined), and the same requests
// corrupted or truncated (the same error, offset and path).
func TestScanBuffersAgreesWithScan(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 4))
	for _, k := range kinds {
		for round := range 20 {
			req := genRequest(t, r, k, shape{resources: 1 + round%3, scopes: 1 + round%2, items: 1 + round%4})
			variants := [][]byte{req.b}
			if len(req.b) > 0 {
				bad := append([]byte(nil), req.b...)
				bad[r.IntN(len(bad))] ^= byte(1 + r.IntN(255))
				variants = append(variants, bad, req.b[:r.IntN(len(req.b))])
			}
			for _, b := range variants {
				for _, n := range []int{1, 2, 3, 7, 16, 100} {
					requireSameAsScan(t, k, b, cutEvery(b, n))
				}
				for range 5 {
					requireSameAsScan(t, k, b, cutRandomly(r, b))
				}
			}
		}
	}
	for _, s := range seeds(t) {
		requireSameAsScan(t, s.kind, s.b, cutEvery(s.b, 3))
	}
}

// The shape the receiver sees: a 1,000-record request in 16 KiB frames.
func TestScanBuffersLargeRequestInFrames(t *testing.T) {
	b := pdatatest.BenchLogsBytes(1000)
	requireSameAsScan(t, otlpwire.Logs, b, cutEvery(b, 16<<10))
}

func BenchmarkScanBuffers(b *testing.B) {
	req := pdatatest.BenchLogsBytes(1000)
	for _, n := range []int{len(req), 16 << 10} {
		bufs := cutEvery(req, n)
		b.Run(fmt.Sprintf("buffers=%d", len(bufs)), func(b *testing.B) {
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := otlpwire.ScanBuffers(otlpwire.Logs, bufs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
