package durablebuffer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/internal/backoff"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/storage/wal"
)

// retrySlot is the one wakeup slot: armed at the earliest retry time of
// the window.
const retrySlot wakeup.Slot = 0

// Intake bounds between a write and its commit: inputs persisted and not
// yet acked upstream wait in memory, so their number and bytes are capped
// (the inbox gate closes beyond them).
const (
	maxUncommitted      = 1024
	maxUncommittedBytes = 64 << 20
)

// frameOverhead is what the log adds to a record at most (header and
// padding), for the running estimate of its size.
const frameOverhead = 16

// lifeState is where the buffer is in its life.
type lifeState uint8

const (
	stateRunning  lifeState = iota // persisting and delivering
	stateDraining                  // Shutdown: no new sends; waiting for commits and in-flight answers
	stateClosed                    // the log is sealed and closed; what is left stays on disk
)

// uncommitted is an input written to the log, acked upstream at its commit.
type uncommitted struct {
	m     *pdata.Message
	seq   wal.Seq
	bytes int
}

// committed is what the commit callback posts to the node goroutine.
type committed struct {
	upTo wal.Seq
	err  error
}

// stored is a record read from the log and not yet sent.
type stored struct {
	seq wal.Seq
	rec []byte
}

// Buffer is the processor: it persists every input before acking it
// upstream, and delivers from the log downstream at least once. It is not
// safe for concurrent use; one node goroutine drives it (the log's commit
// callbacks come back through Post).
type Buffer struct {
	cfg    Config
	dir    string // this copy's directory
	log    *wal.Log
	reader *wal.Reader
	win    *window
	rng    *rand.Rand
	m      *metrics
	logger *slog.Logger
	state  lifeState

	capBytes      int64
	usedBytes     int64         // the log's size: exact at each housekeeping, grown by appends between
	pending       []uncommitted // oldest first
	pendingBytes  int
	committing    bool          // a Commit is outstanding
	lastAppended  wal.Seq       // seq of the newest record written
	next          *stored       // read from the log, found the output full
	armed         wakeup.Arming // of retrySlot, which is 0: the zero Arming's slot
	sentInFlight  int           // bundles of the window in state sent
	queued        [3]int64
	throttled     bool
	checkpointDue bool // Done called since the last checkpoint
	scratch       []byte
}

var (
	_ engine.Processor  = (*Buffer)(nil)
	_ engine.Gate       = (*Buffer)(nil)
	_ engine.Drainer    = (*Buffer)(nil)
	_ engine.WakeupUser = (*Buffer)(nil)
	_ engine.Starter    = (*Buffer)(nil)
	_ engine.Retainer   = (*Buffer)(nil)

	_ engine.StatusReporter = (*Buffer)(nil)
	_ engine.Persister      = (*Buffer)(nil)
)

// WakeupSlots implements engine.WakeupUser: one slot for every retry.
func (b *Buffer) WakeupSlots() int { return 1 }

// AcceptPData implements engine.Gate: intake pauses while commits lag or
// while the buffer is at its size cap (policy backpressure).
func (b *Buffer) AcceptPData() bool {
	if b.state != stateRunning || len(b.pending) >= maxUncommitted || b.pendingBytes >= maxUncommittedBytes {
		return false
	}
	full := b.cfg.SizeCapPolicy == Backpressure && b.usedBytes >= b.capBytes
	if full != b.throttled {
		b.throttled = full
		b.m.throttled.Set(boolGauge(full))
	}
	return !full
}

// Pending implements engine.Drainer: inputs awaiting their commit (they
// are owed an answer upstream) and bundles awaiting a downstream answer.
// Bundles backing off are not pending: they stay on disk for the next run.
func (b *Buffer) Pending() int { return len(b.pending) + b.sentInFlight }

// Start implements engine.Starter: the housekeeping tick, and delivery of
// what a previous run left on disk.
func (b *Buffer) Start(fx engine.Effects) error {
	fx.StartTimer(time.Duration(b.cfg.PollInterval))
	b.pump(fx)
	return nil
}

