package otap

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// compactor rewrites the dictionary-encoded arrays of the records an
// Encoder re-encodes, at any depth, so that the dictionaries it hands the
// IPC writer hold only values the records use. A decoded record's
// dictionaries are its inbound IPC stream's whole accumulated ones; handed
// over as they are on an outbound stream that mixes inbound streams, the
// writer, which sends a delta only when a dictionary extends the last one
// it sent, would send every batch's dictionaries whole.
//
// For each dictionary field of an outbound IPC stream it remembers the
// inbound dictionary of the last batch (src) and the dictionary it handed
// the writer for it (out, made of entries of src):
//
//   - When the batch's dictionary is src or extends it (the next batch of
//     the same inbound stream, whose reader appended a delta), entries the
//     batch uses that out lacks are appended to out, in the order of their
//     old positions: the writer sends them as a delta, or nothing.
//   - Otherwise (a batch of another inbound stream, or a replaced
//     dictionary) out starts afresh: the entries the batch uses, in the
//     order of their old positions. The writer sends that whole, as it
//     must, but no bigger than the batch needs.
//
// While out is a prefix of the inbound dictionary (always, on a stream
// whose batches use all their dictionary entries) the indices stay as
// they are, and a dictionary every entry of which is used is handed over
// as it is: the same array, at the cost of one pass over the indices.
// Otherwise the indices are rewritten (offset 0, same index type, same
// validity). Every array the compactor makes is GC-owned Go memory,
// sharing what it does not rewrite with its input, which it only reads.
//
// Value types: fixed-width (integers, durations, fixed-size binary, ...),
// string, binary, large string and large binary: those OTAP dictionaries
// use. A dictionary of another type is handed over whole.
//
// A compactor is not safe for concurrent use; one encoder owns it.
type compactor struct {
	fields *recordDicts // the dictionary fields of the record being compacted
	next   int          // the index in fields of the next dictionary array met
}

// recordDicts is a compactor's state for one outbound IPC stream (one
// payload type under one SchemaId): one dictState per dictionary-encoded
// array of its schema, in the order compactor.data meets them.
type recordDicts struct {
	schemaID string
	dicts    []dictState
}

// dictState is what a compactor remembers of one dictionary field of an
// outbound IPC stream between batches.
type dictState struct {
	src arrow.ArrayData // the last batch's inbound dictionary; nil: start afresh
	out arrow.ArrayData // the dictionary handed to the writer; nil: none yet
	// pos holds, per entry of src, 1 + its position in out, or 0 if out
	// lacks it; -1 marks an entry the batch uses that out lacks.
	pos []int32
	// prefix means out is src's first len(out) entries (pos[i] == i+1):
	// indices then need no rewriting.
	prefix bool
}

// record returns rec with its dictionaries compacted, or rec itself if it
// hands over every dictionary as it is. fields is the state of rec's
// outbound IPC stream. A new record is pinned: see pinned.
func (c *compactor) record(rec arrow.RecordBatch, fields *recordDicts) (arrow.RecordBatch, error) {
	c.fields, c.next = fields, 0
	var cols []arrow.Array // nil until a column changes
	for i, col := range rec.Columns() {
		d, changed, err := c.data(col.Data())
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
		}
		if !changed {
			continue
		}
		if cols == nil {
			cols = append([]arrow.Array(nil), rec.Columns()...)
		}
		cols[i] = array.MakeFromData(d)
	}
	if cols == nil {
		return rec, nil
	}
	return pinned{array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())}, nil
}

// data returns d with its dictionaries compacted and whether that changed
// anything. The result has d's type, length and logical values, so a
// parent that slices its children (struct, sparse union) or points into
// them (list, large list, map, dense union, run-end encoded) reads the
// same values.
func (c *compactor) data(d arrow.ArrayData) (arrow.ArrayData, bool, error) {
	if d.DataType().ID() == arrow.DICTIONARY {
		if c.next == len(c.fields.dicts) {
			c.fields.dicts = append(c.fields.dicts, dictState{})
		}
		c.next++
		return c.dictionary(d, &c.fields.dicts[c.next-1])
	}
	return mapChildren(d, func(_ int, child arrow.ArrayData) (arrow.ArrayData, bool, error) { return c.data(child) })
}

