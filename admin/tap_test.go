package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/ackflow/ackflow/admin"
	"github.com/ackflow/ackflow/config"
	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// feeder admits what the test sends it.
type feeder struct{ feed chan *pdata.Message }

func (f *feeder) Run(ctx context.Context, fx engine.ReceiverEffects) error {
	for {
		select {
		case m := <-f.feed:
			_ = fx.Send(ctx, m)
		case <-ctx.Done():
			return nil
		}
	}
}

func (f *feeder) OnOutcome(engine.Control) {}

type acker struct{}

func (acker) OnPData(m *pdata.Message, fx engine.Effects) error { fx.NotifyAck(m); return nil }
func (acker) OnControl(engine.Control, engine.Effects) error    { return nil }

// tapEngine runs src → out (acking), served by an admin server.
func tapEngine(t *testing.T) (*engine.Engine, *feeder, string) {
	t.Helper()
	src := &feeder{feed: make(chan *pdata.Message, 16)}
	reg := engine.MustRegistry(
		engine.Factory{Type: "receiver:feeder", NewReceiver: func(engine.NodeContext) (engine.Receiver, error) { return src, nil }},
		engine.Factory{Type: "exporter:acker", NewProcessor: func(engine.NodeContext) (engine.Processor, error) { return acker{}, nil }},
	)
	doc, err := config.Load("t.yaml", []byte(`
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:feeder }
          out: { type: exporter:acker }
        connections:
          - { from: src, to: out }
`), reg)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(doc, reg, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Start()
	srv := httptest.NewServer(admin.New(eng, telemetry.NewRegistry(), nil).Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = eng.Shutdown(ctx)
	})
	return eng, src, srv.URL
}

func TestTapStreamsOTLPJSONUpToTheLimit(t *testing.T) {
	_, src, url := tapEngine(t)
	resp, err := http.Get(url + "/api/v1/tap?node=src&limit=3")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(admin.TapHeader) != "g/p src default" ||
		resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("answer %d, headers %v", resp.StatusCode, resp.Header)
	}
	for i := range 5 { // the tap is attached once the headers arrived
		src.feed <- pdata.New(pdatatest.LogsPayload("tap", i+1, 0, 8))
	}
	sc := bufio.NewScanner(resp.Body)
	lines := 0
	for sc.Scan() {
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d is not OTLP JSON: %v\n%s", lines, err, sc.Text())
		}
		lines++
		if ld.LogRecordCount() != lines {
			t.Fatalf("sample %d has %d records, want %d", lines, ld.LogRecordCount(), lines)
		}
	}
	if lines != 3 || resp.Trailer.Get(admin.TapSamplesTrailer) != "3" || resp.Trailer.Get(admin.TapDroppedTrailer) != "0" {
		t.Fatalf("%d lines, trailers %v", lines, resp.Trailer)
	}
}

// When the client goes, the tap is detached.
func TestTapEndsWhenTheClientGoes(t *testing.T) {
	eng, src, url := tapEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/tap?node=src&rate=100/s", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	src.feed <- pdata.New(pdatatest.Logs(1))
	if _, err := bufio.NewReader(resp.Body).ReadBytes('\n'); err != nil {
		t.Fatal(err)
	}
	if taps := eng.Status()[0].Nodes[0].Outputs[0].Taps; taps != 1 {
		t.Fatalf("%d taps while streaming, want 1", taps)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for eng.Status()[0].Nodes[0].Outputs[0].Taps != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the tap is still attached after the client went")
		}
		time.Sleep(5 * time.Millisecond) // bounded polling for real I/O
	}
}

func TestTapRequestErrors(t *testing.T) {
	_, _, url := tapEngine(t)
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"", http.StatusBadRequest, "node is required"},
		{"?node=src&limit=-1", http.StatusBadRequest, "limit"},
		{"?node=src&rate=fast", http.StatusBadRequest, "rate"},
		{"?node=src&colour=red", http.StatusBadRequest, "unknown parameter"},
		{"?node=nope", http.StatusNotFound, "unknown node"},
		{"?node=out", http.StatusNotFound, "exporter"},
		{"?node=src&port=x", http.StatusNotFound, "unknown output port"},
	} {
		resp, err := http.Get(url + "/api/v1/tap" + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s: %d %q, want %d mentioning %q", tc.query, resp.StatusCode, b.String(), tc.code, tc.want)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"5": 5, "5/s": 5, "30/m": 0.5, "0": 0, "0.5": 0.5, "3600/h": 1} {
		if got, err := admin.ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "x", "5/d", "1e9", "NaN"} {
		if _, err := admin.ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

// The status document keeps its first fields and adds the new ones.
func TestStatusDocumentFields(t *testing.T) {
	eng, src, url := tapEngine(t)
	src.feed <- pdata.New(pdatatest.Logs(4))
	deadline := time.Now().Add(10 * time.Second)
	for eng.Status()[0].Flow.Delivered != 4 {
		if time.Now().After(deadline) {
			t.Fatal("not delivered")
		}
		time.Sleep(5 * time.Millisecond) // bounded polling for real I/O
	}
	resp, err := http.Get(url + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	p := raw["pipelines"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "copies", "admitted_items", "delivered_items", "nacked_items", "dropped_items", "in_flight_items",
		"nodes", "signals", "oldest_in_flight_seconds", "accounting_mismatches", "persisted_items"} {
		if _, ok := p[k]; !ok {
			t.Errorf("pipeline lacks %q: %v", k, p)
		}
	}
	n := p["nodes"].([]any)[1].(map[string]any)
	for _, k := range []string{"name", "type", "copy", "state", "queued_messages", "kind", "queue_capacity", "queue_fill",
		"received_items", "sent_items", "acked_items", "nacked_items", "dropped_items", "in_flight_items"} {
		if _, ok := n[k]; !ok {
			t.Errorf("node lacks %q: %v", k, n)
		}
	}
	sig := p["signals"].([]any)[0].(map[string]any)
	if sig["signal"] != "logs" || sig["delivered_items"].(float64) != 4 || n["acked_items"].(float64) != 4 {
		t.Errorf("signals %v, node %v", sig, n)
	}
}
