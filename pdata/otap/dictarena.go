package otap

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// dictArena is the contiguous copy of a dictionary's first values that a
// streamDict makes when a record references values of several of its
// dictionary batches: its values in one buffer (offsets first, then
// values) that later appends extend in place, with room to double, so
// that a value costs its own bytes, amortised, however long the
// dictionary grows.
//
// The arrays viewing it stay valid: an append writes only past what they
// view, and growing allocates a new buffer (the old one lives on with the
// records viewing it; the GC frees it after them). So records read on
// other goroutines never see a byte of theirs change.
type dictArena struct {
	layout valueLayout
	buf    []byte // offsets at [0, valAt), values from valAt
	valAt  int    // where the values start (0 for fixed-width values)
	n      int    // values held
	used   int    // bytes of values held
}

// restart empties the arena for a dictionary that is not a delta: a new
// buffer, as the old one's contents are viewed by earlier records.
func (a *dictArena) restart() {
	*a = dictArena{layout: a.layout}
}

// append adds k checked values: their offsets (nil for fixed-width
// values, else k+1 of them, not necessarily from 0) and the values buffer
// they index. What it allocates is charged to alloc first; maxCap is as
// for grow.
func (a *dictArena) append(offsets, values []byte, k int, alloc *budgetAllocator, maxCap int64) error {
	w := a.layout.offsetWidth
	from, to := a.layout.valueSpan(offsets, k)
	if err := a.reserve(k, to-from, alloc, maxCap); err != nil {
		return err
	}
	copy(a.buf[a.valAt+a.used:], values[from:to])
	if w > 0 {
		if a.n == 0 {
			putOffset(a.buf, 0, w, 0)
		}
		base := int64(a.used) - int64(from)
		for i := 1; i <= k; i++ {
			putOffset(a.buf, a.n+i, w, base+offsetAt(offsets, i, w))
		}
	}
	a.n += k
	a.used += to - from
	return nil
}

// reserve makes room for k more values of size bytes in all, moving the
// arena to a new buffer (grow, with maxCap) if it lacks it.
func (a *dictArena) reserve(k, size int, alloc *budgetAllocator, maxCap int64) error {
	w := a.layout.offsetWidth
	needOff, needVal := 0, a.used+size
	if w > 0 {
		needOff = (a.n + k + 1) * w
	}
	if w == 4 && needVal > math.MaxInt32 {
		return fmt.Errorf("%w: dictionary values past 2 GiB (32-bit offsets)", ErrTooLarge)
	}
	if a.buf != nil && needOff <= a.valAt && needVal <= len(a.buf)-a.valAt {
		return nil
	}
	return a.grow(needOff, needVal, alloc, maxCap)
}

// grow moves the arena to a new buffer with room for needOff bytes of
// offsets and needVal of values: twice that if the arena already held a
// dictionary (it is being extended, and will be again), the budget allows
// and the buffer stays within maxCap bytes, else exactly that. maxCap is
// what the stream's dictionary limit leaves the arena: room to grow that
// it counts must not refuse a stream whose values fit.
func (a *dictArena) grow(needOff, needVal int, alloc *budgetAllocator, maxCap int64) error {
	offCap, valCap := roundUp64(needOff), needVal
	if a.buf != nil {
		if o, v := roundUp64(2*needOff), 2*needVal; int64(o+v) <= maxCap && alloc.fits(int64(o+v)) {
			offCap, valCap = o, v
		}
	}
	if err := alloc.tryCharge(int64(offCap + valCap)); err != nil {
		return fmt.Errorf("dictionary of %d values: %w", a.n, err)
	}
	buf := make([]byte, offCap+valCap)
	if a.buf != nil {
		if w := a.layout.offsetWidth; w > 0 {
			copy(buf, a.buf[:(a.n+1)*w])
		}
		copy(buf[offCap:], a.buf[a.valAt:a.valAt+a.used])
	}
	a.buf, a.valAt = buf, offCap
	return nil
}

// message returns a dictionary batch of id, not a delta, viewing the
// arena's values.
func (a *dictArena) message(id int64) *ipc.Message {
	if a.n == 0 {
		return emptyDictionary(id, a.layout)
	}
	var node [structSize]byte
	binary.LittleEndian.PutUint64(node[:], uint64(a.n))
	bufs := []ipcBuffer{{}, {offset: int64(a.valAt), length: int64(a.used)}}
	if w := a.layout.offsetWidth; w > 0 {
		bufs = []ipcBuffer{{}, {length: int64((a.n + 1) * w)}, bufs[1]}
	}
	meta := batchMeta(batchSpec{dictID: id, length: int64(a.n), nodes: node[:], bufs: bufs, bodyLen: int64(len(a.buf))})
	return ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(a.buf))
}

// check checks the buffers of n values of layout l (values is the size
// of the values buffer): enough of them, and offsets that start at 0 or
// after, never go backwards and stay within the values.
func (l valueLayout) check(offsets []byte, values, n int) error {
	w := l.offsetWidth
	if w == 0 {
		if int64(values) < int64(n)*int64(l.width) {
			return fmt.Errorf("%w: dictionary of %d values of %d bytes in %d bytes", ErrInvalid, n, l.width, values)
		}
		return nil
	}
	if n == 0 {
		return nil
	}
	if int64(len(offsets)) < (int64(n)+1)*int64(w) {
		return fmt.Errorf("%w: dictionary of %d values with %d bytes of offsets", ErrInvalid, n, len(offsets))
	}
	prev := int64(0)
	for i := range n + 1 {
		o := offsetAt(offsets, i, w)
		if o < prev || o > int64(values) {
			return fmt.Errorf("%w: dictionary value offset %d at %d (previous %d, %d bytes of values)", ErrInvalid, o, i, prev, values)
		}
		prev = o
	}
	return nil
}

// valueSpan returns where k checked values of layout l lie in their
// values buffer: [from, to).
func (l valueLayout) valueSpan(offsets []byte, k int) (from, to int) {
	if l.offsetWidth == 0 {
		return 0, k * l.width
	}
	if k == 0 {
		return 0, 0
	}
	return int(offsetAt(offsets, 0, l.offsetWidth)), int(offsetAt(offsets, k, l.offsetWidth))
}

// offsetAt returns offset i of offsets of width w (4 or 8).
func offsetAt(offsets []byte, i, w int) int64 {
	if w == 4 {
		return int64(int32(binary.LittleEndian.Uint32(offsets[i*4:])))
	}
	return int64(binary.LittleEndian.Uint64(offsets[i*8:]))
}

// putOffset sets offset i of the offsets of width w at the start of b.
func putOffset(b []byte, i, w int, v int64) {
	if w == 4 {
		binary.LittleEndian.PutUint32(b[i*4:], uint32(v))
		return
	}
	binary.LittleEndian.PutUint64(b[i*8:], uint64(v))
}

func roundUp64(n int) int { return (n + 63) &^ 63 }
