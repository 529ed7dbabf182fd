package otap

import (
	"encoding/binary"

	"github.com/apache/arrow-go/v18/arrow"
)

// DictionaryBatches counts the dictionary batches framed in an IPC
// payload's bytes that are deltas, and those that are not (the first
// dictionary of a field, or a replacement), so that tests can check that a
// stream really exercised deltas.
func DictionaryBatches(record []byte) (deltas, full int) {
	for off := 0; off < len(record); {
		metaLen, hdr, err := frameHeader(record[off:])
		if err != nil || metaLen == 0 {
			return deltas, full
		}
		meta := record[off+hdr : off+hdr+metaLen]
		msg := fbRoot(meta)
		if kind, _ := msg.uint8(1); kind == headerDictionaryBatch {
			dict, _ := msg.table(2)
			if isDelta, _ := dict.uint8(2); isDelta != 0 {
				deltas++
			} else {
				full++
			}
		}
		body, _ := messageBodyLength(meta)
		off += hdr + metaLen + int(body)
	}
	return deltas, full
}

// SetSchemaFieldCount overwrites the length of the fields vector of the
// schema message that starts record, as a hostile stream would, and
// reports whether it found one.
func SetSchemaFieldCount(record []byte, n uint32) bool {
	metaLen, hdr, err := frameHeader(record)
	if err != nil || metaLen == 0 || hdr+metaLen > len(record) {
		return false
	}
	msg := fbRoot(record[hdr : hdr+metaLen])
	schema, ok := msg.table(slotMessageHeader)
	if !ok {
		return false
	}
	start, _, ok := vector(schema, slotSchemaFields)
	if !ok || start == 0 {
		return false
	}
	binary.LittleEndian.PutUint32(record[hdr+start:], n)
	return true
}

// KeepDictionaries makes e re-encode records with their dictionaries as
// they are, without compacting them, so that tests and benchmarks can
// compare.
func KeepDictionaries(e *Encoder) { e.keepDict = true }

// Compactor is the dictionary compaction an Encoder applies to the
// records of one outbound IPC stream (one payload type, one SchemaId).
type Compactor struct {
	c      compactor
	fields recordDicts
}

// Record compacts rec as the stream's next record.
func (c *Compactor) Record(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	return c.c.record(rec, &c.fields)
}

// Records returns the records of b, in payload order.
func Records(b *Batch) []arrow.RecordBatch {
	out := make([]arrow.RecordBatch, len(b.records))
	for i, r := range b.records {
		out[i] = r.rec.RecordBatch
	}
	return out
}

// RawBuffers counts the buffers of the compressed messages framed in an
// IPC payload's bytes that are stored uncompressed (declared size -1),
// and all their non-empty buffers.
func RawBuffers(record []byte) (raw, all int) {
	for off := 0; off < len(record); {
		metaLen, hdr, err := frameHeader(record[off:])
		if err != nil || metaLen == 0 {
			return raw, all
		}
		meta := record[off+hdr : off+hdr+metaLen]
		bodyLen, _ := messageBodyLength(meta)
		body := record[off+hdr+metaLen : off+hdr+metaLen+int(bodyLen)]
		msg := fbRoot(meta)
		rb, _ := msg.table(slotMessageHeader)
		if kind, _ := msg.uint8(slotMessageHeaderType); kind == headerDictionaryBatch {
			rb, _ = rb.table(slotDictBatchData)
		}
		if compressed, _ := compressionOf(rb); compressed {
			bufs, _ := structVector(rb, slotRecordBuffers)
			for i := 0; i < len(bufs); i += structSize {
				if b, err := bufferIn(bufs[i:], body); err == nil && len(b) >= 8 {
					all++
					if int64(binary.LittleEndian.Uint64(b)) == -1 {
						raw++
					}
				}
			}
		}
		off += hdr + metaLen + int(bodyLen)
	}
	return raw, all
}

// FirstDictionaryOffsets returns the offsets buffer of the first
// dictionary batch framed in an uncompressed IPC payload's bytes (a view:
// tests change it as a hostile stream would).
func FirstDictionaryOffsets(record []byte) []byte {
	for off := 0; off < len(record); {
		metaLen, hdr, err := frameHeader(record[off:])
		if err != nil || metaLen == 0 {
			return nil
		}
		meta := record[off+hdr : off+hdr+metaLen]
		bodyLen, _ := messageBodyLength(meta)
		body := record[off+hdr+metaLen : off+hdr+metaLen+int(bodyLen)]
		msg := fbRoot(meta)
		if kind, _ := msg.uint8(slotMessageHeaderType); kind == headerDictionaryBatch {
			dict, _ := msg.table(slotMessageHeader)
			rb, _ := dict.table(slotDictBatchData)
			bufs, _ := structVector(rb, slotRecordBuffers)
			b, _ := bufferIn(bufs[structSize:], body)
			return b
		}
		off += hdr + metaLen + int(bodyLen)
	}
	return nil
}
