package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Restart kinds.
const (
	restartTerm = "SIGTERM"
	restartKill = "SIGKILL"
)

// restart is one planned restart of the process.
type restart struct {
	at   time.Duration // from the start of the load
	kind string
}

// planRestarts spreads max(2, d/40s) restarts over d, at least one of each
// kind, the last at least 15 s before the end.
func planRestarts(rng *rand.Rand, d time.Duration) []restart {
	n := max(2, int(d/(40*time.Second)))
	kinds := make([]string, n)
	for i := range kinds {
		kinds[i] = restartTerm
		if i%2 == 1 {
			kinds[i] = restartKill
		}
	}
	rng.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	span := d - 15*time.Second
	step := span / time.Duration(n+1)
	var out []restart
	for i := range n {
		jitter := time.Duration(rng.Int64N(int64(step/2))) - step/4
		out = append(out, restart{at: step*time.Duration(i+1) + jitter, kind: kinds[i]})
	}
	return out
}

// lifeEnd is how one process life ended.
type lifeEnd struct {
	n       int
	how     string // restartTerm, restartKill, "final SIGTERM", "unexpected exit"
	exit    string
	ok      bool // the exit was the one expected
	flows   map[string]flow
	kept    int
	hwm     int64
	uptime  time.Duration
	p2Busy  int64 // durable-pipeline requests in flight at a SIGKILL
	p1Idle  bool  // the fanout pipeline had nothing in flight at a SIGKILL
	queued  int64 // items queued in the durable buffer just before a SIGKILL
	crash   string
	balance []string // pipelines whose summary did not balance
}

// soak is one run: the sinks, the process, the clients and what they saw.
type soak struct {
	opt   options
	bin   string
	dir   string
	cfg   string
	out   io.Writer
	start time.Time
	t     *tb // owns the sinks

	sinks    [3]*sink // primary, backup (fanout), durable
	targets  atomic.Pointer[targets]
	cur      atomic.Pointer[life]
	stopping atomic.Int64 // the life being stopped by a signal
	traffic  traffic
	hostile  hostileStats

	mu       sync.Mutex
	lives    []lifeEnd
	failures []string
	peakHWM  int64
	peakLife int
	peakRSS  int64
	nextLife int
}

func newSoak(opt options, bin, dir string, out io.Writer) (*soak, error) {
	s := &soak{opt: opt, bin: bin, dir: dir, out: out, t: &tb{}}
	s.sinks[0] = newSink(s.t, "primary", true)
	s.sinks[1] = newSink(s.t, "backup", true)
	s.sinks[2] = newSink(s.t, "durable", false)
	cfg, err := writeConfig(dir, s.sinks[0].s.Endpoint(), s.sinks[1].s.Endpoint(), s.sinks[2].s.Endpoint())
	if err != nil {
		s.t.cleanup()
		return nil, err
	}
	s.cfg = cfg
	return s, nil
}

// event prints a timestamped line.
func (s *soak) event(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, "[%6.1fs] %s\n", time.Since(s.start).Seconds(), fmt.Sprintf(format, args...))
}

func (s *soak) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.failures = append(s.failures, msg)
	s.mu.Unlock()
	s.event("FAIL: %s", msg)
}

