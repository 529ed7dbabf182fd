package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"
)

const quarantineDir = "quarantine"

// errTornCreate marks a segment file that is empty or all zeros: a crash
// right after it was created. It holds nothing and is removed.
var errTornCreate = errors.New("empty segment file")

// recovery is what Open learned from the directory.
type recovery struct {
	segs []*segment // readable segments, in log order
	next Seq
	done doneSet
	st   Stats // the recovery fields
}

// recoverDir streams every segment in dir once: it builds the offsets
// index, truncates torn tails, stops a segment at its first bad checksum,
// and quarantines segments it cannot use. Memory is the index (4 bytes per
// record) plus one read buffer, whatever the backlog.
func recoverDir(dir string, log *slog.Logger) (*recovery, error) {
	r := &recovery{}
	if err := os.Remove(filepath.Join(dir, ledgerName+".tmp")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, ioError("remove", filepath.Join(dir, ledgerName+".tmp"), err)
	}
	led, found, err := readLedger(dir)
	if err != nil {
		// At least once: assume nothing is done that the segments still
		// hold. Redelivery is acceptable, loss is not.
		r.st.LedgerCorrupt = true
		log.Warn("wal: ledger is unreadable; every record still on disk will be delivered again", "error", err)
		if qerr := quarantine(dir, ledgerName, log, err); qerr != nil {
			return nil, qerr
		}
		led, found = ledger{}, false
	}
	entries, err := os.ReadDir(dir) // sorted by name: log order for segments
	if err != nil {
		return nil, ioError("list", dir, err)
	}
	br := bufio.NewReaderSize(nil, 1<<20)
	for _, e := range entries {
		name := e.Name()
		first, ok := parseSegName(name)
		if !ok {
			switch name {
			case lockName, ledgerName, quarantineDir, journalName:
			default:
				r.st.UnknownFiles++
				log.Warn("wal: ignoring a file the log does not own", "path", filepath.Join(dir, name))
			}
			continue
		}
		if first <= maxSeq {
			r.next = max(r.next, first) // names are evidence of seqs handed out
		}
		if err := r.recoverSegment(dir, name, first, br, log); err != nil {
			return nil, err
		}
	}
	if found {
		r.done = led.done
		r.next = max(r.next, led.next)
	}
	// Marks of Done since the last Checkpoint. A marked number was handed
	// out, so it is never handed out again, even if its record was lost in
	// a torn tail: a new record must not inherit the mark.
	bad, err := readJournal(dir, func(seq Seq) {
		if seq > 0 && seq <= maxSeq {
			r.done.add(seq, seq+1)
			r.next = max(r.next, seq+1)
			r.st.JournaledDone++
		}
	})
	if err != nil {
		return nil, err
	}
	if bad > 0 {
		log.Warn("wal: done journal entries failed their checksum; their records will be delivered again", "entries", bad)
	}
	if len(r.segs) > 0 {
		r.next = max(r.next, r.segs[len(r.segs)-1].next())
	}
	r.next = max(r.next, 1)
	// Every number below next that no readable record carries (deleted or
	// quarantined segments, lost tails) has nothing left to deliver.
	c := Seq(0)
	for _, s := range r.segs {
		r.done.add(c, s.first)
		c = s.next()
		r.st.RecoveredRecords += uint64(s.records())
	}
	r.done.add(c, r.next)
	return r, nil
}

// recoverSegment scans one segment file and keeps, repairs or quarantines
// it.
func (r *recovery) recoverSegment(dir, name string, first Seq, br *bufio.Reader, log *slog.Logger) error {
	path := filepath.Join(dir, name)
	sc, err := scanSegment(path, first, br)
	if err == nil && (first == 0 || first > maxSeq) {
		err = fmt.Errorf("%w: first sequence number %d out of range", ErrCorrupt, first)
	}
	if err == nil && len(r.segs) > 0 && first < r.segs[len(r.segs)-1].next() {
		err = fmt.Errorf("%w: overlaps the previous segment", ErrCorrupt)
	}
	switch {
	case errors.Is(err, errTornCreate):
		r.st.TruncatedBytes += sc.size
		log.Warn("wal: removing an empty segment left by a crash", "path", path, "bytes", sc.size)
		if err := os.Remove(path); err != nil {
			return ioError("remove", path, err)
		}
		return nil
	case err != nil:
		r.st.QuarantinedSegments++
		return quarantine(dir, name, log, err)
	}
	if sc.corrupt != nil {
		r.next = max(r.next, first+Seq(len(sc.offs)+sc.lost)) // lost numbers are not reused
		r.st.CorruptRecords += uint64(sc.lost)
		log.Warn("wal: checksum failure: the rest of the segment is lost", "path", path, "offset", sc.end, "records_lost", sc.lost, "error", sc.corrupt)
	}
	if sc.torn {
		r.st.TruncatedBytes += sc.size - sc.end
		log.Warn("wal: truncating a torn tail", "path", path, "offset", sc.end, "bytes", sc.size-sc.end)
		if err := truncateFile(path, sc.end); err != nil {
			return err
		}
		sc.size = sc.end
	}
	r.segs = append(r.segs, &segment{
		first: first, path: path, offs: sc.offs, end: sc.end, fileSize: sc.size,
		created: sc.created, sealed: sc.mtime,
	})
	return nil
}

