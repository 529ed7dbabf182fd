package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ackflow/ackflow/loadgen"
)

// Load shape, the same for every system.
const (
	// latencyWorkers is enough concurrency to hold the latency phase's
	// rate at the latencies seen here.
	latencyWorkers = 32
	// overloadWorkers is the number of concurrent clients in overload.
	overloadWorkers = 256
	// overloadTimeout is the clients' timeout in overload: a request not
	// answered within it counts as hung.
	overloadTimeout = 10 * time.Second
	// overloadFactor times the saturation rate is offered in overload.
	overloadFactor = 3
	// startTimeout bounds a system's start, stopGrace its drain.
	startTimeout = 20 * time.Second
	stopGrace    = 15 * time.Second
	// settleTimeout bounds the wait for the system to go idle after the
	// load (a collector may still be emptying its sending queue).
	settleTimeout = 20 * time.Second
	// OTAP load: the batches each stream pre-encodes (loadgen
	// --otap-ring) for the saturation and latency phases, so that the
	// generator's CPU goes to sending: encoding costs it about 5 µs per
	// item, more than a fast system spends, and the load CPU also runs
	// the sink. 16 streams × 48 and 32 × 16 batches are 768 and 512
	// batches (under 200 MiB, a few seconds to encode before the phase,
	// which is not measured: see loadgen.ReadyLine); at 600,000 items/s a
	// saturation stream ends and is replaced about every 1.3 s. The
	// warm-up encodes as it sends.
	otapRingSaturation = 48
	otapRingLatency    = 16
)

// Placement of the system under test and of everything else.
var (
	sutPlacement  = Placement{CPU: 0, GOMAXPROCS: 1}
	loadPlacement = Placement{CPU: 1}
)

// Binaries are the programs a run needs. Otelarrowcol (the Collector
// with the otelarrow components, interop/otelarrowcol) is needed only by
// scenarios with ArrowCollector systems.
type Binaries struct {
	Ackflow, Otelcol, Otelarrowcol, Baseline, Sink, Loadgen string
}

// Options describe a comparison run.
type Options struct {
	Scenario Scenario
	Rounds   int
	// Warmup, Duration and LatencyDuration are the lengths of the
	// unmeasured warm-up, the saturation phase and the latency phase.
	Warmup, Duration, LatencyDuration time.Duration
	// OverloadDuration is the length of the overload phase.
	OverloadDuration time.Duration
	// Workers is the number of concurrent clients at saturation.
	Workers int
	// Items, BodySize and Shape shape each request (BodySize applies to
	// the body shape only; see loadgen.Shape).
	Items, BodySize int
	Shape           loadgen.Shape
	// SlowSinkBPS is the slow sink's throughput in overload, bytes/s.
	SlowSinkBPS float64
	// RSSCap is the RSS at which the runner kills a system in overload
	// (0: never), so an unbounded system cannot exhaust the machine.
	RSSCap int64
	// Taskset is the path of taskset; empty leaves processes unpinned.
	Taskset string
	// WorkDir receives configs, logs and profiles.
	WorkDir string
	// Profile, when set, takes a CPU profile of ackflow and of the
	// baseline during each saturation phase (from their admin servers).
	Profile bool
	Bins    Binaries
	// Log receives progress lines.
	Log io.Writer
}

// Result is one system's figures in one round.
type Result struct {
	System string
	Round  int
	// Unavailable is set for a system the build lacks; Err for a run
	// that produced no numbers. Either way the figures are zero.
	Unavailable string
	Err         error

	Saturation *loadgen.Report
	// CPUSeconds is the system's CPU time during the saturation phase
	// (until it went idle afterwards).
	CPUSeconds float64
	// SUTCPUBusy is how busy the system's CPU was meanwhile, whoever ran
	// on it (0 when unknown or unpinned): on a shared machine, a system
	// that used little CPU while its CPU was busy was starved, not idle.
	SUTCPUBusy float64
	IdleRSS    int64
	PeakRSS    int64
	// LatencyRate is the latency phase's target rate, in requests/s.
	LatencyRate float64
	Latency     *loadgen.Report
	Overload    *OverloadResult
	Profile     string // path of the CPU profile, if taken
	// Sink is the sink's totals over the whole run of the system (warm-up
	// and latency phase included), read when it stopped; nil without a
	// sink.
	Sink *SinkTotals
}

