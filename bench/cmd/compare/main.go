// Command compare benchmarks ackflow against the OpenTelemetry Collector and
// against a bare grpc-go hop (bench/cmd/baseline, the yardstick), side by
// side, on this machine, and prints a table (see package compare for the
// protocol).
//
// Usage (from bench/):
//
//	go run ./cmd/compare -scenario passthrough [-rounds 3] [-duration 10s]
//	go run ./cmd/compare -scenario otap_forward
//	go run ./cmd/compare -smoke
//	go run ./cmd/compare -list
package main

import (
	"bufio"
	"bytes"
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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ackflow/ackflow/bench/internal/compare"
	"github.com/ackflow/ackflow/loadgen"
)

const benchModule = "github.com/ackflow/ackflow/bench"

// smokeScenarios are what -smoke runs, each with ackflow, the baseline and
// the reference collector only: passthrough covers the OTLP harness;
// otap_forward the OTAP one (the load generator's and the sink's OTAP
// modes, ackflow's OTAP nodes and the otelarrow collector, whose build CI
// shares with interop/run.sh).
var smokeScenarios = []string{"passthrough", "otap_forward"}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		scenario   = fs.String("scenario", "", "scenario to run (see -list)")
		list       = fs.Bool("list", false, "list the scenarios and exit")
		smoke      = fs.Bool("smoke", false, "run "+strings.Join(smokeScenarios, " and ")+" briefly (ackflow, baseline, reference collector); exit 0 if every available system produced numbers")
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
		arrowBin   = fs.String("otelarrowcol", "", "prebuilt collector with the otelarrow components, for the OTAP scenarios (default: build ../interop/otelarrowcol)")
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
	names := []string{*scenario}
	if *smoke {
		names, *rounds, *warmup, *duration, *latency = smokeScenarios, 1, time.Second, 2*time.Second, time.Second
	}
	var scenarios []compare.Scenario
	for _, name := range names {
		sc, err := compare.Lookup(name)
		if err != nil {
			fmt.Fprintf(stderr, "compare: %v\n", err)
			return 2
		}
		if *smoke {
			sc = smokeSystems(sc)
		}
		// The load generator would refuse a bad shape in every phase: say
		// so before building anything.
		lc := loadgen.DefaultConfig()
		lc.Signal, lc.Items, lc.BodySize, lc.Shape = sc.Signal, *items, *bodySize, loadgen.Shape(*shape)
		if err := lc.Validate(); err != nil {
			fmt.Fprintf(stderr, "compare: %v\n", err)
			return 2
		}
		scenarios = append(scenarios, sc)
	}
	if *rounds < 1 || *duration < time.Second || *workers < 1 {
		fmt.Fprintln(stderr, "compare: need -rounds ≥ 1, -duration ≥ 1s, -workers ≥ 1")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir := *workDir
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ackflow-bench-"); err != nil {
			fmt.Fprintf(stderr, "compare: %v\n", err)
			return 1
		}
	}
	needArrow := slices.ContainsFunc(scenarios, func(sc compare.Scenario) bool { return sc.Uses(compare.ArrowCollector) })
	bins, avail, err := buildBinaries(ctx, *binDir, *ackflowBin, *otelcolBin, *arrowBin, needArrow, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 1
	}
	taskset, placement := placement()
	var all []scenarioResults
	var runErr error
	smokeCode := 0
	for i, sc := range scenarios {
		sc = compare.Restrict(sc, avail)
		opt := compare.Options{
			Scenario: sc, Rounds: *rounds, Warmup: *warmup, Duration: *duration, LatencyDuration: *latency,
			OverloadDuration: *overload, Workers: *workers, Items: *items, BodySize: *bodySize, Shape: loadgen.Shape(*shape),
			SlowSinkBPS: *slowSink, RSSCap: *rssCap << 20, Taskset: taskset, WorkDir: dir, Profile: *profile, Bins: bins, Log: stderr,
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		header(stdout, opt, placement)
		var results []compare.Result
		results, runErr = compare.NewRunner(opt).Run(ctx)
		all = append(all, scenarioResults{sc.Name, results})
		if err := compare.Table(stdout, sc, results); err != nil {
			fmt.Fprintf(stderr, "compare: %v\n", err)
			return 1
		}
		if *profile {
			printProfiles(ctx, stdout, sc, bins, results)
		}
		if *smoke {
			smokeCode = max(smokeCode, smokeVerdict(stdout, sc, results))
		}
		if runErr != nil {
			break
		}
	}
	if *smoke && smokeCode == 0 && *workDir == "" {
		_ = os.RemoveAll(dir) // nothing to look at
	} else {
		fmt.Fprintf(stdout, "\nconfigs and logs: %s\n", dir)
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, all); err != nil {
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

// smokeSystems keeps ackflow, the baseline and the reference collector of
// sc: the other collector variants add time, not coverage of the harness.
func smokeSystems(sc compare.Scenario) compare.Scenario {
	sc.Systems = slices.DeleteFunc(slices.Clone(sc.Systems), func(s compare.System) bool {
		return s.Kind != compare.Ackflow && s.Kind != compare.Baseline && !s.Reference
	})
	return sc
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
			fmt.Fprintf(w, "smoke: FAIL: %s: %s produced no numbers\n", sc.Name, s.Name)
			return 1
		}
	}
	var skipped []string
	for _, s := range sc.Systems {
		if s.Unavailable != "" && s.Kind != compare.Baseline {
			skipped = append(skipped, s.Name)
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "smoke: ok: %s: every available system produced numbers (not available, see above: %s)\n", sc.Name, strings.Join(skipped, ", "))
		return 0
	}
	fmt.Fprintf(w, "smoke: ok: %s: every system produced numbers\n", sc.Name)
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

// buildBinaries builds what is not given: the collector, the baseline, the
// sink and the load generator from this module, in one go build; ackflow
// from the main module (via the replace directive) as
// deploy/container/Containerfile ships it, static and without grpc's
// tracing pages (its idle RSS is the shipped binary's); then, if
// needArrow, the otelarrow collector from its own module
// (interop/otelarrowcol).
// It also says what the binaries can do: the components ackflow lists, and
// why there is no otelarrow collector if it did not build (that is not an
// error: its systems show as not available).
func buildBinaries(ctx context.Context, dir, ackflow, otelcol, otelarrowcol string, needArrow bool, log io.Writer) (compare.Binaries, compare.Availability, error) {
	var avail compare.Availability
	benchDir, err := moduleDir(ctx)
	if err != nil {
		return compare.Binaries{}, avail, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return compare.Binaries{}, avail, fmt.Errorf("bin dir: %w", err)
	}
	pkgs := []string{"./cmd/sink", "./cmd/loadgen", "./cmd/baseline"}
	if otelcol == "" {
		pkgs = append(pkgs, "./cmd/otelcol")
		otelcol = filepath.Join(dir, "otelcol")
	}
	fmt.Fprintf(log, "building %s into %s\n", strings.Join(pkgs, " "), dir)
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	cmd.Dir = benchDir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return compare.Binaries{}, avail, fmt.Errorf("build: %w", err)
	}
	if ackflow == "" {
		ackflow = filepath.Join(dir, "ackflow")
		fmt.Fprintf(log, "building ackflow as the container ships it into %s\n", ackflow)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "grpcnotrace", "-o", ackflow, "github.com/ackflow/ackflow/cmd/ackflow")
		cmd.Dir = benchDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return compare.Binaries{}, avail, fmt.Errorf("build ackflow: %w", err)
		}
	}
	bins := compare.Binaries{
		Ackflow: ackflow, Otelcol: otelcol, Otelarrowcol: otelarrowcol, Baseline: filepath.Join(dir, "baseline"),
		Sink: filepath.Join(dir, "sink"), Loadgen: filepath.Join(dir, "loadgen"),
	}
	if avail.Components, err = components(ctx, ackflow); err != nil {
		return compare.Binaries{}, avail, err
	}
	if needArrow && otelarrowcol != "" {
		if _, err := os.Stat(otelarrowcol); err != nil {
			return compare.Binaries{}, avail, fmt.Errorf("-otelarrowcol: %w", err)
		}
	}
	if needArrow && otelarrowcol == "" {
		bins.Otelarrowcol = filepath.Join(dir, "otelarrowcol")
		avail.ArrowCollector = buildOtelarrowcol(ctx, filepath.Join(filepath.Dir(benchDir), "interop", "otelarrowcol"), bins.Otelarrowcol, log)
	}
	return bins, avail, nil
}

