package retry_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

// Defect 4: the node parked at most the engine's RequeueLater capacity
// (channel_capacity.pdata, 128) and nacked every later transient failure
// with cause capacity. It now parks in its own queue: 300 simultaneous
// transient failures are all retried, none is refused.
func TestTransientFailuresBeyondTheResumeCapacityAreRetried(t *testing.T) {
	const n = 300
	h, reg := newHarness(t, cfgExact, nodetest.WithResumeCapacity(128))
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = h.SendPData(logs())
	}
	for _, m := range h.RequireSent(port, n) {
		h.Nack(m, transient)
	}
	h.RequireAcked() // nothing answered: every one is parked
	requireMetrics(t, reg, map[string]float64{"parked": n, "in_flight": 0})
	if h.Pending() != n || h.Resumes() != 0 || h.Wakeups() != 1 {
		t.Fatalf("pending %d, resumes %d, wakeups %d: want %d parked in the node under one wakeup", h.Pending(), h.Resumes(), h.Wakeups(), n)
	}
	h.Advance(time.Second)
	for _, m := range h.RequireSent(port, n) {
		h.Ack(m)
	}
	h.RequireAcked(ids...)
	requireMetrics(t, reg, map[string]float64{"parked": 0, "recovered_total": n, "resumed_total": n})
}

// Defect 4, the bound: max_parked limits the messages admitted at once
// (in flight plus parked), so that every one of them can be parked. At the
// bound intake pauses (the gate): the next input waits upstream, it is
// never nacked.
func TestMaxParkedPausesIntake(t *testing.T) {
	h, reg := newHarness(t, cfgExact+"max_parked: 2\n")
	id1, id2, id3 := h.SendPData(logs()), h.SendPData(logs()), h.SendPData(logs())
	if h.Queued() != 1 {
		t.Fatalf("queued %d: the third input must wait at the gate", h.Queued())
	}
	requireMetrics(t, reg, map[string]float64{"throttled": 1, "throttle_episodes_total": 1, "max_parked": 2})
	for _, m := range h.RequireSent(port, 2) {
		h.Nack(m, transient) // both parked: no room is ever missing
	}
	h.RequireAcked()
	if h.Queued() != 1 || h.Pending() != 2 {
		t.Fatalf("queued %d, pending %d: two parked, the third still waits", h.Queued(), h.Pending())
	}
	h.Advance(time.Second)
	retried := h.RequireSent(port, 2)
	h.Ack(retried[0])                  // room: the third goes in
	third := h.RequireSent(port, 1)[0] // and fills the bound again
	requireMetrics(t, reg, map[string]float64{"throttled": 1, "throttle_episodes_total": 2})
	h.Ack(retried[1])
	h.Ack(third)
	h.RequireAcked(id1, id2, id3)
	requireMetrics(t, reg, map[string]float64{"throttled": 0, "parked": 0, "gave_up_total reason=shutdown": 0})
}

// At Shutdown (the input drained) parked messages keep their schedule
// while it falls before the deadline: the node stays pending, its outputs
// open and its wakeup live, so a drain still retries.
func TestShutdownRetriesBeforeTheDeadline(t *testing.T) {
	h, reg := newHarness(t, cfgExact)
	id := h.SendPData(logs())
	h.Nack(h.RequireSent(port, 1)[0], transient) // retry at 1s
	h.Shutdown(h.Clock.Now().Add(30 * time.Second))
	h.RequireSent(port, 0) // not sent early: the backoff holds
	if h.Pending() != 1 || h.OutputsClosed() {
		t.Fatalf("pending %d, outputs closed %v: the parked message holds the drain", h.Pending(), h.OutputsClosed())
	}
	h.Advance(time.Second)
	m := h.RequireSent(port, 1)[0]
	h.Nack(m, transient) // during the drain: retry 2 at 1s+2s, before the deadline
	h.Advance(2 * time.Second)
	h.Ack(h.RequireSent(port, 1)[0])
	h.RequireAcked(id)
	if h.Pending() != 0 || !h.OutputsClosed() {
		t.Fatalf("pending %d, outputs closed %v", h.Pending(), h.OutputsClosed())
	}
	requireMetrics(t, reg, map[string]float64{"recovered_total": 1, "resumed_total": 2, "gave_up_total reason=shutdown": 0})
}

