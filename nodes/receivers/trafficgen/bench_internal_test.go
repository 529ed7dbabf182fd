package trafficgen

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

// discardFx accepts every send at once: what is left is the generator's
// own per-message cost.
type discardFx struct{ aborted chan struct{} }

func (discardFx) Now() time.Time                                               { return time.Time{} }
func (discardFx) Send(context.Context, *pdata.Message) error                   { return nil }
func (discardFx) SendTo(context.Context, string, *pdata.Message) error         { return nil }
func (discardFx) TrySend(*pdata.Message) error                                 { return nil }
func (discardFx) Drop(*pdata.Message, string)                                  {}
func (discardFx) DropPart(m *pdata.Message, kept *pdata.Payload, _ string)     { m.Shrink(kept) }
func (discardFx) Ports() []string                                              { return []string{"default"} }
func (f discardFx) Aborted() <-chan struct{}                                   { return f.aborted }
func (discardFx) Listen(context.Context, string, string) (net.Listener, error) { return nil, nil }
func (discardFx) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(1, in, cd)
}

// BenchmarkStep is the per-message cost of generation as fast as possible:
// plan, pooled payload, pdata.New, send, counters. With acks it also takes
// and gives back an in-flight slot (the ack is delivered at once).
func BenchmarkStep(b *testing.B) {
	for _, bc := range []struct {
		name, cfg string
		ack       bool
	}{
		{"logs", "", false},
		{"mixed", "traffic_config: { log_weight: 6, metric_weight: 3, trace_weight: 1 }", false},
		{"logs_acks", "enable_ack_nack: true", true},
		{"logs_fresh", "generation_strategy: fresh", false},
		{"mixed_semconv", "data_source: semantic_conventions\ntraffic_config: { log_weight: 6, metric_weight: 3, trace_weight: 1 }", false},
		{"mixed_semconv_fresh", "data_source: semantic_conventions\ngeneration_strategy: fresh\ntraffic_config: { log_weight: 6, metric_weight: 3, trace_weight: 1 }", false},
		{"logs_two_tenants", "resource_attributes: [{attrs: {tenant.id: a}, weight: 3}, {attrs: {tenant.id: b}}]", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n, err := nodetest.NodeConfig(Type, bc.cfg, []string{"default"})
			if err != nil {
				b.Fatal(err)
			}
			cfg, err := decodeConfig(n)
			if err != nil {
				b.Fatal(err)
			}
			r, err := newReceiver(engine.NodeContext{Node: n, Clock: clock.NewFake(nodetest.Start)}, cfg)
			if err != nil {
				b.Fatal(err)
			}
			g := r.(*generator)
			fx := discardFx{aborted: make(chan struct{})}
			ctx := context.Background()
			var ack engine.Control
			if bc.ack {
				ack = engine.Control{Kind: engine.KindAck, Msg: pdata.New(g.pool.payloads[pdata.Logs][0][0])}
			}
			b.ReportAllocs()
			for b.Loop() {
				if stop, err := g.step(ctx, fx); stop != running || err != nil {
					b.Fatal(stop, err)
				}
				if bc.ack {
					g.OnOutcome(ack)
				}
			}
			b.ReportMetric(float64(g.sentItems)/b.Elapsed().Seconds(), "items/s")
			b.ReportMetric(float64(g.sentMessages)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkPool is the one-off cost of building the payload pool at start.
func BenchmarkPool(b *testing.B) {
	for _, batch := range []int{100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := testSettings(batch, 0, [3]uint64{1, 1, 1})
			s.bodySize = 100
			b.ReportAllocs()
			for b.Loop() {
				if _, err := newPool(synth{node: "gen", bodySize: 100}, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
