// Command soak runs the ackflow binary for a long time under mixed load,
// destination faults, hostile clients and process restarts, then checks
// ackflow's promise from the outside: every item of every request a client
// was answered OK about is at a destination.
//
// Usage (from bench/; not part of CI):
//
//	go run ./cmd/soak -duration 10m
//	go run ./cmd/soak -duration 2m -seed 7 -clients 6 -rate 20 -workdir /tmp/soak -keep
//	go run ./cmd/soak -duration 1m -faults=false -restarts=false -hostile "gzip bomb"
//
// It builds ackflow from the main module (or takes -ackflow PATH), starts
// three testsinks (internal/testsink) on 127.0.0.1 and runs ackflow with two
// pipelines, every listener on a free loopback port:
//
//	soak/fanout:  receiver:otlp → processor:fanout (await_ack primary, primary
//	              with a 2s timeout, backup fallback_for primary) → two
//	              exporter:otlp_grpc → sinks "primary" and "backup"
//	soak/durable: receiver:otlp → processor:durable_buffer (fsync, under the
//	              work directory) → exporter:otlp_grpc → sink "durable"
//
// For -duration it mixes:
//
//   - steady traffic: -clients clients, alternating pipeline and protocol
//     (gRPC; HTTP protobuf or JSON), -rate requests per second each, one at
//     a time; every request has its own item keys (testsink.NewRequest);
//   - sink faults, per sink, on a schedule drawn from -seed: close then
//     restart on the same port, transient (UNAVAILABLE), permanent
//     (INVALID_ARGUMENT; the fanout sinks only: a permanent refusal behind
//     a durable buffer is a documented, counted drop, not a loss to catch),
//     hang, slow (delay plus a rate-limited link), each for 2-8 s;
//   - hostile clients (nodes/receivers/otlp/hostiletest and builders of
//     its own): deeply nested AnyValues (gRPC protobuf and HTTP JSON),
//     truncated protobuf, trailing-garbage and concatenated JSON, corrupt
//     gzip, a JSON amplification bomb, gRPC streams without data, a stalled
//     large gRPC body, a stalled gzip bomb, bodies trickled a byte at a
//     time, and floods of idle connections. Each request must be refused
//     with an error; none of their items may reach a sink;
//   - restarts of the process, at least one of each kind: SIGTERM (the exit
//     code must be 0 and the printed summary must balance) and SIGKILL
//     (with the durable pipeline under load). A SIGKILL happens only while
//     the fanout pipeline is idle: its clients are paused and their requests
//     answered first, because that pipeline has no durable buffer. (With
//     wait_for_result, the receiver's default, an OK there already means
//     delivered, so this is the conservative reading.)
//
// At the end the load stops, the sinks heal, the durable buffer drains
// (its queued_items gauge reaches 0), the process gets SIGTERM, and the
// conservation check runs. The report gives requests sent, answered OK and
// failed (by code), items lost (must be 0) and duplicated, hostile requests
// refused, restarts and their exit codes, and the peak RSS of ackflow
// (VmHWM and VmRSS from /proc/PID/status, sampled every 250 ms, across
// every process life). Progress is printed every 10 s.
//
// A first interrupt (Ctrl-C) ends the load early and still drains and
// checks; a second one kills ackflow and exits.
//
// The exit status is 0 when nothing was lost, every exit code was the
// expected one (0 after SIGTERM, killed after SIGKILL, no exit otherwise),
// every hostile request was refused with an error (none accepted, none
// left without an answer for 30 s while the process was up), no hostile
// item reached a sink, no shutdown summary was unbalanced and the logs
// show no panic; 1 otherwise; 2 on a usage error. Normal requests refused
// because hostile ones held the receiver's max_in_flight_bytes or
// max_concurrent_requests are counted and printed as a warning, not a
// failure: the receiver documents that budget as shared. The work
// directory (config, one log per process life, the buffer) is removed
// unless -keep, -workdir or a failure.
//
// The seed fixes the schedule (fault kinds and durations, restart times
// and kinds, hostile kinds, request contents); interleavings with the
// process still vary from run to run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

const benchModule = "github.com/ackflow/ackflow/bench"

