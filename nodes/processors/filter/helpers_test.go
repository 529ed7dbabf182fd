package filter_test

import (
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/filter"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// The node runs no goroutine of its own; the check guards the pipeline
// tests and any future change.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const port = "default"

// idKey is the attribute that names each test item.
const idKey = "id"

// attrs is attributes to put on a resource, record, span, event or link.
type attrs map[string]any

func putAttrs(t testing.TB, m pcommon.Map, a attrs) {
	t.Helper()
	if err := m.FromRaw(a); err != nil {
		t.Fatalf("attributes %v: %v", a, err)
	}
}

// ---------------------------------------------------------------------------
// Logs

type logRec struct {
	id      string
	sevText string
	sevNum  plog.SeverityNumber
	body    any // string, int, map, ... (nil: no body)
	attrs   attrs
}

type logRes struct {
	attrs attrs
	recs  []logRec
}

// buildLogs builds logs with one scope per resource; each record carries
// its id as an attribute.
func buildLogs(t testing.TB, rs ...logRes) plog.Logs {
	t.Helper()
	ld := plog.NewLogs()
	for _, r := range rs {
		rl := ld.ResourceLogs().AppendEmpty()
		putAttrs(t, rl.Resource().Attributes(), r.attrs)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("filtertest")
		for _, rec := range r.recs {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetSeverityText(rec.sevText)
			lr.SetSeverityNumber(rec.sevNum)
			if rec.body != nil {
				if err := lr.Body().FromRaw(rec.body); err != nil {
					t.Fatalf("body %v: %v", rec.body, err)
				}
			}
			putAttrs(t, lr.Attributes(), rec.attrs)
			lr.Attributes().PutStr(idKey, rec.id)
		}
	}
	return ld
}

// logsPayload encodes ld as an OTLP request and wraps it, as a receiver
// would.
func logsPayload(t testing.TB, ld plog.Logs) *pdata.Payload {
	t.Helper()
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pdata.FromOTLP(pdata.Logs, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logIDs returns the ids of the records of a logs payload, in order.
func logIDs(t testing.TB, p *pdata.Payload) []string {
	t.Helper()
	ld, err := p.Logs()
	if err != nil {
		t.Fatalf("decode logs: %v", err)
	}
	var ids []string
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				v, _ := lr.Attributes().Get(idKey)
				ids = append(ids, v.Str())
			}
		}
	}
	return ids
}

// ---------------------------------------------------------------------------
// Traces

type span struct {
	id     string
	name   string
	kind   ptrace.SpanKind
	attrs  attrs
	events []event
	links  []attrs // one link per entry, with these attributes
}

type event struct {
	name  string
	attrs attrs
}

type spanRes struct {
	attrs attrs
	spans []span
}

func buildTraces(t testing.TB, rs ...spanRes) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	for _, r := range rs {
		rsp := td.ResourceSpans().AppendEmpty()
		putAttrs(t, rsp.Resource().Attributes(), r.attrs)
		ss := rsp.ScopeSpans().AppendEmpty()
		for i, s := range r.spans {
			sp := ss.Spans().AppendEmpty()
			sp.SetName(s.name)
			sp.SetKind(s.kind)
			sp.SetTraceID(pcommon.TraceID{1, byte(i)})
			sp.SetSpanID(pcommon.SpanID{2, byte(i)})
			putAttrs(t, sp.Attributes(), s.attrs)
			sp.Attributes().PutStr(idKey, s.id)
			for _, e := range s.events {
				ev := sp.Events().AppendEmpty()
				ev.SetName(e.name)
				putAttrs(t, ev.Attributes(), e.attrs)
			}
			for _, l := range s.links {
				putAttrs(t, sp.Links().AppendEmpty().Attributes(), l)
			}
		}
	}
	return td
}

