package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
)

// Type is the node type.
const Type = "receiver:kafka"

// abortFlush bounds the last commit once the shutdown deadline has passed.
const abortFlush = time.Second

// warnEvery rate-limits the warnings a flood of bad records or fetch
// errors could repeat (the metrics count every one).
const warnEvery = time.Minute

// NewFactory returns the factory of receiver:kafka.
func NewFactory() engine.Factory {
	f := engine.ReceiverFactory(Type,
		"OTLP logs, metrics and traces from Kafka topics; an offset is committed only past records whose outcome is settled", Load,
		func(nc engine.NodeContext, cfg Config) (engine.Receiver, error) { return New(nc, cfg) })
	f.Guarantee = declareGuarantee
	return f
}

// Receiver is receiver:kafka: one consumer-group member. Run polls and
// sends; OnOutcome settles records from any goroutine; the group's
// rebalance callbacks, a retry goroutine and a commit goroutine share the
// core under mu.
type Receiver struct {
	name       string
	cfg        Config
	logger     *slog.Logger
	clock      clock.Clock
	metrics    *metrics
	router     *router
	tls        *tls.Config
	instanceID string

	fx engine.ReceiverEffects // set by Run before the client exists
	cl *kgo.Client            // set by Run before any callback

	mu   sync.Mutex // serializes every call into core
	core *core

	// commitMu makes commits one at a time, and lets a revoke or a loss
	// wait for a commit in progress before it forgets its partitions: a
	// commit never carries the offset of a partition already given up.
	commitMu sync.Mutex

	commitWake chan struct{} // a committable offset moved (capacity 1)
	retryWake  chan struct{} // a record entered a backoff (capacity 1)
	roomC      chan struct{} // held records or bytes went down (capacity 1)
	stopped    atomic.Bool   // the drain is over: callbacks only forget

	warnMu sync.Mutex
	warned map[string]time.Time

	// extraOpts are added to the client's options (tests).
	extraOpts []kgo.Opt
}

var _ engine.Receiver = (*Receiver)(nil)

// New builds the receiver from a validated config. A bad TLS file fails
// here, not at the first connection.
func New(nc engine.NodeContext, cfg Config) (*Receiver, error) {
	logger := nc.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	clk := nc.Clock
	if clk == nil {
		clk = clock.Real()
	}
	rt, err := newRouter(&cfg)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", Type, nc.Node.Name, err)
	}
	r := &Receiver{
		name: nc.Node.Name, cfg: cfg, logger: logger, clock: clk, router: rt,
		metrics:    newMetrics(nc.Metrics, nc.Labels),
		commitWake: make(chan struct{}, 1),
		retryWake:  make(chan struct{}, 1),
		roomC:      make(chan struct{}, 1),
		warned:     map[string]time.Time{},
	}
	if cfg.TLS != nil {
		if r.tls, err = cfg.TLS.Load(); err != nil {
			return nil, fmt.Errorf("%s %q: %w", Type, r.name, err)
		}
	}
	if r.instanceID = cfg.GroupInstanceID; r.instanceID != "" && nc.Copies > 1 {
		r.instanceID += "-" + strconv.Itoa(nc.Copy)
	}
	lim := limits{
		recPart: cfg.MaxInFlightRecords.PerPartition, recTotal: cfg.MaxInFlightRecords.Total,
		bytesPart: int64(cfg.MaxInFlightBytes.PerPartition), bytesTotal: int64(cfg.MaxInFlightBytes.Total),
	}
	b := backoffPolicy{
		initial: time.Duration(cfg.Retry.InitialInterval), max: time.Duration(cfg.Retry.MaxInterval),
		multiplier: cfg.Retry.Multiplier, rf: cfg.Retry.RandomizationFactor,
	}
	r.core = newCore(lim, cfg.Commit.Mode == "auto", cfg.DeadLetterTopic, b,
		newRand(nc.Pipeline, r.name, nc.Copy, clk.Now()), rt.route, (*receiverHooks)(r), r.metrics)
	return r, nil
}

// newRand is the jitter source, seeded from the node's identity and the
// clock, as processor:retry's: reproducible with a fake clock, different
// across a fleet.
func newRand(pipeline, node string, copyIndex int, start time.Time) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(pipeline + "\x00" + node + "\x00" + strconv.Itoa(copyIndex)))
	return rand.New(rand.NewPCG(h.Sum64(), uint64(start.UnixNano())))
}

