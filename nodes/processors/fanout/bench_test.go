package fanout_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/nodes/processors/fanout"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// benchFx is a lean engine.Effects: sends append to one slice, outcomes
// are routed synchronously as the engine would (unwind to the nearest
// interested frame), wakeups only count revisions. It lets the benchmarks
// measure the processor, not a harness.
type benchFx struct {
	node     engine.Processor
	now      time.Time
	out      []*pdata.Message
	closed   string // a port whose output is closed ("" = none)
	full     string // a port whose output has no room ("" = none)
	rev      wakeup.Revision
	upAcks   int
	upNacks  int
	lastNack pdata.Nack
	dropped  int
}

const (
	benchUpstream pdata.NodeID = 1
	benchNode     pdata.NodeID = 2
)

func (fx *benchFx) Now() time.Time                          { return fx.now }
func (fx *benchFx) Send(m *pdata.Message) error             { return fx.TrySendTo("default", m) }
func (fx *benchFx) TrySend(m *pdata.Message) error          { return fx.TrySendTo("default", m) }
func (fx *benchFx) SendTo(p string, m *pdata.Message) error { return fx.TrySendTo(p, m) }
func (fx *benchFx) TrySendTo(p string, m *pdata.Message) error {
	switch p {
	case fx.closed:
		return engine.ErrClosed
	case fx.full:
		return engine.ErrFull
	}
	fx.out = append(fx.out, m)
	return nil
}
func (fx *benchFx) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(benchNode, in, cd)
}
func (fx *benchFx) NotifyAck(m *pdata.Message)                { fx.route(m, true, pdata.Nack{}) }
func (fx *benchFx) NotifyNack(m *pdata.Message, n pdata.Nack) { fx.route(m, false, n) }
func (fx *benchFx) SetWakeup(wakeup.Slot, time.Time) (wakeup.Revision, bool, error) {
	fx.rev++
	return fx.rev, false, nil
}
func (fx *benchFx) CancelWakeup(wakeup.Slot) bool                            { return true }
func (fx *benchFx) RequeueLater(time.Time, *pdata.Message) error             { return wakeup.ErrUnsupported }
func (fx *benchFx) StartTimer(time.Duration)                                 {}
func (fx *benchFx) Post(any)                                                 {}
func (fx *benchFx) Drop(*pdata.Message, string)                              { fx.dropped++ }
func (fx *benchFx) DropPart(m *pdata.Message, kept *pdata.Payload, _ string) { m.Shrink(kept) }
func (fx *benchFx) Ports() []string                                          { return ports3 }

// route delivers an outcome to the nearest interested frame: the node
// under test, or the upstream sender (counted).
func (fx *benchFx) route(m *pdata.Message, ack bool, n pdata.Nack) {
	want, kind := pdata.Nacks, engine.KindNack
	if ack {
		want, kind = pdata.Acks, engine.KindAck
	}
	f, ok := m.Unwind(want)
	switch {
	case !ok:
	case f.Node == benchNode:
		if err := fx.node.OnControl(engine.Control{Kind: kind, Msg: m, CallData: f.CallData, Nack: n}, fx); err != nil {
			panic(err)
		}
	case ack:
		fx.upAcks++
	default:
		fx.upNacks++
		fx.lastNack = n
	}
}

// ackAll plays downstream: every message sent so far is acked.
func (fx *benchFx) ackAll() {
	// Indexed: acking a copy may send more (sequential mode, fallbacks).
	for i := 0; i < len(fx.out); i++ {
		m := fx.out[i]
		fx.out[i] = nil
		fx.route(m, true, pdata.Nack{})
	}
	fx.out = fx.out[:0]
}

// passThrough is the baseline: a processor that forwards each input on
// its default port and is not on the ack path.
type passThrough struct{}

func (passThrough) OnPData(m *pdata.Message, fx engine.Effects) error { return fx.Send(m) }
func (passThrough) OnControl(engine.Control, engine.Effects) error    { return nil }

