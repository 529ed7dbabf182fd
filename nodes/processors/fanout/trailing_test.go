package fanout_test

import (
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

// cfgBestEffort is the full path (the primary has a timeout) with a
// best-effort destination that has none: the shape of the reliability
// issue.
const cfgBestEffort = `
destinations:
  - { port: primary, primary: true, timeout: 5s }
  - { port: analytics }`

func bestEffort(t *testing.T, cfg string, opts ...nodetest.Option) *fixture {
	t.Helper()
	return newFixture(t, cfg+cfgBestEffort, append(opts, nodetest.WithOutputs("primary", "analytics"))...)
}

// Defect 1: an input answered upstream while a best-effort copy is still
// outstanding no longer counts toward max_inflight, so a slow best-effort
// destination cannot throttle intake. Its copy is still tracked (the
// trail), and its outcome still counted.
func TestAnsweredInputLeavesMaxInflight(t *testing.T) {
	f := bestEffort(t, "max_inflight: 2\n")
	var slow []*pdata.Message // analytics never answers while inputs flow
	for range 10 {
		id := f.send()
		if f.Queued() != 0 {
			t.Fatalf("input %d waits at the gate: answered inputs still count toward max_inflight", id)
		}
		f.Ack(f.one("primary"))
		f.RequireAcked(id)
		slow = append(slow, f.one("analytics"))
	}
	f.requireMetric(0, "active_requests")
	f.requireMetric(10, "trailing_requests")
	f.requireMetric(0, "throttle_episodes_total")
	for _, c := range slow {
		f.Ack(c)
	}
	f.quiet()
	f.requireMetric(10, "acked_total", "destination", "analytics")
	f.requireMetric(0, "late_answers_total", "destination", "analytics")
	f.requireMetric(0, "trailing_requests")

	// Unanswered inputs still count.
	f.send()
	f.send()
	f.send()
	if f.Queued() != 1 {
		t.Fatalf("queued %d: the third unanswered input must wait at the gate", f.Queued())
	}
	f.requireMetric(1, "throttled")
}

// Defect 1, memory: the answered inputs still tracked are bounded by
// max_trailing; beyond it the oldest is dropped, its copies in flight are
// no longer awaited (abandoned_total) and their outcomes count as late.
func TestTrailingBoundDropsTheOldest(t *testing.T) {
	f := bestEffort(t, "max_trailing: 2\n")
	var slow []*pdata.Message
	for range 3 {
		id := f.send()
		f.Ack(f.one("primary"))
		f.RequireAcked(id)
		slow = append(slow, f.one("analytics"))
	}
	f.requireMetric(2, "trailing_requests")
	f.requireMetric(2, "max_trailing")
	f.requireMetric(1, "abandoned_total", "destination", "analytics", "reason", "trailing_limit")
	for _, c := range slow {
		f.Ack(c)
	}
	f.quiet()
	f.requireMetric(1, "late_answers_total", "destination", "analytics") // the oldest's
	f.requireMetric(2, "acked_total", "destination", "analytics")
	f.requireMetric(0, "trailing_requests")
}

// With max_trailing 0 an input is forgotten once answered: in sequential
// mode the destinations after the answer are skipped, not sent.
func TestTrailingZeroForgetsAtTheAnswer(t *testing.T) {
	f := newFixture(t, "max_trailing: 0\n"+cfgSeqPrimary)
	id := f.send()
	f.Ack(f.one("primary"))
	f.RequireAcked(id)
	f.none("backup", "analytics")
	f.requireMetric(1, "skipped_total", "destination", "backup", "reason", "trailing_limit")
	f.requireMetric(1, "skipped_total", "destination", "analytics", "reason", "trailing_limit")
	f.requireMetric(0, "trailing_requests")
	if f.Pending() != 0 || f.Wakeups() != 0 {
		t.Fatalf("pending %d, wakeups %d", f.Pending(), f.Wakeups())
	}
}

// Defect 2: at Shutdown, best-effort copies of answered inputs do not
// hold the drain: the answered inputs are dropped at once (abandoned,
// counted), while an input still owed keeps the outputs open; once it is
// answered nothing holds the node.
func TestShutdownBestEffortCopiesDoNotHoldTheDrain(t *testing.T) {
	f := bestEffort(t, "")
	id1 := f.send()
	f.Ack(f.one("primary"))
	f.RequireAcked(id1)
	a1 := f.one("analytics") // outstanding, its input answered
	id2 := f.send()
	p2, a2 := f.one("primary"), f.one("analytics")

	f.Shutdown(deadline)
	f.requireMetric(1, "abandoned_total", "destination", "analytics", "reason", "shutdown")
	if f.Pending() != 1 || f.OutputsClosed() {
		t.Fatalf("pending %d, outputs closed %v: input 2 is still owed, the outputs must stay open", f.Pending(), f.OutputsClosed())
	}
	f.Ack(p2)
	f.RequireAcked(id2)
	if f.Pending() != 0 || !f.OutputsClosed() {
		t.Fatalf("pending %d, outputs closed %v: nothing is owed, the drain must not wait for analytics", f.Pending(), f.OutputsClosed())
	}
	f.requireMetric(2, "abandoned_total", "destination", "analytics", "reason", "shutdown")
	f.requireMetric(0, "trailing_requests")
	f.Ack(a1)
	f.Nack(a2, transient("late"))
	f.quiet()
	f.requireMetric(2, "late_answers_total", "destination", "analytics")
	f.StopDownstream()
	if !f.Done() {
		t.Fatal("the node is not done")
	}
}

// Defect 2, copies waiting for room: at Shutdown every waiting copy gets
// one more try; what is left and no unanswered input needs is dropped
// (skipped, reason shutdown), so a stuck best-effort output does not hold
// the drain. A copy an unanswered input needs keeps waiting and is
// retried by the wakeup during the drain, without blocking the node.
func TestShutdownWaitingCopies(t *testing.T) {
	t.Run("slim: best-effort copies dropped, the primary's retried", func(t *testing.T) {
		f := newFixture(t, cfgSlim, nodetest.WithPortCapacity(1))
		id1, id2 := f.send(), f.send() // the second's copies all wait
		f.Shutdown(deadline)           // no room anywhere: one try fails
		f.requireMetric(1, "skipped_total", "destination", "backup", "reason", "shutdown")
		f.requireMetric(1, "skipped_total", "destination", "analytics", "reason", "shutdown")
		f.requireMetric(0, "queued", "destination", "analytics")
		f.requireMetric(1, "queued", "destination", "primary")
		if f.Pending() != 3 || f.OutputsClosed() {
			t.Fatalf("pending %d, outputs closed %v: two inputs owed and the primary copy waiting", f.Pending(), f.OutputsClosed())
		}
		p1 := f.one("primary") // room again on primary
		f.Advance(backlogRetryMin)
		p2 := f.one("primary") // sent by the retry wakeup during the drain
		f.Ack(p1)
		f.Ack(p2)
		f.RequireAcked(id1, id2)
		if f.Pending() != 0 || !f.OutputsClosed() {
			t.Fatalf("pending %d, outputs closed %v", f.Pending(), f.OutputsClosed())
		}
	})
	t.Run("full: answered inputs dropped with their waiting copies", func(t *testing.T) {
		f := bestEffort(t, "", nodetest.WithPortCapacity(1))
		id1, id2 := f.send(), f.send() // the second's copies wait
		f.Ack(f.one("primary"))        // the ack retries the backlog: p2 goes out
		f.RequireAcked(id1)
		f.Ack(f.one("primary"))
		f.RequireAcked(id2)
		f.requireMetric(2, "trailing_requests")
		f.Shutdown(deadline)
		if f.Pending() != 0 || !f.OutputsClosed() {
			t.Fatalf("pending %d, outputs closed %v: nothing is owed", f.Pending(), f.OutputsClosed())
		}
		f.requireMetric(1, "abandoned_total", "destination", "analytics", "reason", "shutdown") // input 1's, sent
		f.requireMetric(1, "skipped_total", "destination", "analytics", "reason", "shutdown")   // input 2's, never sent
		f.requireMetric(0, "queued", "destination", "analytics")
		f.requireMetric(0, "trailing_requests")
	})
}

// The forced Shutdown counts every copy in flight as abandoned, on both
// tracked paths, and nacks what is owed.
func TestForcedShutdownCountsAbandonedCopies(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{{"slim", cfgSlim}, {"full", cfgFallback}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			id := f.send()
			f.ForceShutdown()
			if o := f.RequireNacked(id); o[0].Nack.Cause != pdata.CauseNodeShutdown {
				t.Fatalf("nack %v", o[0].Nack)
			}
			f.requireMetric(1, "abandoned_total", "destination", "primary", "reason", "shutdown")
			f.requireMetric(0, "active_requests")
		})
	}
}

// backlogRetryMin mirrors the package's first retry delay of a full
// output (1ms).
const backlogRetryMin = time.Millisecond
