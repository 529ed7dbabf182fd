package wal

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	_, err := Open(opts(t, dir)) // flock is per open file: this conflicts like another process
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	for _, want := range []string{filepath.Join(dir, lockName), "another ackflow process"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	mustClose(t, l)
	l = mustOpen(t, opts(t, dir)) // released by Close
	mustClose(t, l)
}

func TestBadDirAndOptions(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o640)
	tests := []struct {
		name string
		edit func(*Options)
		want []string // substrings of the error
	}{
		{"dir is a file", func(o *Options) { o.Dir = file }, []string{file, "is not a directory"}},
		{"dir under a file", func(o *Options) { o.Dir = filepath.Join(file, "wal") }, []string{filepath.Join(file, "wal"), "not a directory"}},
		{"empty dir", func(o *Options) { o.Dir = "" }, []string{"Options.Dir is empty"}},
		{"negative size", func(o *Options) { o.MaxSegmentSize = -1 }, []string{"MaxSegmentSize -1"}},
		{"huge size", func(o *Options) { o.MaxSegmentSize = 1 << 40 }, []string{"MaxSegmentSize"}},
		{"negative duration", func(o *Options) { o.MaxSegmentOpenDuration = -1 }, []string{"MaxSegmentOpenDuration"}},
		{"bad durability", func(o *Options) { o.Durability = 7 }, []string{"unknown Durability 7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(t, filepath.Join(base, "ok"))
			tc.edit(&o)
			l, err := Open(o)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// Missing directories are created.
	l := mustOpen(t, opts(t, filepath.Join(base, "a", "b")))
	mustClose(t, l)
}

func TestParseDurability(t *testing.T) {
	for _, d := range []Durability{Fsync, Write} {
		if got, err := ParseDurability(d.String()); got != d || err != nil {
			t.Fatalf("ParseDurability(%q) = %v, %v", d, got, err)
		}
	}
	if _, err := ParseDurability("sometimes"); err == nil || !strings.Contains(err.Error(), `"fsync" or "write"`) {
		t.Fatalf("ParseDurability(sometimes) = %v", err)
	}
}

// failingWrites returns a writeAt hook that fails the nth write (1-based)
// with errno after writing half of it.
func failingWrites(nth int, errno syscall.Errno) func(*os.File, []byte, int64) (int, error) {
	calls := 0
	return func(f *os.File, b []byte, off int64) (int, error) {
		if calls++; calls == nth {
			n, _ := f.WriteAt(b[:len(b)/2], off)
			return n, &os.PathError{Op: "write", Path: f.Name(), Err: errno}
		}
		return f.WriteAt(b, off)
	}
}

func TestNoSpaceLeavesTheLogUsable(t *testing.T) {
	o := opts(t, t.TempDir())
	o.hooks = &hooks{writeAt: failingWrites(3, syscall.ENOSPC)}
	l := mustOpen(t, o)
	appendN(t, l, 1, 2)
	_, err := l.Append(payload(3))
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrFailed) {
		t.Fatalf("Append on a full disk = %v, want ErrNoSpace, not ErrFailed", err)
	}
	if !strings.Contains(err.Error(), segName(1)) {
		t.Errorf("error %q does not name the segment", err)
	}
	appendN(t, l, 3, 4) // space freed: the same seq is used again, nothing torn
	if _, err := l.AppendSync(payload(5)); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	l = mustOpen(t, opts(t, o.Dir))
	requireSeqs(t, readAll(t, l), seqs(1, 5))
	if st := l.Stats(); st.TruncatedBytes != 0 || st.CorruptRecords != 0 {
		t.Fatalf("Stats = %+v, want a clean recovery", st)
	}
}

func TestWriteErrorIsSticky(t *testing.T) {
	o := opts(t, t.TempDir())
	o.hooks = &hooks{writeAt: failingWrites(2, syscall.EIO)}
	l := mustOpen(t, o)
	appendN(t, l, 1, 1)
	_, err := l.Append(payload(2))
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append = %v, want ErrFailed wrapping EIO", err)
	}
	if _, err2 := l.Append(payload(2)); err2 != err {
		t.Fatalf("second Append = %v, want the same sticky error", err2)
	}
	var cerr error
	l.Commit(func(err error) { cerr = err })
	if cerr != err || l.Stats().Err != err {
		t.Fatalf("Commit = %v, Stats.Err = %v; want the sticky error", cerr, l.Stats().Err)
	}
	if err := l.Close(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Close = %v, want the sticky error", err)
	}
	l = mustOpen(t, opts(t, o.Dir)) // reopening recovers what reached the disk
	requireSeqs(t, readAll(t, l), seqs(1, 1))
}

func TestFsyncErrorIsSticky(t *testing.T) {
	o := opts(t, t.TempDir())
	o.hooks = &hooks{beforeSync: func() error { return syscall.EIO }}
	l := mustOpen(t, o)
	_, err := l.AppendSync(payload(1))
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), segName(1)) {
		t.Fatalf("AppendSync = %v, want ErrFailed wrapping EIO, naming the segment", err)
	}
	if _, err2 := l.Append(payload(2)); err2 != err {
		t.Fatalf("Append after a failed fsync = %v, want the sticky error", err2)
	}
	if err := l.Close(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Close = %v, want the sticky error", err)
	}
}

