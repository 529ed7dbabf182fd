package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// genTimeout bounds one telemetrygen run, retries included.
const genTimeout = 60 * time.Second

// gen is one telemetrygen run: n logs, n metrics (one gauge data point
// each) or n traces (a parent and one child span each), from one worker,
// unthrottled, in batches of 100 (so a run of 250 is three requests).
type gen struct {
	signal   string // logs, metrics or traces
	n        int
	http     bool          // OTLP/HTTP instead of OTLP/gRPC
	timeout  time.Duration // telemetrygen --timeout (per export); 0 keeps its default (10s)
	endpoint string        // host:port
}

// items is what a successful run delivers.
func (g gen) items() counts {
	switch g.signal {
	case "logs":
		return counts{Logs: g.n}
	case "metrics":
		return counts{Points: g.n}
	case "traces":
		return counts{Spans: 2 * g.n}
	}
	panic("unknown signal " + g.signal)
}

func (g gen) String() string {
	proto := "grpc"
	if g.http {
		proto = "http"
	}
	return fmt.Sprintf("%s_%s", g.signal, proto)
}

func (g gen) args() []string {
	a := []string{g.signal, "--otlp-endpoint", g.endpoint, "--otlp-insecure", "--workers", "1", "--rate", "0"}
	switch g.signal {
	case "logs":
		a = append(a, "--logs", strconv.Itoa(g.n))
	case "metrics":
		a = append(a, "--metrics", strconv.Itoa(g.n))
	case "traces":
		a = append(a, "--traces", strconv.Itoa(g.n), "--child-spans", "1")
	}
	if g.http {
		a = append(a, "--otlp-http")
	}
	if g.timeout > 0 {
		a = append(a, "--timeout", g.timeout.String())
	}
	return a
}

// genResult is how a telemetrygen run ended.
type genResult struct {
	exitCode int
	output   string
	errors   []string // output lines that report a failed export
}

// genErrorRE matches how telemetrygen reports failures: its zap ERROR and
// FATAL lines (logs and metrics export synchronously and exit 1), and the
// OpenTelemetry SDK's error handler ("traces export: …"), through which
// the batch span processor reports while the exit code stays 0.
var genErrorRE = regexp.MustCompile(`\tERROR\t|\tFATAL\t|\b(traces|logs|metrics) export: `)

// runGen runs telemetrygen to completion, bounded by genTimeout.
func runGen(t *testing.T, g gen) genResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), genTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.telemetrygen, g.args()...)
	dieWithParent(cmd)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("telemetrygen %s did not finish within %s:\n%s", g, genTimeout, tail(string(out), 4000))
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("telemetrygen %s: %v", g, err)
	}
	// Keep the full output beside the other processes' logs.
	_ = os.WriteFile(filepath.Join(t.TempDir(), "telemetrygen-"+g.String()+".log"), out, 0o600)
	return genResult{
		exitCode: cmd.ProcessState.ExitCode(),
		output:   string(out),
		errors:   grepLines(string(out), genErrorRE),
	}
}

// requireGenOK fails unless the run exited 0 and reported no error.
func requireGenOK(t *testing.T, g gen, r genResult) {
	t.Helper()
	if r.exitCode != 0 || len(r.errors) > 0 {
		t.Fatalf("telemetrygen %s: exit code %d, %d error lines, first: %q\n%s",
			g, r.exitCode, len(r.errors), first(r.errors), tail(r.output, 3000))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
