package otap

import (
	"encoding/binary"
	"fmt"
)

// Flatbuffers field numbers (slots) of Arrow's Message.fbs and Schema.fbs
// that checkMetadata reads.
const (
	slotMessageHeaderType   = 1
	slotMessageHeader       = 2
	slotMessageCustomMeta   = 4
	slotSchemaFields        = 1
	slotSchemaCustomMeta    = 2
	slotFieldTypeType       = 2
	slotFieldType           = 3
	slotFieldChildren       = 5
	slotFieldCustomMeta     = 6
	slotUnionTypeIDs        = 1
	headerSchema            = 1  // MessageHeader.Schema
	typeUnion               = 14 // Type.Union
	typeBinaryView          = 23 // Type.BinaryView
	typeUtf8View            = 24 // Type.Utf8View
	maxFieldDepth           = 64 // arrow-go's own nesting limit when it loads arrays
	fbOffsetSize, fbIntSize = 4, 4
)

// checkMetadata checks the flatbuffers vectors of an IPC message's
// metadata whose lengths arrow-go trusts: it makes a slice of each
// declared length (schema fields, field children, custom metadata, union
// type ids) before reading an element, and the flatbuffers runtime checks
// nothing, so a few hostile bytes could declare billions of fields. Each
// vector must fit in meta, no field may be of a view type (see field), and
// the field tree must be a tree of bounded
// depth whose walk visits no more fields than meta has room to refer to:
// a child offset pointing back to an ancestor would otherwise recurse
// until the stack overflows, and shared subtrees would expand
// exponentially.
func checkMetadata(meta []byte) error {
	msg := fbRoot(meta)
	if _, err := vectorLen(msg, slotMessageCustomMeta, fbOffsetSize); err != nil {
		return err
	}
	if kind, _ := msg.uint8(slotMessageHeaderType); kind != headerSchema {
		return nil
	}
	schema, ok := msg.table(slotMessageHeader)
	if !ok {
		return fmt.Errorf("%w: schema message without a schema", ErrInvalid)
	}
	if _, err := vectorLen(schema, slotSchemaCustomMeta, fbOffsetSize); err != nil {
		return err
	}
	w := fieldWalk{budget: len(meta) / fbOffsetSize}
	return w.children(schema, slotSchemaFields, 0)
}

// fieldWalk walks a schema's field tree, counting visits against budget.
type fieldWalk struct{ budget int }

// children checks the fields listed in vector slot of table t.
func (w *fieldWalk) children(t fbTable, slot, depth int) error {
	n, err := vectorLen(t, slot, fbOffsetSize)
	if err != nil {
		return err
	}
	for i := range n {
		child, ok := vectorTable(t, slot, i)
		if !ok {
			return fmt.Errorf("%w: malformed schema field", ErrInvalid)
		}
		if err := w.field(child, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (w *fieldWalk) field(f fbTable, depth int) error {
	if w.budget--; w.budget < 0 || depth > maxFieldDepth {
		return fmt.Errorf("%w: schema fields nest deeper than %d or refer to each other", ErrInvalid, maxFieldDepth)
	}
	if _, err := vectorLen(f, slotFieldCustomMeta, fbOffsetSize); err != nil {
		return err
	}
	kind, _ := f.uint8(slotFieldTypeType)
	if kind == typeBinaryView || kind == typeUtf8View {
		// Their record batches carry variadic buffer counts, which arrow-go
		// reads past the end of their vector and allocates by. OTAP uses
		// no view types.
		return fmt.Errorf("%w: schema field of a view type (%d), which OTAP does not use", ErrInvalid, kind)
	}
	if kind == typeUnion {
		union, ok := f.table(slotFieldType)
		if !ok {
			return fmt.Errorf("%w: union field without a readable type", ErrInvalid)
		}
		if _, err := vectorLen(union, slotUnionTypeIDs, fbIntSize); err != nil {
			return err
		}
	}
	return w.children(f, slotFieldChildren, depth)
}

// vectorLen returns the length of the vector in field slot of t (0 when
// absent), failing if its elements of elemSize bytes run past the buffer.
func vectorLen(t fbTable, slot, elemSize int) (int, error) {
	start, n, ok := vector(t, slot)
	if !ok || int64(start)+4+int64(n)*int64(elemSize) > int64(len(t.buf)) {
		return 0, fmt.Errorf("%w: flatbuffers vector runs past its %d-byte message metadata", ErrInvalid, len(t.buf))
	}
	return n, nil
}

// vector returns the position and length of the vector in field slot of
// t; 0, 0 when absent.
func vector(t fbTable, slot int) (start, n int, ok bool) {
	at, ok := t.field(slot)
	if !ok || at == 0 {
		return 0, 0, ok
	}
	rel, ok := fbInt32(t.buf, at)
	if !ok {
		return 0, 0, false
	}
	start = at + rel
	if start < 0 || start > len(t.buf)-4 {
		return 0, 0, false
	}
	return start, int(binary.LittleEndian.Uint32(t.buf[start:])), true
}

// vectorTable returns element i of the vector of tables in field slot
// of t, whose length vectorLen checked.
func vectorTable(t fbTable, slot, i int) (fbTable, bool) {
	start, _, ok := vector(t, slot)
	if !ok {
		return fbTable{t.buf, -1}, false
	}
	at := start + 4 + fbOffsetSize*i
	rel, ok := fbInt32(t.buf, at)
	if !ok {
		return fbTable{t.buf, -1}, false
	}
	return fbTable{t.buf, at + rel}, true
}