// OnPData persists m; it is acked upstream once committed.
func (b *Buffer) OnPData(m *pdata.Message, fx engine.Effects) error {
	p := m.Payload()
	if p == nil {
		fx.NotifyNack(m, pdata.Nack{Reason: "durable_buffer: message carries no payload", Permanent: true})
		return nil
	}
	rec, err := appendRecord(b.scratch[:0], p)
	if err != nil {
		b.m.ingestFailures.Inc()
		fx.NotifyNack(m, pdata.Nack{Reason: "durable_buffer: encode: " + err.Error(), Permanent: true})
		return nil
	}
	b.scratch = rec[:0]
	seq, err := b.log.Append(rec)
	if err != nil {
		b.m.ingestFailures.Inc()
		fx.NotifyNack(m, pdata.Nack{Reason: "durable_buffer: persist: " + err.Error(), Cause: ingestCause(err)})
		return nil
	}
	b.usedBytes += int64(len(rec)) + frameOverhead
	b.queued[p.Signal()] += int64(p.Items())
	b.m.queued[p.Signal()].Add(int64(p.Items()))
	b.lastAppended = seq
	b.pending = append(b.pending, uncommitted{m: m, seq: seq, bytes: len(rec)})
	b.pendingBytes += len(rec)
	b.commit(fx)
	b.pump(fx)
	return nil
}

// ingestCause maps a persist failure to a nack cause: a full disk is a
// capacity problem the sender may retry later.
func ingestCause(err error) pdata.Cause {
	if errors.Is(err, wal.ErrNoSpace) {
		return pdata.CauseCapacity
	}
	return pdata.CauseUnspecified
}

// commit starts a commit of everything written so far unless one is
// outstanding; the next starts when it completes (group commit: inputs
// that arrive during an fsync share the next one).
func (b *Buffer) commit(fx engine.Effects) {
	if b.committing || len(b.pending) == 0 {
		return
	}
	b.committing = true
	upTo := b.lastAppended
	b.log.Commit(func(err error) { fx.Post(committed{upTo: upTo, err: err}) })
}

// onCommitted answers upstream the inputs a commit covered.
func (b *Buffer) onCommitted(c committed, fx engine.Effects) {
	b.committing = false
	n := 0
	for _, u := range b.pending {
		if u.seq > c.upTo {
			break
		}
		n++
		b.pendingBytes -= u.bytes
		if c.err != nil {
			b.m.ingestFailures.Inc()
			fx.NotifyNack(u.m, pdata.Nack{Reason: "durable_buffer: commit: " + c.err.Error(), Cause: ingestCause(c.err)})
			continue
		}
		b.m.in[u.m.Payload().Signal()].Add(uint64(u.m.Items()))
		fx.NotifyAck(u.m)
	}
	clear(b.pending[:n])
	b.pending = b.pending[n:]
	b.commit(fx)
	b.maybeClose()
}

// OnControl handles outcomes from downstream, commits, wakeups, the
// housekeeping tick and Shutdown.
func (b *Buffer) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindPosted:
		if cm, ok := c.Value.(committed); ok {
			b.onCommitted(cm, fx)
		}
	case engine.KindAck:
		b.onAck(c, fx)
	case engine.KindNack:
		b.onNack(c, fx)
	case engine.KindWakeup:
		b.onWakeup(c.Wakeup, fx)
	case engine.KindTimerTick:
		return b.housekeep(fx)
	case engine.KindShutdown:
		b.onShutdown(c.Forced, fx)
	}
	return nil
}

func (b *Buffer) onAck(c engine.Control, fx engine.Effects) {
	bd, ok := b.resolve(c)
	if !ok {
		return
	}
	b.m.acked[bd.signal].Add(uint64(bd.items))
	b.done(bd)
	b.pump(fx)
	b.maybeClose()
}

