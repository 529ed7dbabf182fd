package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Segment header: | magic [8] | first u64 | created i64 | version u16 |
// reserved u16 | crc32c u32 |, 32 bytes, little endian (see doc.go).
const (
	segHeaderSize = 32
	segMagic      = "AFWALSEG"
	segVersion    = 1
	segExt        = ".seg"
	segNameLen    = 20 + len(segExt)
)

// maxSeq bounds sequence numbers read from disk so that arithmetic on them
// can never overflow, whatever a corrupt file says.
const maxSeq Seq = 1 << 62

// segment is one segment file. The Log's mutex guards every field.
type segment struct {
	first    Seq       // sequence number of the first record; the file name
	path     string    // absolute path of the file
	offs     []uint32  // offs[i] is the file offset of record first+i: the index
	end      int64     // end of the last readable frame; appends go here
	fileSize int64     // bytes on disk (> end after an unreadable tail)
	created  time.Time // from the header
	firstAt  time.Time // first Append in this process; zero if none
	sealed   time.Time // zero while open
	w        *os.File  // write handle: the open segment, or sealed awaiting fsync
}

func (s *segment) records() int { return len(s.offs) }

// next returns the sequence number after the segment's last record.
func (s *segment) next() Seq { return s.first + Seq(len(s.offs)) }

// frame returns the offset and size of the frame of seq, which must be in s.
func (s *segment) frame(seq Seq) (off, size int64) {
	i := int(seq - s.first)
	off = int64(s.offs[i])
	end := s.end
	if i+1 < len(s.offs) {
		end = int64(s.offs[i+1])
	}
	return off, end - off
}

func segName(first Seq) string { return fmt.Sprintf("%020d%s", uint64(first), segExt) }

// parseSegName reports the first sequence number a segment file name
// carries, and whether name is a segment name at all.
func parseSegName(name string) (Seq, bool) {
	if len(name) != segNameLen || name[20:] != segExt {
		return 0, false
	}
	v, err := strconv.ParseUint(name[:20], 10, 64)
	if err != nil {
		return 0, false
	}
	return Seq(v), true
}

func encodeSegHeader(first Seq, created time.Time) []byte {
	b := make([]byte, segHeaderSize)
	copy(b, segMagic)
	binary.LittleEndian.PutUint64(b[8:16], uint64(first))
	binary.LittleEndian.PutUint64(b[16:24], uint64(created.UnixNano()))
	binary.LittleEndian.PutUint16(b[24:26], segVersion)
	binary.LittleEndian.PutUint32(b[28:32], crc32.Checksum(b[:28], castagnoli))
	return b
}

// decodeSegHeader checks a segment header against the file's name.
func decodeSegHeader(b []byte, nameFirst Seq) (time.Time, error) {
	switch {
	case len(b) < segHeaderSize:
		return time.Time{}, fmt.Errorf("%w: header is %d bytes, want %d", ErrCorrupt, len(b), segHeaderSize)
	case string(b[:8]) != segMagic:
		return time.Time{}, fmt.Errorf("%w: bad magic %q", ErrCorrupt, b[:8])
	case crc32.Checksum(b[:28], castagnoli) != binary.LittleEndian.Uint32(b[28:32]):
		return time.Time{}, fmt.Errorf("%w: header crc32c mismatch", ErrCorrupt)
	case binary.LittleEndian.Uint16(b[24:26]) != segVersion:
		return time.Time{}, fmt.Errorf("%w: unsupported segment version %d", ErrCorrupt, binary.LittleEndian.Uint16(b[24:26]))
	case Seq(binary.LittleEndian.Uint64(b[8:16])) != nameFirst:
		return time.Time{}, fmt.Errorf("%w: header first seq %d does not match the file name", ErrCorrupt, binary.LittleEndian.Uint64(b[8:16]))
	}
	return time.Unix(0, int64(binary.LittleEndian.Uint64(b[16:24]))), nil
}

// createSegment creates the segment file for first and writes its header.
// It does not fsync: the caller decides when the file and its directory
// entry must be durable.
func createSegment(dir string, first Seq, now time.Time) (*segment, error) {
	path := filepath.Join(dir, segName(first))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, ioError("create segment", path, err)
	}
	if _, err := f.Write(encodeSegHeader(first, now)); err != nil {
		f.Close()
		os.Remove(path)
		return nil, ioError("write segment header", path, err)
	}
	return &segment{first: first, path: path, end: segHeaderSize, fileSize: segHeaderSize, created: now, w: f}, nil
}

// fdatasync flushes f's data and the metadata needed to read it back (its
// size), which is all a segment needs; on ext4 it is about twice as fast
// as fsync for appends.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	cerr := rc.Control(func(fd uintptr) {
		for {
			if err = unix.Fdatasync(int(fd)); err != unix.EINTR {
				return
			}
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// readFrameAt reads and checks the frame of record seq from f.
func readFrameAt(f *os.File, seq Seq, off, size int64) ([]byte, error) {
	buf := make([]byte, size)
	_, err := f.ReadAt(buf, off)
	var payload []byte
	switch {
	case errors.Is(err, io.EOF):
		err = errors.New("the frame ends past the end of the file")
	case err != nil:
		return nil, fmt.Errorf("wal: read record %d from %s at offset %d: %w", seq, f.Name(), off, err)
	default:
		payload, err = decodeFrame(seq, buf)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: record %d in %s at offset %d: %v", ErrCorrupt, seq, f.Name(), off, err)
	}
	return payload, nil
}
