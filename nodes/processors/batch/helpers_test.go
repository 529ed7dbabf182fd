package batch

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// newHarness builds a batch node from cfg with a fresh metric registry.
func newHarness(t *testing.T, cfg string, opts ...nodetest.Option) (*nodetest.Harness, *telemetry.Registry) {
	t.Helper()
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, NewFactory(), cfg, append([]nodetest.Option{nodetest.WithRegistry(reg)}, opts...)...)
	return h, reg
}

// metric sums the series of family name whose labels include the given
// name, value pairs.
func metric(t *testing.T, reg *telemetry.Registry, name string, labels ...string) float64 {
	t.Helper()
	want := telemetry.Labels(labels...)
	sum, found := 0.0, false
	for _, s := range reg.Snapshot() {
		if s.Name != name {
			continue
		}
		found = true
		if hasLabels(s.Labels, want) {
			sum += s.Value
		}
	}
	if !found {
		t.Fatalf("metric %s is not registered", name)
	}
	return sum
}

func hasLabels(got, want []telemetry.Label) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}

// otlpLogs is an OTLP logs input of n records tagged tag, perResource
// records per resource entry (0: one entry), 32-byte bodies.
func otlpLogs(tag string, n, perResource int) *pdata.Message {
	return pdata.New(pdatatest.LogsPayload(tag, n, perResource, 32))
}

// decodedLogs is otlpLogs in decoded form.
func decodedLogs(tag string, n, perResource int) *pdata.Message {
	return pdata.New(pdata.FromLogs(pdatatest.LogsData(tag, n, perResource, 32)))
}

// entryBytes is the size of one resource entry of a one-record-per-entry
// logs input, the unit of byte-sized test configs.
func entryBytes() int {
	return pdatatest.LogsPayload("a", 1, 1, 32).Bytes()
}

// bodies returns the record bodies of m's payload, in order.
func bodies(t *testing.T, m *pdata.Message) []string {
	t.Helper()
	return pdatatest.LogBodies(t, m.Payload())
}

// bodiesOfAll concatenates the bodies of ms.
func bodiesOfAll(t *testing.T, ms []*pdata.Message) []string {
	t.Helper()
	var out []string
	for _, m := range ms {
		out = append(out, bodies(t, m)...)
	}
	return out
}

// tagOf returns the input tag of a body written by pdatatest:
// "log-<tag>-<i>" padded with dots.
func tagOf(body string) string {
	parts := strings.SplitN(body, "-", 3)
	if len(parts) < 3 {
		return ""
	}
	return parts[1]
}

// tagsOf returns the distinct input tags of m, in order of appearance.
func tagsOf(t *testing.T, m *pdata.Message) []string {
	t.Helper()
	var out []string
	for _, b := range bodies(t, m) {
		if tag := tagOf(b); !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	return out
}

// items returns the item counts of ms.
func items(ms []*pdata.Message) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.Items()
	}
	return out
}

// logsWithEmptyResource is a decoded logs payload holding one resource
// without any record.
func logsWithEmptyResource() plog.Logs {
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().Resource().Attributes().PutStr("service.name", "empty")
	return ld
}

// setBody gives record lr a body "log-<tag>-<i>".
func setBody(lr plog.LogRecord, tag string, i int) {
	lr.Body().SetStr(fmt.Sprintf("log-%s-%d", tag, i))
	lr.SetTimestamp(pcommon.Timestamp(i))
}

// newTestCore builds the core from cfg without a harness, for tests and
// benchmarks that drive it with fakeEffects.
func newTestCore(tb testing.TB, cfg string) *processor {
	tb.Helper()
	n, err := nodetest.NodeConfig(Type, cfg, []string{"default"})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := decodeConfig(n)
	if err != nil {
		tb.Fatal(err)
	}
	set := c.settings()
	return newCore(set, newMetrics(nil, nil, set.activeBuffers()))
}

// fakeEffects is a lean engine.Effects: it records sends and upstream
// outcomes, and can make every send fail.
type fakeEffects struct {
	now     time.Time
	sendErr error
	sent    []*pdata.Message
	acked   int
	nacked  []pdata.Nack
	rev     wakeup.Revision
}

var _ engine.Effects = (*fakeEffects)(nil)

func (e *fakeEffects) Now() time.Time { return e.now }
func (e *fakeEffects) Send(m *pdata.Message) error {
	if e.sendErr != nil {
		return e.sendErr
	}
	e.sent = append(e.sent, m)
	return nil
}
func (e *fakeEffects) SendTo(_ string, m *pdata.Message) error    { return e.Send(m) }
func (e *fakeEffects) TrySend(m *pdata.Message) error             { return e.Send(m) }
func (e *fakeEffects) TrySendTo(_ string, m *pdata.Message) error { return e.Send(m) }
func (e *fakeEffects) Subscribe(m *pdata.Message, in pdata.Interests, cd pdata.CallData) {
	m.Subscribe(nodetest.NodeID, in, cd)
}
func (e *fakeEffects) NotifyAck(*pdata.Message)                  { e.acked++ }
func (e *fakeEffects) NotifyNack(_ *pdata.Message, n pdata.Nack) { e.nacked = append(e.nacked, n) }
func (e *fakeEffects) SetWakeup(wakeup.Slot, time.Time) (wakeup.Revision, bool, error) {
	e.rev++
	return e.rev, false, nil
}
func (e *fakeEffects) CancelWakeup(wakeup.Slot) bool { return true }
func (e *fakeEffects) RequeueLater(time.Time, *pdata.Message) error {
	return wakeup.ErrUnsupported
}
func (e *fakeEffects) StartTimer(time.Duration)                                 {}
func (e *fakeEffects) Post(any)                                                 {}
func (e *fakeEffects) Drop(*pdata.Message, string)                              {}
func (e *fakeEffects) DropPart(m *pdata.Message, kept *pdata.Payload, _ string) { m.Shrink(kept) }
func (e *fakeEffects) Ports() []string                                          { return []string{"default"} }

// ackAll delivers an ack for every message sent so far to p, as an
// immediately answering downstream would, and forgets them.
func (e *fakeEffects) ackAll(tb testing.TB, p *processor) {
	for len(e.sent) > 0 {
		sent := e.sent
		e.sent = e.sent[:0:0]
		for _, m := range sent {
			f, ok := m.Top()
			if !ok {
				tb.Fatal("a batch was sent without the node's frame")
			}
			if err := p.OnControl(engine.Control{Kind: engine.KindAck, CallData: f.CallData}, e); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// inputID returns the harness id of in: the call data of its upstream frame.
func (p *processor) inputID(in *input) uint64 {
	f, _ := in.msg.Top()
	return f.CallData[0]
}