// run runs the whole soak and returns its report.
func (s *soak) run(ctx context.Context) *report {
	defer s.t.cleanup()
	s.start = time.Now()
	var restarts []restart
	if s.opt.restarts {
		restarts = planRestarts(rand.New(rand.NewPCG(s.opt.seed, 1)), s.opt.duration)
	}
	fmt.Fprintf(s.out, "ackflow soak: seed %d, duration %s, %d clients at %.0f req/s each, work dir %s\n",
		s.opt.seed, s.opt.duration, s.opt.clients, s.opt.rate, s.dir)
	for _, r := range restarts {
		fmt.Fprintf(s.out, "  planned: %s at %s\n", r.kind, r.at.Round(100*time.Millisecond))
	}

	// Background: memory sampling and progress, until the very end.
	bg, stopBG := context.WithCancel(context.Background())
	var bgWG sync.WaitGroup
	bgWG.Go(func() { s.sampler(bg) })
	bgWG.Go(func() { s.progress(bg) })
	defer func() { stopBG(); bgWG.Wait() }()

	if _, err := s.startLife(); err != nil {
		s.fail("first start: %v", err)
		return s.report(nil, ctx.Err() != nil)
	}
	defer func() { // on every path, no process outlives the soak
		if l := s.cur.Load(); l != nil {
			l.forceKill()
		}
	}()

	// The load: clients, sink faults, hostile clients, until the
	// duration passes (or the first Ctrl-C).
	loadCtx, stopLoad := context.WithTimeout(ctx, s.opt.duration)
	defer stopLoad()
	var clients, chaos sync.WaitGroup
	for _, c := range clientSpecs(s.opt.clients) {
		clients.Go(func() { s.client(loadCtx, c) })
	}
	for i, k := range s.sinks {
		if !s.opt.faults {
			break
		}
		rng := rand.New(rand.NewPCG(s.opt.seed, 10+uint64(i)))
		chaos.Go(func() { s.faultLoop(loadCtx, k, rng) })
	}
	if kinds := s.opt.hostileKinds(); len(kinds) > 0 {
		chaos.Go(func() { s.hostileLoop(loadCtx, kinds) })
	}

	s.lifecycle(loadCtx, restarts)
	interrupted := ctx.Err() != nil

	// The end: stop the faults and heal the sinks, let the hostile
	// clients and the normal ones get their last answers.
	s.event("load stopped: healing the sinks, waiting for the last answers")
	chaos.Wait()
	for _, k := range s.sinks {
		if err := k.heal(); err != nil {
			s.fail("healing: %v", err)
		}
	}
	clients.Wait()
	s.ensureRunning()
	s.drain()
	s.finalStop()
	return s.report(s.conservation(), interrupted)
}

// startLife starts the next process life and publishes its addresses.
func (s *soak) startLife() (*life, error) {
	s.nextLife++
	l, err := startLife(s.nextLife, s.bin, s.cfg, s.dir)
	if err != nil {
		return nil, err
	}
	tg, err := l.waitReady()
	if err != nil {
		l.forceKill()
		return nil, err
	}
	s.cur.Store(l)
	s.targets.Store(&tg)
	s.event("life %d: pid %d, fanout gRPC %s HTTP %s, durable gRPC %s HTTP %s",
		l.n, l.pid(), tg.grpc[pFanout], tg.http[pFanout], tg.grpc[pDurable], tg.http[pDurable])
	return l, nil
}

// lifecycle owns the process during the load: it runs the planned
// restarts and notices unexpected exits, until ctx ends.
func (s *soak) lifecycle(ctx context.Context, plan []restart) {
	for _, r := range plan {
		if !s.waitUntil(ctx, s.start.Add(r.at)) {
			return
		}
		s.restart(r.kind)
	}
	s.waitUntil(ctx, time.Time{})
}

// waitUntil waits for the time at (zero: until ctx ends), restarting the
// process if it exits on its own; it reports false if ctx ended first.
func (s *soak) waitUntil(ctx context.Context, at time.Time) bool {
	var timer <-chan time.Time
	if !at.IsZero() {
		t := time.NewTimer(time.Until(at))
		defer t.Stop()
		timer = t.C
	}
	for {
		l := s.cur.Load()
		var died <-chan struct{}
		if l != nil {
			died = l.done
		}
		select {
		case <-ctx.Done():
			return false
		case <-timer:
			return true
		case <-died:
			s.endLife(l, "unexpected exit", false)
			s.ensureRunning()
		}
	}
}

// ensureRunning starts a process life if none runs, trying a few times.
func (s *soak) ensureRunning() {
	if l := s.cur.Load(); l != nil && !l.exited() {
		return
	}
	for try := range 3 {
		if _, err := s.startLife(); err != nil {
			s.fail("start (try %d): %v", try+1, err)
			continue
		}
		return
	}
	s.cur.Store(nil) // nothing runs: the next restart tries again
}

