package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// opts returns Options for dir with a fake clock and the log's warnings in
// the test output.
func opts(t testing.TB, dir string) Options {
	return Options{
		Dir:    dir,
		Clock:  clock.NewFake(t0),
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

func mustOpen(t testing.TB, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatalf("Open(%s): %v", o.Dir, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// payload returns record i's test payload: 17 to 24 bytes, so that every
// padding size occurs while every frame is 32 bytes.
func payload(i int) []byte {
	return []byte(fmt.Sprintf("record-%06d-%s", i, bytes.Repeat([]byte{'x'}, 3+i%8)))
}

func appendN(t testing.TB, l *Log, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		seq, err := l.Append(payload(i))
		if err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
		if seq != Seq(i) {
			t.Fatalf("Append(%d) = seq %d", i, seq)
		}
	}
}

// readAll drains a new Reader and returns the sequence numbers it yields,
// checking each payload against payload(seq).
func readAll(t testing.TB, l *Log) []Seq {
	t.Helper()
	r := l.NewReader()
	defer r.Close()
	var got []Seq
	for {
		seq, data, err := r.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Next after %v: %v", got, err)
		}
		if want := payload(int(seq)); !bytes.Equal(data, want) {
			t.Fatalf("record %d = %q, want %q", seq, data, want)
		}
		got = append(got, seq)
	}
}

func seqs(from, to int, skip ...int) []Seq {
	var s []Seq
	for i := from; i <= to; i++ {
		if !slices.Contains(skip, i) {
			s = append(s, Seq(i))
		}
	}
	return s
}

func requireSeqs(t testing.TB, got, want []Seq) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("records = %v, want %v", got, want)
	}
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 100)
	requireSeqs(t, readAll(t, l), seqs(1, 100))
	for i := 1; i <= 100; i += 2 {
		if err := l.Done(Seq(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)

	l = mustOpen(t, opts(t, dir))
	var odd []int
	for i := 1; i <= 100; i += 2 {
		odd = append(odd, i)
	}
	requireSeqs(t, readAll(t, l), seqs(1, 100, odd...))
	st := l.Stats()
	if st.Undone != 50 || st.FirstUndone != 2 || st.NextSeq != 101 || st.RecoveredRecords != 100 {
		t.Fatalf("Stats = %+v, want 50 undone from 2, next 101, 100 recovered", st)
	}
	appendN(t, l, 101, 101)
}

func TestDoneOutOfOrder(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	appendN(t, l, 1, 10)
	for _, s := range []Seq{5, 3, 9, 1, 2, 5} { // 5 twice: harmless
		if err := l.Done(s); err != nil {
			t.Fatalf("Done(%d): %v", s, err)
		}
	}
	requireSeqs(t, readAll(t, l), seqs(4, 10, 5, 9))
	if st := l.Stats(); st.FirstUndone != 4 || st.Undone != 5 || st.Done != 5 {
		t.Fatalf("Stats = %+v, want first undone 4, 5 undone, 5 done", st)
	}
	for _, s := range []Seq{0, 11} {
		if err := l.Done(s); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Done(%d) = %v, want ErrNotFound", s, err)
		}
	}
	// A reader skips records marked done after it was created.
	r := l.NewReader()
	defer r.Close()
	if err := l.Done(4); err != nil {
		t.Fatal(err)
	}
	if seq, _, err := r.Next(); seq != 6 || err != nil {
		t.Fatalf("Next = %d, %v; want 6", seq, err)
	}
	mustClose(t, l) // Close checkpoints
	l = mustOpen(t, opts(t, dir))
	requireSeqs(t, readAll(t, l), seqs(6, 10, 9))
}

func TestReaderSeesLaterAppends(t *testing.T) {
	l := mustOpen(t, opts(t, t.TempDir()))
	r := l.NewReader()
	defer r.Close()
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next on an empty log = %v, want io.EOF", err)
	}
	appendN(t, l, 1, 2)
	for want := Seq(1); want <= 2; want++ {
		if seq, data, err := r.Next(); seq != want || err != nil || !bytes.Equal(data, payload(int(want))) {
			t.Fatalf("Next = %d, %q, %v; want %d", seq, data, err, want)
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next when caught up = %v, want io.EOF", err)
	}
}

