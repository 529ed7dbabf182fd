package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// pipeline is one running copy of a configured pipeline: its nodes, the
// channels between them, and the signals of its shutdown.
type pipeline struct {
	name   string // "group/pipeline"
	copy   int
	copies int
	clock  clock.Clock
	log    *slog.Logger
	ledger *ledger // the item accounting, shared by the copies
	nodes  []*node // indexed by pdata.NodeID
	recvs  []*node // the receivers among nodes
	edges  []*edge
	onFail func(error)
	tapMu  sync.Mutex // serializes changes to the ports' tap lists

	drainOnce sync.Once
	drainC    chan struct{} // closed: receivers stop admitting
	deadline  atomic.Pointer[time.Time]
	latchC    chan struct{} // closed: every receiver stopped admitting
	abortOnce sync.Once
	abortC    chan struct{}  // closed: the shutdown deadline is reached
	receivers sync.WaitGroup // receivers still admitting
	running   sync.WaitGroup
	doneC     chan struct{} // closed: every node goroutine has returned
}

// node is one configured node in one pipeline copy.
type node struct {
	id      pdata.NodeID
	name    string
	kind    config.Kind
	typ     string
	p       *pipeline
	metrics *nodeMetrics
	out     *outputs

	recv Receiver    // receivers only
	adm  *admissions // receivers only: what they admitted, by signal and time
	proc Processor
	in   *loop // processors and exporters only
	// unseen counts items the node nacked without having received them
	// (stranded at the deadline, or refused after it failed), so that an
	// exporter's items in flight can be told from its counters.
	unseen atomic.Uint64

	state  atomic.Uint32 // Lifecycle, for status
	failed error         // set by the node goroutine when the node failed

	consumers  []*node
	doneC      chan struct{} // closed when the node's goroutine returns
	downstream chan struct{} // closed when every consumer of its outputs is done
}

// buildOptions carries what every pipeline copy shares.
type buildOptions struct {
	registry *Registry
	metrics  *telemetry.Registry
	clock    clock.Clock
	log      *slog.Logger
	onFail   func(error)
	ledgers  map[string]*ledger // by pipeline name, shared by its copies
	coarse   *coarseClock       // the ledgers' stamp clock
}

func buildPipeline(doc *config.Document, g *config.Group, cp *config.Pipeline, copyIndex, copies int, o buildOptions) (*pipeline, error) {
	w, err := wire(cp)
	if err != nil {
		return nil, err
	}
	pol := doc.Resolved(cp)
	p := &pipeline{
		name:   g.Name + "/" + cp.Name,
		copy:   copyIndex,
		copies: copies,
		clock:  o.clock,
		log:    o.log.With("pipeline", g.Name+"/"+cp.Name, "copy", copyIndex),
		onFail: o.onFail,
		drainC: make(chan struct{}),
		latchC: make(chan struct{}),
		abortC: make(chan struct{}),
		doneC:  make(chan struct{}),
	}
	p.ledger = o.ledgers[p.name]
	if p.ledger == nil {
		p.ledger = newLedger(o.metrics, p.name, o.coarse, o.log)
		o.ledgers[p.name] = p.ledger
	}
	p.ledger.copies = append(p.ledger.copies, p)
	// runtime_metrics: none keeps the engine's per-node series (counters,
	// scheduler) out of the registry; the pipeline's item accounting and
	// the nodes' own metrics stay. The other levels export everything.
	runtimeReg := o.metrics
	if pol.Telemetry.RuntimeMetrics == config.MetricsNone {
		runtimeReg = nil
	}

	edges := make(map[*edgeSpec]*edge, len(w.edges))
	for _, es := range w.edges {
		e := &edge{name: es.name, dests: es.dests, ch: make(chan *pdata.Message, pol.ChannelCapacity.PData)}
		e.sources.Store(int32(len(es.sources)))
		edges[es] = e
		p.edges = append(p.edges, e)
	}

	for i, cn := range cp.Nodes {
		f, ok := o.registry.Lookup(cn.Type)
		if !ok {
			return nil, fmt.Errorf("pipeline %s: node %q: unknown type %q", p.name, cn.Name, cn.Type)
		}
		labels := telemetry.Labels("pipeline", p.name, "node", cn.Name)
		n := &node{
			id: pdata.NodeID(i), name: cn.Name, kind: cn.Kind, typ: cn.Type, p: p,
			metrics: newNodeMetrics(runtimeReg, labels),
			doneC:   make(chan struct{}), downstream: make(chan struct{}),
		}
		ports := map[string]*edge{}
		for pk, es := range w.out {
			if pk.node == cn.Name {
				ports[pk.port] = edges[es]
			}
		}
		n.out = newOutputs(ports, cn.DefaultOutput)
		nc := NodeContext{
			Node: cn, Pipeline: p.name, Copy: copyIndex, Copies: copies, Clock: o.clock,
			Logger:  p.log.With("node", cn.Name),
			Metrics: o.metrics, Labels: labels,
		}
		if cn.Kind == config.KindReceiver {
			nc.ReuseBuffers = releasesBelow(o.registry, cp, w, cn.Name)
			if n.recv, err = f.NewReceiver(nc); err != nil {
				return nil, fmt.Errorf("pipeline %s: receiver %q: %w", p.name, cn.Name, err)
			}
			n.adm = new(admissions)
			p.recvs = append(p.recvs, n)
		} else {

			if n.proc, err = f.NewProcessor(nc); err != nil {
				return nil, fmt.Errorf("pipeline %s: node %q: %w", p.name, cn.Name, err)
			}
			var input <-chan *pdata.Message
			if es := w.in[cn.Name]; es != nil {
				input = edges[es].ch
			}
			n.in = p.newInbox(n, input, pol, runtimeReg, labels)
		}
		p.nodes = append(p.nodes, n)
	}
	p.linkDownstream(w)
	return p, nil
}

