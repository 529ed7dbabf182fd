package logsampling_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/logsampling"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

const (
	cfgRatio = "policy: { ratio: { emit: 1, out_of: 10 } }"
	cfgZip   = "policy: { zip: { interval: 1m, max_items: 100 } }"
)

func logsMsg(tag string, n int) *pdata.Message {
	return pdatatest.Msg(pdatatest.LogsPayload(tag, n, 4, 16))
}

func counter(r *telemetry.Registry, name string) float64 {
	for _, s := range r.Snapshot() {
		if s.Name == name {
			return s.Value
		}
	}
	return -1
}

func TestOtherSignalsPassUntouched(t *testing.T) {
	h := nodetest.New(t, logsampling.NewFactory(), "policy: { ratio: { emit: 1, out_of: 1000 } }")
	met, tr := pdatatest.Msg(pdatatest.Metrics(50)), pdatatest.Msg(pdatatest.Traces(50))
	ids := []uint64{h.SendPData(met), h.SendPData(tr)}
	sent := h.RequireSent("default", 2)
	if sent[0] != met || sent[1] != tr || sent[0].Items() != 50 || sent[1].Items() != 50 {
		t.Fatalf("sent %v, want the metrics and traces messages as they were", sent)
	}
	for _, m := range sent {
		if m.Depth() != 1 {
			t.Fatalf("route depth %d, want 1: the node does not subscribe", m.Depth())
		}
		h.Ack(m)
	}
	h.RequireAcked(ids...)
	if len(h.Dropped()) != 0 {
		t.Fatalf("dropped %v", h.Dropped())
	}
}

// One record in ten over batches of 25: whole batches are cut, and the
// totals are exact over whole cycles.
func TestRatioCutsBatchesToTheirFirstRecords(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, logsampling.NewFactory(), cfgRatio, nodetest.WithRegistry(reg))
	var kept int
	for i := range 4 { // 100 records
		in := logsMsg("r", 25)
		want := pdatatest.LogBodies(t, in.Payload())
		h.SendPData(in)
		out := h.RequireSent("default", 1)[0]
		got := pdatatest.LogBodies(t, out.Payload())
		if !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("batch %d: kept %v, want a prefix of the input", i, got)
		}
		kept += out.Items()
	}
	if kept != 10 {
		t.Fatalf("kept %d of 100 records, want 10", kept)
	}
	if got := counter(reg, "ackflow_processor_log_sampling_dropped_items_total"); got != 90 {
		t.Fatalf("dropped_items_total = %v, want 90", got)
	}
	if got := counter(reg, "ackflow_processor_log_sampling_kept_items_total"); got != 10 {
		t.Fatalf("kept_items_total = %v, want 10", got)
	}
}

// A message kept in part is cut with the engine's DropPart and forwarded
// itself, its return route untouched: the cut-away records count as
// dropped with reason sampled, and the outcome from downstream passes
// straight through.
func TestPartialDropForwardsTheMessageItself(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, logsampling.NewFactory(), cfgRatio, nodetest.WithRegistry(reg))
	in := logsMsg("p", 20)
	id := h.SendPData(in)
	out := h.RequireSent("default", 1)[0]
	if out != in || out.Items() != 2 || out.Dropped() != 18 || out.Depth() != 1 {
		t.Fatalf("sent %v (items %d, dropped %d, depth %d): want the input itself, cut to 2 records (18 dropped), route untouched",
			out, out.Items(), out.Dropped(), out.Depth())
	}
	if got := h.Dropped(); got["sampled"] != 18 || len(got) != 1 {
		t.Fatalf("dropped %v, want sampled: 18", got)
	}
	if got := counter(reg, "ackflow_processor_log_sampling_dropped_items_total"); got != 18 {
		t.Fatalf("dropped_items_total = %v, want 18", got)
	}
	h.Ack(out)
	h.RequireAcked(id)

	id = h.SendPData(logsMsg("p", 20))
	h.Nack(h.RequireSent("default", 1)[0], pdata.Nack{Reason: "backend said no", Permanent: true})
	if n := h.RequireNacked(id)[0].Nack; n.Reason != "backend said no" || !n.Permanent {
		t.Fatalf("nack upstream = %v, want the downstream one", n)
	}
}

