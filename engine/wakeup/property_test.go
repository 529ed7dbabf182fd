package wakeup_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/wakeup"
)

// model is the obvious, slow specification of a Scheduler: a map scanned
// in full for every question.
type model struct {
	capacity int
	live     map[wakeup.Slot]wakeup.Due
	rev      wakeup.Revision
	shut     bool
}

func (m *model) set(slot wakeup.Slot, when time.Time) (wakeup.Revision, bool, error) {
	switch {
	case m.capacity == 0:
		return 0, false, wakeup.ErrUnsupported
	case m.shut:
		return 0, false, wakeup.ErrShuttingDown
	}
	_, replaced := m.live[slot]
	if !replaced && len(m.live) == m.capacity {
		return 0, false, wakeup.ErrCapacity
	}
	m.rev++
	m.live[slot] = wakeup.Due{Slot: slot, When: when, Revision: m.rev}
	return m.rev, replaced, nil
}

func (m *model) cancel(slot wakeup.Slot) bool {
	if m.shut {
		return false
	}
	_, ok := m.live[slot]
	delete(m.live, slot)
	return ok
}

func (m *model) first() (wakeup.Due, bool) {
	var best wakeup.Due
	found := false
	for _, d := range m.live {
		if !found || d.When.Before(best.When) || (d.When.Equal(best.When) && d.Revision < best.Revision) {
			best, found = d, true
		}
	}
	return best, found
}

func (m *model) popDue(now time.Time) (wakeup.Due, bool) {
	d, ok := m.first()
	if !ok || d.When.After(now) {
		return wakeup.Due{}, false
	}
	delete(m.live, d.Slot)
	return d, true
}

func TestSchedulerMatchesModel(t *testing.T) {
	const ops = 10_000
	tests := []struct {
		capacity, slots int
		seed            uint64
	}{
		{capacity: 32, slots: 48, seed: 1}, // often full: capacity errors
		{capacity: 64, slots: 16, seed: 2}, // never full: replace-heavy
		{capacity: 1, slots: 3, seed: 3},
		{capacity: 0, slots: 4, seed: 4},
		{capacity: 500, slots: 1000, seed: 5}, // deep heap
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("cap=%d/slots=%d", tc.capacity, tc.slots), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 42))
			s := wakeup.NewScheduler(tc.capacity, nil)
			m := &model{capacity: tc.capacity, live: map[wakeup.Slot]wakeup.Due{}}
			now := t0
			for i := range ops {
				slot := wakeup.Slot(rng.IntN(tc.slots))
				switch op := rng.IntN(100); {
				case op < 45:
					// Whole seconds around now: many ties and some past deadlines.
					when := now.Add(time.Duration(rng.IntN(25)-5) * time.Second)
					rev, replaced, err := s.Set(slot, when)
					wrev, wreplaced, werr := m.set(slot, when)
					if rev != wrev || replaced != wreplaced || !errors.Is(err, werr) || (err == nil) != (werr == nil) {
						t.Fatalf("op %d: Set(%d) = (%d, %v, %v), model (%d, %v, %v)", i, slot, rev, replaced, err, wrev, wreplaced, werr)
					}
				case op < 65:
					if got, want := s.Cancel(slot), m.cancel(slot); got != want {
						t.Fatalf("op %d: Cancel(%d) = %v, model %v", i, slot, got, want)
					}
				case op < 99:
					if rng.IntN(2) == 0 {
						now = now.Add(time.Duration(rng.IntN(3)) * time.Second)
					}
					got, ok := s.PopDue(now)
					want, wok := m.popDue(now)
					if ok != wok || got != want {
						t.Fatalf("op %d: PopDue = (%+v, %v), model (%+v, %v)", i, got, ok, want, wok)
					}
				default:
					if i > ops*9/10 { // late, so most of the run is before shutdown
						m.shut = true
						want := len(m.live)
						clear(m.live)
						if got := s.BeginShutdown(); got != want {
							t.Fatalf("op %d: BeginShutdown = %d, model had %d", i, got, want)
						}
					}
				}
				if err := wakeup.CheckInvariants(s); err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				next, ok := s.Next()
				first, wok := m.first()
				if ok != wok || (ok && !next.Equal(first.When)) || s.Len() != len(m.live) {
					t.Fatalf("op %d: Next = (%v, %v), Len %d; model (%v, %v), %d", i, next, ok, s.Len(), first.When, wok, len(m.live))
				}
			}
		})
	}
}

type modelItem struct {
	when time.Time
	v    int
}

func TestResumesMatchModel(t *testing.T) {
	const ops = 10_000
	rng := rand.New(rand.NewPCG(7, 42))
	r := wakeup.NewResumes[int](40, nil)
	var m []modelItem // in push order: the first minimum is the FIFO winner
	now := t0
	for i := range ops {
		switch op := rng.IntN(100); {
		case op < 50:
			when := now.Add(time.Duration(rng.IntN(20)-3) * time.Second)
			err := r.Push(when, i)
			if full := len(m) == 40; full != errors.Is(err, wakeup.ErrResumeCapacity) {
				t.Fatalf("op %d: Push = %v with %d pending", i, err, len(m))
			}
			if err == nil {
				m = append(m, modelItem{when, i})
			}
		default:
			now = now.Add(time.Duration(rng.IntN(2)) * time.Second)
			v, when, ok := r.PopDue(now)
			best := -1
			for j, it := range m {
				if !it.when.After(now) && (best < 0 || it.when.Before(m[best].when)) {
					best = j
				}
			}
			if ok != (best >= 0) {
				t.Fatalf("op %d: PopDue ok = %v, model %v", i, ok, best >= 0)
			}
			if ok {
				if v != m[best].v || !when.Equal(m[best].when) {
					t.Fatalf("op %d: PopDue = (%d, %v), model (%d, %v)", i, v, when, m[best].v, m[best].when)
				}
				m = append(m[:best], m[best+1:]...)
			}
		}
		if err := wakeup.CheckResumeInvariants(r); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
		if r.Len() != len(m) {
			t.Fatalf("op %d: Len = %d, model %d", i, r.Len(), len(m))
		}
	}
}
