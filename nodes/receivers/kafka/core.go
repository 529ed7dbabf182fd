package kafka

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ackflow/ackflow/internal/backoff"
	"github.com/ackflow/ackflow/pdata"
)

// core is the receiver's bookkeeping: the records of every owned partition
// from fetch to settlement, the offset each partition may be committed to,
// and which partitions must not be fetched. It does no I/O and reads no
// clock: its callers pass the time, and it asks for fetch pauses and wakes
// the receiver's goroutines through hooks, which must not block and must
// not call back into the core.
//
// core is not safe for concurrent use: the Receiver serializes every call
// with its mutex.
//
// # The commit rule
//
// A partition's records are kept in offset order. A record is settled when
// it was acked, dead-lettered (and the dead-letter produce acked) or
// dropped (it can never succeed); settled records at the front are popped.
// The partition may be committed up to, not including, its lowest record
// not settled, or past its last record when all are. A transient failure
// never settles a record: it is sent again from memory after a backoff
// while the partition stays paused, so the commit stays behind it however
// many later records succeed. An abandoned record (its partition revoked
// or lost, the receiver stopping) is never settled here: the commit stops
// before it and the next owner reads it again.
type core struct {
	lim     limits
	auto    bool   // commit.mode auto: commit up to the last record fetched
	dlq     string // dead_letter_topic, or ""
	backoff backoffPolicy
	rand    *rand.Rand
	route   func(topic string) (route, bool)
	h       hooks
	m       *metrics

	parts    map[tp]*partition
	byID     map[uint64]*record
	waiting  map[uint64]*record // in a backoff, by id
	nextID   uint64
	held     int   // records held, all partitions
	bytes    int64 // their values' bytes
	largest  int64 // the largest value seen: sizes polls against the byte limits
	draining bool
	waiters  []*waiter
}

// hooks is what the core asks of the Receiver. pause and resume are
// called in the order the core decides them; the others only wake a
// goroutine.
type hooks interface {
	pause(t tp)
	resume(t tp)
	commitReady()    // a committable offset moved
	retryScheduled() // a record entered a backoff
	room()           // held records or bytes went down
}

// limits are max_in_flight_records and max_in_flight_bytes. recPart
// bounds a partition's window (see sync), recTotal the records held.
type limits struct {
	recPart, recTotal     int
	bytesPart, bytesTotal int64
}

// backoffPolicy is the validated retry block.
type backoffPolicy struct {
	initial, max time.Duration
	multiplier   float64
	rf           float64
}

// delay is the wait before redelivery n (1 for the first) with jitter u in
// [0, 1): min(initial × multiplier^(n-1), max) × (1 + rf×(2u-1)).
func (b backoffPolicy) delay(n uint64, u float64) time.Duration {
	return backoff.Exponential{Initial: b.initial, Max: b.max, Multiplier: b.multiplier, Jitter: b.rf}.Delay(n, u)
}

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

func (t tp) String() string { return t.topic + "/" + strconv.Itoa(int(t.partition)) }

func compareTP(a, b tp) int {
	return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
}

// recState is where a record is between its fetch and its settlement.
type recState uint8

const (
	recQueued            recState = iota // admitted; its first delivery not begun
	recSent                              // handed to the pipeline: its outcome is awaited
	recBackoff                           // failed transiently: sent again at due
	recDeadLettering                     // being produced to dead_letter_topic
	recDeadLetterBackoff                 // its dead-letter produce failed: produced again at due
	recSettled                           // acked, dead-lettered or dropped: the commit may pass it
	recAbandoned                         // left to the next owner: the commit stops before it
)

var recStateNames = [...]string{"queued", "sent", "backoff", "dead_lettering", "dead_letter_backoff", "settled", "abandoned"}

func (s recState) String() string { return recStateNames[s] }

// record is one Kafka record held by the receiver.
type record struct {
	id       uint64
	p        *partition
	offset   int64
	size     int64
	kr       *kgo.Record    // key, value, headers; nil once settled or abandoned
	payload  *pdata.Payload // after decoding
	items    int
	state    recState
	attempt  uint64 // deliveries so far: an outcome carries the attempt it answers
	failures uint64 // failed attempts so far: the backoff exponent
	failing  bool   // counted in p.failing: it failed and is not settled
	due      time.Time
	reason   dropReason // why it is dead-lettered
	why      string     // the same, for people (a dead-letter header)
}

