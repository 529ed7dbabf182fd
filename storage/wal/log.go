package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Log is a segmented write-ahead log of records. All its methods are safe
// for concurrent use; a Reader is not (see NewReader).
type Log struct {
	o    Options // with defaults
	dir  string  // absolute
	lock *os.File

	// maintMu serializes the slow file-system work that runs outside mu:
	// Checkpoint, DropSegment and the end of Close.
	maintMu sync.Mutex

	mu       sync.Mutex
	syncCond *sync.Cond    // signals the syncer: waiters or closed
	segs     []*segment    // live segments, oldest first; the last is open
	open     *segment      // receives appends; nil after Close
	next     Seq           // the next Append gets this
	done     doneSet       // what needs no delivery
	journal  *journal      // Done marks since the last Checkpoint, on disk
	undone   uint64        // records in segs not in done
	err      error         // sticky failure (wraps ErrFailed)
	closed   bool          // Close was called
	wbuf     []byte        // frame buffer for Append
	waiters  []func(error) // Commit callbacks for the next fsync
	unsynced []*segment    // sealed segments whose write handle awaits fsync
	dirDirty bool          // a segment was created since the last directory fsync
	synced   Seq           // Fsync mode: every record below is committed
	st       Stats         // counters; recovery fields set once by Open

	// readMu guards the handle Read keeps on the segment it read last.
	readMu   sync.Mutex
	readFile *os.File
	readSeg  Seq

	fsyncs   atomic.Uint64
	syncDone chan struct{} // closed when the syncer exits
}

// Open recovers the log in o.Dir, creating the directory if missing, and
// returns it ready for appends. Damage found on disk never fails Open: it is
// truncated, skipped or quarantined, logged and counted in Stats (see the
// package doc, "Recovery"). Open fails for a bad Options, a Dir it cannot
// use (ErrLocked if another process holds it) or an I/O error.
func Open(o Options) (*Log, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	start := o.Clock.Now()
	dir, err := prepareDir(o.Dir)
	if err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l, err := open(o, dir, lock, start)
	if err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

func open(o Options, dir string, lock *os.File, start time.Time) (*Log, error) {
	rec, err := recoverDir(dir, o.Logger)
	if err != nil {
		return nil, err
	}
	j, err := openJournal(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{o: o, dir: dir, lock: lock, segs: rec.segs, next: rec.next, done: rec.done, st: rec.st, journal: j}
	l.syncCond = sync.NewCond(&l.mu)
	for _, s := range l.segs {
		l.undone += uint64(s.records()) - l.done.count(s.first, s.next())
	}
	// Appends go to a new segment, or to an empty last one at the right
	// place: recovered segments are never appended to otherwise.
	if n := len(l.segs); n > 0 && l.segs[n-1].fileSize == segHeaderSize && l.segs[n-1].first == l.next {
		s := l.segs[n-1]
		if s.w, err = os.OpenFile(s.path, os.O_RDWR, 0); err != nil {
			return nil, ioError("open", s.path, err)
		}
		s.sealed = time.Time{}
		l.open = s
	} else {
		if l.open, err = createSegment(dir, l.next, o.Clock.Now()); err != nil {
			return nil, err
		}
		l.segs = append(l.segs, l.open)
	}
	// The open segment is durable before anything is deleted: its name
	// proves the next sequence number even if the ledger is lost.
	if err := l.open.w.Sync(); err != nil {
		l.open.w.Close()
		j.close()
		return nil, ioError("fsync", l.open.path, err)
	}
	if err := syncDir(dir); err != nil {
		l.open.w.Close()
		j.close()
		return nil, err
	}
	l.synced = l.next
	l.st.RecoveryDuration = o.Clock.Now().Sub(start)
	o.Logger.Info("wal: recovered", "dir", dir, "segments", len(l.segs), "records", l.st.RecoveredRecords,
		"undone", l.undone, "next_seq", uint64(l.next), "duration", l.st.RecoveryDuration)
	// A full disk must not keep the log from starting (draining it is how
	// space comes back): the next Checkpoint writes the ledger again.
	if err := l.checkpoint(); errors.Is(err, ErrNoSpace) {
		o.Logger.Warn("wal: cannot write the ledger at Open; continuing", "error", err)
	} else if err != nil {
		l.open.w.Close()
		j.close()
		return nil, err
	}
	l.syncDone = make(chan struct{})
	go l.syncLoop()
	return l, nil
}

// prepareDir returns dir as an absolute path, creating it if missing, or
// an error that names it and says what to fix.
func prepareDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("wal: directory %q: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err == nil && !fi.IsDir():
		return "", fmt.Errorf("wal: %s is not a directory; point the log at a directory (it is created if missing)", abs)
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o750); err != nil {
			return "", fmt.Errorf("wal: cannot create directory %s: %w; create it or choose a writable location", abs, err)
		}
	case err != nil:
		return "", fmt.Errorf("wal: cannot use directory %s: %w; check the path and its permissions", abs, err)
	}
	return abs, nil
}

