package durablebuffer_test

import (
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/nodes/processors/durablebuffer"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
	"github.com/ackflow/ackflow/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const port = "default"

var (
	transient = pdata.Nack{Reason: "503 unavailable"}
	permanent = pdata.Nack{Reason: "400 bad data", Permanent: true}
)

// fixture is a buffer under the nodetest harness, on a directory of its own.
type fixture struct {
	*nodetest.Harness
	t   *testing.T
	dir string
	reg *telemetry.Registry
}

// cfg is the YAML config block for dir with extra keys; durability write
// makes commits complete before Commit returns, so tests need no waiting.
func cfg(dir, extra string) string {
	return fmt.Sprintf("path: %s\ndurability: write\n%s", dir, extra)
}

func newFixture(t *testing.T, dir, extra string) *fixture {
	t.Helper()
	reg := telemetry.NewRegistry()
	h := nodetest.New(t, durablebuffer.NewFactory(), cfg(dir, extra), nodetest.WithRegistry(reg))
	f := &fixture{Harness: h, t: t, dir: dir, reg: reg}
	t.Cleanup(func() {
		if !h.OutputsClosed() {
			h.ForceShutdown()
		}
	})
	return f
}

func logs(n int) *pdata.Message { return pdatatest.Msg(pdatatest.Logs(n)) }

func (f *fixture) metric(name string, labels ...string) float64 {
	f.t.Helper()
	want := telemetry.Labels(labels...)
	for _, s := range f.reg.Snapshot() {
		if s.Name != "ackflow_processor_durable_buffer_"+name {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && slices.Contains(s.Labels, w)
		}
		if ok {
			return s.Value
		}
	}
	f.t.Fatalf("no series %s%v", name, want)
	return 0
}

func TestPersistsThenAcksAndDelivers(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	id := f.SendPData(logs(3))
	f.RequireAcked(id) // on disk: the sender is done
	sent := f.RequireSent(port, 1)
	if sent[0].Items() != 3 {
		t.Fatalf("delivered %d items, want 3", sent[0].Items())
	}
	if got := f.metric("queued_items", "signal", "logs"); got != 3 {
		t.Fatalf("queued = %v before the downstream ack, want 3", got)
	}
	f.Ack(sent[0])
	if got := f.metric("queued_items", "signal", "logs"); got != 0 {
		t.Fatalf("queued = %v after the downstream ack, want 0", got)
	}
	if got := f.metric("acked_items_total", "signal", "logs"); got != 3 {
		t.Fatalf("acked_items_total = %v, want 3", got)
	}
}

func TestFsyncAcksUpstreamOnlyAfterTheCommit(t *testing.T) {
	dir := t.TempDir()
	h := nodetest.New(t, durablebuffer.NewFactory(), fmt.Sprintf("path: %s\ndurability: fsync", dir))
	t.Cleanup(h.ForceShutdown)
	id := h.SendPData(logs(1))
	for h.Upstream() == nil {
		if h.WaitAsync(10*time.Second) == 0 {
			t.Fatal("no commit within 10s")
		}
	}
	h.RequireAcked(id)
}

func TestPermanentNackIsDroppedAndNeverRetried(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	f.SendPData(logs(2))
	f.TakeUpstream()
	f.Nack(f.RequireSent(port, 1)[0], permanent)
	f.Advance(time.Hour)
	f.RequireSent(port, 0)
	if got := f.metric("lost_items_total", "reason", "permanent"); got != 2 {
		t.Fatalf("lost{permanent} = %v, want 2", got)
	}
	if got := f.Dropped()["permanent"]; got != 2 {
		t.Fatalf("engine dropped{permanent} = %d, want 2", got)
	}
}

func TestTransientNackRetriesWithBackoffAndJitter(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	f.SendPData(logs(1))
	f.SendPData(logs(1))
	f.TakeUpstream()
	sent := f.RequireSent(port, 2)
	f.Nack(sent[0], transient)
	f.Nack(sent[1], transient)
	if f.Wakeups() != 1 {
		t.Fatalf("live wakeups = %d for two retries, want 1 (one slot at the earliest)", f.Wakeups())
	}
	// The first wait is 1s scaled by a random factor in [0.5, 1.5).
	f.Advance(499 * time.Millisecond)
	f.RequireSent(port, 0)
	var at []time.Duration
	start := nodetest.Start
	for range 1000 {
		f.Advance(time.Millisecond)
		for range f.TakeSent(port) {
			at = append(at, f.Clock.Now().Sub(start))
		}
		if len(at) == 2 {
			break
		}
	}
	if len(at) != 2 {
		t.Fatalf("retried %d of 2 within 1.5s", len(at))
	}
	if at[0] == at[1] {
		t.Fatalf("both bundles retried at %s: nacked together, they must not retry together", at[0])
	}
	if got := f.metric("retries_scheduled_total"); got != 2 {
		t.Fatalf("retries_scheduled_total = %v, want 2", got)
	}
}

func TestBackoffGrowsToTheCap(t *testing.T) {
	f := newFixture(t, t.TempDir(), "retry_multiplier: 2\nmax_retry_interval: 4s")
	f.SendPData(logs(1))
	f.TakeUpstream()
	m := f.RequireSent(port, 1)[0]
	// Waits before jitter: 1s, 2s, 4s, 4s: each retry comes within
	// [0.5, 1.5) of it after the nack.
	for _, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		f.Nack(m, transient)
		nacked := f.Clock.Now()
		var got []*pdata.Message
		for len(got) == 0 && f.Clock.Now().Sub(nacked) < 2*base {
			f.Advance(10 * time.Millisecond)
			got = f.TakeSent(port)
		}
		wait := f.Clock.Now().Sub(nacked)
		if len(got) != 1 || wait < base/2 || wait > base*3/2+10*time.Millisecond {
			t.Fatalf("retry after %s (sent %d), want within [%s, %s)", wait, len(got), base/2, base*3/2)
		}
		m = got[0]
	}
}

