package otlpwire

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxValueDepth is how deep AnyValues may nest in a request: a log body or
// an attribute's value is at level 1, an AnyValue inside its array_value or
// kvlist_value at level 2, and so on. The value of a KeyValue counts even
// when the field is absent, because pdata gives every KeyValue a value and
// writes it back out.
//
// Decoders recurse once or more per level (pdata's UnmarshalProto, AsRaw,
// the JSON marshaller...), so a request nested millions deep, a few MB
// gzipped, would overflow the stack of any node that decodes it, and a
// stack overflow kills the whole process. 64 levels is far beyond real
// telemetry (structured logs parsed from JSON rarely go past 10) and costs
// decoders nothing.
const MaxValueDepth = 64

// ErrTooDeep is wrapped, together with ErrMalformed, by the error of a
// request whose AnyValues nest deeper than MaxValueDepth.
var ErrTooDeep = errors.New("otlpwire: values nested too deep")

// msgType is a message that is, or leads to, AnyValues: the messages whose
// contents Scan does not interpret otherwise (see checkMessage), and the
// value messages themselves.
type msgType uint8

const (
	tNone msgType = iota // no AnyValue inside
	tLogRecord
	tSpan
	tEvent
	tLink
	tResource
	tScope
	tMetric // only its metadata: Scan walks the rest itself
	tNumberPoint
	tHistogramPoint
	tExpHistogramPoint
	tSummaryPoint
	tExemplar
	tKeyValue
	tAnyValue
	tArrayValue
	tKeyValueList
	numMsgTypes
)

// valueField is a field of a message that holds or leads to AnyValues.
type valueField struct {
	num      uint64
	name     string
	typ      msgType
	repeated bool
}

// msgTypes describes each msgType: its name and the fields that lead to
// AnyValues, with the numbers of opentelemetry-proto (checked against the
// generated UnmarshalProto code of go.opentelemetry.io/collector/pdata
// v1.70.0, which recurses into exactly these fields).
var msgTypes = [numMsgTypes]struct {
	name   string
	fields []valueField
}{
	tLogRecord:         {"LogRecord", []valueField{{5, "body", tAnyValue, false}, {6, "attributes", tKeyValue, true}}},
	tSpan:              {"Span", []valueField{{9, "attributes", tKeyValue, true}, {11, "events", tEvent, true}, {13, "links", tLink, true}}},
	tEvent:             {"Span.Event", []valueField{{3, "attributes", tKeyValue, true}}},
	tLink:              {"Span.Link", []valueField{{4, "attributes", tKeyValue, true}}},
	tResource:          {"Resource", []valueField{{1, "attributes", tKeyValue, true}}},
	tScope:             {"InstrumentationScope", []valueField{{3, "attributes", tKeyValue, true}}},
	tMetric:            {"Metric", []valueField{{12, "metadata", tKeyValue, true}}},
	tNumberPoint:       {"NumberDataPoint", []valueField{{7, "attributes", tKeyValue, true}, {5, "exemplars", tExemplar, true}}},
	tHistogramPoint:    {"HistogramDataPoint", []valueField{{9, "attributes", tKeyValue, true}, {8, "exemplars", tExemplar, true}}},
	tExpHistogramPoint: {"ExponentialHistogramDataPoint", []valueField{{1, "attributes", tKeyValue, true}, {11, "exemplars", tExemplar, true}}},
	tSummaryPoint:      {"SummaryDataPoint", []valueField{{7, "attributes", tKeyValue, true}}},
	tExemplar:          {"Exemplar", []valueField{{7, "filtered_attributes", tKeyValue, true}}},
	tKeyValue:          {"KeyValue", []valueField{{2, "value", tAnyValue, false}}},
	tAnyValue:          {"AnyValue", []valueField{{5, "array_value", tArrayValue, false}, {6, "kvlist_value", tKeyValueList, false}}},
	tArrayValue:        {"ArrayValue", []valueField{{1, "values", tAnyValue, true}}},
	tKeyValueList:      {"KeyValueList", []valueField{{1, "values", tKeyValue, true}}},
}

func (t msgType) String() string { return msgTypes[t].name }

// children is msgTypes' fields as a table: children[t][num] is the type of
// field num of a t, tNone if it leads to no AnyValue. Every such field
// number is below 16.
var children = func() (c [numMsgTypes][16]msgType) {
	for t, m := range msgTypes {
		for _, f := range m.fields {
			c[t][f.num] = f.typ
		}
	}
	return c
}()