func TestEmptyRecord(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, opts(t, dir))
	if _, err := l.Append(nil); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	l = mustOpen(t, opts(t, dir))
	if data, err := l.Read(1); err != nil || len(data) != 0 {
		t.Fatalf("Read(1) = %q, %v; want an empty record", data, err)
	}
}

func TestRotateBySize(t *testing.T) {
	o := opts(t, t.TempDir())
	o.MaxSegmentSize = 4096 // header 32 + 4 frames of 1008 = 4064
	l := mustOpen(t, o)
	rec := make([]byte, 1000)
	for range 10 {
		if _, err := l.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 5000) // larger than a segment: gets its own
	if _, err := l.Append(big); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(rec); err != nil {
		t.Fatal(err)
	}
	type span struct {
		first, last Seq
		open        bool
	}
	var got []span
	for _, s := range l.Segments() {
		got = append(got, span{s.First, s.Last, s.Open})
		if !s.Open && s.Bytes > 4096 && s.Records > 1 {
			t.Errorf("segment %d: %d bytes > MaxSegmentSize", s.First, s.Bytes)
		}
	}
	want := []span{{1, 4, false}, {5, 8, false}, {9, 10, false}, {11, 11, false}, {12, 12, true}}
	if !slices.Equal(got, want) {
		t.Fatalf("segments = %v, want %v", got, want)
	}
	if got := segFiles(t, o.Dir); len(got) != 5 || got[0] != "00000000000000000001.seg" || got[4] != "00000000000000000012.seg" {
		t.Fatalf("segment files = %v", got)
	}
}

