package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds of the process's lifecycle.
const (
	startWait = 30 * time.Second // from exec to every listener logged
	// shutdownTimeout is engine.shutdown_timeout: twice what a drain
	// needs here (receiver timeout 10s; fanout 2s + exporter 5s), and
	// below hostileWait, so that a client the drain cannot get rid of
	// shows as a wrong exit code rather than a slow drain.
	shutdownTimeout = 25 * time.Second
	termWait        = shutdownTimeout + 30*time.Second
	killWait        = 10 * time.Second
)

// Pipeline indexes and names, as the config and the summary name them.
const (
	pFanout  = 0
	pDurable = 1
)

var pipelineNames = [2]string{"soak/fanout", "soak/durable"}

// writeConfig writes the ackflow document: two pipelines, every listener
// on a free loopback port, the exporters pointed at the sinks.
func writeConfig(dir, primary, backup, durable string) (string, error) {
	doc := fmt.Sprintf(`version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
  shutdown_timeout: %s
groups:
  soak:
    pipelines:
      fanout:
        nodes:
          in:
            type: receiver:otlp
            config:
              timeout: 10s
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          fan:
            type: processor:fanout
            outputs: [primary, backup]
            config:
              await_ack: primary
              destinations:
                - { port: primary, primary: true, timeout: 2s }
                - { port: backup, fallback_for: primary }
          out_primary: { type: exporter:otlp_grpc, config: { grpc_endpoint: "%s", timeout: 5s } }
          out_backup: { type: exporter:otlp_grpc, config: { grpc_endpoint: "%s", timeout: 5s } }
        connections:
          - { from: in, to: fan }
          - { from: 'fan["primary"]', to: out_primary }
          - { from: 'fan["backup"]', to: out_backup }
      durable:
        nodes:
          in:
            type: receiver:otlp
            config:
              timeout: 10s
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
                http: { listening_addr: "127.0.0.1:0" }
          buf:
            type: processor:durable_buffer
            config:
              path: %q
              durability: fsync
              retention_size_cap: 512MiB
              max_in_flight: 64
              initial_retry_interval: 100ms
              max_retry_interval: 1s
          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "%s", timeout: 5s } }
        connections:
          - { from: in, to: buf }
          - { from: buf, to: out }
`, shutdownTimeout, primary, backup, filepath.Join(dir, "buffer"), durable)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	return path, nil
}

// targets are the addresses of one process life's listeners.
type targets struct {
	life  int
	grpc  [2]string // host:port per pipeline
	http  [2]string // http://host:port per pipeline
	admin string    // http://host:port
}

// flow is one pipeline's line of the summary printed at exit.
type flow struct{ received, delivered, nacked, dropped, inFlight int }

func (f flow) balanced() bool { return f.received == f.delivered+f.nacked+f.dropped && f.inFlight == 0 }

func (f flow) String() string {
	return fmt.Sprintf("%d received, %d delivered, %d nacked, %d dropped, %d in flight",
		f.received, f.delivered, f.nacked, f.dropped, f.inFlight)
}

// life is one run of the ackflow process. Its log goes to a file of its
// own; the lines that matter are parsed as they come.
type life struct {
	n       int
	cmd     *exec.Cmd
	logPath string
	started time.Time
	ready   chan struct{} // closed when the admin server and every listener are logged
	done    chan struct{} // closed when the process exited and its output was read

	mu      sync.Mutex
	t       targets
	flows   map[string]flow
	kept    int    // items a durable buffer kept for the next run
	crash   string // the first panic or fatal error line
	isReady bool
	hwm     int64 // last VmHWM sampled
	rss     int64 // largest VmRSS sampled
}

var (
	adminRe   = regexp.MustCompile(`msg="ackflow started".* admin=(http://\S+)`)
	listenRe  = regexp.MustCompile(`msg="otlp receiver listening" pipeline=(\S+) .*protocol=(grpc|http) addr=(\S+)`)
	summaryRe = regexp.MustCompile(`^pipeline (\S+): (\d+) items received, (\d+) delivered, (\d+) nacked, (\d+) dropped, (\d+) in flight at exit`)
	keptRe    = regexp.MustCompile(`^\s+\S+ \(copy \d+\): (\d+) items kept for the next run`)
	crashRe   = regexp.MustCompile(`^(panic|fatal error):`)
)

// startLife runs bin with the config at cfg; its output goes to
// dir/ackflow-N.log.
func startLife(n int, bin, cfg, dir string) (*life, error) {
	logPath := filepath.Join(dir, fmt.Sprintf("ackflow-%d.log", n))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("life %d: %w", n, err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("life %d: %w", n, err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = pw, pw
	// Its own process group: a Ctrl-C meant for the soak does not reach
	// it; the soak stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("life %d: start %s: %w", n, bin, err)
	}
	pw.Close() // the child holds the write end: EOF when it exits
	l := &life{
		n: n, cmd: cmd, logPath: logPath, started: time.Now(),
		ready: make(chan struct{}), done: make(chan struct{}),
		t: targets{life: n}, flows: map[string]flow{},
	}
	go func() {
		defer close(l.done)
		l.scan(pr, logf)
		pr.Close()
		logf.Close()
		_ = cmd.Wait()
	}()
	return l, nil
}

// scan copies the process's output to its log and parses it.
func (l *life) scan(r io.Reader, log io.Writer) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			_, _ = io.WriteString(log, line)
			l.parse(strings.TrimRight(line, "\n"))
		}
		if err != nil {
			return
		}
	}
}

