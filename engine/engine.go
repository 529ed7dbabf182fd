package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/telemetry"
)

// abortGrace bounds how long Shutdown waits for nodes to return after the
// deadline; a node still running then is reported, not waited for.
const abortGrace = 5 * time.Second

// Options configures an Engine. Zero values pick the defaults.
type Options struct {
	Clock   clock.Clock         // default clock.Real()
	Logger  *slog.Logger        // default: discard
	Metrics *telemetry.Registry // default: a new registry
	NumCPU  int                 // for core_allocation all_cores; default runtime.NumCPU()
}

// Engine runs every pipeline of a document, each in as many copies as its
// core_allocation asks.
type Engine struct {
	doc       *config.Document
	metrics   *telemetry.Registry
	clock     clock.Clock
	log       *slog.Logger
	pipelines []*pipeline
	ledgers   []*ledger    // one per configured pipeline, in document order
	coarse    *coarseClock // admission stamps

	failOnce sync.Once
	failC    chan struct{}
	failErr  error

	startOnce sync.Once
	doneC     chan struct{}
}

// New builds every pipeline copy of doc with the factories of reg. The
// document must have been validated (config.Load and Check).
func New(doc *config.Document, reg *Registry, o Options) (*Engine, error) {
	if o.Clock == nil {
		o.Clock = clock.Real()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Metrics == nil {
		o.Metrics = telemetry.NewRegistry()
	}
	if o.NumCPU <= 0 {
		o.NumCPU = runtime.NumCPU()
	}
	e := &Engine{
		doc: doc, metrics: o.Metrics, clock: o.Clock, log: o.Logger,
		failC: make(chan struct{}), doneC: make(chan struct{}),
	}
	registerProcessMetrics(o.Metrics)
	e.coarse = &coarseClock{clock: o.Clock, base: o.Clock.Now()}
	bo := buildOptions{registry: reg, metrics: o.Metrics, clock: o.Clock, log: o.Logger, onFail: e.fail,
		ledgers: map[string]*ledger{}, coarse: e.coarse}
	var errs []error
	for _, g := range doc.Groups {
		for _, cp := range g.Pipelines {
			copies := doc.Resolved(cp).Resources.CoreAllocation.Copies(o.NumCPU)
			for i := range copies {
				p, err := buildPipeline(doc, g, cp, i, copies, bo)
				if err != nil {
					errs = append(errs, err)
					break
				}
				e.pipelines = append(e.pipelines, p)
				if len(p.ledger.copies) == 1 {
					e.ledgers = append(e.ledgers, p.ledger)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// Metrics returns the registry the engine's nodes report to.
func (e *Engine) Metrics() *telemetry.Registry { return e.metrics }

// Start launches every pipeline. Idempotent.
func (e *Engine) Start() {
	e.startOnce.Do(func() {
		e.coarse.set()
		stopTicks, ticksDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(ticksDone)
			e.coarse.run(stopTicks)
		}()
		for _, p := range e.pipelines {
			p.start()
		}
		go func() {
			for _, p := range e.pipelines {
				<-p.doneC
			}
			close(stopTicks)
			<-ticksDone
			e.checkAccounting() // at exit: everything must balance exactly
			close(e.doneC)
		}()
	})
}

// Done is closed when every pipeline has stopped: after Shutdown, or by
// itself when all receivers finished (a traffic generator with a count).
func (e *Engine) Done() <-chan struct{} { return e.doneC }

// Failed is closed when a node failed; Err then says why.
func (e *Engine) Failed() <-chan struct{} { return e.failC }

// Err returns the first node failure, or nil.
func (e *Engine) Err() error {
	select {
	case <-e.failC:
		return e.failErr
	default:
		return nil
	}
}

func (e *Engine) fail(err error) {
	e.failOnce.Do(func() {
		e.failErr = err
		close(e.failC)
	})
}

// Shutdown drains every pipeline: receivers stop admitting and finish their
// requests, then each node gets Shutdown once its input is closed and empty,
// like a wave from receivers to exporters. If ctx ends first (its deadline
// is the drain deadline nodes see), whatever is still held is nacked with
// cause node_shutdown and Shutdown returns ctx.Err(). It returns nil after a
// clean drain. Safe to call more than once.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.Start()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(e.doc.Engine.ShutdownTimeout))
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	for _, p := range e.pipelines {
		p.drain(deadline)
	}
	select {
	case <-e.doneC:
		return nil
	case <-ctx.Done():
	}
	e.Abort()
	select {
	case <-e.doneC:
	case <-time.After(abortGrace):
		e.log.Error("nodes still running after the shutdown deadline", "stuck", e.stuck())
	}
	return ctx.Err()
}

// Abort reaches the deadline at once: every node answers what it holds and
// stops.
func (e *Engine) Abort() {
	for _, p := range e.pipelines {
		p.abort()
	}
}

func (e *Engine) stuck() []string {
	var out []string
	for _, p := range e.pipelines {
		for _, n := range p.nodes {
			if Lifecycle(n.state.Load()) != LifeDone {
				out = append(out, fmt.Sprintf("%s#%d/%s", p.name, p.copy, n.name))
			}
		}
	}
	return out
}

// Ready reports whether every pipeline is running: none draining or done,
// and no node failed.
func (e *Engine) Ready() bool {
	if isClosed(e.failC) {
		return false
	}
	for _, p := range e.pipelines {
		if isClosed(p.drainC) || isClosed(p.latchC) {
			return false
		}
	}
	return len(e.pipelines) > 0
}
