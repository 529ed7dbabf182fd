package attribute

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/telemetry"
)

// fullData returns a request of signal s in which every attribute list the
// node can visit (resource, scope, and every list of the signal domain:
// span events and links, metric metadata, every kind of data point and
// exemplar) holds keep = "k", target = "v" and other = 7.
func fullData(s pdata.Signal) any {
	fill := func(m pcommon.Map) {
		m.PutStr("keep", "k")
		m.PutStr("target", "v")
		m.PutInt("other", 7)
	}
	switch s {
	case pdata.Logs:
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		fill(rl.Resource().Attributes())
		sl := rl.ScopeLogs().AppendEmpty()
		fill(sl.Scope().Attributes())
		for range 2 {
			lr := sl.LogRecords().AppendEmpty()
			lr.Body().SetStr("hello")
			fill(lr.Attributes())
		}
		return ld
	case pdata.Traces:
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		fill(rs.Resource().Attributes())
		ss := rs.ScopeSpans().AppendEmpty()
		fill(ss.Scope().Attributes())
		sp := ss.Spans().AppendEmpty()
		sp.SetName("span")
		fill(sp.Attributes())
		fill(sp.Events().AppendEmpty().Attributes())
		fill(sp.Links().AppendEmpty().Attributes())
		return td
	}
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	fill(rm.Resource().Attributes())
	sm := rm.ScopeMetrics().AppendEmpty()
	fill(sm.Scope().Attributes())
	metric := func() pmetric.Metric {
		m := sm.Metrics().AppendEmpty()
		m.SetName("metric")
		fill(m.Metadata())
		return m
	}
	gp := metric().SetEmptyGauge().DataPoints().AppendEmpty()
	fill(gp.Attributes())
	fill(gp.Exemplars().AppendEmpty().FilteredAttributes())
	sp := metric().SetEmptySum().DataPoints().AppendEmpty()
	fill(sp.Attributes())
	fill(sp.Exemplars().AppendEmpty().FilteredAttributes())
	hp := metric().SetEmptyHistogram().DataPoints().AppendEmpty()
	fill(hp.Attributes())
	fill(hp.Exemplars().AppendEmpty().FilteredAttributes())
	ep := metric().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	fill(ep.Attributes())
	fill(ep.Exemplars().AppendEmpty().FilteredAttributes())
	fill(metric().SetEmptySummary().DataPoints().AppendEmpty().Attributes())
	return md
}