// scan is the result of reading one segment file.
type scan struct {
	offs    []uint32
	end     int64 // end of the last good frame
	size    int64
	created time.Time
	mtime   time.Time // when the last byte was written: the seal time
	torn    bool      // [end, size) is a torn write: truncate it
	corrupt error     // the frame at end failed its check
	lost    int       // frames after end (the bad one included), best effort
}

// scanSegment reads path sequentially through br, checking every frame.
// An error means the segment is unusable (quarantine), except
// errTornCreate.
func scanSegment(path string, first Seq, br *bufio.Reader) (scan, error) {
	var sc scan
	f, err := os.Open(path)
	if err != nil {
		return sc, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return sc, err
	}
	sc.size, sc.mtime = fi.Size(), fi.ModTime()
	br.Reset(f)
	if hdr, _ := br.Peek(min(segHeaderSize, int(sc.size))); isZero(hdr) {
		zero, err := restIsZero(br)
		if err != nil {
			return sc, err
		}
		if zero {
			return sc, errTornCreate
		}
	}
	hdr, err := br.Peek(segHeaderSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return sc, err
	}
	if sc.created, err = decodeSegHeader(hdr, first); err != nil {
		return sc, err
	}
	br.Discard(segHeaderSize)
	off := int64(segHeaderSize)
	for off < sc.size {
		seq := first + Seq(len(sc.offs))
		if sc.size-off < frameHeaderSize {
			sc.torn = true // a partial frame header
			break
		}
		h, err := br.Peek(frameHeaderSize)
		if err != nil {
			return sc, err
		}
		n, stored := binary.LittleEndian.Uint32(h[0:4]), binary.LittleEndian.Uint32(h[4:8])
		fsz := frameSize(int(n))
		if fsz > sc.size-off {
			sc.torn = true // the last frame was not completely written
			break
		}
		if n > MaxRecordSize || off > math.MaxUint32 {
			sc.corrupt = fmt.Errorf("%w: frame length %d at offset %d", ErrCorrupt, n, off)
			break
		}
		br.Discard(frameHeaderSize)
		crc := crcSeed(n, seq)
		for left := int(n); left > 0; {
			p, err := br.Peek(min(left, br.Size()))
			if err != nil {
				return sc, err
			}
			crc = crc32.Update(crc, castagnoli, p)
			br.Discard(len(p))
			left -= len(p)
		}
		if _, err := br.Discard(pad8(int(n))); err != nil {
			return sc, err
		}
		if crc != stored {
			if n == 0 && stored == 0 {
				zero, err := restIsZero(br)
				if err != nil {
					return sc, err
				}
				if zero {
					sc.torn = true // a zeroed tail: the data never reached the disk
					break
				}
			}
			sc.corrupt = fmt.Errorf("%w: record %d at offset %d: crc32c mismatch", ErrCorrupt, seq, off)
			break
		}
		sc.offs = append(sc.offs, uint32(off))
		off += fsz
	}
	sc.end = off
	if sc.corrupt != nil {
		sc.lost = countFrames(f, off, sc.size)
	}
	return sc, nil
}

// countFrames walks frame lengths from off without checking them, to
// estimate how many records a checksum failure cost. At least 1.
func countFrames(f *os.File, off, size int64) int {
	n := 0
	var h [frameHeaderSize]byte
	for off+frameHeaderSize <= size {
		if _, err := f.ReadAt(h[:], off); err != nil {
			break
		}
		fsz := frameSize(int(binary.LittleEndian.Uint32(h[0:4])))
		if fsz > size-off {
			break
		}
		n++
		off += fsz
	}
	return max(n, 1)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// restIsZero consumes br and reports whether every remaining byte is zero.
func restIsZero(br *bufio.Reader) (bool, error) {
	for {
		p, err := br.Peek(br.Size())
		if !isZero(p) {
			return false, nil
		}
		br.Discard(len(p))
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return false, err
		}
	}
}

// truncateFile cuts path to size and fsyncs it, so that later appends
// never sit in front of stale bytes after a crash.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return ioError("open", path, err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ioError("truncate", path, err)
	}
	return nil
}

// quarantine moves dir/name into dir/quarantine/ (never overwriting an
// earlier one) and makes the move durable.
func quarantine(dir, name string, log *slog.Logger, cause error) error {
	qdir := filepath.Join(dir, quarantineDir)
	if err := os.MkdirAll(qdir, 0o750); err != nil {
		return ioError("create", qdir, err)
	}
	dst := filepath.Join(qdir, name)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) {
			break
		}
		dst = filepath.Join(qdir, fmt.Sprintf("%s.%d", name, i))
	}
	src := filepath.Join(dir, name)
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("wal: cannot quarantine %s (%v): %w; move it out of the directory by hand", src, cause, err)
	}
	log.Warn("wal: moved an unusable file to quarantine; its records are lost", "path", src, "to", dst, "error", cause)
	if err := syncDir(qdir); err != nil {
		return err
	}
	return syncDir(dir)
}
