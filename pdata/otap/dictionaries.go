package otap

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// streamDict is one dictionary of an IPC stream, as the decoder keeps it
// instead of arrow-go's reader (see payloadMessages): the values of its
// dictionary batches, each kept as it came (a chunk, viewing the payload
// or its decompressed buffer), and a contiguous copy of the first ones
// (the arena), made only when a record needs it.
//
// A record gets, for each dictionary-encoded array, the smallest
// dictionary that holds the values it references:
//
//   - the one chunk holding them all, with its indices shifted to it, when
//     there is one: a batch that references only the values it brought (a
//     stream whose values do not repeat), or those of one earlier batch,
//     costs its rows, whatever the stream sent before;
//   - else the arena, into which the chunks received so far are first
//     appended: a record referencing values of several batches costs
//     their append, once, amortised (the arena grows in place, doubling
//     while the dictionary limit leaves room for it).
//
// Dictionaries handed to records never change: chunks are immutable, and
// the arena's appends write past what earlier records view (dictArena).
type streamDict struct {
	layout valueLayout
	// handled: the reader holds an empty dictionary for this id, and the
	// records' dictionaries come from here. false: arrow-go's reader
	// reads this id's dictionary batches itself (a layout or a batch the
	// decoder does not take, see payloadMessages).
	handled bool
	started bool // a dictionary batch of this id has been read

	arena   dictArena   // values [0, arena.n)
	pending []dictChunk // values [arena.n, total), a chunk per dictionary batch
	total   int
	held    int64 // bytes of the pending chunks

	view arrow.ArrayData // the arena as an array, while it holds view.Len() values
}

// dictChunk is the values of one dictionary batch.
type dictChunk struct {
	first   int    // the position of its first value in the dictionary
	n       int    // values
	offsets []byte // n+1 offsets (var-width layouts), not necessarily from 0
	values  []byte
	data    arrow.ArrayData // the chunk as an array, made on first use
}

// reset forgets the dictionary, for a dictionary batch that is not a
// delta: a new arena, as records view the old one.
func (sd *streamDict) reset() {
	sd.arena.restart()
	sd.pending, sd.total, sd.held, sd.view = nil, 0, 0, nil
}

// add appends a checked chunk of n values.
func (sd *streamDict) add(offsets, values []byte, n int) {
	sd.pending = append(sd.pending, dictChunk{first: sd.total, n: n, offsets: offsets, values: values})
	sd.total += n
	sd.held += int64(len(offsets) + len(values))
}

// bytes returns the memory the dictionary holds.
func (sd *streamDict) bytes() int64 {
	return int64(len(sd.arena.buf)) + sd.held
}

// materialize appends the pending chunks to the arena, which grows at
// most once, to at most maxCap bytes if it grows with room to spare (see
// dictArena.grow).
func (sd *streamDict) materialize(alloc *budgetAllocator, maxCap int64) error {
	if len(sd.pending) == 0 {
		return nil
	}
	k, size := 0, 0
	for _, c := range sd.pending {
		from, to := sd.layout.valueSpan(c.offsets, c.n)
		k, size = k+c.n, size+to-from
	}
	if err := sd.arena.reserve(k, size, alloc, maxCap); err != nil {
		return err
	}
	for i, c := range sd.pending {
		if err := sd.arena.append(c.offsets, c.values, c.n, alloc, maxCap); err != nil {
			sd.pending = sd.pending[i:]
			return err
		}
		sd.held -= int64(len(c.offsets) + len(c.values))
	}
	sd.pending = nil
	return nil
}

// dictionaryFor returns the dictionary for an array of value type vt
// whose valid indices span [lo, hi], and the position in the stream's
// dictionary of its first value (what to subtract from the indices). m
// is the IPC stream sd belongs to.
func (sd *streamDict) dictionaryFor(vt arrow.DataType, lo, hi int, m *payloadMessages) (arrow.ArrayData, int, error) {
	if hi < sd.arena.n {
		return sd.arenaView(vt), 0, nil
	}
	for i := len(sd.pending) - 1; i >= 0; i-- {
		c := &sd.pending[i]
		if c.first <= lo && hi < c.first+c.n {
			if c.data == nil {
				c.data = sd.layout.array(vt, c.n, c.offsets, c.values)
			}
			return c.data, c.first, nil
		}
		if c.first <= lo {
			break
		}
	}
	if err := sd.materialize(m.alloc, m.arenaRoom(sd)); err != nil {
		return nil, 0, err
	}
	return sd.arenaView(vt), 0, nil
}