// otlpPayload encodes v (logs, metrics or traces) as an OTLP payload.
func otlpPayload(t testing.TB, v any) *pdata.Payload {
	t.Helper()
	var b []byte
	var err error
	var s pdata.Signal
	switch v := v.(type) {
	case plog.Logs:
		s = pdata.Logs
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(v)
	case pmetric.Metrics:
		s = pdata.Metrics
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(v)
	case ptrace.Traces:
		s = pdata.Traces
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	p, err := pdata.FromOTLP(s, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// lists returns the attribute lists of the payload, as raw maps, by
// domain.
func lists(t testing.TB, p *pdata.Payload) map[int][]map[string]any {
	t.Helper()
	out := map[int][]map[string]any{}
	eachMap(payloadData(t, p), func(m pcommon.Map, d int) { out[d] = append(out[d], m.AsRaw()) })
	return out
}

func sha256Hex(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestEveryActionDomainAndSignal runs each action on each domain of each
// signal, through the node, on OTLP bytes and on decoded payloads, and
// checks every attribute list: changed as the action says in the chosen
// domain, untouched elsewhere.
func TestEveryActionDomainAndSignal(t *testing.T) {
	before := map[string]any{"keep": "k", "target": "v", "other": int64(7)}
	with := func(changes map[string]any, removed ...string) map[string]any {
		m := map[string]any{}
		for k, v := range before {
			m[k] = v
		}
		for _, k := range removed {
			delete(m, k)
		}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	actions := []struct {
		name, yaml string
		want       map[string]any
	}{
		{"insert", "{action: insert, key: fresh, value: 5}", with(map[string]any{"fresh": int64(5)})},
		{"insert present", "{action: insert, key: target, value: new}", before},
		{"insert from_attribute", "{action: insert, key: copy, from_attribute: other}", with(map[string]any{"copy": int64(7)})},
		{"upsert", "{action: upsert, key: target, value: {double: 1.5}}", with(map[string]any{"target": 1.5})},
		{"upsert absent", "{action: upsert, key: fresh, value: true}", with(map[string]any{"fresh": true})},
		{"update", "{action: update, key: target, value: '1'}", with(map[string]any{"target": "1"})},
		{"update absent", "{action: update, key: fresh, value: x}", before},
		{"update from_attribute", "{action: update, key: target, from_attribute: keep}", with(map[string]any{"target": "k"})},
		{"delete", "{action: delete, key: target}", with(nil, "target")},
		{"rename", "{action: rename, source_key: target, destination_key: renamed}", with(map[string]any{"renamed": "v"}, "target")},
		{"rename onto a present key", "{action: rename, key: target, new_key: keep}", with(map[string]any{"keep": "v"}, "target")},
		{"hash", "{action: hash, key: target, salt: pepper}", with(map[string]any{"target": sha256Hex([]byte("pepper"), []byte("v"))})},
		{"hash an int", "{action: hash, key: other}", with(map[string]any{"other": sha256Hex(binary.LittleEndian.AppendUint64(nil, 7))})},
	}
	for _, sig := range pdata.Signals() {
		for _, dom := range []int{domSignal, domResource, domScope} {
			for _, a := range actions {
				for _, form := range []string{"otlp", "decoded"} {
					name := fmt.Sprintf("%s/%s/%s/%s", sig, domainNames[dom], a.name, form)
					t.Run(name, func(t *testing.T) {
						cfg := fmt.Sprintf("apply_to: [%s]\nactions: [%s]", domainNames[dom], a.yaml)
						h := nodetest.New(t, NewFactory(), cfg)
						in := otlpPayload(t, fullData(sig))
						if form == "decoded" {
							in = decodedPayload(fullData(sig))
						}
						h.SendPData(pdata.New(in))
						out := h.RequireSent("default", 1)[0].Payload()
						if out.Items() != in.Items() {
							t.Fatalf("items %d, want %d", out.Items(), in.Items())
						}
						for d, ls := range lists(t, out) {
							want := before
							if d == dom {
								want = a.want
							}
							for i, got := range ls {
								if fmt.Sprint(got) != fmt.Sprint(want) {
									t.Fatalf("%s list %d = %v, want %v", domainNames[d], i, got, want)
								}
							}
						}
					})
				}
			}
		}
	}
}

// TestHashValueTypes checks the hash input of every scalar type, as the
// reference engine defines it, and that non-scalars stay as they are.
func TestHashValueTypes(t *testing.T) {
	ld := plog.NewLogs()
	m := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes()
	m.PutStr("s", "text")
	m.PutInt("i", -2)
	m.PutDouble("d", 0.5)
	m.PutBool("b", true)
	m.PutEmptyBytes("y").FromRaw([]byte{0xff, 0})
	m.PutEmptyMap("m").PutStr("x", "y")
	m.PutEmptySlice("a").AppendEmpty().SetInt(1)
	m.PutEmpty("e")
	var acts []string
	for _, k := range []string{"s", "i", "d", "b", "y", "m", "a", "e"} {
		acts = append(acts, fmt.Sprintf("{action: hash, key: %s, salt: s4lt}", k))
	}
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, NewFactory(), "actions: ["+strings.Join(acts, ", ")+"]", nodetest.WithRegistry(reg))
	h.SendPData(pdata.New(otlpPayload(t, ld)))
	got := lists(t, h.RequireSent("default", 1)[0].Payload())[domSignal][0]
	salt := []byte("s4lt")
	want := map[string]any{
		"s": sha256Hex(salt, []byte("text")),
		"i": sha256Hex(salt, binary.LittleEndian.AppendUint64(nil, uint64(1<<64-2))),
		"d": sha256Hex(salt, binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.5))),
		"b": sha256Hex(salt, []byte{1}),
		"y": sha256Hex(salt, []byte{0xff, 0}),
		"m": map[string]any{"x": "y"},
		"a": []any{int64(1)},
		"e": nil,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	if n := metric(reg, "ackflow_processor_attribute_modified_total", "action", "hash", "domain", "signal"); n != 5 {
		t.Fatalf("modified_total{action=hash} = %v, want 5 (the scalars)", n)
	}
}

// metric returns the value of the series of family name whose labels
// include the given pairs.
func metric(reg *telemetry.Registry, name string, pairs ...string) float64 {
	var sum float64
	for _, s := range reg.Snapshot() {
		if s.Name != name {
			continue
		}
		match := true
		for i := 0; i < len(pairs); i += 2 {
			found := false
			for _, l := range s.Labels {
				found = found || (l.Name == pairs[i] && l.Value == pairs[i+1])
			}
			match = match && found
		}
		if match {
			sum += s.Value
		}
	}
	return sum
}

// TestActionsRunInOrder checks that each action sees the result of the
// ones before it.
func TestActionsRunInOrder(t *testing.T) {
	h := nodetest.New(t, NewFactory(), `actions:
  - {action: rename, source_key: target, destination_key: moved}
  - {action: insert, key: target, value: again}
  - {action: hash, key: moved}
  - {action: upsert, key: copy, from_attribute: moved}
  - {action: delete, key: keep}`)
	h.SendPData(pdata.New(otlpPayload(t, fullData(pdata.Logs))))
	got := lists(t, h.RequireSent("default", 1)[0].Payload())[domSignal][0]
	hv := sha256Hex([]byte("v"))
	want := map[string]any{"target": "again", "moved": hv, "copy": hv, "other": int64(7)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestRouteAndOutcomes checks that the node forwards the message itself
// (its route), does not subscribe, and that acks and nacks from
// downstream reach upstream.
func TestRouteAndOutcomes(t *testing.T) {
	h := nodetest.New(t, NewFactory(), "actions: [{action: delete, key: target}]")
	m := pdata.New(otlpPayload(t, fullData(pdata.Traces)))
	id := h.SendPData(m)
	sent := h.RequireSent("default", 1)[0]
	if sent != m {
		t.Fatal("the node sent another message: the route must stay the same")
	}
	if top, _ := sent.Top(); top.Node != nodetest.UpstreamID {
		t.Fatalf("top frame belongs to node %d: the node must not subscribe", top.Node)
	}
	h.Ack(sent)
	h.RequireAcked(id)

	m2 := pdata.New(otlpPayload(t, fullData(pdata.Traces)))
	id2 := h.SendPData(m2)
	h.Nack(h.RequireSent("default", 1)[0], pdata.Nack{Reason: "down", Permanent: true})
	if out := h.RequireNacked(id2); !out[0].Nack.Permanent || out[0].Nack.Reason != "down" {
		t.Fatalf("nack upstream = %+v", out[0].Nack)
	}
}

// TestUnchangedPayloadIsKept checks that a message whose attributes no
// action matches keeps its payload, and that no actions is a pass-through.
func TestUnchangedPayloadIsKept(t *testing.T) {
	for _, cfg := range []string{"actions: [{action: delete, key: nowhere}]", ""} {
		h := nodetest.New(t, NewFactory(), cfg)
		in := otlpPayload(t, fullData(pdata.Metrics))
		h.SendPData(pdata.New(in))
		if out := h.RequireSent("default", 1)[0].Payload(); out != in {
			t.Fatalf("config %q: the payload was replaced though nothing changed", cfg)
		}
	}
}

// TestMalformedPayloadIsNackedPermanently checks that bytes that are not
// a request (a payload built without the wire scan) are nacked upstream as
// permanent, and counted.
func TestMalformedPayloadIsNackedPermanently(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, NewFactory(), "apply_to: [resource]\nactions: [{action: delete, key: a}]", nodetest.WithRegistry(reg))
	bad := pdata.FromOTLPChunks(pdata.Logs, [][]byte{{0x0a, 0x05, 0x0a}}, 1)
	id := h.SendPData(pdata.New(bad))
	out := h.RequireNacked(id)
	n := out[0].Nack
	if !n.Permanent || !strings.Contains(n.Reason, `attribute "node"`) || !strings.Contains(n.Reason, "malformed protobuf") {
		t.Fatalf("nack = %+v", n)
	}
	if len(h.Sent("default")) != 0 {
		t.Fatal("a malformed payload was forwarded")
	}
	if v := metric(reg, "ackflow_processor_attribute_malformed_total"); v != 1 {
		t.Fatalf("malformed_total = %v", v)
	}
}

// TestSendFailureIsNacked checks that a message the node cannot forward
// is nacked with the cause.
func TestSendFailureIsNacked(t *testing.T) {
	h := nodetest.New(t, NewFactory(), "actions: [{action: delete, key: target}]", nodetest.WithPortCapacity(1))
	h.SendPData(pdata.New(otlpPayload(t, fullData(pdata.Logs))))
	id := h.SendPData(pdata.New(otlpPayload(t, fullData(pdata.Logs))))
	out := h.RequireNacked(id)
	if out[0].Nack.Cause != pdata.CauseRouteFull || out[0].Nack.Permanent {
		t.Fatalf("nack = %+v", out[0].Nack)
	}
}

// TestPayloadShapes checks payloads of several requests (a batch) and of
// a transport's buffers: the output is one request with every item.
func TestPayloadShapes(t *testing.T) {
	a, b := otlpPayload(t, fullData(pdata.Logs)), otlpPayload(t, fullData(pdata.Logs))
	batch, err := pdata.Concat(pdata.Logs, a, b)
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := a.Chunks()
	framed, err := pdata.FromOTLPBuffers(pdata.Logs, [][]byte{whole[0][:7], whole[0][7:20], whole[0][20:]})
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]*pdata.Payload{"batch": batch, "buffers": framed} {
		h := nodetest.New(t, NewFactory(), "apply_to: [signal, resource]\nactions: [{action: delete, key: target}]")
		h.SendPData(pdata.New(in))
		out := h.RequireSent("default", 1)[0].Payload()
		if out.Items() != in.Items() {
			t.Fatalf("%s: %d items, want %d", name, out.Items(), in.Items())
		}
		for d, ls := range lists(t, out) {
			for _, l := range ls {
				if _, ok := l["target"]; ok == (d != domScope) {
					t.Fatalf("%s: %s list %v", name, domainNames[d], l)
				}
			}
		}
	}
}

// fakeColumnar stands in for an OTAP batch: pdata converts it on demand.
type fakeColumnar struct{ ld plog.Logs }

func (f fakeColumnar) Items() int            { return f.ld.LogRecordCount() }
func (f fakeColumnar) Size() int             { return 100 }
func (f fakeColumnar) ToPdata() (any, error) { return f.ld, nil }

// TestOTAPPayloadsGoThroughPdata checks that an OTAP payload is converted
// (counted by pdata) and edited.
func TestOTAPPayloadsGoThroughPdata(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, NewFactory(), "actions: [{action: upsert, key: target, value: otap}]", nodetest.WithRegistry(reg))
	before, _ := pdata.OTAPConversions()
	in := pdata.FromColumnar(pdata.Logs, fakeColumnar{fullData(pdata.Logs).(plog.Logs)})
	h.SendPData(pdata.New(in))
	out := h.RequireSent("default", 1)[0].Payload()
	if after, _ := pdata.OTAPConversions(); after != before+1 {
		t.Fatalf("OTAP conversions %d -> %d, want one more", before, after)
	}
	if got := lists(t, out)[domSignal][0]["target"]; got != "otap" {
		t.Fatalf("target = %v", got)
	}
	if v := metric(reg, "ackflow_processor_attribute_messages_total", "path", "pdata"); v != 1 {
		t.Fatalf("messages_total{path=pdata} = %v", v)
	}
}

// TestMetrics checks the node's counters.
func TestMetrics(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, NewFactory(), `apply_to: [signal, resource]
actions:
  - {action: delete, key: target}
  - {action: insert, key: fresh, value: 1}`, nodetest.WithRegistry(reg))
	h.SendPData(pdata.New(otlpPayload(t, fullData(pdata.Traces)))) // 1 span, 1 event, 1 link
	h.SendPData(pdata.New(otlpPayload(t, fullData(pdata.Logs))))   // 2 records
	for _, c := range []struct {
		name  string
		pairs []string
		want  float64
	}{
		{"ackflow_processor_attribute_items_total", []string{"signal", "traces"}, 1},
		{"ackflow_processor_attribute_items_total", []string{"signal", "logs"}, 2},
		{"ackflow_processor_attribute_messages_total", []string{"path", "bytes"}, 2},
		{"ackflow_processor_attribute_modified_total", []string{"action", "delete", "domain", "signal"}, 5},
		{"ackflow_processor_attribute_modified_total", []string{"action", "delete", "domain", "resource"}, 2},
		{"ackflow_processor_attribute_modified_total", []string{"action", "insert", "domain", "signal"}, 5},
		{"ackflow_processor_attribute_modified_total", []string{"action", "delete", "domain", "scope"}, 0},
		{"ackflow_processor_attribute_malformed_total", nil, 0},
	} {
		if got := metric(reg, c.name, c.pairs...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.pairs, got, c.want)
		}
	}
}

// TestMessageWithoutPayload checks the nack for a message that lost its
// data.
func TestMessageWithoutPayload(t *testing.T) {
	h := nodetest.New(t, NewFactory(), "")
	m := pdata.New(otlpPayload(t, fullData(pdata.Logs)))
	m.DropPayload()
	id := h.SendPData(m)
	if out := h.RequireNacked(id); !out[0].Nack.Permanent {
		t.Fatalf("nack = %+v", out[0].Nack)
	}
}

var _ engine.Processor = (*core)(nil)
