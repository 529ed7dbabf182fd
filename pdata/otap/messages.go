package otap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/klauspost/compress/zstd"
)

// payloadMessages is the ipc.MessageReader of one IPC stream: it hands
// arrow-go's reader the messages framed in the current payload, without
// copying them, except two kinds that arrow-go reads at a cost growing
// with the stream's life or paid per message:
//
//   - The dictionary batches of a layout the decoder keeps (the string,
//     binary and fixed-width values OTAP dictionary-encodes) go to a
//     streamDict; the reader gets an empty dictionary for that id, once,
//     and each record read is then given the dictionaries it references
//     (resolve). Handed a delta, arrow-go concatenates the whole
//     dictionary with it for the next record: a stream whose dictionaries
//     keep growing (values that do not repeat) would cost a copy of
//     everything it ever sent, per batch.
//   - A zstd-compressed record batch is decompressed with a pooled decoder
//     and handed over uncompressed: arrow-go starts a new zstd decoder,
//     with its goroutines and buffers, for each message.
//
// Anything else goes to arrow-go as it came. A dictionary batch the
// decoder cannot keep (lz4, nulls among the values) for a dictionary it
// keeps so far is handed back: the reader gets the dictionary so far as a
// replacement, then the batch, and reads that id itself from then on.
//
// The payload's bytes are not copied where they can be viewed: records,
// and kept dictionary batches that are most of their payload, reference
// them (a decoded Batch keeps its BatchArrowRecords' bytes alive, and they
// must not change). What is copied or decompressed is charged to the
// decoder's budget first, and each message taken is checked: its buffers
// lie within its body, dictionary offsets never go backwards and stay
// within their values.
type payloadMessages struct {
	b      []byte // the current payload's bytes
	off    int    // where the next message starts in b
	alloc  *budgetAllocator
	read   bool                  // the schema has been read: fields and dicts are known
	fields []fieldInfo           // the schema's fields
	dicts  map[int64]*streamDict // by dictionary id: those the decoder keeps
	queued *ipc.Message          // the next message to hand the reader, before b's
	// batchBytes is the size of the batch b is a payload of: a view of b
	// may keep the whole batch alive (the receiver decodes its payloads
	// from one buffer).
	batchBytes int
	// dictRoom is what the stream's dictionary limit leaves the
	// dictionaries the decoder keeps, room to grow included (see
	// Decoder.dictRoom).
	dictRoom int64
	tmp      []byte // scratch for decompressed dictionary offsets
}

var _ ipc.MessageReader = (*payloadMessages)(nil)

// reset makes b the bytes the next messages are read from; batchBytes is
// the size of the batch it belongs to (see own).
func (m *payloadMessages) reset(b []byte, batchBytes int) {
	m.b, m.off, m.queued, m.batchBytes = b, 0, nil, max(batchBytes, len(b))
}

// Retain implements ipc.MessageReader: the messages are GC-owned.
func (*payloadMessages) Retain() {}

// Release implements ipc.MessageReader: the messages are GC-owned.
func (*payloadMessages) Release() {}

// Message implements ipc.MessageReader: the next message of the payload
// for the reader, io.EOF at its end. checkFrames has checked the framing;
// it is checked again here, so that a slice out of bounds is an error,
// not a panic.
func (m *payloadMessages) Message() (*ipc.Message, error) {
	if q := m.queued; q != nil {
		m.queued = nil
		return q, nil
	}
	for m.off < len(m.b) {
		metaLen, hdr, err := frameHeader(m.b[m.off:])
		if err != nil {
			return nil, err
		}
		if metaLen == 0 {
			break
		}
		start := m.off + hdr
		if metaLen > len(m.b)-start {
			return nil, fmt.Errorf("%w: message metadata runs past the payload", ErrInvalid)
		}
		meta := m.b[start : start+metaLen]
		bodyLen, err := messageBodyLength(meta)
		if err != nil {
			return nil, err
		}
		if bodyLen < 0 || bodyLen > int64(len(m.b)-start-metaLen) {
			return nil, fmt.Errorf("%w: message body runs past the payload", ErrInvalid)
		}
		body := m.b[start+metaLen : start+metaLen+int(bodyLen)]
		m.off = start + metaLen + int(bodyLen)
		asIs := ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(body))

		msg := fbRoot(meta)
		kind, _ := msg.uint8(slotMessageHeaderType)
		switch kind {
		case headerSchema:
			if !m.read {
				m.read = true
				m.fields, m.dicts = schemaFields(msg)
			}
		case headerDictionaryBatch:
			out, skip, err := m.dictionary(msg, body, asIs)
			if err != nil {
				return nil, err
			}
			if skip {
				continue
			}
			if out != nil {
				return out, nil
			}
		case headerRecordBatch:
			out, err := m.record(msg, body)
			if out != nil || err != nil {
				return out, err
			}
		}
		return asIs, nil
	}
	m.off = len(m.b)
	return nil, io.EOF
}