// arenaView returns the arena's values as an array of value type vt, the
// same one while the arena does not change.
func (sd *streamDict) arenaView(vt arrow.DataType) arrow.ArrayData {
	if sd.view == nil || sd.view.Len() != sd.arena.n {
		a := &sd.arena
		var offsets, values []byte
		if a.n > 0 {
			// Capped: the arena's appends write past them.
			if w := a.layout.offsetWidth; w > 0 {
				offsets = a.buf[: (a.n+1)*w : (a.n+1)*w]
			}
			values = a.buf[a.valAt : a.valAt+a.used : a.valAt+a.used]
		}
		sd.view = sd.layout.array(vt, a.n, offsets, values)
	}
	return sd.view
}

// array returns n values of layout l, of value type vt, over offsets (for
// var-width layouts) and values.
func (l valueLayout) array(vt arrow.DataType, n int, offsets, values []byte) arrow.ArrayData {
	if l.offsetWidth > 0 {
		if n == 0 {
			offsets = make([]byte, l.offsetWidth)
		}
		return array.NewData(vt, n, []*memory.Buffer{nil, memory.NewBufferBytes(offsets), memory.NewBufferBytes(values)}, nil, 0, 0)
	}
	return array.NewData(vt, n, []*memory.Buffer{nil, memory.NewBufferBytes(values[:n*l.width])}, nil, 0, 0)
}

// fieldInfo is a schema field as payloadMessages resolves records: its
// dictionary, if the decoder keeps it, and its children.
type fieldInfo struct {
	dict     *streamDict
	children []fieldInfo
}

// resolve returns rec with the arrays of the dictionaries the decoder
// keeps given their dictionaries (see streamDict), and whether it changed
// anything. fields is the schema's field tree.
func (m *payloadMessages) resolve(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	if len(m.dicts) == 0 {
		return rec, nil
	}
	var cols []arrow.Array // nil until a column changes
	for i, col := range rec.Columns() {
		if i >= len(m.fields) {
			break
		}
		d, changed, err := m.resolveData(col.Data(), &m.fields[i])
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
	return array.NewRecordBatch(rec.Schema(), cols, rec.NumRows()), nil
}

// resolveData returns d, of field f, resolved, and whether that changed
// it.
func (m *payloadMessages) resolveData(d arrow.ArrayData, f *fieldInfo) (arrow.ArrayData, bool, error) {
	if f.dict != nil && f.dict.handled {
		if d.DataType().ID() != arrow.DICTIONARY {
			return nil, false, fmt.Errorf("%w: a dictionary-encoded field holds %s", ErrInvalid, d.DataType())
		}
		nd, err := m.dictionaryArray(d, f.dict)
		return nd, err == nil, err
	}
	if len(d.Children()) != len(f.children) {
		return d, false, nil
	}
	return mapChildren(d, func(i int, child arrow.ArrayData) (arrow.ArrayData, bool, error) {
		return m.resolveData(child, &f.children[i])
	})
}

// dictionaryArray returns the dictionary array d with the dictionary of
// sd its indices need (dictionaryFor), its indices shifted to it.
func (m *payloadMessages) dictionaryArray(d arrow.ArrayData, sd *streamDict) (arrow.ArrayData, error) {
	dt := d.DataType().(*arrow.DictionaryType)
	var validity []byte // d's validity bitmap if it may have nulls, else nil
	if b := d.Buffers()[0]; b != nil && d.NullN() != 0 {
		validity = b.Bytes()
	}
	ix := indicesOf(d, validity)
	lo, hi, err := ix.span(sd.total)
	if err != nil {
		return nil, err
	}
	if hi < lo { // no valid index: any dictionary will do
		lo, hi = 0, -1
	}
	dict, first, err := sd.dictionaryFor(dt.ValueType, lo, hi, m)
	if err != nil {
		return nil, err
	}
	if first == 0 {
		return array.NewDataWithDictionary(dt, d.Len(), d.Buffers(), d.NullN(), d.Offset(), dict.(*array.Data)), nil
	}
	if err := m.alloc.tryCharge(int64(d.Len() * dt.IndexType.(arrow.FixedWidthDataType).BitWidth() / 8)); err != nil {
		return nil, err
	}
	bufs := []*memory.Buffer{nil, ix.shift(first)}
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
	return array.NewDataWithDictionary(dt, d.Len(), bufs, nulls, 0, dict.(*array.Data)), nil
}

// arenaRoom returns the most sd's arena may hold, room to grow included,
// for the dictionaries the decoder keeps to stay within dictRoom.
func (m *payloadMessages) arenaRoom(sd *streamDict) int64 {
	return m.dictRoom - (m.heldBytes() - sd.bytes())
}

// heldBytes returns the memory the stream's dictionaries that the decoder
// keeps hold.
func (m *payloadMessages) heldBytes() int64 {
	var n int64
	for _, sd := range m.dicts {
		n += sd.bytes()
	}
	return n
}