func TestWholeMessageDroppedWithReasonSampled(t *testing.T) {
	h := nodetest.New(t, logsampling.NewFactory(), "policy: { ratio: { emit: 1, out_of: 100 } }")
	h.SendPData(logsMsg("a", 10)) // keeps 1: cut, 9 dropped
	h.RequireSent("default", 1)
	h.SendPData(logsMsg("b", 30)) // rest of the cycle: nothing kept
	h.RequireSent("default", 0)
	if got := h.Dropped(); got["sampled"] != 9+30 || len(got) != 1 {
		t.Fatalf("dropped %v, want sampled: 39 (9 cut, 30 whole)", got)
	}
}

func TestEmptyLogsRequestIsAnswered(t *testing.T) {
	h := nodetest.New(t, logsampling.NewFactory(), cfgRatio)
	p, err := pdata.FromOTLP(pdata.Logs, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.SendPData(pdata.New(p))
	h.RequireSent("default", 0)
	if _, ok := h.Dropped()["sampled"]; !ok {
		t.Fatalf("dropped %v, want the empty request dropped (acked)", h.Dropped())
	}
}

func TestZipUsesTheEngineClock(t *testing.T) {
	h := nodetest.New(t, logsampling.NewFactory(), cfgZip)
	h.SendPData(logsMsg("z", 80))
	if got := h.RequireSent("default", 1)[0].Items(); got != 80 {
		t.Fatalf("first batch kept %d, want 80", got)
	}
	h.Advance(30 * time.Second)
	h.SendPData(logsMsg("z", 80))
	if got := h.RequireSent("default", 1)[0].Items(); got != 20 {
		t.Fatalf("second batch kept %d, want the 20 left in the window", got)
	}
	h.SendPData(logsMsg("z", 10))
	h.RequireSent("default", 0)
	h.Advance(30 * time.Second) // the next window starts a minute after the first batch
	h.SendPData(logsMsg("z", 80))
	if got := h.RequireSent("default", 1)[0].Items(); got != 80 {
		t.Fatalf("batch in the next window kept %d, want 80", got)
	}
	if h.Wakeups() != 0 {
		t.Fatalf("%d wakeups armed: windows need none", h.Wakeups())
	}
}

func TestDecodedPayloadsAreCut(t *testing.T) {
	h := nodetest.New(t, logsampling.NewFactory(), "policy: { ratio: { emit: 1, out_of: 2 } }")
	in := pdatatest.Msg(pdata.FromLogs(pdatatest.LogsData("d", 9, 2, 8)))
	want := pdatatest.LogBodies(t, in.Payload())[:5]
	h.SendPData(in)
	out := h.RequireSent("default", 1)[0]
	if got := pdatatest.LogBodies(t, out.Payload()); !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
}

func TestSendFailureIsNacked(t *testing.T) {
	h := nodetest.New(t, logsampling.NewFactory(), cfgRatio, nodetest.WithPortCapacity(1))
	h.SendPData(pdatatest.Msg(pdatatest.Traces(1)))
	whole := h.SendPData(pdatatest.Msg(pdatatest.Metrics(1)))
	cut := h.SendPData(logsMsg("f", 20))
	got := h.TakeUpstream()
	if len(got) != 2 {
		t.Fatalf("upstream = %+v, want two nacks", got)
	}
	for i, id := range []uint64{whole, cut} {
		if got[i].ID != id || got[i].Kind != engine.KindNack || got[i].Nack.Cause != pdata.CauseRouteFull || got[i].Nack.Permanent {
			t.Fatalf("outcome %d = %+v, want transient route_full nack of input %d", i, got[i], id)
		}
		if !strings.Contains(got[i].Nack.Reason, `log_sampling "node": forward`) {
			t.Fatalf("reason %q", got[i].Nack.Reason)
		}
	}
	if m := got[1].Msg; m.Items() != 2 || m.Dropped() != 18 {
		t.Fatalf("the cut input was nacked with %d items (%d dropped), want the 2 kept (18 dropped)", m.Items(), m.Dropped())
	}
}

func TestFactory(t *testing.T) {
	f := logsampling.NewFactory()
	if f.Type != "processor:log_sampling" || f.NewProcessor == nil || f.NewReceiver != nil || f.Description == "" {
		t.Fatalf("factory = %+v", f)
	}
	n, err := nodetest.NodeConfig(f.Type, cfgZip, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.NewProcessor(engine.NodeContext{Node: n}); err != nil {
		t.Fatalf("NewProcessor without registry or logger: %v", err)
	}
}
