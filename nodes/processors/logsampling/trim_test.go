package logsampling

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/otlpwire"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// checkPrefix cuts p to k records and checks that the result holds
// exactly the first k records of p, in order, and is valid OTLP.
func checkPrefix(t *testing.T, tr *trimmer, p *pdata.Payload, k int) *pdata.Payload {
	t.Helper()
	want := pdatatest.LogBodies(t, p)[:k]
	got, err := tr.prefix(p, k)
	if err != nil {
		t.Fatalf("prefix(%d of %d): %v", k, p.Items(), err)
	}
	if got.Items() != k || got.Signal() != pdata.Logs {
		t.Fatalf("prefix(%d): payload of %d %s", k, got.Items(), got.Signal())
	}
	if b := pdatatest.LogBodies(t, got); !slices.Equal(b, want) {
		t.Fatalf("prefix(%d of %d): records %v, want %v", k, p.Items(), b, want)
	}
	chunks, err := got.Chunks()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range chunks {
		st, err := otlpwire.Scan(otlpwire.Logs, c)
		if err != nil {
			t.Fatalf("chunk is not a valid request: %v", err)
		}
		n += st.Items
	}
	if n != k {
		t.Fatalf("chunks scan to %d records, want %d", n, k)
	}
	return got
}

func TestPrefixOTLPEveryCut(t *testing.T) {
	var tr trimmer
	for _, perResource := range []int{0, 1, 3, 7} {
		p := pdatatest.LogsPayload("cut", 20, perResource, 16)
		for k := 1; k < 20; k++ {
			t.Run(fmt.Sprintf("per_resource=%d/k=%d", perResource, k), func(t *testing.T) {
				checkPrefix(t, &tr, p, k)
			})
		}
	}
}

// Whole resource entries before the cut are shared with the input, not
// copied: only the entry the cut falls in is new.
func TestPrefixOTLPSharesWholeEntries(t *testing.T) {
	var tr trimmer
	p := pdatatest.LogsPayload("share", 10, 4, 16)
	in, _ := p.Chunks()
	got := checkPrefix(t, &tr, p, 6) // 4 whole, then 2 of the next 4
	chunks, _ := got.Chunks()
	if len(chunks) != 2 {
		t.Fatalf("got %d chunks, want 2 (the shared run and the cut entry)", len(chunks))
	}
	if &chunks[0][0] != &in[0][0] {
		t.Fatal("the first resource entry was copied, want a slice of the input")
	}
}

func TestPrefixFramedAndConcatenated(t *testing.T) {
	var tr trimmer
	a := pdatatest.LogsBytes("a", 5, 2, 8)
	b := pdatatest.LogsBytes("b", 5, 0, 8)
	joined := append(slices.Clone(a), b...)
	framed, err := pdata.FromOTLPBuffers(pdata.Logs, [][]byte{joined[:7], joined[7:30], joined[30:]})
	if err != nil {
		t.Fatal(err)
	}
	concat := pdata.FromOTLPChunks(pdata.Logs, [][]byte{a, b}, 10)
	for k := 1; k < 10; k++ {
		checkPrefix(t, &tr, framed, k)
		checkPrefix(t, &tr, concat, k)
	}
}

func TestPrefixDecoded(t *testing.T) {
	var tr trimmer
	p := pdata.FromLogs(pdatatest.LogsData("dec", 12, 5, 8))
	for k := 1; k < 12; k++ {
		got := checkPrefix(t, &tr, p, k)
		if got.Form() != pdata.FormDecoded {
			t.Fatalf("form %s, want decoded", got.Form())
		}
	}
}

// Unknown fields at every level the cut rewrites are kept, and the cut
// still counts records as otlpwire does.
func TestPrefixKeepsUnknownFields(t *testing.T) {
	var tr trimmer
	b := pdatatest.LogsBytes("u", 6, 0, 8)
	b = rewriteEntries(t, b, func(res []byte) []byte {
		res = rewriteScopes(t, res, 2, func(scope []byte) []byte {
			return protowire.AppendBytes(protowire.AppendTag(scope, 77, protowire.BytesType), []byte("scope-extra"))
		})
		return protowire.AppendVarint(protowire.AppendTag(res, 99, protowire.VarintType), 42)
	})
	p, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil {
		t.Fatal(err)
	}
	got := checkPrefix(t, &tr, p, 4)
	chunks, _ := got.Chunks()
	var extra []protowire.Number
	rewriteEntries(t, chunks[0], func(res []byte) []byte {
		walk(res, func(num protowire.Number, _ protowire.Type, _, val []byte) error {
			if num == 99 {
				extra = append(extra, 99)
			}
			if num == fieldScopeLogs {
				walk(val, func(num protowire.Number, _ protowire.Type, _, _ []byte) error {
					if num == 77 {
						extra = append(extra, 77)
					}
					return nil
				})
			}
			return nil
		})
		return res
	})
	if !slices.Equal(extra, []protowire.Number{77, 99}) {
		t.Fatalf("unknown fields after the cut: %v, want scope's 77 and resource's 99", extra)
	}
}

