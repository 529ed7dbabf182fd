package exportdriver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/otlp/otlpgrpc"
	"github.com/ackflow/ackflow/pdata"
)

// Transport performs the exports of a Driver: one payload to one
// destination.
type Transport interface {
	// Export sends p and reports the outcome. It runs on a goroutine of
	// its own, several at once, and must return soon after ctx ends. A
	// payload it cannot encode for its destination is a permanent
	// failure (EncodeFailure).
	Export(ctx context.Context, p *pdata.Payload) Result
	// Close releases the transport's connections. The driver calls it once,
	// after the last Export has returned.
	Close() error
}

// Gatherer is a Transport that sends the exports of a burst together (the
// records of several messages in one Kafka produce request). Begin is
// called from the node goroutine before each export's goroutine starts,
// Idle when the node has nothing more ready (engine.Idler). The transport
// may hold what an export hands it until every export begun before an
// Idle has handed its part; it must then send without waiting for more.
type Gatherer interface {
	Begin()
	Idle()
}

// EncodeFailure is the result of an export whose payload cannot be
// encoded as format ("OTLP", "OTAP") for the destination: permanent, as it
// would fail again.
func EncodeFailure(format string, s pdata.Signal, err error) Result {
	return Result{Status: "encode_error", Err: fmt.Errorf("encode %s as %s: %w", s, format, err), Permanent: true}
}

// Result is the outcome of one export.
type Result struct {
	// Status names the outcome in metrics: "ok" on success, otherwise the
	// gRPC code ("unavailable"), the HTTP status ("503") or a transport
	// failure ("connection_error"). Its set of values is closed.
	Status string
	// Err is nil when the destination accepted the request (perhaps
	// partially); otherwise it says what failed, for the nack reason.
	Err error
	// Permanent says the destination refused the data itself: sending it
	// again cannot succeed.
	Permanent bool
	// Partial is what the destination rejected of an accepted request.
	Partial otlpgrpc.PartialSuccess
}

// Nack causes detected by the driver from how an export's context ended.
var (
	errTimeout  = errors.New("export timeout")
	errShutdown = errors.New("node shut down with the export in flight")
)

// warnEvery is the least time between two warnings of one kind: a failing
// destination nacks every message, and the nacks already carry the reasons.
const warnEvery = 10 * time.Second

// DriverConfig configures a Driver.
type DriverConfig struct {
	// Name prefixes nack reasons and logs: the node type, "otlp_grpc".
	Name string
	// Timeout bounds each export, from its start to the destination's answer.
	Timeout time.Duration
	// MaxInFlight is the most exports at once; beyond it the inbox gate
	// holds pdata back.
	MaxInFlight int
	Logger      *slog.Logger
	Metrics     *Metrics
}

// Driver is the in-flight core of an OTLP exporter. Each message becomes
// one export on a goroutine of its own; the goroutine acks or nacks the
// message (safe from any goroutine) and then posts its completion to the
// node goroutine, which alone owns the table of exports in flight. So the
// table needs no lock, and an export's slot is freed exactly once, in
// order with the node's other work.
//
// A Driver implements engine.Processor, engine.Gate, engine.Drainer and
// engine.Idler. It is not safe for concurrent use: one node goroutine drives it.
type Driver struct {
	cfg       DriverConfig
	transport Transport
	gatherer  Gatherer // the transport, if it gathers; else nil

	calls  map[uint64]*call // exports in flight, by id
	limit  aimd             // how many of them at once, at most MaxInFlight
	nextID uint64
	state  driverState
	wg     sync.WaitGroup

	partialWarn warnLimiter
	failWarn    warnLimiter
}

// driverState is where the driver is in its life; the engine's inbox
// already guarantees that no pdata comes after Shutdown.
type driverState uint8

const (
	driverRunning  driverState = iota
	driverDraining             // Shutdown received: the exports in flight finish
	driverClosed               // nothing in flight after Shutdown: the transport is closed
)