// buildOtelarrowcol builds the module in src into bin and returns "" or
// why it could not. Stripped: the link is most of a rebuild once the Go
// build cache holds the packages (interop/run.sh builds the same module),
// and nothing here reads its symbols.
func buildOtelarrowcol(ctx context.Context, src, bin string, log io.Writer) string {
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return fmt.Sprintf("no otelarrow collector: %s has no go.mod (%v)", src, err)
	}
	fmt.Fprintf(log, "building the otelarrow collector (%s) into %s\n", src, bin)
	start := time.Now()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "-C", src, "build", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Stdout, cmd.Stderr = io.MultiWriter(log, &out), io.MultiWriter(log, &out)
	if err := cmd.Run(); err != nil {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return fmt.Sprintf("the otelarrow collector (%s) did not build: %v: %s", src, err, strings.Join(lines[max(0, len(lines)-3):], " | "))
	}
	fmt.Fprintf(log, "built the otelarrow collector in %s\n", time.Since(start).Round(100*time.Millisecond))
	return ""
}

// components returns the component types `ackflow components` lists (the
// first column after the header line).
func components(ctx context.Context, ackflow string) (map[string]bool, error) {
	out, err := exec.CommandContext(ctx, ackflow, "components").Output()
	if err != nil {
		return nil, fmt.Errorf("%s components: %w", ackflow, err)
	}
	have := map[string]bool{}
	for i, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); i > 0 && len(f) > 0 {
			have[f[0]] = true
		}
	}
	return have, nil
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
	if sc.Uses(compare.Collector) {
		fmt.Fprintf(w, "  collector: %s\n", collectorVersions(opt.Bins.Otelcol))
	}
	if sc.Uses(compare.ArrowCollector) {
		fmt.Fprintf(w, "  otelarrow collector (interop/otelarrowcol): %s\n", collectorVersions(opt.Bins.Otelarrowcol))
	}
	if sc.Uses(compare.Baseline) {
		fmt.Fprintf(w, "  baseline: bench/cmd/baseline, a bare grpc-go hop: raw codec, wire walk to the log records, no copy, no decode\n")
	}
	fmt.Fprintf(w, "  placement: %s\n", placement)
	load := "OTLP/gRPC"
	if sc.Load == loadgen.OTAP {
		load = "OTAP (one Arrow stream per client, each request its next batch, every batch unique; pre-encoded rings per stream, each sent from the start of a new stream; uncompressed)"
	}
	fmt.Fprintf(w, "  load: %s %s, %d items per request%s, %s; %d clients at saturation\n",
		load, sc.Signal, opt.Items, bodyNote(sc.Signal, opt.Shape, opt.BodySize), poolNote(sc.Signal, opt.Shape, opt.Items, opt.BodySize), opt.Workers)
	if sc.SinkProtocol == loadgen.OTAP {
		fmt.Fprintf(w, "  sink: OTAP, decodes every batch, counts items and bytes on the wire (gRPC messages as received)\n")
	}
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
		"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/otelarrowreceiver": "otelarrowreceiver",
		"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/otelarrowexporter": "otelarrowexporter",
		"github.com/open-telemetry/otel-arrow/go":                                              "otel-arrow",
		"go.opentelemetry.io/collector/otelcol":                                                "otelcol",
		"go.opentelemetry.io/collector/receiver/otlpreceiver":                                  "otlpreceiver",
		"go.opentelemetry.io/collector/component":                                              "component",
		"go.opentelemetry.io/collector/pdata":                                                  "pdata",
		"go.opentelemetry.io/collector/exporter/otlpexporter":                                  "otlpexporter",
		"go.opentelemetry.io/collector/processor/batchprocessor":                               "batchprocessor",
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

// scenarioResults are one scenario's results.
type scenarioResults struct {
	name    string
	results []compare.Result
}

func writeJSON(path string, all []scenarioResults) error {
	type row struct {
		Scenario string
		compare.Result
		Err               string  `json:"Err,omitempty"`
		ItemsPerCPUSecond float64 `json:"ItemsPerCPUSecond"`
	}
	var rows []row
	for _, sr := range all {
		for _, r := range sr.results {
			x := row{Scenario: sr.name, Result: r, ItemsPerCPUSecond: r.ItemsPerCPUSecond()}
			if r.Err != nil {
				x.Err = r.Err.Error()
			}
			rows = append(rows, x)
		}
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
