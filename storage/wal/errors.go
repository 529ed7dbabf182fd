package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// Sentinel errors. Errors returned by this package wrap them, so callers
// branch with errors.Is; messages name the file involved.
var (
	// ErrClosed is returned by every method of a Log (and its Readers)
	// after Close.
	ErrClosed = errors.New("wal: log closed")
	// ErrLocked means another process (or another Log in this process)
	// holds the directory's lock file.
	ErrLocked = errors.New("wal: directory in use")
	// ErrNoSpace means the volume is full (ENOSPC or EDQUOT). A failed
	// Append, segment creation or Checkpoint leaves the log usable, so the
	// caller may retry once space is freed; a failed fsync does not (see
	// ErrFailed).
	ErrNoSpace = errors.New("wal: no space left on device")
	// ErrCorrupt marks data that fails its checksum or structure checks.
	// Open never returns it: recovery truncates, skips or quarantines
	// instead, and counts what it did in Stats. Reader.Next, Read and
	// DropSegment return it for a record damaged after Open.
	ErrCorrupt = errors.New("wal: corrupt data")
	// ErrNotFound means no live record has that sequence number: it was
	// never appended, or its segment was deleted.
	ErrNotFound = errors.New("wal: no such record")
	// ErrTooLarge rejects a record larger than MaxRecordSize.
	ErrTooLarge = errors.New("wal: record too large")
	// ErrFailed wraps the cause of an earlier write or fsync error. The
	// log is then failed for good (a failed fsync may have dropped data
	// the kernel had accepted): every Append and Commit returns the same
	// error, and the owner must Close and Open the log again, which
	// recovers what reached the disk.
	ErrFailed = errors.New("wal: log failed")
)

// ioError wraps an I/O error once, with the operation and the path, and
// maps a full volume to ErrNoSpace.
func ioError(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is in our own message
	}
	switch {
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %s %s: %w; free space on that volume (or lower the buffer's size cap) and retry", ErrNoSpace, op, path, err)
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return fmt.Errorf("wal: %s %s: %w; give the ackflow user write access to the directory or choose another one", op, path, err)
	}
	return fmt.Errorf("wal: %s %s: %w", op, path, err)
}
