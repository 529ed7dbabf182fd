package wal

import (
	"os"
	"sync"
)

// Commit calls fn exactly once, when every record appended before the call
// is committed under the log's Durability, or with the error that prevents
// it. In Write mode, and when nothing is pending, fn runs on the caller's
// goroutine before Commit returns; otherwise it runs on the log's syncer
// goroutine, where concurrent Commits share one fsync (group commit). fn
// must not block and must not call Close.
func (l *Log) Commit(fn func(error)) {
	l.mu.Lock()
	err := l.usableLocked()
	if err == nil && l.o.Durability == Fsync && l.synced < l.next {
		l.waiters = append(l.waiters, fn)
		l.syncCond.Signal()
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	fn(err)
}

// AppendSync appends data and waits until it is committed.
func (l *Log) AppendSync(data []byte) (Seq, error) {
	seq, err := l.Append(data)
	if err != nil {
		return 0, err
	}
	w := waiterPool.Get().(*waiter)
	l.Commit(w.fn)
	err = <-w.ch
	waiterPool.Put(w)
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// waiter is AppendSync's Commit callback, pooled so that a steady stream
// of AppendSync calls does not allocate.
type waiter struct {
	ch chan error
	fn func(error)
}

var waiterPool = sync.Pool{New: func() any {
	w := &waiter{ch: make(chan error, 1)}
	w.fn = func(err error) { w.ch <- err }
	return w
}}

// syncLoop is the syncer goroutine. It flushes every segment sealed since
// its last round and, if Commits wait (Fsync mode), the open segment too:
// one round of fsyncs for all of them, then it calls them back. It drains
// both and exits after Close.
func (l *Log) syncLoop() {
	defer close(l.syncDone)
	var files []*os.File
	var batch []func(error)
	l.mu.Lock()
	for {
		for len(l.waiters) == 0 && len(l.unsynced) == 0 && !l.closed {
			l.syncCond.Wait()
		}
		if len(l.waiters) == 0 && len(l.unsynced) == 0 {
			l.mu.Unlock()
			return
		}
		batch, l.waiters = l.waiters, batch[:0]
		target := l.next
		sealed := l.unsynced
		l.unsynced = nil
		files = files[:0]
		for _, s := range sealed {
			files = append(files, s.w)
		}
		if len(batch) > 0 {
			files = append(files, l.open.w)
		}
		dirDirty := l.dirDirty
		l.dirDirty = false
		err := l.err
		l.mu.Unlock()

		if err == nil {
			err = l.syncFiles(files, dirDirty)
		}
		l.mu.Lock()
		for _, s := range sealed {
			s.w.Close()
			s.w = nil
		}
		if err != nil {
			l.failLocked(err)
			err = l.err
		} else if len(batch) > 0 {
			l.synced = max(l.synced, target)
		}
		l.mu.Unlock()
		for i, fn := range batch {
			fn(err)
			batch[i] = nil
		}
		l.mu.Lock()
	}
}

// syncFiles fsyncs files, then the directory if a segment was created.
func (l *Log) syncFiles(files []*os.File, dir bool) error {
	if l.o.hooks.beforeSync != nil {
		if err := l.o.hooks.beforeSync(); err != nil {
			return ioError("fsync", files[len(files)-1].Name(), err)
		}
	}
	for _, f := range files {
		l.fsyncs.Add(1)
		if err := fdatasync(f); err != nil {
			return ioError("fsync", f.Name(), err)
		}
	}
	if dir {
		l.fsyncs.Add(1)
		return syncDir(l.dir)
	}
	return nil
}