func (b *Buffer) onNack(c engine.Control, fx engine.Effects) {
	bd, ok := b.resolve(c)
	if !ok {
		return
	}
	switch {
	case c.Nack.Permanent:
		b.m.lost[lossPermanent].Add(uint64(bd.items))
		fx.Drop(c.Msg, lossPermanent.String())
		b.done(bd)
	case b.state != stateRunning:
		// Shutting down: it stays on disk for the next run.
	default:
		b.m.requeued[bd.signal].Add(uint64(bd.items))
		b.m.retries.Inc()
		bd.attempt++
		b.win.backoff(bd, fx.Now().Add(b.backoff(bd.attempt)))
		b.m.inFlight.Set(int64(b.win.len()))
		b.arm(fx)
	}
	b.pump(fx)
	b.maybeClose()
}

// resolve takes the bundle an outcome is about out of the window.
func (b *Buffer) resolve(c engine.Control) (*bundle, bool) {
	bd, ok := b.win.resolve(wal.Seq(c.CallData[0]))
	if !ok {
		b.logger.Warn("durable_buffer: outcome for a bundle not in flight, ignored", "seq", c.CallData[0])
		return nil, false
	}
	if bd.state == bundleSent {
		b.sentInFlight--
	}
	b.m.inFlight.Set(int64(b.win.len()))
	return bd, true
}

// done marks a bundle delivered (or given up) in the log.
func (b *Buffer) done(bd *bundle) {
	if err := b.log.Done(bd.seq); err != nil {
		b.logger.Warn("durable_buffer: mark delivered", "seq", uint64(bd.seq), "error", err.Error())
	}
	b.checkpointDue = true
	b.queued[bd.signal] -= int64(bd.items)
	b.m.queued[bd.signal].Add(-int64(bd.items))
}

// backoff is the wait before retry n (1 for the first): initial ×
// multiplier^(n-1), capped at max_retry_interval, then scaled by a random
// factor in [0.5, 1.5) so that bundles nacked together do not retry
// together.
func (b *Buffer) backoff(n int) time.Duration {
	e := backoff.Exponential{Initial: time.Duration(b.cfg.InitialRetryInterval), Max: time.Duration(b.cfg.MaxRetryInterval), Multiplier: b.cfg.RetryMultiplier, Jitter: 0.5}
	return e.Delay(uint64(n), b.rng.Float64())
}

// arm points the retry slot at the earliest retry time.
func (b *Buffer) arm(fx engine.Effects) {
	next, ok := b.win.nextRetry()
	if !ok {
		b.armed.Cancel(fx)
		return
	}
	// An error means the node is shutting down: the bundles stay on disk
	// for the next run.
	_ = b.armed.Aim(fx, next)
}

func (b *Buffer) onWakeup(d wakeup.Due, fx engine.Effects) {
	if !b.armed.Fire(d) {
		b.m.staleWakeups.Inc()
		return
	}
	b.pump(fx)
	b.arm(fx)
}

// pump sends what may go downstream now: due retries first, then records
// not yet sent, while the window has room and the output takes them.
func (b *Buffer) pump(fx engine.Effects) {
	if b.state != stateRunning {
		return
	}
	now := fx.Now()
	for {
		if bd, ok := b.win.popDue(now); ok {
			if !b.resend(bd, fx) {
				break
			}
			continue
		}
		if b.win.len() >= b.cfg.MaxInFlight {
			break
		}
		s, ok := b.nextRecord()
		if !ok || !b.sendNew(s, fx) {
			break
		}
	}
	b.arm(fx)
}

// nextRecord is the oldest record not yet sent.
func (b *Buffer) nextRecord() (*stored, bool) {
	if s := b.next; s != nil {
		b.next = nil
		return s, true
	}
	for {
		seq, rec, err := b.reader.Next()
		switch {
		case err == nil:
			return &stored{seq: seq, rec: rec}, true
		case errors.Is(err, wal.ErrCorrupt):
			b.corrupt(seq, err) // the reader moved past it
		default:
			if !errors.Is(err, io.EOF) {
				b.logger.Warn("durable_buffer: read", "error", err.Error())
			}
			return nil, false
		}
	}
}