// WireBytesPerItem is the bytes on the wire per item the OTAP sink
// received (gRPC messages as sent, compressed, with their headers).
func (r *Result) WireBytesPerItem() (float64, bool) {
	if r.Err != nil || r.Sink == nil || r.Sink.Items <= 0 || r.Sink.WireBytes <= 0 {
		return 0, false
	}
	return float64(r.Sink.WireBytes) / float64(r.Sink.Items), true
}

// MessageBytesPerItem is the protobuf bytes per item the OTAP sink
// received (the BatchArrowRecords, after gRPC decompression).
func (r *Result) MessageBytesPerItem() (float64, bool) {
	if r.Err != nil || r.Sink == nil || r.Sink.Items <= 0 || r.Sink.Bytes <= 0 {
		return 0, false
	}
	return float64(r.Sink.Bytes) / float64(r.Sink.Items), true
}

// ItemsPerCPUSecond is the headline figure.
func (r *Result) ItemsPerCPUSecond() float64 {
	if r.Saturation == nil || r.CPUSeconds <= 0 {
		return 0
	}
	return float64(r.Saturation.Items) / r.CPUSeconds
}

// OverloadResult is the overload phase of one system.
type OverloadResult struct {
	SaturationRate float64 // requests/s measured with the fast sink
	Report         *loadgen.Report
	PeakRSS        int64
	SinkItems      int64 // items that reached the slow sink before the stop
	// KilledAt is how long into the phase the runner killed the system
	// for passing the RSS cap; 0 if it did not.
	KilledAt time.Duration
}

// rssGuard is what watchRSS saw.
type rssGuard struct {
	peak     int64 // VmHWM at the end, or at the kill
	killed   bool
	killedAt time.Duration
}

// watchRSS polls p's RSS until ctx ends and kills p if it passes limit
// (0: no limit): an unbounded system must not take the machine down.
func watchRSS(ctx context.Context, p *Proc, limit int64) rssGuard {
	start := time.Now()
	var g rssGuard
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		rss, hwm, err := Memory(p.PID())
		if err == nil {
			g.peak = max(g.peak, hwm)
		}
		if err == nil && limit > 0 && rss > limit && !g.killed {
			_ = p.cmd.Process.Kill()
			g.killed, g.killedAt = true, time.Since(start)
		}
		select {
		case <-ctx.Done():
			return g
		case <-tick.C:
		}
	}
}

// Hung counts the requests that got no answer within the client timeout.
func (o *OverloadResult) Hung() int64 { return o.Report.ErrorsByStatus[loadgen.StatusTimeout] }

// Runner runs a scenario's rounds.
type Runner struct {
	opt Options
	// refRate is the reference collector's latest saturation rate;
	// latencyRate is the current round's latency rate, the same for every
	// system of the round: half of refRate as it was when the round began
	// (in the first round, as soon as the reference, which goes first,
	// has measured it).
	refRate, latencyRate float64
}

// NewRunner returns a runner for opt.
func NewRunner(opt Options) *Runner { return &Runner{opt: opt} }

func (r *Runner) logf(format string, args ...any) {
	if r.opt.Log != nil {
		fmt.Fprintf(r.opt.Log, format+"\n", args...)
	}
}

// Run runs every round and returns the results, round by round. The
// systems alternate: in even rounds the reference collector goes first
// (the latency phase needs its saturation rate), in odd rounds last.
func (r *Runner) Run(ctx context.Context) ([]Result, error) {
	sc := r.opt.Scenario
	var out []Result
	for round := range r.opt.Rounds {
		r.latencyRate = r.refRate / 2
		order := orderFor(sc.Systems, round)
		for _, sys := range order {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			res := Result{System: sys.Name, Round: round}
			switch {
			case sys.Unavailable != "":
				res.Unavailable = sys.Unavailable
			case sc.Overload:
				r.runOverload(ctx, sys, &res)
			default:
				r.runSystem(ctx, sys, &res)
			}
			if res.Err != nil {
				r.logf("round %d %s: FAILED: %v", round+1, sys.Name, res.Err)
			}
			out = append(out, res)
		}
	}
	return out, ctx.Err()
}