// options are the command's flags.
type options struct {
	duration time.Duration
	seed     uint64
	clients  int
	rate     float64
	workDir  string
	keep     bool
	ackflow  string
	faults   bool   // sink faults on
	restarts bool   // process restarts on
	hostile  string // "all", "none", or a substring of the hostile kinds to run
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opt options
	fs.DurationVar(&opt.duration, "duration", 10*time.Minute, "how long the load and the faults run (the drain and the check come after)")
	fs.Uint64Var(&opt.seed, "seed", 0, "seed of the schedule (0: from the clock; the report prints it)")
	fs.IntVar(&opt.clients, "clients", 4, "normal clients, alternating pipeline (fanout, durable) and protocol (gRPC, HTTP)")
	fs.Float64Var(&opt.rate, "rate", 10, "requests per second per client")
	fs.StringVar(&opt.workDir, "workdir", "", "directory for the binary, config, logs and the buffer (default: a new temporary one)")
	fs.BoolVar(&opt.keep, "keep", false, "keep the work directory")
	fs.StringVar(&opt.ackflow, "ackflow", "", "prebuilt ackflow binary (default: build ../cmd/ackflow)")
	fs.BoolVar(&opt.faults, "faults", true, "inject sink faults (false isolates the other disturbances)")
	fs.BoolVar(&opt.restarts, "restarts", true, "restart the process (SIGTERM, SIGKILL)")
	fs.StringVar(&opt.hostile, "hostile", "all", `hostile clients: "all", "none", or only the kinds whose name contains this`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if opt.duration < 30*time.Second || opt.clients < 2 || opt.rate <= 0 || opt.rate > 1000 {
		fmt.Fprintln(stderr, "soak: need -duration ≥ 30s, -clients ≥ 2, 0 < -rate ≤ 1000")
		return 2
	}
	if len(opt.hostileKinds()) == 0 && opt.hostile != "none" {
		fmt.Fprintf(stderr, "soak: -hostile %q matches no hostile kind\n", opt.hostile)
		return 2
	}
	if opt.seed == 0 {
		opt.seed = uint64(time.Now().UnixNano()%1_000_000) + 1
	}

	// The first Ctrl-C ends the load early and still drains and checks; a
	// second one kills ackflow (which runs in its own process group) and
	// exits.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running atomic.Pointer[soak]
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		fmt.Fprintln(stderr, "soak: interrupted: the load stops, then the drain and the check (interrupt again to abort)")
		cancel()
		<-sigs
		if s := running.Load(); s != nil {
			if l := s.cur.Load(); l != nil {
				l.forceKill()
			}
		}
		fmt.Fprintln(stderr, "soak: aborted")
		os.Exit(1)
	}()

	dir := opt.workDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "ackflow-soak-"); err != nil {
			fmt.Fprintf(stderr, "soak: %v\n", err)
			return 1
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	bin := opt.ackflow
	if bin == "" {
		var err error
		if bin, err = buildAckflow(ctx, dir, stderr); err != nil {
			fmt.Fprintf(stderr, "soak: %v\n", err)
			return 1
		}
	}

	s, err := newSoak(opt, bin, dir, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	running.Store(s)
	rep := s.run(ctx)
	rep.print(stdout)
	failed := len(rep.failures()) > 0
	if opt.keep || opt.workDir != "" || failed {
		fmt.Fprintf(stdout, "work directory (config, logs of every process life, buffer): %s\n", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	if failed {
		return 1
	}
	return 0
}

// hostileKinds are the hostile kinds -hostile selects.
func (o options) hostileKinds() []hostileKind {
	var out []hostileKind
	for _, k := range hostileKinds {
		if o.hostile == "all" || (o.hostile != "none" && strings.Contains(k.name, o.hostile)) {
			out = append(out, k)
		}
	}
	return out
}

// buildAckflow builds the ackflow command of the main module (through the
// bench module's replace directive) into dir.
func buildAckflow(ctx context.Context, dir string, log io.Writer) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	b, err := os.ReadFile(gomod)
	if err != nil || !strings.Contains(string(b), "module "+benchModule+"\n") {
		return "", fmt.Errorf("run soak from the bench/ directory (module %s); current module file: %q", benchModule, gomod)
	}
	bin := filepath.Join(dir, "ackflow")
	fmt.Fprintf(log, "building github.com/ackflow/ackflow/cmd/ackflow into %s\n", bin)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ackflow/ackflow/cmd/ackflow")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build ackflow: %w", err)
	}
	return bin, nil
}
