package otlpwire_test

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora in testdata/fuzz")

// fuzzKind maps any byte to a valid Kind, so the fuzzer spends no time on
// ErrKind.
func fuzzKind(k uint8) otlpwire.Kind { return otlpwire.Kind(k%3 + 1) }

// FuzzScan checks checkAgainstOracles (no panic; same verdict and counts as
// the protowire oracle; pdata agrees on whatever Scan accepts) and that
// ScanBuffers (the request cut into buffers) and AppendEntries agree with
// Scan.
func FuzzScan(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		k := fuzzKind(kind)
		st, err := checkAgainstOracles(t, k, b)
		for _, n := range []int{1, 5} {
			requireSameAsScan(t, k, b, cutEvery(b, n))
		}
		entries, eerr := otlpwire.AppendEntries(nil, k, b)
		if (err == nil) != (eerr == nil) {
			t.Fatalf("Scan err %v, AppendEntries err %v", err, eerr)
		}
		if err != nil {
			return
		}
		items := 0
		for _, e := range entries {
			items += e.Items
		}
		if len(entries) != st.Resources || items != st.Items {
			t.Fatalf("AppendEntries: %d entries with %d items, Scan %+v", len(entries), items, st)
		}
	})
}

// FuzzSplit checks that Split accepts what Scan accepts and that its chunks
// keep every promise (checkSplit), for any limit.
func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind uint8, b []byte, maxBytes uint16) {
		k := fuzzKind(kind)
		_, err := otlpwire.Scan(k, b)
		chunks, serr := otlpwire.Split(k, b, int(maxBytes))
		if (err == nil) != (serr == nil) {
			t.Fatalf("Scan err %v, Split err %v", err, serr)
		}
		if serr != nil {
			if chunks != nil || !errors.Is(serr, otlpwire.ErrMalformed) {
				t.Fatalf("Split = %d chunks, %v", len(chunks), serr)
			}
			return
		}
		checkSplit(t, k, b, int(maxBytes), chunks)
	})
}

// seed is one committed corpus entry.
type seed struct {
	name string
	kind otlpwire.Kind
	b    []byte
}

func seeds(t *testing.T) []seed {
	r := rand.New(rand.NewPCG(8, 8))
	s := []seed{
		{"empty", otlpwire.Logs, nil},
		{"unknown-fields", otlpwire.Metrics, cat(varF(9, 1), lenF(1, fix64F(77), lenF(2, lenF(2, lenF(7, varF(2, 1), lenF(1, fix32F(40)))))))},
		{"deprecated-scopes", otlpwire.Traces, lenF(1, lenF(1000, lenF(2, fix64F(7))), lenF(1000))},
		{"truncated", otlpwire.Logs, oneLog(2)[:9]},
		// AnyValues at the depth limit and one past it (depth_test.go).
		{"deep-body-at-limit", otlpwire.Logs, places[0].wrap(arrayChain(otlpwire.MaxValueDepth))},
		{"deep-body-over-limit", otlpwire.Logs, places[0].wrap(arrayChain(otlpwire.MaxValueDepth + 1))},
		{"deep-kvlist-over-limit", otlpwire.Traces, places[6].wrap(kvlistChain(otlpwire.MaxValueDepth + 1))},
		{"deep-implied-over-limit", otlpwire.Metrics, places[10].wrap(impliedChain(otlpwire.MaxValueDepth + 1))},
	}
	for _, k := range kinds {
		req := genRequest(t, r, k, shape{resources: 2, scopes: 2, items: 2})
		for req.items == 0 {
			req = genRequest(t, r, k, shape{resources: 2, scopes: 2, items: 2})
		}
		s = append(s, seed{"valid-" + k.String(), k, req.b})
	}
	return s
}

// TestFuzzCorpus keeps the committed seed corpora in step with seeds: run
// with -update-corpus to rewrite them after changing the generators.
func TestFuzzCorpus(t *testing.T) {
	for _, s := range seeds(t) {
		kind := uint8(s.kind - 1)
		files := map[string]string{
			"FuzzScan":  fmt.Sprintf("go test fuzz v1\nuint8(%d)\n[]byte(%q)\n", kind, s.b),
			"FuzzSplit": fmt.Sprintf("go test fuzz v1\nuint8(%d)\n[]byte(%q)\nuint16(%d)\n", kind, s.b, len(s.b)/2),
		}
		for target, want := range files {
			path := filepath.Join("testdata", "fuzz", target, s.name)
			if *updateCorpus {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFuzzCorpus -update-corpus)", err)
			}
			if string(got) != want {
				t.Errorf("%s is stale: run go test -run TestFuzzCorpus -update-corpus", path)
			}
		}
	}
}