// orderFor puts the reference first in even rounds and reverses the order
// in odd ones.
func orderFor(systems []System, round int) []System {
	var ref []System
	var rest []System
	for _, s := range systems {
		if s.Reference {
			ref = append(ref, s)
		} else {
			rest = append(rest, s)
		}
	}
	order := append(ref, rest...)
	if round%2 == 1 {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	return order
}

// deployment is one running system under test and its sink.
type deployment struct {
	sut   *Proc
	sink  *Proc
	ports Ports
	dir   string
}

func (d *deployment) stop() (SinkTotals, error) {
	var errs []error
	if d.sut != nil {
		errs = append(errs, d.sut.Stop(stopGrace))
	}
	var tot SinkTotals
	if d.sink != nil {
		if err := d.sink.Stop(stopGrace); err != nil {
			errs = append(errs, err)
		}
		tot = readSinkTotals(d.sink.Log)
	}
	return tot, errors.Join(errs...)
}

// SinkTotals is the sink's exit line (bench/cmd/sink's Totals).
type SinkTotals struct {
	Requests, Bytes, Items int64
	// WireBytes (OTAP sink only) are the gRPC messages as received,
	// compressed, with their headers.
	WireBytes int64 `json:"wire_bytes"`
	// Errors counts the OTAP batches that did not decode.
	Errors int64
}

func readSinkTotals(logPath string) SinkTotals {
	var t SinkTotals
	b, err := os.ReadFile(logPath)
	if err != nil {
		return t
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &t)
	return t
}

// deploy starts the sink (if the scenario has one) and the system under
// test, and waits until the system listens.
func (r *Runner) deploy(ctx context.Context, sys System, tag string, slowSinkBPS float64) (*deployment, error) {
	sc := r.opt.Scenario
	dir := filepath.Join(r.opt.WorkDir, tag)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	n := 2 + sc.Sinks
	if sc.Hop {
		n++
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	d := &deployment{dir: dir, ports: Ports{Receiver: ports[0], Admin: ports[1], Sinks: ports[2 : 2+sc.Sinks], Dir: filepath.Join(dir, "storage")}}
	if sc.Hop {
		d.ports.Hop = ports[n-1]
	}
	if err := os.MkdirAll(d.ports.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	fail := func(err error) (*deployment, error) {
		_, _ = d.stop()
		return nil, err
	}
	if sc.Sinks > 0 {
		var addrs []string
		for _, p := range d.ports.Sinks {
			addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(p))
		}
		args := []string{"-listen", strings.Join(addrs, ",")}
		if sc.SinkProtocol == loadgen.OTAP {
			args = append(args, "-protocol", "otap")
		}
		if slowSinkBPS > 0 {
			args = append(args, "-bytes-per-second", strconv.FormatFloat(slowSinkBPS, 'f', 0, 64), "-count-items")
		}
		if d.sink, err = startProc(dir, "sink", r.opt.Taskset, loadPlacement, r.opt.Bins.Sink, args...); err != nil {
			return fail(err)
		}
		if err := waitListening(ctx, d.sink, addrs[0], startTimeout); err != nil {
			return fail(err)
		}
	}
	var bin string
	var args []string
	if sys.Kind == Baseline { // flags, no configuration file
		bin, args = r.opt.Bins.Baseline, sys.Args(sc.Signal, d.ports)
		if err := os.WriteFile(filepath.Join(dir, "args.txt"), []byte(strings.Join(args, " ")+"\n"), 0o644); err != nil {
			return fail(fmt.Errorf("write args: %w", err))
		}
	} else {
		cfgPath := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(cfgPath, []byte(sys.Config(sc.Signal, d.ports)), 0o644); err != nil {
			return fail(fmt.Errorf("write config: %w", err))
		}
		switch sys.Kind {
		case Collector:
			bin, args = r.opt.Bins.Otelcol, []string{"--config", cfgPath}
		case ArrowCollector:
			bin, args = r.opt.Bins.Otelarrowcol, []string{"--config", cfgPath}
		default:
			bin, args = r.opt.Bins.Ackflow, []string{"run", "--config", cfgPath}
		}
	}
	if d.sut, err = startProc(dir, sys.Kind.String(), r.opt.Taskset, sutPlacement, bin, args...); err != nil {
		return fail(err)
	}
	if err := waitListening(ctx, d.sut, "127.0.0.1:"+strconv.Itoa(d.ports.Receiver), startTimeout); err != nil {
		return fail(fmt.Errorf("%s failed to start: %w", sys.Name, err))
	}
	if sc.Hop {
		if err := waitListening(ctx, d.sut, "127.0.0.1:"+strconv.Itoa(d.ports.Hop), startTimeout); err != nil {
			return fail(fmt.Errorf("%s's second tier failed to start: %w", sys.Name, err))
		}
	}
	return d, nil
}

// loadArgs are the loadgen flags shared by every phase: the same request
// bytes for every system.
func (r *Runner) loadArgs(port int) []string {
	args := []string{
		"--endpoint", "127.0.0.1:" + strconv.Itoa(port),
		"--protocol", string(r.opt.Scenario.load()),
		"--signal", string(r.opt.Scenario.Signal),
		"--items", strconv.Itoa(r.opt.Items),
		"--body-size", strconv.Itoa(r.opt.BodySize),
		"--json",
	}
	if r.opt.Shape != "" { // a loadgen without --shape sends the body shape
		args = append(args, "--shape", string(r.opt.Shape))
	}
	return args
}

// load runs the load generator on the load CPU and returns its report.
// ready, if not nil, is called when the generator says it is ready to send
// (loadgen.ReadyLine), after preparing its requests.
func (r *Runner) load(ctx context.Context, d *deployment, name string, ready func(), args ...string) (*loadgen.Report, error) {
	all := append(r.loadArgs(d.ports.Receiver), args...)
	argv := append([]string{r.opt.Bins.Loadgen}, all...)
	if r.opt.Taskset != "" {
		argv = append([]string{r.opt.Taskset, "-c", strconv.Itoa(loadPlacement.CPU)}, argv...)
	}
	// Bounded: the phase's duration plus the request timeout plus slack.
	ctx, cancel := context.WithTimeout(ctx, r.opt.Duration+r.opt.OverloadDuration+r.opt.LatencyDuration+overloadTimeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout bytes.Buffer
	logf, err := os.Create(filepath.Join(d.dir, "loadgen-"+name+".log"))
	if err != nil {
		return nil, fmt.Errorf("loadgen log: %w", err)
	}
	defer logf.Close()
	cmd.Stdout = io.MultiWriter(&stdout, logf)
	cmd.Stderr = logf
	if ready != nil {
		cmd.Stderr = &lineWatch{w: logf, line: loadgen.ReadyLine, fn: ready}
	}
	runErr := cmd.Run()
	var rep loadgen.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("loadgen %s: %v; no report (see %s)", name, runErr, logf.Name())
	}
	return &rep, nil
}

// lineWatch passes what is written to w and calls fn once, when a
// complete line equal to line has gone through.
type lineWatch struct {
	w       io.Writer
	line    string
	fn      func()
	partial []byte
	done    bool
}

func (l *lineWatch) Write(p []byte) (int, error) {
	if !l.done {
		l.partial = append(l.partial, p...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			if string(l.partial[:i]) == l.line {
				l.done, l.partial = true, nil
				l.fn()
				break
			}
			l.partial = l.partial[i+1:]
		}
	}
	return l.w.Write(p)
}

// ring returns the --otap-ring flags of a phase: n pre-encoded batches per
// stream when the load is OTAP, none otherwise.
func (r *Runner) ring(n int) []string {
	if r.opt.Scenario.load() != loadgen.OTAP {
		return nil
	}
	return []string{"--otap-ring", strconv.Itoa(n)}
}

// settle waits until pid uses less than a tenth of a CPU, or settleTimeout.
func settle(ctx context.Context, pid int) {
	const step = 250 * time.Millisecond
	prev, err := CPUTicks(pid)
	if err != nil {
		return
	}
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(step):
		}
		cur, err := CPUTicks(pid)
		if err != nil || float64(cur-prev) <= 0.1*step.Seconds()*userHZ {
			return
		}
		prev = cur
	}
}

