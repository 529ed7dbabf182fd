package typerouter_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/typerouter"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

var allPorts = nodetest.WithOutputs("logs", "metrics", "traces")

func TestRoutesEachSignalToItsPortWithoutTouchingTheRoute(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, typerouter.NewFactory(), "", allPorts, nodetest.WithRegistry(reg))
	in := map[string]*pdata.Message{"logs": logs(), "metrics": metrics(), "traces": traces()}
	ids := map[string]uint64{}
	for _, port := range []string{"traces", "logs", "metrics"} {
		ids[port] = h.SendPData(in[port])
	}
	for port, m := range in {
		got := h.RequireSent(port, 1)[0]
		if got != m {
			t.Errorf("port %q: got another message than the %s input", port, port)
		}
		if got.Depth() != 1 {
			t.Errorf("port %q: route depth %d, want 1 (the sender's frame only: the router does not subscribe)", port, got.Depth())
		}
		h.Ack(got)
	}
	h.RequireAcked(ids["logs"], ids["metrics"], ids["traces"])
	want := map[string]float64{
		"logs/success/named_route": 1, "metrics/success/named_route": 1, "traces/success/named_route": 1,
	}
	if got := decisions(t, reg); !equalMaps(got, want) {
		t.Fatalf("decisions = %v, want %v", got, want)
	}
}

func TestNacksPassThroughUnchanged(t *testing.T) {
	h := nodetest.New(t, typerouter.NewFactory(), "", allPorts)
	id := h.SendPData(metrics())
	sent := h.RequireSent("metrics", 1)[0]
	h.Nack(sent, pdata.Nack{Reason: "backend down", Cause: pdata.CauseTimeout})
	got := h.RequireNacked(id)[0].Nack
	if got.Reason != "backend down" || got.Cause != pdata.CauseTimeout || got.Permanent {
		t.Fatalf("nack upstream = %v, want the downstream nack as it was", got)
	}
}

func TestSignalWithoutPortIsNackedPermanentlyNamingThePort(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, typerouter.NewFactory(), "", nodetest.WithOutputs("logs", "metrics"), nodetest.WithRegistry(reg))
	id := h.SendPData(traces())
	n := h.RequireNacked(id)[0].Nack
	if !n.Permanent || n.Cause != pdata.CauseRouteClosed || !strings.Contains(n.Reason, `port "traces" is not connected`) {
		t.Fatalf("nack = %v, want permanent route_closed naming port \"traces\"", n)
	}
	if got := decisions(t, reg); got["traces/failure/no_available_route"] != 1 {
		t.Fatalf("decisions = %v, want traces/failure/no_available_route = 1", got)
	}
	for _, port := range []string{"logs", "metrics"} {
		h.RequireSent(port, 0)
	}
}

// The reference engine falls back to the node's only port; ackflow does
// not send one signal into the port named after another.
func TestOnlyPortOfAnotherSignalIsNoFallback(t *testing.T) {
	h := nodetest.New(t, typerouter.NewFactory(), "", nodetest.WithOutputs("logs"))
	h.SendPData(logs())
	mid := h.SendPData(metrics())
	h.RequireSent("logs", 1)
	if n := h.RequireNacked(mid)[0].Nack; !strings.Contains(n.Reason, `port "metrics"`) {
		t.Fatalf("nack = %v, want it to name port \"metrics\"", n)
	}
}

func TestUnconnectedSignalGoesToDefaultOutput(t *testing.T) {
	reg := telemetry.NewRegistry()
	f := withDefaultOutput(typerouter.NewFactory(), "other")
	h := nodetest.New(t, f, "", nodetest.WithOutputs("logs", "other"), nodetest.WithRegistry(reg))
	h.SendPData(logs())
	h.SendPData(metrics())
	h.SendPData(traces())
	h.RequireSent("logs", 1)
	other := h.RequireSent("other", 2)
	if other[0].Payload().Signal() != pdata.Metrics || other[1].Payload().Signal() != pdata.Traces {
		t.Fatalf("default output got %v, %v; want metrics then traces", other[0], other[1])
	}
	want := map[string]float64{
		"logs/success/named_route":              1,
		"metrics/success/default_route_unwired": 1,
		"traces/success/default_route_unwired":  1,
	}
	if got := decisions(t, reg); !equalMaps(got, want) {
		t.Fatalf("decisions = %v, want %v", got, want)
	}
}

