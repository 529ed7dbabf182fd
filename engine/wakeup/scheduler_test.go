package wakeup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func check(t *testing.T, s *wakeup.Scheduler) {
	t.Helper()
	if err := wakeup.CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
}

func mustSet(t *testing.T, s *wakeup.Scheduler, slot wakeup.Slot, when time.Time) (wakeup.Revision, bool) {
	t.Helper()
	rev, replaced, err := s.Set(slot, when)
	if err != nil {
		t.Fatalf("Set(%d, %v): %v", slot, when, err)
	}
	check(t, s)
	return rev, replaced
}

// drain pops everything due at now and checks the heap after every pop.
func drain(t *testing.T, s *wakeup.Scheduler, now time.Time) []wakeup.Due {
	t.Helper()
	var out []wakeup.Due
	for {
		d, ok := s.PopDue(now)
		if !ok {
			return out
		}
		check(t, s)
		out = append(out, d)
	}
}

func requireDues(t *testing.T, got, want []wakeup.Due) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("popped %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].Slot != want[i].Slot || got[i].Revision != want[i].Revision || !got[i].When.Equal(want[i].When) {
			t.Fatalf("popped %+v, want %+v", got, want)
		}
	}
}

func TestSetThenDueNotBeforeDeadline(t *testing.T) {
	s := wakeup.NewScheduler(4, nil)
	rev, replaced := mustSet(t, s, 9, at(5*time.Second))
	if rev != 1 || replaced {
		t.Fatalf("first Set = (%d, %v), want (1, false)", rev, replaced)
	}
	if next, ok := s.Next(); !ok || !next.Equal(at(5*time.Second)) {
		t.Fatalf("Next = (%v, %v), want (%v, true)", next, ok, at(5*time.Second))
	}
	if d, ok := s.PopDue(at(5*time.Second - 1)); ok {
		t.Fatalf("popped %+v before its deadline", d)
	}
	requireDues(t, drain(t, s, at(5*time.Second)), []wakeup.Due{{Slot: 9, When: at(5 * time.Second), Revision: 1}})
	if _, ok := s.Next(); ok || s.Len() != 0 {
		t.Fatalf("after pop Next ok = %v, Len = %d; want false, 0", ok, s.Len())
	}
}

func TestReplaceMovesDeadline(t *testing.T) {
	tests := []struct {
		name string
		to   time.Duration // the original deadline is 10s
	}{
		{"earlier", 2 * time.Second},
		{"later", 30 * time.Second},
		{"same", 10 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := wakeup.NewScheduler(1, nil) // replacing must not need a second slot
			first, _ := mustSet(t, s, 1, at(10*time.Second))
			rev, replaced := mustSet(t, s, 1, at(tc.to))
			if !replaced || rev <= first {
				t.Fatalf("replace = (%d, %v), want (> %d, true)", rev, replaced, first)
			}
			if s.Len() != 1 {
				t.Fatalf("Len = %d, want 1", s.Len())
			}
			if next, _ := s.Next(); !next.Equal(at(tc.to)) {
				t.Fatalf("Next = %v, want %v", next, at(tc.to))
			}
			requireDues(t, drain(t, s, at(tc.to-1)), nil) // the old deadline is gone too
			requireDues(t, drain(t, s, at(time.Hour)), []wakeup.Due{{Slot: 1, When: at(tc.to), Revision: rev}})
		})
	}
}

func TestRepeatedReschedulesKeepOneEntry(t *testing.T) {
	s := wakeup.NewScheduler(1, nil)
	for i := range 32 {
		rev, replaced := mustSet(t, s, 0, at(time.Duration(100-i)*time.Second))
		if want := wakeup.Revision(i + 1); rev != want || replaced != (i > 0) {
			t.Fatalf("Set #%d = (%d, %v), want (%d, %v)", i, rev, replaced, want, i > 0)
		}
		if s.Len() != 1 {
			t.Fatalf("Len = %d, want 1", s.Len())
		}
	}
	requireDues(t, drain(t, s, at(time.Hour)), []wakeup.Due{{Slot: 0, When: at(69 * time.Second), Revision: 32}})
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, s *wakeup.Scheduler)
		want    bool
	}{
		{"live", func(t *testing.T, s *wakeup.Scheduler) { mustSet(t, s, 1, at(time.Second)) }, true},
		{"never set", func(*testing.T, *wakeup.Scheduler) {}, false},
		{"already popped", func(t *testing.T, s *wakeup.Scheduler) {
			mustSet(t, s, 1, at(time.Second))
			drain(t, s, at(time.Second))
		}, false},
		{"other slot live", func(t *testing.T, s *wakeup.Scheduler) { mustSet(t, s, 2, at(time.Second)) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := wakeup.NewScheduler(4, nil)
			tc.prepare(t, s)
			if got := s.Cancel(1); got != tc.want {
				t.Fatalf("Cancel = %v, want %v", got, tc.want)
			}
			check(t, s)
			if s.Cancel(1) {
				t.Fatal("second Cancel = true")
			}
			for _, d := range drain(t, s, at(time.Hour)) {
				if d.Slot == 1 {
					t.Fatalf("cancelled slot delivered: %+v", d)
				}
			}
		})
	}
}