// call is one export in flight. Its goroutine alone answers it; aborted
// says the forced shutdown cancelled it (the context carries the timeout
// as its cause; one context per export, without a parent to propagate
// from, is what an export costs least).
type call struct {
	m       *pdata.Message
	cancel  context.CancelFunc
	aborted atomic.Bool
}

// callDone is what an export goroutine posts to the node goroutine.
type callDone struct {
	id      uint64
	signal  pdata.Signal
	res     Result
	elapsed time.Duration // from the start of the export to its answer
	timeout bool          // cut short by the driver's timeout
}

var (
	_ engine.Processor = (*Driver)(nil)
	_ engine.Gate      = (*Driver)(nil)
	_ engine.Drainer   = (*Driver)(nil)
	_ engine.Idler     = (*Driver)(nil)
)

// NewDriver returns a driver exporting through t.
func NewDriver(cfg DriverConfig, t Transport) *Driver {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil, "ackflow_exporter_otlp", nil)
	}
	d := &Driver{cfg: cfg, transport: t, calls: make(map[uint64]*call, cfg.MaxInFlight), limit: newAIMD(cfg.MaxInFlight)}
	d.gatherer, _ = t.(Gatherer)
	cfg.Metrics.limit.Set(int64(d.limit.current))
	return d
}

// AcceptPData implements engine.Gate: pdata waits while the adaptive
// in-flight limit (at most max_in_flight) of exports are out.
func (d *Driver) AcceptPData() bool { return len(d.calls) < d.limit.current }

// Pending implements engine.Drainer: the exports still in flight.
func (d *Driver) Pending() int { return len(d.calls) }

// OnPData starts the export of m.
func (d *Driver) OnPData(m *pdata.Message, fx engine.Effects) error {
	p := m.Payload()
	if p == nil {
		fx.NotifyNack(m, pdata.Nack{Reason: d.cfg.Name + ": message carries no payload", Permanent: true})
		return nil
	}
	d.nextID++
	ctx, cancel := context.WithTimeoutCause(context.Background(), d.cfg.Timeout, errTimeout)
	c := &call{m: m, cancel: cancel}
	d.calls[d.nextID] = c
	d.cfg.Metrics.inFlight.Set(int64(len(d.calls)))
	d.wg.Add(1)
	if d.gatherer != nil {
		d.gatherer.Begin()
	}
	go d.export(ctx, d.nextID, c, p, fx)
	return nil
}

// OnIdle implements engine.Idler: the burst of messages is over, a
// Gatherer sends what it holds.
func (d *Driver) OnIdle(engine.Effects) error {
	if d.gatherer != nil {
		d.gatherer.Idle()
	}
	return nil
}

// export runs one export on its own goroutine and reports it: the outcome
// upstream, then the completion to the node goroutine. A payload is
// encoded for the destination here, off the node goroutine (Payload caches
// its conversions, safely).
func (d *Driver) export(ctx context.Context, id uint64, c *call, p *pdata.Payload, fx engine.Effects) {
	defer d.wg.Done()
	s := p.Signal()
	start := time.Now()
	res := d.transport.Export(ctx, p)
	cause := context.Cause(ctx)
	if c.aborted.Load() {
		cause = errShutdown
	} else if deadline, _ := ctx.Deadline(); cause == nil && res.Err != nil && !time.Now().Before(deadline) {
		// The transport saw the deadline a moment before the context's
		// own timer fired: it is still our timeout, not the destination's
		// verdict.
		cause = errTimeout
	}
	c.cancel() // release the context's resources
	timedOut := errors.Is(cause, errTimeout)
	if timedOut {
		// Whatever the transport saw (a reset stream, a closed
		// connection), the export ran out of time.
		res.Status = "timeout"
	}
	if res.Err != nil {
		fx.NotifyNack(c.m, d.nack(res, cause))
	} else {
		fx.NotifyAck(c.m)
	}
	fx.Post(callDone{id: id, signal: s, res: res, elapsed: time.Since(start), timeout: timedOut})
}

