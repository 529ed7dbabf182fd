package wakeup_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/wakeup"
)

// countingSetter arms slots on a real scheduler and counts the calls.
type countingSetter struct {
	sched         *wakeup.Scheduler
	sets, cancels int
	refuse        error
}

func (c *countingSetter) SetWakeup(slot wakeup.Slot, when time.Time) (wakeup.Revision, bool, error) {
	c.sets++
	if c.refuse != nil {
		return 0, false, c.refuse
	}
	return c.sched.Set(slot, when)
}

func (c *countingSetter) CancelWakeup(slot wakeup.Slot) bool {
	c.cancels++
	return c.sched.Cancel(slot)
}

func TestArming(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &countingSetter{sched: wakeup.NewScheduler(4, nil)}
	a := wakeup.Arming{Slot: 2}
	if a.Armed() {
		t.Fatal("the zero Arming is armed")
	}
	if err := a.Aim(s, t0.Add(time.Second)); err != nil || !a.Armed() || s.sets != 1 {
		t.Fatalf("Aim: err %v, armed %v, sets %d", err, a.Armed(), s.sets)
	}
	if err := a.Aim(s, t0.Add(time.Second)); err != nil || s.sets != 1 {
		t.Fatalf("re-aiming at the same time called SetWakeup again (%d sets, err %v)", s.sets, err)
	}
	first := wakeup.Due{Slot: 2, Revision: 1}
	if err := a.Aim(s, t0.Add(2*time.Second)); err != nil || s.sets != 2 {
		t.Fatalf("aiming elsewhere: sets %d, err %v", s.sets, err)
	}
	due, ok := s.sched.PopDue(t0.Add(3 * time.Second))
	if !ok {
		t.Fatal("no wakeup due")
	}
	if a.Fire(first) {
		t.Error("a delivery of the replaced arming fired")
	}
	if a.Fire(wakeup.Due{Slot: 3, Revision: due.Revision}) {
		t.Error("a delivery for another slot fired")
	}
	if !a.Fire(due) || a.Armed() {
		t.Fatalf("the current delivery did not fire, or left the slot armed")
	}
	if a.Fire(due) {
		t.Error("one arming fired twice")
	}

	a.Cancel(s)
	if s.cancels != 0 {
		t.Errorf("Cancel of a disarmed slot called CancelWakeup")
	}
	if err := a.Aim(s, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	a.Cancel(s)
	if _, fired := s.sched.PopDue(t0.Add(time.Hour)); s.cancels != 1 || a.Armed() || fired {
		t.Errorf("Cancel: cancels %d, armed %v, or the wakeup still fired", s.cancels, a.Armed())
	}

	if err := a.Aim(s, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	a.Forget()
	if a.Armed() || s.cancels != 1 {
		t.Errorf("Forget: armed %v, cancels %d (it must not call CancelWakeup)", a.Armed(), s.cancels)
	}

	s.refuse = wakeup.ErrShuttingDown
	if err := a.Aim(s, t0.Add(time.Hour)); !errors.Is(err, wakeup.ErrShuttingDown) || a.Armed() {
		t.Errorf("refused Aim: err %v, armed %v; want ErrShuttingDown and disarmed", err, a.Armed())
	}
}
