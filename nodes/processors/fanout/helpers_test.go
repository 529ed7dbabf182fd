package fanout_test

import (
	"log/slog"
	"slices"
	"testing"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/clock"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/fanout"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a harness around one fan-out node with a metric registry.
type fixture struct {
	*nodetest.Harness
	t   *testing.T
	reg *telemetry.Registry
}

func newFixture(t *testing.T, cfg string, opts ...nodetest.Option) *fixture {
	t.Helper()
	reg := telemetry.NewRegistry()
	opts = append([]nodetest.Option{nodetest.WithOutputs(ports3...), nodetest.WithRegistry(reg)}, opts...)
	return &fixture{Harness: nodetest.New(t, fanout.NewFactory(), cfg, opts...), t: t, reg: reg}
}

func newNodeContext(n *config.Node) engine.NodeContext {
	return engine.NodeContext{Node: n, Pipeline: "test/main", Clock: clock.NewFake(nodetest.Start),
		Logger: slog.New(slog.DiscardHandler), Labels: telemetry.Labels("pipeline", "test/main", "node", n.Name)}
}

// send delivers a fresh two-log input and returns its id.
func (f *fixture) send() uint64 {
	f.t.Helper()
	return f.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
}

// one takes the single copy sent on port.
func (f *fixture) one(port string) *pdata.Message {
	f.t.Helper()
	return f.RequireSent(port, 1)[0]
}

// none checks that nothing was sent on any of ports.
func (f *fixture) none(ports ...string) {
	f.t.Helper()
	for _, p := range ports {
		if s := f.Sent(p); len(s) != 0 {
			f.t.Fatalf("sent %d copies on %q, want none", len(s), p)
		}
	}
}

// quiet checks that nothing reached upstream.
func (f *fixture) quiet() {
	f.t.Helper()
	if u := f.TakeUpstream(); len(u) != 0 {
		f.t.Fatalf("upstream got %d outcomes, want none: %+v", len(u), u)
	}
}

// metric returns the value of the series name{labels} (pipeline and node
// labels implied); 0 when absent.
func (f *fixture) metric(name string, labels ...string) float64 {
	f.t.Helper()
	want := telemetry.With(telemetry.Labels("pipeline", "test/main", "node", "node"), telemetry.Labels(labels...)...)
	for _, s := range f.reg.Snapshot() {
		if s.Name == "ackflow_processor_fanout_"+name && slices.Equal(s.Labels, want) {
			return s.Value
		}
	}
	f.t.Fatalf("no series %s%v", name, labels)
	return 0
}

func (f *fixture) requireMetric(want float64, name string, labels ...string) {
	f.t.Helper()
	if got := f.metric(name, labels...); got != want {
		f.t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// nackOf returns the single nack that reached upstream for id.
func (f *fixture) nackOf(id uint64) pdata.Nack {
	f.t.Helper()
	return f.RequireNacked(id)[0].Nack
}

func transient(reason string) pdata.Nack { return pdata.Nack{Reason: reason} }