// usableLocked returns why the log cannot take appends, if it cannot.
func (l *Log) usableLocked() error {
	if l.err != nil {
		return l.err
	}
	if l.closed {
		return ErrClosed
	}
	return nil
}

// failLocked makes the log failed for good; the first cause wins.
func (l *Log) failLocked(err error) {
	if l.err == nil {
		l.err = fmt.Errorf("%w (close and reopen it): %w", ErrFailed, err)
		l.o.Logger.Error("wal: log failed", "dir", l.dir, "error", err)
	}
}

// Append writes data as the next record and returns its sequence number.
// It does not wait for durability: call Commit (or use AppendSync). The
// record is visible to Readers and Read when Append returns. Append may seal
// the open segment first, by size or by age. ErrNoSpace leaves the log
// usable; other I/O errors fail it (ErrFailed). Append does not retain
// data.
func (l *Log) Append(data []byte) (Seq, error) {
	if len(data) > MaxRecordSize {
		return 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxRecordSize)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return 0, err
	}
	now := l.o.Clock.Now()
	fsz := frameSize(len(data))
	if s := l.open; s.records() > 0 && (s.end+fsz > l.o.MaxSegmentSize || now.Sub(s.firstAt) >= l.o.MaxSegmentOpenDuration) {
		if err := l.rotateLocked(now); err != nil {
			return 0, err
		}
	}
	s, seq := l.open, l.next
	l.wbuf = appendFrame(l.wbuf[:0], seq, data)
	var err error
	if l.o.hooks.writeAt != nil {
		_, err = l.o.hooks.writeAt(s.w, l.wbuf, s.end)
	} else {
		_, err = s.w.WriteAt(l.wbuf, s.end)
	}
	if cap(l.wbuf) > 4<<20 {
		l.wbuf = nil // do not pin a huge record's buffer
	}
	if err != nil {
		werr := ioError("append to", s.path, err)
		// Cut a partial frame so the segment ends on a frame boundary.
		if terr := s.w.Truncate(s.end); terr != nil || !errors.Is(werr, ErrNoSpace) {
			l.failLocked(werr)
			return 0, l.err
		}
		return 0, werr
	}
	if s.records() == 0 {
		s.firstAt = now
	}
	s.offs = append(s.offs, uint32(s.end))
	s.end += fsz
	s.fileSize = s.end
	l.next++
	l.undone++
	l.st.Appended++
	return seq, nil
}

// rotateLocked seals the open segment and starts a new one. The sealed
// segment's handle goes to the syncer, which flushes it and the directory
// in the background (in Fsync mode, before it reports any later commit)
// and then closes it.
func (l *Log) rotateLocked(now time.Time) error {
	s, err := createSegment(l.dir, l.next, now)
	if err != nil {
		return err // the log stays usable: nothing was written
	}
	old := l.open
	old.sealed = now
	l.unsynced = append(l.unsynced, old)
	l.dirDirty = true
	l.syncCond.Signal()
	l.segs = append(l.segs, s)
	l.open = s
	return nil
}

