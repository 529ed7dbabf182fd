package attribute

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ackflow/ackflow/pdata"
)

// Encodings that pdata's marshaller never writes but decoders accept, to
// hold the byte path to the pdata path where the wire and the model part:
// a resource or scope in several pieces (decoders merge them), or absent;
// scope entries in the deprecated field 1000; a KeyValue with two values
// (the last wins), unknown fields and an empty group; non-minimal length
// prefixes.

// fld is one field of a message.
type fld struct {
	num protowire.Number
	typ protowire.Type
	raw []byte // the whole field, tag included
	val []byte // the payload of a length-delimited field
}

func parseFields(t testing.TB, b []byte) []fld {
	t.Helper()
	var out []fld
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("parse: %v", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			t.Fatalf("parse: %v", protowire.ParseError(m))
		}
		f := fld{num: num, typ: typ, raw: b[:n+m]}
		if typ == protowire.BytesType {
			f.val, _ = protowire.ConsumeBytes(b[n:])
		}
		out = append(out, f)
		b = b[n+m:]
	}
	return out
}

func bytesField(dst []byte, num protowire.Number, payload []byte) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, payload)
}

// mapPath replaces the payload of every length-delimited field reached by
// the field numbers of path with f's result.
func mapPath(t testing.TB, b []byte, path []protowire.Number, f func([]byte) []byte) []byte {
	var out []byte
	for _, x := range parseFields(t, b) {
		if x.num != path[0] || x.typ != protowire.BytesType {
			out = append(out, x.raw...)
			continue
		}
		if len(path) == 1 {
			out = bytesField(out, x.num, f(x.val))
		} else {
			out = bytesField(out, x.num, mapPath(t, x.val, path[1:], f))
		}
	}
	return out
}

// splitSingle rewrites a resource or scope entry so that its field single
// (the resource or scope) comes in two pieces, the second at the end, its
// attributes (field attrs) shared between them.
func splitSingle(t testing.TB, single, attrs protowire.Number) func([]byte) []byte {
	return func(entry []byte) []byte {
		var out, second []byte
		for _, x := range parseFields(t, entry) {
			if x.num != single {
				out = append(out, x.raw...)
				continue
			}
			var first []byte
			i := 0
			for _, y := range parseFields(t, x.val) {
				if y.num == attrs && i%2 == 1 {
					second = append(second, y.raw...)
				} else {
					first = append(first, y.raw...)
				}
				if y.num == attrs {
					i++
				}
			}
			out = bytesField(out, single, first)
		}
		if second != nil {
			out = bytesField(out, single, second)
		}
		return out
	}
}

// dropSingle removes field single (an empty resource or scope) from an
// entry, when it has no attributes.
func dropSingle(t testing.TB, single, attrs protowire.Number) func([]byte) []byte {
	return func(entry []byte) []byte {
		var out []byte
		for _, x := range parseFields(t, entry) {
			if x.num == single {
				hasAttrs := false
				for _, y := range parseFields(t, x.val) {
					hasAttrs = hasAttrs || y.num == attrs
				}
				if !hasAttrs {
					continue
				}
			}
			out = append(out, x.raw...)
		}
		return out
	}
}

// oldScopes renumbers the scope entries of a resource entry as the
// deprecated field 1000.
func oldScopes(t testing.TB) func([]byte) []byte {
	return func(entry []byte) []byte {
		var out []byte
		for _, x := range parseFields(t, entry) {
			if x.num == 2 {
				out = bytesField(out, 1000, x.val)
			} else {
				out = append(out, x.raw...)
			}
		}
		return out
	}
}

// oddKeyValue gives a KeyValue a first value that the original overrides
// and an unknown varint field, and, if group, an empty group first: Scan
// checks the fields of metric metadata, where it refuses groups, but not
// those of other KeyValues. (pdata's decoder rejects a group at the end of
// a message: it reads a tag past the end group before it checks the
// depth.)
func oddKeyValue(group bool) func([]byte) []byte {
	return func(kv []byte) []byte {
		var out []byte
		if group {
			out = protowire.AppendTag(out, 10, protowire.StartGroupType)
			out = protowire.AppendTag(out, 10, protowire.EndGroupType)
		}
		out = bytesField(out, 2, protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.VarintType), 42))
		out = append(out, kv...)
		return protowire.AppendVarint(protowire.AppendTag(out, 9, protowire.VarintType), 5)
	}
}

// paddedLengths writes the length of every top-level entry with one
// byte more than needed.
func paddedLengths(t testing.TB, b []byte) []byte {
	var out []byte
	for _, x := range parseFields(t, b) {
		if x.typ != protowire.BytesType {
			out = append(out, x.raw...)
			continue
		}
		out = protowire.AppendTag(out, x.num, protowire.BytesType)
		n := uint64(len(x.val))
		for n >= 0x80 {
			out = append(out, byte(n)|0x80)
			n >>= 7
		}
		out = append(out, byte(n)|0x80, 0)
		out = append(out, x.val...)
	}
	return out
}

// attrPaths lists the paths from the request to the KeyValue fields of
// each attribute list of signal s (items: the record's own list).
func attrPaths(s pdata.Signal) [][]protowire.Number {
	paths := [][]protowire.Number{{1, 1, 1}, {1, 2, 1, 3}}
	switch s {
	case pdata.Logs:
		paths = append(paths, []protowire.Number{1, 2, 2, 6})
	case pdata.Traces:
		paths = append(paths, []protowire.Number{1, 2, 2, 9}, []protowire.Number{1, 2, 2, 11, 3}, []protowire.Number{1, 2, 2, 13, 4})
	case pdata.Metrics:
		paths = append(paths, []protowire.Number{1, 2, 2, 12}, []protowire.Number{1, 2, 2, 5, 1, 7}, []protowire.Number{1, 2, 2, 9, 1, 9},
			[]protowire.Number{1, 2, 2, 10, 1, 1}, []protowire.Number{1, 2, 2, 5, 1, 5, 7})
	}
	return paths
}

// variant is an encoding of a request that pdata's marshaller would not
// write.
type variant struct {
	name    string
	b       []byte
	minimal bool // its length prefixes are minimal
}

// variants returns encodings of b that pdata's marshaller would not write.
func variants(t testing.TB, s pdata.Signal, b []byte) []variant {
	odd := b
	for _, p := range attrPaths(s) {
		metadata := s == pdata.Metrics && len(p) == 4 && p[3] == 12
		odd = mapPath(t, odd, p, oddKeyValue(!metadata))
	}
	return []variant{
		{"resource in two pieces", mapPath(t, b, []protowire.Number{1}, splitSingle(t, 1, 1)), true},
		{"scope in two pieces", mapPath(t, b, []protowire.Number{1, 2}, splitSingle(t, 1, 3)), true},
		{"no resource", mapPath(t, b, []protowire.Number{1}, dropSingle(t, 1, 1)), true},
		{"no scope", mapPath(t, b, []protowire.Number{1, 2}, dropSingle(t, 1, 3)), true},
		{"pre-1.0 scope entries", mapPath(t, b, []protowire.Number{1}, oldScopes(t)), true},
		{"odd KeyValues", odd, true},
		{"padded lengths", paddedLengths(t, b), false},
	}
}