func TestRejectImmediatelyNacksOnlyTheFullOutput(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, typerouter.NewFactory(), "", allPorts, nodetest.WithPortCapacity(1), nodetest.WithRegistry(reg))
	h.SendPData(logs())
	second := h.SendPData(logs())
	h.SendPData(metrics()) // another output: unaffected
	n := h.RequireNacked(second)[0].Nack
	if n.Permanent || n.Cause != pdata.CauseRouteFull || !strings.Contains(n.Reason, `output "logs"`) {
		t.Fatalf("nack = %v, want transient route_full naming output \"logs\"", n)
	}
	h.RequireSent("logs", 1)
	h.RequireSent("metrics", 1)
	if got := decisions(t, reg); got["logs/refused/route_full"] != 1 || got["metrics/success/named_route"] != 1 {
		t.Fatalf("decisions = %v", got)
	}
	if h.Wakeups() != 0 {
		t.Fatalf("reject_immediately armed %d wakeups", h.Wakeups())
	}
}

const cfgBackpressure = "admission_policy: { on_full: backpressure }"

func TestBackpressureParksOnePerOutputAndDeliversWhenThereIsRoom(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, typerouter.NewFactory(), cfgBackpressure, nodetest.WithOutputs("logs", "metrics"),
		nodetest.WithPortCapacity(1), nodetest.WithRegistry(reg))
	h.SendPData(logs()) // fills logs
	l2 := logs()
	h.SendPData(l2)           // parked
	l3 := h.SendPData(logs()) // one already waits: nacked
	if n := h.RequireNacked(l3)[0].Nack; n.Cause != pdata.CauseRouteFull || n.Permanent {
		t.Fatalf("nack = %v, want transient route_full", n)
	}
	if gauge(reg, "ackflow_processor_type_router_parked") != 1 {
		t.Fatalf("parked gauge = %v, want 1", gauge(reg, "ackflow_processor_type_router_parked"))
	}
	// metrics still flow while logs wait.
	h.SendPData(metrics())
	h.RequireSent("metrics", 1)

	h.TakeSent("logs") // room again
	h.Advance(typerouter.ProbeInterval - time.Millisecond)
	h.RequireSent("logs", 0) // not before the probe
	h.Advance(time.Millisecond)
	if got := h.RequireSent("logs", 1)[0]; got != l2 {
		t.Fatalf("probe sent %v, want the parked message", got)
	}
	if h.Wakeups() != 0 || h.Pending() != 0 {
		t.Fatalf("after delivery: %d wakeups, %d pending; want none", h.Wakeups(), h.Pending())
	}
	if gauge(reg, "ackflow_processor_type_router_parked") != 0 {
		t.Fatal("parked gauge not back to 0")
	}
	if got := decisions(t, reg); got["logs/success/named_route"] != 2 || got["logs/refused/route_full"] != 1 {
		t.Fatalf("decisions = %v", got)
	}
}

func TestBackpressureClosesTheGateWhenEveryOutputWaits(t *testing.T) {
	h := nodetest.New(t, typerouter.NewFactory(), cfgBackpressure, nodetest.WithOutputs("logs", "metrics"),
		nodetest.WithPortCapacity(1))
	h.SendPData(logs())
	h.SendPData(logs())    // parked for logs
	h.SendPData(metrics()) // fills metrics
	h.SendPData(metrics()) // parked for metrics: every output waits
	queued := metrics()
	h.SendPData(queued)
	if h.Queued() != 1 {
		t.Fatalf("queued = %d, want 1: the gate must close, not nack", h.Queued())
	}
	if len(h.Upstream()) != 0 {
		t.Fatalf("upstream = %v, want nothing answered", h.Upstream())
	}
	h.TakeSent("metrics")
	h.Advance(typerouter.ProbeInterval)
	// The parked metrics message went out, the gate opened, and the queued
	// one found metrics full again: it is parked in turn.
	h.RequireSent("metrics", 1)
	if h.Queued() != 0 || h.Pending() != 2 {
		t.Fatalf("queued %d, pending %d; want 0 and 2", h.Queued(), h.Pending())
	}
}

