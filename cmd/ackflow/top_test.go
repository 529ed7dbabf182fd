package main

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ackflow/ackflow/admin"
)

// The -update flag is shared with the package's other golden tests.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files")
	}
}

func topGoldenUpdate() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func int64p(v int64) *int64 { return &v }

var topT0 = time.Date(2025, 3, 4, 3, 0, 0, 0, time.UTC)

// topStatus is a status document of a fan-out gateway after `items`
// items, two copies, one of them draining, a durable buffer and a
// blocked port.
func topStatus(at time.Time, items uint64) *admin.StatusDocument {
	flow := func(a, d, n, x uint64, oldest float64) admin.FlowDocument {
		return admin.FlowDocument{Admitted: a, Delivered: d, Nacked: n, Dropped: x, InFlight: a - d - n - x, OldestInFlightSeconds: oldest}
	}
	node := func(name, typ, kind string, copy int, state string) admin.NodeDocument {
		return admin.NodeDocument{Name: name, Type: typ, Kind: kind, Copy: copy, State: state}
	}
	var nodes []admin.NodeDocument
	for c := range 2 {
		otlp := node("otlp", "receiver:otlp", "receiver", c, "running")
		otlp.Sent, otlp.InFlight, otlp.OldestInFlightSeconds = items, int64p(120), 2.4
		otlp.Outputs = []admin.PortDocument{{Port: "default", To: []string{"fan"}, Queued: 3, QueueCapacity: 128}}

		fan := node("fan", "processor:fanout", "processor", c, []string{"running", "draining"}[c])
		fan.Received, fan.Sent, fan.Acked, fan.Nacked = items, 2*items-40, items-150, 30
		fan.NackedByCause = map[string]uint64{"timeout": 20, "route_full": 10}
		fan.Queued, fan.QueueCapacity, fan.QueueFill = 96, 128, 0.75
		fan.Outputs = []admin.PortDocument{
			{Port: "backup", To: []string{"buffer"}, SentItems: items / 2, Queued: 1, QueueCapacity: 128},
			{Port: "primary", To: []string{"otlp_out"}, SentItems: items / 2, Queued: 128, QueueCapacity: 128, Taps: 1},
		}
		fan.Details = map[string]any{"destinations": []any{
			map[string]any{"port": "primary", "state": "backing_up", "in_flight": float64(64)},
			map[string]any{"port": "backup", "state": "ok", "in_flight": float64(0)},
		}}

		buf := node("buffer", "processor:durable_buffer", "processor", c, "running")
		buf.Received, buf.Sent, buf.Acked = items/2, items/2-500, items/2
		buf.Details = map[string]any{"storage_bytes": float64(3 << 20), "queued_items": map[string]any{"logs": float64(500)}, "oldest_age_s": float64(75)}

		out := node("otlp_out", "exporter:otlp_grpc", "exporter", c, "running")
		out.Received, out.Acked, out.Dropped, out.InFlight = items/2, items/2-64-7, 7, int64p(64)
		out.DroppedByReason = map[string]uint64{"permanent": 7}
		out.Queued, out.QueueCapacity = 12, 128
		nodes = append(nodes, otlp, fan, buf, out)
	}
	all := flow(items, items-150, 30, 0, 2.4)
	all.Persisted = 500
	return &admin.StatusDocument{Ready: true, Time: at, Pipelines: []admin.PipelineDocument{{
		Name: "gw/otlp", Copies: 2, FlowDocument: all, AccountingMismatches: 0,
		Signals: []admin.SignalDocument{
			{Signal: "logs", FlowDocument: flow(items-100, items-230, 30, 0, 2.4)},
			{Signal: "metrics", FlowDocument: flow(0, 0, 0, 0, 0)},
			{Signal: "traces", FlowDocument: flow(100, 80, 0, 0, 0.3)},
		},
		Nodes: nodes,
	}}}
}