func TestRotateByAge(t *testing.T) {
	o := opts(t, t.TempDir())
	fake := o.Clock.(*clock.Fake)
	l := mustOpen(t, o)
	fake.Advance(time.Hour) // an empty open segment is never sealed by age
	if err := l.Maintain(fake.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.NextMaintain(); ok || len(l.Segments()) != 1 {
		t.Fatalf("empty log: NextMaintain ok = %v, %d segments; want false, 1", ok, len(l.Segments()))
	}
	first := fake.Now()
	appendN(t, l, 1, 1)
	if at, ok := l.NextMaintain(); !ok || !at.Equal(first.Add(time.Second)) {
		t.Fatalf("NextMaintain = %v, %v; want %v", at, ok, first.Add(time.Second))
	}
	fake.Advance(999 * time.Millisecond)
	appendN(t, l, 2, 2) // still young: same segment
	if err := l.Maintain(fake.Now()); err != nil || len(l.Segments()) != 1 {
		t.Fatalf("Maintain at 999ms: %v, %d segments; want 1", err, len(l.Segments()))
	}
	fake.Advance(time.Millisecond)
	if err := l.Maintain(fake.Now()); err != nil {
		t.Fatal(err)
	}
	segs := l.Segments()
	if len(segs) != 2 || segs[0].Open || !segs[0].Sealed.Equal(first.Add(time.Second)) || segs[0].Records != 2 || !segs[1].Open {
		t.Fatalf("after Maintain at 1s: %+v", segs)
	}
	// Append seals by age too, before writing.
	appendN(t, l, 3, 3)
	fake.Advance(time.Second)
	appendN(t, l, 4, 4)
	if segs := l.Segments(); len(segs) != 3 || segs[1].First != 3 || segs[1].Last != 3 || segs[2].First != 4 {
		t.Fatalf("after Append at 1s: %+v", segs)
	}
}

func TestCheckpointDeletesDoneSealedSegments(t *testing.T) {
	o := opts(t, t.TempDir())
	o.MaxSegmentSize = 160 // header 32 + 4 frames of 32
	l := mustOpen(t, o)
	appendN(t, l, 1, 12) // [1-4] [5-8] [9-12 open]
	if n := len(l.Segments()); n != 3 {
		t.Fatalf("%d segments, want 3: %+v", n, l.Segments())
	}
	for _, s := range []Seq{8, 2, 7, 1, 4, 3, 6, 5, 10} { // out of order
		if err := l.Done(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if got := segFiles(t, o.Dir); !slices.Equal(got, []string{"00000000000000000009.seg"}) {
		t.Fatalf("segment files = %v, want only the open one", got)
	}
	if st := l.Stats(); st.DeletedSegments != 2 || st.Segments != 1 || st.Undone != 3 {
		t.Fatalf("Stats = %+v", st)
	}
	if segs := l.Segments(); segs[0].Undone != 3 || segs[0].Records != 4 {
		t.Fatalf("Segments = %+v", segs)
	}
}

func TestReadRandomAccess(t *testing.T) {
	o := opts(t, t.TempDir())
	o.MaxSegmentSize = 300
	l := mustOpen(t, o)
	appendN(t, l, 1, 40)
	if n := len(l.Segments()); n < 5 {
		t.Fatalf("%d segments, want several", n)
	}
	for _, s := range []int{40, 1, 17, 23, 5, 39, 6} {
		data, err := l.Read(Seq(s))
		if err != nil || !bytes.Equal(data, payload(s)) {
			t.Fatalf("Read(%d) = %q, %v", s, data, err)
		}
	}
	for _, s := range []Seq{0, 41, 1 << 40} {
		if _, err := l.Read(s); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Read(%d) = %v, want ErrNotFound", s, err)
		}
	}
	first := l.Segments()[0]
	for s := first.First; s <= first.Last; s++ {
		l.Done(s)
	}
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read of a deleted record = %v, want ErrNotFound", err)
	}
}

func TestDropSegment(t *testing.T) {
	o := opts(t, t.TempDir())
	o.MaxSegmentSize = 160
	l := mustOpen(t, o)
	appendN(t, l, 1, 10) // [1-4] [5-8] [9-10 open]
	l.Done(2)
	var visited []Seq
	st, err := l.DropSegment(1, func(s Seq, data []byte) {
		if !bytes.Equal(data, payload(int(s))) {
			t.Errorf("visit(%d) = %q", s, data)
		}
		visited = append(visited, s)
	})
	if err != nil {
		t.Fatal(err)
	}
	requireSeqs(t, visited, []Seq{1, 3, 4})
	if st.Records != 4 || st.Undone != 3 || st.Corrupt != 0 || st.Bytes == 0 {
		t.Fatalf("DropStats = %+v", st)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, segName(1))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dropped segment file: %v", err)
	}
	if _, err := l.DropSegment(1, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DropSegment = %v, want ErrNotFound", err)
	}
	if _, err := l.DropSegment(6, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DropSegment inside a segment = %v, want ErrNotFound", err)
	}
	requireSeqs(t, readAll(t, l), seqs(5, 10))
	// The open segment is sealed, then dropped.
	if st, err := l.DropSegment(9, nil); err != nil || st.Undone != 2 {
		t.Fatalf("DropSegment(open) = %+v, %v", st, err)
	}
	if st, err := l.DropSegment(11, nil); err != nil || st != (DropStats{}) {
		t.Fatalf("DropSegment(empty open segment) = %+v, %v; want nothing to do", st, err)
	}
	if s := l.Stats(); s.Dropped != 5 || s.Undone != 4 || s.FirstUndone != 5 {
		t.Fatalf("Stats = %+v", s)
	}
	appendN(t, l, 11, 11)
	mustClose(t, l)
	l = mustOpen(t, opts(t, o.Dir))
	requireSeqs(t, readAll(t, l), seqs(5, 11, 9, 10))
}

func TestClosedLog(t *testing.T) {
	l := mustOpen(t, opts(t, t.TempDir()))
	appendN(t, l, 1, 1)
	r := l.NewReader()
	mustClose(t, l)
	mustClose(t, l) // idempotent
	if _, err := l.Append(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append = %v", err)
	}
	var cerr error
	l.Commit(func(err error) { cerr = err })
	checks := map[string]error{
		"Commit":     cerr,
		"Done":       l.Done(1),
		"Checkpoint": l.Checkpoint(),
		"Maintain":   l.Maintain(t0),
	}
	_, checks["Read"] = l.Read(1)
	_, _, checks["Next"] = r.Next()
	_, checks["DropSegment"] = l.DropSegment(1, nil)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}
