package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ackflow/ackflow/internal/testsink"
)

// Fault tests: the built binary between real OTLP/gRPC clients and
// testsink destinations on 127.0.0.1, with faults injected while data
// flows: a destination that goes away and comes back, SIGTERM and SIGKILL
// under load, destinations that hang or crawl. Each checks ackflow's
// promise from the outside: a client's OK means the data is at a
// destination, every client gets an answer, and the process's summary
// accounts for every item.

var (
	crashSeeds = flag.Int("crash.seeds", 3,
		"seeds 1..N for TestFaultSIGKILLUnderLoadWithDurableBuffer (CI runs 3; try 200)")
	crashSeed = flag.Uint64("crash.seed", 0,
		"run TestFaultSIGKILLUnderLoadWithDurableBuffer with this seed only, to reproduce a failure")
)

// Bounds of the waits of these tests: far above what a healthy run needs,
// far below the go test timeout, so that a hang fails with a message.
const (
	faultWait   = 20 * time.Second // a condition, a drain, the clients' last answers
	callTimeout = 10 * time.Second // one client request
	errorPause  = 5 * time.Millisecond
	pollEvery   = 5 * time.Millisecond
)

// ---------------------------------------------------------------------------
// The process

// faultProcess is a running ackflow and the gRPC addresses of its OTLP
// receivers.
type faultProcess struct {
	*process
	admin string
	grpc  map[string]string // "pipeline/node", e.g. "g/p/in" → host:port
}

var (
	listeningRe = regexp.MustCompile(`msg="otlp receiver listening"(.*)`)
	attrRe      = regexp.MustCompile(`(pipeline|node|protocol|addr)=(\S+)`)
	crashRe     = regexp.MustCompile(`(?m)^(fatal error|panic):`)
	summaryRe   = regexp.MustCompile(`pipeline (\S+): (\d+) items received, (\d+) delivered, (\d+) nacked, (\d+) dropped, (\d+) in flight at exit`)
)

// startFaults runs the binary with the config at path and waits until
// every receiver named ("pipeline/node") listens on gRPC.
func startFaults(t *testing.T, path string, receivers ...string) *faultProcess {
	t.Helper()
	p, admin := started(t, path)
	f := &faultProcess{process: p, admin: admin, grpc: map[string]string{}}
	deadline := time.Now().Add(faultWait)
	for {
		for _, m := range listeningRe.FindAllStringSubmatch(p.String(), -1) {
			a := map[string]string{}
			for _, kv := range attrRe.FindAllStringSubmatch(m[1], -1) {
				a[kv[1]] = kv[2]
			}
			if a["protocol"] == "grpc" {
				f.grpc[a["pipeline"]+"/"+a["node"]] = a["addr"]
			}
		}
		missing := ""
		for _, r := range receivers {
			if f.grpc[r] == "" {
				missing = r
			}
		}
		if missing == "" {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("receiver %s did not log its gRPC listener within %s:\n%s", missing, faultWait, p)
		}
		time.Sleep(pollEvery)
	}
}

// requireAlive fails the test if the process died, crashed or stopped
// answering its admin server.
func (f *faultProcess) requireAlive(t *testing.T) {
	t.Helper()
	resp, err := http.Get(f.admin + "/livez")
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("ackflow is not alive (%v):\n%s", err, f)
	}
	if crashRe.MatchString(f.String()) {
		t.Fatalf("ackflow crashed:\n%s", f)
	}
}

// flow is one pipeline's line of the summary printed at exit.
type flow struct{ received, delivered, nacked, dropped, inFlight int }

func (f flow) String() string {
	return fmt.Sprintf("%d received, %d delivered, %d nacked, %d dropped, %d in flight",
		f.received, f.delivered, f.nacked, f.dropped, f.inFlight)
}

// terminate sends SIGTERM, requires exit code 0 and returns the summary:
// pipeline name → flow. Every pipeline's accounting must balance with
// nothing in flight.
func (f *faultProcess) terminate(t *testing.T) map[string]flow {
	t.Helper()
	if err := f.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if code := waitExit(t, f.process); code != exitOK {
		t.Fatalf("exit code %d after SIGTERM, want %d (a clean drain):\n%s", code, exitOK, f)
	}
	out := map[string]flow{}
	for _, m := range summaryRe.FindAllStringSubmatch(f.String(), -1) {
		n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
		out[m[1]] = flow{received: n(2), delivered: n(3), nacked: n(4), dropped: n(5), inFlight: n(6)}
	}
	if len(out) == 0 {
		t.Fatalf("no summary at exit:\n%s", f)
	}
	for name, fl := range out {
		if fl.received != fl.delivered+fl.nacked+fl.dropped || fl.inFlight != 0 {
			t.Errorf("pipeline %s: accounting does not balance after the drain (received = delivered + nacked + dropped, nothing in flight): %s", name, fl)
		}
	}
	return out
}