// child returns the type of field num of a t, tNone if it leads to no
// AnyValue.
func (t msgType) child(num uint64) msgType {
	if num < 16 {
		return children[t][num]
	}
	return tNone
}

// bytesPerLevel is the least an AnyValue level can take on the wire: the
// tag and length of array_value (or kvlist_value) and of the ArrayValue's
// values (or the KeyValueList's values, whose KeyValue implies its value),
// one byte each. A message of n bytes therefore holds AnyValues at most
// n/bytesPerLevel levels below it, which lets the walk skip every field too
// short to break the limit: records and attributes of ordinary telemetry
// are never entered.
const bytesPerLevel = 4

// tooDeep walks the message of type t in b[pos:] (b ends where the message
// does), whose nearest enclosing AnyValue is at level depth (0: none), and
// returns the position of the tag of a field holding an AnyValue deeper
// than MaxValueDepth, or -1.
//
// It checks nesting only. A framing error ends the walk of its message
// without a verdict: checkMessage reports those at the level Scan checks,
// and pdata those inside values, where Scan does not look. Since pdata
// stops at the first framing error of a message, it never descends further
// than this walk. The recursion is bounded by MaxValueDepth (three calls
// per level at most).
func tooDeep(b []byte, pos int, t msgType, depth int) int {
	short := bytesPerLevel * (MaxValueDepth - depth) // fields shorter cannot break the limit
	for pos < len(b) {
		if len(b)-pos < short {
			return -1 // nothing left is long enough
		}
		tagPos := pos
		// The fast path of checkMessage: a one-byte tag with a one- or
		// two-byte length or a one-byte varint, or a fixed-size value (tag
		// and length do not inline).
		if c := b[pos]; c-8 < 0x78 && pos+1 < len(b) {
			x := int(b[pos+1])
			switch c & 7 {
			case wireBytes:
				start := pos + 2
				if x >= 0x80 {
					if pos+2 >= len(b) || b[pos+2] >= 0x80 {
						break // a longer length: the general path
					}
					x = x&0x7f | int(b[pos+2])<<7
					start++
				}
				if x <= len(b)-start {
					pos = start + x
					if x < short {
						continue
					}
					if ch := t.child(uint64(c >> 3)); ch != tNone {
						if off := fieldTooDeep(b, tagPos, start, pos, ch, depth); off >= 0 {
							return off
						}
					}
					continue
				}
			case wireFixed64:
				if len(b)-pos > 8 {
					pos += 9
					continue
				}
			case wireVarint:
				if x < 0x80 {
					pos += 2
					continue
				}
			case wireFixed32:
				if len(b)-pos > 4 {
					pos += 5
					continue
				}
			}
		}
		v, p := tag(b, pos)
		if p < 0 {
			return -1
		}
		wt := uint8(v & 7)
		if wt != wireBytes {
			if pos = skipValue(b, p, wt); pos < 0 {
				return -1
			}
			continue
		}
		start, end := length(b, p)
		if end < 0 {
			return -1
		}
		pos = end
		if end-start < short {
			continue
		}
		if c := t.child(v >> 3); c != tNone {
			if off := fieldTooDeep(b, tagPos, start, end, c, depth); off >= 0 {
				return off
			}
		}
	}
	return -1
}

// fieldTooDeep checks the message of type c in b[start:end], a field whose
// tag is at tagPos in a message whose nearest enclosing AnyValue is at
// level depth. It returns where the offending field is, or -1.
func fieldTooDeep(b []byte, tagPos, start, end int, c msgType, depth int) int {
	if c == tNone || end-start < bytesPerLevel*(MaxValueDepth-depth) {
		return -1 // too short to hold anything below the limit
	}
	switch c {
	case tAnyValue:
		depth++
	case tKeyValue:
		// Its value is an AnyValue, written out by pdata even when absent.
		if depth+1 > MaxValueDepth {
			return tagPos
		}
	}
	if depth > MaxValueDepth {
		return tagPos
	}
	return tooDeep(b[:end], start, c, depth)
}

// depthError is the internal form of a too-deep request, turned into an
// error that names where by locate, which needs the whole request.
type depthError struct{ off int }

func (e *depthError) Error() string {
	return fmt.Sprintf("%v: at byte %d: AnyValues nested more than %d levels deep", ErrTooDeep, e.off, MaxValueDepth)
}

