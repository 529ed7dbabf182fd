package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds. Polling a separate process's readiness is the one place these
// tests wait on a tick; everything else waits on an event.
const (
	readyTimeout = 30 * time.Second       // a process starts listening
	stopTimeout  = 30 * time.Second       // a process drains and exits after SIGTERM
	pollEvery    = 50 * time.Millisecond  // readiness and status polling interval
	dialTimeout  = 200 * time.Millisecond // one readiness dial
)

// proc is a child process whose combined output is kept in memory and in
// a file of the test's temp dir.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done closes
}

// startProc starts bin. At the end of the test a process still running is
// killed, and the output of every process is logged if the test failed.
func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	dieWithParent(p.cmd)
	w := io.MultiWriter(p.out, logf)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("---- %s output (last 6000 bytes) ----\n%s", name, tail(p.out.String(), 6000))
		}
	})
	return p
}

// exitCode returns the exit code of a process that has exited (-1 if it
// was killed by a signal).
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// stop sends SIGTERM and waits for the exit; it fails the test if the
// process is still running after stopTimeout. It returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited before it was stopped: %v", p.name, p.err)
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		return p.exitCode()
	case <-time.After(stopTimeout):
		t.Fatalf("%s still running %s after SIGTERM", p.name, stopTimeout)
		return -1
	}
}

// waitReady polls check until it succeeds, the process exits or
// readyTimeout passes.
func (p *proc) waitReady(t *testing.T, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited while starting (%v); last readiness error: %v", p.name, p.err, err)
		case <-ctx.Done():
			t.Fatalf("%s not ready after %s: %v", p.name, readyTimeout, err)
		case <-tick.C:
		}
	}
}

// dialAll succeeds when every address accepts a TCP connection.
func dialAll(addrs ...string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		for _, a := range addrs {
			d := net.Dialer{Timeout: dialTimeout}
			c, err := d.DialContext(ctx, "tcp", a)
			if err != nil {
				return err
			}
			c.Close()
		}
		return nil
	}
}

// freeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
// The child process binds it shortly after; on this loopback-only test
// machine the window for a collision is negligible.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeFile writes content to name in the test's temp dir.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ---- ackflow ----

// ackflowProc is a running `ackflow run`.
type ackflowProc struct {
	*proc
	admin string // host:port of the admin server
}

// startAckflow runs ackflow with the YAML document config (whose admin
// bind address must be admin) and waits until /readyz answers 200 and
// every address in listens accepts connections.
func startAckflow(t *testing.T, admin, config string, listens ...string) *ackflowProc {
	t.Helper()
	return startAckflowAs(t, "ackflow", admin, config, listens...)
}

// startAckflowAs is startAckflow for a test that runs several ackflow
// processes: name tells them apart in logs.
func startAckflowAs(t *testing.T, name, admin, config string, listens ...string) *ackflowProc {
	t.Helper()
	path := writeFile(t, name+".yaml", config)
	p := startProc(t, name, bins.ackflow, "run", "--config", path)
	a := &ackflowProc{proc: p, admin: admin}
	dial := dialAll(listens...)
	p.waitReady(t, func(ctx context.Context) error {
		if err := a.get(ctx, "/readyz", nil); err != nil {
			return err
		}
		return dial(ctx)
	})
	return a
}

// get fetches an admin path; with v non-nil it decodes the JSON body.
func (a *ackflowProc) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+a.admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(body))
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(body, v)
}

// flow is a pipeline's item counts, from /api/v1/status or the summary.
type flow struct {
	Admitted  uint64 `json:"admitted_items"`
	Delivered uint64 `json:"delivered_items"`
	Nacked    uint64 `json:"nacked_items"`
	Dropped   uint64 `json:"dropped_items"`
	InFlight  uint64 `json:"in_flight_items"`
}

