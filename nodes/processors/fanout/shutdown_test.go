package fanout_test

import (
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

var deadline = nodetest.Start.Add(time.Minute)

func TestShutdownNacksEveryTrackedRequest(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"slim", cfgSlim}, {"full", cfgFallback}, {"sequential", cfgSeqAll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			id1, id2, id3 := f.send(), f.send(), f.send()
			f.Shutdown(deadline)
			if f.Pending() != 3 {
				t.Fatalf("pending %d after Shutdown, want the 3 tracked requests", f.Pending())
			}
			// The drain keeps resolving from arriving outcomes.
			ps := f.RequireSent("primary", 3)
			f.Ack(ps[0])
			if tc.name == "sequential" {
				// The outputs stay open while requests are held: the
				// next destinations are still sent.
				f.Ack(f.one("backup"))
				f.Ack(f.one("analytics"))
			}
			f.RequireAcked(id1)
			f.ForceShutdown()
			for _, o := range f.RequireNacked(id2, id3) {
				if o.Nack.Cause != pdata.CauseNodeShutdown || o.Nack.Permanent {
					t.Fatalf("nack %v: want transient node_shutdown", o.Nack)
				}
			}
			if f.Pending() != 0 {
				t.Fatalf("pending %d after the forced shutdown", f.Pending())
			}
			f.requireMetric(0, "active_requests")
			// Outcomes after the forced shutdown change nothing upstream.
			f.Ack(ps[1])
			f.Nack(ps[2], transient("late"))
			f.quiet()
		})
	}
}

func TestShutdownDoesNotAnswerTwice(t *testing.T) {
	// Upstream already acked (fix 2), the request still tracked: neither
	// Shutdown nor the forced shutdown may nack it. At Shutdown it is
	// dropped: nothing is owed, so it does not hold the drain.
	f := newFixture(t, cfgSeqPrimary)
	id := f.send()
	f.Ack(f.one("primary"))
	f.RequireAcked(id)
	b := f.one("backup")
	f.Shutdown(deadline)
	if f.Pending() != 0 || !f.OutputsClosed() {
		t.Fatalf("pending %d, outputs closed %v: an answered input must not hold the drain", f.Pending(), f.OutputsClosed())
	}
	f.ForceShutdown()
	f.quiet()
	f.requireMetric(1, "abandoned_total", "destination", "backup", "reason", "shutdown")
	f.requireMetric(1, "skipped_total", "destination", "analytics", "reason", "shutdown")
	f.Ack(b) // late: counted, ignored
	f.quiet()
	f.requireMetric(1, "late_answers_total", "destination", "backup")
}

func TestShutdownWithBacklog(t *testing.T) {
	t.Run("Shutdown sends the waiting copies", func(t *testing.T) {
		f := newFixture(t, cfgSlim, nodetest.WithPortCapacity(1))
		id1, id2 := f.send(), f.send()
		f.requireMetric(1, "queued", "destination", "primary")
		first := map[string]*pdata.Message{}
		for _, p := range ports3 {
			first[p] = f.one(p) // room again
		}
		f.Shutdown(deadline)
		second := f.one("primary")
		f.one("backup")
		f.one("analytics")
		if f.Pending() != 2 {
			t.Fatalf("pending %d: two requests, nothing waiting", f.Pending())
		}
		f.Ack(first["primary"])
		f.Ack(second)
		f.RequireAcked(id1, id2)
		if f.Pending() != 0 {
			t.Fatalf("pending %d", f.Pending())
		}
	})
	t.Run("forced shutdown counts the copies never sent", func(t *testing.T) {
		f := newFixture(t, cfgFallback, nodetest.WithPortCapacity(1))
		id1, id2 := f.send(), f.send()
		f.ForceShutdown()
		f.RequireNacked(id1, id2)
		f.requireMetric(1, "skipped_total", "destination", "primary", "reason", "shutdown")
		f.requireMetric(1, "skipped_total", "destination", "analytics", "reason", "shutdown")
		f.requireMetric(2, "skipped_total", "destination", "backup", "reason", "shutdown")
		f.requireMetric(0, "queued", "destination", "primary")
		if f.Pending() != 0 {
			t.Fatalf("pending %d", f.Pending())
		}
	})
}

func TestTimeoutsDuringDrain(t *testing.T) {
	// While the node holds requests after Shutdown its wakeups still fire:
	// timeouts are exact during a drain too.
	f := newFixture(t, `
await_ack: all
destinations: [{port: primary, timeout: 5s}, {port: backup}]`, nodetest.WithOutputs("primary", "backup"))
	id1 := f.send()
	f.Advance(time.Second)
	id2 := f.send()
	f.Shutdown(deadline)
	f.Advance(4 * time.Second) // the first primary's deadline, exactly
	if o := f.RequireNacked(id1); o[0].Nack.Cause != pdata.CauseTimeout {
		t.Fatalf("nack %v, want a timeout", o[0].Nack)
	}
	w, ok := f.NextWakeup()
	t.Logf("pending %d next wakeup %v %v closed %v", f.Pending(), w.Sub(nodetest.Start), ok, f.OutputsClosed())
	f.Advance(time.Second) // the second's
	if o := f.RequireNacked(id2); o[0].Nack.Cause != pdata.CauseTimeout {
		t.Fatalf("nack %v, want a timeout", o[0].Nack)
	}
	bs := f.RequireSent("backup", 2)
	f.Ack(bs[0])
	f.Ack(bs[1])
	f.quiet()
	if f.Pending() != 0 {
		t.Fatalf("pending %d", f.Pending())
	}
}