// restart stops the process with kind and starts the next life.
func (s *soak) restart(kind string) {
	l := s.cur.Load()
	if l == nil || l.exited() {
		s.ensureRunning()
		return
	}
	switch kind {
	case restartTerm:
		s.event("life %d: SIGTERM (clients keep sending)", l.n)
		s.stopping.Store(int64(l.n))
		exited := l.signal(syscall.SIGTERM, termWait)
		s.targets.Store(nil)
		if !exited {
			l.forceKill()
			s.endLife(l, restartTerm, false)
			s.fail("life %d did not exit within %s of SIGTERM: killed", l.n, termWait)
			break
		}
		s.endLife(l, restartTerm, l.exitCode() == 0)
	case restartKill:
		// The moment: the durable buffer holds a backlog (a sink fault
		// makes one; up to 15 s for it), the fanout pipeline is idle (it
		// has no durable buffer), a durable request is in flight.
		queued := s.waitBacklog(15 * time.Second)
		s.traffic.paused[pFanout].Store(true)
		idle := s.traffic.waitIdle(pFanout, clientTimeout+5*time.Second)
		deadline := time.Now().Add(2 * time.Second)
		for s.traffic.inFlight[pDurable].Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		busy := s.traffic.inFlight[pDurable].Load()
		s.event("life %d: SIGKILL (fanout idle: %t; durable: %d requests in flight, %d items queued in the buffer at the last reading)", l.n, idle, busy, queued)
		s.stopping.Store(int64(l.n))
		exited := l.signal(syscall.SIGKILL, killWait)
		s.targets.Store(nil)
		if !exited {
			s.fail("life %d still running %s after SIGKILL", l.n, killWait)
		}
		end := s.endLife(l, restartKill, exited && l.killedBy(syscall.SIGKILL))
		s.mu.Lock()
		s.lives[end].p2Busy, s.lives[end].p1Idle, s.lives[end].queued = busy, idle, queued
		s.mu.Unlock()
	}
	s.ensureRunning()
	if kind == restartKill {
		s.traffic.resetGap(pFanout)
		s.traffic.paused[pFanout].Store(false)
	}
}

