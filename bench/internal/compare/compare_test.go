package compare

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
	yaml "go.yaml.in/yaml/v3"

	"github.com/ackflow/ackflow/loadgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConfigsRender checks that every system's configuration is valid
// YAML naming its ports, and that the baseline's command line names them.
// With BENCH_BIN_DIR set to a directory holding built ackflow, otelcol and
// otelarrowcol binaries it also has each program validate its own
// configurations (an ackflow without the components a system needs, or a
// missing otelarrowcol, skips those).
func TestConfigsRender(t *testing.T) {
	bins := os.Getenv("BENCH_BIN_DIR")
	ports := Ports{Receiver: 14317, Admin: 18080, Hop: 16317, Sinks: []int{15317, 15318, 15319}, Dir: t.TempDir()}
	var have map[string]bool
	if bins != "" {
		have = ackflowComponents(t, filepath.Join(bins, "ackflow"))
	}
	for _, sc := range Scenarios() {
		for _, sys := range sc.Systems {
			if sys.Unavailable != "" {
				continue
			}
			t.Run(sc.Name+"/"+sys.Name, func(t *testing.T) {
				if sys.Kind == Baseline {
					args := " " + strings.Join(sys.Args(sc.Signal, ports), " ") + " "
					for _, want := range []string{" -listen 127.0.0.1:14317 ", " -admin 127.0.0.1:18080 "} {
						if !strings.Contains(args, want) {
							t.Errorf("the baseline's command line lacks %q: %s", want, args)
						}
					}
					forwards := strings.Contains(args, " -mode forward ") && strings.Contains(args, " -to 127.0.0.1:15317 ")
					if forwards != (sc.Sinks > 0) {
						t.Errorf("%d sinks, command line %s: the baseline forwards to the sink exactly when there is one", sc.Sinks, args)
					}
					return
				}
				cfg := sys.Config(sc.Signal, ports)
				var doc map[string]any
				if err := yaml.Unmarshal([]byte(cfg), &doc); err != nil {
					t.Fatalf("invalid YAML: %v\n%s", err, cfg)
				}
				if !strings.Contains(cfg, "127.0.0.1:14317") {
					t.Errorf("the receiver port is not in the config:\n%s", cfg)
				}
				for i := range sc.Sinks {
					if !strings.Contains(cfg, "127.0.0.1:"+strconv.Itoa(ports.Sinks[i])) {
						t.Errorf("sink %d is not in the config:\n%s", i, cfg)
					}
				}
				// The hop is both tiers' port: one exports to it, one listens.
				if hops := strings.Count(cfg, "127.0.0.1:16317"); sc.Hop && hops != 2 || !sc.Hop && hops != 0 {
					t.Errorf("hop port named %d times, want %d:\n%s", hops, map[bool]int{true: 2}[sc.Hop], cfg)
				}
				if bins == "" {
					return
				}
				path := filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
				var cmd *exec.Cmd
				switch sys.Kind {
				case Collector:
					cmd = exec.Command(filepath.Join(bins, "otelcol"), "validate", "--config", path)
				case ArrowCollector:
					bin := filepath.Join(bins, "otelarrowcol")
					if _, err := os.Stat(bin); err != nil {
						t.Skipf("no otelarrowcol in BENCH_BIN_DIR: %v", err)
					}
					cmd = exec.Command(bin, "validate", "--config", path)
				default:
					if r := Restrict(Scenario{Systems: []System{sys}}, Availability{Components: have}); r.Systems[0].Unavailable != "" {
						t.Skip(r.Systems[0].Unavailable)
					}
					cmd = exec.Command(filepath.Join(bins, "ackflow"), "validate", "--config", path)
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s: %v\n%s\n%s", cmd, err, out, cfg)
				}
			})
		}
	}
}

// ackflowComponents lists the component types of the ackflow binary bin.
func ackflowComponents(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, err := exec.Command(bin, "components").Output()
	if err != nil {
		t.Fatalf("%s components: %v", bin, err)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 {
			have[f[0]] = true
		}
	}
	return have
}

