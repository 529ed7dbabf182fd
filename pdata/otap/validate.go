package otap

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
)

// checkRecord checks, in one pass over each column, what arrow-go does
// not check when it loads a record and what the converters and the IPC
// writer would otherwise trip on later, on another goroutine: dictionary
// indices outside their dictionary, offsets that go backwards or past
// their values, union type codes without a child. Those later readers
// recover panics anyway; this turns a hostile batch into ErrInvalid at the
// stream that sent it.
//
// It returns the record's expanded size (see expansion), summed on the
// same pass: the dictionary indices it range-checks are the references
// it counts.
func checkRecord(rec arrow.RecordBatch) (int64, error) {
	var expanded int64
	for i, col := range rec.Columns() {
		if int64(col.Len()) != rec.NumRows() {
			return 0, fmt.Errorf("%w: column %q has %d rows, the record %d",
				ErrInvalid, rec.ColumnName(i), col.Len(), rec.NumRows())
		}
		n, err := checkArray(col)
		if err != nil {
			return 0, fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
		}
		expanded = addBytes(expanded, n)
	}
	return expanded, nil
}

// checkArray checks a and, recursively, its children and dictionary, and
// returns a's expanded size: the bytes of its buffers and its children's,
// where a dictionary-encoded array counts, instead of its dictionary, the
// bytes of the value each of its non-null indices references. Nesting is
// bounded by arrow-go's reader (64 levels).
func checkArray(a arrow.Array) (int64, error) {
	switch a := a.(type) {
	case *array.Dictionary:
		return checkDictionary(a)
	case *array.String:
		if a.Len() > 0 {
			if err := checkOffsets(a.ValueOffsets(), valuesLen(a.Data())); err != nil {
				return 0, err
			}
		}
		return buffersLen(a.Data()), nil
	case *array.Binary:
		if a.Len() > 0 {
			if err := checkOffsets(a.ValueOffsets(), valuesLen(a.Data())); err != nil {
				return 0, err
			}
		}
		return buffersLen(a.Data()), nil
	case *array.Struct:
		expanded := buffersLen(a.Data())
		for i := range a.NumField() {
			n, err := checkChild(a.Field(i), a.Len())
			if err != nil {
				return 0, err
			}
			expanded = addBytes(expanded, n)
		}
		return expanded, nil
	case array.ListLike:
		return checkList(a)
	case array.Union:
		return checkUnion(a)
	}
	// Fixed-width values, or a type the converters do not read (their
	// dictionaries, if any, are counted as they are, not expanded).
	return dataLen(a.Data()), nil
}

// checkChild checks a child array that must hold at least n values.
func checkChild(c arrow.Array, n int) (int64, error) {
	if c.Len() < n {
		return 0, fmt.Errorf("%w: child array has %d values, needs %d", ErrInvalid, c.Len(), n)
	}
	return checkArray(c)
}

// checkDictionary checks a's dictionary, then its indices (whose sizes
// read the dictionary's checked offsets), and returns a's expanded size:
// its own buffers (validity, indices) and the values its non-null indices
// reference.
func checkDictionary(a *array.Dictionary) (int64, error) {
	dict := a.Dictionary()
	whole, err := checkArray(dict)
	if err != nil {
		return 0, err
	}
	referenced, err := checkIndices(a, valueSizesOf(dict, whole))
	if err != nil {
		return 0, err
	}
	return addBytes(buffersLen(a.Data()), referenced), nil
}

// valueSizes gives the bytes each value of a dictionary takes once
// materialised.
type valueSizes struct {
	offsets []int32 // string and binary values: the offset differences
	each    int64   // any other value, when offsets is nil
}

// valueSizesOf returns the sizes of dict's values: offset differences for
// strings and binaries (checked by checkArray), the width of fixed-width
// values, and for any other type (nested values, which OTAP never
// dictionary-encodes) the whole dictionary's expanded size, whole: an
// upper bound that costs nothing per value.
func valueSizesOf(dict arrow.Array, whole int64) valueSizes {
	switch d := dict.(type) {
	case *array.String:
		if d.Len() > 0 {
			return valueSizes{offsets: d.ValueOffsets()}
		}
		return valueSizes{}
	case *array.Binary:
		if d.Len() > 0 {
			return valueSizes{offsets: d.ValueOffsets()}
		}
		return valueSizes{}
	case *array.Dictionary: // its type has a BitWidth: that of its indices
		return valueSizes{each: whole}
	}
	if fw, ok := dict.DataType().(arrow.FixedWidthDataType); ok {
		return valueSizes{each: int64(max(1, fw.BitWidth()/8))} // a boolean as a byte
	}
	return valueSizes{each: whole}
}

