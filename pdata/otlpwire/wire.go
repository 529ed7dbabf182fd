package otlpwire

import "fmt"

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

// maxFieldNumber is the largest field number the protobuf language allows.
// protowire tolerates up to MaxInt32 for MessageSet, which OTLP never uses.
const maxFieldNumber = 1<<29 - 1

// maxVarintLen is the longest encoding of a 64-bit varint.
const maxVarintLen = 10

// Every function below works on b sliced to the end of the message being
// walked (b[:end] of the whole request), so positions stay absolute offsets
// into the request for error messages, and a field that crosses the end of
// its enclosing message fails the same bounds check as one that crosses the
// end of the buffer.
//
// On the hot path they return a position, negative on failure: a failure
// code, turned into an error by wireErr only when it happens. Small results
// keep the one-byte fast paths within the inliner's budget; an error value
// would not.

// Failure codes, returned in place of a position.
const (
	failTruncated   = -1 - iota // a varint runs past the end of the message
	failTooLong                 // a varint has more than 10 bytes
	failOverflow                // a 10-byte varint does not fit in 64 bits
	failFieldNumber             // a field number is 0 or above maxFieldNumber
	failOverrun                 // a fixed-size value or payload passes the message end
	failGroup                   // wire type 3 or 4
	failWireType                // wire type 6 or 7
)

// wireErr builds the error for failure code at pos, the start of the tag or
// value that failed, in message msg. It re-decodes what it reports: failures
// are rare, so the hot path does not carry the details.
func wireErr(b []byte, pos, code int, msg string) error {
	switch code {
	case failTruncated:
		return malformed(pos, "%s: varint runs past the end of the message", msg)
	case failTooLong:
		return malformed(pos, "%s: varint longer than %d bytes", msg, maxVarintLen)
	case failOverflow:
		return malformed(pos, "%s: varint overflows 64 bits", msg)
	case failFieldNumber:
		v, _ := varint(b, pos)
		return malformed(pos, "%s: invalid field number %d", msg, v>>3)
	case failOverrun:
		v, next := varint(b, pos)
		return malformed(pos, "%s: length %d overruns the message, %d bytes left", msg, v, len(b)-next)
	}
	return fmt.Errorf("%w: at byte %d: %s: internal failure code %d", ErrMalformed, pos, msg, code)
}

// fieldErr builds the error for a field whose value, of wire type wt, fails
// with code; tagPos is where its tag starts.
func fieldErr(b []byte, tagPos, valuePos int, wt uint8, code int, msg string) error {
	switch code {
	case failGroup:
		return malformed(tagPos, "%s: group wire type %d is not allowed", msg, wt)
	case failWireType:
		return malformed(tagPos, "%s: invalid wire type %d", msg, wt)
	case failOverrun:
		if wt == wireFixed64 || wt == wireFixed32 {
			return malformed(tagPos, "%s: %s runs past the end of the message", msg, wireTypeName(wt))
		}
	}
	return wireErr(b, valuePos, code, msg)
}

func malformed(off int, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformed, off, fmt.Sprintf(format, args...))
}

// varint decodes the varint at b[pos:], returning its value and the position
// after it, or a failure code.
func varint(b []byte, pos int) (uint64, int) {
	if pos < len(b) && b[pos] < 0x80 {
		return uint64(b[pos]), pos + 1
	}
	return varintSlow(b, pos)
}

func varintSlow(b []byte, pos int) (uint64, int) {
	var v uint64
	for i := 0; i < maxVarintLen; i++ {
		if pos+i >= len(b) {
			return 0, failTruncated
		}
		c := b[pos+i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			// The tenth byte holds only bit 63: anything above 1 would
			// overflow uint64, which protowire rejects too.
			if i == maxVarintLen-1 && c > 1 {
				return 0, failOverflow
			}
			return v, pos + i + 1
		}
	}
	return 0, failTooLong
}

// tag decodes the field header at b[pos:] and returns the field number and
// wire type packed as on the wire (num<<3 | type), and the position after it
// or a failure code. It rejects field number 0 and numbers above
// maxFieldNumber, which no valid encoder emits.
func tag(b []byte, pos int) (uint64, int) {
	if pos < len(b) {
		if c := b[pos]; c >= 1<<3 && c < 0x80 { // field numbers 1-15
			return uint64(c), pos + 1
		}
	}
	return tagSlow(b, pos)
}

func tagSlow(b []byte, pos int) (uint64, int) {
	v, next := varintSlow(b, pos)
	if next < 0 {
		return 0, next
	}
	if num := v >> 3; num == 0 || num > maxFieldNumber {
		return 0, failFieldNumber
	}
	return v, next
}

// length decodes the length prefix of a length-delimited value at b[pos:]
// and returns the bounds of its payload, or a failure code as end.
func length(b []byte, pos int) (start, end int) {
	if pos < len(b) {
		if n := int(b[pos]); n < 0x80 && n < len(b)-pos {
			return pos + 1, pos + 1 + n
		}
	}
	return lengthSlow(b, pos)
}

