package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// These tests drive the built binary, as a user would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ackflow-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ackflow")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ackflow:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runBinary(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("ackflow %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func TestValidateListsEveryErrorWithItsPath(t *testing.T) {
	cfg := writeConfig(t, `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          gen: { type: receiver:traffic_generator, config: { traffic_config: { max_batch_size: -1 } } }
          fan:
            type: processor:fanout
            outputs: [a]
            config: { destinations: [ { port: a }, { port: b } ] }
          out: { type: exporter:nope }
        connections:
          - { from: gen, to: fan }
          - { from: 'fan["a"]', to: out }
          - { from: gen, to: missing }
`)
	_, stderr, code := runBinary(t, "validate", "--config", cfg)
	if code != exitUsage {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
	for _, want := range []string{
		"groups.g.pipelines.p.nodes.gen.config.traffic_config.max_batch_size",
		"groups.g.pipelines.p.nodes.fan.config.destinations[1]",
		"groups.g.pipelines.p.nodes.out.type",
		"missing",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("validate output lacks %q:\n%s", want, stderr)
		}
	}
}

func TestValidateAcceptsAGoodFile(t *testing.T) {
	stdout, stderr, code := runBinary(t, "validate", "--config", writeConfig(t, finiteConfig(10)))
	if code != exitOK || !strings.Contains(stdout, "is valid") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"validate"}, {"run", "--log-format", "xml"}} {
		if _, _, code := runBinary(t, args...); code != exitUsage {
			t.Errorf("ackflow %v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if stdout, _, code := runBinary(t, "version"); code != exitOK || !strings.HasPrefix(stdout, "ackflow ") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
	if stdout, _, code := runBinary(t, "components"); code != exitOK || !strings.Contains(stdout, "processor:fanout") {
		t.Errorf("components: exit %d, %q", code, stdout)
	}
}

func finiteConfig(count int) string {
	return fmt.Sprintf(`
version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
groups:
  g:
    pipelines:
      p:
        nodes:
          gen:
            type: receiver:traffic_generator
            config:
              enable_ack_nack: true
              traffic_config: { max_signal_count: %d, max_batch_size: 10, log_weight: 1, trace_weight: 1 }
          relay: { type: processor:retry }
          out: { type: exporter:noop }
        connections:
          - { from: gen, to: relay }
          - { from: relay, to: out }
`, count)
}

func TestRunFinishesByItselfAndPrintsTheSummary(t *testing.T) {
	_, stderr, code := runBinary(t, "run", "--config", writeConfig(t, finiteConfig(1000)))
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, stderr)
	}
	want := "pipeline g/p: 1000 items received, 1000 delivered, 0 nacked, 0 dropped, 0 in flight at exit"
	if !strings.Contains(stderr, want) {
		t.Fatalf("summary missing %q:\n%s", want, stderr)
	}
}

// started runs the binary in the background and returns its admin URL once
// it logged it.
// process is a running ackflow with its stderr collected.
type process struct {
	*exec.Cmd
	mu      sync.Mutex
	logs    bytes.Buffer
	scanned chan struct{}
	pw      *io.PipeWriter
}

func (p *process) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func started(t *testing.T, cfg string, args ...string) (*process, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"run", "--config", cfg}, args...)...)
	pr, pw := io.Pipe()
	p := &process{Cmd: cmd, scanned: make(chan struct{}), pw: pw}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlC := make(chan string, 1)
	go func() {
		defer close(p.scanned)
		re := regexp.MustCompile(`admin=(http://[0-9.:]+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := re.FindStringSubmatch(line); m != nil {
				select {
				case urlC <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); pw.Close() })
	select {
	case u := <-urlC:
		return p, u
	case <-time.After(30 * time.Second):
		t.Fatalf("ackflow did not start:\n%s", p)
	}
	return nil, ""
}

// waitExit waits for the process and for its last log line to be read.
func waitExit(t *testing.T, p *process) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case <-done:
		p.pw.Close()
		<-p.scanned
		return p.ProcessState.ExitCode()
	case <-time.After(time.Minute):
		t.Fatal("ackflow did not exit")
	}
	return -1
}

const endlessConfig = `
version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
groups:
  g:
    pipelines:
      p:
        nodes:
          gen:
            type: receiver:traffic_generator
            config:
              enable_ack_nack: true
              traffic_config: { signals_per_second: 2000, max_batch_size: 20 }
          batch: { type: processor:batch, config: { max_batch_duration: 50ms } }
          out: { type: exporter:noop }
        connections:
          - { from: gen, to: batch }
          - { from: batch, to: out }
`

func TestSigintDrainsAndExitsZero(t *testing.T) {
	cmd, url := started(t, writeConfig(t, endlessConfig))
	get(t, url+"/readyz", http.StatusOK)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != exitOK {
		t.Fatalf("exit %d after SIGINT, want 0", code)
	}
}

func TestAdminEndpointsAndShutdown(t *testing.T) {
	cmd, url := started(t, writeConfig(t, endlessConfig))
	get(t, url+"/livez", http.StatusOK)
	get(t, url+"/readyz", http.StatusOK)
	if body := get(t, url+"/metrics", http.StatusOK); !strings.Contains(body, `ackflow_node_received_items_total{pipeline="g/p",node="batch"}`) {
		t.Errorf("/metrics lacks the node counters:\n%.2000s", body)
	}
	if body := get(t, url+"/api/v1/status", http.StatusOK); !strings.Contains(body, `"name": "g/p"`) {
		t.Errorf("/api/v1/status: %s", body)
	}
	resp, err := http.Post(url+"/api/v1/shutdown", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/shutdown: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := waitExit(t, cmd); code != exitOK {
		t.Fatalf("exit %d after the admin shutdown, want 0:\n%s", code, cmd)
	}
	m := regexp.MustCompile(`pipeline g/p: (\d+) items received, (\d+) delivered, 0 nacked, 0 dropped, 0 in flight at exit`).FindStringSubmatch(cmd.String())
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Fatalf("no clean summary (received = delivered > 0):\n%s", cmd)
	}
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", url, resp.StatusCode, want, b)
	}
	return string(b)
}

// A second signal during a drain that cannot finish (the exporter's
// destination accepts connections and never answers) exits at once, with
// the runtime-failure code and the summary.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never read: every export hangs
		}
	}()
	cfg := fmt.Sprintf(`
version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
  shutdown_timeout: 1h
groups:
  g:
    pipelines:
      p:
        nodes:
          gen:
            type: receiver:traffic_generator
            config:
              enable_ack_nack: true
              traffic_config: { max_signal_count: 10, max_batch_size: 10 }
          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "http://%s", timeout: 1h } }
        connections:
          - { from: gen, to: out }
`, hole.Addr())
	cmd, url := started(t, writeConfig(t, cfg))
	get(t, url+"/livez", http.StatusOK)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// Wait until the first signal was handled before sending the second.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(cmd.String(), "draining") {
		if time.Now().After(deadline) {
			t.Fatalf("first signal not handled:\n%s", cmd)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != exitRuntime {
		t.Fatalf("exit %d after the second signal, want %d:\n%s", code, exitRuntime, cmd)
	}
	if !strings.Contains(cmd.String(), "second signal") || !strings.Contains(cmd.String(), "pipeline g/p:") {
		t.Fatalf("no second-signal message or summary:\n%s", cmd)
	}
}
