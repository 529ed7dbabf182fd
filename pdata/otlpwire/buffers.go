package otlpwire

// ScanBuffers is Scan for a request held in several buffers whose
// concatenation is the request, as a transport receives it (grpc-go hands
// over one buffer per HTTP/2 DATA frame, 16 KiB at most). It makes the same
// checks and counts without joining the buffers: the outer levels (request,
// resource and scope entries) are walked across buffer boundaries, and each
// message below them (an item, a Resource, an InstrumentationScope) is
// checked by the same code as Scan's, in place when it lies in one buffer
// and from a copy when it straddles two (a few per request).
//
// On failure it joins the buffers and returns Scan's error: the same text,
// offset and path, however the request was cut. Failures are rare, and the
// join is bounded by the request.
func ScanBuffers(k Kind, bufs [][]byte) (Stats, error) {
	switch len(bufs) {
	case 0:
		return Scan(k, nil)
	case 1:
		return Scan(k, bufs[0])
	}
	if err := k.check(); err != nil {
		return Stats{}, err
	}
	c := bufCursor{bufs: bufs}
	for _, b := range bufs {
		c.size += len(b)
	}
	if st, ok := c.request(k); ok {
		return st, nil
	}
	joined := make([]byte, 0, c.size)
	for _, b := range bufs {
		joined = append(joined, b...)
	}
	return Scan(k, joined)
}

// bufCursor reads a request across its buffers. Every method reports ok =
// false on anything Scan would refuse; ScanBuffers then asks Scan why.
type bufCursor struct {
	bufs    [][]byte
	i, off  int // the current buffer and the offset in it
	pos     int // absolute offset in the request
	size    int // the request's length
	scratch []byte
}

// normalize moves past exhausted buffers, so that bufs[i][off] is the next
// byte when pos < size.
func (c *bufCursor) normalize() {
	for c.i < len(c.bufs) && c.off == len(c.bufs[c.i]) {
		c.i, c.off = c.i+1, 0
	}
}

// varint reads a varint, with Scan's limits.
func (c *bufCursor) varint() (uint64, bool) {
	c.normalize()
	if c.i == len(c.bufs) {
		return 0, false
	}
	b := c.bufs[c.i]
	if len(b)-c.off >= maxVarintLen || b[len(b)-1] < 0x80 {
		// The varint ends in this buffer (or fails within its 10 bytes).
		v, next := varint(b, c.off)
		if next < 0 {
			return 0, false
		}
		c.pos += next - c.off
		c.off = next
		return v, true
	}
	var tmp [maxVarintLen]byte
	n := c.peek(tmp[:])
	v, next := varint(tmp[:n], 0)
	if next < 0 {
		return 0, false
	}
	c.skip(next)
	return v, true
}

// peek copies the next bytes, up to len(dst), without moving.
func (c *bufCursor) peek(dst []byte) int {
	n := 0
	for i, off := c.i, c.off; i < len(c.bufs) && n < len(dst); i, off = i+1, 0 {
		n += copy(dst[n:], c.bufs[i][off:])
	}
	return n
}

// skip moves n bytes forward; they must exist.
func (c *bufCursor) skip(n int) {
	c.pos += n
	for n > 0 {
		c.normalize()
		step := min(n, len(c.bufs[c.i])-c.off)
		c.off += step
		n -= step
	}
}

// take returns the next n bytes, which must exist, as one slice: in place
// if they lie in one buffer, else copied to the cursor's scratch (valid
// until the next take).
func (c *bufCursor) take(n int) []byte {
	c.normalize()
	if n == 0 {
		return nil
	}
	if b := c.bufs[c.i]; len(b)-c.off >= n {
		v := b[c.off : c.off+n : c.off+n]
		c.skip(n)
		return v
	}
	if cap(c.scratch) < n {
		c.scratch = make([]byte, n)
	}
	v := c.scratch[:n]
	c.peek(v)
	c.skip(n)
	return v
}

// tag reads a field header within end, refusing what tag refuses.
func (c *bufCursor) tag(end int) (num uint64, wt uint8, ok bool) {
	v, ok := c.varint()
	if !ok || c.pos > end || v>>3 == 0 || v>>3 > maxFieldNumber {
		return 0, 0, false
	}
	return v >> 3, uint8(v & 7), true
}

// length reads a length prefix and returns the end of the payload after
// it; both must lie within end.
func (c *bufCursor) length(end int) (int, bool) {
	n, ok := c.varint()
	if !ok || c.pos > end || n > uint64(end-c.pos) {
		return 0, false
	}
	return c.pos + int(n), true
}