// A retry that would come at or after the shutdown deadline cannot happen
// (the forced Shutdown comes first): it is answered at once, cause
// node_shutdown, so the drain does not wait for it.
func TestShutdownAnswersRetriesPastTheDeadline(t *testing.T) {
	t.Run("parked when Shutdown comes", func(t *testing.T) {
		h, reg := newHarness(t, cfgExact)
		early, late := h.SendPData(logs()), h.SendPData(logs())
		sent := h.RequireSent(port, 2)
		h.Nack(sent[0], transient) // retry at 1s
		h.Advance(500 * time.Millisecond)
		h.Nack(sent[1], transient) // retry at 1.5s
		h.Shutdown(h.Clock.Now().Add(time.Second))
		got := h.RequireNacked(late)[0].Nack
		want := pdata.Nack{
			Reason: "retry: shutting down, not retried after 1 attempt over 500ms (the next retry, in 1s, would come after the shutdown deadline): 503 unavailable",
			Cause:  pdata.CauseNodeShutdown,
		}
		if got != want {
			t.Fatalf("nack %#v\nwant %#v", got, want)
		}
		h.Advance(500 * time.Millisecond) // the early one is still retried
		h.Ack(h.RequireSent(port, 1)[0])
		h.RequireAcked(early)
		requireMetrics(t, reg, map[string]float64{"gave_up_total reason=shutdown": 1, "parked": 0})
		if h.Pending() != 0 || !h.OutputsClosed() {
			t.Fatalf("pending %d, outputs closed %v", h.Pending(), h.OutputsClosed())
		}
	})
	t.Run("failing during the drain", func(t *testing.T) {
		h, _ := newHarness(t, cfgExact)
		id := h.SendPData(logs())
		m := h.RequireSent(port, 1)[0]
		h.Shutdown(h.Clock.Now().Add(3 * time.Second))
		h.Nack(m, transient) // retry 1 at 1s: before the deadline
		h.Advance(time.Second)
		h.Nack(h.RequireSent(port, 1)[0], transient) // retry 2 would be at 3s: the deadline
		got := h.RequireNacked(id)[0].Nack
		if got.Cause != pdata.CauseNodeShutdown || got.Permanent ||
			got.Reason != "retry: shutting down, not retried after 2 attempts over 1s (the next retry, in 2s, would come after the shutdown deadline): 503 unavailable" {
			t.Fatalf("nack %#v", got)
		}
		if h.Pending() != 0 || !h.OutputsClosed() {
			t.Fatalf("pending %d, outputs closed %v", h.Pending(), h.OutputsClosed())
		}
	})
}

// Every input gets exactly one answer when the deadline finds it parked,
// in flight, or failing after the forced Shutdown.
func TestForcedShutdownAnswersEveryParkedMessage(t *testing.T) {
	h, reg := newHarness(t, cfgExact)
	parked, inFlight := h.SendPData(logs()), h.SendPData(logs())
	sent := h.RequireSent(port, 2)
	h.Nack(sent[0], transient)
	h.Shutdown(h.Clock.Now().Add(time.Minute))
	h.ForceShutdown()
	got := h.RequireNacked(parked)[0].Nack
	want := pdata.Nack{
		Reason: "retry: shutdown deadline reached while waiting for retry 1, after 1 attempt over 0s: 503 unavailable",
		Cause:  pdata.CauseNodeShutdown,
	}
	if got != want {
		t.Fatalf("nack %#v\nwant %#v", got, want)
	}
	if h.Pending() != 1 {
		t.Fatalf("pending %d: the message in flight is still downstream's", h.Pending())
	}
	h.Nack(sent[1], transient) // after the deadline: no retry
	if o := h.RequireNacked(inFlight)[0].Nack; o.Cause != pdata.CauseNodeShutdown || !strings.HasPrefix(o.Reason, "retry: shutting down, not retried after 1 attempt") {
		t.Fatalf("nack %#v", o)
	}
	requireMetrics(t, reg, map[string]float64{"gave_up_total reason=shutdown": 2, "parked": 0, "in_flight": 0})
	if h.Pending() != 0 || h.Wakeups() != 0 {
		t.Fatalf("pending %d, wakeups %d", h.Pending(), h.Wakeups())
	}
}