// runSystem measures one system: idle RSS, warm-up, saturation with CPU
// accounting, latency at half the reference's saturation rate, peak RSS.
func (r *Runner) runSystem(ctx context.Context, sys System, res *Result) {
	tag := fmt.Sprintf("%s-r%d-%s", r.opt.Scenario.Name, res.Round+1, sys.Name)
	r.logf("round %d %s: starting", res.Round+1, sys.Name)
	d, err := r.deploy(ctx, sys, tag, 0)
	if err != nil {
		res.Err = err
		return
	}
	defer func() {
		tot, err := d.stop()
		if err != nil {
			r.logf("round %d %s: stop: %v", res.Round+1, sys.Name, err)
		}
		if d.sink != nil {
			res.Sink = &tot
		}
		if tot.Errors > 0 && res.Err == nil { // its figures would count what the sink could not
			res.Err = fmt.Errorf("the sink could not decode %d of the %d batches it received (see %s)", tot.Errors, tot.Requests, d.sink.Log)
		}
	}()
	pid := d.sut.PID()
	if res.IdleRSS, _, err = Memory(pid); err != nil {
		res.Err = err
		return
	}
	if r.opt.Warmup > 0 {
		if _, err := r.load(ctx, d, "warmup", nil, "--workers", strconv.Itoa(r.opt.Workers), "--duration", r.opt.Warmup.String()); err != nil {
			res.Err = err
			return
		}
	}
	settle(ctx, pid)
	// The CPU count and the profile start when the generator is ready to
	// send, not while it prepares its requests (an OTAP ring takes
	// seconds).
	t0, err := CPUTicks(pid)
	if err != nil {
		res.Err = err
		return
	}
	var t0Err error
	var busy0, total0 int64
	prof := make(chan (<-chan string), 1)
	atReady := func() {
		t0, t0Err = CPUTicks(pid)
		busy0, total0, _ = CPUBusy(sutPlacement.CPU)
		prof <- r.startProfile(ctx, sys, d, tag)
	}
	defer func() { // before the stop: the profile needs the process
		select {
		case p := <-prof:
			res.Profile = <-p
		default: // the generator never got ready
		}
	}()
	sat, err := r.load(ctx, d, "saturation", atReady, append(r.ring(otapRingSaturation),
		"--workers", strconv.Itoa(r.opt.Workers), "--duration", r.opt.Duration.String())...)
	if err == nil {
		err = t0Err
	}
	if err != nil {
		res.Err = err
		return
	}
	settle(ctx, pid)
	t1, err := CPUTicks(pid)
	if err != nil {
		res.Err = fmt.Errorf("%s died during the load: %w", sys.Name, err)
		return
	}
	res.Saturation, res.CPUSeconds = sat, float64(t1-t0)/userHZ
	if busy1, total1, err := CPUBusy(sutPlacement.CPU); err == nil && r.opt.Taskset != "" && total1 > total0 && total0 > 0 {
		res.SUTCPUBusy = float64(busy1-busy0) / float64(total1-total0)
	}
	r.logf("round %d %s: %.0f items/s, %.2f CPU-s, %.0f items per CPU-second, %d errors",
		res.Round+1, sys.Name, sat.ItemsPerSecond, res.CPUSeconds, res.ItemsPerCPUSecond(), sat.Errors)
	if sat.OK == 0 {
		res.Err = fmt.Errorf("no request succeeded at saturation (errors %v)", sat.ErrorsByStatus)
		return
	}
	if sys.Reference {
		r.refRate = sat.RequestsPerSecond
		if r.latencyRate == 0 {
			r.latencyRate = r.refRate / 2
		}
	}
	rate := r.latencyRate
	if rate <= 0 { // no reference figure (it failed): half of this system's own
		rate = sat.RequestsPerSecond / 2
	}
	if r.opt.LatencyDuration > 0 {
		res.LatencyRate = rate
		lat, err := r.load(ctx, d, "latency", nil, append(r.ring(otapRingLatency), "--workers", strconv.Itoa(latencyWorkers),
			"--rate", strconv.FormatFloat(rate, 'f', 1, 64), "--duration", r.opt.LatencyDuration.String())...)
		if err != nil {
			res.Err = err
			return
		}
		res.Latency = lat
	}
	if _, res.PeakRSS, err = Memory(pid); err != nil {
		res.Err = err
	}
}

