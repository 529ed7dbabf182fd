package otap

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// ipcCompressor compresses the buffers of the Arrow IPC messages an
// Encoder's producer writes uncompressed, as arrow-go's writer does with
// its zstd option (each non-empty buffer: its uncompressed length, then a
// zstd frame; or -1, then the buffer, when compressing would not make it
// smaller), but with an encoder of the level it is given, reused from a
// pool: arrow-go's compresses at zstd's default level whatever the data,
// which on values that do not repeat (log bodies, ids) costs several
// times level 1 for no smaller output.
type ipcCompressor struct {
	encoders *sync.Pool // of *zstd.Encoder at the chosen level
	body     []byte     // scratch: the compressed body of the message being written
}

// encoderPools holds a pool of zstd encoders per level.
var encoderPools sync.Map // zstd.EncoderLevel → *sync.Pool

// newIPCCompressor returns a compressor at zstd level level (1 to 22, as
// zstd's command line counts them; klauspost/compress maps them to its
// four speeds).
func newIPCCompressor(level int) *ipcCompressor {
	l := zstd.EncoderLevelFromZstd(level)
	p, ok := encoderPools.Load(l)
	if !ok {
		p, _ = encoderPools.LoadOrStore(l, &sync.Pool{New: func() any {
			e, err := zstd.NewWriter(nil,
				zstd.WithEncoderLevel(l),
				zstd.WithEncoderConcurrency(1),
				zstd.WithEncoderCRC(false),
			)
			if err != nil {
				panic(err) // the options are constant
			}
			return e
		}})
	}
	return &ipcCompressor{encoders: p.(*sync.Pool)}
}

// payload returns the IPC messages of rec (one payload: a schema, maybe,
// dictionary batches and a record batch) with the buffers of each record
// and dictionary batch compressed. Messages it does not rewrite (a
// schema, a batch already compressed or with custom metadata) are copied
// as they are.
func (c *ipcCompressor) payload(rec []byte) ([]byte, error) {
	enc := c.encoders.Get().(*zstd.Encoder)
	defer c.encoders.Put(enc)
	out := make([]byte, 0, len(rec)/2+256)
	for off := 0; off < len(rec); {
		metaLen, hdr, err := frameHeader(rec[off:])
		if err != nil {
			return nil, err
		}
		if metaLen == 0 || metaLen > len(rec)-off-hdr { // end of stream, or not ours to judge
			return append(out, rec[off:]...), nil
		}
		meta := rec[off+hdr : off+hdr+metaLen]
		bodyLen, err := messageBodyLength(meta)
		if err != nil {
			return nil, err
		}
		start := off + hdr + metaLen
		if bodyLen < 0 || bodyLen > int64(len(rec)-start) {
			return nil, fmt.Errorf("%w: message body runs past the payload", ErrInvalid)
		}
		next := start + int(bodyLen)
		if s, ok := c.spec(fbRoot(meta)); ok {
			if out, err = c.message(out, s, rec[start:next], enc); err != nil {
				return nil, err
			}
		} else {
			out = append(out, rec[off:next]...)
		}
		off = next
	}
	return out, nil
}

// spec returns what the message msg describes, if it is an uncompressed
// record or dictionary batch without custom metadata (its buffers not
// filled in yet).
func (c *ipcCompressor) spec(msg fbTable) (batchSpec, bool) {
	kind, _ := msg.uint8(slotMessageHeaderType)
	if kind != headerRecordBatch && kind != headerDictionaryBatch {
		return batchSpec{}, false
	}
	if _, n, ok := vector(msg, slotMessageCustomMeta); !ok || n > 0 {
		return batchSpec{}, false
	}
	h, ok := msg.table(slotMessageHeader)
	if !ok {
		return batchSpec{}, false
	}
	s := batchSpec{dictID: -1, zstd: true}
	rb := h
	if kind == headerDictionaryBatch {
		s.dictID, _ = h.int64(slotDictBatchID)
		delta, _ := h.uint8(slotDictBatchIsDelta)
		s.delta = delta != 0
		if rb, ok = h.table(slotDictBatchData); !ok || s.dictID < 0 {
			return batchSpec{}, false
		}
	}
	if _, present := rb.table(slotRecordCompression); present || hasVariadic(rb) {
		return batchSpec{}, false
	}
	nodes, ok1 := structVector(rb, slotRecordNodes)
	bufs, ok2 := structVector(rb, slotRecordBuffers)
	if !ok1 || !ok2 {
		return batchSpec{}, false
	}
	s.length, _ = rb.int64(slotRecordLength)
	s.nodes = nodes
	s.bufs = make([]ipcBuffer, len(bufs)/structSize)
	for i := range s.bufs {
		e := bufs[i*structSize:]
		s.bufs[i] = ipcBuffer{offset: int64(binary.LittleEndian.Uint64(e)), length: int64(binary.LittleEndian.Uint64(e[8:]))}
	}
	return s, true
}

// message appends to out the message s describes with its buffers, read
// from body, compressed.
func (c *ipcCompressor) message(out []byte, s batchSpec, body []byte, enc *zstd.Encoder) ([]byte, error) {
	c.body = c.body[:0]
	for i, b := range s.bufs {
		if b.offset < 0 || b.length < 0 || b.offset > int64(len(body)) || b.length > int64(len(body))-b.offset {
			return nil, fmt.Errorf("%w: buffer [%d, +%d) runs past its %d-byte message body", ErrInvalid, b.offset, b.length, len(body))
		}
		at := len(c.body)
		if b.length == 0 {
			s.bufs[i] = ipcBuffer{offset: int64(at)}
			continue
		}
		raw := body[b.offset : b.offset+b.length]
		c.body = binary.LittleEndian.AppendUint64(c.body, uint64(len(raw)))
		c.body = enc.EncodeAll(raw, c.body)
		if len(c.body)-at-compressedPrefix >= len(raw) { // no smaller: as it is
			c.body = binary.LittleEndian.AppendUint64(c.body[:at], ^uint64(0)) // -1
			c.body = append(c.body, raw...)
		}
		s.bufs[i] = ipcBuffer{offset: int64(at), length: int64(len(c.body) - at)}
		for len(c.body)%8 != 0 {
			c.body = append(c.body, 0)
		}
	}
	s.bodyLen = int64(len(c.body))
	meta := batchMeta(s)
	padded := (len(meta) + 7) &^ 7
	out = binary.LittleEndian.AppendUint32(out, ipcContinuation)
	out = binary.LittleEndian.AppendUint32(out, uint32(padded))
	out = append(out, meta...)
	out = append(out, make([]byte, padded-len(meta))...)
	return append(out, c.body...), nil
}
