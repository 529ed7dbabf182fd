package compare

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
// With BENCH_BIN_DIR set to a directory holding built ackflow and otelcol
// binaries it also has each program validate its own configurations.
func TestConfigsRender(t *testing.T) {
	bins := os.Getenv("BENCH_BIN_DIR")
	ports := Ports{Receiver: 14317, Admin: 18080, Sinks: []int{15317, 15318, 15319}, Dir: t.TempDir()}
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
				if bins == "" {
					return
				}
				path := filepath.Join(t.TempDir(), "config.yaml")
				if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(filepath.Join(bins, "ackflow"), "validate", "--config", path)
				if sys.Kind == Collector {
					cmd = exec.Command(filepath.Join(bins, "otelcol"), "validate", "--config", path)
				}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s: %v\n%s\n%s", cmd, err, out, cfg)
				}
			})
		}
	}
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
		"speed goal ≥ 0.5× vs baseline (docs/ENGINE.md): MISSED", // median 0.45
		"round 2 collector: boom",                                // the failure is explained
		"not available in this build",                            // the unavailable system
		"collector-b: not here",                                  // and why
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
