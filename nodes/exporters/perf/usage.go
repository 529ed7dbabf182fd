package perf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// source is where the usage sections come from: Linux's /proc and the
// process's own accounting. Tests give a fake /proc and CPU clock.
type source struct {
	proc     fs.FS                         // rooted at /proc
	cpuTime  func() (time.Duration, error) // the process's CPU time, user + system
	pageSize uint64
}

// realSource reads the running system.
func realSource() *source {
	return &source{proc: os.DirFS("/proc"), cpuTime: processCPUTime, pageSize: uint64(os.Getpagesize())}
}

// processCPUTime is the CPU time the process used, from getrusage.
func processCPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// sample is one reading of every counter a report compares with the
// previous one, and of the levels it shows as they are. A section whose
// reading failed has its error set and is left out of the report.
type sample struct {
	procCPU    time.Duration // process CPU time
	procCPUErr error

	hostBusy, hostTotal uint64 // /proc/stat jiffies, every core
	hostErr             error

	rss, virtual uint64 // bytes
	memErr       error

	readBytes, writeBytes uint64 // /proc/self/io: bytes that reached storage
	diskErr               error

	nets   []netCounters // /proc/net/dev, in file order
	netErr error

	goroutines int
	heapBytes  uint64 // heap objects, live and not yet swept
	gcCycles   uint64
}

// netCounters are one interface's counters.
type netCounters struct {
	name                       string
	rxBytes, rxPackets, rxErrs uint64
	txBytes, txPackets, txErrs uint64
}

// read takes a sample of the sections c enables.
func (s *source) read(c Config) sample {
	var x sample
	if c.CPUUsage {
		x.procCPU, x.procCPUErr = s.cpuTime()
		x.hostBusy, x.hostTotal, x.hostErr = s.hostCPU()
	}
	if c.MemUsage {
		x.rss, x.virtual, x.memErr = s.memory()
	}
	if c.DiskUsage {
		x.readBytes, x.writeBytes, x.diskErr = s.disk()
	}
	if c.IOUsage {
		x.nets, x.netErr = s.network()
	}
	if c.SelfUsage {
		x.goroutines = runtime.NumGoroutine()
		x.heapBytes, x.gcCycles = goRuntime()
	}
	return x
}

// hostCPU reads the first line of /proc/stat: the jiffies of every core
// by state. Busy is all but idle and iowait; guest time is already in
// user time, so it is not added again.
func (s *source) hostCPU() (busy, total uint64, err error) {
	b, err := fs.ReadFile(s.proc, "stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total, nil
}

// memory reads /proc/self/statm: sizes in pages.
func (s *source) memory() (rss, virtual uint64, err error) {
	b, err := fs.ReadFile(s.proc, "self/statm")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("/proc/self/statm: unexpected content %q", b)
	}
	size, err1 := strconv.ParseUint(f[0], 10, 64)
	res, err2 := strconv.ParseUint(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("/proc/self/statm: %w", err)
	}
	return res * s.pageSize, size * s.pageSize, nil
}

// disk reads read_bytes and write_bytes of /proc/self/io.
func (s *source) disk() (read, write uint64, err error) {
	b, err := fs.ReadFile(s.proc, "self/io")
	if err != nil {
		return 0, 0, err
	}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "read_bytes" && k != "write_bytes") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/self/io: %s: %w", k, err)
		}
		if k == "read_bytes" {
			read = n
		} else {
			write = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("/proc/self/io: no read_bytes and write_bytes")
	}
	return read, write, nil
}

// network reads /proc/net/dev: after two header lines, one line per
// interface, "name: rx_bytes rx_packets rx_errs ... tx_bytes tx_packets
// tx_errs ...".
func (s *source) network() ([]netCounters, error) {
	b, err := fs.ReadFile(s.proc, "net/dev")
	if err != nil {
		return nil, err
	}
	var out []netCounters
	for i, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if i < 2 || !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 11 {
			return nil, fmt.Errorf("/proc/net/dev: short line %q", line)
		}
		var v [11]uint64
		for j := range v {
			if v[j], err = strconv.ParseUint(f[j], 10, 64); err != nil {
				return nil, fmt.Errorf("/proc/net/dev: %w", err)
			}
		}
		out = append(out, netCounters{
			name:    strings.TrimSpace(name),
			rxBytes: v[0], rxPackets: v[1], rxErrs: v[2],
			txBytes: v[8], txPackets: v[9], txErrs: v[10],
		})
	}
	return out, nil
}

// goRuntimeSamples are the runtime/metrics the self_usage section reads.
var goRuntimeSamples = []string{"/memory/classes/heap/objects:bytes", "/gc/cycles/total:gc-cycles"}

// goRuntime reads the heap and GC counters of the Go runtime.
func goRuntime() (heap, gcs uint64) {
	ss := make([]rtmetrics.Sample, len(goRuntimeSamples))
	for i, n := range goRuntimeSamples {
		ss[i].Name = n
	}
	rtmetrics.Read(ss)
	if ss[0].Value.Kind() == rtmetrics.KindUint64 {
		heap = ss[0].Value.Uint64()
	}
	if ss[1].Value.Kind() == rtmetrics.KindUint64 {
		gcs = ss[1].Value.Uint64()
	}
	return heap, gcs
}
