package otap

import (
	"encoding/binary"

	"github.com/apache/arrow-go/v18/arrow"
)

// Arrow IPC MessageHeader values (Message.fbs).
const (
	headerDictionaryBatch = 2
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