// mapChildren returns d with each child replaced by what fn makes of it,
// copying d only if some child changed (fn reports it).
func mapChildren(d arrow.ArrayData, fn func(i int, child arrow.ArrayData) (arrow.ArrayData, bool, error)) (arrow.ArrayData, bool, error) {
	children := d.Children()
	var out []arrow.ArrayData // nil until a child changes
	for i, child := range children {
		nc, changed, err := fn(i, child)
		if err != nil {
			return nil, false, err
		}
		if !changed {
			continue
		}
		if out == nil {
			out = append([]arrow.ArrayData(nil), children...)
		}
		out[i] = nc
	}
	if out == nil {
		return d, false, nil
	}
	return array.NewData(d.DataType(), d.Len(), d.Buffers(), out, d.NullN(), d.Offset()), true, nil
}

// dictionary compacts the dictionary array d, whose field's state is s:
// see compactor.
func (c *compactor) dictionary(d arrow.ArrayData, s *dictState) (arrow.ArrayData, bool, error) {
	dict := dictionaryOf(d)
	vt := valueTypeOf(dict)
	if vt == nil {
		*s = dictState{}
		return d, false, nil
	}
	if s.src == nil || (s.src != dict && !vt.extends(dict, s.src)) {
		s.src, s.out, s.pos, s.prefix = nil, nil, s.pos[:0], true
	}
	s.src = dict
	n, had := dict.Len(), len(s.pos)
	if cap(s.pos) < n { // room to double: a growing dictionary grows again
		s.pos = slices.Grow(s.pos, 2*n-had)
	}
	s.pos = s.pos[:n]
	clear(s.pos[had:]) // the entries the dictionary gained: not in out

	var validity []byte // d's validity bitmap if it may have nulls, else nil
	if b := d.Buffers()[0]; b != nil && d.NullN() != 0 {
		validity = b.Bytes()
	}
	ix := indicesOf(d, validity)
	added, err := ix.mark(s.pos)
	if err != nil {
		*s = dictState{}
		return nil, false, err
	}

	outLen := 0
	if s.out != nil {
		outLen = s.out.Len()
	}
	switch {
	case added == 0 && s.out != nil: // out has every entry used
	case s.prefix && marked(s.pos[outLen:outLen+added]): // out stays a prefix
		for i := outLen; i < outLen+added; i++ {
			s.pos[i] = int32(i + 1)
		}
		if outLen+added == n {
			s.out = dict
		} else {
			s.out = array.NewSliceData(dict, 0, int64(outLen+added))
		}
	default: // append the entries used that out lacks, in their old order
		sel := make([]int32, 0, added)
		for p, v := range s.pos {
			if v < 0 {
				s.pos[p] = int32(outLen + len(sel) + 1)
				sel = append(sel, int32(p))
			}
		}
		s.out = vt.take(s.out, dict, sel)
		s.prefix = false
	}

	switch {
	case s.out == dict: // s.prefix: the dictionary as it is
		return d, false, nil
	case s.prefix: // the same indices over a prefix of the dictionary
		return array.NewDataWithDictionary(d.DataType(), d.Len(), d.Buffers(), d.NullN(), d.Offset(), s.out.(*array.Data)), true, nil
	}
	bufs := []*memory.Buffer{nil, ix.remap(s.pos)}
	nulls := 0
	if validity != nil {
		nulls = d.NullN()
		if d.Offset() == 0 {
			bufs[0] = d.Buffers()[0]
		} else {
			bm := make([]byte, bitutil.BytesForBits(int64(d.Len())))
			bitutil.CopyBitmap(validity, d.Offset(), d.Len(), bm, 0)
			bufs[0] = memory.NewBufferBytes(bm)
		}
	}
	return array.NewDataWithDictionary(d.DataType(), d.Len(), bufs, nulls, 0, s.out.(*array.Data)), true, nil
}

