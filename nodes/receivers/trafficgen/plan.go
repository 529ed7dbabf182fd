package trafficgen

import (
	"math/bits"
	"time"

	"github.com/ackflow/ackflow/pdata"
)

// plan decides which signal the next message carries and how many items,
// so that the items of each signal follow the weights as closely as whole
// messages allow, and the total never passes the limit.
//
// It is deterministic (weighted fair queuing on items): the next message
// goes to the signal with the fewest items sent relative to its weight,
// ties to the heavier signal, then to the first of logs, metrics, traces.
// So no signal is ever more than one message above its weighted share of
// the items sent (nor more than one message per other signal below it),
// and when the limit is a whole number of rounds the shares are exact.
//
// It is not safe for concurrent use; the Run goroutine owns it.
type plan struct {
	weights [3]uint64
	signals []pdata.Signal // positive weight only
	batch   uint64
	limit   uint64 // 0: none
	items   [3]uint64
	total   uint64
}

func newPlan(s settings) *plan {
	return &plan{weights: s.weights, signals: s.signals, batch: uint64(s.batch), limit: uint64(s.limit)}
}

// next returns the signal and size of the next message and counts it as
// sent; ok is false once the limit is reached.
func (p *plan) next() (sig pdata.Signal, n int, ok bool) {
	size := p.batch
	if p.limit > 0 {
		if p.total >= p.limit {
			return 0, 0, false
		}
		size = min(size, p.limit-p.total)
	}
	sig = p.signals[0]
	for _, s := range p.signals[1:] {
		if p.before(s, sig) {
			sig = s
		}
	}
	p.items[sig] += size
	p.total += size
	return sig, int(size), true
}

// before reports whether a goes before b: it has fewer items per unit of
// weight (items[a]/w[a] < items[b]/w[b], compared as 128-bit products so
// that neither large counts nor large weights overflow), or as many and a
// larger weight, so that the dominant signal leads.
func (p *plan) before(a, b pdata.Signal) bool {
	ah, al := bits.Mul64(p.items[a], p.weights[b])
	bh, bl := bits.Mul64(p.items[b], p.weights[a])
	if ah != bh || al != bl {
		return ah < bh || (ah == bh && al < bl)
	}
	return p.weights[a] > p.weights[b]
}

// pacer spreads items over time at a fixed rate: the message that starts
// with item k is due k/rate seconds after the start (production_mode
// smooth), or at the start of second k/rate, rounded down (open: each
// second's share goes as fast as downstream takes it). When the generator
// falls more than maxLag behind (downstream was slow), the schedule is
// moved up to now instead of bursting to catch up.
type pacer struct {
	rate   int64 // items per second, > 0
	maxLag time.Duration
	start  time.Time // when item 0 was due
	items  int64     // items released so far
	open   bool      // production_mode open
}

// due returns when the next message may go, after moving the schedule up
// if now is more than maxLag past it.
func (p *pacer) due(now time.Time) time.Time {
	d := p.start.Add(p.offset(p.items))
	if now.Sub(d) > p.maxLag {
		p.start = now.Add(-p.offset(p.items))
		return now
	}
	return d
}

// offset is when the message starting with item k is due, from the start.
func (p *pacer) offset(items int64) time.Duration {
	if p.open {
		return time.Duration(items/p.rate) * time.Second
	}
	return offset(items, p.rate)
}

// release records that n more items were sent.
func (p *pacer) release(n int) { p.items += int64(n) }

// offset is the time items take at rate items per second, computed in
// whole seconds and a remainder so that it does not overflow for any count
// a generator reaches.
func offset(items, rate int64) time.Duration {
	return time.Duration(items/rate)*time.Second + time.Duration((items%rate)*int64(time.Second)/rate)
}