// Run joins the group and consumes until ctx ends, then drains: it stops
// fetching, waits for the outcomes of the records in the pipeline (until
// fx.Aborted), commits what is settled and leaves the group. It fails only
// when the client cannot be built.
func (r *Receiver) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	r.fx = fx
	cl, err := kgo.NewClient(r.clientOpts()...)
	if err != nil {
		return fmt.Errorf("%s %q: %w", Type, r.name, err)
	}
	r.cl = cl
	r.logger.Info("kafka receiver consuming", "brokers", r.cfg.Brokers, "group_id", r.cfg.GroupID)

	stop := make(chan struct{})
	var loops sync.WaitGroup
	loops.Go(func() { r.retryLoop(ctx, stop) })
	loops.Go(func() { r.commitLoop(stop) })

	r.pollLoop(ctx)
	r.drain()
	close(stop)
	loops.Wait()
	cl.CloseAllowingRebalance() // leaves the group: our callbacks only forget by now
	r.logger.Info("kafka receiver stopped")
	return nil
}

// pollLoop fetches and admits records while ctx lasts. Each poll takes no
// more than the limits leave room for, and the records are admitted before
// AllowRebalance, so that no revoke falls between a fetch and its
// bookkeeping; they are sent after it, so that a full pipeline never holds
// a rebalance back.
func (r *Receiver) pollLoop(ctx context.Context) {
	for ctx.Err() == nil {
		r.mu.Lock()
		n, ok := r.core.pollSize()
		r.mu.Unlock()
		if !ok {
			select { // at the total limits: fetch nothing until something settles
			case <-r.roomC:
			case <-ctx.Done():
			}
			continue
		}
		fs := r.cl.PollRecords(ctx, n)
		jobs := r.admit(ctx, fs)
		r.cl.AllowRebalance()
		if fs.IsClientClosed() {
			return
		}
		for _, j := range jobs {
			if ctx.Err() != nil {
				break // the drain abandons the rest
			}
			r.deliver(ctx, j)
		}
	}
}

// admit registers a poll's records.
func (r *Receiver) admit(ctx context.Context, fs kgo.Fetches) []job {
	fs.EachError(func(topic string, partition int32, err error) {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		r.metrics.fetchErrors.Inc()
		r.warn("fetch:"+err.Error(), "kafka fetch error", "topic", topic, "partition", partition, "err", err)
	})
	var jobs []job
	r.mu.Lock()
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if p.Err != nil {
			return
		}
		jobs = append(jobs, r.core.admit(tp{p.Topic, p.Partition}, p.Records, p.HighWatermark)...)
	})
	r.mu.Unlock()
	return jobs
}

// deliver does a job of the core: decode a record and send it, send it
// again, or produce it to the dead-letter topic. Sends block while the
// pipeline is full, until ctx ends; dead-letter produces never block.
func (r *Receiver) deliver(ctx context.Context, j job) {
	switch j.kind {
	case jobDecode:
		var pl *pdata.Payload
		var err error
		if j.routed {
			pl, err = decode(j.rt, j.value)
		} else {
			err = fmt.Errorf("%w: topic %q is consumed by no signal", errMalformed, j.r.p.topic)
		}
		var next job
		var ok bool
		r.mu.Lock()
		if err != nil {
			next, ok = r.core.invalid(j.r, err.Error())
		} else {
			next, ok = r.core.decoded(j.r, pl)
		}
		r.mu.Unlock()
		if err != nil {
			r.warn("malformed:"+j.r.p.topic, "kafka record is not a valid request", "topic", j.r.p.topic,
				"partition", j.r.p.partition, "offset", j.r.offset, "err", err, "dead_letter", ok)
		}
		if ok {
			r.deliver(ctx, next)
		}
	case jobSend:
		m := pdata.New(j.payload)
		r.fx.Subscribe(m, pdata.AcksAndNacks, pdata.CallData{j.r.id, j.attempt})
		if err := r.fx.Send(ctx, m); err != nil {
			stopping := ctx.Err() != nil || errors.Is(err, engine.ErrClosed) || errors.Is(err, engine.ErrAborted)
			if !stopping {
				r.warn("send:"+err.Error(), "kafka receiver cannot send into the pipeline; retrying", "err", err)
			}
			r.mu.Lock()
			r.core.sendFailed(j.r, j.attempt, stopping, r.clock.Now())
			r.mu.Unlock()
		}
	case jobDeadLetter:
		rec := j.r
		// The promise may run before TryProduce returns (the buffer is
		// full): nothing is locked here.
		r.cl.TryProduce(context.Background(), j.dlq, func(_ *kgo.Record, err error) {
			if err != nil {
				r.warn("dlq:"+err.Error(), "kafka dead-letter produce failed; retrying", "topic", r.cfg.DeadLetterTopic, "err", err)
			}
			r.mu.Lock()
			r.core.deadLettered(rec, err, r.clock.Now())
			r.mu.Unlock()
		})
	}
}