// Flatbuffers field numbers (slots) of Message.fbs and Schema.fbs read
// here (see also metadata.go).
const (
	slotDictBatchID         = 0
	slotDictBatchData       = 1
	slotDictBatchIsDelta    = 2
	slotRecordLength        = 0
	slotRecordNodes         = 1
	slotRecordBuffers       = 2
	slotRecordCompression   = 3
	slotRecordVariadic      = 4
	slotCompressionCodec    = 0
	slotCompressionMethod   = 1
	slotSchemaEndianness    = 0
	endiannessLittle        = 0 // Endianness.Little, the default
	slotFieldDictionary     = 4
	slotDictEncodingID      = 0
	slotIntBitWidth         = 0
	slotFloatPrecision      = 0
	slotFixedBinaryWidth    = 0
	codecZstd               = 1 // CompressionType.ZSTD
	structSize              = 16
	compressedPrefix        = 8 // a compressed buffer starts with its uncompressed length
	typeInt, typeFloat      = 2, 3
	typeBinary, typeUtf8    = 4, 5
	typeFixedSizeBinary     = 15
	typeLargeBinary         = 19
	typeLargeUtf8           = 20
	maxDictionaryFieldDepth = maxFieldDepth
)

// schemaFields returns the field tree of the schema message msg, and a
// streamDict for each dictionary id whose values have a layout the
// decoder keeps. An id given to fields of different layouts is left to
// arrow-go, and so are all of a big-endian stream's: the decoder reads
// offsets and values as little-endian, where arrow-go's reader swaps them.
func schemaFields(msg fbTable) ([]fieldInfo, map[int64]*streamDict) {
	schema, ok := msg.table(slotMessageHeader)
	if !ok {
		return nil, nil
	}
	if e, _ := schema.uint16(slotSchemaEndianness); e != endiannessLittle {
		return nil, nil
	}
	dicts := map[int64]*streamDict{}
	var walk func(t fbTable, slot, depth int) []fieldInfo
	walk = func(t fbTable, slot, depth int) []fieldInfo {
		n, err := vectorLen(t, slot, fbOffsetSize)
		if err != nil || depth > maxDictionaryFieldDepth {
			return nil
		}
		out := make([]fieldInfo, 0, n)
		for i := range n {
			f, ok := vectorTable(t, slot, i)
			if !ok {
				return out
			}
			var info fieldInfo
			if enc, ok := f.table(slotFieldDictionary); ok {
				id, _ := enc.int64(slotDictEncodingID)
				l, ok := valueLayoutOf(f)
				sd := dicts[id]
				switch {
				case sd == nil:
					sd = &streamDict{layout: l, arena: dictArena{layout: l}}
					if !ok { // arrow-go reads it
						sd.started = true
					}
					dicts[id] = sd
				case sd.layout != l || !ok:
					sd.started, sd.handled = true, false
				}
				info.dict = sd
			}
			info.children = walk(f, slotFieldChildren, depth+1)
			out = append(out, info)
		}
		return out
	}
	fields := walk(schema, slotSchemaFields, 0)
	return fields, dicts
}

// valueLayout is how a dictionary's values lie in memory: offsets of
// width offsetWidth (4 or 8) and a values buffer, or, with offsetWidth 0,
// fixed-width values of width bytes.
type valueLayout struct {
	offsetWidth int
	width       int
}

// valueLayoutOf returns the layout of the values of the dictionary field
// f (its type is the dictionary's value type), if dictArena holds it.
func valueLayoutOf(f fbTable) (valueLayout, bool) {
	kind, _ := f.uint8(slotFieldTypeType)
	switch kind {
	case typeBinary, typeUtf8:
		return valueLayout{offsetWidth: 4}, true
	case typeLargeBinary, typeLargeUtf8:
		return valueLayout{offsetWidth: 8}, true
	}
	typ, ok := f.table(slotFieldType)
	if !ok {
		return valueLayout{}, false
	}
	var width int
	switch kind {
	case typeInt:
		bits, _ := typ.int32(slotIntBitWidth)
		width = int(bits) / 8
		if bits%8 != 0 {
			return valueLayout{}, false
		}
	case typeFloat:
		precision, _ := typ.uint16(slotFloatPrecision)
		width = 2 << precision // HALF, SINGLE, DOUBLE
		if precision > 2 {
			return valueLayout{}, false
		}
	case typeFixedSizeBinary:
		w, _ := typ.int32(slotFixedBinaryWidth)
		width = int(w)
	}
	if width <= 0 {
		return valueLayout{}, false
	}
	return valueLayout{width: width}, true
}