// kill sends SIGKILL and waits for the process to be gone.
func (f *faultProcess) kill(t *testing.T) {
	t.Helper()
	if err := f.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	waitExit(t, f.process)
}

// ---------------------------------------------------------------------------
// Clients

// result is what one client request got.
type result struct {
	keys []string
	code codes.Code
	err  error
	took time.Duration
}

// clientPool is a set of clients sending log requests, each with items of keys
// unique to the test, one request at a time per client, until Stop.
type clientPool struct {
	t        *testing.T
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	ok       atomic.Int64 // requests answered OK
	failed   atomic.Int64 // requests answered with an error

	mu      sync.Mutex
	results []result
}

// startClients starts clients sending requests of items log records to
// target() (a gRPC address; "" pauses the client) until Stop, which the
// end of the test calls too. Request tags are name.cN.rM.
func startClients(t *testing.T, name string, clients, items int, target func() string) *clientPool {
	pool := &clientPool{t: t, stop: make(chan struct{})}
	for c := range clients {
		pool.wg.Go(func() { pool.client(fmt.Sprintf("%s.c%d", name, c), items, target) })
	}
	t.Cleanup(func() { pool.Stop() })
	return pool
}

func (pool *clientPool) client(tag string, items int, target func() string) {
	var conn *grpc.ClientConn
	connAddr := ""
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-pool.stop:
			return
		default:
		}
		addr := target()
		if addr == "" {
			pool.pause()
			continue
		}
		if addr != connAddr {
			if conn != nil {
				_ = conn.Close()
			}
			var err error
			if conn, err = grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
				pool.t.Errorf("grpc.NewClient(%s): %v", addr, err)
				return
			}
			connAddr = addr
		}
		req := testsink.NewRequest(testsink.SignalLogs, fmt.Sprintf("%s.r%d", tag, i), items)
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		start := time.Now()
		err := req.Export(ctx, conn)
		cancel()
		r := result{keys: req.Keys, code: status.Code(err), err: err, took: time.Since(start)}
		pool.mu.Lock()
		pool.results = append(pool.results, r)
		pool.mu.Unlock()
		if err == nil {
			pool.ok.Add(1)
			continue
		}
		pool.failed.Add(1)
		pool.pause()
	}
}

// pause waits a little before the next request after an error, so that a
// client facing a dead process does not spin.
func (pool *clientPool) pause() {
	select {
	case <-pool.stop:
	case <-time.After(errorPause):
	}
}

// waitOK waits until at least n requests were answered OK in total.
func (pool *clientPool) waitOK(t *testing.T, n int64, what string) {
	t.Helper()
	deadline := time.Now().Add(faultWait)
	for pool.ok.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (%d OK, %d failed so far)", faultWait, what, pool.ok.Load(), pool.failed.Load())
		}
		time.Sleep(pollEvery)
	}
}

// Stop stops the clients after their current request and returns every
// result. Each request in progress still gets its answer: Stop waits for
// it, and reports clients that have none after callTimeout and more.
// Idempotent.
func (pool *clientPool) Stop() []result {
	pool.stopOnce.Do(func() {
		close(pool.stop)
		done := make(chan struct{})
		go func() { pool.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(callTimeout + faultWait):
			pool.t.Errorf("clients still wait for answers %s after Stop", callTimeout+faultWait)
			<-done
		}
	})
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return append([]result(nil), pool.results...)
}

// tally sums results: requests and items answered OK, and the errors by
// code.
type tally struct {
	okReqs, okItems int
	failed          int
	byCode          map[codes.Code]int
	okKeys          []string
	slowest         time.Duration
}

func tallyOf(rs []result) tally {
	t := tally{byCode: map[codes.Code]int{}}
	for _, r := range rs {
		t.slowest = max(t.slowest, r.took)
		if r.err == nil {
			t.okReqs++
			t.okItems += len(r.keys)
			t.okKeys = append(t.okKeys, r.keys...)
			continue
		}
		t.failed++
		t.byCode[r.code]++
	}
	return t
}