func TestScenariosHaveOneReferenceAckflowAndBaseline(t *testing.T) {
	// The baseline runs where the bare hop does the same job: logs in,
	// answered (passthrough) or forwarded to the sink (forward).
	measured := map[string]bool{"passthrough": true, "forward": true}
	for _, sc := range Scenarios() {
		refs, af := 0, 0
		var base []System
		for _, s := range sc.Systems {
			if s.Reference {
				refs++
			}
			if s.Name == "ackflow" {
				af++
			}
			if s.Kind == Baseline {
				base = append(base, s)
			}
		}
		if refs != 1 || af != 1 {
			t.Errorf("%s: %d references and %d ackflow systems, want 1 and 1", sc.Name, refs, af)
		}
		if len(base) != 1 {
			t.Errorf("%s: %d baseline systems, want 1 (measured or saying why not)", sc.Name, len(base))
			continue
		}
		b := base[0]
		switch {
		case b.Reference || b.Name != "baseline":
			t.Errorf("%s: the baseline is %q, reference %v; want \"baseline\", never the reference", sc.Name, b.Name, b.Reference)
		case measured[sc.Name] && (b.Unavailable != "" || b.Args == nil || sc.BaselineGoal != speedGoal):
			t.Errorf("%s: the baseline should be measured against the speed goal (unavailable %q, goal %g)", sc.Name, b.Unavailable, sc.BaselineGoal)
		case !measured[sc.Name] && (b.Unavailable == "" || sc.BaselineGoal != 0):
			t.Errorf("%s: the baseline cannot serve this scenario: it should say why (unavailable %q, goal %g)", sc.Name, b.Unavailable, sc.BaselineGoal)
		}
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "passthrough") {
		t.Errorf("Lookup(nope) = %v, want an error listing the scenarios", err)
	}
}

func TestOrderAlternates(t *testing.T) {
	sys := []System{{Name: "ackflow"}, {Name: "collector", Reference: true}, {Name: "collector-noqueue"}}
	names := func(ss []System) string {
		var n []string
		for _, s := range ss {
			n = append(n, s.Name)
		}
		return strings.Join(n, " ")
	}
	tests := []struct {
		round int
		want  string
	}{
		{0, "collector ackflow collector-noqueue"},
		{1, "collector-noqueue ackflow collector"},
		{2, "collector ackflow collector-noqueue"},
	}
	for _, tt := range tests {
		if got := names(orderFor(sys, tt.round)); got != tt.want {
			t.Errorf("round %d: %s, want %s", tt.round, got, tt.want)
		}
	}
}

