package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Statuses of requests that got no answer from the server.
const (
	// StatusTimeout: no answer within Config.Timeout.
	StatusTimeout = "timeout"
	// StatusTransport: the request failed before any answer (connection
	// refused or reset, ...).
	StatusTransport = "transport"
)

// result is the outcome of one request: status is empty on success, else
// the gRPC code name, the HTTP status code or StatusTimeout/StatusTransport.
type result struct {
	status   string
	rejected int64 // items refused in a partial success
	// latency, when set, replaces the time the worker measured around
	// send: a transport that works before sending (OTAP encodes each
	// batch) counts from the send.
	latency time.Duration
	// bytes is the size of what was sent, when the transport knows it
	// better than the pool does (OTAP: the batch's protobuf size).
	bytes int64
}

// transport sends pool entries. send is called concurrently by the
// workers; w is the worker's index, i the pool entry.
type transport interface {
	send(ctx context.Context, w, i int) result
	close() error
}

// Run validates cfg, checks that the endpoint is loopback (unless allowed
// otherwise), encodes the pool, sends the load and returns the report of
// the measured phase (the warm-up is not reported).
//
// Cancelling ctx stops sending new requests; requests in flight still get
// their answer or their timeout, so the report stays exact.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := cfg.target()
	if err != nil {
		return nil, fmt.Errorf("loadgen: endpoint %q: %w", cfg.Endpoint, err)
	}
	if !cfg.AllowNonLoopback {
		if err := CheckLoopback(ctx, t.host); err != nil {
			return nil, err
		}
	}
	pool, err := NewPool(cfg)
	if err != nil {
		return nil, err
	}
	var tr transport
	switch cfg.Protocol {
	case GRPC:
		g, err := newGRPCTransport(cfg, t, pool)
		if err != nil {
			return nil, err
		}
		tr = g
	case HTTP:
		tr = newHTTPTransport(cfg, t, pool)
	case OTAP:
		o, err := newOTAPTransport(cfg, t, pool)
		if err != nil {
			return nil, err
		}
		tr = o
	}
	if cfg.Ready != nil {
		cfg.Ready()
	}
	rep := run(ctx, cfg, pool, tr)
	if err := tr.close(); err != nil {
		return rep, fmt.Errorf("loadgen: close connections: %w", err)
	}
	return rep, nil
}

// run sends the warm-up and the measured phase over tr.
func run(ctx context.Context, cfg Config, pool *Pool, tr transport) *Report {
	if cfg.Warmup > 0 {
		phase(ctx, cfg, pool, tr, cfg.Warmup, 0)
	}
	rep := phase(ctx, cfg, pool, tr, cfg.Duration, cfg.Requests)
	rep.describe(cfg, pool)
	return rep
}

// phase runs cfg.Workers workers until duration has passed (0: no limit)
// and/or requests requests were sent (0: no limit), then waits for the
// requests in flight.
func phase(ctx context.Context, cfg Config, pool *Pool, tr transport, duration time.Duration, requests int64) *Report {
	s := newStats()
	p := &pacer{start: time.Now(), rate: cfg.Rate, budget: requests}
	if duration > 0 {
		p.deadline = p.start.Add(duration)
	}
	// Requests outlive a cancelled ctx: a started request gets its
	// answer or its timeout, never an abandoned connection.
	reqCtx := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for w := range cfg.Workers {
		wg.Go(func() {
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			for {
				n, ok := p.next(ctx, timer)
				if !ok {
					return
				}
				rctx, cancel := context.WithTimeout(reqCtx, cfg.Timeout)
				t0 := time.Now()
				res := tr.send(rctx, w, int(n%int64(len(pool.Raw))))
				lat := time.Since(t0)
				if res.latency > 0 {
					lat = res.latency
				}
				cancel()
				s.record(res, lat, pool.Items)
			}
		})
	}
	wg.Wait()
	return s.report(time.Since(p.start))
}

// pacer hands out tickets: ticket n may be sent at start + n/rate (at once
// without a rate), if n is within the budget and that time is before the
// deadline. It is shared by the workers.
type pacer struct {
	start, deadline time.Time // deadline zero: none
	rate            float64   // requests/s; 0: as fast as possible
	budget          int64     // 0: none
	tickets         atomic.Int64
}

// next takes a ticket and waits for its due time, using timer. It returns
// false when the run is over (budget, deadline or ctx).
func (p *pacer) next(ctx context.Context, timer *time.Timer) (int64, bool) {
	n := p.tickets.Add(1) - 1
	if p.budget > 0 && n >= p.budget {
		return 0, false
	}
	// A worker behind schedule (answers slower than the rate) still stops
	// at the deadline.
	if !p.deadline.IsZero() && !time.Now().Before(p.deadline) {
		return 0, false
	}
	if p.rate > 0 {
		due := p.start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
		if !p.deadline.IsZero() && !due.Before(p.deadline) {
			return 0, false
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return 0, false
			}
		}
	}
	return n, ctx.Err() == nil
}
