package otlpwire

import (
	"encoding/binary"
	"math/bits"
)

// This file is the attribute rewrite: a walk that copies a request and lets
// an editor change its attribute lists (the KeyValue entries of resources,
// scopes and items) on the way, re-encoding only the entries that changed
// and the length prefixes of the messages that enclose them.
//
// Above the attribute-bearing messages (request, resource entry, scope
// entry, metric data containers) it relies on Scan, which AppendRewrite
// runs first. From Resource, InstrumentationScope and the items down it
// reads the way pdata's decoder does (the p* helpers below), because Scan
// does not look inside KeyValues, span events and links or exemplars: a
// request pdata decodes is rewritten, and the result decodes to what
// editing pdata's model would give.

// Domains is a set of attribute lists a rewrite visits.
type Domains uint8

// The attribute domains. ItemAttrs follows the reference engine's "signal"
// domain, with exponential histograms added: log record attributes; span,
// span event and span link attributes; metric metadata and the attributes
// of every kind of data point and of their exemplars (filtered_attributes).
const (
	ResourceAttrs Domains = 1 << iota // Resource.attributes
	ScopeAttrs                        // InstrumentationScope.attributes
	ItemAttrs                         // the attributes of items and what they contain
	AllAttrs      = ResourceAttrs | ScopeAttrs | ItemAttrs
)