func TestParseStatTicks(t *testing.T) {
	tests := []struct {
		name, line string
		want       int64
		wantErr    bool
	}{
		{"plain", "1234 (ackflow) S 1 1234 1234 0 -1 4194560 100 0 0 0 268 242 0 0 20 0 5 0 100 0 0", 510, false},
		{"command with spaces and parens", "99 (my (weird) cmd) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 0 0", 10, false},
		{"truncated", "99 (x) R 1 2 3", 0, true},
		{"no command", "garbage", 0, true},
	}
	for _, tt := range tests {
		got, err := parseStatTicks([]byte(tt.line))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: %d, %v; want %d (error %v)", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	// Our own process has a readable line.
	if _, err := CPUTicks(os.Getpid()); err != nil {
		t.Errorf("CPUTicks(self): %v", err)
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tackflow\nVmPeak:\t 1282428 kB\nVmHWM:\t   25100 kB\nVmRSS:\t   21804 kB\nThreads:\t5\n"
	rss, hwm, err := parseStatusMemory([]byte(status))
	if err != nil || rss != 21804<<10 || hwm != 25100<<10 {
		t.Errorf("got %d, %d, %v", rss, hwm, err)
	}
	if _, _, err := parseStatusMemory([]byte("Name:\tx\n")); err == nil {
		t.Error("no memory lines: want an error")
	}
	if _, _, err := Memory(os.Getpid()); err != nil {
		t.Errorf("Memory(self): %v", err)
	}
}

func TestSpread(t *testing.T) {
	tests := []struct {
		in   []float64
		want Spread
	}{
		{[]float64{3, 1, 2}, Spread{1, 2, 3, 3}},
		{[]float64{4, 1, 2, 3}, Spread{1, 2.5, 4, 4}},
		{[]float64{5}, Spread{5, 5, 5, 1}},
	}
	for _, tt := range tests {
		if got, ok := spreadOf(tt.in); !ok || got != tt.want {
			t.Errorf("spreadOf(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	if _, ok := spreadOf(nil); ok {
		t.Error("spreadOf(nil): want no spread")
	}
}

func TestTableShowsFailuresAndRatios(t *testing.T) {
	sc := Scenario{Name: "x", Target: 3, BaselineGoal: 0.5, Systems: []System{
		{Name: "ackflow", Kind: Ackflow},
		{Name: "baseline", Kind: Baseline},
		{Name: "collector", Kind: Collector, Reference: true},
		{Name: "collector-b", Kind: Collector, Unavailable: "not here"},
	}}
	sat := func(items int64) *loadgen.Report {
		return &loadgen.Report{Items: items, OK: 1, ItemsPerSecond: float64(items) / 10, DurationSeconds: 10}
	}
	results := []Result{
		{System: "collector", Round: 0, Saturation: sat(1000), CPUSeconds: 1},
		{System: "ackflow", Round: 0, Saturation: sat(4000), CPUSeconds: 1},
		{System: "baseline", Round: 0, Saturation: sat(8000), CPUSeconds: 1},
		{System: "baseline", Round: 1, Saturation: sat(12500), CPUSeconds: 1},
		{System: "collector", Round: 1, Err: errors.New("boom")},
		{System: "ackflow", Round: 1, Saturation: sat(5000), CPUSeconds: 1},
	}
	var b bytes.Buffer
	if err := Table(&b, sc, results); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"4.5k [4.0k–5.0k]",    // ackflow items per CPU-second over two rounds
		"1.0k (1/2 rounds)",   // the collector produced one figure in two rounds
		"4.00×",               // the ratio is paired by round: only round 1
		"0.45× [0.40×–0.50×]", // ackflow / baseline: 4000/8000 and 5000/12500
		"≥ 3× vs collector (issue 9): met",
		"speed goal ≥ 0.5× vs baseline (docs/ENGINE.md): MISSED",     // median 0.45
		"round 2 collector: boom",                                    // the failure is explained
		"not available in this build",                                // the unavailable system
		"collector-b: not here",                                      // and why
		"note: ackflow used 0.10 cores at saturation: not saturated", // 1 CPU-s in 10 s
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Both ratio columns, the bare hop first, and both headline ratios,
	// each on its line, from the same results.
	for _, want := range []string{`vs baseline +vs collector`, `ackflow / baseline +0\.45× \[0\.40×–0\.50×\]`, `ackflow / collector +4\.00×`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("headline lacks %s:\n%s", want, out)
		}
	}
}

func TestTableSaysWhyTheBaselineIsMissing(t *testing.T) {
	sc := Scenario{Name: "fanout", Target: 2, Systems: []System{
		{Name: "ackflow", Kind: Ackflow},
		{Name: "baseline", Kind: Baseline, Unavailable: "one destination only"},
		{Name: "collector", Kind: Collector, Reference: true},
	}}
	results := []Result{
		{System: "collector", Saturation: &loadgen.Report{Items: 1000, OK: 1, DurationSeconds: 1}, CPUSeconds: 1},
		{System: "ackflow", Saturation: &loadgen.Report{Items: 3000, OK: 1, DurationSeconds: 1}, CPUSeconds: 1},
		{System: "baseline", Unavailable: "one destination only"},
	}
	var b bytes.Buffer
	if err := Table(&b, sc, results); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"not measured (see below)",
		"ackflow / baseline   not measured: one destination only",
		"≥ 2× vs collector (issue 9): met",
		"baseline: one destination only",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vs baseline") {
		t.Errorf("a ratio column for an unmeasured baseline:\n%s", out)
	}
}

// The OTAP scenarios: OTAP in and out for otap_forward, OTLP around an
// OTAP hop inside one process for otlp_otap_otlp; both against the
// otelarrow collector, ackflow needing its OTAP nodes, the baseline saying
// why it cannot play.
func TestOTAPScenarios(t *testing.T) {
	tests := []struct {
		name       string
		load, sink loadgen.Protocol
		hop        bool
		wire       float64
		ackflow    []string // what ackflow's config must hold, in order
		collector  []string
	}{
		{"otap_forward", loadgen.OTAP, loadgen.OTAP, false, 0.10,
			[]string{"type: receiver:otap", "listening_addr: 127.0.0.1:14317", "wait_for_result: true", "type: exporter:otap", `grpc_endpoint: "http://127.0.0.1:15317"`, "payload_compression: zstd", "{ from: in, to: out }"},
			[]string{"otelarrow:", "endpoint: 127.0.0.1:14317", "otelarrow:", "endpoint: 127.0.0.1:15317", "receivers: [otelarrow]", "exporters: [otelarrow]"}},
		{"otlp_otap_otlp", "", "", true, 0,
			[]string{"tier1:", "type: receiver:otlp", "listening_addr: 127.0.0.1:14317", "type: exporter:otap", `grpc_endpoint: "http://127.0.0.1:16317"`,
				"tier2:", "type: receiver:otap", "listening_addr: 127.0.0.1:16317", "type: exporter:otlp_grpc", `grpc_endpoint: "http://127.0.0.1:15317"`},
			[]string{"otlp:", "endpoint: 127.0.0.1:14317", "otelarrow:", "endpoint: 127.0.0.1:16317", "otelarrow:", "endpoint: 127.0.0.1:16317", "otlp_grpc:", "endpoint: 127.0.0.1:15317",
				"logs/tier1:", "receivers: [otlp]", "exporters: [otelarrow]", "logs/tier2:", "receivers: [otelarrow]", "exporters: [otlp_grpc]"}},
	}
	ports := Ports{Receiver: 14317, Admin: 18080, Hop: 16317, Sinks: []int{15317}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := Lookup(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Load != tt.load || sc.SinkProtocol != tt.sink || sc.Hop != tt.hop || sc.WireTolerance != tt.wire || sc.Sinks != 1 || sc.Signal != loadgen.Logs {
				t.Errorf("load %q sink %q hop %v wire %g sinks %d signal %s", sc.Load, sc.SinkProtocol, sc.Hop, sc.WireTolerance, sc.Sinks, sc.Signal)
			}
			var e2e bool
			for _, s := range sc.Systems {
				switch s.Kind {
				case Ackflow:
					if !slices.Equal(s.Needs, []string{"receiver:otap", "exporter:otap"}) {
						t.Errorf("ackflow needs %v, want the OTAP nodes", s.Needs)
					}
					requireInOrder(t, s.Config(sc.Signal, ports), tt.ackflow)
				case Baseline:
					if !strings.Contains(s.Unavailable, "OTLP only") {
						t.Errorf("baseline: %q, want it to say it speaks OTLP only", s.Unavailable)
					}
				case ArrowCollector:
					cfg := s.Config(sc.Signal, ports)
					requireInOrder(t, cfg, tt.collector)
					// The end-to-end variant waits in every exporter's queue.
					if waits := strings.Count(cfg, "wait_for_result: true"); waits > 0 {
						e2e = true
						if want := strings.Count(cfg, "tls: { insecure: true }"); waits != want {
							t.Errorf("%s: %d exporters wait for the result, want all %d:\n%s", s.Name, waits, want, cfg)
						}
					}
					if strings.Contains(cfg, "batch") {
						t.Errorf("%s: a batch processor; the otelarrow exporter batches in its queue:\n%s", s.Name, cfg)
					}
				default:
					t.Errorf("%s: kind %s, want the otelarrow collector", s.Name, s.Kind)
				}
			}
			if !e2e {
				t.Error("no collector variant with end-to-end acknowledgements")
			}
		})
	}
}

// requireInOrder fails unless cfg holds every string of want, in order.
func requireInOrder(t *testing.T, cfg string, want []string) {
	t.Helper()
	rest := cfg
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("config lacks %q after the earlier lines:\n%s", w, cfg)
			return
		}
		rest = rest[i+len(w):]
	}
}