func TestEqualDeadlinesPopInSchedulingOrder(t *testing.T) {
	s := wakeup.NewScheduler(8, nil)
	when := at(time.Second)
	for _, slot := range []wakeup.Slot{7, 3, 5, 1} {
		mustSet(t, s, slot, when)
	}
	requireDues(t, drain(t, s, when), []wakeup.Due{
		{Slot: 7, When: when, Revision: 1},
		{Slot: 3, When: when, Revision: 2},
		{Slot: 5, When: when, Revision: 3},
		{Slot: 1, When: when, Revision: 4},
	})
}

func TestResetSlotMovesBehindEqualDeadlines(t *testing.T) {
	s := wakeup.NewScheduler(8, nil)
	when := at(time.Second)
	for _, slot := range []wakeup.Slot{1, 2, 3} {
		mustSet(t, s, slot, when)
	}
	mustSet(t, s, 1, when) // same deadline, scheduled again: now last
	requireDues(t, drain(t, s, when), []wakeup.Due{
		{Slot: 2, When: when, Revision: 2},
		{Slot: 3, When: when, Revision: 3},
		{Slot: 1, When: when, Revision: 4},
	})
}

func TestCapacity(t *testing.T) {
	s := wakeup.NewScheduler(2, nil)
	mustSet(t, s, 1, at(time.Second))
	mustSet(t, s, 2, at(2*time.Second))
	rev, replaced, err := s.Set(3, at(3*time.Second))
	if !errors.Is(err, wakeup.ErrCapacity) || rev != 0 || replaced {
		t.Fatalf("Set beyond capacity = (%d, %v, %v), want (0, false, ErrCapacity)", rev, replaced, err)
	}
	// Replacing at capacity still works, and the rejected Set used no revision.
	if rev, replaced := mustSet(t, s, 2, at(4*time.Second)); rev != 3 || !replaced {
		t.Fatalf("replace at capacity = (%d, %v), want (3, true)", rev, replaced)
	}
	if !s.Cancel(1) {
		t.Fatal("Cancel(1) = false")
	}
	if rev, replaced := mustSet(t, s, 3, at(3*time.Second)); rev != 4 || replaced {
		t.Fatalf("insert after cancel = (%d, %v), want (4, false)", rev, replaced)
	}
	if s.Len() != 2 || s.Capacity() != 2 {
		t.Fatalf("Len, Capacity = %d, %d; want 2, 2", s.Len(), s.Capacity())
	}
}

func TestUnsupportedWithZeroCapacity(t *testing.T) {
	m := wakeup.NewMetrics(nil)
	s := wakeup.NewScheduler(0, m)
	if _, _, err := s.Set(1, t0); !errors.Is(err, wakeup.ErrUnsupported) {
		t.Fatalf("Set = %v, want ErrUnsupported", err)
	}
	if s.Cancel(1) {
		t.Fatal("Cancel = true")
	}
	if _, ok := s.Next(); ok {
		t.Fatal("Next reports a deadline")
	}
	s.BeginShutdown()
	if _, _, err := s.Set(1, t0); !errors.Is(err, wakeup.ErrUnsupported) {
		t.Fatalf("Set after shutdown = %v, want ErrUnsupported (nothing was ever supported)", err)
	}
	if m.CapacityErrors.Value() != 0 || m.Inserted.Value() != 0 {
		t.Fatalf("unsupported Set counted as capacity error or insert")
	}
}