// dictionary takes the dictionary batch msg (asIs, as it came) into its
// streamDict and reports whether the reader gets nothing for it (skip);
// else it returns the message to hand the reader, nil for asIs.
func (m *payloadMessages) dictionary(msg fbTable, body []byte, asIs *ipc.Message) (out *ipc.Message, skip bool, err error) {
	dict, ok := msg.table(slotMessageHeader)
	if !ok {
		return nil, false, nil
	}
	id, _ := dict.int64(slotDictBatchID)
	sd := m.dicts[id]
	if sd == nil || (sd.started && !sd.handled) {
		return nil, false, nil
	}
	delta, _ := dict.uint8(slotDictBatchIsDelta)
	rb, ok := dict.table(slotDictBatchData)
	if !ok {
		return nil, false, fmt.Errorf("%w: dictionary batch %d without its record", ErrInvalid, id)
	}
	offsets, values, n, ok, err := m.dictionaryValues(rb, body, sd.layout)
	switch {
	case err != nil:
		return nil, false, err
	case !ok && !sd.started: // arrow-go reads this id
		sd.started = true
		return nil, false, nil
	case !ok: // hand the id back to arrow-go: what it has so far, then this batch
		if err := sd.materialize(m.alloc, 0); err != nil { // no room to grow: arrow-go takes it over
			return nil, false, err
		}
		msg := sd.arena.message(id)
		sd.reset() // the reader holds the dictionary from now on: not kept twice
		sd.handled = false
		m.queued = asIs
		return msg, false, nil
	case delta != 0 && !sd.started:
		return nil, false, fmt.Errorf("%w: dictionary %d: a delta before the dictionary", ErrInvalid, id)
	}
	offsets, vals, err := m.own(offsets, values)
	if err != nil {
		return nil, false, err
	}
	if delta == 0 {
		sd.reset()
	}
	sd.add(offsets, vals, n)
	if sd.started {
		return nil, true, nil
	}
	sd.started, sd.handled = true, true
	return emptyDictionary(id, sd.layout), false, nil
}

// own returns the offsets and values of a dictionary batch as bytes the
// decoder may keep: the payload's own if they are uncompressed and at
// least half of the batch (which lives as long as they do), else a copy,
// decompressed, so that a small dictionary batch does not keep a large
// batch alive, and the scratch offsets are not kept.
func (m *payloadMessages) own(offsets []byte, v valuesSrc) ([]byte, []byte, error) {
	scratch := len(offsets) > 0 && cap(m.tmp) > 0 && &offsets[0] == &m.tmp[:1][0]
	compressed := v.zstd || scratch
	if !compressed && 2*(len(offsets)+len(v.b)) >= m.batchBytes {
		return offsets[:len(offsets):len(offsets)], v.b[:len(v.b):len(v.b)], nil
	}
	size := len(offsets) + v.size
	if err := m.alloc.tryCharge(int64(size)); err != nil {
		return nil, nil, err
	}
	out := make([]byte, len(offsets), size)
	copy(out, offsets)
	if !v.zstd {
		return out, append(out[len(offsets):], v.b...), nil
	}
	vals, err := decompress(out[len(offsets):len(offsets):size], v.b)
	return out, vals, err
}

// emptyDictionary returns a dictionary batch of id holding no value, of
// layout l.
func emptyDictionary(id int64, l valueLayout) *ipc.Message {
	var node [structSize]byte
	bufs := []ipcBuffer{{}, {}}
	body := make([]byte, l.offsetWidth)
	if l.offsetWidth > 0 {
		bufs = []ipcBuffer{{}, {length: int64(l.offsetWidth)}, {}}
	}
	meta := batchMeta(batchSpec{dictID: id, nodes: node[:], bufs: bufs, bodyLen: int64(len(body))})
	return ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(body))
}