// releasesBelow reports whether every node of cp fed, directly or not, by
// the node named from declares Factory.ReleasesPayloads.
func releasesBelow(r *Registry, cp *config.Pipeline, w *wiring, from string) bool {
	types := make(map[string]string, len(cp.Nodes))
	for _, n := range cp.Nodes {
		types[n.Name] = n.Type
	}
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for pk, es := range w.out {
			if pk.node != name {
				continue
			}
			for _, d := range es.dests {
				if seen[d] {
					continue
				}
				seen[d] = true
				if f, ok := r.Lookup(types[d]); !ok || !f.ReleasesPayloads {
					return false
				}
				queue = append(queue, d)
			}
		}
	}
	return true
}

// linkDownstream closes each node's downstream channel once every node
// reading its outputs is done.
func (p *pipeline) linkDownstream(w *wiring) {
	byName := make(map[string]*node, len(p.nodes))
	for _, n := range p.nodes {
		byName[n.name] = n
	}
	for _, n := range p.nodes {
		var consumers []*node
		for pk, es := range w.out {
			if pk.node != n.name {
				continue
			}
			for _, d := range es.dests {
				if c := byName[d]; c != nil && !slices.Contains(consumers, c) {
					consumers = append(consumers, c)
				}
			}
		}
		if n.in != nil {
			n.in.downstream = n.downstream
		}
		n.consumers = consumers
	}
}

// watchDownstream closes n.downstream when its consumers are done.
func (n *node) watchDownstream() {
	for _, c := range n.consumers {
		<-c.doneC
	}
	close(n.downstream)
}

func (p *pipeline) newInbox(n *node, input <-chan *pdata.Message, pol config.ResolvedPolicies, reg *telemetry.Registry, labels []telemetry.Label) *loop {
	slots := 0
	if w, ok := n.proc.(WakeupUser); ok {
		slots = w.WakeupSlots()
	}
	l := &loop{
		clock: p.clock,
		input: input,
		ctrl:  newCtrlQueue(pol.ChannelCapacity.Control.Node, func(Control) { n.metrics.lost.Inc() }),
		latch: p.latchC,
		abort: p.abortC,
	}
	cfg := InboxConfig{
		Control: l.ctrl,
		// Gauges are per copy (a shared series would be last-writer-wins).
		Scheduler: wakeup.NewScheduler(slots, wakeup.NewMetrics(reg, copyLabels(labels, p.copy)...)),
		Resumes:   wakeup.NewResumes[*pdata.Message](pol.ChannelCapacity.PData, wakeup.NewResumeMetrics(reg, copyLabels(labels, p.copy)...)),
		Deadline: func() time.Time {
			if d := p.deadline.Load(); d != nil {
				return *d
			}
			return time.Time{}
		},
	}
	if input != nil {
		cfg.Input = l.input
	}
	// After a failure the engine answers in the node's place: the gate is
	// open (data is nacked) and nothing is pending. A panic in either
	// method fails the node like one in OnPData.
	if g, ok := n.proc.(Gate); ok {
		cfg.Gate = func() bool {
			if n.failed != nil {
				return true
			}
			open := true
			if err := n.protect(func() error { open = g.AcceptPData(); return nil }); err != nil {
				n.failNode(err, &Step{}, &procEffects{n: n})
			}
			return open
		}
	}
	_, cfg.Idler = n.proc.(Idler)
	if d, ok := n.proc.(Drainer); ok {
		cfg.Pending = func() int {
			if n.failed != nil {
				return 0
			}
			pending := 0
			if err := n.protect(func() error { pending = d.Pending(); return nil }); err != nil {
				n.failNode(err, &Step{}, &procEffects{n: n})
			}
			return pending
		}
	}
	l.Inbox = NewInbox(cfg)
	return l
}