// marked reports whether every entry of pos is -1.
func marked(pos []int32) bool {
	for _, v := range pos {
		if v != -1 {
			return false
		}
	}
	return true
}

// indexer is a dictionary array's indices, of any index type.
type indexer interface {
	// mark sets pos[v] to -1 for every non-null index v with pos[v] == 0
	// and returns how many it set; an index outside pos is an error.
	mark(pos []int32) (int, error)
	// remap returns new indices, offset 0: pos[v]-1 for each non-null
	// index v, 0 for a null.
	remap(pos []int32) *memory.Buffer
	// span returns the least and the greatest non-null index (hi < lo if
	// there is none); an index outside [0, n) is an error.
	span(n int) (lo, hi int, err error)
	// shift returns new indices, offset 0: v-first for each non-null
	// index v, 0 for a null.
	shift(first int) *memory.Buffer
}

// indicesOf returns d's indices. validity is d's validity bitmap, or nil
// if d has no nulls.
func indicesOf(d arrow.ArrayData, validity []byte) indexer {
	off := d.Offset()
	switch d.DataType().(*arrow.DictionaryType).IndexType.ID() {
	case arrow.UINT8:
		return indices[uint8]{arrow.GetValues[uint8](d, 1), validity, off}
	case arrow.INT8:
		return indices[int8]{arrow.GetValues[int8](d, 1), validity, off}
	case arrow.UINT16:
		return indices[uint16]{arrow.GetValues[uint16](d, 1), validity, off}
	case arrow.INT16:
		return indices[int16]{arrow.GetValues[int16](d, 1), validity, off}
	case arrow.UINT32:
		return indices[uint32]{arrow.GetValues[uint32](d, 1), validity, off}
	case arrow.INT32:
		return indices[int32]{arrow.GetValues[int32](d, 1), validity, off}
	case arrow.UINT64:
		return indices[uint64]{arrow.GetValues[uint64](d, 1), validity, off}
	default: // arrow.INT64: arrow-go refuses other index types
		return indices[int64]{arrow.GetValues[int64](d, 1), validity, off}
	}
}

type index interface {
	uint8 | int8 | uint16 | int16 | uint32 | int32 | uint64 | int64
}

// indices is a dictionary array's index values (its logical window), its
// validity bitmap (nil: no nulls) and its offset into that bitmap.
type indices[T index] struct {
	values   []T
	validity []byte
	offset   int
}

func (ix indices[T]) mark(pos []int32) (int, error) {
	n, added := uint64(len(pos)), 0
	for i, v := range ix.values {
		if ix.validity != nil && !bitutil.BitIsSet(ix.validity, ix.offset+i) {
			continue
		}
		// A negative signed index converts to a huge uint64: one
		// comparison covers both ends.
		if uint64(v) >= n {
			return 0, fmt.Errorf("%w: dictionary index %d at row %d, dictionary has %d values", ErrInvalid, v, i, n)
		}
		if pos[v] == 0 {
			pos[v] = -1
			added++
		}
	}
	return added, nil
}

func (ix indices[T]) remap(pos []int32) *memory.Buffer {
	out := make([]T, len(ix.values))
	for i, v := range ix.values {
		if ix.validity != nil && !bitutil.BitIsSet(ix.validity, ix.offset+i) {
			continue // a null's index may be anything: 0 here
		}
		out[i] = T(pos[v] - 1)
	}
	return memory.NewBufferBytes(arrow.GetBytes(out))
}

func (ix indices[T]) span(n int) (lo, hi int, err error) {
	lo, hi = n, -1
	for i, v := range ix.values {
		if ix.validity != nil && !bitutil.BitIsSet(ix.validity, ix.offset+i) {
			continue
		}
		if uint64(v) >= uint64(n) { // a negative index too
			return 0, 0, fmt.Errorf("%w: dictionary index %d at row %d, dictionary has %d values", ErrInvalid, v, i, n)
		}
		lo, hi = min(lo, int(v)), max(hi, int(v))
	}
	return lo, hi, nil
}

