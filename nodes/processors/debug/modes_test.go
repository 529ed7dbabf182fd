package debug_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// services is a logs payload of one resource with a record per service
// named, each with attribute service.name (and code 500 on "pay").
func services(names ...string) *pdata.Payload {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("host.name", "h1")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("lib")
	for _, n := range names {
		lr := sl.LogRecords().AppendEmpty()
		lr.Body().SetStr("from " + n)
		lr.Attributes().PutStr("service.name", n)
		if n == "pay" {
			lr.Attributes().PutInt("code", 500)
		}
	}
	return pdata.FromLogs(ld)
}

func count(text, s string) int { return strings.Count(text, s) }

func TestSignalModeReportsEachItem(t *testing.T) {
	h, logs := newHarness(t, "verbosity: normal\nmode: signal")
	h.SendPData(pdata.New(services("cart", "pay", "auth")))
	h.RequireSent("default", 1)
	text := logs.String()
	if count(text, "msg=\"log record\"") != 3 || strings.Contains(text, "msg=pdata") || strings.Contains(text, "msg=resource") {
		t.Fatalf("signal mode at normal: want three record lines and no summary or resource line, got:\n%s", text)
	}
	if !strings.Contains(text, "body=\"from pay\" attributes=\"service.name=pay, code=500\"") {
		t.Errorf("record line lacks its body and attributes:\n%s", text)
	}
}

func TestSignalModeDetailedLinesStandAlone(t *testing.T) {
	h, logs := newHarness(t, "verbosity: detailed\nmode: signal")
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "shop")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("http")
	ss.Spans().AppendEmpty().SetName("GET /")
	ss.Spans().AppendEmpty().SetName("POST /")
	h.SendPData(pdata.New(pdata.FromTraces(td)))
	h.RequireSent("default", 1)
	text := logs.String()
	if count(text, "msg=span") != 2 || strings.Contains(text, "msg=scope") || strings.Contains(text, "msg=pdata") {
		t.Fatalf("want two span lines only, got:\n%s", text)
	}
	if count(text, `resource_attributes="service.name=shop" scope_name=http`) != 2 {
		t.Errorf("each span line should carry its resource and scope:\n%s", text)
	}
}

func TestBatchModeIsTheDefault(t *testing.T) {
	h, logs := newHarness(t, "verbosity: detailed")
	h.SendPData(pdata.New(services("cart", "pay")))
	h.RequireSent("default", 1)
	text := logs.String()
	want := []string{"msg=pdata signal=logs items=2 resources=1 scopes=1", "msg=resource index=0 attributes=\"host.name=h1\"",
		"msg=scope resource=0 index=0 name=lib", "msg=\"log record\"", "msg=\"log record\""}
	for _, w := range want {
		i := strings.Index(text, w)
		if i < 0 {
			t.Fatalf("log lacks %q in order:\n%s", w, logs.String())
		}
		text = text[i+len(w):]
	}
	if strings.Contains(logs.String(), "resource_attributes=") {
		t.Errorf("batch mode lines repeat the resource:\n%s", logs.String())
	}
}

func TestFiltersSelectWhatIsShownNotWhatIsForwarded(t *testing.T) {
	cfg := `verbosity: detailed
filters:
  - predicate: { field: attribute, value: [{ key: service.name, value: cart }, { key: code, value: 500 }] }
    mode: include
  - predicate: { field: attribute, value: [{ key: service.name, value: pay }] }
    mode: exclude
`
	h, logs := newHarness(t, cfg)
	in := pdata.New(services("cart", "pay", "auth"))
	h.SendPData(in)
	if out := h.RequireSent("default", 1)[0]; out != in || out.Items() != 3 {
		t.Fatalf("forwarded %v with %d items, want the input with its 3 items", out, out.Items())
	}
	text := logs.String()
	if !strings.Contains(text, "items=3 resources=1 scopes=1 shown=1") || count(text, "msg=\"log record\"") != 1 || !strings.Contains(text, "service.name=cart") {
		t.Fatalf("want cart alone shown (pay is included by code but excluded by name), got:\n%s", text)
	}

	// A message whose items are all hidden is not reported at all.
	logs.Reset()
	h.SendPData(pdata.New(services("auth")))
	h.RequireSent("default", 1)
	if logs.Len() != 0 {
		t.Fatalf("a fully filtered message was reported:\n%s", logs.String())
	}
}