// lengthSlow is length for multi-byte prefixes and failures. It compares in
// uint64, so no length can wrap around int, even where int has 32 bits.
func lengthSlow(b []byte, pos int) (start, end int) {
	var n uint64
	if pos+1 < len(b) && b[pos] >= 0x80 && b[pos+1] < 0x80 {
		// Two bytes: records and attributes of 128 B to 16 KiB.
		n, start = uint64(b[pos]&0x7f)|uint64(b[pos+1])<<7, pos+2
	} else if n, start = varintSlow(b, pos); start < 0 {
		return 0, start
	}
	if n > uint64(len(b)-start) {
		return 0, failOverrun
	}
	return start, start + int(n)
}

// skipValue returns the position after the value of wire type wt at
// b[pos:], or a failure code.
func skipValue(b []byte, pos int, wt uint8) int {
	switch wt {
	case wireVarint:
		// Only where the varint ends matters, not its value.
		_, next := varint(b, pos)
		return next
	case wireFixed64:
		if len(b)-pos < 8 {
			return failOverrun
		}
		return pos + 8
	case wireBytes:
		_, end := length(b, pos)
		return end
	case wireFixed32:
		if len(b)-pos < 4 {
			return failOverrun
		}
		return pos + 4
	case wireStartGroup, wireEndGroup:
		// Groups are deprecated proto2 syntax: OTLP is proto3 and never
		// contains them, so accepting one would only hide a corrupt tag.
		return failGroup
	default:
		return failWireType
	}
}

// checkMessage checks the framing of every field of the message in b[pos:],
// of type t, without interpreting any of them, and that the AnyValues its
// fields lead to (a body, attributes, events...) nest at most MaxValueDepth
// deep. It is the per-item hot loop, so the common case (a one-byte tag
// followed by a one-byte varint or length, or a fixed-size value) is
// decided with as few branches as possible and calls nothing; anything
// else, errors included, goes through tag and skipValue. A field shorter
// than 128 bytes (a one-byte length) cannot break the depth limit (see
// bytesPerLevel), so only the general path looks at nesting, and only in
// fields long enough to matter.
func checkMessage(b []byte, pos int, t msgType) error {
	for pos < len(b) {
		// c-8 < 0x78: a one-byte tag with a field number of at least 1.
		if c := b[pos]; c-8 < 0x78 && pos+1 < len(b) {
			x := int(b[pos+1])
			switch c & 7 {
			case wireBytes:
				// x < 0x80: a one-byte length; x < len(b)-pos-1: it fits.
				if uint(x) < uint(min(0x80, len(b)-pos-1)) {
					pos += 2 + x
					continue
				}
			case wireFixed64:
				if len(b)-pos > 8 {
					pos += 9
					continue
				}
			case wireVarint:
				if x < 0x80 {
					pos += 2
					continue
				}
			case wireFixed32:
				if len(b)-pos > 4 {
					pos += 5
					continue
				}
			}
		}
		tagPos := pos
		v, p := tag(b, pos)
		if p < 0 {
			return wireErr(b, tagPos, p, t.String())
		}
		wt := uint8(v & 7)
		if pos = skipValue(b, p, wt); pos < 0 {
			return fieldErr(b, tagPos, p, wt, pos, t.String())
		}
		if wt == wireBytes && pos-p >= bytesPerLevel*MaxValueDepth {
			// pos-p counts the length prefix too: a payload just under the
			// threshold may be walked for nothing, never one above skipped.
			start, _ := length(b, p)
			if off := fieldTooDeep(b, tagPos, start, pos, t.child(v>>3), 0); off >= 0 {
				return &depthError{off}
			}
		}
	}
	return nil
}

// The fast path of checkMessage skips fields with a one-byte length (under
// 128 bytes) without looking at nesting: that is only right while such a
// field cannot hold MaxValueDepth levels.
const _ = uint(bytesPerLevel*MaxValueDepth - 128)

// wireTypeName names a wire type for error messages.
func wireTypeName(wt uint8) string {
	switch wt {
	case wireVarint:
		return "varint"
	case wireFixed64:
		return "fixed64"
	case wireBytes:
		return "length-delimited"
	case wireStartGroup:
		return "start-group"
	case wireEndGroup:
		return "end-group"
	case wireFixed32:
		return "fixed32"
	default:
		return fmt.Sprintf("invalid (%d)", wt)
	}
}

// wrongType builds the error for a known field that has the wrong wire type.
func wrongType(tagPos int, msg string, num uint64, field string, got, want uint8) error {
	return malformed(tagPos, "%s: field %d (%s) has wire type %s, want %s",
		msg, num, field, wireTypeName(got), wireTypeName(want))
}