func TestBackpressureDeliversParkedAfterShutdown(t *testing.T) {
	h := nodetest.New(t, typerouter.NewFactory(), cfgBackpressure, allPorts, nodetest.WithPortCapacity(1))
	first := h.SendPData(traces())
	parked := h.SendPData(traces())
	h.Shutdown(nodetest.Start.Add(time.Minute))
	if h.OutputsClosed() {
		t.Fatal("outputs closed with a message parked")
	}
	sent := h.RequireSent("traces", 1)[0]
	h.Advance(typerouter.ProbeInterval)
	last := h.RequireSent("traces", 1)[0]
	if !h.OutputsClosed() {
		t.Fatal("outputs still open after the parked message left")
	}
	h.Ack(sent)
	h.Ack(last)
	h.RequireAcked(first, parked)
}

func TestForcedShutdownNacksParkedWithNodeShutdown(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, typerouter.NewFactory(), cfgBackpressure, allPorts, nodetest.WithPortCapacity(1), nodetest.WithRegistry(reg))
	h.SendPData(logs())
	parked := h.SendPData(logs())
	h.Shutdown(nodetest.Start.Add(time.Second))
	h.ForceShutdown()
	n := h.RequireNacked(parked)[0].Nack
	if n.Cause != pdata.CauseNodeShutdown || n.Permanent {
		t.Fatalf("nack = %v, want transient node_shutdown", n)
	}
	if got := decisions(t, reg); got["logs/failure/node_shutdown"] != 1 {
		t.Fatalf("decisions = %v", got)
	}
	if h.Pending() != 0 || !h.OutputsClosed() {
		t.Fatalf("pending %d, outputs closed %v", h.Pending(), h.OutputsClosed())
	}
}

func TestClosedOutputIsNackedTransient(t *testing.T) {
	f := withSendError(typerouter.NewFactory(), engine.ErrClosed)
	h := nodetest.New(t, f, "", allPorts)
	id := h.SendPData(metrics())
	n := h.RequireNacked(id)[0].Nack
	if n.Permanent || n.Cause != pdata.CauseRouteClosed || !strings.Contains(n.Reason, `output "metrics"`) {
		t.Fatalf("nack = %v, want transient route_closed naming output \"metrics\"", n)
	}
}

func TestUnknownPortIsNackedPermanent(t *testing.T) {
	f := withSendError(typerouter.NewFactory(), engine.ErrUnknownPort)
	h := nodetest.New(t, f, cfgBackpressure, allPorts)
	id := h.SendPData(logs())
	if n := h.RequireNacked(id)[0].Nack; !n.Permanent || n.Cause != pdata.CauseRouteClosed {
		t.Fatalf("nack = %v, want permanent route_closed", n)
	}
	if h.Pending() != 0 {
		t.Fatal("a message was parked for an output the engine does not know")
	}
}

func TestStaleWakeupIsIgnored(t *testing.T) {
	h := nodetest.New(t, typerouter.NewFactory(), cfgBackpressure, allPorts, nodetest.WithPortCapacity(1))
	h.SendPData(logs())
	h.SendPData(logs())
	h.TakeSent("logs")
	h.FireWakeup(0, nodetest.Start, 999) // not the armed revision
	h.RequireSent("logs", 0)
	h.Advance(typerouter.ProbeInterval)
	h.RequireSent("logs", 1)
}

func TestStartLogsSignalsWithoutRoute(t *testing.T) {
	var buf bytes.Buffer
	f := typerouter.NewFactory()
	build := f.NewProcessor
	f.NewProcessor = func(nc engine.NodeContext) (engine.Processor, error) {
		nc.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		return build(nc)
	}
	nodetest.New(t, f, "", nodetest.WithOutputs("logs", "metrics"))
	got := buf.String()
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "signal=traces missing_port=traces") {
		t.Fatalf("start-up log %q: want a warning for traces", got)
	}
	if strings.Contains(got, "signal=logs") || strings.Contains(got, "signal=metrics") {
		t.Fatalf("start-up log %q names a signal that has its port", got)
	}
}

func TestFactory(t *testing.T) {
	f := typerouter.NewFactory()
	if f.Type != "processor:type_router" || f.NewProcessor == nil || f.NewReceiver != nil || f.Description == "" {
		t.Fatalf("factory = %+v", f)
	}
	if f.Kind().String() != "processor" {
		t.Fatalf("kind = %v", f.Kind())
	}
	n, err := nodetest.NodeConfig(f.Type, "", []string{"logs"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.NewProcessor(engine.NodeContext{Node: n}) // no logger, clock or registry
	if err != nil || p == nil {
		t.Fatalf("NewProcessor: %v", err)
	}
}

func equalMaps(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