// broadcast is a second baseline: the least any fan-out to three ports
// does (a detached copy per port, then ack upstream), with no metrics, no
// state and no outcome handling. Comparing fire_and_forget with it shows
// the cost of the fan-out's own machinery rather than of the copies.
type broadcast struct{}

func (broadcast) OnPData(m *pdata.Message, fx engine.Effects) error {
	for _, p := range ports3 {
		if err := fx.SendTo(p, m.CloneDetached()); err != nil {
			return err
		}
	}
	fx.NotifyAck(m)
	return nil
}
func (broadcast) OnControl(engine.Control, engine.Effects) error { return nil }

func newBenchNode(tb testing.TB, cfg string) (engine.Processor, *benchFx) {
	tb.Helper()
	n, err := nodetest.NodeConfig(fanout.Type, cfg, ports3)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := fanout.NewFactory().NewProcessor(newNodeContext(n))
	if err != nil {
		tb.Fatal(err)
	}
	fx := &benchFx{node: p, now: nodetest.Start, out: make([]*pdata.Message, 0, 8)}
	return p, fx
}

// BenchmarkFanout measures one input's whole life through the node, with
// three destinations: the input is built and subscribed by its sender, the
// node handles it, downstream acks every copy and the node answers
// upstream. ns/op and allocs/op are per input.
func BenchmarkFanout(b *testing.B) {
	payload := pdatatest.Logs(10)
	cases := []struct{ name, cfg string }{
		{"pass_through", ""},
		{"broadcast_baseline", ""},
		{"fire_and_forget", "await_ack: none\n" + cfgSlim},
		{"slim_primary", cfgSlim},
		{"full_all", cfgAll},
		{"full_all_timeouts", `
await_ack: all
destinations: [{port: primary, timeout: 5s}, {port: backup, timeout: 5s}, {port: analytics, timeout: 5s}]`},
		{"full_primary_fallback", cfgFallback},
		{"sequential_all", cfgSeqAll},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var p engine.Processor
			var fx *benchFx
			switch c.name {
			case "pass_through":
				p = passThrough{}
				fx = &benchFx{node: p, out: make([]*pdata.Message, 0, 8)}
			case "broadcast_baseline":
				p = broadcast{}
				fx = &benchFx{node: p, out: make([]*pdata.Message, 0, 8)}
			default:
				p, fx = newBenchNode(b, c.cfg)
			}
			b.ReportAllocs()
			cpu0 := processCPU(b)
			for i := 0; b.Loop(); i++ {
				m := pdata.New(payload)
				m.Subscribe(benchUpstream, pdata.AcksAndNacks, pdata.CallData{uint64(i)})
				if err := p.OnPData(m, fx); err != nil {
					b.Fatal(err)
				}
				fx.ackAll()
			}
			// CPU time, unlike wall time, is not inflated when the machine
			// is shared; it includes the garbage collector's work.
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
			if fx.upAcks != b.N {
				b.Fatalf("%d upstream acks for %d inputs", fx.upAcks, b.N)
			}
		})
	}
}

// processCPU returns the process's user+system CPU time in nanoseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// The bench effects double as a way to reach what the harness cannot: an
// output that is closed while the node runs.
func TestFireAndForgetClosedOutput(t *testing.T) {
	t.Run("one closed: others delivered, input acked, copy dropped", func(t *testing.T) {
		p, fx := newBenchNode(t, "await_ack: none\n"+cfgSlim)
		fx.closed = "backup"
		m := pdata.New(pdatatest.Logs(1))
		m.Subscribe(benchUpstream, pdata.AcksAndNacks, pdata.CallData{1})
		if err := p.OnPData(m, fx); err != nil {
			t.Fatal(err)
		}
		if len(fx.out) != 2 || fx.upAcks != 1 || fx.dropped != 1 {
			t.Fatalf("sent %d, acks %d, dropped %d", len(fx.out), fx.upAcks, fx.dropped)
		}
	})
	t.Run("all closed: input nacked", func(t *testing.T) {
		p, fx := newBenchNode(t, "await_ack: none\ndestinations: [{port: backup}]")
		fx.closed = "backup"
		m := pdata.New(pdatatest.Logs(1))
		m.Subscribe(benchUpstream, pdata.AcksAndNacks, pdata.CallData{1})
		if err := p.OnPData(m, fx); err != nil {
			t.Fatal(err)
		}
		if fx.upNacks != 1 || fx.lastNack.Cause != pdata.CauseRouteClosed {
			t.Fatalf("nacks %d (%v)", fx.upNacks, fx.lastNack)
		}
	})
}

