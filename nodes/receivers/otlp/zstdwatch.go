package otlp

import (
	"encoding/binary"
	"io"
)

// A zstd decoder allocates a history ring the size of the window each
// frame declares (up to otlpgrpc.ZstdMaxWindow), chosen by the sender and
// allocated before any data is decoded. So that max_in_flight_bytes covers
// it, an HTTP zstd body is read through a zstdWatch, which follows the
// stream's frame layout (RFC 8878 §3.1: frame headers, block headers,
// checksums, skippable frames) without decoding it, and reports each
// frame's window before the decoder sees the frame.

// Zstd memory charged to max_in_flight_bytes while a zstd body is read:
// the decoder's block buffers, plus the ring of the largest window a frame
// declared so far (the window and two blocks of room, as the decoder
// allocates it).
const (
	zstdDecoderBase = 256 << 10
	zstdMaxBlock    = 128 << 10
)

// zstdRing is the history ring a decoder allocates for window.
func zstdRing(window int64) int64 {
	return window + 2*(min(window, zstdMaxBlock)+64)
}

const (
	zstdMagic          = 0xFD2FB528
	zstdSkippableMagic = 0x184D2A50 // the low 4 bits are free
	zstdMinWindow      = 1 << 10
)

type zstdState uint8

const (
	zMagic       zstdState = iota // a frame's magic number (4 bytes)
	zFHD                          // the frame header descriptor (1)
	zFrameHeader                  // window descriptor, dictionary id, content size
	zBlock                        // a block header (3)
	zSkipSize                     // a skippable frame's size (4)
	zDone                         // not zstd as we know it: the decoder will say
)

// zstdWatch passes a zstd stream through and calls frame with each frame's
// window before returning that frame's header to the reader. An error of
// frame stops the stream: it is kept in err and returned by Read.
type zstdWatch struct {
	r     io.Reader
	frame func(window int64) error
	err   error

	state    zstdState
	need     int    // header bytes the state needs
	hdr      []byte // header bytes collected
	skip     int64  // content bytes to pass before the next header
	next     zstdState
	fhd      byte
	last     bool // the current block ends its frame
	checksum bool // the current frame ends with a 4-byte checksum
	buf      [14]byte
}

func newZstdWatch(r io.Reader, frame func(window int64) error) *zstdWatch {
	w := &zstdWatch{r: r, frame: frame, state: zMagic, need: 4}
	w.hdr = w.buf[:0]
	return w
}

// Read implements io.Reader.
func (w *zstdWatch) Read(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.r.Read(p)
	if ferr := w.feed(p[:n]); ferr != nil {
		w.err = ferr
		return 0, ferr
	}
	return n, err
}

// feed follows the layout over b.
func (w *zstdWatch) feed(b []byte) error {
	for len(b) > 0 && w.state != zDone {
		if w.skip > 0 {
			k := min(int64(len(b)), w.skip)
			w.skip -= k
			b = b[k:]
			if w.skip == 0 {
				w.enter(w.next)
			}
			continue
		}
		k := min(len(b), w.need-len(w.hdr))
		w.hdr = append(w.hdr, b[:k]...)
		b = b[k:]
		if len(w.hdr) < w.need {
			return nil
		}
		if err := w.step(); err != nil {
			return err
		}
	}
	return nil
}

// enter starts collecting the header of state s.
func (w *zstdWatch) enter(s zstdState) {
	w.state, w.hdr = s, w.buf[:0]
	switch s {
	case zMagic, zSkipSize:
		w.need = 4
	case zFHD:
		w.need = 1
	case zBlock:
		w.need = 3
	}
}

// skipThen passes n content bytes, then enters s.
func (w *zstdWatch) skipThen(n int64, s zstdState) {
	if n == 0 {
		w.enter(s)
		return
	}
	w.skip, w.next = n, s
}

// step handles a complete header.
func (w *zstdWatch) step() error {
	h := w.hdr
	switch w.state {
	case zMagic:
		switch m := binary.LittleEndian.Uint32(h); {
		case m == zstdMagic:
			w.enter(zFHD)
		case m&^0xF == zstdSkippableMagic:
			w.enter(zSkipSize)
		default:
			w.state = zDone
		}
	case zFHD:
		w.fhd = h[0]
		w.checksum = w.fhd&(1<<2) != 0
		w.state, w.hdr = zFrameHeader, w.buf[:0]
		w.need = w.frameHeaderLen()
	case zFrameHeader:
		if err := w.frame(w.window(h)); err != nil {
			return err
		}
		w.enter(zBlock)
	case zBlock:
		v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		w.last = v&1 != 0
		size := int64(v >> 3)
		next := zBlock
		if w.last {
			next = zMagic
		}
		switch (v >> 1) & 3 {
		case 0, 2: // raw, compressed: size bytes follow
		case 1: // RLE: one byte follows
			size = 1
		default: // reserved: the decoder fails on it
			w.state = zDone
			return nil
		}
		if w.last && w.checksum {
			size += 4
		}
		w.skipThen(size, next)
	case zSkipSize:
		w.skipThen(int64(binary.LittleEndian.Uint32(h)), zMagic)
	}
	return nil
}

func (w *zstdWatch) singleSegment() bool { return w.fhd&(1<<5) != 0 }

// frameHeaderLen is the length of the frame header after its descriptor.
func (w *zstdWatch) frameHeaderLen() int {
	n := 0
	if !w.singleSegment() {
		n++ // window descriptor
	}
	n += [4]int{0, 1, 2, 4}[w.fhd&3] // dictionary id
	return n + w.fcsLen()
}

func (w *zstdWatch) fcsLen() int {
	switch w.fhd >> 6 {
	case 0:
		if w.singleSegment() {
			return 1
		}
		return 0
	case 1:
		return 2
	case 2:
		return 4
	}
	return 8
}

// window is the frame's window: its window descriptor, or for a single
// segment its content size.
func (w *zstdWatch) window(h []byte) int64 {
	if !w.singleSegment() {
		wd := h[0]
		base := int64(1) << (10 + wd>>3)
		return base + base/8*int64(wd&7)
	}
	fcs := h[len(h)-w.fcsLen():]
	var size uint64
	switch len(fcs) {
	case 1:
		size = uint64(fcs[0])
	case 2:
		size = uint64(binary.LittleEndian.Uint16(fcs)) + 256
	case 4:
		size = uint64(binary.LittleEndian.Uint32(fcs))
	default:
		size = binary.LittleEndian.Uint64(fcs)
	}
	return int64(max(min(size, 1<<40), zstdMinWindow))
}