func TestFiltersAtBasicCountTheShownItems(t *testing.T) {
	h, logs := newHarness(t, "verbosity: basic\nfilters: [{predicate: {field: attribute, value: [{key: service.name, value: pay}]}, mode: exclude}]")
	h.SendPData(pdata.New(services("cart", "pay", "auth")))
	h.RequireSent("default", 1)
	if text := logs.String(); !strings.Contains(text, "msg=pdata signal=logs items=3 shown=2\n") {
		t.Fatalf("want the summary with shown=2, got:\n%s", text)
	}
}

func TestFiltersOnMetricsMatchAnyDataPoint(t *testing.T) {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	for _, name := range []string{"hit", "miss"} {
		m := sm.Metrics().AppendEmpty()
		m.SetName(name)
		dps := m.SetEmptyGauge().DataPoints()
		dps.AppendEmpty().Attributes().PutStr("route", "/a")
		dps.AppendEmpty().Attributes().PutStr("route", "/"+name)
	}
	h, logs := newHarness(t, "verbosity: detailed\nfilters: [{predicate: {field: attribute, value: [{key: route, value: /hit}]}, mode: include}]")
	h.SendPData(pdata.New(pdata.FromMetrics(md)))
	h.RequireSent("default", 1)
	text := logs.String()
	if !strings.Contains(text, "shown=2") || count(text, "metric=hit") != 2 || strings.Contains(text, "metric=miss") {
		t.Fatalf("want both points of metric hit shown and none of miss, got:\n%s", text)
	}
}

func TestZapSamplingOnTheEngineClock(t *testing.T) {
	h, logs := newHarness(t, "verbosity: basic\nsampling: {type: zap_sampling, sampling_initial: 2, sampling_thereafter: 3, sampling_interval: 10}")
	send := func(n int) {
		for range n {
			h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
		}
		h.RequireSent("default", n)
	}
	send(8) // reports 1 and 2 (initial), then 5 and 8 (one in three)
	if got := count(logs.String(), "msg=pdata"); got != 4 {
		t.Fatalf("first interval: %d reports shown, want 4:\n%s", got, logs.String())
	}
	h.Advance(10 * time.Second) // a new interval starts over
	send(2)
	if got := count(logs.String(), "msg=pdata"); got != 6 {
		t.Fatalf("after the interval: %d reports shown in all, want 6:\n%s", got, logs.String())
	}
}

func TestSamplingCountsItemsInSignalMode(t *testing.T) {
	h, logs := newHarness(t, "mode: signal\nsampling: {type: zap_sampling, sampling_initial: 1, sampling_thereafter: 2, sampling_interval: 1m}")
	h.SendPData(pdata.New(services("a", "b", "c", "d", "e")))
	h.RequireSent("default", 1)
	// Items 1 (initial), 3 and 5 (one in two after it).
	text := logs.String()
	if count(text, "msg=\"log record\"") != 3 || !strings.Contains(text, "from a") || !strings.Contains(text, "from c") || !strings.Contains(text, "from e") {
		t.Fatalf("want records a, c and e, got:\n%s", text)
	}
}

func TestOutputFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "debug.txt")
	if err := os.WriteFile(path, []byte("earlier line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, logs := newHarness(t, "verbosity: basic\noutput: "+path)
	h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	h.RequireSent("default", 1)
	h.Shutdown(nodetest.Start)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, "earlier line\n") || !strings.Contains(text, "msg=pdata node=node signal=logs items=2") ||
		!strings.Contains(text, "msg=\"debug summary\" node=node logs.messages=1 logs.items=2") {
		t.Fatalf("file holds:\n%s\nwant the earlier line, then the report and the summary appended", text)
	}
	if logs.Len() != 0 {
		t.Errorf("lines went to the logger too:\n%s", logs.String())
	}
}

func TestOutputFileThatCannotBeOpenedFallsBackToTheLogger(t *testing.T) {
	h, logs := newHarness(t, "verbosity: basic\noutput: "+filepath.Join(t.TempDir(), "missing", "dir", "debug.txt"))
	h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	h.RequireSent("default", 1)
	text := logs.String()
	if !strings.Contains(text, "level=WARN msg=\"debug: cannot open the output file; logging here instead\"") || !strings.Contains(text, "msg=pdata signal=logs items=2") {
		t.Fatalf("want a warning then the line on the logger, got:\n%s", text)
	}
}

func TestNoSignalsOnlyForwards(t *testing.T) {
	h, logs := newHarness(t, "signals: []")
	h.SendPData(pdatatest.Msg(pdatatest.Logs(2)))
	h.RequireSent("default", 1)
	if logs.Len() != 0 {
		t.Fatalf("signals: [] logged:\n%s", logs.String())
	}
}