func tracesPayload(t testing.TB, td ptrace.Traces) *pdata.Payload {
	t.Helper()
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pdata.FromOTLP(pdata.Traces, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func spanIDs(t testing.TB, p *pdata.Payload) []string {
	t.Helper()
	td, err := p.Traces()
	if err != nil {
		t.Fatalf("decode traces: %v", err)
	}
	var ids []string
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				v, _ := sp.Attributes().Get(idKey)
				ids = append(ids, v.Str())
			}
		}
	}
	return ids
}

// ---------------------------------------------------------------------------
// Metrics

type metric struct {
	name   string
	points int // gauge data points
}

type metricRes struct {
	attrs   attrs
	metrics []metric
}

func buildMetrics(t testing.TB, rs ...metricRes) pmetric.Metrics {
	t.Helper()
	md := pmetric.NewMetrics()
	for _, r := range rs {
		rm := md.ResourceMetrics().AppendEmpty()
		putAttrs(t, rm.Resource().Attributes(), r.attrs)
		sm := rm.ScopeMetrics().AppendEmpty()
		for _, m := range r.metrics {
			pm := sm.Metrics().AppendEmpty()
			pm.SetName(m.name)
			g := pm.SetEmptyGauge()
			for i := range m.points {
				g.DataPoints().AppendEmpty().SetIntValue(int64(i))
			}
		}
	}
	return md
}

func metricsPayload(t testing.TB, md pmetric.Metrics) *pdata.Payload {
	t.Helper()
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pdata.FromOTLP(pdata.Metrics, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func metricNames(t testing.TB, p *pdata.Payload) []string {
	t.Helper()
	md, err := p.Metrics()
	if err != nil {
		t.Fatalf("decode metrics: %v", err)
	}
	var names []string
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				names = append(names, m.Name())
			}
		}
	}
	return names
}

// ---------------------------------------------------------------------------
// Running the node

// newHarness builds a filter node from cfg with its metrics in a fresh
// registry.
func newHarness(t testing.TB, cfg string, opts ...nodetest.Option) (*nodetest.Harness, *telemetry.Registry) {
	t.Helper()
	reg := telemetry.NewRegistry()
	return nodetest.New(t, filter.NewFactory(), cfg, append(opts, nodetest.WithRegistry(reg))...), reg
}

// result is what the node did with one input.
type result struct {
	sent    *pdata.Message // nil: nothing sent on
	dropped int            // items dropped with reason filtered
}

// run sends one payload through a fresh node built from cfg.
func run(t testing.TB, cfg string, p *pdata.Payload) result {
	t.Helper()
	h, _ := newHarness(t, cfg)
	h.SendPData(pdata.New(p))
	var r result
	switch sent := h.TakeSent(port); len(sent) {
	case 0:
	case 1:
		r.sent = sent[0]
	default:
		t.Fatalf("node sent %d messages for one input", len(sent))
	}
	r.dropped = h.Dropped()[filter.ReasonFiltered]
	if up := h.TakeUpstream(); len(up) > 0 {
		t.Fatalf("unexpected outcome upstream: %s %v", up[0].Kind, up[0].Nack)
	}
	return r
}

// checkKept checks the ids the node kept, with ids reading them from a
// payload: none means the whole message must have been dropped.
func checkKept(t *testing.T, in *pdata.Payload, r result, ids func(testing.TB, *pdata.Payload) []string, want []string) {
	t.Helper()
	if len(want) == 0 {
		if r.sent != nil {
			t.Fatalf("kept %v, want everything dropped", ids(t, r.sent.Payload()))
		}
		if r.dropped != in.Items() {
			t.Fatalf("dropped %d items with reason filtered, want %d", r.dropped, in.Items())
		}
		return
	}
	if r.sent == nil {
		t.Fatalf("everything dropped, want %v kept", want)
	}
	if got := ids(t, r.sent.Payload()); !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	if all := ids(t, in); slices.Equal(all, want) && r.sent.Payload() != in {
		t.Fatalf("nothing filtered, but the payload was replaced")
	}
}
