package otlpwire

// Split cuts the request b of kind k into consecutive chunks, each a valid
// request of whole top-level fields (resource entries, and any unknown
// top-level fields next to them) of at most maxBytes bytes. A single entry
// larger than maxBytes becomes a chunk alone; the caller decides whether to
// decode and split it further. A maxBytes below 1 puts every entry alone.
//
// The chunks alias b and concatenate back to exactly b; an empty b yields no
// chunks. Each chunk's capacity ends where it does, so appending to one
// cannot overwrite the next. Split validates b as Scan does and returns
// either every chunk or, on error, none.
func Split(k Kind, b []byte, maxBytes int) ([][]byte, error) {
	chunks, err := AppendSplit(nil, k, b, maxBytes)
	if err != nil {
		return nil, err
	}
	return chunks, nil
}

// AppendSplit is Split appending the chunks to dst, so a caller that reuses
// dst splits without allocating. On error it returns dst unchanged in length.
func AppendSplit(dst [][]byte, k Kind, b []byte, maxBytes int) ([][]byte, error) {
	if err := k.check(); err != nil {
		return dst, err
	}
	n0 := len(dst)
	start := 0 // of the chunk being filled
	for pos := 0; pos < len(b); {
		f, _, err := topField(k, b, pos)
		if err != nil {
			clear(dst[n0:]) // do not leave references to b behind dst's length
			return dst[:n0], err
		}
		// Greedy: close the chunk before the field that would overflow it,
		// unless the chunk is empty, in which case the field goes alone.
		if f.Start > start && f.End-start > maxBytes {
			dst = append(dst, b[start:f.Start:f.Start])
			start = f.Start
		}
		pos = f.End
	}
	if start < len(b) {
		dst = append(dst, b[start:len(b):len(b)])
	}
	return dst, nil
}