func copyLabels(labels []telemetry.Label, copyIndex int) []telemetry.Label {
	return telemetry.With(labels, telemetry.Label{Name: "copy", Value: strconv.Itoa(copyIndex)})
}

// start launches every node goroutine: downstream nodes first, so that
// receivers never send into a channel nobody reads yet.
func (p *pipeline) start() {
	for _, n := range p.nodes {
		p.running.Add(1)
		go func() {
			defer p.running.Done()
			n.watchDownstream()
		}()
	}
	for _, n := range p.nodes {
		if n.recv == nil {
			p.running.Add(1)
			go n.runProcessor()
		}
	}
	for _, n := range p.nodes {
		if n.recv != nil {
			p.running.Add(1)
			p.receivers.Add(1)
			go n.runReceiver()
		}
	}
	go func() {
		p.receivers.Wait()
		close(p.latchC)
	}()
	go func() {
		p.running.Wait()
		p.sweep()
		close(p.doneC)
	}()
}

// drain asks the receivers to stop admitting. deadline is when abort will
// be called; nodes see it in their Shutdown message.
func (p *pipeline) drain(deadline time.Time) {
	p.drainOnce.Do(func() {
		p.deadline.Store(&deadline)
		close(p.drainC)
	})
}

// abort is the deadline: everything still held is answered now.
func (p *pipeline) abort() {
	p.drain(p.clock.Now())
	p.abortOnce.Do(func() { close(p.abortC) })
}

// sweep nacks what is left in the channels once every node has returned:
// messages sent to a node that stopped at the deadline.
func (p *pipeline) sweep() {
	for _, e := range p.edges {
		for {
			var m *pdata.Message
			var ok bool
			select {
			case m, ok = <-e.ch:
			default:
			}
			if !ok {
				break
			}
			p.route(m, false, pdata.Nack{
				Reason: fmt.Sprintf("pipeline %s stopped before %s delivered it", p.name, e.name),
				Cause:  pdata.CauseNodeShutdown,
			}, false)
		}
	}
}

// route delivers the outcome of m to the nearest interested frame: the
// engine's ack/nack routing. It runs on the notifying goroutine and never
// blocks: control queues are unbounded, receivers' OnOutcome must not block.
func (p *pipeline) route(m *pdata.Message, ack bool, n pdata.Nack, dropped bool) {
	want, kind := pdata.Nacks, KindNack
	if ack {
		want, kind = pdata.Acks, KindAck
	}
	f, ok := m.Unwind(want)
	if !ok {
		return
	}
	if int(f.Node) >= len(p.nodes) {
		p.log.Error("outcome routed to an unknown node; dropped", "node_id", f.Node)
		return
	}
	if f.Interests&pdata.Ingress != 0 {
		p.settle(f, m.Items(), m.Dropped(), ack, dropped)
		f.CallData[2] = 0 // the engine's admission stamp, not the receiver's
	}
	if f.Interests&want == 0 {
		return // only the engine's ingress frame was interested
	}
	c := Control{Kind: kind, Msg: m, CallData: f.CallData, Nack: n}
	target := p.nodes[f.Node]
	if target.recv != nil {
		target.recv.OnOutcome(c)
		return
	}
	target.in.ctrl.push(c)
}

// settle accounts for the final outcome of an admitted message, which
// came back to its ingress frame f: the outcome counter of its signal and
// the admitting receiver's settlement ring, at the admission time the
// stamp recorded.
func (p *pipeline) settle(f pdata.Frame, items, removed int, ack, dropped bool) {
	sig, t, stamped := parseStamp(f.CallData[2])
	sig = signalIndex(sig)
	c := &p.ledger.flow[sig]
	switch {
	case dropped:
		c.dropped.Add(uint64(items + removed))
	case ack:
		c.delivered.Add(uint64(items))
	default:
		c.nacked.Add(uint64(items))
	}
	if removed > 0 && !dropped {
		c.dropped.Add(uint64(removed)) // removed on purpose on the way (DropPart)
	}
	if r := p.nodes[f.Node]; stamped && r.adm != nil {
		r.adm[sig].out.add(t, uint64(items+removed))
	}
}

// runReceiver runs a receiver. When the drain starts its context is
// cancelled and its outputs are closed at once (after the sends in
// progress), so the shutdown wave starts downstream while the receiver
// still waits for the outcomes of what it admitted.
func (n *node) runReceiver() {
	p := n.p
	defer p.running.Done()
	defer close(n.doneC)
	defer n.state.Store(uint32(LifeDone))
	ctx, cancel := context.WithCancel(context.Background())
	stopAdmitting := sync.OnceFunc(func() {
		n.out.close()
		n.state.Store(uint32(LifeDraining))
		p.receivers.Done()
	})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-p.drainC:
			cancel()
			stopAdmitting()
		case <-ctx.Done():
		}
	}()
	err := n.protect(func() error { return n.recv.Run(ctx, &receiverEffects{n}) })
	cancel()
	<-watched
	stopAdmitting()
	if err != nil {
		n.fail(err)
	}
}

