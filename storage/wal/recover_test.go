package wal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyDir copies the regular files of src (not subdirectories) into a new
// temporary directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// closedLog writes records 1..n into a fresh directory, in one segment,
// closes it and returns the directory and the segment's path.
func closedLog(t testing.TB, n int) (dir, seg string) {
	t.Helper()
	dir = t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, n)
	mustClose(t, l)
	return dir, filepath.Join(dir, segName(1))
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestTornTailIsTruncated(t *testing.T) {
	const n = 5
	tmpl, seg := closedLog(t, n)
	end := fileSize(t, seg)
	lastStart := end - frameSize(len(payload(n)))
	for cut := lastStart; cut < end; cut++ {
		dir := copyDir(t, tmpl)
		path := filepath.Join(dir, segName(1))
		if err := os.Truncate(path, cut); err != nil {
			t.Fatal(err)
		}
		l := mustOpen(t, opts(t, dir))
		requireSeqs(t, readAll(t, l), seqs(1, n-1))
		st := l.Stats()
		if st.TruncatedBytes != cut-lastStart || st.CorruptRecords != 0 || st.QuarantinedSegments != 0 {
			t.Fatalf("cut at %d: Stats = %+v, want %d truncated bytes", cut, st, cut-lastStart)
		}
		if got := fileSize(t, path); got != lastStart {
			t.Fatalf("cut at %d: segment is %d bytes after recovery, want %d", cut, got, lastStart)
		}
		if seq, err := l.Append(payload(n + 1)); err != nil || seq != n+1 {
			t.Fatalf("cut at %d: Append = %d, %v; want %d (the ledger keeps the next seq)", cut, seq, err, n+1)
		}
		mustClose(t, l)
	}
}

func TestZeroedTailIsTruncated(t *testing.T) {
	const n = 5
	tmpl, seg := closedLog(t, n)
	end := fileSize(t, seg)
	lastStart := end - frameSize(len(payload(n)))
	tests := []struct {
		name      string
		zeroFrom  int64 // overwrite [zeroFrom, zeroTo) with zeros
		zeroTo    int64
		wantSeqs  []Seq
		wantBytes int64
	}{
		{"last frame zeroed", lastStart, end, seqs(1, n-1), end - lastStart},
		{"zeros after the last frame", end, end + 4096, seqs(1, n), 4096},
		{"last payload zeroed", lastStart + frameHeaderSize, end, seqs(1, n-1), -1}, // corrupt, not torn
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, tmpl)
			f, err := os.OpenFile(filepath.Join(dir, segName(1)), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(make([]byte, tc.zeroTo-tc.zeroFrom), tc.zeroFrom)
			f.Close()
			l := mustOpen(t, opts(t, dir))
			requireSeqs(t, readAll(t, l), tc.wantSeqs)
			st := l.Stats()
			if tc.wantBytes >= 0 && st.TruncatedBytes != tc.wantBytes {
				t.Fatalf("TruncatedBytes = %d, want %d", st.TruncatedBytes, tc.wantBytes)
			}
			if tc.wantBytes < 0 && st.CorruptRecords != 1 {
				t.Fatalf("CorruptRecords = %d, want 1", st.CorruptRecords)
			}
		})
	}
}

