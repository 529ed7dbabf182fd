package wal

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"
)

// SegmentInfo describes one live segment.
type SegmentInfo struct {
	First   Seq   // first record's sequence number; the segment's ID
	Last    Seq   // last record's sequence number; First-1 when empty
	Records int   // readable records
	Undone  int   // records not done
	Bytes   int64 // file size
	// Created is when the file was created (from its header).
	Created time.Time
	// Sealed is when the segment stopped taking records: the log's clock
	// for segments sealed since Open, the file's modification time for
	// segments recovered at Open; zero for the open segment.
	Sealed time.Time
	Open   bool // the segment taking appends; DropSegment seals it first
}

// Segments lists the live segments, oldest first; the last one is open.
func (l *Log) Segments() []SegmentInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]SegmentInfo, 0, len(l.segs))
	for _, s := range l.segs {
		out = append(out, SegmentInfo{
			First: s.first, Last: s.next() - 1, Records: s.records(),
			Undone:  s.records() - int(l.done.count(s.first, s.next())),
			Bytes:   s.fileSize,
			Created: s.created, Sealed: s.sealed, Open: s == l.open,
		})
	}
	return out
}

// findLocked returns the live segment holding record seq, or nil.
func (l *Log) findLocked(seq Seq) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > seq }) - 1
	if i < 0 || seq >= l.segs[i].next() {
		return nil
	}
	return l.segs[i]
}

// DropStats reports what DropSegment deleted.
type DropStats struct {
	Records int   // records in the segment
	Undone  int   // records that were not done: lost to the caller
	Corrupt int   // undone records visit could not see (checksum or read error)
	Bytes   int64 // bytes freed
}

// DropSegment deletes the segment whose first record is first, done or
// not, for a size cap or a max age. If it is the open segment, it is
// sealed first. visit (may be nil) sees every undone record before the
// file goes, so the caller can count what it loses; data is valid only
// during the call. Afterwards all the segment's records count as done.
func (l *Log) DropSegment(first Seq, visit func(Seq, []byte)) (DropStats, error) {
	l.maintMu.Lock()
	defer l.maintMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return DropStats{}, ErrClosed
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first >= first })
	if i == len(l.segs) || l.segs[i].first != first {
		l.mu.Unlock()
		return DropStats{}, fmt.Errorf("%w: DropSegment(%d): no live segment starts there", ErrNotFound, first)
	}
	s := l.segs[i]
	if s == l.open {
		if s.records() == 0 {
			l.mu.Unlock()
			return DropStats{}, nil
		}
		if err := l.rotateLocked(l.o.Clock.Now()); err != nil {
			l.mu.Unlock()
			return DropStats{}, err
		}
	}
	st := DropStats{Records: s.records(), Bytes: s.fileSize}
	l.mu.Unlock()

	if visit != nil {
		var err error
		if st.Corrupt, err = l.visitUndone(s, visit); err != nil {
			return DropStats{}, err
		}
	}

	l.mu.Lock()
	added := l.done.add(s.first, s.next())
	l.undone -= added
	l.st.Dropped += added
	st.Undone = int(added)
	for i, x := range l.segs {
		if x == s {
			l.segs = append(l.segs[:i:i], l.segs[i+1:]...)
			break
		}
	}
	l.st.DeletedSegments++
	l.mu.Unlock()
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, ioError("remove", s.path, err)
	}
	return st, syncDir(l.dir)
}

// visitUndone calls visit for every undone record of the sealed segment
// s, whose index no longer changes, and counts those it cannot read.
func (l *Log) visitUndone(s *segment, visit func(Seq, []byte)) (unreadable int, err error) {
	f, err := os.Open(s.path)
	if err != nil {
		return 0, ioError("open", s.path, err)
	}
	defer f.Close()
	for seq := s.first; seq < s.next(); seq++ {
		l.mu.Lock()
		done := l.done.contains(seq)
		l.mu.Unlock()
		if done {
			continue
		}
		off, size := s.frame(seq)
		if data, err := readFrameAt(f, seq, off, size); err != nil {
			unreadable++
		} else {
			visit(seq, data)
		}
	}
	return unreadable, nil
}

// Stats are a Log's counters. Counts "since Open" restart at every Open.
type Stats struct {
	Segments    int    // live segment files, the open one included
	Bytes       int64  // size of the live segment files
	NextSeq     Seq    // the sequence number the next Append gets
	FirstUndone Seq    // the oldest record not done; NextSeq if none
	Undone      uint64 // records not done

	Appended        uint64 // records appended since Open
	Done            uint64 // records newly marked by Done since Open
	Dropped         uint64 // undone records deleted by DropSegment since Open
	DeletedSegments uint64 // segment files deleted since Open
	Fsyncs          uint64 // fsync calls by group commit since Open (segments and directory)

	RecoveryDuration    time.Duration // time Open spent recovering
	RecoveredRecords    uint64        // readable records found at Open, done ones included
	TruncatedBytes      int64         // torn tails cut off at Open
	CorruptRecords      uint64        // records lost to checksum failures at Open (best effort)
	QuarantinedSegments int           // segment files moved to quarantine/ at Open
	LedgerCorrupt       bool          // the ledger was unreadable at Open: surviving records are redelivered
	JournaledDone       uint64        // Done marks recovered from the done journal at Open
	UnknownFiles        int           // files in the directory the log does not own, left alone

	Err error // the sticky failure, if the log failed
}

// Stats returns a snapshot of the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.Segments = len(l.segs)
	for _, s := range l.segs {
		st.Bytes += s.fileSize
	}
	st.NextSeq = l.next
	st.FirstUndone = min(l.done.nextUndone(0), l.next)
	st.Undone = l.undone
	st.Fsyncs = l.fsyncs.Load()
	st.Err = l.err
	return st
}