// sendNew sends a record for the first time; false when the output is
// full (the record waits in b.next) or closed.
func (b *Buffer) sendNew(s *stored, fx engine.Effects) bool {
	p, h, err := decodeRecord(s.rec)
	if err != nil {
		b.corrupt(s.seq, err)
		return true
	}
	bd := &bundle{seq: s.seq, signal: h.signal, items: h.items, index: -1}
	switch err := b.send(bd, p, fx); {
	case err == nil:
		return true
	case errors.Is(err, engine.ErrFull):
		b.next = s
	}
	return false
}

// resend sends a bundle again after its backoff, reading it back from the
// log; false when the output is full (it waits again) or closed.
func (b *Buffer) resend(bd *bundle, fx engine.Effects) bool {
	rec, err := b.log.Read(bd.seq)
	if err != nil {
		// Dropped or expired while it backed off: its loss was counted then.
		b.win.forget(bd.seq)
		b.m.inFlight.Set(int64(b.win.len()))
		return true
	}
	p, _, err := decodeRecord(rec)
	if err != nil {
		b.win.forget(bd.seq)
		b.corrupt(bd.seq, err)
		return true
	}
	if err := b.send(bd, p, fx); err != nil {
		b.win.backoff(bd, bd.retryAt)
		return false
	}
	return true
}

// send sends one bundle downstream, subscribed to its outcome.
func (b *Buffer) send(bd *bundle, p *pdata.Payload, fx engine.Effects) error {
	m := pdata.New(p)
	fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{uint64(bd.seq)})
	if err := fx.TrySend(m); err != nil {
		return err
	}
	b.win.sent(bd)
	b.sentInFlight++
	b.m.out[bd.signal].Add(uint64(bd.items))
	b.m.inFlight.Set(int64(b.win.len()))
	return nil
}

// corrupt gives up a record this build cannot read.
func (b *Buffer) corrupt(seq wal.Seq, err error) {
	b.logger.Error("durable_buffer: unreadable record given up", "seq", uint64(seq), "error", err.Error())
	b.m.lost[lossCorrupt].Inc()
	if err := b.log.Done(seq); err != nil {
		b.logger.Warn("durable_buffer: mark unreadable record done", "seq", uint64(seq), "error", err.Error())
	}
	b.checkpointDue = true
}

// housekeep runs every poll_interval: seal an old open segment, enforce
// max_age and the size cap, persist progress, update the gauges, and
// retry sends that found the output full.
func (b *Buffer) housekeep(fx engine.Effects) error {
	now := fx.Now()
	if err := b.log.Maintain(now); err != nil {
		return fmt.Errorf("durable_buffer: maintain the log: %w", err)
	}
	b.expire(now)
	if b.cfg.SizeCapPolicy == DropOldest {
		b.dropOldest()
	}
	if b.checkpointDue {
		if err := b.log.Checkpoint(); err != nil {
			b.logger.Warn("durable_buffer: persist progress", "error", err.Error())
		} else {
			b.checkpointDue = false
		}
	}
	b.gauges(now)
	b.pump(fx)
	return nil
}

// expire drops sealed segments older than max_age; a segment with a
// bundle in the window waits for it.
func (b *Buffer) expire(now time.Time) {
	if b.cfg.MaxAge <= 0 {
		return
	}
	limit := now.Add(-time.Duration(b.cfg.MaxAge))
	for _, s := range b.log.Segments() {
		if !s.Created.Before(limit) {
			return
		}
		if !s.Open {
			b.dropSegment(s, lossExpired)
		}
	}
}

// dropOldest deletes the oldest sealed segments with nothing in flight
// while the log is over its cap.
func (b *Buffer) dropOldest() {
	for b.log.Stats().Bytes >= b.capBytes {
		dropped := false
		for _, s := range b.log.Segments() {
			if !s.Open && b.dropSegment(s, lossDropOldest) {
				dropped = true
				break
			}
		}
		if !dropped {
			return // everything sealed is in flight: intake waits (gate)
		}
	}
}

