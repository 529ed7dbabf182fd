package filter_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/engine/enginetest"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/filter"
	"github.com/ackflow/ackflow/pdata"
)

// cfgWarnOnly keeps WARN records: r1 and r5 of testLogs.
const cfgWarnOnly = "logs: { include: { severity_texts: [WARN] } }"

// A message whose items are all kept goes on as it came: the same message
// with the same payload, whose bytes are those the receiver got.
func TestNothingFilteredForwardsTheSameBytes(t *testing.T) {
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(testLogs(t))
	if err != nil {
		t.Fatal(err)
	}
	in, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newHarness(t, "logs: { exclude: { severity_texts: [FATAL] } }")
	m := pdata.New(in)
	id := h.SendPData(m)
	out := h.RequireSent(port, 1)[0]
	if out != m || out.Payload() != in {
		t.Fatal("the message or its payload was replaced")
	}
	if f := out.Payload().Form(); f != pdata.FormOTLP {
		t.Fatalf("payload form %s, want otlp", f)
	}
	chunks, err := out.Payload().Chunks()
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 1 || !bytes.Equal(chunks[0], b) || &chunks[0][0] != &b[0] {
		t.Fatal("the forwarded bytes are not the received ones")
	}
	if len(h.Dropped()) != 0 {
		t.Fatalf("dropped %v, want nothing", h.Dropped())
	}
	h.Ack(out)
	h.RequireAcked(id)
}

// fakeColumnar is an OTAP-form payload that counts its conversions to
// pdata, so a test can see whether the node decoded it.
type fakeColumnar struct {
	ld    plog.Logs
	err   error
	calls int
}

func (c *fakeColumnar) Items() int { return c.ld.LogRecordCount() }
func (c *fakeColumnar) Size() int  { return 0 }
func (c *fakeColumnar) ToPdata() (any, error) {
	c.calls++
	if c.err != nil {
		return nil, c.err
	}
	return c.ld, nil
}

// A signal without rules is not decoded; one with rules is decoded once.
func TestOnlySignalsWithRulesAreDecoded(t *testing.T) {
	c := &fakeColumnar{ld: testLogs(t)}
	r := run(t, "traces: { exclude: { span_names: [x] } }", pdata.FromColumnar(pdata.Logs, c))
	if r.sent == nil || c.calls != 0 {
		t.Fatalf("logs without rules: sent %v, decoded %d times; want sent, never decoded", r.sent, c.calls)
	}
	c = &fakeColumnar{ld: testLogs(t)}
	in := pdata.FromColumnar(pdata.Logs, c)
	r = run(t, "logs: { exclude: { severity_texts: [FATAL] } }", in)
	if r.sent == nil || r.sent.Payload() != in || c.calls != 1 {
		t.Fatalf("logs with rules, nothing filtered: decoded %d times, want once and the payload untouched", c.calls)
	}
}

// A payload that cannot be decoded is nacked permanently: the same data
// would fail the same way.
func TestUndecodablePayloadIsNackedPermanently(t *testing.T) {
	h, reg := newHarness(t, cfgWarnOnly)
	c := &fakeColumnar{ld: testLogs(t), err: errors.New("dictionary index out of range")}
	id := h.SendPData(pdata.New(pdata.FromColumnar(pdata.Logs, c)))
	h.RequireSent(port, 0)
	n := h.RequireNacked(id)[0].Nack
	if !n.Permanent || !strings.Contains(n.Reason, `filter "node": decode logs: `) ||
		!strings.Contains(n.Reason, "dictionary index out of range") {
		t.Fatalf("nack %v, want permanent with the decode error", n)
	}
	if got := enginetest.Value(t, reg, "ackflow_processor_filter_rejected_items_total", "signal", "logs"); got != 6 {
		t.Fatalf("rejected items %v, want 6", got)
	}
}

// A message with nothing kept is dropped whole with reason filtered (the
// engine acks it upstream: see TestPipeline*).
func TestAllFilteredIsDropped(t *testing.T) {
	h, reg := newHarness(t, "logs: { include: { severity_texts: [FATAL] } }")
	h.SendPData(pdata.New(logsPayload(t, testLogs(t))))
	h.RequireSent(port, 0)
	if got := h.Dropped(); len(got) != 1 || got[filter.ReasonFiltered] != 6 {
		t.Fatalf("dropped %v, want 6 items with reason filtered", got)
	}
	if got := enginetest.Value(t, reg, "ackflow_processor_filter_filtered_items_total", "signal", "logs"); got != 6 {
		t.Fatalf("filtered items %v, want 6", got)
	}
}

// A message with some items kept goes on as the same message, with its
// return route, so the outcome of the smaller data reaches the sender.
func TestReducedMessageKeepsItsRoute(t *testing.T) {
	for _, outcome := range []string{"ack", "nack"} {
		t.Run(outcome, func(t *testing.T) {
			h, _ := newHarness(t, cfgWarnOnly)
			m := pdata.New(logsPayload(t, testLogs(t)))
			id := h.SendPData(m)
			out := h.RequireSent(port, 1)[0]
			if out != m || out.Items() != 2 {
				t.Fatalf("sent %v, want the input message with 2 items", out)
			}
			if got := logIDs(t, out.Payload()); !slices.Equal(got, []string{"r1", "r5"}) {
				t.Fatalf("kept %v, want [r1 r5]", got)
			}
			if outcome == "ack" {
				h.Ack(out)
				h.RequireAcked(id)
				return
			}
			h.Nack(out, pdata.Nack{Reason: "exporter: 503", Cause: pdata.CauseTimeout})
			if n := h.RequireNacked(id)[0].Nack; n.Reason != "exporter: 503" || n.Cause != pdata.CauseTimeout {
				t.Fatalf("nack upstream %v, want the exporter's", n)
			}
		})
	}
}