func (t tally) String() string {
	return fmt.Sprintf("%d requests OK (%d items), %d failed %v, slowest answer %s",
		t.okReqs, t.okItems, t.failed, t.byCode, t.slowest.Round(time.Millisecond))
}

// requireAtSinks checks that every key is accepted by at least one of
// sinks, waiting for them up to faultWait, and names what is missing.
func requireAtSinks(t *testing.T, keys []string, sinks ...*testsink.Sink) {
	t.Helper()
	deadline := time.Now().Add(faultWait)
	for {
		var missing []string
		counts := make([]map[string]int, len(sinks))
		for i, s := range sinks {
			counts[i] = s.Counts()
		}
		for _, k := range keys {
			found := false
			for _, c := range counts {
				found = found || c[k] > 0
			}
			if !found {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("LOSS: %d of %d items answered OK never reached a destination within %s, e.g. %s",
				len(missing), len(keys), faultWait, missing[0])
		}
		time.Sleep(pollEvery)
	}
}

// must fails the test with err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// configHead is the start of every document of these tests: a loopback
// admin server on a free port and a drain deadline far below the tests'
// own bounds.
const configHead = `
version: otel_dataflow/v1
engine:
  http_admin: { bind_address: "127.0.0.1:0" }
  shutdown_timeout: 15s
groups:
  g:
    pipelines:
`

// receiverNode is an OTLP receiver named in on a free gRPC port; indent 10.
const receiverNode = `          in:
            type: receiver:otlp
            config:
              protocols:
                grpc: { listening_addr: "127.0.0.1:0" }
`

// ---------------------------------------------------------------------------
// a. A destination's outage behind processor:fanout with a fallback

// TestFaultPrimaryOutageFailsOverAndRecovers: receiver:otlp → fanout
// (await_ack primary, primary with a 2s timeout, backup as its fallback) →
// two exporter:otlp_grpc → two testsinks. While clients send, the primary
// sink goes away (connection refused) and comes back on the same port.
// Every request answered OK is at the primary or the backup; requests
// answered with an error are counted; the backup took over during the
// outage; the primary is used again once back; the process stays up and
// drains cleanly with every delivered item answered OK.
func TestFaultPrimaryOutageFailsOverAndRecovers(t *testing.T) {
	primary, backup := testsink.New(t), testsink.New(t)
	cfg := configHead + `      p:
        nodes:
` + receiverNode + fmt.Sprintf(`          fan:
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
`, primary.Endpoint(), backup.Endpoint())
	p := startFaults(t, writeConfig(t, cfg), "g/p/in")
	in := p.grpc["g/p/in"]
	pool := startClients(t, "fanout", 4, 10, func() string { return in })

	must(t, primary.WaitItems(200, faultWait)) // healthy: the primary takes the data
	if st := backup.Stats(); st.Calls != 0 {
		t.Errorf("the backup got %d calls while the primary was healthy", st.Calls)
	}
	primary.Close()
	base := backup.Stats().Items
	must(t, backup.WaitItems(base+200, faultWait)) // the outage: the fallback takes over
	must(t, primary.Restart())
	back := primary.Stats().Items
	must(t, primary.WaitItems(back+200, faultWait)) // back: the primary is used again
	p.requireAlive(t)
	rs := pool.Stop()

	tl := tallyOf(rs)
	t.Logf("clients: %s; primary: %s; backup: %s", tl, primary.Stats(), backup.Stats())
	if tl.okReqs == 0 {
		t.Fatal("no request was answered OK")
	}
	requireAtSinks(t, tl.okKeys, primary, backup)
	for code, n := range tl.byCode {
		if code != codes.Unavailable {
			t.Errorf("%d requests answered %v; a failover costs at most a retryable UNAVAILABLE", n, code)
		}
	}
	sum := p.terminate(t)["g/p"]
	if sum.delivered != tl.okItems {
		t.Errorf("summary says %d items delivered, the clients got OK for %d", sum.delivered, tl.okItems)
	}
}

// ---------------------------------------------------------------------------
// b. SIGTERM under load

// TestFaultSIGTERMUnderLoadDrainsEverything: clients send continuously
// through receiver:otlp → processor:batch → exporter:otlp_grpc to a sink
// that answers 20ms late, so data is always in flight; SIGTERM comes
// mid-stream. The process exits 0 after the drain; every request got an
// answer (none hung until its deadline); every item answered OK is at the
// sink; the summary balances, nothing was nacked, and what it counts as
// delivered is exactly what the clients got OK for and the sink accepted.
func TestFaultSIGTERMUnderLoadDrainsEverything(t *testing.T) {
	s := testsink.New(t)
	s.SetDelay(20 * time.Millisecond)
	cfg := configHead + `      p:
        nodes:
` + receiverNode + fmt.Sprintf(`          batch: { type: processor:batch, config: { max_batch_duration: 50ms } }
          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "%s" } }
        connections:
          - { from: in, to: batch }
          - { from: batch, to: out }
`, s.Endpoint())
	p := startFaults(t, writeConfig(t, cfg), "g/p/in")
	in := p.grpc["g/p/in"]
	pool := startClients(t, "sigterm", 8, 10, func() string { return in })
	must(t, s.WaitItems(500, faultWait))
	must(t, s.WaitUntil("calls in flight at the sink", faultWait, func(st testsink.Stats) bool { return st.InFlight > 0 }))
	sum := p.terminate(t)["g/p"]
	rs := pool.Stop() // after the exit: the last requests were refused, not left waiting

	tl := tallyOf(rs)
	t.Logf("clients: %s; sink: %s; summary: %s", tl, s.Stats(), sum)
	for code, n := range tl.byCode {
		if code == codes.DeadlineExceeded || code == codes.Canceled {
			t.Errorf("%d requests ended %v: a client was left without an answer", n, code)
		}
	}
	requireAtSinks(t, tl.okKeys, s)
	if sum.nacked != 0 || sum.dropped != 0 {
		t.Errorf("the drain nacked or dropped data although the sink was healthy: %s", sum)
	}
	if st := s.Stats(); sum.delivered != tl.okItems || sum.delivered != st.Accepted {
		t.Errorf("summary says %d items delivered; clients got OK for %d; the sink accepted %d", sum.delivered, tl.okItems, st.Accepted)
	}
}

// ---------------------------------------------------------------------------
// c. Hanging and slow destinations

// TestFaultHangingAndSlowSinks: one process, two pipelines. "stuck" exports
// to a sink that never answers (exporter timeout 1s); "slow" exports to a
// sink that answers 30ms late over a 512 KiB/s link. While eight clients
// wait on the stuck pipeline, the slow pipeline keeps delivering (goodput
// above zero, every request OK) and the admin server answers; each stuck
// client gets a retryable error soon after the exporter's timeout instead
// of hanging until its own deadline.
func TestFaultHangingAndSlowSinks(t *testing.T) {
	stuck, slow := testsink.New(t), testsink.New(t)
	stuck.SetMode(testsink.Hang)
	slow.SetDelay(30 * time.Millisecond)
	slow.SetRate(512 << 10)
	cfg := configHead + `      stuck:
        nodes:
` + receiverNode + fmt.Sprintf(`          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "%s", timeout: 1s } }
        connections:
          - { from: in, to: out }
      slow:
        nodes:
`, stuck.Endpoint()) + receiverNode + fmt.Sprintf(`          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "%s" } }
        connections:
          - { from: in, to: out }
`, slow.Endpoint())
	p := startFaults(t, writeConfig(t, cfg), "g/stuck/in", "g/slow/in")
	stuckAddr, slowAddr := p.grpc["g/stuck/in"], p.grpc["g/slow/in"]

	const stuckClients = 8
	conn, err := grpc.NewClient(stuckAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err)
	defer conn.Close()
	stuckResults := make(chan result, stuckClients)
	for i := range stuckClients {
		go func() {
			req := testsink.NewRequest(testsink.SignalLogs, fmt.Sprintf("stuck.%d", i), 10)
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			start := time.Now()
			err := req.Export(ctx, conn)
			stuckResults <- result{keys: req.Keys, code: status.Code(err), err: err, took: time.Since(start)}
		}()
	}
	must(t, stuck.WaitUntil("the stuck pipeline's exports to hang", faultWait, func(st testsink.Stats) bool { return st.InFlight > 0 }))

	// The other pipeline, while the stuck one holds its clients.
	start := time.Now()
	pool := startClients(t, "slow", 4, 50, func() string { return slowAddr })
	pool.waitOK(t, 40, "40 requests through the slow pipeline")
	p.requireAlive(t)
	rs := pool.Stop()
	elapsed := time.Since(start)

	tl := tallyOf(rs)
	st := slow.Stats()
	t.Logf("slow pipeline: %s in %s: goodput %.0f items/s, %.0f KiB/s at the sink; sink: %s",
		tl, elapsed.Round(time.Millisecond), float64(tl.okItems)/elapsed.Seconds(), float64(st.Bytes)/1024/elapsed.Seconds(), st)
	if tl.failed != 0 {
		t.Errorf("slow pipeline: %d requests failed %v, want none (a slow destination is not a failed one)", tl.failed, tl.byCode)
	}
	requireAtSinks(t, tl.okKeys, slow)

	for range stuckClients {
		r := <-stuckResults // each is bounded by callTimeout
		switch {
		case r.code != codes.Unavailable:
			t.Errorf("stuck pipeline: a client got %v after %s (%v), want UNAVAILABLE from the exporter's 1s timeout",
				r.code, r.took.Round(time.Millisecond), r.err)
		case r.took > callTimeout/2:
			t.Errorf("stuck pipeline: a client waited %s for its error; the exporter times out after 1s", r.took.Round(time.Millisecond))
		}
	}
	if st := stuck.Stats(); st.OKCalls != 0 {
		t.Errorf("the hanging sink accepted %d calls", st.OKCalls)
	}
	sums := p.terminate(t)
	if s := sums["g/stuck"]; s.delivered != 0 || s.nacked != stuckClients*10 {
		t.Errorf("stuck pipeline summary %s, want every item nacked", s)
	}
	if s := sums["g/slow"]; s.delivered != tl.okItems {
		t.Errorf("slow pipeline summary %s, the clients got OK for %d items", s, tl.okItems)
	}
}

// ---------------------------------------------------------------------------
// d. processor:durable_buffer: SIGKILL under load, destination outage

// requireComponent skips the test when the binary lacks the node type.
func requireComponent(t *testing.T, typ string) {
	t.Helper()
	stdout, stderr, code := runBinary(t, "components")
	if code != exitOK {
		t.Fatalf("ackflow components: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, typ+" ") {
		t.Skipf("this build has no %s (ackflow components does not list it)", typ)
	}
}

// durableConfig is receiver:otlp → processor:durable_buffer (fsync, at dir)
// → exporter:otlp_grpc → sink. Retries are quick so that recovery is
// measured in seconds.
func durableConfig(dir, endpoint string) string {
	return configHead + `      p:
        nodes:
` + receiverNode + fmt.Sprintf(`          buf:
            type: processor:durable_buffer
            config:
              path: "%s"
              durability: fsync
              max_in_flight: 64
              initial_retry_interval: 100ms
              max_retry_interval: 1s
          out: { type: exporter:otlp_grpc, config: { grpc_endpoint: "%s", timeout: 10s } }
        connections:
          - { from: in, to: buf }
          - { from: buf, to: out }
`, dir, endpoint)
}

// TestFaultSIGKILLUnderLoadWithDurableBuffer: clients send through
// receiver:otlp → processor:durable_buffer (fsync) → exporter:otlp_grpc →
// sink while the process is killed with SIGKILL at random moments and
// restarted on the same config and directory, a few times per seed; then
// it drains with the sink healthy. Every item answered OK reaches the sink
// at least once. Duplicates are counted and bounded: after each kill the
// sink is closed (dropping what the dead process had sent and the sink had
// not read) and its records are snapshot; an item may arrive once per
// process life from its first delivery on, so at most once more than the
// number of kills that came after that delivery. The items delivered again
// after each kill are reported: what was in flight plus what was acked
// since the buffer last persisted its progress (every poll_interval), so
// they are not bounded by the in-flight window alone.
//
// Seeds: 1..-crash.seeds (3 by default), or only -crash.seed.
func TestFaultSIGKILLUnderLoadWithDurableBuffer(t *testing.T) {
	requireComponent(t, "processor:durable_buffer")
	seeds := []uint64{}
	if *crashSeed != 0 {
		seeds = append(seeds, *crashSeed)
	} else {
		for s := 1; s <= *crashSeeds; s++ {
			seeds = append(seeds, uint64(s))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { crashRun(t, seed) })
	}
}

func crashRun(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	kills := 2 + rng.IntN(2)
	s := testsink.New(t)
	cfg := writeConfig(t, durableConfig(t.TempDir(), s.Endpoint()))
	var target atomic.Value
	target.Store("")
	pool := startClients(t, fmt.Sprintf("crash%d", seed), 4, 10, func() string { return target.Load().(string) })

	var snapshots []map[string]int // the sink's records after each kill
	for k := range kills {
		p := startFaults(t, cfg, "g/p/in")
		target.Store(p.grpc["g/p/in"])
		pool.waitOK(t, pool.ok.Load()+5, fmt.Sprintf("requests answered OK by life %d", k))
		delay := time.Duration(rng.IntN(300)) * time.Millisecond
		time.Sleep(delay) // the random moment of the kill: the seed's choice, not a synchronisation
		target.Store("")
		p.kill(t)
		s.Close() // drop what the dead process sent and the sink did not read yet
		snapshots = append(snapshots, s.Counts())
		must(t, s.Restart())
		t.Logf("life %d: SIGKILL after %s more; clients so far %d OK, %d failed; sink %s", k, delay, pool.ok.Load(), pool.failed.Load(), s.Stats())
	}

	// The last life: clients send a little more, then it drains.
	p := startFaults(t, cfg, "g/p/in")
	target.Store(p.grpc["g/p/in"])
	pool.waitOK(t, pool.ok.Load()+20, "requests answered OK after the last restart")
	rs := pool.Stop()
	tl := tallyOf(rs)
	requireAtSinks(t, tl.okKeys, s)
	sum := p.terminate(t)["g/p"]

	final := s.Counts()
	// redelivered[k]: items the sink had before kill k and got again after.
	redelivered := make([]int, len(snapshots))
	for k, snap := range snapshots {
		after := final
		if k+1 < len(snapshots) {
			after = snapshots[k+1]
		}
		for key, n := range snap {
			if after[key] > n {
				redelivered[k]++
			}
		}
	}
	t.Logf("seed %d: %d kills; clients: %s; sink: %s; items delivered again after each kill: %v; last life's summary: %s",
		seed, kills, tl, s.Stats(), redelivered, sum)
	var over []string
	for key, n := range final {
		lives := 1
		for _, snap := range snapshots {
			if snap[key] > 0 {
				lives++
			}
		}
		if n > lives {
			over = append(over, fmt.Sprintf("%s: accepted %d times, but only %d process lives had it after its first delivery", key, n, lives))
		}
	}
	if len(over) > 0 {
		t.Errorf("seed %d: %d items delivered more often than the crashes explain, e.g. %s", seed, len(over), over[0])
	}
	for code, n := range tl.byCode {
		if code == codes.DeadlineExceeded {
			t.Errorf("seed %d: %d requests got no answer within %s", seed, n, callTimeout)
		}
	}
}

// TestFaultSinkOutageBehindDurableBuffer: receiver:otlp →
// processor:durable_buffer → exporter:otlp_grpc → sink. The sink goes
// away while clients send: they keep getting OK (the data is on disk);
// when the sink comes back on the same port it receives every item
// answered OK, and the process drains cleanly.
func TestFaultSinkOutageBehindDurableBuffer(t *testing.T) {
	requireComponent(t, "processor:durable_buffer")
	s := testsink.New(t)
	p := startFaults(t, writeConfig(t, durableConfig(t.TempDir(), s.Endpoint())), "g/p/in")
	in := p.grpc["g/p/in"]
	pool := startClients(t, "outage", 4, 10, func() string { return in })
	must(t, s.WaitItems(100, faultWait))
	s.Close()
	okAtClose := pool.ok.Load()
	pool.waitOK(t, okAtClose+100, "100 requests answered OK with the sink down")
	rs := pool.Stop()
	must(t, s.Restart())

	tl := tallyOf(rs)
	if tl.failed != 0 {
		t.Errorf("%d requests failed %v while the buffer was healthy and only the sink was down", tl.failed, tl.byCode)
	}
	requireAtSinks(t, tl.okKeys, s)
	p.requireAlive(t)
	sum := p.terminate(t)["g/p"]
	t.Logf("clients: %s (%d OK after the sink went down); sink: %s; summary: %s", tl, int64(tl.okReqs)-okAtClose, s.Stats(), sum)
}