// OnOutcome implements engine.Receiver: it settles the record the outcome
// belongs to, or puts it in a backoff, or starts its dead-letter produce.
// It never blocks.
func (r *Receiver) OnOutcome(c engine.Control) {
	if c.Kind != engine.KindAck && c.Kind != engine.KindNack {
		return
	}
	r.mu.Lock()
	j, ok := r.core.outcome(c.CallData[0], c.CallData[1], c.Kind == engine.KindAck, c.Nack, r.clock.Now())
	r.mu.Unlock()
	if ok {
		r.deliver(context.Background(), j) // a dead-letter produce: TryProduce does not block
	}
}

// retryLoop sends the records whose backoff ended, at the earliest
// deadline, until stop.
func (r *Receiver) retryLoop(ctx context.Context, stop <-chan struct{}) {
	timer := r.clock.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		now := r.clock.Now()
		r.mu.Lock()
		jobs, next := r.core.due(now)
		r.mu.Unlock()
		for _, j := range jobs {
			r.deliver(ctx, j)
		}
		if len(jobs) > 0 {
			continue
		}
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(next.Sub(now))
		}
		select {
		case <-stop:
			return
		case <-r.retryWake:
		case <-timer.C():
		}
	}
}

// commitLoop commits as offsets move (commit.interval 0) or every
// interval, and after a failure again after the retry's initial interval.
func (r *Receiver) commitLoop(stop <-chan struct{}) {
	interval := time.Duration(r.cfg.Commit.Interval)
	tick := r.clock.NewTimer(time.Hour)
	tick.Stop()
	defer tick.Stop()
	if interval > 0 {
		tick.Reset(interval)
	}
	again := r.clock.NewTimer(time.Hour)
	again.Stop()
	defer again.Stop()
	for {
		select {
		case <-stop:
			return
		case <-r.commitWake:
			if interval > 0 {
				continue
			}
		case <-tick.C():
			tick.Reset(interval)
		case <-again.C():
		}
		ctx, cancel := r.commitContext(false)
		err := r.commit(ctx, nil)
		cancel()
		if err != nil {
			again.Reset(time.Duration(r.cfg.Retry.InitialInterval))
		}
	}
}

// commit commits the committable offsets of tps (all when nil).
func (r *Receiver) commit(ctx context.Context, tps []tp) error {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	return r.commitLocked(ctx, tps)
}

// commitLocked is commit with commitMu held.
func (r *Receiver) commitLocked(ctx context.Context, tps []tp) error {
	r.mu.Lock()
	offs := r.core.toCommit(tps)
	r.mu.Unlock()
	if len(offs) == 0 {
		return nil
	}
	req := make(map[string]map[int32]kgo.EpochOffset)
	for _, o := range offs {
		if req[o.p.topic] == nil {
			req[o.p.topic] = make(map[int32]kgo.EpochOffset)
		}
		req[o.p.topic][o.p.partition] = kgo.EpochOffset{Epoch: -1, Offset: o.offset}
	}
	failed := map[tp]bool{}
	var cerr error
	r.cl.CommitOffsetsSync(ctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
					failed[tp{t.Topic, p.Partition}] = true
					cerr = e
				}
			}
		}
	})
	if cerr != nil && len(failed) == 0 {
		for _, o := range offs {
			failed[o.p.tp] = true
		}
	}
	r.mu.Lock()
	r.core.committed(offs, failed)
	r.mu.Unlock()
	if cerr != nil {
		r.metrics.commits[1].Inc()
		r.warn("commit:"+cerr.Error(), "kafka offset commit failed; committing again later", "err", cerr)
		return fmt.Errorf("commit offsets: %w", cerr)
	}
	r.metrics.commits[0].Inc()
	return nil
}