// waitBacklog waits up to d for the durable buffer to hold undelivered
// items and returns the last count read.
func (s *soak) waitBacklog(d time.Duration) int64 {
	deadline := time.Now().Add(d)
	for {
		var q float64
		if t := s.targets.Load(); t != nil {
			q, _ = adminMetric(t.admin, "ackflow_processor_durable_buffer_queued_items")
		}
		if q > 0 || time.Now().After(deadline) {
			return int64(q)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// endLife records how l ended and returns its index in s.lives.
func (s *soak) endLife(l *life, how string, expected bool) int {
	<-l.done
	if s.cur.Load() == l {
		s.targets.Store(nil)
	}
	_, hwm := l.memory()
	l.mu.Lock()
	e := lifeEnd{n: l.n, how: how, exit: l.exit(), ok: expected, flows: l.flows, kept: l.kept,
		hwm: hwm, uptime: time.Since(l.started), crash: l.crash}
	l.mu.Unlock()
	if how != restartKill {
		for _, name := range pipelineNames {
			f, ok := e.flows[name]
			if !ok || !f.balanced() {
				e.balance = append(e.balance, fmt.Sprintf("%s: %v (summary printed: %t)", name, f, ok))
			}
		}
	}
	s.event("life %d ended by %s: %s, peak RSS %.1f MiB%s", l.n, how, e.exit, mib(hwm), flowNote(e))
	if !expected {
		s.fail("life %d ended by %s with %s (log %s):\n%s", l.n, how, e.exit, l.logPath, l.tail(10))
	}
	if e.crash != "" {
		s.fail("life %d crashed: %s (log %s)", l.n, e.crash, l.logPath)
	}
	if how != restartKill && expected && len(e.balance) > 0 {
		s.fail("life %d: summary does not balance after a clean drain: %v", l.n, e.balance)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lives = append(s.lives, e)
	return len(s.lives) - 1
}

func flowNote(e lifeEnd) string {
	if e.how == restartKill {
		return ""
	}
	note := ""
	for _, name := range pipelineNames {
		if f, ok := e.flows[name]; ok {
			note += fmt.Sprintf("; %s %s", name, f)
		}
	}
	if e.kept > 0 {
		note += fmt.Sprintf("; %d items kept on disk", e.kept)
	}
	return note
}

// drain waits until the durable buffer has delivered everything and the
// sinks have no call in flight.
func (s *soak) drain() {
	const bound = 3 * time.Minute
	if s.cur.Load() == nil {
		s.event("drain: no process runs")
		return
	}
	s.event("draining: waiting for the durable buffer to deliver its backlog (up to %s)", bound)
	deadline := time.Now().Add(bound)
	for {
		t := s.targets.Load()
		if t != nil {
			q, err1 := adminMetric(t.admin, "ackflow_processor_durable_buffer_queued_items")
			b, err2 := adminMetric(t.admin, "ackflow_processor_durable_buffer_in_flight_bundles")
			if err1 == nil && err2 == nil && q == 0 && b == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			s.event("drain: the durable buffer still holds data after %s", bound)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, k := range s.sinks {
		if err := k.s.WaitIdle(30 * time.Second); err != nil {
			s.event("drain: %v", err)
		}
	}
}

// finalStop stops the last life with SIGTERM: it must exit 0.
func (s *soak) finalStop() {
	l := s.cur.Load()
	if l == nil {
		return
	}
	s.event("life %d: final SIGTERM", l.n)
	s.stopping.Store(int64(l.n))
	if !l.signal(syscall.SIGTERM, termWait) {
		l.forceKill()
		s.endLife(l, "final SIGTERM", false)
		s.fail("life %d did not exit within %s of the final SIGTERM: killed", l.n, termWait)
	} else {
		s.endLife(l, "final SIGTERM", l.exitCode() == 0)
	}
	s.cur.Store(nil)
}

// sampler reads the memory of the running process every 250 ms.
func (s *soak) sampler(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		l := s.cur.Load()
		if l == nil || l.exited() {
			continue
		}
		l.sample()
		rss, hwm := l.memory()
		s.mu.Lock()
		if hwm > s.peakHWM {
			s.peakHWM, s.peakLife = hwm, l.n
		}
		s.peakRSS = max(s.peakRSS, rss)
		s.mu.Unlock()
	}
}

// progress prints a line every 10 s.
func (s *soak) progress(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tr := &s.traffic
		state := "down"
		queued := "?"
		if l := s.cur.Load(); l != nil && !l.exited() {
			rss, _, _ := readMemory(l.pid())
			state = fmt.Sprintf("life %d rss %.1f MiB", l.n, mib(rss))
			if t := s.targets.Load(); t != nil {
				if q, err := adminMetric(t.admin, "ackflow_processor_durable_buffer_queued_items"); err == nil {
					queued = fmt.Sprint(q)
				}
			}
		}
		ht := s.hostile.totals()
		s.mu.Lock()
		peak := s.peakHWM
		terms, kills := 0, 0
		for _, e := range s.lives {
			switch e.how {
			case restartTerm:
				terms++
			case restartKill:
				kills++
			}
		}
		s.mu.Unlock()
		s.event("%s (peak %.1f MiB) | fanout %d sent %d ok %d err | durable %d sent %d ok %d err, buffer queued %s | hostile %d runs: %d refused %d accepted %d unanswered %d cut by restarts | restarts term %d kill %d | sinks primary=%s backup=%s durable=%s",
			state, mib(peak),
			tr.sent[pFanout].Load(), tr.ok[pFanout].Load(), tr.failed[pFanout].Load(),
			tr.sent[pDurable].Load(), tr.ok[pDurable].Load(), tr.failed[pDurable].Load(), queued,
			ht.runs, ht.refused, ht.accepted, ht.hung, ht.restarted, terms, kills,
			s.sinks[0].status(), s.sinks[1].status(), s.sinks[2].status())
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