// The removed part of a reduced message is counted as dropped with reason
// filtered, through the engine's DropPart effect; the message sent on
// carries the 2 kept and remembers the 4 removed.
func TestReducedMessageCountsTheRemovedItems(t *testing.T) {
	h, reg := newHarness(t, cfgWarnOnly)
	in := pdata.New(logsPayload(t, testLogs(t)))
	h.SendPData(in)
	if out := h.RequireSent(port, 1)[0]; out != in || out.Items() != 2 || out.Dropped() != 4 {
		t.Fatalf("sent %d items (%d dropped), want the input itself with 2 (4 dropped)", out.Items(), out.Dropped())
	}
	if got := h.Dropped()[filter.ReasonFiltered]; got != 4 {
		t.Fatalf("dropped %d items with reason filtered, want 4", got)
	}
	if got := enginetest.Value(t, reg, "ackflow_processor_filter_filtered_items_total", "signal", "logs"); got != 4 {
		t.Fatalf("filtered items %v, want 4", got)
	}
}

// A message that cannot be sent on is nacked upstream with the cause, so
// its sender never waits: whole or reduced.
func TestSendFailureIsNacked(t *testing.T) {
	h, _ := newHarness(t, cfgWarnOnly, nodetest.WithPortCapacity(1))
	first := h.SendPData(pdata.New(logsPayload(t, testLogs(t))))
	whole := h.SendPData(pdata.New(logsPayload(t, buildLogs(t, logRes{recs: []logRec{{id: "w", sevText: "WARN"}}}))))
	reduced := h.SendPData(pdata.New(logsPayload(t, testLogs(t))))
	got := h.RequireNacked(whole, reduced)
	for _, o := range got {
		if o.Nack.Cause != pdata.CauseRouteFull || o.Nack.Permanent ||
			!strings.Contains(o.Nack.Reason, `filter "node": forward: engine: output full`) {
			t.Errorf("input %d: nack %v, want a transient route_full nack", o.ID, o.Nack)
		}
	}
	h.Ack(h.RequireSent(port, 1)[0])
	h.RequireAcked(first)
}

// The decision scratch is reused: a small message after a large one is
// decided on its own items only.
func TestConsecutiveMessages(t *testing.T) {
	h, reg := newHarness(t, cfgWarnOnly)
	small := buildLogs(t, logRes{recs: []logRec{{id: "a", sevText: "INFO"}, {id: "b", sevText: "WARN"}}})
	for i, tc := range []struct {
		ld   plog.Logs
		want []string
	}{
		{testLogs(t), []string{"r1", "r5"}},
		{small, []string{"b"}},
		{buildLogs(t, logRes{recs: []logRec{{id: "c", sevText: "WARN"}}}), []string{"c"}},
		{testLogs(t), []string{"r1", "r5"}},
	} {
		h.SendPData(pdata.New(logsPayload(t, tc.ld)))
		out := h.RequireSent(port, 1)[0]
		if got := logIDs(t, out.Payload()); !slices.Equal(got, tc.want) {
			t.Fatalf("message %d: kept %v, want %v", i, got, tc.want)
		}
		h.Ack(out)
	}
	h.TakeUpstream()
	for name, want := range map[string]float64{
		"ackflow_processor_filter_received_items_total": 15,
		"ackflow_processor_filter_kept_items_total":     6,
		"ackflow_processor_filter_filtered_items_total": 9,
		"ackflow_processor_filter_rejected_items_total": 0,
	} {
		if got := enginetest.Value(t, reg, name, "signal", "logs", "node", "node"); got != want {
			t.Errorf("%s{signal=logs} = %v, want %v", name, got, want)
		}
	}
}

// Each signal is counted under its own label, and a signal without rules
// counts everything as kept.
func TestMetricsPerSignal(t *testing.T) {
	h, reg := newHarness(t, `
logs: { include: { severity_texts: [WARN] } }
traces: { exclude: { span_kinds: [internal] } }`)
	h.SendPData(pdata.New(logsPayload(t, testLogs(t))))
	h.SendPData(pdata.New(tracesPayload(t, testTraces(t))))
	h.SendPData(pdata.New(metricsPayload(t, testMetrics(t))))
	h.RequireSent(port, 3)
	for _, c := range []struct {
		signal                   string
		received, kept, filtered float64
	}{
		{"logs", 6, 2, 4},
		{"traces", 5, 4, 1},
		{"metrics", 10, 10, 0},
	} {
		for name, want := range map[string]float64{
			"ackflow_processor_filter_received_items_total": c.received,
			"ackflow_processor_filter_kept_items_total":     c.kept,
			"ackflow_processor_filter_filtered_items_total": c.filtered,
		} {
			if got := enginetest.Value(t, reg, name, "signal", c.signal); got != want {
				t.Errorf("%s{signal=%s} = %v, want %v", name, c.signal, got, want)
			}
		}
	}
}
