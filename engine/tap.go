package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/pdata"
)

// Errors returned by Engine.Tap.
var (
	// ErrUnknownNode: no pipeline has a node of that name (or not the
	// pipeline named).
	ErrUnknownNode = errors.New("engine: unknown node")
	// ErrAmbiguousNode: several pipelines have a node of that name and no
	// pipeline was named.
	ErrAmbiguousNode = errors.New("engine: node name used in several pipelines")
)

// DefaultTapBuffer is the samples a tap holds for its reader when
// TapOptions.Buffer is zero.
const DefaultTapBuffer = 64

// tapTickMin is the shortest period at which a rate-limited tap refills
// its sample budget.
const tapTickMin = 100 * time.Millisecond

// TapOptions selects the output port a tap watches and how much it takes.
type TapOptions struct {
	// Pipeline is "group/pipeline", or just the pipeline's name when no
	// other group has one of that name; empty: any pipeline with a node
	// named Node, which must then be the only one.
	Pipeline string
	// Node is the node whose output is tapped.
	Node string
	// Port is the output port; empty: the node's default port.
	Port string
	// Buffer is how many samples wait for the reader; when it is full,
	// further samples are dropped and counted. Default DefaultTapBuffer.
	Buffer int
	// Rate is the most samples per second the tap takes (0: no limit but
	// the buffer). Messages skipped by the rate are not counted as dropped.
	Rate float64
}

// TapSample is one message seen on a tapped port, after it was sent.
type TapSample struct {
	// Copy is the pipeline copy that sent it.
	Copy int
	// Payload is the message's payload: immutable and shared with the
	// pipeline. Read it without changing it; decoding a private copy of
	// its bytes (AppendOTLP) leaves the pipeline's payload untouched.
	Payload *pdata.Payload
}

// Tap samples the messages sent on one output port of a node, in every
// copy of its pipeline: a bounded buffer the sender fills without ever
// waiting, as an observer. It never holds a message, acks or nacks one, or
// slows a sender: it keeps a reference to the (immutable) payload of what
// was already sent, and drops samples its buffer has no room for.
type Tap struct {
	// C delivers the samples. It is never closed: stop reading at Done.
	C <-chan TapSample

	// Pipeline, Node and Port say what is tapped (Port resolved from the
	// node's default when the options named none).
	Pipeline, Node, Port string

	ch      chan TapSample
	rated   bool
	credits atomic.Int64 // samples the rate still allows in this period
	grant   int64        // credits per period
	period  time.Duration
	dropped atomic.Uint64
	taken   atomic.Uint64

	ports    []*port
	p        []*pipeline
	closeC   chan struct{}
	closeOne sync.Once
	done     chan struct{}
}

// tapRef is a tap as one copy's port holds it.
type tapRef struct {
	t    *Tap
	copy int
}

// offer hands the tap a payload just sent by pipeline copy cp, whose
// leases the caller holds. It never blocks.
func (t *Tap) offer(cp int, p *pdata.Payload) {
	if t.rated {
		for {
			c := t.credits.Load()
			if c <= 0 {
				return
			}
			if t.credits.CompareAndSwap(c, c-1) {
				break
			}
		}
	}
	// The reader may look at the bytes at any time once the sample is in
	// the buffer: their transport buffers are never given back for reuse
	// (the garbage collector reclaims them once the sample is gone). The
	// sender holds the leases meanwhile (outputs.send).
	p.Leases().Retain()
	select {
	case t.ch <- TapSample{Copy: cp, Payload: p}:
		t.taken.Add(1)
	default:
		p.Leases().Release()
		t.dropped.Add(1)
	}
}

// Dropped is the samples lost because the buffer was full: the reader was
// slower than the traffic (the pipeline never waits for it).
func (t *Tap) Dropped() uint64 { return t.dropped.Load() }

// Taken is the samples put in the buffer.
func (t *Tap) Taken() uint64 { return t.taken.Load() }

// Done is closed once the tap is detached: after Close, or when every copy
// of the tapped pipeline has stopped. Samples may remain in C.
func (t *Tap) Done() <-chan struct{} { return t.done }

// Close detaches the tap. Idempotent; safe from any goroutine.
func (t *Tap) Close() {
	t.closeOne.Do(func() { close(t.closeC) })
	<-t.done
}