func TestTopFrames(t *testing.T) {
	mismatch := topStatus(topT0.Add(time.Second), 2000)
	mismatch.Ready = false
	mismatch.Pipelines[0].AccountingMismatches = 2
	for _, tc := range []struct {
		name string
		f    topFrame
	}{
		{"first", topFrame{addr: "http://127.0.0.1:8080", interval: time.Second, cur: topStatus(topT0, 1000)}},
		{"rates", topFrame{addr: "http://127.0.0.1:8080", interval: time.Second, prev: topStatus(topT0, 1000), cur: topStatus(topT0.Add(2*time.Second), 5000), tty: true}},
		{"clipped", topFrame{addr: "http://127.0.0.1:8080", interval: time.Second, cur: topStatus(topT0, 1000), tty: true, width: 72, height: 12}},
		{"mismatch", topFrame{addr: "https://gw:8443", prev: topStatus(topT0, 1000), cur: mismatch}},
		{"unreachable", topFrame{addr: "http://127.0.0.1:8080", interval: time.Second, err: errors.New("cannot reach the admin API")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.loc = time.UTC
			got := renderTop(tc.f)
			path := filepath.Join("testdata", "top", tc.name+".golden")
			if topGoldenUpdate() {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestTopFrames -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("frame differs from %s (go test -run TestTopFrames -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
}

func TestTopFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{count(999), "999"}, {count(1234), "1.2k"}, {count(12_345_678), "12.3M"}, {count(2_500_000_000), "2.5G"},
		{perSec(30, 0, 2), "15"}, {perSec(3, 0, 2), "1.5"}, {perSec(0, 10, 1), "-"}, {perSec(5, 0, 0), "-"},
		{age(0), "0s"}, {age(0.25), "250ms"}, {age(12.9), "12s"}, {age(185), "3m05s"}, {age(7800), "2h10m"},
		{bytesHuman(512), "512B"}, {bytesHuman(3 << 20), "3.0MiB"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// topConfig is a running instance with traffic for the end-to-end tests.
const topConfig = `
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
              traffic_config: { signals_per_second: 2000, max_batch_size: 20, log_weight: 1, trace_weight: 1 }
          fan:
            type: processor:fanout
            outputs: [main, side]
            config: { destinations: [ { port: main, primary: true }, { port: side } ] }
          batch: { type: processor:batch, config: { max_batch_duration: 50ms } }
          out: { type: exporter:noop }
          copy: { type: exporter:noop }
        connections:
          - { from: gen, to: fan }
          - { from: 'fan["main"]', to: batch }
          - { from: batch, to: out }
          - { from: 'fan["side"]', to: copy }
`

func TestTopOnceAndJSON(t *testing.T) {
	cmd, url := started(t, writeConfig(t, topConfig))
	defer stopProcess(t, cmd)
	addr := strings.TrimPrefix(url, "http://")
	stdout, stderr, code := runBinary(t, "top", "--admin", addr, "--once", "--interval", "300ms")
	if code != exitOK {
		t.Fatalf("top --once: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"PIPELINE g/p", "logs", "traces", "gen", "receiver:traffic_generator", "fan → main (to batch)", "fan → side (to copy)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("top --once lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "\x1b[") {
		t.Errorf("top --once wrote terminal escapes:\n%q", stdout)
	}
	stdout, stderr, code = runBinary(t, "top", "--admin", addr, "--json")
	if code != exitOK || !strings.Contains(stdout, `"signals"`) || !strings.Contains(stdout, `"queue_capacity"`) {
		t.Fatalf("top --json: exit %d, %s\n%s", code, stderr, stdout)
	}
	if _, stderr, code := runBinary(t, "top", "--admin", "127.0.0.1:1", "--once"); code != exitRuntime || !strings.Contains(stderr, "cannot reach the admin API") {
		t.Errorf("top against nothing: exit %d, %s", code, stderr)
	}
}

// Without a terminal, top prints one frame after the other until it is
// interrupted.
func TestTopWithoutATerminalPrintsFrames(t *testing.T) {
	cmd, url := started(t, writeConfig(t, topConfig))
	defer stopProcess(t, cmd)
	top := exec.Command(binary, "top", "--admin", strings.TrimPrefix(url, "http://"), "--interval", "100ms")
	out, err := top.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := top.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = top.Process.Kill() }()
	frames := 0
	sc := bufio.NewScanner(out)
	for frames < 3 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "ackflow top") {
			frames++
		}
	}
	if frames < 3 {
		t.Fatalf("saw %d frames", frames)
	}
	_ = top.Process.Signal(syscall.SIGINT)
	go func() {
		for sc.Scan() {
		}
	}()
	if err := top.Wait(); err != nil {
		t.Fatalf("top after SIGINT: %v", err)
	}
}

// top in a real terminal: tmux runs it, the test reads the screen and
// presses q.
func TestTopInATerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed: this test drives ackflow top in a real terminal with it (apt-get install tmux)")
	}
	cmd, url := started(t, writeConfig(t, topConfig))
	defer stopProcess(t, cmd)
	sock := filepath.Join(t.TempDir(), "tmux.sock") // a private tmux server
	tm := func(args ...string) (string, error) {
		c := exec.Command(tmux, append([]string{"-S", sock}, args...)...)
		c.Env = append(os.Environ(), "TMUX=")
		b, err := c.CombinedOutput()
		return string(b), err
	}
	if out, err := tm("new-session", "-d", "-x", "200", "-y", "50", "-s", "top",
		binary+" top --admin "+strings.TrimPrefix(url, "http://")+" --interval 200ms"); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	defer func() { _, _ = tm("kill-server") }()

	var screen string
	deadline := time.Now().Add(30 * time.Second)
	for {
		screen, err = tm("capture-pane", "-p", "-t", "top")
		if err == nil && strings.Contains(screen, "(q: quit)") && hasRate(screen, "gen") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed the pipeline with rates (err %v):\n%s", err, screen)
		}
		time.Sleep(50 * time.Millisecond) // bounded polling of a real terminal
	}
	for _, want := range []string{"PIPELINE g/p", "NODE", "IN/s", "batch", "processor:fanout", "fan → side (to copy)"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if out, err := tm("send-keys", "-t", "top", "q"); err != nil {
		t.Fatalf("send q: %v %s", err, out)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, err := tm("has-session", "-t", "top"); err != nil {
			break // top exited on q, and its session with it
		}
		if time.Now().After(deadline) {
			screen, _ = tm("capture-pane", "-p", "-t", "top")
			t.Fatalf("top did not quit on q:\n%s", screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasRate reports whether the row of node shows an items/s number.
func hasRate(screen, node string) bool {
	for _, line := range strings.Split(screen, "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && f[0] == node && f[3] == "-" && f[4] != "-" {
			return true
		}
	}
	return false
}

// stopProcess ends an ackflow started by the test and waits for it.
func stopProcess(t *testing.T, p *process) {
	t.Helper()
	_ = p.Process.Signal(syscall.SIGTERM)
	waitExit(t, p)
}