// skipValue steps over a value of wire type wt, within end.
func (c *bufCursor) skipValue(wt uint8, end int) bool {
	switch wt {
	case wireVarint:
		_, ok := c.varint()
		return ok && c.pos <= end
	case wireFixed64, wireFixed32:
		n := 8
		if wt == wireFixed32 {
			n = 4
		}
		if end-c.pos < n {
			return false
		}
		c.skip(n)
		return true
	case wireBytes:
		e, ok := c.length(end)
		if ok {
			c.skip(e - c.pos)
		}
		return ok
	}
	return false // groups and invalid wire types, as skipValue
}

// payload reads the length prefix of a known field that must be
// length-delimited (wire type wt) and returns where its payload ends,
// within end.
func (c *bufCursor) payload(wt uint8, end int) (int, bool) {
	if wt != wireBytes {
		return 0, false
	}
	return c.length(end)
}

// message reads a length-delimited known field (wire type wt) and checks
// it as checkMessage does for type t.
func (c *bufCursor) message(wt uint8, end int, t msgType) bool {
	e, ok := c.payload(wt, end)
	return ok && checkMessage(c.take(e-c.pos), 0, t) == nil
}

// request walks the request as Scan does.
func (c *bufCursor) request(k Kind) (Stats, bool) {
	var st Stats
	for c.pos < c.size {
		num, wt, ok := c.tag(c.size)
		if !ok {
			return Stats{}, false
		}
		if num != fieldRequestResources {
			if !c.skipValue(wt, c.size) {
				return Stats{}, false
			}
			continue
		}
		end, ok := c.payload(wt, c.size)
		if !ok {
			return Stats{}, false
		}
		items, ok := c.resource(k, end)
		if !ok {
			return Stats{}, false
		}
		st.Items += items
		st.Resources++
	}
	return st, true
}

// resource walks a Resource{Logs,Metrics,Spans} entry ending at end, as
// scanResource does.
func (c *bufCursor) resource(k Kind, end int) (int, bool) {
	var items, oldItems int
	hasScopes := false
	for c.pos < end {
		num, wt, ok := c.tag(end)
		if !ok {
			return 0, false
		}
		switch num {
		case fieldResourceResource:
			ok = c.message(wt, end, tResource)
		case fieldResourceScopes, fieldResourceOldScopes:
			var scopeEnd, n int
			if scopeEnd, ok = c.payload(wt, end); !ok {
				return 0, false
			}
			if n, ok = c.scope(k, scopeEnd); !ok {
				return 0, false
			}
			if num == fieldResourceScopes {
				items += n
				hasScopes = true
			} else {
				oldItems += n
			}
		case fieldResourceSchemaURL:
			ok = wt == wireBytes && c.skipValue(wt, end)
		default:
			ok = c.skipValue(wt, end)
		}
		if !ok {
			return 0, false
		}
	}
	return resourceItems(items, oldItems, hasScopes), true
}

// scope walks a Scope{Logs,Metrics,Spans} entry ending at end, as
// scanScope does.
func (c *bufCursor) scope(k Kind, end int) (int, bool) {
	items := 0
	for c.pos < end {
		n, ok := c.itemsInPlace(k, end)
		if !ok {
			return 0, false
		}
		if items += n; c.pos == end {
			break
		}
		num, wt, ok := c.tag(end)
		if !ok {
			return 0, false
		}
		switch num {
		case fieldScopeItems:
			itemEnd, ok := c.payload(wt, end)
			if !ok {
				return 0, false
			}
			n, err := checkItem(k, c.take(itemEnd-c.pos), 0)
			if err != nil {
				return 0, false
			}
			items += n
		case fieldScopeScope:
			ok = c.message(wt, end, tScope)
		case fieldScopeSchemaURL:
			ok = wt == wireBytes && c.skipValue(wt, end)
		default:
			ok = c.skipValue(wt, end)
		}
		if !ok {
			return 0, false
		}
	}
	return items, true
}

// itemsInPlace checks the items of a scope entry ending at end that lie
// whole in the current buffer, as scanScope's per-item path does, and
// returns their count. It stops at the first field that is not such an
// item (another field, or an item that straddles two buffers), for the
// general path to read.
func (c *bufCursor) itemsInPlace(k Kind, end int) (int, bool) {
	c.normalize()
	if c.i == len(c.bufs) {
		return 0, true
	}
	b := c.bufs[c.i]
	b = b[:min(len(b), c.off+end-c.pos)]
	// The per-item hot loop: checkItem's two cases are written out, with
	// the item type hoisted, as in scanScope's fast path.
	t := schemas[k].itemType
	items, pos := 0, c.off
	for pos < len(b) && b[pos] == itemTag {
		start, stop := length(b, pos+1)
		if stop < 0 {
			break
		}
		if k != Metrics {
			if checkMessage(b[:stop], start, t) != nil {
				return 0, false
			}
			items++
		} else {
			n, err := scanMetric(b[:stop], start)
			if err != nil {
				return 0, false
			}
			items += n
		}
		pos = stop
	}
	c.pos += pos - c.off
	c.off = pos
	return items, true
}