func TestStaleWakeupIsIgnoredAndLosesNothing(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	f.SendPData(logs(1))
	f.TakeUpstream()
	f.Nack(f.RequireSent(port, 1)[0], transient)
	at, _ := f.NextWakeup()
	f.FireWakeup(0, at, 0) // an older arming's revision
	f.RequireSent(port, 0)
	if got := f.metric("stale_wakeups_total"); got != 1 {
		t.Fatalf("stale_wakeups_total = %v, want 1", got)
	}
	f.Advance(2 * time.Second)
	f.RequireSent(port, 1)
}

func TestNewBundlesFlowWhileOldOnesBackOff(t *testing.T) {
	f := newFixture(t, t.TempDir(), "max_in_flight: 3")
	for range 4 {
		f.SendPData(logs(1))
	}
	f.TakeUpstream()
	sent := f.RequireSent(port, 3) // the window is full
	f.Nack(sent[0], transient)     // backing off still counts in the window
	f.RequireSent(port, 0)
	f.Ack(sent[1]) // room: the fourth goes out while the first backs off
	f.RequireSent(port, 1)
}

func TestShutdownKeepsTheRestForTheNextRun(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, "max_in_flight: 2")
	for range 5 {
		f.SendPData(logs(1))
	}
	f.TakeUpstream()
	sent := f.RequireSent(port, 2)
	f.Ack(sent[0])
	sent = append(sent[1:], f.RequireSent(port, 1)...) // the window refills
	f.Shutdown(f.Clock.Now().Add(time.Minute))
	f.RequireSent(port, 0) // delivery stopped at Shutdown
	f.Ack(sent[0])
	if f.OutputsClosed() {
		t.Fatal("outputs closed with a bundle still awaiting its answer")
	}
	f.Ack(sent[1])
	if !f.OutputsClosed() {
		t.Fatalf("outputs open after every answer came back (state %s, pending %d)", f.State(), f.Pending())
	}

	next := newFixture(t, dir, "max_in_flight: 10")
	if got := next.metric("queued_items", "signal", "logs"); got != 2 {
		t.Fatalf("queued after restart = %v, want 2", got)
	}
	for _, m := range next.RequireSent(port, 2) {
		next.Ack(m)
	}
	next.Shutdown(next.Clock.Now().Add(time.Minute))
	again := newFixture(t, dir, "")
	again.RequireSent(port, 0) // delivered exactly once across the runs
}

func TestForcedShutdownRedeliversWhatWasInFlight(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, "")
	f.SendPData(logs(1))
	f.TakeUpstream()
	f.RequireSent(port, 1)
	f.ForceShutdown()
	next := newFixture(t, dir, "")
	next.RequireSent(port, 1) // at least once: in flight at the stop, sent again
}

func TestBackpressureAtTheSizeCap(t *testing.T) {
	f := newFixture(t, t.TempDir(), "retention_size_cap: 1MiB\nmax_in_flight: 1000000")
	for i := 0; f.Queued() == 0; i++ {
		if i > 10000 {
			t.Fatal("intake never paused below a 1 MiB cap")
		}
		f.SendPData(pdatatest.Msg(pdatatest.LogsPayload("t", 10, 0, 1000)))
	}
	if got := f.metric("throttled"); got != 1 {
		t.Fatalf("throttled = %v while paused, want 1", got)
	}
	// Delivering everything frees whole segments: intake resumes.
	for _, m := range f.TakeSent(port) {
		f.Ack(m)
	}
	f.Advance(time.Second)
	if f.Queued() != 0 {
		t.Fatalf("%d inputs still wait after the buffer was emptied", f.Queued())
	}
	if got := f.metric("lost_items_total", "reason", "drop_oldest"); got != 0 {
		t.Fatalf("backpressure lost %v items", got)
	}
}

