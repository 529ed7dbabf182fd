package exportdriver

import "time"

// aimd sizes the exports in flight to what the destination absorbs:
// additive increase, multiplicative decrease, as TCP does for its window.
//
// Sending more at once than a slow destination can take makes every
// export slower, until all of them run out of time after the destination
// read their bytes: nothing is delivered at all (a 1 MB/s sink and 16
// exports of 4 MB at once). So a timeout halves the limit (down to one),
// and the limit grows by one after a full window of answers that came in
// within half the timeout, up to max_in_flight. Answers slower than that
// hold it: the destination is near its capacity. It starts at
// max_in_flight, so a destination that keeps up never waits for a ramp.
type aimd struct {
	current int // exports allowed at once
	max     int // max_in_flight
	good    int // fast answers since the limit last changed
}

func newAIMD(max int) aimd { return aimd{current: max, max: max} }

// observe adjusts the limit to one export's outcome.
func (a *aimd) observe(done callDone, timeout time.Duration) {
	switch {
	case done.timeout:
		a.current = max(1, a.current/2)
		a.good = 0
	case done.res.Err == nil && done.elapsed < timeout/2:
		a.good++
		if a.good >= a.current && a.current < a.max {
			a.current++
			a.good = 0
		}
	}
}