// A resource entry with only the deprecated instrumentation_library_logs
// (field 1000) has its records there; the cut uses them. (plog's decoder
// ignores the field, so the records are compared after renaming it back.)
func TestPrefixDeprecatedScopes(t *testing.T) {
	var tr trimmer
	orig := pdatatest.LogsBytes("old", 8, 3, 8)
	want := pdatatest.LogBodies(t, pdatatest.LogsPayload("old", 8, 3, 8))
	b := renameScopes(t, orig, fieldScopeLogs, fieldOldScopeLogs)
	if st, err := otlpwire.Scan(otlpwire.Logs, b); err != nil || st.Items != 8 {
		t.Fatalf("scan of the rewritten request: %d items, %v", st.Items, err)
	}
	p, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k < 8; k++ {
		got, err := tr.prefix(p, k)
		if err != nil {
			t.Fatalf("prefix(%d): %v", k, err)
		}
		joined, _ := got.AppendOTLP(nil)
		back, err := pdata.FromOTLP(pdata.Logs, renameScopes(t, joined, fieldOldScopeLogs, fieldScopeLogs))
		if err != nil {
			t.Fatal(err)
		}
		if back.Items() != k || !slices.Equal(pdatatest.LogBodies(t, back), want[:k]) {
			t.Fatalf("prefix(%d): records %v, want %v", k, pdatatest.LogBodies(t, back), want[:k])
		}
	}
}

// renameScopes renames field from to field to in every resource entry.
func renameScopes(t *testing.T, req []byte, from, to protowire.Number) []byte {
	return rewriteEntries(t, req, func(res []byte) []byte {
		var out []byte
		walk(res, func(num protowire.Number, _ protowire.Type, field, val []byte) error {
			if num == from {
				out = protowire.AppendBytes(protowire.AppendTag(out, to, protowire.BytesType), val)
				return nil
			}
			out = append(out, field...)
			return nil
		})
		return out
	})
}

// TestPrefixRandom cuts random requests at random points.
func TestPrefixRandom(t *testing.T) {
	var tr trimmer
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 100 {
		n := 2 + rng.IntN(60)
		p := pdatatest.LogsPayload(fmt.Sprint(i), n, rng.IntN(n+1), rng.IntN(200))
		checkPrefix(t, &tr, p, 1+rng.IntN(n-1))
	}
}

// rewriteEntries applies f to the body of every resource entry of req.
func rewriteEntries(t *testing.T, req []byte, f func(res []byte) []byte) []byte {
	t.Helper()
	var out []byte
	err := walk(req, func(num protowire.Number, _ protowire.Type, field, val []byte) error {
		if num != fieldResourceEntry {
			out = append(out, field...)
			return nil
		}
		out = protowire.AppendBytes(protowire.AppendTag(out, num, protowire.BytesType), f(slices.Clone(val)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rewriteScopes applies f to the body of every field num of res.
func rewriteScopes(t *testing.T, res []byte, num protowire.Number, f func(scope []byte) []byte) []byte {
	t.Helper()
	var out []byte
	err := walk(res, func(n protowire.Number, _ protowire.Type, field, val []byte) error {
		if n != num {
			out = append(out, field...)
			return nil
		}
		out = protowire.AppendBytes(protowire.AppendTag(out, n, protowire.BytesType), f(slices.Clone(val)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// walk calls f for each field of the message body b with its number, wire
// type, whole encoding and, for a length-delimited field, its contents.
func walk(b []byte, f func(num protowire.Number, typ protowire.Type, field, val []byte) error) error {
	for len(b) > 0 {
		x, err := nextField(b)
		if err != nil {
			return err
		}
		if err := f(x.num, x.typ, b[:x.n], x.val); err != nil {
			return err
		}
		b = b[x.n:]
	}
	return nil
}