// Tap attaches a tap to a node's output port in every copy of its
// pipeline. The caller must Close it (or let the pipeline stop). An
// exporter has no output port to tap.
func (e *Engine) Tap(o TapOptions) (*Tap, error) {
	copies, err := e.findNode(o.Pipeline, o.Node)
	if err != nil {
		return nil, err
	}
	first := copies[0].nodes[copies[0].nodeIndex(o.Node)]
	if first.kind == config.KindExporter {
		return nil, fmt.Errorf("%w: node %q of pipeline %s is an exporter: it has no output to tap; tap the node that feeds it",
			ErrUnknownPort, o.Node, first.p.name)
	}
	buf := o.Buffer
	if buf <= 0 {
		buf = DefaultTapBuffer
	}
	t := &Tap{
		ch: make(chan TapSample, buf), Pipeline: first.p.name, Node: o.Node,
		closeC: make(chan struct{}), done: make(chan struct{}),
	}
	t.C = t.ch
	if o.Rate > 0 && !math.IsInf(o.Rate, 1) {
		t.rated = true
		t.period = max(tapTickMin, time.Duration(float64(time.Second)/o.Rate))
		t.grant = max(1, int64(math.Round(o.Rate*t.period.Seconds())))
		t.credits.Store(t.grant)
	}
	for _, p := range copies {
		n := p.nodes[p.nodeIndex(o.Node)]
		pt, err := n.out.port(o.Port)
		if err != nil {
			return nil, fmt.Errorf("tap %s of pipeline %s: %w", o.Node, p.name, err)
		}
		t.Port = pt.name
		t.ports = append(t.ports, pt)
		t.p = append(t.p, p)
	}
	for i, pt := range t.ports {
		t.p[i].attach(pt, tapRef{t: t, copy: t.p[i].copy})
	}
	go t.run(e)
	return t, nil
}

// run refills the rate budget every period and detaches the tap at Close
// or once every tapped copy has stopped.
func (t *Tap) run(e *Engine) {
	defer close(t.done)
	defer t.detach()
	var tick <-chan time.Time
	if t.rated {
		tm := e.clock.NewTimer(t.period)
		defer tm.Stop()
		tick = tm.C()
		for i := 0; i < len(t.p); {
			select {
			case <-t.p[i].doneC:
				i++
			case <-t.closeC:
				return
			case <-tick:
				t.credits.Store(t.grant)
				tm.Reset(t.period)
			}
		}
		return
	}
	for _, p := range t.p {
		select {
		case <-p.doneC:
		case <-t.closeC:
			return
		}
	}
}

func (t *Tap) detach() {
	for i, pt := range t.ports {
		t.p[i].detach(pt, t)
	}
}

// attach adds t to the port's taps (copy on write: senders read the list
// without a lock).
func (p *pipeline) attach(pt *port, r tapRef) {
	p.tapMu.Lock()
	defer p.tapMu.Unlock()
	var list []tapRef
	if cur := pt.taps.Load(); cur != nil {
		list = slices.Clone(*cur)
	}
	list = append(list, r)
	pt.taps.Store(&list)
}

func (p *pipeline) detach(pt *port, t *Tap) {
	p.tapMu.Lock()
	defer p.tapMu.Unlock()
	cur := pt.taps.Load()
	if cur == nil {
		return
	}
	list := slices.DeleteFunc(slices.Clone(*cur), func(x tapRef) bool { return x.t == t })
	if len(list) == 0 {
		pt.taps.Store(nil)
		return
	}
	pt.taps.Store(&list)
}

// nodeIndex is the index of the node called name, or -1.
func (p *pipeline) nodeIndex(name string) int {
	return slices.IndexFunc(p.nodes, func(n *node) bool { return n.name == name })
}

// findNode returns every copy of the one pipeline that has a node called
// name and matches pipeline ("group/pipeline", "pipeline" or empty).
func (e *Engine) findNode(pipeline, name string) ([]*pipeline, error) {
	var matches []*ledger
	for _, l := range e.ledgers {
		if pipeline != "" && l.name != pipeline && !strings.HasSuffix(l.name, "/"+pipeline) {
			continue
		}
		if l.copies[0].nodeIndex(name) >= 0 {
			matches = append(matches, l)
		}
	}
	switch len(matches) {
	case 0:
		if pipeline != "" {
			return nil, fmt.Errorf("%w %q in pipeline %q (pipelines: %s)", ErrUnknownNode, name, pipeline, e.pipelineList())
		}
		return nil, fmt.Errorf("%w %q (pipelines: %s)", ErrUnknownNode, name, e.pipelineList())
	case 1:
		return matches[0].copies, nil
	}
	var names []string
	for _, l := range matches {
		names = append(names, l.name)
	}
	return nil, fmt.Errorf("%w: %q is in %s; name the pipeline", ErrAmbiguousNode, name, strings.Join(names, ", "))
}

func (e *Engine) pipelineList() string {
	var names []string
	for _, l := range e.ledgers {
		names = append(names, l.name)
	}
	return strings.Join(names, ", ")
}
