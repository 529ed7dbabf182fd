package wal

import (
	"os"
	"path/filepath"
	"testing"
)

// crashCopy copies what dir holds now into a new directory, as a kill -9
// would leave it (the kernel keeps what write(2) returned), without the
// lock file.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == lockName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func markDone(t *testing.T, l *Log, seqs ...int) {
	t.Helper()
	for _, s := range seqs {
		if err := l.Done(Seq(s)); err != nil {
			t.Fatalf("Done(%d): %v", s, err)
		}
	}
}

func TestDoneSurvivesACrashWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 10)
	markDone(t, l, 2, 5, 3, 9)
	crashed := mustOpen(t, opts(t, crashCopy(t, dir)))
	requireSeqs(t, readAll(t, crashed), seqs(1, 10, 2, 3, 5, 9))
	if got := crashed.Stats().JournaledDone; got != 4 {
		t.Fatalf("JournaledDone = %d, want 4", got)
	}
}

func TestCheckpointEmptiesTheJournal(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 10)
	markDone(t, l, 1, 2, 3)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, journalName)); err != nil || fi.Size() != 0 {
		t.Fatalf("journal after Checkpoint: %v, %v; want empty", fi, err)
	}
	markDone(t, l, 7)
	crashed := mustOpen(t, opts(t, crashCopy(t, dir)))
	requireSeqs(t, readAll(t, crashed), seqs(4, 10, 7))
}

func TestCorruptJournalEntryIsRedeliveredNotLost(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 5)
	markDone(t, l, 1, 2, 3)
	cp := crashCopy(t, dir)
	path := filepath.Join(cp, journalName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[journalEntry+1] ^= 0x40 // the mark of 2
	b = append(b, 1, 2, 3)    // and a torn entry at the end
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
	crashed := mustOpen(t, opts(t, cp))
	requireSeqs(t, readAll(t, crashed), seqs(2, 5, 3))
	appendN(t, crashed, 6, 6) // appends go on after the torn entry was cut
	markDone(t, crashed, 6)
	again := mustOpen(t, opts(t, crashCopy(t, cp)))
	requireSeqs(t, readAll(t, again), seqs(2, 5, 3))
}

// A record delivered and marked done before its write reached the disk,
// then lost in a torn tail: its number must not be handed to a new record,
// which would inherit the mark and never be delivered.
func TestJournalMarkOfATornRecordIsNotInherited(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 3)
	markDone(t, l, 3)
	cp := crashCopy(t, dir)
	seg := filepath.Join(cp, segFiles(t, cp)[len(segFiles(t, cp))-1])
	fi, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, fi.Size()-int64(frameSize(len(payload(3))))); err != nil { // record 3 is torn away
		t.Fatal(err)
	}
	crashed := mustOpen(t, opts(t, cp))
	seq, err := crashed.Append(payload(4))
	if err != nil {
		t.Fatal(err)
	}
	if seq <= 3 {
		t.Fatalf("new record got seq %d, a number marked done before the crash", seq)
	}
	requireSeqs(t, readAll(t, crashed), []Seq{1, 2, seq})
}