// A closed output on a tracked path is that destination's failure, with
// cause route_closed, and its fallback stands in.
func TestClosedOutputTriggersFallback(t *testing.T) {
	p, fx := newBenchNode(t, cfgFallback)
	fx.closed = "primary"
	m := pdata.New(pdatatest.Logs(1))
	m.Subscribe(benchUpstream, pdata.AcksAndNacks, pdata.CallData{1})
	if err := p.OnPData(m, fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.out) != 2 { // backup (standing in) and analytics
		t.Fatalf("sent %d copies", len(fx.out))
	}
	fx.closed = "backup"
	fx.ackAll()
	if fx.upAcks != 1 {
		t.Fatalf("acks %d", fx.upAcks)
	}
	p, fx = newBenchNode(t, "destinations: [{port: primary}, {port: backup}]")
	fx.closed = "primary"
	m = pdata.New(pdatatest.Logs(1))
	m.Subscribe(benchUpstream, pdata.AcksAndNacks, pdata.CallData{1})
	if err := p.OnPData(m, fx); err != nil {
		t.Fatal(err)
	}
	if fx.upNacks != 1 || fx.lastNack.Cause != pdata.CauseRouteClosed {
		t.Fatalf("slim: nacks %d (%v)", fx.upNacks, fx.lastNack)
	}
}

// A copy waiting for room whose output then closes is a failure like any
// other: the slim primary nacks upstream, the full path fails over.
func TestWaitingCopyOutputCloses(t *testing.T) {
	send := func(p engine.Processor, fx *benchFx) {
		t.Helper()
		m := pdata.New(pdatatest.Logs(1))
		m.Subscribe(benchUpstream, pdata.AcksAndNacks, pdata.CallData{1})
		if err := p.OnPData(m, fx); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("slim", func(t *testing.T) {
		p, fx := newBenchNode(t, cfgSlim)
		fx.full = "primary"
		send(p, fx)
		if len(fx.out) != 2 || p.(engine.Drainer).Pending() != 2 {
			t.Fatalf("sent %d, pending %d", len(fx.out), p.(engine.Drainer).Pending())
		}
		fx.full, fx.closed = "", "primary"
		fx.ackAll() // the node runs: it retries the waiting copy
		if fx.upNacks != 1 || fx.lastNack.Cause != pdata.CauseRouteClosed || p.(engine.Drainer).Pending() != 0 {
			t.Fatalf("nacks %d (%v), pending %d", fx.upNacks, fx.lastNack, p.(engine.Drainer).Pending())
		}
	})
	t.Run("full", func(t *testing.T) {
		p, fx := newBenchNode(t, cfgFallback)
		fx.full = "primary"
		send(p, fx)
		fx.full, fx.closed = "", "primary"
		analytics := fx.out[0]
		fx.out = fx.out[:0]
		fx.route(analytics, true, pdata.Nack{}) // the node runs: the retry finds primary closed
		if len(fx.out) != 1 {                   // backup stands in
			t.Fatalf("sent %d, want the backup copy", len(fx.out))
		}
		fx.ackAll()
		if fx.upAcks != 1 || p.(engine.Drainer).Pending() != 0 {
			t.Fatalf("acks %d, pending %d", fx.upAcks, p.(engine.Drainer).Pending())
		}
	})
}