// partState is where a partition is in its ownership.
type partState uint8

const (
	partActive   partState = iota // owned: records are admitted
	partRevoking                  // being revoked: its outcomes are awaited, nothing new is admitted or sent
	partRemoved                   // no longer owned: forgotten
)

// partition is the state of one owned partition.
type partition struct {
	tp
	rt          route
	routed      bool // rt is known: the topic belongs to a signal
	state       partState
	recs        []*record // the window: records in offset order, from the lowest not settled to the last fetched
	next        int64     // the offset after the last record admitted; -1 before the first
	committed   int64     // the last offset committed; -1 unknown
	hwm         int64     // the high watermark of the last fetch; -1 unknown
	held        int       // records held (admitted, neither settled nor abandoned)
	bytes       int64     // their values' bytes
	outstanding int       // records sent or dead-lettering: outcomes awaited
	failing     int       // records that failed and are not settled
	paused      bool      // fetching paused
	popped      int64     // records settled off the window's front, ever
	poppedDone  int64     // of those, the ones the last successful commit passed
	pm          *partMetrics
}

// job is work the core hands out to do outside its lock: decode and send
// a record first (decode), send it again (send), or produce it to the
// dead-letter topic (deadLetter).
type job struct {
	kind    jobKind
	r       *record
	value   []byte         // decode
	rt      route          // decode
	routed  bool           // decode
	payload *pdata.Payload // send
	attempt uint64         // send
	dlq     *kgo.Record    // deadLetter
}

type jobKind uint8

const (
	jobDecode jobKind = iota
	jobSend
	jobDeadLetter
)

// waiter is closed when every partition in its scope (all when tps is
// nil) has no outcome awaited.
type waiter struct {
	tps []tp
	ch  chan struct{}
}

// commitOffset is one partition's offset to commit.
type commitOffset struct {
	p      *partition
	offset int64
	popped int64 // p.popped when the offset was taken: the commit passes them all
}

func newCore(lim limits, auto bool, dlq string, b backoffPolicy, rnd *rand.Rand, route func(string) (route, bool), h hooks, m *metrics) *core {
	return &core{
		lim: lim, auto: auto, dlq: dlq, backoff: b, rand: rnd, route: route, h: h, m: m,
		parts: map[tp]*partition{}, byID: map[uint64]*record{}, waiting: map[uint64]*record{},
	}
}

// assign starts tracking newly owned partitions.
func (c *core) assign(tps []tp) {
	for _, t := range tps {
		if old := c.parts[t]; old != nil {
			c.removeOne(old, abandonRevoked) // not expected: kgo revokes before it assigns again
		}
		c.newPartition(t)
	}
}

func (c *core) newPartition(t tp) *partition {
	p := &partition{tp: t, next: -1, committed: -1, hwm: -1, pm: c.m.partition(t)}
	p.rt, p.routed = c.route(t.topic)
	c.parts[t] = p
	c.m.partEvents[eventAssigned].Inc()
	c.m.assigned.Add(1)
	return p
}

// pollSize says how many records the next poll may take, or false when
// the total limits are reached. A poll never takes more than any fetching
// partition has room for, nor more than half a partition's limit, because
// a paused partition resumes only under half its limit and may start to
// fetch while the poll waits: so no partition passes its record limit. The
// byte limits size the poll by the largest record seen: a partition (or
// the total) under its byte limit still takes one record, so it may pass
// it by less than one record, or by more only with a record larger than
// any before.
func (c *core) pollSize() (int, bool) {
	if c.held >= c.lim.recTotal || c.bytes >= c.lim.bytesTotal {
		return 0, false
	}
	n := min(c.lim.recTotal-c.held, c.lim.recPart-c.lim.recPart/2)
	if c.largest > 0 {
		n = min(n, c.fit(c.lim.bytesTotal-c.bytes), c.fit(c.lim.bytesPart/2))
	}
	for _, p := range c.parts {
		if p.state != partActive || p.paused {
			continue
		}
		n = min(n, c.lim.recPart-len(p.recs))
		if c.largest > 0 {
			n = min(n, c.fit(c.lim.bytesPart-p.bytes))
		}
	}
	return max(n, 1), true
}