func TestRestrict(t *testing.T) {
	sc := Scenario{Systems: []System{
		{Name: "ackflow", Kind: Ackflow, Needs: []string{"receiver:otap", "exporter:otap"}},
		{Name: "baseline", Kind: Baseline, Unavailable: "OTLP only"},
		{Name: "collector", Kind: ArrowCollector, Reference: true},
		{Name: "otlp-collector", Kind: Collector},
	}}
	tests := []struct {
		name  string
		avail Availability
		want  []string // Unavailable per system, in order
	}{
		{"not checked", Availability{}, []string{"", "OTLP only", "", ""}},
		{"everything", Availability{Components: map[string]bool{"receiver:otap": true, "exporter:otap": true}}, []string{"", "OTLP only", "", ""}},
		{"no exporter", Availability{Components: map[string]bool{"receiver:otap": true}},
			[]string{"this ackflow build has no exporter:otap (`ackflow components` does not list it)", "OTLP only", "", ""}},
		{"neither, no otelarrow collector", Availability{Components: map[string]bool{}, ArrowCollector: "did not build"},
			[]string{"this ackflow build has no receiver:otap and no exporter:otap (`ackflow components` does not list it)", "OTLP only", "did not build", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Restrict(sc, tt.avail)
			for i, s := range got.Systems {
				if s.Unavailable != tt.want[i] {
					t.Errorf("%s: %q, want %q", s.Name, s.Unavailable, tt.want[i])
				}
			}
			if sc.Systems[0].Unavailable != "" || sc.Systems[2].Unavailable != "" {
				t.Error("Restrict changed the scenario it was given")
			}
			if got.Uses(ArrowCollector) != (tt.avail.ArrowCollector == "") {
				t.Errorf("Uses(ArrowCollector) = %v", got.Uses(ArrowCollector))
			}
		})
	}
}

