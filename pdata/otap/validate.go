package otap

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// checkRecord checks, in one pass over each column, what arrow-go does
// not check when it loads a record and what the converters and the IPC
// writer would otherwise trip on later, on another goroutine: dictionary
// indices outside their dictionary, offsets that go backwards or past
// their values, union type codes without a child. Those later readers
// recover panics anyway; this turns a hostile batch into ErrInvalid at the
// stream that sent it.
func checkRecord(rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		if int64(col.Len()) != rec.NumRows() {
			return fmt.Errorf("%w: column %q has %d rows, the record %d",
				ErrInvalid, rec.ColumnName(i), col.Len(), rec.NumRows())
		}
		if err := checkArray(col); err != nil {
			return fmt.Errorf("column %q: %w", rec.ColumnName(i), err)
		}
	}
	return nil
}

// checkArray checks a and, recursively, its children and dictionary.
// Nesting is bounded by arrow-go's reader (64 levels).
func checkArray(a arrow.Array) error {
	switch a := a.(type) {
	case *array.Dictionary:
		if err := checkIndices(a); err != nil {
			return err
		}
		return checkArray(a.Dictionary())
	case *array.String:
		if a.Len() > 0 {
			return checkOffsets(a.ValueOffsets(), valuesLen(a.Data()))
		}
	case *array.Binary:
		if a.Len() > 0 {
			return checkOffsets(a.ValueOffsets(), valuesLen(a.Data()))
		}
	case *array.Struct:
		for i := range a.NumField() {
			if err := checkChild(a.Field(i), a.Len()); err != nil {
				return err
			}
		}
	case array.ListLike:
		return checkList(a)
	case array.Union:
		return checkUnion(a)
	}
	return nil
}

// checkChild checks a child array that must hold at least n values.
func checkChild(c arrow.Array, n int) error {
	if c.Len() < n {
		return fmt.Errorf("%w: child array has %d values, needs %d", ErrInvalid, c.Len(), n)
	}
	return checkArray(c)
}

// checkIndices checks that a's non-null indices fall within its
// dictionary, reading the index values directly: GetValueIndex, which
// switches on the index type for every row, would cost as much as the
// rest of decoding.
func checkIndices(a *array.Dictionary) error {
	n := uint64(a.Dictionary().Len())
	switch idx := a.Indices().(type) {
	case *array.Uint8:
		return indicesWithin(idx.Uint8Values(), idx, n)
	case *array.Uint16:
		return indicesWithin(idx.Uint16Values(), idx, n)
	case *array.Uint32:
		return indicesWithin(idx.Uint32Values(), idx, n)
	case *array.Uint64:
		return indicesWithin(idx.Uint64Values(), idx, n)
	case *array.Int8:
		return indicesWithin(idx.Int8Values(), idx, n)
	case *array.Int16:
		return indicesWithin(idx.Int16Values(), idx, n)
	case *array.Int32:
		return indicesWithin(idx.Int32Values(), idx, n)
	case *array.Int64:
		return indicesWithin(idx.Int64Values(), idx, n)
	}
	return fmt.Errorf("%w: dictionary index type %s", ErrInvalid, a.Indices().DataType())
}

// indicesWithin checks that the non-null values of indices are below n.
// A negative signed index converts to a huge uint64, so one comparison
// covers both ends.
func indicesWithin[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](values []T, indices arrow.Array, n uint64) error {
	for i, v := range values {
		if uint64(v) >= n && indices.IsValid(i) {
			return fmt.Errorf("%w: dictionary index %d at row %d, dictionary has %d values", ErrInvalid, v, i, n)
		}
	}
	return nil
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
func checkList(a array.ListLike) error {
	values := a.ListValues()
	n := int64(values.Len())
	for i := range a.Len() { // null lists too: converters size slices by their offsets
		start, end := a.ValueOffsets(i)
		if start < 0 || start > end || end > n {
			return fmt.Errorf("%w: list %d spans values [%d, %d) of %d", ErrInvalid, i, start, end, n)
		}
	}
	return checkArray(values)
}

// checkUnion checks type codes, dense offsets and child lengths
// (arrow-go's ValidateFull), then the children.
func checkUnion(a array.Union) error {
	if err := a.ValidateFull(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for i := range a.NumFields() {
		if err := checkArray(a.Field(i)); err != nil {
			return err
		}
	}
	return nil
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