// dropSegment deletes a sealed segment unless a bundle of it is in the
// window, counting the items it still held as lost for reason.
func (b *Buffer) dropSegment(s wal.SegmentInfo, reason lossReason) bool {
	for seq := range b.win.bySeq {
		if seq >= s.First && seq <= s.Last {
			return false
		}
	}
	if b.next != nil && b.next.seq >= s.First && b.next.seq <= s.Last {
		b.next = nil
	}
	lost := 0
	_, err := b.log.DropSegment(s.First, func(_ wal.Seq, rec []byte) {
		h, err := readHeader(rec)
		if err != nil {
			return
		}
		lost += h.items
		b.queued[h.signal] -= int64(h.items)
		b.m.queued[h.signal].Add(-int64(h.items))
	})
	if err != nil {
		b.logger.Warn("durable_buffer: drop segment", "first_seq", uint64(s.First), "error", err.Error())
		return false
	}
	b.m.lost[reason].Add(uint64(lost))
	b.logger.Warn("durable_buffer: segment given up", "reason", reason.String(), "items", lost, "first_seq", uint64(s.First))
	return true
}

// gauges refreshes the storage gauges.
func (b *Buffer) gauges(now time.Time) {
	st := b.log.Stats()
	b.usedBytes = st.Bytes
	b.m.bytesUsed.Set(st.Bytes)
	b.m.utilisation.Set(float64(st.Bytes) / float64(b.capBytes))
	age := 0.0
	for _, s := range b.log.Segments() {
		if s.Undone > 0 {
			age = now.Sub(s.Created).Seconds()
			break
		}
	}
	b.m.oldestAge.Set(age)
}

// onShutdown stops delivery. Unforced, the buffer waits for the commits
// and the in-flight answers (Pending), then closes the log; forced, inputs
// not yet committed are nacked and the log is closed at once. What was not
// delivered stays on disk for the next run.
func (b *Buffer) onShutdown(forced bool, fx engine.Effects) {
	if b.state == stateRunning {
		b.state = stateDraining
		b.armed.Cancel(fx)
	}
	if forced {
		for _, u := range b.pending {
			fx.NotifyNack(u.m, pdata.Nack{Reason: "durable_buffer: shutdown deadline reached before the data was on disk", Cause: pdata.CauseNodeShutdown})
		}
		clear(b.pending)
		b.pending, b.pendingBytes = nil, 0
		// Answers still to come are ignored: those bundles stay on disk
		// and go out again after restart (the duplicates at-least-once
		// allows, bounded by what was in flight).
		b.win, b.sentInFlight = newWindow(0), 0
	}
	b.maybeClose()
}

// maybeClose closes the log once draining and nothing is pending.
func (b *Buffer) maybeClose() {
	if b.state != stateDraining || b.Pending() > 0 {
		return
	}
	b.state = stateClosed
	if err := b.log.Close(); err != nil {
		b.logger.Error("durable_buffer: close the log", "error", err.Error())
	}
	kept, _ := b.Retained()
	b.logger.Info("durable_buffer: closed; undelivered data kept on disk for the next run", "items", kept, "path", b.dir)
}

func boolGauge(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// Status implements engine.StatusReporter for /api/v1/status. It reads
// only the metrics' atomics, so it is safe from any goroutine.
func (b *Buffer) Status() map[string]any {
	queued := map[string]int64{}
	for _, s := range pdata.Signals() {
		queued[s.String()] = b.m.queued[s].Value()
	}
	return map[string]any{
		"path":              b.dir,
		"queued_items":      queued,
		"in_flight_bundles": b.m.inFlight.Value(),
		"storage_bytes":     b.m.bytesUsed.Value(),
		"storage_cap_bytes": b.m.bytesCap.Value(),
		"oldest_age_s":      b.m.oldestAge.Value(),
		"throttled":         b.m.throttled.Value() == 1,
	}
}

// PersistedItems implements engine.Persister: the items of signal s the
// buffer acked upstream and holds on disk, not yet delivered.
func (b *Buffer) PersistedItems(s pdata.Signal) int64 { return b.m.queued[s].Value() }

// Retained implements engine.Retainer: the items left on disk for the
// next run.
func (b *Buffer) Retained() (int64, string) {
	var kept int64
	for _, q := range b.queued {
		kept += q
	}
	return kept, b.dir
}