// startProfile fetches a CPU profile of ackflow or the baseline (both serve
// /debug/pprof on their admin port) during the saturation phase when asked
// to; the returned channel yields the saved file's path ("" when none was
// taken).
func (r *Runner) startProfile(ctx context.Context, sys System, d *deployment, tag string) <-chan string {
	done := make(chan string, 1)
	secs := int((r.opt.Duration - time.Second).Seconds())
	if !r.opt.Profile || sys.Kind.collector() || secs < 1 {
		done <- ""
		return done
	}
	path := filepath.Join(r.opt.WorkDir, tag+".pprof")
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", d.ports.Admin, secs)
	go func() {
		done <- r.fetch(ctx, url, path)
	}()
	return done
}

// fetch saves url's body in path and returns path, or "" on failure.
func (r *Runner) fetch(ctx context.Context, url, path string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.logf("profile: %v", err)
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		r.logf("profile: status %d, %v", resp.StatusCode, err)
		return ""
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		r.logf("profile: %v", err)
		return ""
	}
	return path
}

// runOverload measures the system's saturation with a fast sink, then
// offers three times that rate into a slow sink.
func (r *Runner) runOverload(ctx context.Context, sys System, res *Result) {
	r.runSystem(ctx, sys, res)
	if res.Err != nil {
		return
	}
	satRate := res.Saturation.RequestsPerSecond
	tag := fmt.Sprintf("%s-r%d-%s-slow", r.opt.Scenario.Name, res.Round+1, sys.Name)
	r.logf("round %d %s: overload at %.0f requests/s into a %.1f MB/s sink", res.Round+1, sys.Name, overloadFactor*satRate, r.opt.SlowSinkBPS/1e6)
	d, err := r.deploy(ctx, sys, tag, r.opt.SlowSinkBPS)
	if err != nil {
		res.Err = err
		return
	}
	guardCtx, stopGuard := context.WithCancel(ctx)
	guard := make(chan rssGuard, 1)
	go func() { guard <- watchRSS(guardCtx, d.sut, r.opt.RSSCap) }()
	rep, err := r.load(ctx, d, "overload", nil, "--workers", strconv.Itoa(overloadWorkers),
		"--rate", strconv.FormatFloat(overloadFactor*satRate, 'f', 1, 64),
		"--duration", r.opt.OverloadDuration.String(), "--timeout", overloadTimeout.String())
	stopGuard()
	g := <-guard
	tot, stopErr := d.stop()
	if err != nil {
		res.Err = err
		return
	}
	if stopErr != nil && !g.killed {
		r.logf("round %d %s: stop: %v", res.Round+1, sys.Name, stopErr)
	}
	res.Overload = &OverloadResult{SaturationRate: satRate, Report: rep, PeakRSS: g.peak, SinkItems: tot.Items, KilledAt: g.killedAt}
	if g.killed {
		r.logf("round %d %s: killed %s into the overload phase: RSS above the %d MiB cap", res.Round+1, sys.Name, g.killedAt.Round(100*time.Millisecond), r.opt.RSSCap>>20)
	}
	r.logf("round %d %s: overload: %d sent, %d ok, errors %v, peak RSS %d MiB",
		res.Round+1, sys.Name, rep.Requests, rep.OK, rep.ErrorsByStatus, g.peak>>20)
}
