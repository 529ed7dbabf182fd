package kafka

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// The protobuf walks below otlpwire's top level that the exporter needs:
// a resource entry taken apart at its scope entries, a scope entry at its
// items, one resource attribute, one item's trace id. They read only the
// fields they need and copy bytes as they are; nothing is decoded into
// objects. Payloads passed otlpwire.Scan when they were built, so a framing
// error here is unexpected, but it is still reported (errMalformed).

// Field numbers from opentelemetry-proto; the resource and scope levels
// use the same numbers for the three signals.
const (
	fieldRequestResources = 1    // Export*ServiceRequest.resource_{logs,metrics,spans}
	fieldResourceResource = 1    // Resource{Logs,Metrics,Spans}.resource
	fieldResourceScopes   = 2    // .scope_{logs,metrics,spans}
	fieldResourceOld      = 1000 // deprecated instrumentation_library_*: read only without scope entries
	fieldScopeItems       = 2    // Scope{Logs,Spans}.log_records / .spans
	fieldResourceAttrs    = 1    // Resource.attributes
	fieldKeyValueKey      = 1    // KeyValue.key
	fieldKeyValueValue    = 2    // KeyValue.value
	fieldSpanTraceID      = 1    // Span.trace_id
	fieldLogTraceID       = 9    // LogRecord.trace_id
)

// AnyValue's oneof fields.
const (
	anyString = 1
	anyBool   = 2
	anyInt    = 3
	anyDouble = 4
	anyBytes  = 7
)

var errMalformed = errors.New("malformed OTLP request")

// errStop ends an eachField walk early without an error.
var errStop = errors.New("stop")

// field is one protobuf field of a message.
type field struct {
	num protowire.Number
	typ protowire.Type
	raw []byte // the whole field: tag, length prefix, value
	val []byte // the value of a length-delimited field
	u   uint64 // the value of a varint or fixed-size field
}

// nextField reads the field at the start of b and returns it with its size.
func nextField(b []byte) (field, int, error) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return field{}, 0, fmt.Errorf("%w: %v", errMalformed, protowire.ParseError(n))
	}
	f := field{num: num, typ: typ}
	var m int
	switch typ {
	case protowire.BytesType:
		f.val, m = protowire.ConsumeBytes(b[n:])
	case protowire.VarintType:
		f.u, m = protowire.ConsumeVarint(b[n:])
	case protowire.Fixed64Type:
		f.u, m = protowire.ConsumeFixed64(b[n:])
	case protowire.Fixed32Type:
		var v uint32
		v, m = protowire.ConsumeFixed32(b[n:])
		f.u = uint64(v)
	default:
		return field{}, 0, fmt.Errorf("%w: wire type %d", errMalformed, typ)
	}
	if m < 0 {
		return field{}, 0, fmt.Errorf("%w: field %d: %v", errMalformed, num, protowire.ParseError(m))
	}
	n += m
	f.raw = b[:n:n]
	return f, n, nil
}

// eachField calls fn on every field of the message b, in order, until fn
// returns an error; errStop ends the walk with none.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		f, n, err := nextField(b)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
		b = b[n:]
	}
	return nil
}

// resourceView is one resource entry (ResourceLogs, ResourceMetrics or
// ResourceSpans) taken apart at its scope entries.
type resourceView struct {
	head     [][]byte         // its other fields (resource, schema_url, unknown ones), whole
	headLen  int              // their total size
	scopeNum protowire.Number // the field the scope entries are in
	scopes   [][]byte         // the scope entries, whole fields
}

// parseResource takes apart the value of a top-level resource entry. The
// scope entries are those of field 2; a resource that has none keeps its
// pre-1.0 entries (field 1000) instead, which is when pdata reads them.
// Pre-1.0 entries beside current ones are dropped: pdata ignores them.
func parseResource(body []byte) (resourceView, error) {
	v := resourceView{scopeNum: fieldResourceScopes}
	var old [][]byte
	err := eachField(body, func(f field) error {
		switch {
		case f.num == fieldResourceScopes && f.typ == protowire.BytesType:
			v.scopes = append(v.scopes, f.raw)
		case f.num == fieldResourceOld && f.typ == protowire.BytesType:
			old = append(old, f.raw)
		default:
			v.head = append(v.head, f.raw)
			v.headLen += len(f.raw)
		}
		return nil
	})
	if len(v.scopes) == 0 && len(old) > 0 {
		v.scopes, v.scopeNum = old, fieldResourceOld
	}
	return v, err
}

// scopeView is one scope entry taken apart at its items (log records or
// spans).
type scopeView struct {
	head    [][]byte // the scope's other fields, whole
	headLen int
	items   [][]byte // the items' values (without tag and length)
}

// parseScope takes apart the value of a scope entry.
func parseScope(body []byte) (scopeView, error) {
	var v scopeView
	err := eachField(body, func(f field) error {
		if f.num == fieldScopeItems && f.typ == protowire.BytesType {
			v.items = append(v.items, f.val)
			return nil
		}
		v.head = append(v.head, f.raw)
		v.headLen += len(f.raw)
		return nil
	})
	return v, err
}

// entrySize is the size of a length-delimited field num holding n bytes.
func entrySize(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

// appendEntry appends field num holding the concatenation of parts, whose
// total size is n.
func appendEntry(dst []byte, num protowire.Number, n int, parts ...[][]byte) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(n))
	for _, ps := range parts {
		for _, p := range ps {
			dst = append(dst, p...)
		}
	}
	return dst
}

