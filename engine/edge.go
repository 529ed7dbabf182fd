package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ackflow/ackflow/pdata"
)

// edge is one bounded pdata channel: a hyper-edge from one or more source
// ports (fan-in) to one or more destination nodes (competing consumers).
// The channel closes when its last source releases it, which is how the
// shutdown wave travels downstream.
type edge struct {
	name    string   // "src[port],... -> dst,..." for messages
	dests   []string // the nodes that read ch
	ch      chan *pdata.Message
	sources atomic.Int32
}

func (e *edge) release() {
	if e.sources.Add(-1) == 0 {
		close(e.ch)
	}
}

// port is one connected output port of one node (in one pipeline copy):
// the edge it feeds and what the status and taps need.
type port struct {
	name string
	edge *edge
	sent atomic.Uint64            // {item} items sent on this port; only counted when the node has several
	taps atomic.Pointer[[]tapRef] // nil: no tap, one load per send
}

// outputs are a node's connected ports.
type outputs struct {
	ports   map[string]*port
	names   []string // sorted
	def     *port
	defName string
	defErr  error // why there is no default port
	multi   bool  // several ports: count what each sends

	// closing guards sends against the release of the edges: a sender holds
	// the read lock while it sends, release takes the write lock. Receivers
	// send from many goroutines; for processors it is uncontended.
	closing sync.RWMutex
	closed  bool
}

func newOutputs(edges map[string]*edge, defaultOutput string) *outputs {
	o := &outputs{ports: make(map[string]*port, len(edges))}
	for name, e := range edges {
		o.ports[name] = &port{name: name, edge: e}
		o.names = append(o.names, name)
	}
	ports := o.ports
	o.multi = len(ports) > 1
	slices.Sort(o.names)
	switch {
	case defaultOutput != "" && ports[defaultOutput] != nil:
		o.def, o.defName = ports[defaultOutput], defaultOutput
	case defaultOutput != "":
		// An explicit default that is not wired must not fall back to
		// another port: that would send data where nobody asked.
		o.defErr = fmt.Errorf("%w: default_output %q is not connected (connected: %v)", ErrNoDefaultPort, defaultOutput, o.names)
	case len(ports) == 1:
		o.defName = o.names[0]
		o.def = ports[o.defName]
	case len(ports) == 0:
		o.defErr = fmt.Errorf("%w: the node has no connected output", ErrNoDefaultPort)
	default:
		o.defErr = fmt.Errorf("%w: ports %v are connected; set default_output or send to a named port", ErrNoDefaultPort, o.names)
	}
	return o
}

func (o *outputs) port(name string) (*port, error) {
	if name == "" {
		if o.def == nil {
			return nil, o.defErr
		}
		return o.def, nil
	}
	e, ok := o.ports[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (connected: %v)", ErrUnknownPort, name, o.names)
	}
	return e, nil
}

// send delivers m (of items items) on port, waiting for room unless try
// is set, or until ctx ends; abort is the pipeline's deadline channel. On
// error the caller keeps m. Taps on the port see the payload after a
// successful send; without a tap they cost one atomic load.
func (o *outputs) send(ctx context.Context, abort <-chan struct{}, name string, m *pdata.Message, items int, try bool) error {
	pt, err := o.port(name)
	if err != nil {
		return err
	}
	taps := pt.taps.Load()
	var payload *pdata.Payload
	if taps != nil {
		payload = m.Payload() // read before the send: m is the consumer's after it
		// Held across the send: once m is sent its outcome may come back,
		// and its receiver give the buffers back, before the taps take
		// their own hold (see Tap.offer).
		payload.Leases().Retain()
		defer payload.Leases().Release()
	}
	if err := o.sendOn(ctx, abort, pt, m, try); err != nil {
		return err
	}
	if o.multi {
		pt.sent.Add(uint64(items))
	}
	if taps != nil && payload != nil {
		for _, r := range *taps {
			r.t.offer(r.copy, payload)
		}
	}
	return nil
}

func (o *outputs) sendOn(ctx context.Context, abort <-chan struct{}, pt *port, m *pdata.Message, try bool) error {
	e := pt.edge
	if try {
		// A try send never waits, not even for a close in progress.
		if !o.closing.TryRLock() {
			return ErrClosed
		}
	} else {
		o.closing.RLock()
	}
	defer o.closing.RUnlock()
	if o.closed {
		return ErrClosed
	}
	if isClosed(abort) {
		// After the deadline nothing new enters a channel: its consumer
		// may already have stopped reading.
		return ErrAborted
	}
	select {
	case e.ch <- m:
		return nil
	default:
	}
	if try {
		return ErrFull
	}
	select {
	case e.ch <- m:
		return nil
	case <-abort:
		return ErrAborted
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// close releases every edge once; later sends fail with ErrClosed.
func (o *outputs) close() {
	o.closing.Lock()
	defer o.closing.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	for _, p := range o.ports {
		p.edge.release()
	}
}
