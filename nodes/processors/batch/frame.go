package batch

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ackflow/ackflow/pdata/otlpwire"
)

// errFraming reports a top-level field whose framing does not hold. The
// payloads the node receives were validated when they were built, so this
// means a bug upstream; the input is nacked permanently.
var errFraming = errors.New("malformed top-level field")

// fieldEnd returns the end of the top-level field of request b that starts
// at pos.
//
// Why not otlpwire: choosing where to cut a request needs only where its
// top-level fields end, and otlpwire.AppendEntries validates and counts
// the whole request to say it, which costs as much as the receiver's scan
// for every input split (the batcher's target is a few percent of that).
// The payload was validated when it was built; here the framing is read,
// with bounds checked, and otlpwire.Scan then counts the items of the
// smaller side of the cut only.
func fieldEnd(b []byte, pos int) (int, error) {
	tag, n := binary.Uvarint(b[pos:])
	if n <= 0 || tag>>3 == 0 {
		return 0, fmt.Errorf("%w at byte %d: bad tag", errFraming, pos)
	}
	p := pos + n
	switch tag & 7 {
	case 0: // varint
		_, n := binary.Uvarint(b[p:])
		if n <= 0 {
			return 0, fmt.Errorf("%w at byte %d: bad varint", errFraming, pos)
		}
		return p + n, nil
	case 1: // fixed64
		p += 8
	case 5: // fixed32
		p += 4
	case 2: // length-delimited: a resource entry or an unknown field
		l, n := binary.Uvarint(b[p:])
		if n <= 0 || l > uint64(len(b)-p-n) {
			return 0, fmt.Errorf("%w at byte %d: bad length", errFraming, pos)
		}
		p += n + int(l)
	default:
		return 0, fmt.Errorf("%w at byte %d: wire type %d", errFraming, pos, tag&7)
	}
	if p > len(b) {
		return 0, fmt.Errorf("%w at byte %d: overruns the request", errFraming, pos)
	}
	return p, nil
}

// cutPoint returns the largest end of whole top-level fields of b that is
// at most limit (0 when even the first field is larger).
func cutPoint(b []byte, limit int) (int, error) {
	cut := 0
	for cut < len(b) {
		end, err := fieldEnd(b, cut)
		if err != nil {
			return 0, err
		}
		if end > limit {
			break
		}
		cut = end
	}
	return cut, nil
}

// countItems returns the items of the requests chunks.
func countItems(k otlpwire.Kind, chunks ...[]byte) (int, error) {
	n := 0
	for _, c := range chunks {
		st, err := otlpwire.Scan(k, c)
		if err != nil {
			return 0, err
		}
		n += st.Items
	}
	return n, nil
}
