package otap

import "encoding/binary"

// Arrow IPC message kinds and the metadata version the decoder writes
// (Message.fbs).
const (
	headerDictionaryBatch = 2 // MessageHeader.DictionaryBatch
	headerRecordBatch     = 3 // MessageHeader.RecordBatch
	metadataV5            = 4 // MetadataVersion.V5
)

// ipcBuffer is one entry of a RecordBatch's buffers vector: where a
// buffer lies in the message body.
type ipcBuffer struct{ offset, length int64 }

// fieldNode is one entry of a RecordBatch's nodes vector.
type fieldNode struct{ length, nulls int64 }

// batchSpec describes an Arrow IPC record batch or dictionary batch
// message, for batchMeta.
type batchSpec struct {
	dictID  int64       // a DictionaryBatch of this id; < 0: a RecordBatch
	delta   bool        // the dictionary batch is a delta
	length  int64       // rows (values, for a dictionary)
	nodes   []byte      // the nodes vector's elements, 16 bytes each, as a RecordBatch stores them
	bufs    []ipcBuffer // where the buffers lie in the body
	bodyLen int64
	zstd    bool // the buffers are zstd-compressed (BodyCompression ZSTD, BUFFER)
}

// batchMeta returns the flatbuffers metadata of the message s describes.
//
// The layout is written front to back: each table is preceded by its
// vtable, and every offset points forward, as flatbuffers requires of
// unsigned offsets. Readers (arrow-go's, arrow-rs's, checkFrames) find
// fields through the vtables, so the order is free.
func batchMeta(s batchSpec) []byte {
	w := fbWriter{b: make([]byte, 0, 160+len(s.nodes)+16*len(s.bufs))}
	w.u32(0) // the root offset, patched below

	// Message: version (slot 0), header_type (1), header (2), bodyLength (3).
	header := uint8(headerRecordBatch)
	if s.dictID >= 0 {
		header = headerDictionaryBatch
	}
	msg := w.table(20, []uint16{16, 18, 12, 4})
	w.putU32(0, uint32(msg))
	w.put64(msg+4, uint64(s.bodyLen))
	w.put16(msg+16, metadataV5)
	w.b[msg+18] = header
	headerAt := msg + 12

	if s.dictID >= 0 {
		// DictionaryBatch: id (slot 0), data (1), isDelta (2; absent: false).
		var dict int
		if s.delta {
			dict = w.table(20, []uint16{4, 12, 16})
			w.b[dict+16] = 1
		} else {
			dict = w.table(16, []uint16{4, 12})
		}
		w.patchOffset(headerAt, dict)
		w.put64(dict+4, uint64(s.dictID))
		headerAt = dict + 12
	}

	// RecordBatch: length (slot 0), nodes (1), buffers (2), compression (3).
	fields, size := []uint16{4, 12, 16}, 20
	if s.zstd {
		fields, size = []uint16{4, 12, 16, 20}, 24
	}
	rb := w.table(size, fields)
	w.patchOffset(headerAt, rb)
	w.put64(rb+4, uint64(s.length))

	w.patchOffset(rb+12, w.vector(len(s.nodes)/16))
	w.b = append(w.b, s.nodes...)
	w.patchOffset(rb+16, w.vector(len(s.bufs)))
	for _, b := range s.bufs {
		w.u64(uint64(b.offset))
		w.u64(uint64(b.length))
	}
	if s.zstd {
		// BodyCompression: codec (slot 0) ZSTD; method (1) absent: BUFFER.
		c := w.table(8, []uint16{4})
		w.patchOffset(rb+20, c)
		w.b[c+4] = codecZstd
	}
	return w.b
}

// fbWriter appends a flatbuffer front to back (see batchMeta).
type fbWriter struct{ b []byte }

// table writes a vtable for fields at the given offsets within the table
// (0: absent), then room for the table's size bytes (its soffset first),
// placed so that its bytes 4 to 11 are 8-aligned; it returns where the
// table starts.
func (w *fbWriter) table(size int, fields []uint16) int {
	w.align(2, 0)
	vt := len(w.b)
	w.u16(uint16(4 + 2*len(fields)))
	w.u16(uint16(size))
	for _, f := range fields {
		w.u16(f)
	}
	w.align(8, 4)
	at := len(w.b)
	w.b = append(w.b, make([]byte, size)...)
	w.putU32(at, uint32(at-vt)) // soffset: the vtable is at at - soffset
	return at
}

// vector writes the length of a vector of n 16-byte structs, placed so
// that its elements, which the caller appends next, are 8-aligned; it
// returns where the vector starts.
func (w *fbWriter) vector(n int) int {
	w.align(8, 4)
	at := len(w.b)
	w.u32(uint32(n))
	return at
}

// patchOffset makes the offset field at at refer to target, which is
// after it.
func (w *fbWriter) patchOffset(at, target int) { w.putU32(at, uint32(target-at)) }

func (w *fbWriter) align(n, rem int) {
	for len(w.b)%n != rem {
		w.b = append(w.b, 0)
	}
}

func (w *fbWriter) u16(v uint16)           { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *fbWriter) u32(v uint32)           { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *fbWriter) u64(v uint64)           { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *fbWriter) put16(at int, v uint16) { binary.LittleEndian.PutUint16(w.b[at:], v) }
func (w *fbWriter) putU32(at int, v uint32) {
	binary.LittleEndian.PutUint32(w.b[at:], v)
}
func (w *fbWriter) put64(at int, v uint64) { binary.LittleEndian.PutUint64(w.b[at:], v) }