// tooDeepErr returns the error for a depthError found in request b of kind
// k: it wraps ErrMalformed and ErrTooDeep and names the path to the value.
func tooDeepErr(k Kind, b []byte, e *depthError) error {
	return fmt.Errorf("%w: at byte %d: %s: AnyValues nested more than %d levels deep (%w)",
		ErrMalformed, e.off, locate(k, b, e.off), MaxValueDepth, ErrTooDeep)
}

// locate names the field at offset off of request b, down to the first
// field that is an AnyValue or a KeyValue, such as
// "resource_logs[0].scope_logs[2].log_records[17].attributes[3]". It only
// runs on errors, and walks the framing Scan has already checked up to off.
func locate(k Kind, b []byte, off int) string {
	s := &schemas[k]
	levels := []struct {
		name string
		num  uint64
	}{ // request, resource entry, scope entry
		{s.resourceField, fieldRequestResources},
		{s.scopeField, fieldResourceScopes},
		{s.itemField, fieldScopeItems},
	}
	var path []byte
	pos, end := 0, len(b)
	for i, l := range levels {
		var num uint64
		var idx int
		if num, idx, pos, end = find(b, pos, end, off); pos < 0 {
			return string(path)
		}
		switch {
		case num == l.num:
			path = appendPath(path, l.name, idx, true)
		case i == 1 && num == fieldResourceOldScopes:
			path = appendPath(path, s.oldScopeField, idx, true)
		case i == 1 && num == fieldResourceResource:
			path = appendPath(path, "resource", 0, false)
			return string(locateValue(path, b, pos, end, tResource, off))
		case i == 2 && num == fieldScopeScope:
			path = appendPath(path, "scope", 0, false)
			return string(locateValue(path, b, pos, end, tScope, off))
		default:
			return string(path)
		}
	}
	if k != Metrics {
		return string(locateValue(path, b, pos, end, s.itemType, off))
	}
	num, idx, pos2, end2 := find(b, pos, end, off)
	switch {
	case pos2 < 0:
		return string(path)
	case num == fieldMetricMetadata:
		return string(appendPath(path, "metadata", idx, true))
	case int(num) < len(dataKinds) && dataKinds[num].point != "":
		d := &dataKinds[num]
		path = appendPath(path, d.field, 0, false)
		_, idx, pos3, end3 := find(b, pos2, end2, off)
		if pos3 < 0 {
			return string(path)
		}
		path = appendPath(path, "data_points", idx, true)
		return string(locateValue(path, b, pos3, end3, d.pointType, off))
	}
	return string(path)
}

// locateValue continues locate inside a message of type t in b[pos:end].
func locateValue(path, b []byte, pos, end int, t msgType, off int) []byte {
	for t != tKeyValue && t != tAnyValue && t != tNone {
		num, idx, p, e := find(b, pos, end, off)
		if p < 0 {
			return path
		}
		for _, f := range msgTypes[t].fields {
			if f.num == num {
				path = appendPath(path, f.name, idx, f.repeated)
				break
			}
		}
		t, pos, end = t.child(num), p, e
	}
	return path
}

// find returns the number of the length-delimited field of the message in
// b[pos:end] that contains offset off, how many fields of that number come
// before it, and the bounds of its payload; pos < 0 if there is none.
func find(b []byte, pos, end, off int) (num uint64, idx, start, stop int) {
	seen := map[uint64]int{}
	for pos < end {
		v, p := tag(b[:end], pos)
		if p < 0 {
			return 0, 0, -1, -1
		}
		num, wt := v>>3, uint8(v&7)
		if wt == wireBytes {
			start, stop := length(b[:end], p)
			if stop < 0 {
				return 0, 0, -1, -1
			}
			if pos <= off && off < stop {
				return num, seen[num], start, stop
			}
			seen[num]++
			pos = stop
			continue
		}
		if pos = skipValue(b[:end], p, wt); pos < 0 {
			return 0, 0, -1, -1
		}
	}
	return 0, 0, -1, -1
}

func appendPath(path []byte, name string, idx int, repeated bool) []byte {
	if len(path) > 0 {
		path = append(path, '.')
	}
	path = append(path, name...)
	if repeated {
		path = append(path, '[')
		path = strconv.AppendInt(path, int64(idx), 10)
		path = append(path, ']')
	}
	return path
}