// splitResource cuts entry, one top-level field of a request larger than
// limit, into requests of at most limit bytes: entries of the same resource
// (its resource, schema_url and unknown fields repeated in each) holding
// consecutive runs of its scope entries. A scope entry that cannot fit even
// alone, or a top-level field that is not a resource entry, is a
// *tooLargeError.
func splitResource(entry []byte, limit int) ([][]byte, error) {
	f, _, err := nextField(entry)
	if err != nil {
		return nil, err
	}
	if f.num != fieldRequestResources || f.typ != protowire.BytesType {
		return nil, &tooLargeError{what: "top-level field", need: len(entry), entry: len(entry), limit: limit}
	}
	v, err := parseResource(f.val)
	if err != nil {
		return nil, err
	}
	if len(v.scopes) == 0 {
		return nil, &tooLargeError{what: "resource without scopes", need: len(entry), entry: len(entry), limit: limit}
	}
	var out [][]byte
	var run [][]byte
	runLen := 0
	flush := func() {
		n := v.headLen + runLen
		out = append(out, appendEntry(make([]byte, 0, entrySize(fieldRequestResources, n)), fieldRequestResources, n, v.head, run))
		run, runLen = nil, 0
	}
	for _, s := range v.scopes {
		if need := entrySize(fieldRequestResources, v.headLen+len(s)); need > limit {
			return nil, &tooLargeError{what: "scope", need: need, entry: len(entry), limit: limit}
		}
		if len(run) > 0 && entrySize(fieldRequestResources, v.headLen+runLen+len(s)) > limit {
			flush()
		}
		run = append(run, s)
		runLen += len(s)
	}
	flush()
	return out, nil
}

// tooLargeError is a part of a payload that no record under
// max_message_bytes can hold, because the exporter cuts requests only
// between resources and between scopes.
type tooLargeError struct {
	what  string // "scope", "top-level field", ...
	need  int    // the smallest record value that would hold it
	entry int    // the size of the resource entry it is in
	limit int    // what max_message_bytes leaves for a record's value
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("a %s needs a record value of %d bytes (its resource entry is %d bytes), over the %d bytes max_message_bytes leaves for a value; requests are cut only between resources and scopes",
		e.what, e.need, e.entry, e.limit)
}

// attrValue returns the text of the resource attribute key in the Resource
// message res, and whether it is there. Strings are their text, bools,
// ints and doubles their usual decimal form, bytes their raw value; arrays
// and maps are their AnyValue encoding. The first occurrence wins, as in
// pdata's Map.Get.
func attrValue(res []byte, key string) ([]byte, bool, error) {
	var out []byte
	found := false
	err := eachField(res, func(f field) error {
		if f.num != fieldResourceAttrs || f.typ != protowire.BytesType {
			return nil
		}
		var k, v []byte
		hasKey := false
		if err := eachField(f.val, func(kv field) error {
			switch {
			case kv.num == fieldKeyValueKey && kv.typ == protowire.BytesType:
				k, hasKey = kv.val, true
			case kv.num == fieldKeyValueValue && kv.typ == protowire.BytesType:
				v = kv.val
			}
			return nil
		}); err != nil {
			return err
		}
		if !hasKey || string(k) != key {
			return nil
		}
		found = true
		var err error
		if out, err = anyText(v); err != nil {
			return err
		}
		return errStop
	})
	return out, found, err
}

// anyText renders an AnyValue as partition-key text (see attrValue).
func anyText(v []byte) ([]byte, error) {
	var out []byte
	set := false
	err := eachField(v, func(f field) error {
		set = true
		switch {
		case f.num == anyString && f.typ == protowire.BytesType, f.num == anyBytes && f.typ == protowire.BytesType:
			out = f.val
		case f.num == anyBool && f.typ == protowire.VarintType:
			out = strconv.AppendBool(nil, f.u != 0)
		case f.num == anyInt && f.typ == protowire.VarintType:
			out = strconv.AppendInt(nil, int64(f.u), 10)
		case f.num == anyDouble && f.typ == protowire.Fixed64Type:
			out = strconv.AppendFloat(nil, math.Float64frombits(f.u), 'g', -1, 64)
		default:
			out = v // arrays, maps, unknown: the encoding identifies the value
		}
		return nil
	})
	if !set {
		return nil, err
	}
	return out, err
}

// traceID returns the trace id of an item (a span or a log record:
// traceField says which field holds it), or nil when it has none (absent,
// empty or all zeros). The slice aliases item.
func traceID(item []byte, traceField protowire.Number) ([]byte, error) {
	var id []byte
	err := eachField(item, func(f field) error {
		if f.num == traceField && f.typ == protowire.BytesType {
			id = f.val
			return errStop // a repeated field would be a broken encoder: the first wins
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range id {
		if c != 0 {
			return id, nil
		}
	}
	return nil, nil
}

// resourceMessages returns the Resource messages of a resource entry's
// value: one, unless an encoder repeated the field (protobuf merges the
// occurrences).
func resourceMessages(body []byte) ([][]byte, error) {
	var out [][]byte
	err := eachField(body, func(f field) error {
		if f.num == fieldResourceResource && f.typ == protowire.BytesType {
			out = append(out, f.val)
		}
		return nil
	})
	return out, err
}
