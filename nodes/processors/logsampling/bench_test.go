package logsampling_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/nodes/processors/logsampling"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// benchEffects is the least an engine does for the sampler: it keeps the
// last message sent and forgets outcomes, so the benchmark measures the
// node.
type benchEffects struct{ sent *pdata.Message }

func (e *benchEffects) Now() time.Time                          { return nodetest.Start }
func (e *benchEffects) Send(m *pdata.Message) error             { e.sent = m; return nil }
func (e *benchEffects) SendTo(_ string, m *pdata.Message) error { return e.Send(m) }
func (e *benchEffects) TrySend(m *pdata.Message) error          { return e.Send(m) }
func (e *benchEffects) TrySendTo(_ string, m *pdata.Message) error {
	return e.Send(m)
}
func (e *benchEffects) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(nodetest.NodeID, in, cd)
}
func (e *benchEffects) NotifyAck(*pdata.Message)              {}
func (e *benchEffects) NotifyNack(*pdata.Message, pdata.Nack) {}
func (e *benchEffects) SetWakeup(wakeup.Slot, time.Time) (wakeup.Revision, bool, error) {
	return 0, false, wakeup.ErrUnsupported
}
func (e *benchEffects) CancelWakeup(wakeup.Slot) bool                { return false }
func (e *benchEffects) RequeueLater(time.Time, *pdata.Message) error { return wakeup.ErrUnsupported }
func (e *benchEffects) StartTimer(time.Duration)                     {}
func (e *benchEffects) Post(any)                                     {}
func (e *benchEffects) Drop(*pdata.Message, string)                  {}
func (e *benchEffects) DropPart(m *pdata.Message, kept *pdata.Payload, _ string) {
	m.Shrink(kept)
}
func (e *benchEffects) Ports() []string { return []string{"default"} }

var _ engine.Effects = (*benchEffects)(nil)

// BenchmarkSample feeds logs messages of n records (10 per resource, or
// all in one). The policy keeps all of them, none, or one in ten (the
// message is cut: OTLP bytes, whole entries shared or the entry the cut
// falls in rewritten, or the pdata model for a decoded payload), with the
// engine's partial drop. items/s counts the input records per second of
// one core.
func BenchmarkSample(b *testing.B) {
	cases := []struct {
		name, policy string
		perResource  int // records per resource entry; 0: one entry, so every cut rewrites it
		decoded      bool
	}{
		{"keep_all", "{ ratio: { emit: 1, out_of: 1 } }", 10, false},
		{"drop_all", "{ ratio: { emit: 1, out_of: 1000000000 } }", 10, false},
		{"cut_otlp_engine", "{ ratio: { emit: 1, out_of: 10 } }", 10, false},
		{"cut_otlp_engine_in_entry", "{ ratio: { emit: 1, out_of: 10 } }", 0, false},
		{"cut_decoded_engine", "{ ratio: { emit: 1, out_of: 10 } }", 10, true},
	}
	for _, n := range []int{100, 1000} {
		for _, c := range cases {
			b.Run(fmt.Sprintf("%s/records=%d", c.name, n), func(b *testing.B) {
				f := logsampling.NewFactory()
				node, err := nodetest.NodeConfig(f.Type, "policy: "+c.policy, nil)
				if err != nil {
					b.Fatal(err)
				}
				p, err := f.NewProcessor(engine.NodeContext{Node: node})
				if err != nil {
					b.Fatal(err)
				}
				fx := &benchEffects{}
				var pl *pdata.Payload
				if c.decoded {
					pl = pdata.FromLogs(pdatatest.LogsData("b", n, c.perResource, 64))
				} else {
					pl = pdatatest.LogsPayload("b", n, c.perResource, 64)
				}
				_ = p.OnPData(pdata.New(pl), fx) // the first batch of a cycle is always cut
				b.ReportAllocs()
				for b.Loop() {
					if err := p.OnPData(pdata.New(pl), fx); err != nil {
						b.Fatal(err)
					}
					fx.sent = nil
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
			})
		}
	}
}
