package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The done journal makes Done survive a crash of the process between two
// Checkpoints: each Done writes a 16-byte entry with write(2), so a kill -9
// loses no mark (the kernel has it) and the consumer redelivers only what
// was in flight. A power loss may lose the latest entries: those records
// are delivered again, never lost. Checkpoint writes the marks into the
// ledger and empties the journal.
//
//	| seq u64 | crc32c(seq) u32 | zero u32 |
//
// An entry whose checksum fails is ignored (its record is redelivered);
// a partial entry at the end is a torn write and ignored too.
const (
	journalName  = "DONE"
	journalEntry = 16
)

// journal is the open done journal. It is guarded by the Log's mutex.
type journal struct {
	f    *os.File
	path string
	size int64
	// since holds the entries written since the last Checkpoint encoded
	// the done set: they are rewritten into the emptied journal after the
	// ledger that does not contain them yet.
	since []Seq
	buf   [journalEntry]byte
}

// openJournal opens (creating) the journal for appends at its end.
func openJournal(dir string) (*journal, error) {
	path := filepath.Join(dir, journalName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, ioError("open", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ioError("stat", path, err)
	}
	// A torn entry at the end is cut, so later entries stay aligned.
	size := fi.Size() - fi.Size()%journalEntry
	return &journal{f: f, path: path, size: size}, nil
}

// add appends the mark of seq.
func (j *journal) add(seq Seq) error {
	binary.LittleEndian.PutUint64(j.buf[0:8], uint64(seq))
	binary.LittleEndian.PutUint32(j.buf[8:12], crc32.Checksum(j.buf[0:8], castagnoli))
	if _, err := j.f.WriteAt(j.buf[:], j.size); err != nil {
		return ioError("write", j.path, err)
	}
	j.size += journalEntry
	j.since = append(j.since, seq)
	return nil
}

// cut is called when a Checkpoint encodes the done set: every entry so far
// is in that ledger. It returns how many entries that is.
func (j *journal) cut() int { return len(j.since) }

// reset empties the journal once the ledger holding its first n entries is
// durable; entries added since are written again.
func (j *journal) reset(n int) error {
	rest := append([]Seq(nil), j.since[n:]...)
	if err := j.f.Truncate(0); err != nil {
		return ioError("truncate", j.path, err)
	}
	j.size, j.since = 0, j.since[:0]
	for _, seq := range rest {
		if err := j.add(seq); err != nil {
			return err
		}
	}
	return nil
}

func (j *journal) close() error { return j.f.Close() }

// readJournal calls fn for every valid entry of the journal in dir and
// returns how many entries failed their checksum.
func readJournal(dir string, fn func(Seq)) (bad int, err error) {
	path := filepath.Join(dir, journalName)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, ioError("open", path, err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := io.ReadFull(f, buf)
		n -= n % journalEntry
		for off := 0; off < n; off += journalEntry {
			e := buf[off : off+journalEntry]
			if crc32.Checksum(e[0:8], castagnoli) != binary.LittleEndian.Uint32(e[8:12]) {
				bad++
				continue
			}
			fn(Seq(binary.LittleEndian.Uint64(e[0:8])))
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return bad, nil
		case err != nil:
			return bad, fmt.Errorf("wal: read %s: %w", path, err)
		}
	}
}