// fit is how many of the largest records seen fit in room bytes, at
// least 1.
func (c *core) fit(room int64) int { return int(max(1, min(room/c.largest, math.MaxInt32))) }

// admit registers the records of one partition from a poll and returns
// their first deliveries, in offset order. hwm is the fetch's high
// watermark (-1 unknown). Records of a partition not owned (kgo assigns
// before it fetches and forgets before the revoke returns, so none are
// expected), of a partition being revoked, or after the drain began are
// not admitted: they are not committed either, so the owner reads them.
// Tracking an unknown partition here could commit a stale offset over
// its new owner's.
func (c *core) admit(t tp, krs []*kgo.Record, hwm int64) []job {
	p := c.parts[t]
	if p == nil {
		return nil
	}
	if hwm >= 0 {
		p.hwm = hwm
		c.updateLag(p)
	}
	if p.state != partActive || c.draining {
		return nil
	}
	first := p.next < 0
	jobs := make([]job, 0, len(krs))
	for _, kr := range krs {
		if p.next >= 0 && kr.Offset < p.next {
			continue // already admitted
		}
		c.nextID++
		r := &record{id: c.nextID, p: p, offset: kr.Offset, size: int64(len(kr.Value)), kr: kr}
		p.recs = append(p.recs, r)
		p.next = kr.Offset + 1
		c.byID[r.id] = r
		p.held++
		p.bytes += r.size
		c.held++
		c.bytes += r.size
		c.largest = max(c.largest, r.size)
		c.m.records[p.rt.signal].Inc()
		c.m.recordBytes[p.rt.signal].Add(uint64(r.size))
		jobs = append(jobs, job{kind: jobDecode, r: r, value: kr.Value, rt: p.rt, routed: p.routed})
	}
	c.gauges()
	c.sync(p)
	// auto commits what was fetched; manual commits the start position
	// at once, so that a restart before the first settlement does not
	// reset (auto_offset_reset: latest) past what was fetched.
	if len(jobs) > 0 && (c.auto || first) {
		c.h.commitReady()
	}
	return jobs
}

// decoded records a record's payload and claims its first delivery, or
// settles it at once when it holds no item. False when there is nothing
// to send (abandoned meanwhile, or empty).
func (c *core) decoded(r *record, pl *pdata.Payload) (job, bool) {
	if r.state != recQueued {
		return job{}, false
	}
	if pl.Items() == 0 {
		c.drop(r, reasonEmpty)
		return job{}, false
	}
	r.payload, r.items = pl, pl.Items()
	c.m.items[r.p.rt.signal].Add(uint64(r.items))
	return c.claim(r), true
}

// invalid handles a record that is not a valid request: dead-lettered
// when dead_letter_topic is set (the returned job), dropped otherwise.
func (c *core) invalid(r *record, why string) (job, bool) {
	if r.state != recQueued {
		return job{}, false
	}
	if c.dlq != "" {
		return c.deadLetter(r, reasonMalformed, why), true
	}
	c.drop(r, reasonMalformed)
	return job{}, false
}

// claim hands r to a sender: its outcome is awaited from now on.
func (c *core) claim(r *record) job {
	r.state = recSent
	r.attempt++
	r.p.outstanding++
	return job{kind: jobSend, r: r, payload: r.payload, attempt: r.attempt}
}

// sendFailed records that attempt of r never entered the pipeline. When
// the receiver is stopping (its pipeline closed), during a revoke or the
// drain, r is abandoned; otherwise it is sent again after a backoff, like
// a transient nack.
func (c *core) sendFailed(r *record, attempt uint64, stopping bool, now time.Time) {
	if r.state != recSent || r.attempt != attempt {
		return
	}
	r.p.outstanding--
	defer c.wake()
	switch {
	case stopping && r.p.state == partActive:
		c.abandon(r, abandonDrain)
	case r.p.state != partActive || c.draining:
		c.abandon(r, c.abandonReason(r.p))
	default:
		c.retryAt(r, now)
	}
}