// dictionaryValues reads the values of a dictionary batch's record rb:
// its offsets (nil for fixed-width values), decompressed into scratch if
// they are compressed, its values (still compressed, if they are: own
// decompresses them where they are kept) and its length n, checked. ok is
// false if the record is not one array of layout l without nulls, or is
// compressed other than with zstd: the decoder does not keep it.
func (m *payloadMessages) dictionaryValues(rb fbTable, body []byte, l valueLayout) (offsets []byte, values valuesSrc, n int, ok bool, err error) {
	nodes, ok := structVector(rb, slotRecordNodes)
	if !ok || len(nodes) != structSize {
		return nil, values, 0, false, nil
	}
	length, nulls := int64(binary.LittleEndian.Uint64(nodes)), int64(binary.LittleEndian.Uint64(nodes[8:]))
	if nulls != 0 || length < 0 || length > 1<<31-1 {
		return nil, values, 0, false, nil
	}
	n = int(length)
	want := 2
	if l.offsetWidth > 0 {
		want = 3
	}
	bufs, ok := structVector(rb, slotRecordBuffers)
	if !ok || len(bufs) != want*structSize || hasVariadic(rb) {
		return nil, values, 0, false, nil
	}
	compressed, ok := compressionOf(rb)
	if !ok {
		return nil, values, 0, false, nil
	}
	if l.offsetWidth > 0 {
		if offsets, err = m.buffer(bufs[structSize:], body, compressed); err != nil {
			return nil, values, 0, false, err
		}
	}
	raw, err := bufferIn(bufs[(want-1)*structSize:], body)
	if err != nil {
		return nil, values, 0, false, err
	}
	values = valuesSrc{b: raw, size: len(raw)}
	if compressed && len(raw) > 0 {
		size, src, err := compressedBuffer(raw)
		if err != nil {
			return nil, values, 0, false, err
		}
		values = valuesSrc{b: src, size: len(src)}
		if size >= 0 {
			values = valuesSrc{b: src, size: size, zstd: true}
		}
	}
	if err := l.check(offsets, values.size, n); err != nil {
		return nil, values, 0, false, err
	}
	return offsets, values, n, true, nil
}

// valuesSrc is the values buffer of a dictionary batch: size bytes, or a
// zstd frame declaring size bytes.
type valuesSrc struct {
	b    []byte
	size int
	zstd bool
}

// hasVariadic reports whether record rb declares variadic buffer counts
// (view types, which OTAP does not use).
func hasVariadic(rb fbTable) bool {
	_, n, ok := vector(rb, slotRecordVariadic)
	return !ok || n > 0
}

// compressionOf returns whether record rb is zstd-compressed; ok is false
// for another codec or method.
func compressionOf(rb fbTable) (zstd, ok bool) {
	c, present := rb.table(slotRecordCompression)
	if !present {
		_, ok := rb.field(slotRecordCompression)
		return false, ok
	}
	codec, _ := c.uint8(slotCompressionCodec)
	method, _ := c.uint8(slotCompressionMethod)
	return true, codec == codecZstd && method == 0
}

// structVector returns the bytes of the elements of the vector of
// 16-byte structs in field slot of t (none when absent); false if they
// run past the buffer.
func structVector(t fbTable, slot int) ([]byte, bool) {
	start, n, ok := vector(t, slot)
	if !ok {
		return nil, false
	}
	if start == 0 {
		return nil, true
	}
	from := int64(start) + 4
	if from > int64(len(t.buf)) || int64(n) > (int64(len(t.buf))-from)/structSize {
		return nil, false
	}
	return t.buf[from : from+int64(n)*structSize], true
}

// buffer returns the bytes of the buffer entry e (offset, length) within
// body, decompressed if compressed (into the scratch buffer, reused, whose
// growth is charged to the budget).
func (m *payloadMessages) buffer(e, body []byte, compressed bool) ([]byte, error) {
	raw, err := bufferIn(e, body)
	if err != nil || !compressed || len(raw) == 0 {
		return raw, err
	}
	size, src, err := compressedBuffer(raw)
	if err != nil || size < 0 {
		return src, err
	}
	if cap(m.tmp) < size {
		if err := m.alloc.tryCharge(int64(size)); err != nil {
			return nil, err
		}
		m.tmp = make([]byte, 0, size)
	}
	return decompress(m.tmp[:0:size], src)
}

// bufferIn returns the bytes the buffer entry e (offset, length) refers
// to within body.
func bufferIn(e, body []byte) ([]byte, error) {
	off, n := int64(binary.LittleEndian.Uint64(e)), int64(binary.LittleEndian.Uint64(e[8:]))
	if off < 0 || n < 0 || off > int64(len(body)) || n > int64(len(body))-off {
		return nil, fmt.Errorf("%w: buffer [%d, +%d) runs past its %d-byte message body", ErrInvalid, off, n, len(body))
	}
	return body[off : off+n], nil
}