func TestDropOldestMakesRoomAndCountsTheLoss(t *testing.T) {
	f := newFixture(t, t.TempDir(), "retention_size_cap: 1MiB\nsize_cap_policy: drop_oldest\nmax_in_flight: 1")
	for range 400 { // ~4 MiB through a 1 MiB cap, nothing delivered
		f.SendPData(pdatatest.Msg(pdatatest.LogsPayload("t", 10, 0, 1000)))
		f.Advance(100 * time.Millisecond)
	}
	if f.Queued() != 0 {
		t.Fatalf("%d inputs wait: drop_oldest must not pause intake", f.Queued())
	}
	lost := f.metric("lost_items_total", "reason", "drop_oldest")
	if lost == 0 {
		t.Fatal("nothing dropped past the cap")
	}
	if used, limit := f.metric("storage_bytes"), f.metric("storage_cap_bytes"); used > limit*1.25 {
		t.Fatalf("storage_bytes %v far above the cap %v", used, limit)
	}
	queued := f.metric("queued_items", "signal", "logs")
	if queued+lost != 4000 {
		t.Fatalf("queued %v + lost %v != 4000 items in", queued, lost)
	}
}

func TestMaxAgeExpiresOldSegments(t *testing.T) {
	f := newFixture(t, t.TempDir(), "max_age: 1m\nmax_in_flight: 1")
	f.SendPData(logs(4))
	f.TakeUpstream()
	f.RequireSent(port, 1)     // in flight: its segment is kept
	f.Advance(2 * time.Second) // seals the first segment by age
	f.SendPData(logs(4))
	f.SendPData(logs(4))
	f.TakeUpstream()
	f.Advance(2 * time.Second) // seals the second: the window is full, nothing of it was sent
	f.Advance(2 * time.Minute)
	if got := f.metric("lost_items_total", "reason", "expired"); got != 8 {
		t.Fatalf("lost{expired} = %v, want 8 (the second segment)", got)
	}
	if got := f.metric("queued_items", "signal", "logs"); got != 4 {
		t.Fatalf("queued = %v, want 4 (the bundle in flight)", got)
	}
}

func TestSecondOpenOfTheSameDirectoryIsRefused(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, "")
	n, err := nodetest.NodeConfig(durablebuffer.Type, cfg(dir, ""), []string{port})
	if err != nil {
		t.Fatal(err)
	}
	_, err = durablebuffer.NewFactory().NewProcessor(engine.NodeContext{Node: n, Pipeline: "test/main", Copies: 1, Clock: f.Clock, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second open: %v, want an error naming %s", err, dir)
	}
}

// TestMillionNacksInBoundedMemory plays a long outage: a backlog of
// bundles, every send nacked transiently until a million nacks, then the
// destination recovers. The window never holds more than max_in_flight
// bundles, the heap does not grow with the nacks, and every bundle is
// delivered exactly once afterwards.
func TestMillionNacksInBoundedMemory(t *testing.T) {
	const maxInFlight = 1000
	bundles, nacks := 100_000, 1_000_000
	if raceEnabled || testing.Short() {
		bundles = 20_000 // the race detector makes each op ~5× slower
	}
	f := newFixture(t, t.TempDir(), fmt.Sprintf("max_in_flight: %d\nmax_retry_interval: 2s\nretention_size_cap: 1GiB", maxInFlight))
	for range bundles {
		f.SendPData(logs(1))
	}
	f.TakeUpstream()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	nacked := 0
	for nacked < nacks {
		sent := f.TakeSent(port)
		if len(sent) > maxInFlight {
			t.Fatalf("%d bundles out at once, max_in_flight %d", len(sent), maxInFlight)
		}
		for _, m := range sent {
			f.Nack(m, transient)
		}
		nacked += len(sent)
		if got := f.metric("in_flight_bundles"); got > maxInFlight {
			t.Fatalf("window holds %v bundles, max_in_flight %d", got, maxInFlight)
		}
		f.Advance(3 * time.Second) // past every backoff (2s × 1.5)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Fatalf("heap in use grew by %d MiB over %d nacks", grew>>20, nacked)
	}

	delivered := 0
	for delivered < bundles {
		sent := f.TakeSent(port)
		if len(sent) == 0 {
			f.Advance(3 * time.Second)
			continue
		}
		for _, m := range sent {
			f.Ack(m)
		}
		delivered += len(sent)
	}
	f.Advance(10 * time.Second)
	if extra := len(f.TakeSent(port)); delivered != bundles || extra != 0 {
		t.Fatalf("delivered %d (+%d) of %d bundles", delivered, extra, bundles)
	}
	if got := f.metric("queued_items", "signal", "logs"); got != 0 {
		t.Fatalf("queued = %v after recovery, want 0", got)
	}
}