func (ix indices[T]) shift(first int) *memory.Buffer {
	out := make([]T, len(ix.values))
	for i, v := range ix.values {
		if ix.validity != nil && !bitutil.BitIsSet(ix.validity, ix.offset+i) {
			continue
		}
		out[i] = v - T(first)
	}
	return memory.NewBufferBytes(arrow.GetBytes(out))
}

// valueType compares and takes dictionary values of one physical layout.
type valueType interface {
	// extends reports whether d's first src.Len() values are src's.
	extends(d, src arrow.ArrayData) bool
	// take returns a new array, offset 0, of prefix's values (none if
	// prefix is nil) followed by d's values at the positions sel.
	take(prefix, d arrow.ArrayData, sel []int32) arrow.ArrayData
}

// valueTypeOf returns how to handle the values of dictionary dict, or nil
// if the compactor leaves it whole.
func valueTypeOf(dict arrow.ArrayData) valueType {
	if dict == nil || dict.Len() > math.MaxInt32 {
		return nil
	}
	t := dict.DataType()
	switch t.ID() {
	case arrow.STRING, arrow.BINARY:
		return varWidth[int32]{}
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		return varWidth[int64]{}
	case arrow.EXTENSION, arrow.BOOL:
		return nil
	}
	l := t.Layout()
	if len(l.Buffers) == 2 && l.Buffers[0].Kind == arrow.KindBitmap && l.VariadicSpec == nil &&
		l.Buffers[1].Kind == arrow.KindFixedWidth && l.Buffers[1].ByteWidth > 0 {
		return fixedWidth(l.Buffers[1].ByteWidth)
	}
	return nil
}

// fixedWidth is values of one byte width each: integers, floats, temporal
// and decimal types, fixed-size binary.
type fixedWidth int

// values returns d's value bytes (its logical window).
func (w fixedWidth) values(d arrow.ArrayData) []byte {
	b := d.Buffers()[1]
	if b == nil || d.Len() == 0 {
		return nil
	}
	return b.Bytes()[d.Offset()*int(w) : (d.Offset()+d.Len())*int(w)]
}

func (w fixedWidth) extends(d, src arrow.ArrayData) bool {
	n := src.Len()
	if d.Len() < n {
		return false
	}
	dv, sv := w.values(d), w.values(src)
	// Views of the same memory (the decoder's dictionaries grow in
	// place): the shorter is a prefix of the longer, arrays being
	// immutable.
	same := len(sv) == 0 || &dv[0] == &sv[0]
	return (same || bytes.Equal(dv[:n*int(w)], sv)) && sameValidity(d, src, n)
}

func (w fixedWidth) take(prefix, d arrow.ArrayData, sel []int32) arrow.ArrayData {
	width := int(w)
	dst := make([]byte, 0, (lenOf(prefix)+len(sel))*width)
	if prefix != nil {
		dst = append(dst, w.values(prefix)...)
	}
	src := w.values(d)
	for _, p := range sel {
		dst = append(dst, src[int(p)*width:(int(p)+1)*width]...)
	}
	validity, nulls := takeValidity(prefix, d, sel)
	return array.NewData(d.DataType(), len(dst)/width, []*memory.Buffer{validity, memory.NewBufferBytes(dst)}, nil, nulls, 0)
}

// varWidth is string or binary values with offsets of type O.
type varWidth[O int32 | int64] struct{}

// values returns d's offsets (its logical window, len+1 of them) and its
// values buffer.
func (varWidth[O]) values(d arrow.ArrayData) ([]O, []byte) {
	if d.Len() == 0 {
		return []O{0}, nil
	}
	var data []byte
	if b := d.Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	return arrow.GetOffsets[O](d, 1), data
}