// checkIndices checks that a's non-null indices fall within its
// dictionary and returns the bytes of the values they reference, reading
// the index values directly: GetValueIndex, which switches on the index
// type for every row, would cost as much as the rest of decoding.
func checkIndices(a *array.Dictionary, sizes valueSizes) (int64, error) {
	n := uint64(a.Dictionary().Len())
	switch idx := a.Indices().(type) {
	case *array.Uint8:
		return referenced(idx.Uint8Values(), idx, n, sizes)
	case *array.Uint16:
		return referenced(idx.Uint16Values(), idx, n, sizes)
	case *array.Uint32:
		return referenced(idx.Uint32Values(), idx, n, sizes)
	case *array.Uint64:
		return referenced(idx.Uint64Values(), idx, n, sizes)
	case *array.Int8:
		return referenced(idx.Int8Values(), idx, n, sizes)
	case *array.Int16:
		return referenced(idx.Int16Values(), idx, n, sizes)
	case *array.Int32:
		return referenced(idx.Int32Values(), idx, n, sizes)
	case *array.Int64:
		return referenced(idx.Int64Values(), idx, n, sizes)
	}
	return 0, fmt.Errorf("%w: dictionary index type %s", ErrInvalid, a.Indices().DataType())
}

// referenced checks that the non-null values of indices are below n and
// returns the bytes of the dictionary values they reference. A negative
// signed index converts to a huge uint64, so one comparison covers both
// ends. Validity is read as IsValid does (no bitmap: all valid), but only
// where it matters: to refuse an index out of range, and to add up values
// of variable length.
func referenced[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](values []T, indices arrow.Array, n uint64, sizes valueSizes) (int64, error) {
	valid, off := indices.NullBitmapBytes(), indices.Data().Offset()
	isValid := func(i int) bool { return len(valid) == 0 || bitutil.BitIsSet(valid, off+i) }
	outOfRange := func(i int, v T) error {
		return fmt.Errorf("%w: dictionary index %d at row %d, dictionary has %d values", ErrInvalid, v, i, n)
	}
	if sizes.offsets == nil { // values of one size: count the references
		for i, v := range values {
			if uint64(v) >= n && isValid(i) {
				return 0, outOfRange(i, v)
			}
		}
		refs := len(values)
		if len(valid) > 0 {
			refs = bitutil.CountSetBits(valid, off, len(values))
		}
		return mulBytes(uint64(refs), sizes.each), nil
	}
	// Each value is under 2 GiB (int32 offsets), so the sum cannot wrap
	// before 2^33 references: 8 GiB of indices, all allocated within
	// MaxBatchBytes.
	offsets := sizes.offsets[:n+1]
	var bytes uint64
	if len(valid) == 0 {
		for i, v := range values {
			j := uint64(v)
			if j >= n {
				return 0, outOfRange(i, v)
			}
			bytes += uint64(offsets[j+1] - offsets[j])
		}
		return int64(min(bytes, math.MaxInt64)), nil
	}
	for i, v := range values {
		j := uint64(v)
		switch {
		case !bitutil.BitIsSet(valid, off+i):
		case j >= n:
			return 0, outOfRange(i, v)
		default:
			bytes += uint64(offsets[j+1] - offsets[j])
		}
	}
	return int64(min(bytes, math.MaxInt64)), nil
}

// checkOffsets checks that the offsets of a variable-length array never go
// backwards and stay within its n bytes of values (arrow-go checks only the
// last one).
func checkOffsets(offsets []int32, n int) error {
	prev := int32(0)
	for i, o := range offsets {
		if o < prev || int(o) > n {
			return fmt.Errorf("%w: value offset %d at %d (previous %d, %d bytes of values)", ErrInvalid, o, i, prev, n)
		}
		prev = o
	}
	return nil
}

// valuesLen returns the size of the values buffer of a string or binary
// array (its third buffer).
func valuesLen(d arrow.ArrayData) int {
	if bufs := d.Buffers(); len(bufs) > 2 && bufs[2] != nil {
		return bufs[2].Len()
	}
	return 0
}