func (l *life) parse(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if m := adminRe.FindStringSubmatch(line); m != nil {
		l.t.admin = m[1]
	}
	if m := listenRe.FindStringSubmatch(line); m != nil {
		for p, name := range pipelineNames {
			if m[1] != name {
				continue
			}
			if m[2] == "grpc" {
				l.t.grpc[p] = m[3]
			} else {
				l.t.http[p] = "http://" + m[3]
			}
		}
	}
	if m := summaryRe.FindStringSubmatch(line); m != nil {
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		l.flows[m[1]] = flow{received: n(2), delivered: n(3), nacked: n(4), dropped: n(5), inFlight: n(6)}
	}
	if m := keptRe.FindStringSubmatch(line); m != nil {
		v, _ := strconv.Atoi(m[1])
		l.kept += v
	}
	if l.crash == "" && crashRe.MatchString(line) {
		l.crash = line
	}
	t := l.t
	if !l.isReady && t.admin != "" && t.grpc[0] != "" && t.grpc[1] != "" && t.http[0] != "" && t.http[1] != "" {
		l.isReady = true
		close(l.ready)
	}
}

// waitReady waits until every listener is logged, the process exits, or
// startWait passes.
func (l *life) waitReady() (targets, error) {
	timer := time.NewTimer(startWait)
	defer timer.Stop()
	select {
	case <-l.ready:
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.t, nil
	case <-l.done:
		return targets{}, fmt.Errorf("life %d exited (%s) before listening; its log ends with:\n%s", l.n, l.exit(), l.tail(15))
	case <-timer.C:
		return targets{}, fmt.Errorf("life %d not listening after %s; its log ends with:\n%s", l.n, startWait, l.tail(15))
	}
}

// pid is the process id.
func (l *life) pid() int { return l.cmd.Process.Pid }

// exited reports whether the process has ended.
func (l *life) exited() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// exit describes how the process ended; valid after done.
func (l *life) exit() string {
	st := l.cmd.ProcessState
	if st == nil {
		return "not waited for"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exit code %d", st.ExitCode())
}

// exitCode is the exit code, or -1 when a signal ended the process.
func (l *life) exitCode() int { return l.cmd.ProcessState.ExitCode() }

// killedBy reports whether sig ended the process.
func (l *life) killedBy(sig syscall.Signal) bool {
	ws, ok := l.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// signal sends sig and waits up to wait for the exit. It reports whether
// the process exited in time.
func (l *life) signal(sig syscall.Signal, wait time.Duration) bool {
	_ = l.cmd.Process.Signal(sig)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-l.done:
		return true
	case <-timer.C:
		return false
	}
}

// forceKill kills the process if it still runs and waits for it;
// idempotent.
func (l *life) forceKill() {
	if !l.exited() {
		_ = l.cmd.Process.Kill()
		<-l.done
	}
}

// tail returns the last lines of the life's log.
func (l *life) tail(lines int) string {
	b, err := os.ReadFile(l.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// sample reads VmRSS and VmHWM of the process; it keeps the largest RSS
// and the last high-water mark (which only grows within a life).
func (l *life) sample() {
	rss, hwm, err := readMemory(l.pid())
	if err != nil {
		return // exited between the check and the read
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hwm = max(l.hwm, hwm)
	l.rss = max(l.rss, rss)
}

func (l *life) memory() (rss, hwm int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rss, l.hwm
}

// readMemory returns VmRSS and VmHWM of pid in bytes.
func readMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	return parseStatusMemory(string(b))
}

// parseStatusMemory reads the VmRSS and VmHWM lines ("VmHWM:  25100 kB").
func parseStatusMemory(s string) (rss, hwm int64, err error) {
	for line := range strings.SplitSeq(s, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("malformed %s line %q", key, line)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("malformed %s line %q: %w", key, line, err)
		}
		if key == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, errors.New("no VmRSS or VmHWM in /proc status")
	}
	return rss, hwm, nil
}

// adminMetric sums the series of name on the admin server's /metrics.
func adminMetric(admin, name string) (float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(admin + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s/metrics: %s", admin, resp.Status)
	}
	return sumMetric(string(b), name), nil
}

// sumMetric sums the values of the series of name in a Prometheus text
// exposition.
func sumMetric(body, name string) float64 {
	total := 0.0
	for line := range strings.SplitSeq(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			total += v
		}
	}
	return total
}
