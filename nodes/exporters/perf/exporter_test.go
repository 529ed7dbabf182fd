package perf

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

// fakeProc is a /proc whose counters the test moves between reports.
type fakeProc struct {
	fs  fstest.MapFS
	cpu time.Duration
	err error // returned by the CPU clock
}

func newFakeProc() *fakeProc {
	return &fakeProc{fs: fstest.MapFS{
		"stat":       {Data: []byte("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\n")},
		"self/statm": {Data: []byte("2000 500 100 10 0 300 0\n")},
		"self/io":    {Data: []byte("rchar: 1\nwchar: 2\nread_bytes: 4096\nwrite_bytes: 8192\n")},
		"net/dev": {Data: []byte("Inter-|   Receive                            |  Transmit\n" +
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n" +
			"    lo:  1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n" +
			"  eth0:  5000      50    1    0    0     0          0         0     7000      70    2    0    0     0       0          0\n")},
	}}
}

func (p *fakeProc) source() *source {
	return &source{proc: p.fs, cpuTime: func() (time.Duration, error) { return p.cpu, p.err }, pageSize: 4096}
}

// logLines captures the node's log as JSON records.
type logLines struct{ buf bytes.Buffer }

func (l *logLines) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the records with message msg, decoded.
func (l *logLines) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// field reads a dotted path in a JSON record.
func field(r map[string]any, path string) any {
	var v any = r
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// newHarness builds a perf exporter on the fake /proc p, logging to l.
func newHarness(t *testing.T, cfg string, p *fakeProc, l *logLines, opts ...nodetest.Option) *nodetest.Harness {
	f := newFactory(p.source)
	build := f.NewProcessor
	f.NewProcessor = func(nc engine.NodeContext) (engine.Processor, error) {
		nc.Logger = l.logger()
		return build(nc)
	}
	return nodetest.New(t, f, cfg, opts...)
}

func TestAcksEverythingAtOnce(t *testing.T) {
	h := newHarness(t, "", newFakeProc(), &logLines{})
	ids := []uint64{
		h.SendPData(pdatatest.Msg(pdatatest.Logs(3))),
		h.SendPData(pdatatest.Msg(pdatatest.Metrics(2))),
		h.SendPData(pdatatest.Msg(pdatatest.Traces(1))),
	}
	h.RequireAcked(ids...)
}

func TestReportsThroughputPerSignal(t *testing.T) {
	var l logLines
	reg := telemetry.NewRegistry()
	h := newHarness(t, "frequency: 2000\nsmoothing_factor: 0.5\nself_usage: false\ncpu_usage: false\nmem_usage: false\ndisk_usage: false\nio_usage: false",
		newFakeProc(), &l, nodetest.WithRegistry(reg))
	logs := pdatatest.LogsPayload("p", 100, 0, 32)
	for range 4 {
		h.SendPData(pdatatest.Msg(logs))
	}
	h.SendPData(pdatatest.Msg(pdatatest.Traces(10)))
	h.Advance(2 * time.Second)
	for range 2 {
		h.SendPData(pdatatest.Msg(logs))
	}
	h.Advance(2 * time.Second)
	h.TakeUpstream()

	reports := l.records(t, "perf report")
	if len(reports) != 2 {
		t.Fatalf("got %d reports, want 2 (one per 2s)", len(reports))
	}
	first, second := reports[0], reports[1]
	size := float64(logs.Bytes())
	for _, c := range []struct {
		r    map[string]any
		path string
		want any
	}{
		{first, "logs.items", 400.0},
		{first, "logs.messages", 4.0},
		{first, "logs.bytes", 4 * size},
		{first, "logs.items_per_second", 200.0},
		{first, "logs.items_per_second_smoothed", 200.0},
		{first, "logs.messages_per_second", 2.0},
		{first, "traces.items", 10.0},
		{first, "metrics", nil}, // never seen: left out
		{first, "cpu", nil},     // usage sections disabled
		{second, "logs.items", 200.0},
		{second, "logs.items_per_second", 100.0},
		{second, "logs.items_per_second_smoothed", 150.0}, // 0.5×100 + 0.5×200
		{second, "logs.total_items", 600.0},
		{second, "traces.items", 0.0},
		{second, "traces.total_items", 10.0},
	} {
		if got := field(c.r, c.path); got != c.want {
			t.Errorf("%s = %v, want %v", c.path, got, c.want)
		}
	}
	if got := field(first, "interval"); got != float64(2*time.Second) {
		t.Errorf("interval = %v, want 2s", got)
	}

	h.Shutdown(h.Clock.Now().Add(time.Minute))
	sum := l.records(t, "perf summary")
	if len(sum) != 1 || field(sum[0], "logs.items") != 600.0 || field(sum[0], "logs.items_per_second") != 150.0 {
		t.Fatalf("summary = %v, want 600 logs at 150/s over 4s", sum)
	}
	for sig, want := range map[string]float64{"logs": 600, "traces": 10, "metrics": 0} {
		if got := counter(reg, "ackflow_exporter_perf_items_total", sig); got != want {
			t.Errorf("items_total{signal=%s} = %v, want %v", sig, got, want)
		}
	}
	if got := counter(reg, "ackflow_exporter_perf_bytes_total", "logs"); got != 6*size {
		t.Errorf("bytes_total{signal=logs} = %v, want %v", got, 6*size)
	}
	if got := counter(reg, "ackflow_exporter_perf_messages_total", "logs"); got != 6 {
		t.Errorf("messages_total{signal=logs} = %v, want 6", got)
	}
}

func TestReportWithoutData(t *testing.T) {
	var l logLines
	h := newHarness(t, "frequency: 1s", newFakeProc(), &l)
	h.Advance(time.Second)
	r := l.records(t, "perf report")
	if len(r) != 1 || field(r[0], "data") != "none received yet" {
		t.Fatalf("reports = %v", r)
	}
	if start := l.records(t, "perf exporter started"); len(start) != 1 || field(start[0], "frequency") != float64(time.Second) {
		t.Fatalf("start records = %v", start)
	}
}

func TestUsageSections(t *testing.T) {
	var l logLines
	p := newFakeProc()
	h := newHarness(t, "frequency: 1000", p, &l)
	// One second later: the process used half a core, the host 300 of
	// 1000 jiffies busy, 1 MiB read, eth0 received 1000 bytes.
	p.cpu = 500 * time.Millisecond
	p.fs["stat"] = &fstest.MapFile{Data: []byte("cpu  200 0 300 1500 0 0 0 0 0 0\n")}
	p.fs["self/io"] = &fstest.MapFile{Data: []byte("read_bytes: 1052672\nwrite_bytes: 8192\n")}
	p.fs["net/dev"] = &fstest.MapFile{Data: []byte("h1\nh2\n  eth0:  6000 60 1 0 0 0 0 0 7000 70 2 0 0 0 0 0\n")}
	h.Advance(time.Second)
	r := l.records(t, "perf report")[0]
	for path, want := range map[string]any{
		"cpu.process_percent":              50.0,
		"cpu.host_percent":                 30.0,
		"memory.rss_bytes":                 500.0 * 4096,
		"memory.virtual_bytes":             2000.0 * 4096,
		"disk.read_bytes_per_second":       1048576.0,
		"disk.write_bytes_per_second":      0.0,
		"disk.total_read_bytes":            1052672.0,
		"network.eth0.rx_bytes_per_second": 1000.0,
		"network.eth0.tx_bytes_per_second": 0.0,
		"network.eth0.total_rx_errors":     1.0,
		"network.lo":                       nil, // gone from the second reading
	} {
		if got := field(r, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if g, ok := field(r, "go.goroutines").(float64); !ok || g < 1 {
		t.Errorf("go.goroutines = %v", field(r, "go.goroutines"))
	}
}

// A section that cannot be read is left out, and its error logged once.
func TestUnavailableSectionIsLoggedOnce(t *testing.T) {
	var l logLines
	p := newFakeProc()
	delete(p.fs, "self/io")
	p.err = errors.New("no rusage here")
	h := newHarness(t, "", p, &l)
	h.Advance(3 * time.Second)
	reports := l.records(t, "perf report")
	if len(reports) != 3 {
		t.Fatalf("got %d reports, want 3", len(reports))
	}
	for _, r := range reports {
		if field(r, "disk") != nil || field(r, "cpu.process_percent") != nil || field(r, "memory.rss_bytes") == nil {
			t.Fatalf("report %v: want no disk section and no process CPU, the other sections", r)
		}
	}
	warns := l.records(t, "perf: a usage section is unavailable and is left out of the reports")
	if len(warns) != 2 {
		t.Fatalf("got %d warnings, want one for disk_usage and one for cpu_usage.process: %v", len(warns), warns)
	}
}

func TestOTAPPayloadIsNotConverted(t *testing.T) {
	reg := telemetry.NewRegistry()
	h := newHarness(t, "", newFakeProc(), &logLines{}, nodetest.WithRegistry(reg))
	before, _ := pdata.OTAPConversions()
	h.SendPData(pdata.New(pdata.FromColumnar(pdata.Logs, fakeColumnar{items: 7, size: 1234})))
	if after, _ := pdata.OTAPConversions(); after != before {
		t.Fatal("the OTAP payload was converted to count its bytes")
	}
	if got := counter(reg, "ackflow_exporter_perf_bytes_total", "logs"); got != 1234 {
		t.Fatalf("bytes_total = %v, want the Arrow size 1234", got)
	}
}

type fakeColumnar struct{ items, size int }

func (c fakeColumnar) Items() int            { return c.items }
func (c fakeColumnar) Size() int             { return c.size }
func (c fakeColumnar) ToPdata() (any, error) { return nil, errors.New("not convertible") }

func counter(r *telemetry.Registry, name, signal string) float64 {
	for _, s := range r.Snapshot() {
		if s.Name != name {
			continue
		}
		for _, l := range s.Labels {
			if l.Name == "signal" && l.Value == signal {
				return s.Value
			}
		}
	}
	return -1
}

func TestFactory(t *testing.T) {
	f := NewFactory()
	if f.Type != "exporter:perf" || f.NewProcessor == nil || f.NewReceiver != nil || f.Description == "" {
		t.Fatalf("factory = %+v", f)
	}
	if f.Kind().String() != "exporter" {
		t.Fatalf("kind %v", f.Kind())
	}
	n, err := nodetest.NodeConfig(f.Type, "frequency: 5000", nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Outputs = nil
	if _, err := f.NewProcessor(engine.NodeContext{Node: n}); err != nil {
		t.Fatalf("NewProcessor without logger or registry: %v", err)
	}
}

// The real /proc of the machine running the tests reads without error.
func TestRealSource(t *testing.T) {
	x := realSource().read(DefaultConfig())
	for name, err := range map[string]error{"cpu": x.procCPUErr, "host": x.hostErr, "mem": x.memErr, "net": x.netErr} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if x.rss == 0 || x.hostTotal == 0 {
		t.Errorf("rss %d, host jiffies %d: want readings", x.rss, x.hostTotal)
	}
}

func newTextLogger(w *syncLines) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
