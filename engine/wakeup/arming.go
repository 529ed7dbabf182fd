package wakeup

import "time"

// Setter is the part of a node's effects that arms and disarms its
// wakeup slots (engine.Effects implements it).
type Setter interface {
	SetWakeup(slot Slot, when time.Time) (rev Revision, replaced bool, err error)
	CancelWakeup(slot Slot) bool
}

// Arming is what a processor remembers of one slot it arms: whether it is
// armed, for when, and under which revision, so that re-aiming at the same
// deadline costs nothing and a stale delivery (of an arming since replaced
// or cancelled) is told from the current one. The zero Arming of a slot is
// disarmed; it belongs to the node goroutine, like the rest of its state.
type Arming struct {
	Slot  Slot
	armed bool
	at    time.Time
	rev   Revision
}

// Armed reports whether the slot is armed.
func (a *Arming) Armed() bool { return a.armed }

// When returns the current arming's time and revision, and whether the
// slot is armed.
func (a *Arming) When() (at time.Time, rev Revision, armed bool) { return a.at, a.rev, a.armed }

// Aim arms the slot at when, unless it is armed for exactly that time
// already. On error (ErrShuttingDown, capacity) the slot is left
// disarmed and the error returned.
func (a *Arming) Aim(s Setter, when time.Time) error {
	if a.armed && a.at.Equal(when) {
		return nil
	}
	rev, _, err := s.SetWakeup(a.Slot, when)
	if err != nil {
		a.armed = false
		return err
	}
	a.armed, a.at, a.rev = true, when, rev
	return nil
}

// Cancel disarms the slot if it is armed.
func (a *Arming) Cancel(s Setter) {
	if a.armed {
		s.CancelWakeup(a.Slot)
		a.armed = false
	}
}

// Forget disarms without telling the scheduler: for when the engine has
// dropped the node's wakeups already (at shutdown).
func (a *Arming) Forget() { a.armed = false }

// Fire reports whether d is the delivery of the current arming; if it is,
// the slot is disarmed (a wakeup fires once). A delivery for another slot
// or of an older revision is stale and changes nothing.
func (a *Arming) Fire(d Due) bool {
	if d.Slot != a.Slot || !a.armed || d.Revision != a.rev {
		return false
	}
	a.armed = false
	return true
}