// checkList checks that every list, null or not, spans values that exist:
// the converters size pdata slices by a row's offsets before reading it.
// Its expanded size is its buffers and its values': the lists of a list
// array follow one another, so no value is counted twice. (List views,
// which may overlap, and dense unions, which may share values, are never
// materialised: the converters read neither.)
func checkList(a array.ListLike) (int64, error) {
	values := a.ListValues()
	n := int64(values.Len())
	for i := range a.Len() { // null lists too: converters size slices by their offsets
		start, end := a.ValueOffsets(i)
		if start < 0 || start > end || end > n {
			return 0, fmt.Errorf("%w: list %d spans values [%d, %d) of %d", ErrInvalid, i, start, end, n)
		}
	}
	expanded, err := checkArray(values)
	if err != nil {
		return 0, err
	}
	return addBytes(buffersLen(a.Data()), expanded), nil
}

// checkUnion checks type codes, dense offsets and child lengths
// (arrow-go's ValidateFull), then the children.
func checkUnion(a array.Union) (int64, error) {
	if err := a.ValidateFull(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	expanded := buffersLen(a.Data())
	for i := range a.NumFields() {
		n, err := checkArray(a.Field(i))
		if err != nil {
			return 0, err
		}
		expanded = addBytes(expanded, n)
	}
	return expanded, nil
}

// buffersLen returns the bytes of d's own buffers.
func buffersLen(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	return n
}

// dataLen returns the bytes of d's buffers, its children's and its
// dictionary's.
func dataLen(d arrow.ArrayData) int64 {
	n := buffersLen(d)
	for _, c := range d.Children() {
		n = addBytes(n, dataLen(c))
	}
	if dict := dictionaryOf(d); dict != nil {
		n = addBytes(n, dataLen(dict))
	}
	return n
}

// addBytes returns a+b, two sizes, or math.MaxInt64 if that overflows.
func addBytes(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// mulBytes returns n values of size bytes each, or math.MaxInt64 if that
// overflows.
func mulBytes(n uint64, size int64) int64 {
	if size > 0 && n > uint64(math.MaxInt64/size) {
		return math.MaxInt64
	}
	return int64(n) * size
}

// expansion is the expanded size of a batch: the bytes its records would
// take once every dictionary reference is materialised, as the OTLP form
// of the batch materialises them (strings, byte values and ids copied per
// row). Decoding a dictionary-encoded batch is cheap, and so is ToPdata
// (pdata strings view the Arrow buffers), but a batch of 2 M rows all
// referencing one 60 MiB string marshals to 126 TB of OTLP.
type expansion struct {
	total    int64
	most     int64                    // the largest record's
	mostType arrowpb.ArrowPayloadType // its payload type
}

// add counts a record of payload type typ expanding to n bytes.
func (e *expansion) add(typ arrowpb.ArrowPayloadType, n int64) {
	e.total = addBytes(e.total, n)
	if n > e.most {
		e.most, e.mostType = n, typ
	}
}

// check refuses a batch expanding to more than limit bytes, naming the
// payload type that expands the most.
func (e expansion) check(limit int64) error {
	if e.total <= limit {
		return nil
	}
	return fmt.Errorf("%w: the batch expands to %d bytes once its dictionary references are materialised (%s to %d), more than the limit of %d (max expanded bytes)",
		ErrTooLarge, e.total, e.mostType, e.most, limit)
}

// bufferSizer sums the bytes of distinct buffers: the records of a batch
// share dictionaries, and sliced buffers share their parent.
type bufferSizer map[*memory.Buffer]struct{}

// data returns the bytes of d's buffers, children and dictionary not
// counted yet.
func (s bufferSizer) data(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b == nil {
			continue
		}
		if _, seen := s[b]; !seen {
			s[b] = struct{}{}
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += s.data(c)
	}
	if dict := dictionaryOf(d); dict != nil {
		n += s.data(dict)
	}
	return n
}

// dictionaries returns the bytes of the dictionaries under d.
func (s bufferSizer) dictionaries(d arrow.ArrayData) int64 {
	var n int64
	if dict := dictionaryOf(d); dict != nil {
		n += s.data(dict)
	}
	for _, c := range d.Children() {
		n += s.dictionaries(c)
	}
	return n
}

// dictionaryOf returns d's dictionary, or nil (ArrayData.Dictionary
// returns a typed nil when there is none).
func dictionaryOf(d arrow.ArrayData) arrow.ArrayData {
	if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
		return dict
	}
	return nil
}

// dictionaryBytes returns the size of the dictionaries rec references:
// after a record is read, those are its IPC stream's dictionaries.
func dictionaryBytes(rec arrow.RecordBatch) int64 {
	s := bufferSizer{}
	var n int64
	for _, c := range rec.Columns() {
		n += s.dictionaries(c.Data())
	}
	return n
}
