package filter

import (
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

// recordingEffects records, in order, the effects the node uses on a
// reduced message; the methods it does not use panic (nil embedded
// Effects).
type recordingEffects struct {
	engine.Effects
	calls []string
	items []int // items removed at DropPart, m.Items() at Send
}

func (fx *recordingEffects) Send(m *pdata.Message) error {
	fx.calls = append(fx.calls, "send")
	fx.items = append(fx.items, m.Items())
	return nil
}

func (fx *recordingEffects) DropPart(m *pdata.Message, kept *pdata.Payload, reason string) {
	fx.calls = append(fx.calls, "drop_part:"+reason)
	fx.items = append(fx.items, m.Shrink(kept))
}

// The node hands the engine the smaller payload with DropPart before the
// send: once sent, the message may be answered at any time.
func TestDropPartComesBeforeTheSend(t *testing.T) {
	p := warnOnly(t)
	fx := &recordingEffects{}
	if err := p.OnPData(pdata.New(pdata.FromLogs(fiveRecords())), fx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"drop_part:filtered", "send"}; !slices.Equal(fx.calls, want) {
		t.Fatalf("calls %v, want %v", fx.calls, want)
	}
	if want := []int{3, 2}; !slices.Equal(fx.items, want) {
		t.Fatalf("items at each call %v, want %v", fx.items, want)
	}
}

// warnOnly builds a node keeping WARN records.
func warnOnly(t *testing.T) *processor {
	t.Helper()
	n, err := nodetest.NodeConfig(Type, "logs: { include: { severity_texts: [WARN] } }", []string{"default"})
	if err != nil {
		t.Fatal(err)
	}
	n.Path = config.Path{}
	s, err := decodeConfig(n)
	if err != nil {
		t.Fatal(err)
	}
	return &processor{name: "f", s: s, metrics: newMetrics(nil, nil)}
}

// fiveRecords are WARN, INFO, INFO, WARN, DEBUG.
func fiveRecords() plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for _, sev := range []string{"WARN", "INFO", "INFO", "WARN", "DEBUG"} {
		lrs.AppendEmpty().SetSeverityText(sev)
	}
	return ld
}
