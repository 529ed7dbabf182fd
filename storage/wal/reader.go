package wal

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Reader yields the records that are not done, oldest first, reading them
// from the segment files. It starts at the oldest undone record, moves only
// forward, and sees records appended after it was created. A Reader is not
// safe for concurrent use; several Readers may share a Log. Close it to
// release its file handle.
type Reader struct {
	l    *Log
	pos  Seq      // the next sequence number to consider
	f    *os.File // handle on the segment last read
	fseg Seq      // first seq of f's segment
}

// NewReader returns a Reader positioned at the oldest record not done.
func (l *Log) NewReader() *Reader {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &Reader{l: l, pos: l.done.nextUndone(0)}
}

// Next returns the next record that is not done, skipping those marked
// done since the Reader passed them by. It returns io.EOF when it has
// caught up with the appends (call again later: it never blocks), and
// ErrClosed after the Log was closed. A record that fails its checksum is
// returned as an error wrapping ErrCorrupt together with its sequence
// number; the Reader moves past it, so the caller counts it and marks it
// Done. The returned data belongs to the caller. Next may return a record
// that is appended but not yet committed.
func (r *Reader) Next() (Seq, []byte, error) {
	l := r.l
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return 0, nil, ErrClosed
		}
		seq := l.done.nextUndone(r.pos)
		if seq >= l.next {
			r.pos = seq
			l.mu.Unlock()
			return 0, nil, io.EOF
		}
		s := l.findLocked(seq)
		if s == nil { // cannot happen: undone records live in segments
			l.mu.Unlock()
			return 0, nil, fmt.Errorf("wal: internal error: undone record %d has no segment", seq)
		}
		off, size := s.frame(seq)
		path, first := s.path, s.first
		l.mu.Unlock()

		if r.f == nil || r.fseg != first {
			r.Close()
			f, err := os.Open(path)
			if errors.Is(err, fs.ErrNotExist) && r.dropped(seq, first) {
				continue // dropped meanwhile: its records are done now
			}
			if err != nil {
				return 0, nil, ioError("open", path, err)
			}
			r.f, r.fseg = f, first
		}
		data, err := readFrameAt(r.f, seq, off, size)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return 0, nil, err // an I/O error: retry the same record later
		}
		r.pos = seq + 1
		return seq, data, err
	}
}

// dropped reports whether record seq, last seen in the segment starting at
// first, has been dropped or done since.
func (r *Reader) dropped(seq, first Seq) bool {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	s := r.l.findLocked(seq)
	return s == nil || s.first != first || r.l.done.contains(seq)
}

// Close releases the Reader's file handle. The Reader stays usable: Next
// opens what it needs again.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Read returns record seq, done or not, for a retry without keeping the
// record in memory. It returns ErrNotFound if no live segment holds seq.
// The returned data belongs to the caller.
func (l *Log) Read(seq Seq) ([]byte, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	s := l.findLocked(seq)
	if s == nil {
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: Read(%d)", ErrNotFound, seq)
	}
	off, size := s.frame(seq)
	path, first := s.path, s.first
	l.mu.Unlock()

	// Retries read the same few segments again and again: keep the last
	// one open. A segment deleted meanwhile still reads from its handle,
	// and its records are as they were.
	l.readMu.Lock()
	defer l.readMu.Unlock()
	if l.readFile == nil || l.readSeg != first {
		if l.readFile != nil {
			l.readFile.Close()
			l.readFile = nil
		}
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: Read(%d): its segment was deleted", ErrNotFound, seq)
		}
		if err != nil {
			return nil, ioError("open", path, err)
		}
		l.readFile, l.readSeg = f, first
	}
	return readFrameAt(l.readFile, seq, off, size)
}