// outcome handles the pipeline's ack or nack of attempt of record id. It
// returns the dead-letter produce to start, if any.
func (c *core) outcome(id, attempt uint64, ack bool, n pdata.Nack, now time.Time) (job, bool) {
	r := c.byID[id]
	if r == nil || r.state != recSent || r.attempt != attempt {
		c.m.late.Inc()
		return job{}, false
	}
	p := r.p
	p.outstanding--
	defer c.wake()
	sig := p.rt.signal
	switch {
	case ack:
		c.m.acked[sig].Inc()
		c.settle(r)
	case n.Permanent:
		c.m.nacked[sig][1].Inc()
		switch {
		case p.state != partActive || c.draining:
			c.abandon(r, c.abandonReason(p))
		case c.dlq != "":
			return c.deadLetter(r, reasonPermanentNack, "permanent nack: "+n.Reason), true
		default:
			c.drop(r, reasonPermanentNack)
		}
	default:
		c.m.nacked[sig][0].Inc()
		if p.state != partActive || c.draining {
			c.abandon(r, c.abandonReason(p))
			break
		}
		c.retryAt(r, now)
	}
	return job{}, false
}

// deadLetter starts producing r to the dead-letter topic.
func (c *core) deadLetter(r *record, reason dropReason, why string) job {
	r.state = recDeadLettering
	r.reason, r.why = reason, why
	r.p.outstanding++
	return job{kind: jobDeadLetter, r: r, dlq: c.deadLetterRecord(r)}
}

// deadLetterRecord is what r becomes on the dead-letter topic: its key,
// value and headers, plus headers that say where it came from and why.
// Its timestamp is the produce's: kgo times a produce out from the
// record's timestamp, so the original one (often older than the timeout)
// goes in a header instead.
func (c *core) deadLetterRecord(r *record) *kgo.Record {
	kr := r.kr
	hs := make([]kgo.RecordHeader, 0, len(kr.Headers)+5)
	hs = append(hs, kr.Headers...)
	hs = append(hs,
		kgo.RecordHeader{Key: "ackflow.dlq.reason", Value: []byte(r.why)},
		kgo.RecordHeader{Key: "ackflow.dlq.topic", Value: []byte(r.p.topic)},
		kgo.RecordHeader{Key: "ackflow.dlq.partition", Value: []byte(strconv.Itoa(int(r.p.partition)))},
		kgo.RecordHeader{Key: "ackflow.dlq.offset", Value: []byte(strconv.FormatInt(r.offset, 10))},
		kgo.RecordHeader{Key: "ackflow.dlq.timestamp", Value: []byte(strconv.FormatInt(kr.Timestamp.UnixMilli(), 10))},
	)
	return &kgo.Record{Topic: c.dlq, Key: kr.Key, Value: kr.Value, Headers: hs}
}

// deadLettered handles the result of r's dead-letter produce: settled
// when it succeeded, tried again after a backoff when it failed.
func (c *core) deadLettered(r *record, err error, now time.Time) {
	if r.state != recDeadLettering {
		return // abandoned meanwhile
	}
	p := r.p
	p.outstanding--
	defer c.wake()
	if err == nil {
		c.m.deadLettered[p.rt.signal][r.reason].Inc()
		c.settle(r)
		return
	}
	c.m.dlqFailures[p.rt.signal].Inc()
	if p.state != partActive || c.draining {
		c.abandon(r, c.abandonReason(p))
		return
	}
	c.retryAt(r, now)
}

// retryAt puts r in a backoff and pauses its partition until r settles.
func (c *core) retryAt(r *record, now time.Time) {
	r.failures++
	if !r.failing {
		r.failing = true
		r.p.failing++
	}
	r.due = now.Add(c.backoff.delay(r.failures, c.rand.Float64()))
	if r.state == recDeadLettering {
		r.state = recDeadLetterBackoff
	} else {
		r.state = recBackoff
	}
	c.waiting[r.id] = r
	c.sync(r.p)
	c.h.retryScheduled()
}

// due hands out the retries whose backoff ended by now, in partition and
// offset order, and returns the earliest backoff still running (zero if
// none).
func (c *core) due(now time.Time) ([]job, time.Time) {
	var jobs []job
	var next time.Time
	for id, r := range c.waiting {
		if r.due.After(now) {
			if next.IsZero() || r.due.Before(next) {
				next = r.due
			}
			continue
		}
		delete(c.waiting, id)
		if r.state == recBackoff {
			c.m.redelivered[r.p.rt.signal].Inc()
			jobs = append(jobs, c.claim(r))
			continue
		}
		r.state = recDeadLettering
		r.p.outstanding++
		jobs = append(jobs, job{kind: jobDeadLetter, r: r, dlq: c.deadLetterRecord(r)})
	}
	slices.SortFunc(jobs, func(a, b job) int {
		return cmp.Or(compareTP(a.r.p.tp, b.r.p.tp), cmp.Compare(a.r.offset, b.r.offset))
	})
	return jobs, next
}

