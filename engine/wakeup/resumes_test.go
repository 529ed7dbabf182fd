package wakeup_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/telemetry"
)

type popped struct {
	v    string
	when time.Time
}

func popAll(r *wakeup.Resumes[string], now time.Time) []popped {
	var out []popped
	for {
		v, when, ok := r.PopDue(now)
		if !ok {
			return out
		}
		out = append(out, popped{v, when})
	}
}

func requirePopped(t *testing.T, got, want []popped) {
	t.Helper()
	if !slices.EqualFunc(got, want, func(a, b popped) bool { return a.v == b.v && a.when.Equal(b.when) }) {
		t.Fatalf("popped %v, want %v", got, want)
	}
}

func TestResumesDeadlineOrder(t *testing.T) {
	r := wakeup.NewResumes[string](8, nil)
	for _, p := range []popped{{"c", at(3 * time.Second)}, {"a", at(time.Second)}, {"b", at(2 * time.Second)}} {
		if err := r.Push(p.when, p.v); err != nil {
			t.Fatal(err)
		}
	}
	if next, ok := r.Next(); !ok || !next.Equal(at(time.Second)) {
		t.Fatalf("Next = (%v, %v), want (%v, true)", next, ok, at(time.Second))
	}
	requirePopped(t, popAll(r, at(time.Second-1)), nil)
	requirePopped(t, popAll(r, at(time.Second)), []popped{{"a", at(time.Second)}})
	requirePopped(t, popAll(r, at(time.Hour)), []popped{{"b", at(2 * time.Second)}, {"c", at(3 * time.Second)}})
	if _, ok := r.Next(); ok || r.Len() != 0 {
		t.Fatalf("Next ok = %v, Len = %d after draining", ok, r.Len())
	}
}

func TestResumesFIFOAmongEqualDeadlines(t *testing.T) {
	r := wakeup.NewResumes[string](16, nil)
	when := at(time.Second)
	var want []popped
	for _, v := range []string{"e", "b", "d", "a", "c", "f", "g"} {
		if err := r.Push(when, v); err != nil {
			t.Fatal(err)
		}
		want = append(want, popped{v, when})
	}
	requirePopped(t, popAll(r, when), want)
}

func TestResumesPastDeadlineDueAtOnce(t *testing.T) {
	r := wakeup.NewResumes[string](1, nil)
	if err := r.Push(at(-time.Minute), "late"); err != nil {
		t.Fatal(err)
	}
	requirePopped(t, popAll(r, t0), []popped{{"late", at(-time.Minute)}})
}

func TestResumesRejection(t *testing.T) {
	tests := []struct {
		name     string
		capacity int
		prepare  func(r *wakeup.Resumes[*string])
		wantErr  error
	}{
		{"full", 2, func(r *wakeup.Resumes[*string]) {
			r.Push(t0, new(string))
			r.Push(t0, new(string))
		}, wakeup.ErrResumeCapacity},
		{"zero capacity", 0, func(*wakeup.Resumes[*string]) {}, wakeup.ErrResumeCapacity},
		{"shutting down", 2, func(r *wakeup.Resumes[*string]) { r.BeginShutdown(t0) }, wakeup.ErrShuttingDown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := wakeup.NewResumeMetrics(nil)
			r := wakeup.NewResumes[*string](tc.capacity, m)
			tc.prepare(r)
			before := r.Len()
			rejected := new(string)
			if err := r.Push(t0, rejected); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Push = %v, want %v", err, tc.wantErr)
			}
			if r.Len() != before || m.Rejected.Value() != 1 {
				t.Fatalf("Len %d -> %d, Rejected = %d; want unchanged, 1", before, r.Len(), m.Rejected.Value())
			}
			// The caller keeps the value: the queue never hands it out.
			r.BeginShutdown(t0)
			for {
				v, _, ok := r.PopDue(t0)
				if !ok {
					break
				}
				if v == rejected {
					t.Fatal("rejected value was delivered")
				}
			}
		})
	}
}

func TestResumesShutdownMakesAllDue(t *testing.T) {
	m := wakeup.NewResumeMetrics(nil)
	r := wakeup.NewResumes[string](8, m)
	for _, p := range []popped{{"x", at(time.Hour)}, {"y", at(time.Minute)}, {"z", at(-time.Second)}, {"y2", at(time.Minute)}} {
		if err := r.Push(p.when, p.v); err != nil {
			t.Fatal(err)
		}
	}
	r.BeginShutdown(t0)
	r.BeginShutdown(t0.Add(time.Hour)) // idempotent: the first latch time stays
	if err := r.Push(t0, "new"); !errors.Is(err, wakeup.ErrShuttingDown) {
		t.Fatalf("Push = %v, want ErrShuttingDown", err)
	}
	if next, ok := r.Next(); !ok || !next.Equal(at(-time.Second)) {
		t.Fatalf("Next = (%v, %v), want the already due %v", next, ok, at(-time.Second))
	}
	// Due whatever now the caller passes, in the original order, delivered
	// rather than dropped; future deadlines are reported as the shutdown time.
	requirePopped(t, popAll(r, time.Time{}), []popped{
		{"z", at(-time.Second)}, {"y", t0}, {"y2", t0}, {"x", t0},
	})
	if m.Scheduled.Value() != 4 || m.Delivered.Value() != 4 || m.Rejected.Value() != 1 || m.Pending.Value() != 0 {
		t.Fatalf("metrics scheduled %d delivered %d rejected %d pending %d; want 4 4 1 0",
			m.Scheduled.Value(), m.Delivered.Value(), m.Rejected.Value(), m.Pending.Value())
	}
}

func TestResumeMetricsRegistered(t *testing.T) {
	reg := telemetry.NewRegistry()
	m := wakeup.NewResumeMetrics(reg)
	r := wakeup.NewResumes[int](4, m)
	r.Push(t0, 1)
	r.Push(t0.Add(time.Second), 2)
	r.PopDue(t0)
	got := map[string]float64{}
	for _, s := range reg.Snapshot() {
		got[s.Name] = s.Value
	}
	want := map[string]float64{
		"ackflow_resume_scheduled_total": 2,
		"ackflow_resume_rejected_total":  0,
		"ackflow_resume_delivered_total": 1,
		"ackflow_resume_pending":         1,
	}
	if len(got) != len(want) {
		t.Fatalf("families %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestResumesFarApartDeadlinesStayOrdered(t *testing.T) {
	r := wakeup.NewResumes[string](8, nil)
	for _, p := range []popped{{"zero", time.Time{}}, {"b", at(2 * time.Second)}, {"a", at(time.Second)}, {"a2", at(time.Second)}} {
		if err := r.Push(p.when, p.v); err != nil {
			t.Fatal(err)
		}
	}
	requirePopped(t, popAll(r, at(time.Second)), []popped{{"zero", time.Time{}}, {"a", at(time.Second)}, {"a2", at(time.Second)}})
	requirePopped(t, popAll(r, at(2*time.Second)), []popped{{"b", at(2 * time.Second)}})
}
