package batch

import (
	"fmt"
	"math"
	"slices"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// cutter is the scratch space of one flush, kept between flushes so that
// cutting allocates only what the batches keep.
type cutter struct {
	pieces []piece   // the pieces of the batches being cut, in order
	ends   []int     // end index in pieces of each batch
	stack  []piece   // pieces still to place, next last
	failed []failure // inputs whose data could not be cut
	frags  int       // fragments made in this flush
}

// failure is an input whose data could not be cut, and why.
type failure struct {
	in  *input
	err error
}

func (c *cutter) hasFailed(in *input) bool {
	return slices.ContainsFunc(c.failed, func(f failure) bool { return f.in == in })
}

// cutPending packs b's pending pieces, in order, into batches of at most
// max_size and queues them on b.held. Packing is greedy: a batch is closed
// when the next piece neither fits nor can be split so that a part of it
// fills the batch. With retain, a last batch smaller than the lower limit
// stays pending, so that the next inputs fill it up.
//
// OTLP pieces are split between top-level fields (resource entries)
// without decoding; a
// single entry larger than max_size is decoded and split by records
// (splitEntry). Decoded pieces are split by items.
func (p *processor) cutPending(b *buffer, retain bool, fx engine.Effects) {
	c := &p.cut
	c.pieces, c.ends, c.failed, c.frags = c.pieces[:0], c.ends[:0], c.failed[:0], 0
	limit := b.lim.max
	if limit <= 0 {
		limit = math.MaxInt
	}
	room, filled := limit, 0
	closeBatch := func() {
		if filled > 0 {
			c.ends = append(c.ends, len(c.pieces))
			room, filled = limit, 0
		}
	}
	add := func(pc piece) {
		c.pieces = append(c.pieces, pc)
		room -= pc.weight
		filled += pc.weight
	}
	for _, first := range b.pending {
		first.in.refs-- // it leaves the queue; the batches and the tail take their own refs
		c.stack = append(c.stack[:0], first)
		for len(c.stack) > 0 {
			pc := c.stack[len(c.stack)-1]
			c.stack = c.stack[:len(c.stack)-1]
			if c.hasFailed(pc.in) {
				continue
			}
			if pc.weight <= room {
				add(pc)
				continue
			}
			if !pc.atomic {
				head, rest, ok, err := p.splitFit(b, pc, room)
				if err != nil {
					c.failed = append(c.failed, failure{pc.in, err})
					continue
				}
				if ok {
					add(head)
					closeBatch()
					c.stack = append(c.stack, rest)
					continue
				}
			}
			if filled > 0 {
				closeBatch()
				c.stack = append(c.stack, pc)
				continue
			}
			// Even an empty batch cannot hold the first unit of pc. One
			// item always fits a decoded batch, so this is an OTLP
			// resource entry larger than max_size.
			if pc.atomic {
				p.m.oversize.Inc()
				add(pc)
				closeBatch()
				continue
			}
			frags, rest, err := p.splitFirstEntry(b, pc)
			if err != nil {
				c.failed = append(c.failed, failure{pc.in, err})
				continue
			}
			if rest.weight > 0 {
				c.stack = append(c.stack, rest)
			}
			for i := len(frags) - 1; i >= 0; i-- {
				c.stack = append(c.stack, frags[i])
			}
		}
	}
	tail := len(c.pieces)
	if filled > 0 {
		if retain && filled < b.lim.lower {
			tail = 0
			if len(c.ends) > 0 {
				tail = c.ends[len(c.ends)-1]
			}
		} else {
			closeBatch()
		}
	}

	// The tail becomes the pending queue.
	old := len(b.pending)
	b.pending = b.pending[:0]
	b.pendingWeight, b.pendingInputs = 0, 0
	var last *input
	for _, pc := range c.pieces[tail:] {
		if c.hasFailed(pc.in) {
			continue
		}
		pc.in.refs++
		b.pending = append(b.pending, pc)
		b.pendingWeight += pc.weight
		if pc.in != last {
			b.pendingInputs++
			last = pc.in
		}
	}
	if len(b.pending) < old {
		clear(b.pending[len(b.pending):old]) // no stale references to inputs
	}

	start := 0
	for _, end := range c.ends {
		if bt := p.newBatch(b, c.pieces[start:end]); bt != nil {
			b.held = append(b.held, bt)
			b.m.held.Add(1)
		}
		start = end
	}
	clear(c.pieces) // the scratch must not keep inputs alive
	clear(c.stack[:cap(c.stack)])
	for _, f := range c.failed {
		if f.in.state == inputHeld {
			p.resolveNack(f.in, pdata.Nack{Reason: "batch: " + f.err.Error(), Permanent: true}, fx)
		}
	}
	clear(c.failed)
}

// newBatch builds the batch of the pieces ps, leaving out the pieces of
// inputs that failed in this flush (their senders get a nack and retry,
// so their partial data would be a duplicate). It returns nil when
// nothing is left.
func (p *processor) newBatch(b *buffer, ps []piece) *batch {
	c := &p.cut
	n, chunks := 0, 0
	for _, pc := range ps {
		if !c.hasFailed(pc.in) {
			n++
			chunks += len(pc.chunks)
		}
	}
	if n == 0 {
		return nil
	}
	p.nextID++
	bt := &batch{id: p.nextID, shares: make([]share, 0, n)}
	items := 0
	for _, pc := range ps {
		if c.hasFailed(pc.in) {
			continue
		}
		items += pc.items
		if k := len(bt.shares) - 1; k >= 0 && bt.shares[k].in == pc.in {
			bt.shares[k].items += pc.items
			continue
		}
		pc.in.refs++
		bt.shares = append(bt.shares, share{in: pc.in, items: pc.items})
	}
	kept := make([]piece, 0, n)
	for _, pc := range ps {
		if !c.hasFailed(pc.in) {
			kept = append(kept, pc)
		}
	}
	bt.pieces = kept
	pl := p.payloadOf(b, kept)
	if b.key.form() == pdata.FormOTLP {
		b.m.outputBytes.Add(uint64(pl.Bytes()))
	}
	b.m.outputs.Inc()
	b.m.outputItems.Add(uint64(items))
	bt.msg = pdata.New(pl)
	bt.retainLeases()
	return bt
}

// joined returns pc with its chunks whole requests, so that it can be cut
// between them: a framed piece (the buffers one input arrived in) is
// joined, once per input.
func (pc piece) joined() (piece, error) {
	if pc.framed == nil {
		return pc, nil
	}
	reqs, err := pc.framed.Requests()
	if err != nil {
		return piece{}, err
	}
	pc.chunks, pc.framed = reqs, nil
	return pc, nil
}

// payloadOf builds the payload of a batch from its pieces: for OTLP the
// list of their requests (zero copy), for decoded data a merge. It borrows
// the leases of every input it carries data of: its chunks alias their
// buffers, and a decoded value may too.
func (p *processor) payloadOf(b *buffer, ps []piece) *pdata.Payload {
	out := p.payloadData(b, ps)
	for _, pc := range ps {
		out.Borrow(pc.in.leases...)
	}
	return out
}

func (p *processor) payloadData(b *buffer, ps []piece) *pdata.Payload {
	sig := b.key.signal()
	if b.key.form() != pdata.FormOTLP {
		return p.decodedBatch(sig, ps)
	}
	chunks, items, framed := 0, 0, false
	for _, pc := range ps {
		chunks += len(pc.chunks)
		items += pc.items
		framed = framed || pc.framed != nil
	}
	all := make([][]byte, 0, chunks)
	for _, pc := range ps {
		all = append(all, pc.chunks...)
	}
	if framed {
		return pdata.FromOTLPFrames(sig, all, items)
	}
	return pdata.FromOTLPChunks(sig, all, items)
}

// decodedBatch merges decoded pieces into one payload. A batch that is one
// whole input shares the input's (read-only) data; any other is a copy.
func (p *processor) decodedBatch(sig pdata.Signal, ps []piece) *pdata.Payload {
	c := &p.cut
	var only *piece
	for i := range ps {
		if c.hasFailed(ps[i].in) {
			continue
		}
		if only != nil {
			only = nil
			break
		}
		only = &ps[i]
	}
	if only != nil && only.off == 0 && only.items == only.total {
		return wrapDecoded(only.src)
	}
	dst := newDecoded(sig)
	for _, pc := range ps {
		if !c.hasFailed(pc.in) {
			appendRange(dst, pc.src, span{off: pc.off, end: pc.off + pc.items, total: pc.total})
		}
	}
	return wrapDecoded(dst)
}

// splitFit cuts from pc a head of at most room, so that the head fills the
// current batch; ok is false when no part of pc fits.
func (p *processor) splitFit(b *buffer, pc piece, room int) (head, rest piece, ok bool, err error) {
	if b.key.form() == pdata.FormDecoded {
		if room <= 0 {
			return piece{}, piece{}, false, nil
		}
		head, rest = pc, pc
		head.items, head.weight = room, room
		rest.off, rest.items, rest.weight = pc.off+room, pc.items-room, pc.weight-room
		return head, rest, true, nil
	}
	return p.splitOTLP(b, pc, room)
}

// splitOTLP cuts pc between top-level fields (resource entries): the head
// takes the whole requests that fit, then the leading fields of the first
// request that does not. Both sides alias pc's bytes.
func (p *processor) splitOTLP(b *buffer, pc piece, room int) (head, rest piece, ok bool, err error) {
	if pc, err = pc.joined(); err != nil {
		return piece{}, piece{}, false, err
	}
	used := 0
	for i, ch := range pc.chunks {
		if used+len(ch) <= room {
			used += len(ch)
			continue
		}
		cut, err := cutPoint(ch, room-used)
		if err != nil {
			return piece{}, piece{}, false, fmt.Errorf("split %s request: %w", b.key.signal(), err)
		}
		if i == 0 && cut == 0 {
			return piece{}, piece{}, false, nil
		}
		hc := make([][]byte, 0, i+1)
		hc = append(hc, pc.chunks[:i]...)
		if cut > 0 {
			hc = append(hc, ch[:cut:cut])
		}
		rc := make([][]byte, 0, len(pc.chunks)-i)
		rc = append(rc, ch[cut:])
		rc = append(rc, pc.chunks[i+1:]...)
		head = piece{in: pc.in, chunks: hc, weight: used + cut}
		rest = piece{in: pc.in, chunks: rc, weight: pc.weight - used - cut}
		// Count the items of the smaller side; the other has the rest.
		if head.weight <= rest.weight {
			head.items, err = countItems(b.kind, hc...)
			rest.items = pc.items - head.items
		} else {
			rest.items, err = countItems(b.kind, rc...)
			head.items = pc.items - rest.items
		}
		if err != nil {
			return piece{}, piece{}, false, fmt.Errorf("split %s request: %w", b.key.signal(), err)
		}
		return head, rest, true, nil
	}
	return pc, piece{}, true, nil // unreachable: pc.weight > room means a request overflows
}

// splitFirstEntry takes the first resource entry of pc, which is larger
// than max_size, and splits it by records into re-encoded fragments that
// fit. When it cannot or may not (a single record, a split budget
// exceeded), the entry is one atomic piece sent whole.
func (p *processor) splitFirstEntry(b *buffer, pc piece) (frags []piece, rest piece, err error) {
	if pc, err = pc.joined(); err != nil {
		return nil, piece{}, err
	}
	ch := pc.chunks[0]
	end, err := fieldEnd(ch, 0)
	var items int
	if err == nil {
		items, err = countItems(b.kind, ch[:end])
	}
	if err != nil {
		return nil, piece{}, fmt.Errorf("split %s request: %w", b.key.signal(), err)
	}
	unit := piece{in: pc.in, chunks: [][]byte{ch[:end:end]}, items: items, weight: end, atomic: true}
	if end < len(ch) || len(pc.chunks) > 1 {
		rc := make([][]byte, 0, len(pc.chunks))
		if end < len(ch) {
			rc = append(rc, ch[end:])
		}
		rc = append(rc, pc.chunks[1:]...)
		rest = piece{in: pc.in, chunks: rc, items: pc.items - items, weight: pc.weight - end}
	}
	if items < 2 {
		return []piece{unit}, rest, nil // one record (or none): nothing to split
	}
	lim, c := b.lim, &p.cut
	budget := min(lim.maxFragments, lim.maxFragmentsPerFlush-c.frags)
	var fs []fragment
	ok := budget >= 2
	if ok {
		fs, ok, err = splitEntry(b.key.signal(), unit.chunks[0], items, lim.max, budget)
		if err != nil {
			return nil, piece{}, err
		}
	}
	if ok {
		size := 0
		for _, f := range fs {
			size += len(f.b)
		}
		ok = size-unit.weight <= lim.maxOverhead
	}
	if !ok {
		p.m.splitFallbacks.Inc()
		return []piece{unit}, rest, nil
	}
	c.frags += len(fs)
	p.m.entrySplits.Inc()
	p.m.fragments.Add(uint64(len(fs)))
	frags = make([]piece, len(fs))
	for i, f := range fs {
		frags[i] = piece{in: pc.in, chunks: [][]byte{f.b}, items: f.items, weight: len(f.b), atomic: true}
	}
	return frags, rest, nil
}
