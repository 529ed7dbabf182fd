package logsampling

import "time"

// sampler decides how many records of a batch to keep. Like the reference
// engine's samplers it keeps a prefix of the batch: the first keep(n, now)
// records, in order. It is a pure state machine; time comes in as now.
type sampler interface {
	// keep returns how many of the n log records of the next batch,
	// arriving at now, to keep (0 ≤ result ≤ n).
	keep(n int, now time.Time) int
}

// ratio keeps emit records out of every outOf, counted across batches as
// one stream: each cycle of outOf records keeps its first emit, so the
// fraction is exact over any whole number of cycles. Which records of a
// batch are kept does not matter to the count, so the batch's first ones
// are, as in the reference engine.
type ratio struct {
	emit, outOf int
	seen        int // records of the current cycle seen so far, in [0, outOf)
}

// keep counts the records of the current cycle still to keep, then the
// whole cycles in the batch, then the start of the last, partial cycle.
// It costs O(1) whatever n.
func (r *ratio) keep(n int, _ time.Time) int {
	if n <= 0 {
		return 0
	}
	head := min(n, r.outOf-r.seen)        // records that finish the current cycle
	k := min(max(r.emit-r.seen, 0), head) // its keep positions not yet used
	rest := n - head                      // records after it
	k += rest/r.outOf*r.emit + min(r.emit, rest%r.outOf)
	r.seen = (r.seen + n) % r.outOf
	return k
}

// zip keeps at most max records per window of interval; the windows follow
// each other from the first batch, as the reference engine's periodic
// timer started by the first message.
type zip struct {
	interval time.Duration
	max      int
	started  bool
	start    time.Time // of the current window
	used     int       // records kept in the current window
}

// keep starts a new window when now is past the current one, then takes
// what is left of the window's budget.
func (z *zip) keep(n int, now time.Time) int {
	switch {
	case !z.started:
		z.started, z.start = true, now
	case now.Sub(z.start) >= z.interval:
		z.start = z.start.Add(now.Sub(z.start) / z.interval * z.interval)
		z.used = 0
	}
	k := min(max(z.max-z.used, 0), max(n, 0))
	z.used += k
	return k
}

// newSampler builds the sampler of a validated config.
func newSampler(c Config) sampler {
	if z := c.Policy.Zip; z != nil {
		return &zip{interval: time.Duration(z.Interval), max: z.MaxItems}
	}
	return &ratio{emit: c.Policy.Ratio.Emit, outOf: c.Policy.Ratio.OutOf}
}