// String returns "resource", "scope", "item", or the names joined by "|".
func (d Domains) String() string {
	var s string
	for _, x := range [...]struct {
		d    Domains
		name string
	}{{ResourceAttrs, "resource"}, {ScopeAttrs, "scope"}, {ItemAttrs, "item"}} {
		if d&x.d != 0 {
			if s != "" {
				s += "|"
			}
			s += x.name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// ValueType is the type of an attribute's value: the number of the
// AnyValue field that holds it, 0 for none.
type ValueType uint8

// Value types, numbered as the AnyValue fields.
const (
	ValueEmpty  ValueType = iota // no value (an absent or empty AnyValue)
	ValueStr                     // string_value
	ValueBool                    // bool_value
	ValueInt                     // int_value
	ValueDouble                  // double_value
	ValueArray                   // array_value
	ValueMap                     // kvlist_value
	ValueBytes                   // bytes_value
)

var valueTypeNames = [...]string{"empty", "string", "bool", "int", "double", "array", "map", "bytes"}

// String returns the type's name ("string", "int", ...).
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return "invalid"
}

// Value is an attribute's value as a rewrite sees it.
type Value struct {
	Type ValueType
	// Bytes holds the contents of a string or bytes value, and the encoded
	// ArrayValue or KeyValueList of an array or map value.
	Bytes []byte
	// Num holds a bool (0 or 1), the bits of an int64, or the bits of a
	// float64 (math.Float64bits).
	Num uint64
}

// Scalar reports whether v is a string, bool, int, double or bytes value.
func (v Value) Scalar() bool {
	switch v.Type {
	case ValueStr, ValueBool, ValueInt, ValueDouble, ValueBytes:
		return true
	}
	return false
}

// normalize makes v encodable: an unknown type is empty, a bool is 0 or 1,
// and only the types that use Bytes keep them.
func (v Value) normalize() Value {
	switch v.Type {
	case ValueStr, ValueArray, ValueMap, ValueBytes:
		v.Num = 0
	case ValueBool:
		if v.Num != 0 {
			v.Num = 1
		}
		v.Bytes = nil
	case ValueInt, ValueDouble:
		v.Bytes = nil
	default:
		v = Value{}
	}
	return v
}

// appendAnyValue appends the encoding of the AnyValue v (normalized).
func appendAnyValue(dst []byte, v Value) []byte {
	switch v.Type {
	case ValueStr, ValueArray, ValueMap, ValueBytes:
		dst = append(dst, byte(v.Type)<<3|wireBytes)
		dst = appendVarint(dst, uint64(len(v.Bytes)))
		return append(dst, v.Bytes...)
	case ValueBool, ValueInt:
		dst = append(dst, byte(v.Type)<<3|wireVarint)
		return appendVarint(dst, v.Num)
	case ValueDouble:
		dst = append(dst, byte(v.Type)<<3|wireFixed64)
		return binary.LittleEndian.AppendUint64(dst, v.Num)
	}
	return dst
}

// AttrsEditor changes the attribute lists of a request during a rewrite.
type AttrsEditor interface {
	// EditAttrs is called once for every attribute list the rewrite
	// visits, in request order, including empty lists (and the lists of
	// resources and scopes that are absent from the encoding, which
	// decoders treat as empty), so that entries can be appended anywhere.
	// a is valid only during the call.
	EditAttrs(a *Attrs)
}

// span is a range of bytes, in the request or in an Attrs buffer.
type span struct{ start, end int }

// attrEntry is one entry of an attribute list.
type attrEntry struct {
	tagStart int // of the KeyValue field in the request; -1 for an appended entry
	start    int // of the KeyValue payload
	end      int // of the field
	occ      int // which occurrence of the list's message holds it

	key    span // the key, in the request or, when keyNew, in buf
	vbytes span // the value's Bytes, in the request or, when valNew, in buf
	enc    span // the encoded AnyValue in buf, when valNew
	vnum   uint64
	vtype  ValueType

	keyNew, valNew, deleted, added bool
}

// Attrs is one attribute list during a rewrite: the KeyValue entries of
// one message, in order, with the edits made so far. A resource or scope
// encoded in several pieces (decoders merge them) is one list.
//
// Entries are numbered from 0 to Len()-1 in list order, entries appended
// by Append last; a deleted entry keeps its number. Key and Value return
// slices that stay valid until the next edit of the list.
type Attrs struct {
	domain Domains
	b      []byte // the request
	ents   []attrEntry
	buf    []byte // keys and values written by edits
	dirty  bool
}

// Domain says which domain the list belongs to: exactly one of
// ResourceAttrs, ScopeAttrs and ItemAttrs.
func (a *Attrs) Domain() Domains { return a.domain }

// Len returns the number of entries, deleted ones included.
func (a *Attrs) Len() int { return len(a.ents) }

// Deleted reports whether entry i was deleted.
func (a *Attrs) Deleted(i int) bool { return a.ents[i].deleted }

// Key returns the key of entry i.
func (a *Attrs) Key(i int) []byte {
	e := &a.ents[i]
	if e.keyNew {
		return a.buf[e.key.start:e.key.end]
	}
	return a.b[e.key.start:e.key.end]
}

// Value returns the value of entry i. For an entry encoded with several
// values it is the one decoders keep: the last field of the AnyValue
// oneof.
func (a *Attrs) Value(i int) Value {
	e := &a.ents[i]
	v := Value{Type: e.vtype, Num: e.vnum}
	switch e.vtype {
	case ValueStr, ValueArray, ValueMap, ValueBytes:
		src := a.b
		if e.valNew {
			src = a.buf
		}
		v.Bytes = src[e.vbytes.start:e.vbytes.end]
	}
	return v
}

// Delete removes entry i from the list.
func (a *Attrs) Delete(i int) {
	a.ents[i].deleted = true
	a.dirty = true
}

// SetKey changes the key of entry i.
func (a *Attrs) SetKey(i int, key string) {
	e := &a.ents[i]
	start := len(a.buf)
	a.buf = append(a.buf, key...)
	e.key, e.keyNew = span{start, len(a.buf)}, true
	a.dirty = true
}

// SetValue changes the value of entry i to v, which may alias a value of
// this list.
func (a *Attrs) SetValue(i int, v Value) {
	a.setValue(&a.ents[i], v)
	a.dirty = true
}

// Append adds an entry with key and v at the end of the list.
func (a *Attrs) Append(key string, v Value) {
	e := attrEntry{tagStart: -1, occ: -1, added: true, keyNew: true}
	start := len(a.buf)
	a.buf = append(a.buf, key...)
	e.key = span{start, len(a.buf)}
	a.setValue(&e, v)
	a.ents = append(a.ents, e)
	a.dirty = true
}

func (a *Attrs) setValue(e *attrEntry, v Value) {
	v = v.normalize()
	start := len(a.buf)
	// v.Bytes may alias buf: if append moves buf, v.Bytes still reads the
	// old array, whose contents are unchanged.
	a.buf = appendAnyValue(a.buf, v)
	e.enc = span{start, len(a.buf)}
	e.vtype, e.vnum, e.valNew = v.Type, v.Num, true
	e.vbytes = span{len(a.buf) - len(v.Bytes), len(a.buf)}
}

// reset empties the list for a new message of request b.
func (a *Attrs) reset(b []byte, d Domains) {
	a.domain, a.b, a.dirty = d, b, false
	a.ents = a.ents[:0]
	a.buf = a.buf[:0]
}

// hasAdded reports whether a live entry was appended.
func (a *Attrs) hasAdded() bool {
	for i := range a.ents {
		if e := &a.ents[i]; e.added && !e.deleted {
			return true
		}
	}
	return false
}

// add parses the KeyValue field b[tagStart:end] (payload from start) as
// pdata's decoder does and appends it as an entry of occurrence occ.
func (a *Attrs) add(b []byte, tagStart, start, end, occ int) error {
	e := attrEntry{tagStart: tagStart, start: start, end: end, occ: occ}
	kv := b[:end]
	for pos := start; pos < end; {
		num, wt, p := ptag(kv, pos)
		if p < 0 {
			return malformed(pos, "KeyValue: invalid tag")
		}
		switch num {
		case 1, 2:
			if wt != wireBytes {
				return malformed(pos, "KeyValue: field %d has wire type %s, want length-delimited", num, wireTypeName(wt))
			}
			s, t := plen(kv, p)
			if t < 0 {
				return malformed(p, "KeyValue: length overruns the message")
			}
			if num == 1 {
				e.key = span{s, t}
			} else if !anyValue(kv[:t], s, &e) {
				return malformed(s, "AnyValue: malformed field")
			}
			pos = t
		case 3: // key_strindex
			if wt != wireVarint {
				return malformed(pos, "KeyValue: field 3 has wire type %s, want varint", wireTypeName(wt))
			}
			if _, pos = pvarint(kv, p); pos < 0 {
				return malformed(p, "KeyValue: invalid varint")
			}
		default:
			if pos = pskip(kv, p, wt); pos < 0 {
				return malformed(p, "KeyValue: malformed unknown field")
			}
		}
	}
	a.ents = append(a.ents, e)
	return nil
}

// anyValue reads the AnyValue b[pos:] into e as pdata's decoder does, over
// what e already holds: repeated value fields merge, so the last oneof
// field wins.
func anyValue(b []byte, pos int, e *attrEntry) bool {
	for pos < len(b) {
		num, wt, p := ptag(b, pos)
		if p < 0 {
			return false
		}
		switch num {
		case 1, 5, 6, 7:
			if wt != wireBytes {
				return false
			}
			s, t := plen(b, p)
			if t < 0 {
				return false
			}
			e.vtype, e.vbytes, e.vnum = ValueType(num), span{s, t}, 0
			pos = t
		case 2, 3:
			if wt != wireVarint {
				return false
			}
			v, t := pvarint(b, p)
			if t < 0 {
				return false
			}
			if num == 2 && v != 0 {
				v = 1
			}
			e.vtype, e.vbytes, e.vnum = ValueType(num), span{}, v
			pos = t
		case 4:
			if wt != wireFixed64 || len(b)-p < 8 {
				return false
			}
			e.vtype, e.vbytes, e.vnum = ValueDouble, span{}, binary.LittleEndian.Uint64(b[p:])
			pos = p + 8
		default:
			if pos = pskip(b, p, wt); pos < 0 {
				return false
			}
		}
	}
	return true
}

// appendEntry appends entry e as field number field (a KeyValue).
func (a *Attrs) appendEntry(dst []byte, field int32, e *attrEntry) []byte {
	if !e.keyNew && !e.valNew {
		return append(dst, a.b[e.tagStart:e.end]...)
	}
	dst = appendVarint(dst, uint64(field)<<3|wireBytes)
	dst, at := openLen(dst, 1)
	key := a.b
	if e.keyNew {
		key = a.buf
	}
	dst = append(dst, 1<<3|wireBytes)
	dst = appendVarint(dst, uint64(e.key.end-e.key.start))
	dst = append(dst, key[e.key.start:e.key.end]...)
	if e.valNew {
		dst = append(dst, 2<<3|wireBytes)
		dst = appendVarint(dst, uint64(e.enc.end-e.enc.start))
		dst = append(dst, a.buf[e.enc.start:e.enc.end]...)
	}
	if !e.added {
		// The other fields of the original, as they were: its value unless
		// replaced, key_strindex and unknown fields. add checked them.
		kv := a.b[:e.end]
		for pos := e.start; pos < e.end; {
			num, wt, p := ptag(kv, pos)
			next := pskip(kv, p, wt)
			if num != 1 && (num != 2 || !e.valNew) {
				dst = append(dst, kv[pos:next]...)
			}
			pos = next
		}
	}
	return closeLen(dst, at, 1)
}

// appendOccurrence appends the payload b[start:end] of occurrence occ of
// the list's message with its entries edited, and the appended entries if
// it is the last occurrence. cursor is the index of its first entry; it
// returns the index after its last.
func (a *Attrs) appendOccurrence(dst []byte, start, end int, field int32, occ, cursor int, last bool) ([]byte, int) {
	cur := start
	for ; cursor < len(a.ents) && a.ents[cursor].occ == occ; cursor++ {
		e := &a.ents[cursor]
		if e.deleted || e.keyNew || e.valNew {
			dst = append(dst, a.b[cur:e.tagStart]...)
			if !e.deleted {
				dst = a.appendEntry(dst, field, e)
			}
			cur = e.end
		}
	}
	dst = append(dst, a.b[cur:end]...)
	if last {
		dst = a.appendAdded(dst, field)
	}
	return dst, cursor
}

// appendAdded appends the live entries added by Append.
func (a *Attrs) appendAdded(dst []byte, field int32) []byte {
	for i := range a.ents {
		if e := &a.ents[i]; e.added && !e.deleted {
			dst = a.appendEntry(dst, field, e)
		}
	}
	return dst
}

// msgType of the rewrite walk: the messages from the items down.
type rwType uint8

const (
	rwNone rwType = iota
	rwLogRecord
	rwSpan
	rwEvent
	rwLink
	rwMetric
	rwNumberData    // Gauge, Sum
	rwHistogramData // Histogram
	rwExpData       // ExponentialHistogram
	rwSummaryData   // Summary
	rwNumberPoint
	rwHistogramPoint
	rwExpPoint
	rwSummaryPoint
	rwExemplar
	numRwTypes
)

// rwKid is a field of a message that the walk enters.
type rwKid struct {
	num int32
	t   rwType
}

// rwTypes gives, for each message, the field number of its attribute list
// (0: none) and the fields that lead to more attribute lists (the same
// numbers as msgTypes and dataKinds).
var rwTypes = [numRwTypes]struct {
	attrs int32
	kids  []rwKid
}{
	rwLogRecord: {attrs: 6},
	rwSpan:      {attrs: 9, kids: []rwKid{{11, rwEvent}, {13, rwLink}}},
	rwEvent:     {attrs: 3},
	rwLink:      {attrs: 4},
	rwMetric: {attrs: fieldMetricMetadata, kids: []rwKid{
		{fieldMetricGauge, rwNumberData}, {fieldMetricSum, rwNumberData},
		{fieldMetricHistogram, rwHistogramData}, {fieldMetricExpHistogram, rwExpData},
		{fieldMetricSummary, rwSummaryData},
	}},
	rwNumberData:     {kids: []rwKid{{fieldDataPoints, rwNumberPoint}}},
	rwHistogramData:  {kids: []rwKid{{fieldDataPoints, rwHistogramPoint}}},
	rwExpData:        {kids: []rwKid{{fieldDataPoints, rwExpPoint}}},
	rwSummaryData:    {kids: []rwKid{{fieldDataPoints, rwSummaryPoint}}},
	rwNumberPoint:    {attrs: 7, kids: []rwKid{{5, rwExemplar}}},
	rwHistogramPoint: {attrs: 9, kids: []rwKid{{8, rwExemplar}}},
	rwExpPoint:       {attrs: 1, kids: []rwKid{{11, rwExemplar}}},
	rwSummaryPoint:   {attrs: 7},
	rwExemplar:       {attrs: 7},
}

func (t rwType) kid(num int32) rwType {
	for _, k := range rwTypes[t].kids {
		if k.num == num {
			return k.t
		}
	}
	return rwNone
}

// itemTypes is the item message of each Kind.
var itemTypes = [...]rwType{Logs: rwLogRecord, Metrics: rwMetric, Traces: rwSpan}

// Field numbers of the attribute lists of Resource and InstrumentationScope.
const (
	resourceAttrsField = 1
	scopeAttrsField    = 3
)

// kid is a child message found in a message: its field is b[tagStart:end],
// its length prefix starts at lenPos and its payload at start.
type kid struct {
	tagStart, lenPos, start, end int
	t                            rwType
}

// level is the state of one depth of the walk: the attribute list of the
// message there and the child messages to enter.
type level struct {
	Attrs
	kids []kid
}

// maxLevels is the walk's depth: resource, scope, then the deepest item
// chain, metric > data > point > exemplar.
const maxLevels = 6

// Rewriter rewrites the attribute lists of OTLP export requests. Its zero
// value is ready to use; it keeps its buffers between calls, so a rewrite
// that reuses one allocates only to grow dst. It is not safe for
// concurrent use.
type Rewriter struct {
	levels  [maxLevels]level
	domains Domains
	ed      AttrsEditor
	changed bool
}

// AppendRewrite checks the request b of kind k as Scan does, then appends
// to dst a copy of it in which every attribute list of the domains d has
// gone through ed.EditAttrs. Entries that were not edited, and every other
// field, are copied as they are; the edited entries are re-encoded, and the
// length prefix of every message that encloses them is recomputed.
// Nothing is decoded beyond the attribute keys and values, and the items
// (their count included) stay as they are.
//
// changed reports whether any list was edited; if not, the caller can keep
// b. Errors wrap ErrMalformed: b fails Scan, or a KeyValue (or a span
// event, span link or exemplar, which Scan does not enter) that the walk
// reads is malformed the way pdata's decoder would reject. On error dst is
// returned with its original length. The result always passes Scan.
func (r *Rewriter) AppendRewrite(dst []byte, k Kind, b []byte, d Domains, ed AttrsEditor) (out []byte, changed bool, err error) {
	if _, err := Scan(k, b); err != nil {
		return dst, false, err
	}
	d &= AllAttrs
	if d == 0 || len(b) == 0 {
		return append(dst, b...), false, nil
	}
	r.domains, r.ed, r.changed = d, ed, false
	defer r.release()
	n0 := len(dst)
	cur := 0
	for pos := 0; pos < len(b); {
		v, p, next, err := field(b, pos)
		if err != nil {
			return dst[:n0], false, err
		}
		if v == fieldRequestResources<<3|wireBytes {
			start, _ := length(b, p)
			dst = append(dst, b[cur:p]...)
			var at int
			dst, at = openLen(dst, start-p)
			if dst, err = r.resourceEntry(dst, k, b[:next], start); err != nil {
				return dst[:n0], false, err
			}
			dst = closeLen(dst, at, start-p)
			cur = next
		}
		pos = next
	}
	return append(dst, b[cur:]...), r.changed, nil
}

// release drops the references to the request and the editor.
func (r *Rewriter) release() {
	r.ed = nil
	for i := range r.levels {
		r.levels[i].b = nil
	}
}

// edit hands a to the editor.
func (r *Rewriter) edit(a *Attrs) {
	r.ed.EditAttrs(a)
	if a.dirty {
		r.changed = true
	}
}

// group rewrites the message b[start:] (a resource or scope entry, which
// Scan checked) whose field single (the resource or scope) holds the
// attribute list of domain dom at field attrs, at walk level lvl. Fields
// numbered below (or below2) are entered by enter; the others are copied.
func (r *Rewriter) group(dst []byte, b []byte, start int, single, attrs int32, dom Domains, lvl int,
	below, below2 uint64, enter func(dst, b []byte, start int) ([]byte, error)) ([]byte, error) {
	l := &r.levels[lvl].Attrs
	doAttrs := r.domains&dom != 0
	occs := 0
	if doAttrs {
		l.reset(b, dom)
		for pos := start; pos < len(b); {
			v, p, next, err := field(b, pos)
			if err != nil {
				return dst, err
			}
			if v == uint64(single)<<3|wireBytes {
				s, _ := length(b, p)
				if err := r.collect(l, b[:next], s, attrs, occs); err != nil {
					return dst, err
				}
				occs++
			}
			pos = next
		}
		r.edit(l)
		doAttrs = l.dirty
	}
	if !doAttrs && enter == nil {
		return append(dst, b[start:]...), nil
	}
	cur, occ, cursor := start, 0, 0
	for pos := start; pos < len(b); {
		v, p, next, err := field(b, pos)
		if err != nil {
			return dst, err
		}
		switch {
		case doAttrs && v == uint64(single)<<3|wireBytes:
			s, _ := length(b, p)
			dst = append(dst, b[cur:p]...)
			var at int
			dst, at = openLen(dst, s-p)
			dst, cursor = l.appendOccurrence(dst, s, next, attrs, occ, cursor, occ == occs-1)
			dst = closeLen(dst, at, s-p)
			occ++
			cur = next
		case enter != nil && (v == below<<3|wireBytes || v == below2<<3|wireBytes):
			s, _ := length(b, p)
			dst = append(dst, b[cur:p]...)
			var at int
			dst, at = openLen(dst, s-p)
			if dst, err = enter(dst, b[:next], s); err != nil {
				return dst, err
			}
			dst = closeLen(dst, at, s-p)
			cur = next
		}
		pos = next
	}
	dst = append(dst, b[cur:]...)
	if doAttrs && occs == 0 && l.hasAdded() {
		// The message is absent, which decoders read as empty: create it.
		dst = appendVarint(dst, uint64(single)<<3|wireBytes)
		var at int
		dst, at = openLen(dst, 1)
		dst = l.appendAdded(dst, attrs)
		dst = closeLen(dst, at, 1)
	}
	return dst, nil
}

// field steps over the field at b[pos:], in a message Scan checked, and
// returns its tag, where its value starts and where it ends.
func field(b []byte, pos int) (v uint64, p, next int, err error) {
	if v, p = tag(b, pos); p < 0 {
		return 0, 0, 0, wireErr(b, pos, p, "message")
	}
	if next = skipValue(b, p, uint8(v&7)); next < 0 {
		return 0, 0, 0, wireErr(b, p, next, "message")
	}
	return v, p, next, nil
}

// resourceEntry rewrites the Resource{Logs,Metrics,Spans} message
// b[start:].
func (r *Rewriter) resourceEntry(dst []byte, k Kind, b []byte, start int) ([]byte, error) {
	var enter func(dst, b []byte, start int) ([]byte, error)
	if r.domains&(ScopeAttrs|ItemAttrs) != 0 {
		enter = func(dst, b []byte, start int) ([]byte, error) { return r.scopeEntry(dst, k, b, start) }
	}
	return r.group(dst, b, start, fieldResourceResource, resourceAttrsField, ResourceAttrs, 0,
		fieldResourceScopes, fieldResourceOldScopes, enter)
}

// scopeEntry rewrites the Scope{Logs,Metrics,Spans} message b[start:].
func (r *Rewriter) scopeEntry(dst []byte, k Kind, b []byte, start int) ([]byte, error) {
	var enter func(dst, b []byte, start int) ([]byte, error)
	if r.domains&ItemAttrs != 0 {
		t := itemTypes[k]
		enter = func(dst, b []byte, start int) ([]byte, error) { return r.message(dst, b, start, t, 2) }
	}
	return r.group(dst, b, start, fieldScopeScope, scopeAttrsField, ScopeAttrs, 1,
		fieldScopeItems, fieldScopeItems, enter)
}

// collect adds the entries of attribute field attrs of the message
// b[start:] (occurrence occ of the list's message) to l.
func (r *Rewriter) collect(l *Attrs, b []byte, start int, attrs int32, occ int) error {
	for pos := start; pos < len(b); {
		num, wt, s, next := pfield(b, pos)
		if next < 0 {
			return malformed(pos, "malformed field")
		}
		if num == attrs && wt == wireBytes {
			if err := l.add(b, pos, s, next, occ); err != nil {
				return err
			}
		}
		pos = next
	}
	return nil
}

// message rewrites the message b[start:] of type t (an item or a message
// inside one) at walk level lvl: its attribute list, then its children.
func (r *Rewriter) message(dst []byte, b []byte, start int, t rwType, lvl int) ([]byte, error) {
	if lvl >= maxLevels {
		return dst, malformed(start, "messages nested too deep") // unreachable: rwTypes nests 4 deep
	}
	m := &rwTypes[t]
	lv := &r.levels[lvl]
	l := &lv.Attrs
	l.reset(b, ItemAttrs)
	lv.kids = lv.kids[:0]
	for pos := start; pos < len(b); {
		num, wt, s, next := pfield(b, pos)
		if next < 0 {
			return dst, malformed(pos, "malformed field")
		}
		if wt == wireBytes {
			if num == m.attrs {
				if err := l.add(b, pos, s, next, 0); err != nil {
					return dst, err
				}
			} else if c := t.kid(num); c != rwNone {
				_, _, lenPos := ptag(b, pos)
				lv.kids = append(lv.kids, kid{tagStart: pos, lenPos: lenPos, start: s, end: next, t: c})
			}
		}
		pos = next
	}
	if m.attrs != 0 {
		r.edit(l)
	}
	if !l.dirty && len(lv.kids) == 0 {
		return append(dst, b[start:]...), nil
	}
	cur, ei := start, 0
	for ki := 0; ki <= len(lv.kids); ki++ {
		// The entries before the next child, then the child.
		limit := len(b)
		if ki < len(lv.kids) {
			limit = lv.kids[ki].tagStart
		}
		for ; ei < len(l.ents) && !l.ents[ei].added && l.ents[ei].tagStart < limit; ei++ {
			e := &l.ents[ei]
			if e.deleted || e.keyNew || e.valNew {
				dst = append(dst, b[cur:e.tagStart]...)
				if !e.deleted {
					dst = l.appendEntry(dst, m.attrs, e)
				}
				cur = e.end
			}
		}
		if ki == len(lv.kids) {
			break
		}
		// lv.kids[ki] stays valid: deeper levels use their own slices.
		c := lv.kids[ki]
		dst = append(dst, b[cur:c.lenPos]...)
		var at int
		dst, at = openLen(dst, c.start-c.lenPos)
		var err error
		if dst, err = r.message(dst, b[:c.end], c.start, c.t, lvl+1); err != nil {
			return dst, err
		}
		dst = closeLen(dst, at, c.start-c.lenPos)
		cur = c.end
	}
	dst = append(dst, b[cur:]...)
	return l.appendAdded(dst, m.attrs), nil
}

// openLen reserves w bytes for a length prefix at the end of dst and
// returns where.
func openLen(dst []byte, w int) ([]byte, int) {
	at := len(dst)
	return append(dst, make([]byte, w)...), at
}

// closeLen writes the length of dst[at+w:] as a varint at at, where w bytes
// were reserved, moving the payload if the varint needs another width.
func closeLen(dst []byte, at, w int) []byte {
	n := len(dst) - at - w
	nw := varintLen(uint64(n))
	switch {
	case nw > w:
		dst = append(dst, make([]byte, nw-w)...)
		copy(dst[at+nw:], dst[at+w:at+w+n])
	case nw < w:
		copy(dst[at+nw:], dst[at+w:])
		dst = dst[:at+nw+n]
	}
	putVarint(dst[at:], uint64(n))
	return dst
}

func varintLen(v uint64) int { return 1 + (bits.Len64(v|1)-1)/7 }

func appendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// putVarint writes v at the start of dst, which has room.
func putVarint(dst []byte, v uint64) {
	i := 0
	for v >= 0x80 {
		dst[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	dst[i] = byte(v)
}

// The p* helpers read protobuf the way pdata's decoder
// (go.opentelemetry.io/collector/pdata/internal/proto) does, which is more
// lenient than Scan: a tenth varint byte may carry any bits, field numbers
// are truncated to int32, and unknown groups are skipped as it skips them.
// Inside the messages Scan does not enter, the walk must accept exactly
// what pdata accepts and find the same field boundaries. They return a
// failure code instead of a position on error.

// pvarint decodes a varint as pdata does.
func pvarint(b []byte, pos int) (uint64, int) {
	if pos < len(b) && b[pos] < 0x80 {
		return uint64(b[pos]), pos + 1
	}
	return pvarintSlow(b, pos)
}

// pvarintSlow is pvarint for multi-byte varints and failures; kept out of
// line so that the one-byte paths of its callers inline.
//
//go:noinline
func pvarintSlow(b []byte, pos int) (uint64, int) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if pos >= len(b) {
			return 0, failTruncated
		}
		c := b[pos]
		pos++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, pos
		}
	}
	return 0, failTooLong
}

// ptag decodes a tag as pdata does.
func ptag(b []byte, pos int) (num int32, wt uint8, next int) {
	if pos < len(b) {
		if c := b[pos]; c >= 1<<3 && c < 0x80 { // field numbers 1-15
			return int32(c >> 3), c & 7, pos + 1
		}
	}
	v, p := pvarintSlow(b, pos)
	if p < 0 {
		return 0, 0, p
	}
	if num = int32(v >> 3); num <= 0 {
		return 0, 0, failFieldNumber
	}
	return num, uint8(v & 7), p
}

// plen decodes a length prefix as pdata does and returns the payload's
// bounds.
func plen(b []byte, pos int) (start, end int) {
	if pos < len(b) {
		if n := int(b[pos]); n < 0x80 && n < len(b)-pos {
			return pos + 1, pos + 1 + n
		}
	}
	n, p := pvarintSlow(b, pos)
	if p < 0 {
		return 0, p
	}
	if n > uint64(len(b)-p) {
		return 0, failOverrun
	}
	return p, p + int(n)
}

// pfield steps over the field at b[pos:] as pdata does: it returns the
// field's number and wire type, where its payload starts (for a
// length-delimited field) and where the field ends, or a failure code as
// next. The common field (a one-byte tag, then a one-byte length or
// varint, or a fixed-size value) takes the short path. It is not inlined
// (too large), but costs one call per field.
func pfield(b []byte, pos int) (num int32, wt uint8, start, next int) {
	if c := b[pos]; c >= 1<<3 && c < 0x80 && pos+1 < len(b) {
		num, wt = int32(c>>3), c&7
		switch x := int(b[pos+1]); wt {
		case wireBytes:
			if x < 0x80 && x <= len(b)-pos-2 {
				return num, wt, pos + 2, pos + 2 + x
			}
		case wireVarint:
			if x < 0x80 {
				return num, wt, pos + 1, pos + 2
			}
		case wireFixed64:
			if len(b)-pos >= 9 {
				return num, wt, pos + 1, pos + 9
			}
		case wireFixed32:
			if len(b)-pos >= 5 {
				return num, wt, pos + 1, pos + 5
			}
		}
	}
	return pfieldSlow(b, pos)
}

//go:noinline
func pfieldSlow(b []byte, pos int) (num int32, wt uint8, start, next int) {
	num, wt, p := ptag(b, pos)
	if p < 0 {
		return 0, 0, 0, p
	}
	if wt == wireBytes {
		start, next = plen(b, p)
		return num, wt, start, next
	}
	return num, wt, p, pskip(b, p, wt)
}

// pskip skips the value of wire type wt at b[pos:] as pdata's
// ConsumeUnknown does, groups included (which end, as there, after their
// first non-group field), and returns the position after it.
func pskip(b []byte, pos int, wt uint8) int {
	depth := 0
	for pos < len(b) {
		switch wt {
		case wireVarint:
			_, next := pvarint(b, pos)
			return next
		case wireFixed64:
			if len(b)-pos < 8 {
				return failOverrun
			}
			return pos + 8
		case wireBytes:
			_, end := plen(b, pos)
			return end
		case wireStartGroup:
			depth++
		case wireEndGroup:
			if depth == 0 {
				return failGroup
			}
			depth--
		case wireFixed32:
			if len(b)-pos < 4 {
				return failOverrun
			}
			return pos + 4
		default:
			return failWireType
		}
		if depth == 0 {
			return pos
		}
		_, w, next := ptag(b, pos)
		if next < 0 {
			return next
		}
		wt, pos = w, next
	}
	return failTruncated
}
