package typerouter_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/nodes/processors/typerouter"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// benchEffects is the least an engine does for the router: every send is
// accepted and forgotten, so the benchmark measures the node.
type benchEffects struct{ sent int }

func (e *benchEffects) Now() time.Time                                            { return nodetest.Start }
func (e *benchEffects) Send(*pdata.Message) error                                 { e.sent++; return nil }
func (e *benchEffects) SendTo(string, *pdata.Message) error                       { e.sent++; return nil }
func (e *benchEffects) TrySend(*pdata.Message) error                              { e.sent++; return nil }
func (e *benchEffects) TrySendTo(string, *pdata.Message) error                    { e.sent++; return nil }
func (e *benchEffects) Subscribe(*pdata.Message, pdata.Interests, pdata.CallData) {}
func (e *benchEffects) NotifyAck(*pdata.Message)                                  {}
func (e *benchEffects) NotifyNack(*pdata.Message, pdata.Nack)                     {}
func (e *benchEffects) SetWakeup(wakeup.Slot, time.Time) (wakeup.Revision, bool, error) {
	return 0, false, wakeup.ErrUnsupported
}
func (e *benchEffects) CancelWakeup(wakeup.Slot) bool                            { return false }
func (e *benchEffects) RequeueLater(time.Time, *pdata.Message) error             { return wakeup.ErrUnsupported }
func (e *benchEffects) StartTimer(time.Duration)                                 {}
func (e *benchEffects) Post(any)                                                 {}
func (e *benchEffects) Drop(*pdata.Message, string)                              {}
func (e *benchEffects) DropPart(m *pdata.Message, kept *pdata.Payload, _ string) { m.Shrink(kept) }
func (e *benchEffects) Ports() []string                                          { return []string{"logs", "metrics", "traces"} }

var _ engine.Effects = (*benchEffects)(nil)

// BenchmarkRoute routes messages of 100 items, the three signals in turn.
// items/s counts the items routed per second of one core.
func BenchmarkRoute(b *testing.B) {
	for _, policy := range []typerouter.OnFull{typerouter.RejectImmediately, typerouter.Backpressure} {
		b.Run(fmt.Sprintf("on_full=%s", policy), func(b *testing.B) {
			f := typerouter.NewFactory()
			n, err := nodetest.NodeConfig(f.Type, "admission_policy: { on_full: "+string(policy)+" }", []string{"logs", "metrics", "traces"})
			if err != nil {
				b.Fatal(err)
			}
			p, err := f.NewProcessor(engine.NodeContext{Node: n})
			if err != nil {
				b.Fatal(err)
			}
			fx := &benchEffects{}
			if err := p.(engine.Starter).Start(fx); err != nil {
				b.Fatal(err)
			}
			msgs := []*pdata.Message{
				pdatatest.Msg(pdatatest.Logs(100)), pdatatest.Msg(pdatatest.Metrics(100)), pdatatest.Msg(pdatatest.Traces(100)),
			}
			b.ReportAllocs()
			items := 0
			for i := 0; b.Loop(); i++ {
				m := msgs[i%3]
				items += m.Items()
				if err := p.OnPData(m, fx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
