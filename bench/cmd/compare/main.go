// Command compare benchmarks ackflow against the OpenTelemetry Collector and
// against a bare grpc-go hop (bench/cmd/baseline, the yardstick), side by
// side, on this machine, and prints a table (see package compare for the
// protocol).
//
// Usage (from bench/):
//
//	go run ./cmd/compare -scenario passthrough [-rounds 3] [-duration 10s]
//	go run ./cmd/compare -smoke
//	go run ./cmd/compare -list
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ackflow/ackflow/bench/internal/compare"
	"github.com/ackflow/ackflow/loadgen"
)

const benchModule = "github.com/ackflow/ackflow/bench"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		scenario   = fs.String("scenario", "", "scenario to run (see -list)")
		list       = fs.Bool("list", false, "list the scenarios and exit")
		smoke      = fs.Bool("smoke", false, "run passthrough briefly for each system; exit 0 if every one produced numbers")
		rounds     = fs.Int("rounds", 3, "rounds (each runs every system once, alternating the order)")
		duration   = fs.Duration("duration", 10*time.Second, "saturation phase length")
		warmup     = fs.Duration("warmup", 2*time.Second, "unmeasured warm-up before the saturation phase")
		latency    = fs.Duration("latency-duration", 5*time.Second, "latency phase length (0 skips it)")
		overload   = fs.Duration("overload-duration", 30*time.Second, "overload phase length")
		workers    = fs.Int("workers", 16, "concurrent clients at saturation")
		items      = fs.Int("items", loadgen.DefaultItems, "items per request")
		bodySize   = fs.Int("body-size", loadgen.DefaultBodySize, "bytes per log body (-shape body)")
		shape      = fs.String("shape", string(loadgen.ShapeBody), "log records: body (-body-size bodies, one attribute) or sdk (64 B body, 4 short string attributes, ~185 B each)")
		slowSink   = fs.Float64("slow-sink-bps", 5e6, "slow sink throughput in overload, bytes/s")
		rssCap     = fs.Int64("rss-cap-mib", 2048, "kill a system whose RSS passes this in overload (0: never)")
		ackflowBin = fs.String("ackflow", "", "prebuilt ackflow binary (default: build ../cmd/ackflow)")
		otelcolBin = fs.String("otelcol", "", "prebuilt collector binary (default: build ./cmd/otelcol)")
		workDir    = fs.String("workdir", "", "directory for configs, logs and profiles (default: a new temporary one)")
		binDir     = fs.String("bindir", defaultBinDir(), "directory the binaries are built into")
		profile    = fs.Bool("profile", false, "take a CPU profile of ackflow and the baseline in each saturation phase and print the top entries")
		jsonOut    = fs.String("json", "", "also write the raw results to this file")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *list {
		for _, s := range compare.Scenarios() {
			fmt.Fprintf(stdout, "%-16s %s\n", s.Name, s.Description)
		}
		return 0
	}
	if *smoke {
		*scenario, *rounds, *warmup, *duration, *latency = "passthrough", 1, time.Second, 2*time.Second, time.Second
	}
	sc, err := compare.Lookup(*scenario)
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 2
	}
	if *rounds < 1 || *duration < time.Second || *workers < 1 {
		fmt.Fprintln(stderr, "compare: need -rounds ≥ 1, -duration ≥ 1s, -workers ≥ 1")
		return 2
	}
	// The load generator would refuse a bad shape in every phase: say so
	// before building anything.
	lc := loadgen.DefaultConfig()
	lc.Signal, lc.Items, lc.BodySize, lc.Shape = sc.Signal, *items, *bodySize, loadgen.Shape(*shape)
	if err := lc.Validate(); err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir := *workDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ackflow-bench-"); err != nil {
			fmt.Fprintf(stderr, "compare: %v\n", err)
			return 1
		}
	}
	bins, err := buildBinaries(ctx, *binDir, *ackflowBin, *otelcolBin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 1
	}
	taskset, placement := placement()
	opt := compare.Options{
		Scenario: sc, Rounds: *rounds, Warmup: *warmup, Duration: *duration, LatencyDuration: *latency,
		OverloadDuration: *overload, Workers: *workers, Items: *items, BodySize: *bodySize, Shape: loadgen.Shape(*shape),
		SlowSinkBPS: *slowSink, RSSCap: *rssCap << 20, Taskset: taskset, WorkDir: dir, Profile: *profile, Bins: bins, Log: stderr,
	}
	header(stdout, opt, placement)
	results, runErr := compare.NewRunner(opt).Run(ctx)
	if err := compare.Table(stdout, sc, results); err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 1
	}
	if *profile {
		printProfiles(ctx, stdout, sc, bins, results)
	}
	smokeCode := 0
	if *smoke {
		smokeCode = smokeVerdict(stdout, sc, results)
	}
	if *smoke && smokeCode == 0 && *workDir == "" {
		_ = os.RemoveAll(dir) // nothing to look at
	} else {
		fmt.Fprintf(stdout, "\nconfigs and logs: %s\n", dir)
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, results); err != nil {
			fmt.Fprintf(stderr, "compare: %v\n", err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "compare: %v\n", runErr)
		return 1
	}
	return smokeCode
}