func TestBeginShutdown(t *testing.T) {
	m := wakeup.NewMetrics(nil)
	s := wakeup.NewScheduler(4, m)
	for slot := range wakeup.Slot(3) {
		mustSet(t, s, slot, at(time.Duration(slot)*time.Second))
	}
	if n := s.BeginShutdown(); n != 3 {
		t.Fatalf("BeginShutdown = %d, want 3", n)
	}
	check(t, s)
	if s.Len() != 0 {
		t.Fatalf("Len = %d, want 0", s.Len())
	}
	if _, ok := s.Next(); ok {
		t.Fatal("Next reports a deadline after shutdown")
	}
	requireDues(t, drain(t, s, at(time.Hour)), nil) // dropped, not delivered
	if _, _, err := s.Set(9, t0); !errors.Is(err, wakeup.ErrShuttingDown) {
		t.Fatalf("Set = %v, want ErrShuttingDown", err)
	}
	if s.Cancel(0) {
		t.Fatal("Cancel after shutdown = true")
	}
	if n := s.BeginShutdown(); n != 0 {
		t.Fatalf("second BeginShutdown = %d, want 0", n)
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"ClearedAtShutdown", m.ClearedAtShutdown.Value(), 3},
		{"ShutdownErrors", m.ShutdownErrors.Value(), 1},
		{"CancelIgnored", m.CancelIgnored.Value(), 1},
		{"CancelMissed", m.CancelMissed.Value(), 0},
		{"PoppedDue", m.PoppedDue.Value(), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if m.Live.Value() != 0 {
		t.Errorf("Live = %d, want 0", m.Live.Value())
	}
}

func TestCancelAfterRescheduleOfNonRootEntry(t *testing.T) {
	s := wakeup.NewScheduler(8, nil)
	for slot := wakeup.Slot(1); slot <= 4; slot++ {
		mustSet(t, s, slot, at(time.Duration(slot)*10*time.Second))
	}
	// Slot 3 was a leaf under the root; moving it ahead of slot 2 sifts it
	// up to a different non-root position, so Cancel must find it there.
	mustSet(t, s, 3, at(15*time.Second))
	if !s.Cancel(3) {
		t.Fatal("Cancel(3) = false")
	}
	check(t, s)
	requireDues(t, drain(t, s, at(time.Hour)), []wakeup.Due{
		{Slot: 1, When: at(10 * time.Second), Revision: 1},
		{Slot: 2, When: at(20 * time.Second), Revision: 2},
		{Slot: 4, When: at(40 * time.Second), Revision: 4},
	})
}

func TestPastDeadlinesAreDueAtOnce(t *testing.T) {
	s := wakeup.NewScheduler(4, nil)
	now := t0
	rev, _ := mustSet(t, s, 1, now.Add(-time.Hour))
	mustSet(t, s, 2, now)
	mustSet(t, s, 3, now.Add(time.Nanosecond))
	requireDues(t, drain(t, s, now), []wakeup.Due{
		{Slot: 1, When: now.Add(-time.Hour), Revision: rev}, // keeps its own deadline
		{Slot: 2, When: now, Revision: 2},
	})
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (the future one)", s.Len())
	}
}

func TestRevisionsIncreaseOnlyOnAcceptedSets(t *testing.T) {
	s := wakeup.NewScheduler(1, nil)
	var got []wakeup.Revision
	steps := []struct {
		slot    wakeup.Slot
		wantErr error
	}{{1, nil}, {2, wakeup.ErrCapacity}, {1, nil}, {2, wakeup.ErrCapacity}, {1, nil}}
	for _, st := range steps {
		rev, _, err := s.Set(st.slot, t0)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("Set(%d) = %v, want %v", st.slot, err, st.wantErr)
		}
		if err == nil {
			got = append(got, rev)
		}
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("revisions = %v, want [1 2 3]", got)
	}
}

func TestMetricsLifecycle(t *testing.T) {
	reg := telemetry.NewRegistry()
	m := wakeup.NewMetrics(reg, telemetry.Labels("pipeline", "p", "node", "batch")...)
	s := wakeup.NewScheduler(1, m)
	mustSet(t, s, 1, at(time.Second)) // inserted
	mustSet(t, s, 1, at(time.Second)) // replaced
	if _, _, err := s.Set(2, t0); !errors.Is(err, wakeup.ErrCapacity) {
		t.Fatalf("Set = %v, want ErrCapacity", err)
	}
	s.Cancel(2)                       // missed
	s.Cancel(1)                       // removed
	s.Cancel(1)                       // missed
	mustSet(t, s, 1, at(time.Second)) // inserted
	drain(t, s, at(time.Second))      // popped
	mustSet(t, s, 1, at(time.Second)) // inserted, then cleared
	s.BeginShutdown()
	s.Set(1, t0) // shutdown error
	s.Cancel(1)  // ignored

	want := map[string]float64{
		"ackflow_wakeup_inserted_total":            3,
		"ackflow_wakeup_replaced_total":            1,
		"ackflow_wakeup_capacity_errors_total":     1,
		"ackflow_wakeup_shutdown_errors_total":     1,
		"ackflow_wakeup_cancel_removed_total":      1,
		"ackflow_wakeup_cancel_missed_total":       2,
		"ackflow_wakeup_cancel_ignored_total":      1,
		"ackflow_wakeup_popped_due_total":          1,
		"ackflow_wakeup_cleared_at_shutdown_total": 1,
		"ackflow_wakeup_live":                      0,
		"ackflow_wakeup_capacity":                  1,
	}
	got := map[string]float64{}
	for _, smp := range reg.Snapshot() {
		if len(smp.Labels) != 2 || smp.Labels[1] != (telemetry.Label{Name: "node", Value: "batch"}) {
			t.Errorf("%s has labels %v", smp.Name, smp.Labels)
		}
		got[smp.Name] = smp.Value
	}
	if len(got) != len(want) {
		t.Errorf("registered %d families, want %d: %v", len(got), len(want), got)
	}
	for name, w := range want {
		if v, ok := got[name]; !ok || v != w {
			t.Errorf("%s = %v (registered %v), want %v", name, v, ok, w)
		}
	}
	var b strings.Builder
	if err := reg.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	for name := range want {
		if strings.Contains(b.String(), "# HELP "+name+" \n") || !strings.Contains(b.String(), "# HELP "+name+" ") {
			t.Errorf("%s has no help text", name)
		}
	}
}