// compressedBuffer splits a compressed IPC buffer: its uncompressed size
// (-1: the rest is not compressed) and the rest.
func compressedBuffer(raw []byte) (int, []byte, error) {
	if len(raw) < compressedPrefix {
		return 0, nil, fmt.Errorf("%w: compressed buffer of %d bytes", ErrInvalid, len(raw))
	}
	size := int64(binary.LittleEndian.Uint64(raw))
	switch {
	case size == -1:
		return -1, raw[compressedPrefix:], nil
	case size < 0 || size > 1<<40:
		return 0, nil, fmt.Errorf("%w: compressed buffer declares %d bytes", ErrInvalid, size)
	}
	return int(size), raw[compressedPrefix:], nil
}

// zstdDecoders are the decoders of compressed buffers, shared by every
// stream: one per goroutine decompressing at a time, none held by an idle
// stream. With concurrency 1 a decoder starts no goroutine.
var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderLowmem(true),
	)
	if err != nil {
		panic(err) // the options are constant
	}
	return d
}}

// decompress decompresses the zstd frame src into dst, which has room for
// exactly the declared uncompressed size: more is an error, and so is less.
func decompress(dst, src []byte) ([]byte, error) {
	d := zstdDecoders.Get().(*zstd.Decoder)
	out, err := d.DecodeAll(src, dst)
	zstdDecoders.Put(d)
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return nil, fmt.Errorf("%w: zstd buffer decompresses to more than its declared %d bytes", ErrInvalid, cap(dst))
	case err != nil:
		return nil, fmt.Errorf("%w: zstd buffer: %w", ErrInvalid, err)
	case len(out) != cap(dst):
		return nil, fmt.Errorf("%w: zstd buffer decompresses to %d bytes, not its declared %d", ErrInvalid, len(out), cap(dst))
	}
	return out, nil
}

// record returns the message to hand the reader for the record batch msg:
// decompressed if it is compressed with zstd, else nil (as it came).
func (m *payloadMessages) record(msg fbTable, body []byte) (*ipc.Message, error) {
	rb, ok := msg.table(slotMessageHeader)
	if !ok {
		return nil, nil
	}
	compressed, ok := compressionOf(rb)
	if !compressed || !ok || hasVariadic(rb) {
		return nil, nil
	}
	if _, n, ok := vector(msg, slotMessageCustomMeta); !ok || n > 0 {
		return nil, nil
	}
	nodes, ok1 := structVector(rb, slotRecordNodes)
	entries, ok2 := structVector(rb, slotRecordBuffers)
	if !ok1 || !ok2 {
		return nil, nil
	}
	length, _ := rb.int64(slotRecordLength)

	// The buffers' sizes first, to allocate the body once.
	bufs := make([]ipcBuffer, len(entries)/structSize)
	srcs := make([]compressedSrc, len(bufs))
	var size int64
	for i := range bufs {
		raw, err := bufferIn(entries[i*structSize:], body)
		if err != nil {
			return nil, err
		}
		var n int64
		if len(raw) > 0 {
			un, src, err := compressedBuffer(raw)
			if err != nil {
				return nil, err
			}
			srcs[i] = compressedSrc{b: src, plain: un < 0}
			if n = int64(un); un < 0 {
				n = int64(len(src))
			}
		}
		bufs[i] = ipcBuffer{offset: size, length: n}
		size = addBytes(size, padded8(n))
	}
	if err := m.alloc.tryCharge(size); err != nil {
		return nil, err
	}
	out := make([]byte, size)
	for i, b := range bufs {
		switch {
		case b.length == 0:
		case srcs[i].plain:
			copy(out[b.offset:], srcs[i].b)
		default:
			if _, err := decompress(out[b.offset:b.offset:b.offset+b.length], srcs[i].b); err != nil {
				return nil, err
			}
		}
	}
	meta := batchMeta(batchSpec{dictID: -1, length: length, nodes: nodes, bufs: bufs, bodyLen: size})
	return ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(out)), nil
}

// compressedSrc is a buffer of a compressed record: a zstd frame, or
// plain bytes (declared size -1).
type compressedSrc struct {
	b     []byte
	plain bool
}

func padded8(n int64) int64 { return (n + 7) &^ 7 }
