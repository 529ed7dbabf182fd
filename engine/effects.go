package engine

import (
	"context"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
)

// procEffects is Effects for processors and exporters.
type procEffects struct{ n *node }

var _ Effects = (*procEffects)(nil)

func (fx *procEffects) Now() time.Time { return fx.n.p.clock.Now() }

func (fx *procEffects) Send(m *pdata.Message) error { return fx.send("", m, false) }

func (fx *procEffects) SendTo(port string, m *pdata.Message) error { return fx.send(port, m, false) }

func (fx *procEffects) TrySend(m *pdata.Message) error { return fx.send("", m, true) }

func (fx *procEffects) TrySendTo(port string, m *pdata.Message) error {
	return fx.send(port, m, true)
}

func (fx *procEffects) send(port string, m *pdata.Message, try bool) error {
	items := m.Items()
	if err := fx.n.out.send(context.Background(), fx.n.p.abortC, port, m, items, try); err != nil {
		return err
	}
	fx.n.metrics.sent.Add(uint64(items))
	return nil
}

func (fx *procEffects) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(fx.n.id, in&^pdata.Ingress, cd)
}

func (fx *procEffects) NotifyAck(m *pdata.Message) {
	fx.n.metrics.acked.Add(uint64(m.Items()))
	fx.n.p.route(m, true, pdata.Nack{}, false)
}

func (fx *procEffects) NotifyNack(m *pdata.Message, n pdata.Nack) {
	fx.n.metrics.nack(n.Cause, m.Items())
	fx.n.p.route(m, false, n, false)
}

func (fx *procEffects) SetWakeup(slot wakeup.Slot, when time.Time) (wakeup.Revision, bool, error) {
	return fx.n.in.Scheduler().Set(slot, when)
}

func (fx *procEffects) CancelWakeup(slot wakeup.Slot) bool { return fx.n.in.Scheduler().Cancel(slot) }

func (fx *procEffects) RequeueLater(when time.Time, m *pdata.Message) error {
	return fx.n.in.Resumes().Push(when, m)
}

func (fx *procEffects) StartTimer(period time.Duration) {
	fx.n.in.StartTimer(fx.Now(), period)
}

func (fx *procEffects) Post(v any) {
	fx.n.in.ctrl.push(Control{Kind: KindPosted, Value: v})
}

func (fx *procEffects) Drop(m *pdata.Message, reason string) {
	fx.n.metrics.drop(reason, m.Items())
	fx.n.p.route(m, true, pdata.Nack{}, true)
}

func (fx *procEffects) DropPart(m *pdata.Message, kept *pdata.Payload, reason string) {
	fx.n.metrics.drop(reason, m.Shrink(kept))
}

func (fx *procEffects) Ports() []string { return fx.n.out.names }

// receiverEffects is ReceiverEffects; every method is safe for concurrent
// use by the receiver's goroutines.
type receiverEffects struct{ n *node }

var _ ReceiverEffects = (*receiverEffects)(nil)

func (fx *receiverEffects) Now() time.Time { return fx.n.p.clock.Now() }

func (fx *receiverEffects) Send(ctx context.Context, m *pdata.Message) error {
	return fx.send(ctx, "", m, false)
}

func (fx *receiverEffects) SendTo(ctx context.Context, port string, m *pdata.Message) error {
	return fx.send(ctx, port, m, false)
}

func (fx *receiverEffects) TrySend(m *pdata.Message) error {
	return fx.send(context.Background(), "", m, true)
}

// send admits m into the pipeline. The ingress frame makes its final
// outcome come back to this node, where the engine accounts for it; its
// stamp says when m was admitted and which signal it carries (see
// makeStamp). The admission ring counts the items before the send (they
// may be settled downstream before it returns), the admitted counter
// after it succeeded.
func (fx *receiverEffects) send(ctx context.Context, port string, m *pdata.Message, try bool) error {
	n := fx.n
	items := m.Items()
	var sig pdata.Signal
	if pl := m.Payload(); pl != nil {
		sig = signalIndex(pl.Signal())
	}
	t := n.p.ledger.stampTime()
	cd := pdata.CallData{}
	if f, ok := m.Top(); ok && f.Node == n.id {
		cd = f.CallData
	}
	cd[2] = makeStamp(sig, t)
	m.MarkIngress(n.id)
	m.Subscribe(n.id, 0, cd) // merges into the ingress frame: sets the stamp
	adm := &n.adm[sig]
	adm.in.add(t, uint64(items))
	if err := n.out.send(ctx, n.p.abortC, port, m, items, try); err != nil {
		adm.out.add(t, uint64(items)) // refused: the caller keeps m
		return err
	}
	n.metrics.sent.Add(uint64(items))
	n.p.ledger.flow[sig].admitted.Add(uint64(items))
	return nil
}

func (fx *receiverEffects) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	cd[2] = 0 // the engine's: see ReceiverEffects.Subscribe
	m.Subscribe(fx.n.id, in&^pdata.Ingress, cd)
}

func (fx *receiverEffects) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	if fx.n.p.copies > 1 {
		// Only copies share a port: a second ackflow process binding the
		// same address must fail, not silently take half the traffic.
		lc.Control = reusePort
	}
	l, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s %s: %w", network, addr, err)
	}
	return l, nil
}

// reusePort lets every copy of a pipeline bind the same address; the
// kernel spreads connections between them.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

func (fx *receiverEffects) Aborted() <-chan struct{} { return fx.n.p.abortC }

func (fx *receiverEffects) Drop(m *pdata.Message, reason string) {
	fx.n.metrics.drop(reason, m.Items())
}

func (fx *receiverEffects) Ports() []string { return fx.n.out.names }