func TestBitFlipInSegment(t *testing.T) {
	const n = 10
	tmpl, seg := closedLog(t, n)
	frame6 := int64(segHeaderSize) + 5*frameSize(len(payload(1)))
	end := fileSize(t, seg)
	tests := []struct {
		name      string
		off       int64
		bit       uint
		wantLost  uint64 // 0: at least one
		wantTrunc int64
	}{
		{"payload", frame6 + 12, 3, 5, 0},
		{"crc", frame6 + 5, 3, 5, 0},
		{"last byte of payload", frame6 + frameHeaderSize + int64(len(payload(6))) - 1, 0, 5, 0},
		{"length within the file", frame6, 3, 0, 0},
		// Known limit: a length pointing past the end of the file looks
		// exactly like a torn last write, so the tail is truncated.
		{"length past the end", frame6 + 1, 3, 0, end - frame6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, tmpl)
			flipBit(t, filepath.Join(dir, segName(1)), tc.off, tc.bit)
			l := mustOpen(t, opts(t, dir))
			requireSeqs(t, readAll(t, l), seqs(1, 5))
			st := l.Stats()
			switch {
			case tc.wantTrunc > 0:
				if st.TruncatedBytes != tc.wantTrunc {
					t.Fatalf("TruncatedBytes = %d, want %d", st.TruncatedBytes, tc.wantTrunc)
				}
			case st.CorruptRecords == 0 || (tc.wantLost != 0 && st.CorruptRecords != tc.wantLost):
				t.Fatalf("CorruptRecords = %d, want %d", st.CorruptRecords, tc.wantLost)
			}
			if st.NextSeq <= n {
				t.Fatalf("NextSeq = %d: lost numbers would be reused", st.NextSeq)
			}
			// The log goes on, and a second recovery agrees.
			appendN(t, l, n+1, n+1)
			mustClose(t, l)
			l = mustOpen(t, opts(t, dir))
			requireSeqs(t, readAll(t, l), append(seqs(1, 5), n+1))
		})
	}
}

func flipBit(t testing.TB, path string, off int64, bit uint) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 1 << bit
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptRecordAfterOpen(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 3)
	flipBit(t, filepath.Join(dir, segName(1)), int64(segHeaderSize)+frameSize(len(payload(1)))+10, 0)
	r := l.NewReader()
	defer r.Close()
	var got []Seq
	for {
		seq, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || seq != 2 || !strings.Contains(err.Error(), segName(1)) {
				t.Fatalf("Next = %d, %v; want record 2 to fail with ErrCorrupt naming the file", seq, err)
			}
			continue
		}
		got = append(got, seq)
	}
	requireSeqs(t, got, []Seq{1, 3})
	if _, err := l.Read(2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read(2) = %v, want ErrCorrupt", err)
	}
}

// TestLedgerDamageIsAtLeastOnce damages the ledger every way: each bit
// flipped in turn... one bit per byte, and every truncation. Nothing
// undone may be lost; redelivery is allowed.
func TestLedgerDamageIsAtLeastOnce(t *testing.T) {
	tmpl := t.TempDir()
	l := mustOpen(t, opts(t, tmpl))
	appendN(t, l, 1, 10)
	for _, s := range []Seq{1, 2, 3, 4, 5, 8} {
		l.Done(s)
	}
	mustClose(t, l)
	ledger, err := os.ReadFile(filepath.Join(tmpl, ledgerName))
	if err != nil {
		t.Fatal(err)
	}
	undone := seqs(6, 10, 8)
	check := func(t *testing.T, damaged []byte) {
		dir := copyDir(t, tmpl)
		if err := os.WriteFile(filepath.Join(dir, ledgerName), damaged, 0o640); err != nil {
			t.Fatal(err)
		}
		l := mustOpen(t, opts(t, dir))
		got := readAll(t, l)
		for _, s := range undone {
			if !slices.Contains(got, s) {
				t.Fatalf("record %d lost: read %v", s, got)
			}
		}
		st := l.Stats()
		if st.LedgerCorrupt {
			requireSeqs(t, got, seqs(1, 10)) // everything is redelivered
			if _, err := os.Stat(filepath.Join(dir, quarantineDir, ledgerName)); err != nil {
				t.Fatalf("corrupt ledger not quarantined: %v", err)
			}
		}
		if st.NextSeq != 11 {
			t.Fatalf("NextSeq = %d, want 11", st.NextSeq)
		}
		mustClose(t, l)
	}
	for i := range ledger {
		b := bytes.Clone(ledger)
		b[i] ^= 1 << (i % 8)
		check(t, b)
	}
	for i := range len(ledger) {
		check(t, ledger[:i])
	}
}

func TestForeignFilesAreLeftAlone(t *testing.T) {
	dir, _ := closedLog(t, 3)
	foreign := []string{"notes.txt", "123.seg", "00000000000000000001.seg.bak"}
	for _, name := range foreign {
		os.WriteFile(filepath.Join(dir, name), []byte("not ours"), 0o640)
	}
	os.Mkdir(filepath.Join(dir, "subdir"), 0o750)
	l := mustOpen(t, opts(t, dir))
	requireSeqs(t, readAll(t, l), seqs(1, 3))
	if st := l.Stats(); st.UnknownFiles != 4 || st.QuarantinedSegments != 0 {
		t.Fatalf("Stats = %+v, want 4 unknown files", st)
	}
	mustClose(t, l)
	for _, name := range foreign {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "not ours" {
			t.Fatalf("%s: %q, %v", name, b, err)
		}
	}
}