// An OTAP sink adds the bytes on the wire per item, their ratio and the
// goal; a sink that could not decode makes the run a failure elsewhere, so
// the table only needs its totals.
func TestTableWireBytes(t *testing.T) {
	sc := Scenario{Name: "otap", Target: 3, TargetSource: "OTAP issue", SinkProtocol: loadgen.OTAP, WireTolerance: 0.10, Systems: []System{
		{Name: "ackflow", Kind: Ackflow},
		{Name: "baseline", Kind: Baseline, Unavailable: "OTLP only"},
		{Name: "collector", Kind: ArrowCollector, Reference: true},
	}}
	sat := func(items int64) *loadgen.Report {
		return &loadgen.Report{Items: items, OK: 1, DurationSeconds: 1}
	}
	results := []Result{
		{System: "collector", Saturation: sat(1000), CPUSeconds: 1, Sink: &SinkTotals{Items: 1000, Bytes: 60_000, WireBytes: 40_000}},
		{System: "ackflow", Saturation: sat(4000), CPUSeconds: 1, Sink: &SinkTotals{Items: 1000, Bytes: 66_000, WireBytes: 46_000}},
	}
	var b bytes.Buffer
	if err := Table(&b, sc, results); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"bytes on the wire per item (OTAP sink)",
		"46.0 B", "40.0 B", // wire bytes per item
		"66.0 B", "60.0 B", // message bytes per item
		"1.15×", // ackflow / collector on the wire
		"≥ 3× vs collector (OTAP issue): met",
		"goal ≤ 1.1× (within 10 % of collector): MISSED",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestLineWatch(t *testing.T) {
	var out bytes.Buffer
	calls := 0
	w := &lineWatch{w: &out, line: "ready", fn: func() { calls++ }}
	for _, p := range []string{"not ready\nrea", "dy", "\nready\n", "more\n"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 || out.String() != "not ready\nready\nready\nmore\n" {
		t.Errorf("%d calls, passed %q; want 1 call (at the first whole line) and everything passed", calls, out.String())
	}
}

func TestParseCPUBusy(t *testing.T) {
	stat := "cpu  10 0 5 100 2 0 1 0 0 0\ncpu0 4 1 2 50 3 0 1 2 0 0\ncpu1 6 0 3 50 0 0 0 0 0 0\n"
	busy, total, err := parseCPUBusy([]byte(stat), 0)
	if err != nil || busy != 10 || total != 63 { // user+nice+system+irq+softirq+steal; idle and iowait are not busy
		t.Errorf("cpu0: busy %d total %d (%v), want 10 and 63", busy, total, err)
	}
	if _, _, err := parseCPUBusy([]byte(stat), 7); err == nil {
		t.Error("cpu7: want an error")
	}
	if _, _, err := CPUBusy(0); err != nil {
		t.Errorf("CPUBusy(0): %v", err)
	}
}

// A system that used little CPU while its CPU was busy was starved by
// other processes, not short of load: the note says which.
func TestTableSaysWhyNotSaturated(t *testing.T) {
	sc := Scenario{Name: "x", Systems: []System{{Name: "ackflow", Kind: Ackflow}, {Name: "collector", Kind: Collector, Reference: true}}}
	results := []Result{
		{System: "ackflow", Saturation: &loadgen.Report{Items: 10, OK: 1, DurationSeconds: 10}, CPUSeconds: 4, SUTCPUBusy: 0.97},
		{System: "collector", Saturation: &loadgen.Report{Items: 10, OK: 1, DurationSeconds: 10}, CPUSeconds: 5, SUTCPUBusy: 0.5},
	}
	var b bytes.Buffer
	if err := Table(&b, sc, results); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"note: ackflow used 0.40 cores at saturation: not saturated: its CPU was busy 97 % of the time, other processes took the rest",
		"note: collector used 0.50 cores at saturation: not saturated: it waited for load",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