func TestGroupCommitSharesOneFsync(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	o := opts(t, t.TempDir())
	o.hooks = &hooks{beforeSync: func() error {
		once.Do(func() { close(entered); <-release }) // hold the first fsync
		return nil
	}}
	l := mustOpen(t, o)
	first := make(chan error, 1)
	go func() { _, err := l.AppendSync(payload(1)); first <- err }()
	<-entered // the syncer is in the first fsync, for record 1 alone
	const n = 15
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 2; i <= n+1; i++ {
		if _, err := l.Append(payload(i)); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		l.Commit(func(err error) { errs <- err; wg.Done() })
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Stats().Fsyncs; got != 2 {
		t.Fatalf("Fsyncs = %d for %d appends, want 2 (one shared by %d commits)", got, n+1, n)
	}
	called := false
	l.Commit(func(err error) { called = err == nil }) // nothing pending: inline
	if !called {
		t.Fatal("Commit with nothing pending did not call back before returning")
	}
}

func TestConcurrentAppendSync(t *testing.T) {
	l := mustOpen(t, opts(t, t.TempDir()))
	const writers, each = 16, 50
	var mu sync.Mutex
	seen := map[Seq]bool{}
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				seq, err := l.AppendSync(payload(0))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	if len(seen) != writers*each || st.NextSeq != writers*each+1 {
		t.Fatalf("%d distinct seqs, next %d; want %d", len(seen), st.NextSeq, writers*each)
	}
	t.Logf("%d appends, %d fsyncs", writers*each, st.Fsyncs)
	if st.Fsyncs > writers*each {
		t.Fatalf("Fsyncs = %d > appends", st.Fsyncs)
	}
}

func TestDurabilityWrite(t *testing.T) {
	o := opts(t, t.TempDir())
	o.Durability = Write
	l := mustOpen(t, o)
	appendN(t, l, 1, 3)
	called := false
	l.Commit(func(err error) { called = err == nil })
	if !called {
		t.Fatal("Write mode: Commit did not call back before returning")
	}
	if _, err := l.AppendSync(payload(4)); err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Fsyncs != 0 {
		t.Fatalf("Write mode: %d fsyncs before any segment was sealed, want 0", st.Fsyncs)
	}
	// Sealed segments are flushed in the background, and Close waits.
	o.MaxSegmentSize = 64
	mustClose(t, l)
	l = mustOpen(t, o)
	appendN(t, l, 5, 7) // one record per segment
	mustClose(t, l)
	if st := l.Stats(); st.Fsyncs < 3 {
		t.Fatalf("Write mode: %d fsyncs after sealing two segments, want at least 3", st.Fsyncs)
	}
	l = mustOpen(t, opts(t, o.Dir))
	requireSeqs(t, readAll(t, l), seqs(1, 7))
}

func TestDurabilityFsync(t *testing.T) {
	l := mustOpen(t, opts(t, t.TempDir()))
	appendN(t, l, 1, 3)
	done := make(chan error)
	l.Commit(func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := l.Stats(); st.Fsyncs == 0 {
		t.Fatal("Fsync mode committed without an fsync")
	}
	// An untouched anonymous mapping: no memory is committed for it.
	huge, err := unix.Mmap(-1, 0, MaxRecordSize+1, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer unix.Munmap(huge)
	if _, err := l.Append(huge); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append(too large) = %v", err)
	}
}

// TestDoneSetMatchesAModel checks the interval set against a map.
func TestDoneSetMatchesAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var d doneSet
	model := map[Seq]bool{}
	const span = 300
	for i := range 5000 {
		start := Seq(rng.IntN(span))
		end := start + Seq(rng.IntN(4)) + 1
		want := uint64(0)
		for s := start; s < end; s++ {
			if !model[s] {
				want++
				model[s] = true
			}
		}
		if got := d.add(start, end); got != want {
			t.Fatalf("step %d: add(%d, %d) = %d, want %d", i, start, end, got, want)
		}
		for s := Seq(0); s < span+5; s++ {
			if d.contains(s) != model[s] {
				t.Fatalf("step %d: contains(%d) = %v", i, s, !model[s])
			}
		}
		a, b := Seq(rng.IntN(span)), Seq(rng.IntN(span))
		lo, hi := min(a, b), max(a, b)
		want = 0
		for s := lo; s < hi; s++ {
			if model[s] {
				want++
			}
		}
		if got := d.count(lo, hi); got != want {
			t.Fatalf("step %d: count(%d, %d) = %d, want %d", i, lo, hi, got, want)
		}
		for j := 1; j < len(d.iv); j++ {
			if d.iv[j].start <= d.iv[j-1].end || d.iv[0].start <= d.low {
				t.Fatalf("step %d: intervals not canonical: low %d %v", i, d.low, d.iv)
			}
		}
	}
}