func TestLiveGaugeFollowsLen(t *testing.T) {
	m := wakeup.NewMetrics(nil)
	s := wakeup.NewScheduler(3, m)
	steps := []func(){
		func() { s.Set(1, at(1)) },
		func() { s.Set(2, at(2)) },
		func() { s.Set(2, at(3)) },
		func() { s.Cancel(1) },
		func() { s.PopDue(at(time.Hour)) },
		func() { s.Set(4, at(4)) },
	}
	for i, step := range steps {
		step()
		if int(m.Live.Value()) != s.Len() {
			t.Fatalf("step %d: Live = %d, Len = %d", i, m.Live.Value(), s.Len())
		}
	}
}

func TestNegativeCapacityPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"scheduler", func() { wakeup.NewScheduler(-1, nil) }},
		{"resumes", func() { wakeup.NewResumes[int](-1, nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tc.f()
		})
	}
}

// TestFarApartDeadlinesStayOrdered covers deadlines centuries apart (a zero
// time.Time meaning "at once", next to real deadlines), beyond the range of
// the scheduler's integer keys.
func TestFarApartDeadlinesStayOrdered(t *testing.T) {
	far := time.Date(2800, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		first time.Time // the first deadline ever set
	}{
		{"zero time first", time.Time{}},
		{"far future first", far},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := wakeup.NewScheduler(8, nil)
			mustSet(t, s, 0, tc.first)
			mustSet(t, s, 1, at(2*time.Second))
			mustSet(t, s, 2, at(time.Second))
			mustSet(t, s, 3, far.Add(-time.Second))
			mustSet(t, s, 4, at(time.Second))
			got := drain(t, s, at(time.Second))
			want := []wakeup.Due{{Slot: 2, When: at(time.Second), Revision: 3}, {Slot: 4, When: at(time.Second), Revision: 5}}
			if tc.first.IsZero() {
				want = append([]wakeup.Due{{Slot: 0, When: tc.first, Revision: 1}}, want...)
			}
			requireDues(t, got, want)
			requireDues(t, drain(t, s, at(2*time.Second)), []wakeup.Due{{Slot: 1, When: at(2 * time.Second), Revision: 2}})
		})
	}
}

// TestNewSlotsEveryTimeStayBounded sets and pops a new slot each time, as a
// processor keying wakeups by something it never repeats would: popped
// slots stay in the slot table until it fills up, and then are purged
// rather than grown over, so the table stays small and, once warm, nothing
// allocates.
func TestNewSlotsEveryTimeStayBounded(t *testing.T) {
	s := wakeup.NewScheduler(4, nil)
	slot := wakeup.Slot(0)
	cycle := func() {
		for range 3 {
			slot++
			if _, _, err := s.Set(slot*0x9e3779b9, at(time.Duration(slot))); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if _, ok := s.PopDue(at(time.Hour)); !ok {
				t.Fatal("nothing due")
			}
		}
	}
	for i := range 1000 {
		cycle()
		if i%97 == 0 {
			check(t, s)
		}
	}
	if n := wakeup.SlotTableCells(s); n > 16 {
		t.Fatalf("slot table of %d cells for at most 4 live slots", n)
	}
	if allocs := testing.AllocsPerRun(1000, cycle); allocs != 0 {
		t.Fatalf("%v allocations per cycle of new slots, want 0", allocs)
	}
	check(t, s)
}
