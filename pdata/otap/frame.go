package otap

import (
	"encoding/binary"
	"fmt"
)

// ipcContinuation marks an Arrow IPC message with an explicit length
// (format 0.15 and later; before it the length came first).
const ipcContinuation = 0xFFFFFFFF

// checkFrames walks the Arrow IPC messages framed in b and fails, wrapping
// ErrInvalid, if a declared metadata or body length runs past the end of
// b, or if a message's metadata declares vectors it cannot hold
// (checkMetadata). arrow-go's reader allocates a message's metadata with
// make before reading it, outside any allocator, so a 12-byte hostile
// payload declaring 2 GiB of metadata would be allocated: this check is
// what bounds that allocation by the payload's own size.
func checkFrames(b []byte) error {
	for off := 0; off < len(b); {
		metaLen, hdr, err := frameHeader(b[off:])
		if err != nil {
			return fmt.Errorf("message at byte %d: %w", off, err)
		}
		if metaLen == 0 { // end-of-stream marker
			return nil
		}
		off += hdr
		if metaLen > len(b)-off {
			return fmt.Errorf("%w: message at byte %d declares %d bytes of metadata, %d remain",
				ErrInvalid, off-hdr, metaLen, len(b)-off)
		}
		meta := b[off : off+metaLen]
		if err := checkMetadata(meta); err != nil {
			return fmt.Errorf("message at byte %d: %w", off-hdr, err)
		}
		bodyLen, err := messageBodyLength(meta)
		if err != nil {
			return fmt.Errorf("message at byte %d: %w", off-hdr, err)
		}
		off += metaLen
		if bodyLen < 0 || bodyLen > int64(len(b)-off) {
			return fmt.Errorf("%w: message at byte %d declares a body of %d bytes, %d remain",
				ErrInvalid, off-metaLen-hdr, bodyLen, len(b)-off)
		}
		off += int(bodyLen)
	}
	return nil
}

// frameHeader decodes the length prefix of the message starting b: the
// metadata length (0 at end of stream) and the size of the prefix.
func frameHeader(b []byte) (metaLen, hdr int, err error) {
	if len(b) < 4 {
		return 0, 0, fmt.Errorf("%w: truncated message prefix", ErrInvalid)
	}
	n := binary.LittleEndian.Uint32(b)
	hdr = 4
	if n == ipcContinuation {
		if len(b) < 8 {
			return 0, 0, fmt.Errorf("%w: truncated message length", ErrInvalid)
		}
		n, hdr = binary.LittleEndian.Uint32(b[4:]), 8
	}
	if int32(n) < 0 {
		return 0, 0, fmt.Errorf("%w: negative message length %d", ErrInvalid, int32(n))
	}
	return int(n), hdr, nil
}

// messageBodyLength reads the bodyLength field of a flatbuffers-encoded
// Arrow Message table (Message.fbs: version, header_type, header,
// bodyLength, custom_metadata).
func messageBodyLength(meta []byte) (int64, error) {
	const bodyLength = 3
	n, ok := fbRoot(meta).int64(bodyLength)
	if !ok {
		return 0, fmt.Errorf("%w: malformed message metadata (%d bytes)", ErrInvalid, len(meta))
	}
	return n, nil
}

// fbTable is a flatbuffers table: buf and the table's position in it
// (-1 when invalid). Every read checks its bounds, which the flatbuffers
// runtime does not.
type fbTable struct {
	buf []byte
	pos int
}

// fbRoot returns the root table of buf.
func fbRoot(buf []byte) fbTable {
	at, ok := fbInt32(buf, 0)
	if !ok {
		return fbTable{buf, -1}
	}
	return fbTable{buf, at}
}

// field returns the position of field number slot in buf, 0 if the field
// is absent (it has its default value), or false if the table is
// malformed.
func (t fbTable) field(slot int) (int, bool) {
	back, ok := fbInt32(t.buf, t.pos)
	if !ok {
		return 0, false
	}
	vtable := t.pos - back
	vtableLen, ok := fbUint16(t.buf, vtable)
	if !ok {
		return 0, false
	}
	// Past the vtable's own size and the table's. The flatbuffers runtime
	// reads the entry if it starts within the vtable, even when the
	// vtable's (odd) size cuts it: do the same, or a field it reads would
	// go unchecked here.
	entry := 4 + 2*slot
	if entry >= vtableLen {
		return 0, true
	}
	off, ok := fbUint16(t.buf, vtable+entry)
	if !ok || off == 0 {
		return 0, ok
	}
	return t.pos + off, true
}

// int64 returns the value of an int64 field (0 if absent).
func (t fbTable) int64(slot int) (int64, bool) {
	at, ok := t.field(slot)
	if !ok || at == 0 {
		return 0, ok
	}
	if at < 0 || at > len(t.buf)-8 {
		return 0, false
	}
	return int64(binary.LittleEndian.Uint64(t.buf[at:])), true
}

// uint8 returns the value of a byte-sized field (bool, ubyte; 0 if absent).
func (t fbTable) uint8(slot int) (uint8, bool) {
	at, ok := t.field(slot)
	if !ok || at == 0 {
		return 0, ok
	}
	if at < 0 || at >= len(t.buf) {
		return 0, false
	}
	return t.buf[at], true
}

// table returns the table a field refers to.
func (t fbTable) table(slot int) (fbTable, bool) {
	at, ok := t.field(slot)
	if !ok || at == 0 {
		return fbTable{t.buf, -1}, false
	}
	rel, ok := fbInt32(t.buf, at)
	if !ok {
		return fbTable{t.buf, -1}, false
	}
	return fbTable{t.buf, at + rel}, true
}

func fbInt32(b []byte, at int) (int, bool) {
	if at < 0 || at > len(b)-4 {
		return 0, false
	}
	return int(int32(binary.LittleEndian.Uint32(b[at:]))), true
}

func fbUint16(b []byte, at int) (int, bool) {
	if at < 0 || at > len(b)-2 {
		return 0, false
	}
	return int(binary.LittleEndian.Uint16(b[at:])), true
}

// int32 returns the value of an int32 field (0 if absent).
func (t fbTable) int32(slot int) (int32, bool) {
	at, ok := t.field(slot)
	if !ok || at == 0 {
		return 0, ok
	}
	v, ok := fbInt32(t.buf, at)
	return int32(v), ok
}

// uint16 returns the value of a 16-bit field (0 if absent).
func (t fbTable) uint16(slot int) (uint16, bool) {
	at, ok := t.field(slot)
	if !ok || at == 0 {
		return 0, ok
	}
	v, ok := fbUint16(t.buf, at)
	return uint16(v), ok
}