func (f flow) String() string {
	return fmt.Sprintf("%d received, %d delivered, %d nacked, %d dropped, %d in flight",
		f.Admitted, f.Delivered, f.Nacked, f.Dropped, f.InFlight)
}

// status returns every pipeline's flow by name ("group/pipeline").
func (a *ackflowProc) status(ctx context.Context) (map[string]flow, error) {
	var doc struct {
		Pipelines []struct {
			Name string `json:"name"`
			flow
		} `json:"pipelines"`
	}
	if err := a.get(ctx, "/api/v1/status", &doc); err != nil {
		return nil, err
	}
	out := make(map[string]flow, len(doc.Pipelines))
	for _, p := range doc.Pipelines {
		out[p.Name] = p.flow
	}
	return out, nil
}

// pipelineFlow returns one pipeline's flow from /api/v1/status.
func (a *ackflowProc) pipelineFlow(t *testing.T, name string) flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := a.status(ctx)
	if err != nil {
		t.Fatalf("ackflow status: %v", err)
	}
	f, ok := st[name]
	if !ok {
		t.Fatalf("ackflow status has no pipeline %q: %v", name, st)
	}
	return f
}

// waitDelivered polls /api/v1/status until pipeline name has delivered
// at least want items, within timeout, and returns the last flow seen.
func (a *ackflowProc) waitDelivered(t *testing.T, name string, want uint64, timeout time.Duration) flow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last flow
	for {
		if st, err := a.status(ctx); err == nil {
			last = st[name]
			if last.Delivered >= want {
				return last
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pipeline %s: %d of %d items delivered after %s (%s)", name, last.Delivered, want, timeout, last)
		case <-a.done:
			t.Fatalf("ackflow exited: %v", a.err)
		case <-tick.C:
		}
	}
}

var summaryRE = regexp.MustCompile(`(?m)^pipeline (\S+): (\d+) items received, (\d+) delivered, (\d+) nacked, (\d+) dropped, (\d+) in flight at exit$`)

// stopAckflow sends SIGTERM, requires exit code 0 and returns the summary
// line of every pipeline by name.
func (a *ackflowProc) stopAndSummarize(t *testing.T) map[string]flow {
	t.Helper()
	if code := a.stop(t); code != 0 {
		t.Fatalf("ackflow exited with code %d after SIGTERM, want 0", code)
	}
	out := map[string]flow{}
	for _, m := range summaryRE.FindAllStringSubmatch(a.out.String(), -1) {
		n := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 64); return v }
		out[m[1]] = flow{Admitted: n(2), Delivered: n(3), Nacked: n(4), Dropped: n(5), InFlight: n(6)}
	}
	if len(out) == 0 {
		t.Fatalf("ackflow printed no summary line after SIGTERM")
	}
	return out
}

// requireFlow fails unless got equals want.
func requireFlow(t *testing.T, what string, got, want flow) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %s, want %s", what, got, want)
	}
}

// ---- collector ----

// startCollector runs the collector with the YAML config and waits until
// every address in listens accepts connections.
func startCollector(t *testing.T, name, config string, listens ...string) *proc {
	t.Helper()
	return startCollectorBin(t, bins.otelcol, name, config, listens...)
}

// startCollectorBin is startCollector for the collector binary bin
// (bins.otelcol or bins.otelarrowcol).
func startCollectorBin(t *testing.T, bin, name, config string, listens ...string) *proc {
	t.Helper()
	path := writeFile(t, name+".yaml", config)
	p := startProc(t, name, bin, "--config", path)
	p.waitReady(t, dialAll(listens...))
	return p
}

// collectorTelemetry is the collector's own telemetry section: no metrics
// server (it would bind :8888 on a shared machine), info logs.
const collectorTelemetry = `
  telemetry:
    metrics:
      level: none
    logs:
      level: info
`

// ---- helpers ----

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// grepLines returns the lines of s that match re.
func grepLines(s string, re *regexp.Regexp) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if re.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}
