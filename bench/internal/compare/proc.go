package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports (it is part of the ABI, unlike the
// kernel's HZ).
const userHZ = 100

// Placement says where a process runs.
type Placement struct {
	// CPU is the CPU to pin to; -1 leaves the process unpinned.
	CPU int
	// GOMAXPROCS, when above 0, is set in the process's environment.
	GOMAXPROCS int
}

// Proc is a started program.
type Proc struct {
	Name string
	Log  string // path of its combined stdout and stderr
	cmd  *exec.Cmd
	out  *os.File
	done chan struct{}
	err  error // Wait's result, valid after done
}

// startProc starts bin with args, placed as pl, its output in
// dir/name.log. taskset is the path of taskset, or "" to leave every
// process unpinned.
func startProc(dir, name, taskset string, pl Placement, bin string, args ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	argv := append([]string{bin}, args...)
	if taskset != "" && pl.CPU >= 0 {
		argv = append([]string{taskset, "-c", strconv.Itoa(pl.CPU)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = os.Environ()
	if pl.GOMAXPROCS > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(pl.GOMAXPROCS))
	}
	// Its own process group, so a Ctrl-C meant for the runner does not
	// reach it before the runner stops it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the process id. taskset execs the program, so it is the
// program's own.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills the
// process. It returns the exit error (nil for a clean exit after SIGTERM).
// Idempotent.
func (p *Proc) Stop(grace time.Duration) error {
	if ok, err := p.Exited(); ok {
		return err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM: killed", p.Name, grace)
	}
}

// Tail returns the last lines of the process's log.
func (p *Proc) Tail(lines int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// waitListening waits until addr accepts TCP connections, the process
// exits, or timeout passes.
func waitListening(ctx context.Context, p *Proc, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if ok, werr := p.Exited(); ok {
			return fmt.Errorf("%s exited before listening on %s (%v); its log ends with:\n%s", p.Name, addr, werr, p.Tail(15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not listening on %s after %s; its log ends with:\n%s", p.Name, addr, timeout, p.Tail(15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CPUTicks returns utime+stime of pid, in USER_HZ ticks.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of %d: %w", pid, err)
	}
	return parseStatTicks(b)
}

// parseStatTicks reads fields 14 (utime) and 15 (stime) of a
// /proc/PID/stat line. Field 2, the command, is in parentheses and may
// hold spaces and parentheses: fields are counted after its last ')'.
func parseStatTicks(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc stat: %d fields after the command", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("malformed /proc stat: %w", err)
	}
	return u + s, nil
}

// CPUBusy returns the busy and total time of one CPU since boot, in
// USER_HZ ticks, from /proc/stat: what every process did on it, not only
// the system under test.
func CPUBusy(cpu int) (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	return parseCPUBusy(b, cpu)
}

// parseCPUBusy reads the "cpuN" line of /proc/stat: user nice system idle
// iowait irq softirq steal ...; idle and iowait are not busy, steal (time
// the hypervisor gave another guest) counts as busy: the CPU was not ours.
func parseCPUBusy(b []byte, cpu int) (busy, total int64, err error) {
	name := "cpu" + strconv.Itoa(cpu)
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != name {
			continue
		}
		for i, v := range f[1:9] {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("malformed /proc/stat line %q: %w", line, err)
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total, nil
	}
	return 0, 0, fmt.Errorf("no %s line in /proc/stat", name)
}

// Memory returns VmRSS and VmHWM (peak RSS) of pid, in bytes.
func Memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of %d: %w", pid, err)
	}
	return parseStatusMemory(b)
}

// parseStatusMemory reads the VmRSS and VmHWM lines ("VmHWM:  25100 kB").
func parseStatusMemory(b []byte) (rss, hwm int64, err error) {
	for line := range strings.SplitSeq(string(b), "\n") {
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

// freePorts returns n distinct free loopback ports. A port is free when
// asked; another program could take it before the system under test
// binds it, in which case the system fails to start and says so.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