// drop settles r undelivered, counting it.
func (c *core) drop(r *record, reason dropReason) {
	sig := r.p.rt.signal
	c.m.dropped[sig][reason].Inc()
	c.m.droppedItems[sig][reason].Add(uint64(r.items))
	c.settle(r)
}

// settle is the only way into recSettled: r no longer holds anything, and
// the commit may pass it.
func (c *core) settle(r *record) {
	p := r.p
	r.state = recSettled
	c.release(r)
	if len(p.recs) > 0 && p.recs[0] == r {
		for len(p.recs) > 0 && p.recs[0].state == recSettled {
			p.recs[0] = nil
			p.recs = p.recs[1:]
			p.popped++
		}
		if !c.auto {
			c.h.commitReady()
		}
	}
	c.sync(p)
}

// abandon is the only way into recAbandoned: r no longer holds anything,
// and the commit never passes it.
func (c *core) abandon(r *record, why abandonReason) {
	r.state = recAbandoned
	c.release(r)
	c.m.abandoned[why].Inc()
	c.sync(r.p)
}

func (c *core) abandonReason(p *partition) abandonReason {
	if c.draining && p.state == partActive {
		return abandonDrain
	}
	return abandonRevoked
}

// release gives back what r held.
func (c *core) release(r *record) {
	p := r.p
	delete(c.byID, r.id)
	delete(c.waiting, r.id)
	p.held--
	p.bytes -= r.size
	c.held--
	c.bytes -= r.size
	if r.failing {
		r.failing = false
		p.failing--
	}
	r.kr, r.payload = nil, nil
	c.gauges()
	c.h.room()
}

// sync pauses or resumes p's fetching: paused at its limits or while a
// record of it is failing; resumed only back under half its limits, so
// that a poll sized while it was paused cannot take it past them. The
// record limit bounds p's window, from its lowest unsettled record to its
// last fetched one (settled records inside it hold no payload): what a
// new owner could read twice.
func (c *core) sync(p *partition) {
	var want bool
	switch {
	case p.state != partActive:
		want = false
	case p.failing > 0 || len(p.recs) >= c.lim.recPart || p.bytes >= c.lim.bytesPart:
		want = true
	case p.paused:
		want = len(p.recs) > c.lim.recPart/2 || p.bytes > c.lim.bytesPart/2
	}
	if want == p.paused {
		return
	}
	p.paused = want
	if want {
		c.m.paused.Add(1)
		c.h.pause(p.tp)
	} else {
		c.m.paused.Add(-1)
		c.h.resume(p.tp)
	}
}

// committable is the offset p may be committed to: its lowest record not
// settled, or the offset after its last (auto: always the latter). False
// before its first record.
func (c *core) committable(p *partition) (int64, bool) {
	if p.next < 0 {
		return 0, false
	}
	if !c.auto && len(p.recs) > 0 {
		return p.recs[0].offset, true
	}
	return p.next, true
}

// toCommit lists the offsets to commit of the partitions in tps (every
// owned one when nil) whose committable offset passed the last commit.
func (c *core) toCommit(tps []tp) []commitOffset {
	var out []commitOffset
	add := func(p *partition) {
		if p == nil || p.state == partRemoved {
			return
		}
		if off, ok := c.committable(p); ok && off > p.committed {
			out = append(out, commitOffset{p: p, offset: off, popped: p.popped})
		}
	}
	if tps == nil {
		for _, p := range c.parts {
			add(p)
		}
	} else {
		for _, t := range tps {
			add(c.parts[t])
		}
	}
	slices.SortFunc(out, func(a, b commitOffset) int { return compareTP(a.p.tp, b.p.tp) })
	return out
}