func TestUnusableSegmentsAreQuarantined(t *testing.T) {
	o := opts(t, t.TempDir())
	o.MaxSegmentSize = 160
	l := mustOpen(t, o)
	appendN(t, l, 1, 12) // [1-4] [5-8] [9-12]
	mustClose(t, l)
	dir := o.Dir
	flipBit(t, filepath.Join(dir, segName(5)), 10, 0) // header of the middle segment
	os.Mkdir(filepath.Join(dir, segName(100)), 0o750) // unreadable: a directory
	os.WriteFile(filepath.Join(dir, segName(200)), []byte("garbage, not a segment header at all"), 0o640)

	l = mustOpen(t, opts(t, dir))
	requireSeqs(t, readAll(t, l), append(seqs(1, 4), seqs(9, 12)...))
	st := l.Stats()
	if st.QuarantinedSegments != 3 {
		t.Fatalf("QuarantinedSegments = %d, want 3", st.QuarantinedSegments)
	}
	if st.NextSeq < 200 {
		t.Fatalf("NextSeq = %d: numbers named by quarantined files must not be reused", st.NextSeq)
	}
	q, _ := os.ReadDir(filepath.Join(dir, quarantineDir))
	if len(q) != 3 {
		t.Fatalf("quarantine holds %d files, want 3", len(q))
	}
	appendN(t, l, int(st.NextSeq), int(st.NextSeq))
	mustClose(t, l)
	// The same names again: earlier quarantined files are not overwritten.
	os.WriteFile(filepath.Join(dir, segName(5)), []byte("garbage"), 0o640)
	l = mustOpen(t, opts(t, dir))
	if q, _ := os.ReadDir(filepath.Join(dir, quarantineDir)); len(q) != 4 {
		t.Fatalf("quarantine holds %d files, want 4", len(q))
	}
	mustClose(t, l)
}

func TestEmptySegmentFromACrashIsRemoved(t *testing.T) {
	dir, _ := closedLog(t, 3)
	for _, name := range []string{segName(4), segName(7)} {
		os.WriteFile(filepath.Join(dir, name), make([]byte, 8), 0o640) // empty or zeros
	}
	os.WriteFile(filepath.Join(dir, segName(9)), nil, 0o640)
	l := mustOpen(t, opts(t, dir))
	requireSeqs(t, readAll(t, l), seqs(1, 3))
	if st := l.Stats(); st.QuarantinedSegments != 0 || st.NextSeq != 9 {
		t.Fatalf("Stats = %+v, want nothing quarantined, next seq 9", st)
	}
}

func TestSeqNeverGoesBack(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 10)
	for s := Seq(1); s <= 10; s++ {
		l.Done(s)
	}
	mustClose(t, l)

	l = mustOpen(t, opts(t, dir))
	if got := segFiles(t, dir); !slices.Equal(got, []string{segName(11)}) {
		t.Fatalf("segment files = %v, want only the new open one", got)
	}
	appendN(t, l, 11, 11)
	l.Done(11)
	mustClose(t, l)

	// Every segment deleted: the ledger remembers.
	for _, name := range segFiles(t, dir) {
		os.Remove(filepath.Join(dir, name))
	}
	l = mustOpen(t, opts(t, dir))
	appendN(t, l, 12, 12)
	mustClose(t, l)

	// The ledger lost: the newest segment's name remembers.
	os.Remove(filepath.Join(dir, ledgerName))
	l = mustOpen(t, opts(t, dir))
	if st := l.Stats(); st.NextSeq != 13 {
		t.Fatalf("NextSeq = %d, want 13", st.NextSeq)
	}
	requireSeqs(t, readAll(t, l), []Seq{12}) // redelivered: its Done was never persisted... it was never done
	mustClose(t, l)
}