// commitContext bounds a commit by the timeout (abortFlush once the
// shutdown deadline passed), and, unless final, by the shutdown deadline.
func (r *Receiver) commitContext(final bool) (context.Context, context.CancelFunc) {
	d := time.Duration(r.cfg.Timeout)
	aborted := r.fx.Aborted()
	select {
	case <-aborted:
		d = min(d, abortFlush)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	if !final {
		go func() { // ends with the commit: the caller cancels
			select {
			case <-aborted:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}

// drain stops the receiver's records: nothing more is sent, the outcomes
// of those in the pipeline are awaited (until the shutdown deadline), and
// what is settled is committed. The rest is abandoned: the next owner
// reads it again.
func (r *Receiver) drain() {
	r.mu.Lock()
	r.core.drain()
	idle := r.core.waitIdle(nil)
	held := r.core.held
	r.mu.Unlock()
	r.logger.Info("kafka receiver draining", "records_in_flight", held)
	if !waitIdle(idle, r.fx.Aborted(), nil) {
		r.logger.Warn("kafka receiver stopped at the shutdown deadline; unsettled records will be read again")
	}
	ctx, cancel := r.commitContext(true)
	if err := r.commit(ctx, nil); err != nil {
		r.logger.Warn("kafka receiver: last commit failed; the records since the previous commit will be read again", "err", err)
	}
	cancel()
	r.commitMu.Lock()
	r.stopped.Store(true)
	r.mu.Lock()
	r.core.remove(r.core.owned(), abandonDrain)
	r.mu.Unlock()
	r.commitMu.Unlock()
}

// onAssigned is kgo's OnPartitionsAssigned.
func (r *Receiver) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	tps := tpsOf(assigned)
	r.mu.Lock()
	r.core.assign(tps)
	r.mu.Unlock()
	if len(tps) > 0 {
		r.logger.Info("kafka partitions assigned", "partitions", fmt.Sprint(tps))
	}
}

// onRevoked is kgo's OnPartitionsRevoked: nothing more of the partitions
// is admitted or sent, their outcomes are awaited for at most the timeout,
// what is settled is committed, and the partitions are forgotten. Records
// whose outcome did not come are read again by the next owner.
func (r *Receiver) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	tps := tpsOf(revoked)
	if len(tps) == 0 || r.stopped.Load() {
		return
	}
	r.mu.Lock()
	r.core.revoke(tps)
	idle := r.core.waitIdle(tps)
	r.mu.Unlock()
	timer := r.clock.NewTimer(time.Duration(r.cfg.Timeout))
	if !waitIdle(idle, r.fx.Aborted(), timer.C()) {
		r.logger.Warn("kafka partitions revoked before every outcome came back; those records will be read again",
			"partitions", fmt.Sprint(tps), "timeout", time.Duration(r.cfg.Timeout))
	}
	timer.Stop()
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	ctx, cancel := r.commitContext(true)
	if err := r.commitLocked(ctx, tps); err != nil {
		r.logger.Warn("kafka commit of revoked partitions failed; their next owner reads from the previous commit", "err", err)
	}
	cancel()
	r.mu.Lock()
	r.core.remove(tps, abandonRevoked)
	r.mu.Unlock()
	r.logger.Info("kafka partitions revoked", "partitions", fmt.Sprint(tps))
}

// onLost is kgo's OnPartitionsLost: the partitions are forgotten at once
// (a commit would fail or rewind their new owner's), after any commit in
// progress.
func (r *Receiver) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	tps := tpsOf(lost)
	if len(tps) == 0 {
		return
	}
	r.commitMu.Lock()
	r.mu.Lock()
	r.core.remove(tps, abandonLost)
	r.mu.Unlock()
	r.commitMu.Unlock()
	if !r.stopped.Load() {
		r.logger.Warn("kafka partitions lost; their unsettled records will be read again", "partitions", fmt.Sprint(tps))
	}
}

// waitIdle waits for idle until aborted or expired (nil: never) and
// reports whether it came; idle wins a tie.
func waitIdle(idle, aborted <-chan struct{}, expired <-chan time.Time) bool {
	select {
	case <-idle:
		return true
	default:
	}
	select {
	case <-idle:
		return true
	case <-aborted:
	case <-expired:
	}
	select {
	case <-idle:
		return true
	default:
		return false
	}
}

func tpsOf(m map[string][]int32) []tp {
	var out []tp
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, tp{t, p})
		}
	}
	return out
}

// receiverHooks is the core's view of the Receiver. Its methods are
// called with mu held.
type receiverHooks Receiver

func (h *receiverHooks) pause(t tp) {
	h.cl.PauseFetchPartitions(map[string][]int32{t.topic: {t.partition}})
}

func (h *receiverHooks) resume(t tp) {
	h.cl.ResumeFetchPartitions(map[string][]int32{t.topic: {t.partition}})
}

func (h *receiverHooks) commitReady()    { signal(h.commitWake) }
func (h *receiverHooks) retryScheduled() { signal(h.retryWake) }
func (h *receiverHooks) room()           { signal(h.roomC) }

// signal wakes the goroutine waiting on c, without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// warn logs at most once per warnEvery for each key.
func (r *Receiver) warn(key, msg string, args ...any) {
	now := r.clock.Now()
	r.warnMu.Lock()
	last, seen := r.warned[key]
	if seen && now.Sub(last) < warnEvery {
		r.warnMu.Unlock()
		return
	}
	if len(r.warned) > 1000 {
		clear(r.warned) // keys carry error texts: keep the map bounded
	}
	r.warned[key] = now
	r.warnMu.Unlock()
	r.logger.Warn(msg, args...)
}
