package fanout_test

import (
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/nodetest"
)

// R1: an ack handled after the deadline passed (the engine delivers queued
// control before due wakeups) is taken as success instead of a timeout.
func TestRegressionAckAfterDeadlineBeforeWakeup(t *testing.T) {
	f := newFixture(t, cfgFallback)
	id := f.send()
	p := f.one("primary")
	f.Ack(f.one("analytics"))
	f.Clock.Set(nodetest.Start.Add(6 * time.Second)) // 1s past primary's 5s deadline; wakeup not yet delivered
	f.Ack(p)
	if len(f.Sent("backup")) == 0 {
		up := f.TakeUpstream()
		t.Fatalf("ack 1s after the deadline accepted as success: backup never sent, upstream=%v (id %d); timed_out=%v late=%v",
			up, id, f.metric("timed_out_total", "destination", "primary"), f.metric("late_answers_total", "destination", "primary"))
	}
}

// R2: a fallback needed after the (graceful) Shutdown is still sent: the
// outputs stay open while requests are tracked.
func TestRegressionShutdownFallbackStillSent(t *testing.T) {
	f := newFixture(t, cfgFallback)
	id := f.send()
	f.Ack(f.one("analytics"))
	p := f.one("primary")
	f.Shutdown(nodetest.Start.Add(time.Minute))
	f.Nack(p, transient("503"))
	f.Ack(f.one("backup"))
	f.RequireAcked(id)
}

// R3: sequential/all: the primary acked, healthy destinations remain; a
// graceful shutdown nacks the input (route_closed) although nothing failed.
func TestRegressionSequentialGracefulShutdownNacksHealthyInput(t *testing.T) {
	f := newFixture(t, cfgSeqAll)
	id := f.send()
	p := f.one("primary")
	f.Shutdown(nodetest.Start.Add(time.Minute))
	f.Ack(p)
	up := f.TakeUpstream()
	if len(up) == 1 && up[0].Kind.String() == "nack" {
		t.Fatalf("input %d nacked at graceful shutdown although every destination was healthy: %v", id, up[0].Nack)
	}
}

// R4: pipeline copies share series (ENGINE.md "Pipeline copies"); the
// active_requests gauge is Set per copy, so the last writer wins.
func TestRegressionActiveGaugeAcrossCopies(t *testing.T) {
	a := newFixture(t, cfgSlim)
	b := newFixture(t, cfgSlim, nodetest.WithRegistry(a.reg))
	a.send()
	a.send()
	b.send()
	if got := a.metric("active_requests"); got != 3 {
		t.Fatalf("active_requests = %v with 2+1 requests tracked by two copies, want 3", got)
	}
}