// nack builds the nack of a failed export. An export cut short by the
// timeout or by shutdown is transient whatever the transport made of it:
// the destination never judged the data.
func (d *Driver) nack(res Result, cause error) pdata.Nack {
	n := pdata.Nack{Reason: d.cfg.Name + ": " + res.Err.Error(), Permanent: res.Permanent}
	switch {
	case errors.Is(cause, errShutdown):
		n = pdata.Nack{Reason: d.cfg.Name + ": " + errShutdown.Error(), Cause: pdata.CauseNodeShutdown}
	case errors.Is(cause, errTimeout):
		n = pdata.Nack{Reason: fmt.Sprintf("%s: no answer within %s (%v)", d.cfg.Name, d.cfg.Timeout, res.Err), Cause: pdata.CauseTimeout}
	}
	return n
}

// OnControl handles completions (posted by export goroutines) and
// Shutdown. The driver subscribes to nothing, so acks and nacks never
// reach it.
func (d *Driver) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindPosted:
		if done, ok := c.Value.(callDone); ok {
			d.complete(done, fx)
		}
	case engine.KindShutdown:
		if d.state == driverRunning {
			d.state = driverDraining
		}
		if c.Forced {
			d.abort(fx)
		}
		d.closeIfIdle()
	}
	return nil
}

// complete frees the slot of a finished export and records its outcome.
func (d *Driver) complete(done callDone, fx engine.Effects) {
	if _, ok := d.calls[done.id]; ok {
		delete(d.calls, done.id)
		d.cfg.Metrics.inFlight.Set(int64(len(d.calls)))
	}
	d.cfg.Metrics.requests(done.signal, done.res.Status).Inc()
	d.limit.observe(done, d.cfg.Timeout)
	d.cfg.Metrics.limit.Set(int64(d.limit.current))
	now := fx.Now()
	if ps := done.res.Partial; ps.Partial() {
		d.cfg.Metrics.rejected[done.signal].Add(uint64(max(ps.Rejected, 0)))
		if n, ok := d.partialWarn.allow(now); ok {
			d.cfg.Logger.Warn(d.cfg.Name+": destination rejected part of an export",
				"signal", done.signal.String(), "rejected", ps.Rejected, "message", ps.Message, "suppressed_since_last", n)
		}
	}
	if done.res.Err != nil {
		if n, ok := d.failWarn.allow(now); ok {
			d.cfg.Logger.Warn(d.cfg.Name+": export failed",
				"signal", done.signal.String(), "status", done.res.Status, "permanent", done.res.Permanent,
				"error", done.res.Err.Error(), "suppressed_since_last", n)
		}
	}
	d.closeIfIdle()
}

// abort is the forced shutdown: every export still in flight is cancelled,
// and once its goroutine has returned (as soon as its transport sees the
// cancellation) it is nacked with cause node_shutdown, by that goroutine.
// The nacks wait for the goroutines so that upstream never hears of an
// export whose transport may still read the payload: a receiver may give
// the buffers back on that answer (engine.Factory.ReleasesPayloads). Nothing
// touches the effects after Shutdown returns.
func (d *Driver) abort(fx engine.Effects) {
	for _, c := range d.calls {
		c.aborted.Store(true)
		c.cancel()
	}
	d.wg.Wait()
	clear(d.calls)
	d.cfg.Metrics.inFlight.Set(0)
}

// closeIfIdle closes the transport once shut down with nothing in flight.
func (d *Driver) closeIfIdle() {
	if d.state != driverDraining || len(d.calls) > 0 {
		return
	}
	d.state = driverClosed
	d.wg.Wait() // completions are posted last: the goroutines are ending
	if err := d.transport.Close(); err != nil {
		d.cfg.Logger.Warn(d.cfg.Name+": close connections", "error", err.Error())
	}
}

// warnLimiter lets one warning through per warnEvery and counts the rest.
type warnLimiter struct {
	last       time.Time
	suppressed int
}

// allow reports whether a warning may be logged now, and how many were
// suppressed since the last one.
func (w *warnLimiter) allow(now time.Time) (int, bool) {
	if !w.last.IsZero() && now.Sub(w.last) < warnEvery {
		w.suppressed++
		return 0, false
	}
	n := w.suppressed
	w.last, w.suppressed = now, 0
	return n, true
}
