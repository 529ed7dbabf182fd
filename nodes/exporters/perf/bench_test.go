package perf

import (
	"fmt"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// benchEffects is the least an engine does for the exporter: acks are
// counted and forgotten.
type benchEffects struct{ acked int }

func (e *benchEffects) Now() time.Time                                            { return nodetest.Start }
func (e *benchEffects) Send(*pdata.Message) error                                 { return nil }
func (e *benchEffects) SendTo(string, *pdata.Message) error                       { return nil }
func (e *benchEffects) TrySend(*pdata.Message) error                              { return nil }
func (e *benchEffects) TrySendTo(string, *pdata.Message) error                    { return nil }
func (e *benchEffects) Subscribe(*pdata.Message, pdata.Interests, pdata.CallData) {}
func (e *benchEffects) NotifyAck(*pdata.Message)                                  { e.acked++ }
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
func (e *benchEffects) Ports() []string                                          { return nil }

var _ engine.Effects = (*benchEffects)(nil)

// BenchmarkExport counts and acks OTLP messages of n items, the three
// signals in turn, with the metrics registered. items/s counts the items
// per second of one core.
func BenchmarkExport(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			f := NewFactory()
			node, err := nodetest.NodeConfig(f.Type, "", nil)
			if err != nil {
				b.Fatal(err)
			}
			p, err := f.NewProcessor(engine.NodeContext{Node: node, Metrics: telemetry.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			fx := &benchEffects{}
			if err := p.(engine.Starter).Start(fx); err != nil {
				b.Fatal(err)
			}
			msgs := []*pdata.Message{
				pdatatest.Msg(pdatatest.Logs(n)), pdatatest.Msg(pdatatest.Metrics(n)), pdatatest.Msg(pdatatest.Traces(n)),
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := p.OnPData(msgs[i%3], fx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkReport is one periodic report with every usage section, read
// from the machine's /proc.
func BenchmarkReport(b *testing.B) {
	f := NewFactory()
	node, err := nodetest.NodeConfig(f.Type, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	p, err := f.NewProcessor(engine.NodeContext{Node: node})
	if err != nil {
		b.Fatal(err)
	}
	fx := &benchEffects{}
	if err := p.(engine.Starter).Start(fx); err != nil {
		b.Fatal(err)
	}
	_ = p.OnPData(pdatatest.Msg(pdatatest.Logs(10)), fx)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.OnControl(engine.Control{Kind: engine.KindTimerTick}, fx)
	}
}