// Done marks record seq delivered. Records may be marked in any order, and
// marking one twice is harmless. Done changes memory only: Checkpoint
// persists it. Until then a crash redelivers the record.
func (l *Log) Done(seq Seq) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if seq == 0 || seq >= l.next {
		return fmt.Errorf("%w: Done(%d): the next sequence number is %d", ErrNotFound, seq, l.next)
	}
	if l.done.add(seq, seq+1) == 1 {
		l.undone--
		l.st.Done++
		return l.journal.add(seq) // the mark is kept in memory even if this fails
	}
	return nil
}

// Checkpoint deletes every sealed segment whose records are all done
// (except the newest segment, whose name proves the next sequence number),
// then persists the ledger atomically: write a temporary file, fsync it,
// rename it, fsync the directory. Deleting first means a full disk can
// still be relieved; ErrNoSpace from the ledger write leaves the log
// usable.
func (l *Log) Checkpoint() error {
	l.maintMu.Lock()
	defer l.maintMu.Unlock()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return l.checkpoint()
}

// checkpoint is Checkpoint without the checks; maintMu is held or the log
// is not shared yet.
func (l *Log) checkpoint() error {
	l.mu.Lock()
	var dead []*segment
	live := make([]*segment, 0, len(l.segs))
	for i, s := range l.segs {
		if i < len(l.segs)-1 && s != l.open && l.done.nextUndone(s.first) >= s.next() {
			dead = append(dead, s)
		} else {
			live = append(live, s)
		}
	}
	l.segs = live
	l.st.DeletedSegments += uint64(len(dead))
	data := encodeLedger(l.next, &l.done)
	cut := l.journal.cut()
	l.mu.Unlock()

	var errs []error
	for _, s := range dead {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, ioError("remove", s.path, err))
		}
	}
	if len(dead) > 0 {
		errs = append(errs, syncDir(l.dir))
	}
	if err := writeFileAtomic(l.dir, ledgerName, data); err != nil {
		return errors.Join(append(errs, err)...)
	}
	// The ledger holds the marks journaled before the cut: drop them.
	l.mu.Lock()
	err := l.journal.reset(cut)
	l.mu.Unlock()
	return errors.Join(append(errs, err)...)
}

// Maintain seals the open segment if its first record was appended at
// least MaxSegmentOpenDuration before now. The log owns no timer: its
// owner calls Maintain from a wakeup set at NextMaintain (Append also
// seals by age, but only when a record arrives).
func (l *Log) Maintain(now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usableLocked(); err != nil {
		return err
	}
	if s := l.open; s.records() > 0 && now.Sub(s.firstAt) >= l.o.MaxSegmentOpenDuration {
		return l.rotateLocked(now)
	}
	return nil
}

// NextMaintain returns when the open segment becomes due for sealing by
// age, and false if it holds no record (nothing is due).
func (l *Log) NextMaintain() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open == nil || l.open.records() == 0 {
		return time.Time{}, false
	}
	return l.open.firstAt.Add(l.o.MaxSegmentOpenDuration), true
}

// Close stops the syncer (after it flushed every sealed segment and
// committed what it was asked to), flushes and seals the open segment,
// checkpoints (as Checkpoint) and releases the directory lock: a clean
// Close is durable in both modes. Close is idempotent: later calls return
// nil. It returns the log's sticky error, if any.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.syncCond.Signal()
	l.mu.Unlock()
	<-l.syncDone
	l.maintMu.Lock()
	defer l.maintMu.Unlock()

	l.mu.Lock()
	var errs []error
	for _, s := range append(l.unsynced, l.open) {
		if l.err == nil {
			if err := fdatasync(s.w); err != nil {
				l.failLocked(ioError("fsync", s.path, err))
			}
		}
		s.w.Close()
		s.w = nil
	}
	l.unsynced = nil
	l.open.sealed = l.o.Clock.Now()
	l.open = nil
	errs = append(errs, l.err)
	l.mu.Unlock()

	l.readMu.Lock()
	if l.readFile != nil {
		l.readFile.Close()
		l.readFile = nil
	}
	l.readMu.Unlock()
	errs = append(errs, syncDir(l.dir), l.checkpoint(), l.journal.close(), l.lock.Close())
	return errors.Join(errs...)
}
