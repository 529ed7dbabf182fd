package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

const lockName = "LOCK"

// lockDir takes an exclusive flock on dir/LOCK, creating it if needed. The
// lock belongs to the open file description, so it is released when the
// returned file is closed or the process dies; the file itself stays.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS) {
			return nil, fmt.Errorf("wal: directory %s is not writable (%w); give the ackflow user write access or choose another directory", dir, err)
		}
		return nil, ioError("create lock file", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked: another ackflow process (or another open log) uses this directory; stop it or give each pipeline its own directory", ErrLocked, path)
		}
		return nil, ioError("lock", path, err)
	}
	return f, nil
}