// runProcessor is the node goroutine of a processor or exporter: the inbox
// decides what comes next, the node handles it.
func (n *node) runProcessor() {
	p := n.p
	defer p.running.Done()
	defer close(n.doneC)
	fx := &procEffects{n: n}
	if s, ok := n.proc.(Starter); ok {
		if err := n.protect(func() error { return s.Start(fx) }); err != nil {
			n.failNode(err, &Step{}, fx)
		}
	}
	for {
		st := n.in.next()
		n.state.Store(uint32(n.in.State()))
		switch st.Kind {
		case StepDone:
			n.out.close()
			for range n.in.ctrl.close() {
				n.metrics.lost.Inc()
			}
			return
		case StepCloseOutputs:
			n.out.close()
		case StepStrand:
			n.strand(st.PData)
		case StepPData, StepControl:
			n.deliver(&st, fx)
		case StepIdle:
			if n.failed == nil {
				if err := n.protect(func() error { return n.proc.(Idler).OnIdle(fx) }); err != nil {
					n.failNode(err, &st, fx)
				}
			}
		}
	}
}

// deliver hands one message to the node, or answers in its place once it
// failed.
func (n *node) deliver(st *Step, fx *procEffects) {
	if n.failed != nil {
		n.passOn(st, fx)
		return
	}
	var err error
	if m := st.PData; m != nil {
		n.metrics.received.Add(uint64(m.Items()))
		err = n.protect(func() error { return n.proc.OnPData(m, fx) })
	} else {
		err = n.protect(func() error { return n.proc.OnControl(st.Control, fx) })
	}
	if err != nil {
		n.failNode(err, st, fx)
	}
}

// failNode takes a node that returned an error (or panicked) out of the
// data path. By contract it has not handed on the message it failed on, so
// that one is nacked; the node then gets a forced Shutdown to answer what it
// holds, its outputs close, and from then on the engine answers in its
// place (passOn). The engine reports the failure and shuts down.
func (n *node) failNode(err error, st *Step, fx *procEffects) {
	n.failed = fmt.Errorf("node %q: %w", n.name, err)
	n.fail(n.failed)
	if st.Kind == StepPData {
		n.nack(st.PData, n.failed.Error(), pdata.CauseUnspecified)
	}
	if !(st.Kind == StepControl && st.Control.Kind == KindShutdown && st.Control.Forced) {
		forced := Control{Kind: KindShutdown, Deadline: n.in.cfg.Deadline(), Forced: true}
		if err := n.protect(func() error { return n.proc.OnControl(forced, fx) }); err != nil {
			n.p.log.Error("failed node could not answer what it held", "node", n.name, "err", err)
		}
	}
	n.in.Scheduler().BeginShutdown()
	n.out.close()
}

// passOn answers for a failed node: new data is nacked, outcomes travel on
// upstream as they came, resumed data is nacked.
func (n *node) passOn(st *Step, fx *procEffects) {
	if st.Kind == StepPData {
		n.unseen.Add(uint64(st.PData.Items()))
		n.nack(st.PData, n.failed.Error(), pdata.CauseUnspecified)
		return
	}
	c := st.Control
	switch c.Kind {
	case KindAck:
		fx.NotifyAck(c.Msg)
	case KindNack:
		fx.NotifyNack(c.Msg, c.Nack)
	case KindResume:
		n.nack(c.Msg, n.failed.Error(), pdata.CauseUnspecified)
	}
}

func (n *node) nack(m *pdata.Message, reason string, cause pdata.Cause) {
	n.metrics.nack(cause, m.Items())
	n.p.route(m, false, pdata.Nack{Reason: reason, Cause: cause}, false)
}

// protect turns a panic in node code into an error, so one faulty node
// fails its pipeline loudly instead of killing the process silently.
func (n *node) protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

// fail reports a node failure; the engine shuts down and exits non-zero.
func (n *node) fail(err error) {
	n.p.log.Error("node failed", "node", n.name, "err", err)
	if n.p.onFail != nil {
		n.p.onFail(fmt.Errorf("pipeline %s: %w", n.p.name, err))
	}
}

// strand nacks a message the node never got to handle before the deadline.
func (n *node) strand(m *pdata.Message) {
	n.unseen.Add(uint64(m.Items()))
	n.nack(m, fmt.Sprintf("node %q stopped at the shutdown deadline before handling the data", n.name), pdata.CauseNodeShutdown)
}