// committed records a commit's result: failed (failed) partitions are
// committed again by the next commit.
func (c *core) committed(offs []commitOffset, failed map[tp]bool) {
	for _, o := range offs {
		if failed[o.p.tp] || o.offset <= o.p.committed {
			continue
		}
		o.p.committed = o.offset
		o.p.poppedDone = max(o.p.poppedDone, o.popped)
		o.p.pm.committed.Set(o.offset)
		c.updateLag(o.p)
	}
}

func (c *core) updateLag(p *partition) {
	if p.committed >= 0 && p.hwm >= 0 {
		p.pm.lag.Set(max(0, p.hwm-p.committed))
	}
}

// revoke begins the revocation of tps: nothing more of theirs is admitted
// or sent, the records not awaiting an outcome are abandoned, and the
// others' outcomes are still taken (waitIdle tells when they are in).
func (c *core) revoke(tps []tp) {
	for _, t := range tps {
		p := c.parts[t]
		if p == nil || p.state != partActive {
			continue
		}
		p.state = partRevoking
		c.m.partEvents[eventRevoked].Inc()
		c.abandonIdle(p, abandonRevoked)
		c.sync(p)
	}
	c.wake()
}

// abandonIdle abandons p's records that are not awaiting an outcome.
func (c *core) abandonIdle(p *partition, why abandonReason) {
	for _, r := range p.recs {
		switch r.state {
		case recQueued, recBackoff, recDeadLetterBackoff:
			c.abandon(r, why)
		}
	}
}

// remove forgets tps (revoked, after their last commit, or lost): what
// they still hold is abandoned, and outcomes of their records arriving
// later are late.
func (c *core) remove(tps []tp, why abandonReason) {
	for _, t := range tps {
		if p := c.parts[t]; p != nil {
			if why == abandonLost {
				c.m.partEvents[eventLost].Inc()
			}
			c.removeOne(p, why)
		}
	}
	c.wake()
}

func (c *core) removeOne(p *partition, why abandonReason) {
	// The next owner reads from the last commit: the records settled here
	// since then, popped or still in the window behind an unsettled one,
	// reach the pipeline twice. (commit.mode auto commits past them.)
	dups := p.popped - p.poppedDone
	for _, r := range p.recs {
		switch r.state {
		case recSettled:
			dups++
		case recAbandoned:
		default:
			c.abandon(r, why)
		}
	}
	if !c.auto && dups > 0 {
		c.m.duplicates[why].Add(uint64(dups))
	}
	p.recs, p.outstanding = nil, 0
	p.state = partRemoved
	p.pm.lag.Set(0) // not ours to measure any more
	c.sync(p)
	delete(c.parts, p.tp)
	c.m.assigned.Add(-1)
}

// drain stops admitting and sending: the records not awaiting an outcome
// are abandoned; the outcomes of the others are still taken.
func (c *core) drain() {
	c.draining = true
	for _, p := range c.parts {
		c.abandonIdle(p, abandonDrain)
	}
	c.wake()
}

// owned lists the partitions still tracked.
func (c *core) owned() []tp {
	out := make([]tp, 0, len(c.parts))
	for t := range c.parts {
		out = append(out, t)
	}
	slices.SortFunc(out, compareTP)
	return out
}

// waitIdle returns a channel closed once no partition of tps (every one
// when nil) awaits an outcome.
func (c *core) waitIdle(tps []tp) <-chan struct{} {
	w := &waiter{tps: tps, ch: make(chan struct{})}
	if c.idle(w) {
		close(w.ch)
	} else {
		c.waiters = append(c.waiters, w)
	}
	return w.ch
}

func (c *core) idle(w *waiter) bool {
	if w.tps == nil {
		for _, p := range c.parts {
			if p.outstanding > 0 {
				return false
			}
		}
		return true
	}
	for _, t := range w.tps {
		if p := c.parts[t]; p != nil && p.outstanding > 0 {
			return false
		}
	}
	return true
}

// wake closes the waiters whose partitions are idle.
func (c *core) wake() {
	if len(c.waiters) == 0 {
		return
	}
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if c.idle(w) {
			close(w.ch)
		} else {
			keep = append(keep, w)
		}
	}
	clear(c.waiters[len(keep):])
	c.waiters = keep
}

func (c *core) gauges() {
	c.m.inFlight.Set(int64(c.held))
	c.m.inFlightSize.Set(c.bytes)
}