// defaultBinDir is a stable place for the binaries, so repeated runs do
// not leave copies of them behind.
func defaultBinDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "ackflow-bench", "bin")
}

// smokeVerdict is 0 when every available system produced numbers.
func smokeVerdict(w io.Writer, sc compare.Scenario, results []compare.Result) int {
	ok := map[string]bool{}
	for _, r := range results {
		if r.Err == nil && r.Saturation != nil && r.Saturation.OK > 0 && r.CPUSeconds > 0 {
			ok[r.System] = true
		}
	}
	for _, s := range sc.Systems {
		if s.Unavailable == "" && !ok[s.Name] {
			fmt.Fprintf(w, "smoke: FAIL: %s produced no numbers\n", s.Name)
			return 1
		}
	}
	fmt.Fprintln(w, "smoke: ok: every system produced numbers")
	return 0
}

// placement finds taskset and says where processes run.
func placement() (taskset, description string) {
	path, err := exec.LookPath("taskset")
	switch {
	case err != nil:
		return "", "UNPINNED: taskset not found (install util-linux); processes share all CPUs and GOMAXPROCS=1 is the only limit on the system under test"
	case runtime.NumCPU() < 2:
		return "", fmt.Sprintf("UNPINNED: only %d CPU available; the load generator competes with the system under test", runtime.NumCPU())
	}
	return path, "system under test on CPU 0 with GOMAXPROCS=1; load generator and sinks on CPU 1 (taskset)"
}

// buildBinaries builds what is not given: ackflow from the main module (via
// the replace directive), the collector, the baseline, the sink and the
// load generator from this module, in one go build.
func buildBinaries(ctx context.Context, dir, ackflow, otelcol string, log io.Writer) (compare.Binaries, error) {
	benchDir, err := moduleDir(ctx)
	if err != nil {
		return compare.Binaries{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return compare.Binaries{}, fmt.Errorf("bin dir: %w", err)
	}
	pkgs := []string{"./cmd/sink", "./cmd/loadgen", "./cmd/baseline"}
	if ackflow == "" {
		pkgs = append(pkgs, "github.com/ackflow/ackflow/cmd/ackflow")
		ackflow = filepath.Join(dir, "ackflow")
	}
	if otelcol == "" {
		pkgs = append(pkgs, "./cmd/otelcol")
		otelcol = filepath.Join(dir, "otelcol")
	}
	fmt.Fprintf(log, "building %s into %s\n", strings.Join(pkgs, " "), dir)
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	cmd.Dir = benchDir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return compare.Binaries{}, fmt.Errorf("build: %w", err)
	}
	return compare.Binaries{
		Ackflow: ackflow, Otelcol: otelcol, Baseline: filepath.Join(dir, "baseline"),
		Sink: filepath.Join(dir, "sink"), Loadgen: filepath.Join(dir, "loadgen"),
	}, nil
}

// moduleDir returns the bench module's directory: the runner must be run
// from inside it.
func moduleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	b, err := os.ReadFile(gomod)
	if err != nil || !strings.Contains(string(b), "module "+benchModule+"\n") {
		return "", fmt.Errorf("run compare from the bench/ directory (module %s); current module file: %q", benchModule, gomod)
	}
	return filepath.Dir(gomod), nil
}

