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
	name    string // "src[port],... -> dst,..." for messages
	ch      chan *pdata.Message
	sources atomic.Int32
}

func (e *edge) release() {
	if e.sources.Add(-1) == 0 {
		close(e.ch)
	}
}

// outputs are a node's connected ports.
type outputs struct {
	ports   map[string]*edge
	names   []string // sorted
	def     *edge
	defName string
	defErr  error // why there is no default port

	// closing guards sends against the release of the edges: a sender holds
	// the read lock while it sends, release takes the write lock. Receivers
	// send from many goroutines; for processors it is uncontended.
	closing sync.RWMutex
	closed  bool
}

func newOutputs(ports map[string]*edge, defaultOutput string) *outputs {
	o := &outputs{ports: ports}
	for p := range ports {
		o.names = append(o.names, p)
	}
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

func (o *outputs) port(name string) (*edge, error) {
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

// send delivers m on port, waiting for room unless try is set, or until
// ctx ends; abort is the pipeline's deadline channel. On error the caller
// keeps m.
func (o *outputs) send(ctx context.Context, abort <-chan struct{}, port string, m *pdata.Message, try bool) error {
	e, err := o.port(port)
	if err != nil {
		return err
	}
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
	for _, e := range o.ports {
		e.release()
	}
}