func (v varWidth[O]) extends(d, src arrow.ArrayData) bool {
	n := src.Len()
	if d.Len() < n {
		return false
	}
	do, dv := v.values(d)
	so, sv := v.values(src)
	do = do[:n+1]
	if &do[0] == &so[0] && (len(sv) == 0 || (len(dv) > 0 && &dv[0] == &sv[0])) {
		return sameValidity(d, src, n) // views of the same memory: see fixedWidth.extends
	}
	if do[0] == so[0] { // as in dictionaries the IPC reader builds: 0
		if !bytes.Equal(arrow.GetBytes(do), arrow.GetBytes(so)) {
			return false
		}
	} else {
		for i := range so { // value lengths, whatever the offsets start at
			if do[i]-do[0] != so[i]-so[0] {
				return false
			}
		}
	}
	return bytes.Equal(dv[do[0]:do[n]], sv[so[0]:so[n]]) && sameValidity(d, src, n)
}

func (v varWidth[O]) take(prefix, d arrow.ArrayData, sel []int32) arrow.ArrayData {
	pn := lenOf(prefix)
	offsets := make([]O, 1, pn+len(sel)+1)
	do, dv := v.values(d)
	size := 0
	for _, p := range sel {
		size += int(do[p+1] - do[p])
	}
	var data []byte
	if prefix != nil {
		po, pv := v.values(prefix)
		for _, o := range po[1:] {
			offsets = append(offsets, o-po[0])
		}
		data = make([]byte, 0, int(po[pn]-po[0])+size)
		data = append(data, pv[po[0]:po[pn]]...)
	} else {
		data = make([]byte, 0, size)
	}
	for _, p := range sel {
		data = append(data, dv[do[p]:do[p+1]]...)
		offsets = append(offsets, O(len(data)))
	}
	validity, nulls := takeValidity(prefix, d, sel)
	bufs := []*memory.Buffer{validity, memory.NewBufferBytes(arrow.GetBytes(offsets)), memory.NewBufferBytes(data)}
	return array.NewData(d.DataType(), len(offsets)-1, bufs, nil, nulls, 0)
}

func lenOf(d arrow.ArrayData) int {
	if d == nil {
		return 0
	}
	return d.Len()
}

// validityOf returns d's validity bitmap, or nil if d has no nulls.
func validityOf(d arrow.ArrayData) []byte {
	if d == nil || d.NullN() == 0 || d.Buffers()[0] == nil {
		return nil
	}
	return d.Buffers()[0].Bytes()
}

// sameValidity reports whether the first n values of a and b are null at
// the same positions.
func sameValidity(a, b arrow.ArrayData, n int) bool {
	av, bv := validityOf(a), validityOf(b)
	if av == nil && bv == nil {
		return true
	}
	for i := range n {
		if (av == nil || bitutil.BitIsSet(av, a.Offset()+i)) != (bv == nil || bitutil.BitIsSet(bv, b.Offset()+i)) {
			return false
		}
	}
	return true
}

// takeValidity returns the validity bitmap of prefix's values followed by
// d's values at sel, and their null count: nil and 0 if none is null.
func takeValidity(prefix, d arrow.ArrayData, sel []int32) (*memory.Buffer, int) {
	pv, dv := validityOf(prefix), validityOf(d)
	if pv == nil && dv == nil {
		return nil, 0
	}
	pn := lenOf(prefix)
	dst := make([]byte, bitutil.BytesForBits(int64(pn+len(sel))))
	if pv != nil {
		bitutil.CopyBitmap(pv, prefix.Offset(), pn, dst, 0)
	} else {
		bitutil.SetBitsTo(dst, 0, int64(pn), true)
	}
	for i, p := range sel {
		bitutil.SetBitTo(dst, pn+i, dv == nil || bitutil.BitIsSet(dv, d.Offset()+int(p)))
	}
	nulls := pn + len(sel) - bitutil.CountSetBits(dst, 0, pn+len(sel))
	if nulls == 0 {
		return nil, 0
	}
	return memory.NewBufferBytes(dst), nulls
}
