package nodetest_test

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gated records what it is given; its gate is set by the test. Each pdata
// makes it post itself 40 controls, more than the fairness cap.
type gated struct {
	open   bool
	events []string
	held   []*pdata.Message
}

func (g *gated) AcceptPData() bool { return g.open }

func (g *gated) Pending() int { return len(g.held) }

func (g *gated) OnPData(m *pdata.Message, fx engine.Effects) error {
	g.events = append(g.events, "pdata")
	g.held = append(g.held, m)
	for range 40 {
		fx.Post(nil)
	}
	return nil
}

func (g *gated) OnControl(c engine.Control, fx engine.Effects) error {
	g.events = append(g.events, c.Kind.String())
	if c.Kind == engine.KindShutdown && c.Forced {
		for _, m := range g.held {
			fx.NotifyNack(m, pdata.Nack{Reason: "forced", Cause: pdata.CauseNodeShutdown})
		}
		g.held = nil
	}
	return nil
}

func newGated(t *testing.T, g *gated) *nodetest.Harness {
	f := engine.Factory{Type: "processor:gated", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return g, nil }}
	return nodetest.New(t, f, "")
}

func msg() *pdata.Message { return pdata.New(pdata.FromOTLPChunks(pdata.Logs, nil, 1)) }

func TestHarnessAppliesTheFairnessCap(t *testing.T) {
	g := &gated{}
	h := newGated(t, g)
	h.SendPData(msg())
	h.SendPData(msg()) // both wait behind the closed gate
	g.open = true
	h.DeliverAsync() // the first posts 40 controls: the second comes after 32 of them
	var posts []int
	n := 0
	for _, e := range g.events {
		if e == "pdata" {
			posts = append(posts, n)
			n = 0
			continue
		}
		n++
	}
	if len(posts) != 2 || posts[1] != 32 {
		t.Fatalf("controls before each pdata: %v, want [0 32] (the fairness cap)", posts)
	}
}

func TestHarnessForcedShutdownStrandsQueuedPData(t *testing.T) {
	g := &gated{open: true}
	h := newGated(t, g)
	held := h.SendPData(msg())
	g.open = false
	queued := h.SendPData(msg())
	if h.Queued() != 1 {
		t.Fatalf("queued = %d behind a closed gate, want 1", h.Queued())
	}
	h.ForceShutdown()
	out := h.RequireNacked(held, queued)
	for _, o := range out {
		if o.Nack.Cause != pdata.CauseNodeShutdown {
			t.Fatalf("input %d nacked with %v, want node_shutdown", o.ID, o.Nack.Cause)
		}
	}
	if !h.OutputsClosed() {
		t.Fatal("outputs open after the forced Shutdown")
	}
}

func TestHarnessShutdownWaitsForTheGateToDeliverQueuedPData(t *testing.T) {
	g := &gated{}
	h := newGated(t, g)
	h.SendPData(msg())
	h.Shutdown(nodetest.Start)
	for _, e := range g.events {
		if e == "shutdown" {
			t.Fatalf("Shutdown delivered with pdata still queued behind the gate: %v", g.events)
		}
	}
	g.open = true
	h.DeliverAsync()
	if got := g.events[len(g.events)-1]; got != "shutdown" || g.events[0] != "pdata" {
		t.Fatalf("events %v: want the queued pdata, then Shutdown", g.events)
	}
	if h.State() != engine.LifeClosing {
		t.Fatalf("state %s with a message held after Shutdown, want closing", h.State())
	}
}

// idler acks what it gets and logs the harness's steps.
type idler struct{ events []string }

func (n *idler) OnPData(m *pdata.Message, fx engine.Effects) error {
	n.events = append(n.events, "pdata")
	fx.NotifyAck(m)
	return nil
}

func (n *idler) OnControl(engine.Control, engine.Effects) error { return nil }

func (n *idler) OnIdle(engine.Effects) error {
	n.events = append(n.events, "idle")
	return nil
}

func TestHarnessCallsOnIdleAfterEachBurst(t *testing.T) {
	n := &idler{}
	f := engine.Factory{Type: "exporter:idler", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return n, nil }}
	h := nodetest.New(t, f, "")
	ids := h.SendBurst(msg(), msg(), msg())
	h.SendPData(msg())
	want := "pdata pdata pdata idle pdata idle"
	if got := strings.Join(n.events, " "); got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	h.RequireAcked(append(ids, ids[2]+1)...)
}
