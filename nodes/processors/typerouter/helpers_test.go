package typerouter_test

import (
	"testing"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

func logs() *pdata.Message    { return pdatatest.Msg(pdatatest.Logs(3)) }
func metrics() *pdata.Message { return pdatatest.Msg(pdatatest.Metrics(2)) }
func traces() *pdata.Message  { return pdatatest.Msg(pdatatest.Traces(1)) }

// withDefaultOutput returns f whose nodes have default_output port: the
// harness declares outputs only.
func withDefaultOutput(f engine.Factory, port string) engine.Factory {
	validate, build := f.Validate, f.NewProcessor
	f.Validate = func(n *config.Node) error { n.DefaultOutput = port; return validate(n) }
	f.NewProcessor = func(nc engine.NodeContext) (engine.Processor, error) {
		nc.Node.DefaultOutput = port
		return build(nc)
	}
	return f
}

// decisions returns the decision counter by "signal/outcome/reason",
// zero series left out.
func decisions(t *testing.T, r *telemetry.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range r.Snapshot() {
		if s.Name != "ackflow_processor_type_router_signals_decision_total" || s.Value == 0 {
			continue
		}
		l := map[string]string{}
		for _, x := range s.Labels {
			l[x.Name] = x.Value
		}
		out[l["signal"]+"/"+l["outcome"]+"/"+l["reason"]] = s.Value
	}
	return out
}

// gauge returns the value of the series name.
func gauge(r *telemetry.Registry, name string) float64 {
	for _, s := range r.Snapshot() {
		if s.Name == name {
			return s.Value
		}
	}
	return -1
}

// withSendError returns f whose nodes see every TrySendTo fail with err.
func withSendError(f engine.Factory, err error) engine.Factory {
	build := f.NewProcessor
	f.NewProcessor = func(nc engine.NodeContext) (engine.Processor, error) {
		p, e := build(nc)
		return &failingSends{p: p, err: err}, e
	}
	return f
}

// failingSends passes its effects to p with sends failing.
type failingSends struct {
	p   engine.Processor
	err error
}

func (w *failingSends) fx(fx engine.Effects) engine.Effects { return failingFx{fx, w.err} }
func (w *failingSends) Start(fx engine.Effects) error {
	return w.p.(engine.Starter).Start(w.fx(fx))
}
func (w *failingSends) OnPData(m *pdata.Message, fx engine.Effects) error {
	return w.p.OnPData(m, w.fx(fx))
}
func (w *failingSends) OnControl(c engine.Control, fx engine.Effects) error {
	return w.p.OnControl(c, w.fx(fx))
}
func (w *failingSends) Pending() int { return w.p.(engine.Drainer).Pending() }

type failingFx struct {
	engine.Effects
	err error
}

func (f failingFx) TrySendTo(string, *pdata.Message) error { return f.err }