// header prints what was compared, where and how.
func header(w io.Writer, opt compare.Options, placement string) {
	sc := opt.Scenario
	fmt.Fprintf(w, "ackflow vs OpenTelemetry Collector and the bare-hop baseline: scenario %s (%s)\n", sc.Name, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "  %s\n", sc.Description)
	fmt.Fprintf(w, "  machine: %s, %d CPUs, Linux %s, %s\n", cpuModel(), runtime.NumCPU(), readTrim("/proc/sys/kernel/osrelease"), runtime.Version())
	fmt.Fprintf(w, "  collector: %s\n", collectorVersions(opt.Bins.Otelcol))
	fmt.Fprintf(w, "  baseline: bench/cmd/baseline, a bare grpc-go hop: raw codec, wire walk to the log records, no copy, no decode\n")
	fmt.Fprintf(w, "  placement: %s\n", placement)
	fmt.Fprintf(w, "  load: OTLP/gRPC %s, %d items per request%s, %s; %d clients at saturation\n",
		sc.Signal, opt.Items, bodyNote(sc.Signal, opt.Shape, opt.BodySize), poolNote(sc.Signal, opt.Shape, opt.Items, opt.BodySize), opt.Workers)
	if sc.Overload {
		fmt.Fprintf(w, "  phases: warm-up %s, saturation %s, then overload %s at 3× saturation into a %.1f MB/s sink; %d round(s)\n",
			opt.Warmup, opt.Duration, opt.OverloadDuration, opt.SlowSinkBPS/1e6, opt.Rounds)
	} else {
		fmt.Fprintf(w, "  phases: warm-up %s (not measured), saturation %s, latency %s at 50%% of the reference collector's saturation rate; %d round(s), order alternating\n",
			opt.Warmup, opt.Duration, opt.LatencyDuration, opt.Rounds)
	}
	fmt.Fprintln(w)
}

func bodyNote(sig loadgen.Signal, shape loadgen.Shape, body int) string {
	switch {
	case sig != loadgen.Logs:
		return ""
	case shape == loadgen.ShapeSDK:
		return fmt.Sprintf(" (sdk shape: %d B body and %d short string attributes each)", loadgen.SDKBodySize, loadgen.SDKAttributes)
	}
	return fmt.Sprintf(" × %d B body", body)
}

// poolNote describes the request pool every system receives.
func poolNote(sig loadgen.Signal, shape loadgen.Shape, items, body int) string {
	cfg := loadgen.DefaultConfig()
	cfg.Signal, cfg.Shape, cfg.Items, cfg.BodySize = sig, shape, items, body
	pool, err := loadgen.NewPool(cfg)
	if err != nil {
		return "pool: " + err.Error()
	}
	h := sha256.New()
	for _, r := range pool.Raw {
		h.Write(r)
	}
	return fmt.Sprintf("%d B per request, pool of %d (sha256 %s)", pool.RequestBytes(), len(pool.Raw), hex.EncodeToString(h.Sum(nil))[:12])
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

// collectorVersions reads the module versions linked into the collector.
func collectorVersions(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "versions unknown: " + err.Error()
	}
	want := map[string]string{
		"go.opentelemetry.io/collector/otelcol":                  "otelcol",
		"go.opentelemetry.io/collector/receiver/otlpreceiver":    "otlpreceiver",
		"go.opentelemetry.io/collector/component":                "component",
		"go.opentelemetry.io/collector/pdata":                    "pdata",
		"go.opentelemetry.io/collector/exporter/otlpexporter":    "otlpexporter",
		"go.opentelemetry.io/collector/processor/batchprocessor": "batchprocessor",
	}
	var parts []string
	for _, d := range bi.Deps {
		if name, ok := want[d.Path]; ok {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
			parts = append(parts, name+" "+v)
		}
	}
	return strings.Join(parts, ", ") + ", " + bi.GoVersion
}

// printProfiles prints the top entries of each CPU profile (ackflow's and
// the baseline's), symbolized with the binary that wrote it.
func printProfiles(ctx context.Context, w io.Writer, sc compare.Scenario, bins compare.Binaries, results []compare.Result) {
	kinds := map[string]compare.Kind{}
	for _, s := range sc.Systems {
		kinds[s.Name] = s.Kind
	}
	for _, r := range results {
		if r.Profile == "" {
			continue
		}
		bin := bins.Ackflow
		if kinds[r.System] == compare.Baseline {
			bin = bins.Baseline
		}
		fmt.Fprintf(w, "\nCPU profile of %s, round %d (%s):\n", r.System, r.Round+1, r.Profile)
		out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", bin, r.Profile).CombinedOutput()
		if err != nil {
			fmt.Fprintf(w, "  go tool pprof: %v\n", err)
		}
		w.Write(out)
	}
}

func writeJSON(path string, results []compare.Result) error {
	type row struct {
		compare.Result
		Err               string  `json:"Err,omitempty"`
		ItemsPerCPUSecond float64 `json:"ItemsPerCPUSecond"`
	}
	var rows []row
	for _, r := range results {
		x := row{Result: r, ItemsPerCPUSecond: r.ItemsPerCPUSecond()}
		if r.Err != nil {
			x.Err = r.Err.Error()
		}
		rows = append(rows, x)
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return fmt.Errorf("results JSON: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
