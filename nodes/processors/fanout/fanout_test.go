package fanout_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
)

const (
	cfgSlim = `
destinations: [{port: primary}, {port: backup}, {port: analytics}]`
	cfgFallback = `
destinations:
  - { port: primary, primary: true, timeout: 5s }
  - { port: backup, fallback_for: primary, timeout: 10s }
  - { port: analytics }`
	cfgAll = `
await_ack: all
destinations: [{port: primary}, {port: backup}, {port: analytics}]`
	cfgSeqPrimary = `
mode: sequential
destinations: [{port: primary, primary: true}, {port: backup}, {port: analytics}]`
	cfgSeqAll = `
mode: sequential
await_ack: all
destinations: [{port: primary}, {port: backup}, {port: analytics}]`
)

func TestParallelNone(t *testing.T) {
	f := newFixture(t, "await_ack: none\nmax_inflight: 1\n"+cfgSlim)
	id1, id2 := f.send(), f.send() // max_inflight does not apply: nothing is tracked
	f.RequireAcked(id1, id2)
	for _, p := range ports3 {
		for _, c := range f.RequireSent(p, 2) {
			if c.Depth() != 0 {
				t.Fatalf("copy on %q has %d frames, want a detached copy", p, c.Depth())
			}
			f.Nack(c, transient("ignored")) // goes nowhere: fire and forget
		}
	}
	f.quiet()
	if f.Pending() != 0 || f.Wakeups() != 0 {
		t.Fatalf("pending %d, wakeups %d: fire-and-forget keeps nothing", f.Pending(), f.Wakeups())
	}
	f.requireMetric(2, "sent_total", "destination", "analytics")
	f.requireMetric(2, "upstream_acks_total")
	f.requireMetric(0, "active_requests")
}

func TestParallelPrimary(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"slim", cfgSlim},
		// A timeout on a non-primary destination selects the full path.
		{"full", `
destinations: [{port: primary}, {port: backup, timeout: 1h}, {port: analytics}]`},
	} {
		t.Run(tc.name+"/ack", func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			id := f.send()
			p, b, a := f.one("primary"), f.one("backup"), f.one("analytics")
			f.Ack(b)
			f.Nack(a, transient("analytics down"))
			f.quiet()
			f.Ack(p)
			f.RequireAcked(id)
			f.requireMetric(1, "acked_total", "destination", "backup")
			f.requireMetric(1, "nacked_total", "destination", "analytics")
			if f.Pending() != 0 {
				t.Fatalf("pending %d", f.Pending())
			}
		})
		t.Run(tc.name+"/nack", func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			id := f.send()
			p := f.one("primary")
			f.Nack(p, pdata.Nack{Reason: "refused", Permanent: true, Cause: pdata.CauseCapacity})
			n := f.nackOf(id)
			if !n.Permanent || n.Cause != pdata.CauseCapacity || !strings.Contains(n.Reason, `"primary"`) || !strings.Contains(n.Reason, "refused") {
				t.Fatalf("nack %v: want permanent, cause capacity, naming primary and the downstream reason", n)
			}
			f.Ack(f.one("backup"))
			f.Ack(f.one("analytics"))
			f.quiet()
		})
	}
}

func TestParallelAll(t *testing.T) {
	t.Run("acks when every destination acked", func(t *testing.T) {
		f := newFixture(t, cfgAll)
		id := f.send()
		p, b, a := f.one("primary"), f.one("backup"), f.one("analytics")
		f.Ack(a)
		f.Ack(p)
		f.quiet()
		f.Ack(b)
		f.RequireAcked(id)
	})
	t.Run("fails fast at the first nack", func(t *testing.T) {
		f := newFixture(t, cfgAll)
		id := f.send()
		p, b, a := f.one("primary"), f.one("backup"), f.one("analytics")
		f.Ack(p)
		f.Nack(b, pdata.Nack{Reason: "bad data", Permanent: true})
		n := f.nackOf(id)
		if !n.Permanent || !strings.Contains(n.Reason, `destination "backup"`) {
			t.Fatalf("nack %v", n)
		}
		// Answered: nothing is owed upstream, but the copy to analytics is
		// still tracked (the trail) so that its outcome is counted.
		if f.Pending() != 0 {
			t.Fatalf("pending %d: the input is answered, nothing is owed", f.Pending())
		}
		f.requireMetric(1, "trailing_requests")
		f.Ack(a)
		f.quiet()
		f.requireMetric(0, "trailing_requests")
		f.requireMetric(1, "acked_total", "destination", "analytics")
		f.requireMetric(0, "late_answers_total", "destination", "analytics")
	})
}

func TestSequential(t *testing.T) {
	t.Run("primary: B only after A resolved", func(t *testing.T) {
		f := newFixture(t, cfgSeqPrimary)
		id := f.send()
		p := f.one("primary")
		f.none("backup", "analytics")
		f.Ack(p)
		f.RequireAcked(id) // upstream answered when the primary chain resolved
		b := f.one("backup")
		f.none("analytics")
		f.Ack(b)
		a := f.one("analytics")
		f.Ack(a)
		f.quiet()
		if f.Pending() != 0 {
			t.Fatalf("pending %d", f.Pending())
		}
	})
	t.Run("all: acked after the last", func(t *testing.T) {
		f := newFixture(t, cfgSeqAll)
		id := f.send()
		for _, port := range ports3 {
			c := f.one(port)
			f.quiet()
			f.Ack(c)
		}
		f.RequireAcked(id)
	})
	t.Run("all: a failure stops the sequence", func(t *testing.T) {
		f := newFixture(t, cfgSeqAll)
		id := f.send()
		f.Ack(f.one("primary"))
		f.Nack(f.one("backup"), pdata.Nack{Reason: "full", Cause: pdata.CauseRouteFull})
		if n := f.nackOf(id); n.Cause != pdata.CauseRouteFull || n.Permanent {
			t.Fatalf("nack %v", n)
		}
		f.none("analytics")
		f.requireMetric(1, "skipped_total", "destination", "analytics", "reason", "request_failed")
		if f.Pending() != 0 {
			t.Fatalf("pending %d", f.Pending())
		}
	})
	t.Run("skips a fallback whose origin acked", func(t *testing.T) {
		f := newFixture(t, `
mode: sequential
await_ack: all
destinations: [{port: primary}, {port: backup, fallback_for: primary}, {port: analytics}]`)
		id := f.send()
		f.Ack(f.one("primary"))
		f.none("backup")
		f.Ack(f.one("analytics"))
		f.RequireAcked(id)
		f.none("backup")
		f.requireMetric(1, "skipped_total", "destination", "backup", "reason", "origin_acked")
	})
}

func TestFallbacks(t *testing.T) {
	t.Run("on nack", func(t *testing.T) {
		f := newFixture(t, cfgFallback)
		id := f.send()
		f.none("backup")
		f.Ack(f.one("analytics"))
		f.Nack(f.one("primary"), transient("503"))
		f.quiet()
		f.Ack(f.one("backup"))
		f.RequireAcked(id)
	})
	t.Run("on timeout, then ack", func(t *testing.T) {
		f := newFixture(t, cfgFallback)
		id := f.send()
		p := f.one("primary")
		f.Ack(f.one("analytics"))
		f.Advance(5*time.Second - time.Nanosecond)
		f.none("backup")
		f.Advance(time.Nanosecond) // exactly at the deadline
		b := f.one("backup")
		f.quiet()
		f.Ack(b)
		f.RequireAcked(id)
		f.requireMetric(1, "timed_out_total", "destination", "primary")
		f.Ack(p) // late: its request is gone
		f.quiet()
		f.requireMetric(1, "late_answers_total", "destination", "primary")
	})
	t.Run("chained", func(t *testing.T) {
		f := newFixture(t, `
destinations:
  - { port: primary }
  - { port: backup, fallback_for: primary }
  - { port: analytics, fallback_for: backup }`)
		id := f.send()
		f.Nack(f.one("primary"), transient("a"))
		f.none("analytics")
		f.Nack(f.one("backup"), transient("b"))
		f.quiet()
		f.Ack(f.one("analytics"))
		f.RequireAcked(id)
	})
	t.Run("fallback also fails", func(t *testing.T) {
		f := newFixture(t, cfgFallback)
		id := f.send()
		f.Ack(f.one("analytics"))
		f.Nack(f.one("primary"), transient("first"))
		f.Nack(f.one("backup"), pdata.Nack{Reason: "second", Permanent: true, Cause: pdata.CauseCapacity})
		n := f.nackOf(id)
		if !strings.Contains(n.Reason, `destination "backup" (fallback for "primary"): second`) || !n.Permanent || n.Cause != pdata.CauseCapacity {
			t.Fatalf("nack %v: want the fallback's failure", n)
		}
	})
	t.Run("fallback times out too", func(t *testing.T) {
		f := newFixture(t, cfgFallback)
		id := f.send()
		f.Ack(f.one("analytics"))
		f.Advance(5 * time.Second)
		f.one("backup")
		f.Advance(10 * time.Second)
		n := f.nackOf(id)
		if n.Cause != pdata.CauseTimeout || !strings.Contains(n.Reason, `"backup"`) || !strings.Contains(n.Reason, "10s") {
			t.Fatalf("nack %v", n)
		}
		if f.Wakeups() != 0 || f.Pending() != 0 {
			t.Fatalf("wakeups %d, pending %d", f.Wakeups(), f.Pending())
		}
	})
	t.Run("late ack after timeout is ignored", func(t *testing.T) {
		f := newFixture(t, cfgFallback)
		id := f.send()
		p := f.one("primary")
		f.Ack(f.one("analytics"))
		f.Advance(5 * time.Second)
		b := f.one("backup")
		f.Ack(p) // late: the primary timed out, the backup stands in
		f.quiet()
		if f.Pending() != 1 {
			t.Fatalf("pending %d", f.Pending())
		}
		f.requireMetric(1, "late_answers_total", "destination", "primary")
		f.requireMetric(0, "acked_total", "destination", "primary")
		f.Ack(b)
		f.RequireAcked(id)
	})
	t.Run("origin acks: fallback skipped", func(t *testing.T) {
		f := newFixture(t, cfgFallback)
		id := f.send()
		f.Ack(f.one("primary"))
		f.RequireAcked(id)
		f.Ack(f.one("analytics"))
		f.none("backup")
		f.requireMetric(1, "skipped_total", "destination", "backup", "reason", "origin_acked")
	})
	t.Run("non-primary fallback in primary mode", func(t *testing.T) {
		// The other chains are best-effort but run to the end, even after
		// upstream was answered.
		f := newFixture(t, `
destinations:
  - { port: primary }
  - { port: backup }
  - { port: analytics, fallback_for: backup }`)
		id := f.send()
		f.Ack(f.one("primary"))
		f.RequireAcked(id)
		f.Nack(f.one("backup"), transient("x"))
		f.Ack(f.one("analytics"))
		f.quiet()
		if f.Pending() != 0 {
			t.Fatalf("pending %d", f.Pending())
		}
	})
}

func TestNonPrimaryFailureDoesNotAffectPrimary(t *testing.T) {
	cfg := `
destinations:
  - { port: primary, primary: true }
  - { port: backup, timeout: 1s }
  - { port: analytics }`
	t.Run("nack", func(t *testing.T) {
		f := newFixture(t, cfg)
		id := f.send()
		p := f.one("primary")
		f.Nack(f.one("backup"), pdata.Nack{Reason: "x", Permanent: true})
		f.Nack(f.one("analytics"), transient("y"))
		f.quiet()
		f.Ack(p)
		f.RequireAcked(id)
	})
	t.Run("timeout", func(t *testing.T) {
		f := newFixture(t, cfg)
		id := f.send()
		p := f.one("primary")
		f.Ack(f.one("analytics"))
		f.Advance(time.Second)
		f.quiet()
		f.requireMetric(1, "timed_out_total", "destination", "backup")
		f.Ack(p)
		f.RequireAcked(id)
	})
}

func TestManyRequestsInterleaved(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"slim", cfgSlim}, {"full/all", cfgAll}, {"sequential/all", cfgSeqAll}, {"fallback", cfgFallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 50
			ids := make([]uint64, n)
			for i := range ids {
				ids[i] = f.send()
			}
			// Answer every copy in a random order, until nothing is sent.
			for {
				var copies []*pdata.Message
				for _, p := range ports3 {
					copies = append(copies, f.TakeSent(p)...)
				}
				if len(copies) == 0 {
					break
				}
				rng.Shuffle(len(copies), func(i, j int) { copies[i], copies[j] = copies[j], copies[i] })
				for _, c := range copies {
					f.Ack(c)
				}
			}
			f.RequireAcked(ids...) // each exactly once
			if f.Pending() != 0 {
				t.Fatalf("pending %d", f.Pending())
			}
		})
	}
}

// Upstream outcomes carry the sender's own frame: the harness records the
// id it put in each input's call data, so out-of-order answers must still
// name the right inputs.
func TestUpstreamOutcomesReachTheSender(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{{"slim", cfgSlim}, {"full", cfgFallback}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			id1, id2 := f.send(), f.send()
			ps := f.RequireSent("primary", 2)
			f.Nack(ps[1], transient("second"))
			if tc.name == "full" {
				f.Nack(f.one("backup"), transient("second again"))
			}
			f.Ack(ps[0])
			up := f.TakeUpstream()
			if len(up) != 2 || up[0].ID != id2 || up[0].Kind.String() != "nack" || up[1].ID != id1 || up[1].Kind.String() != "ack" {
				t.Fatalf("upstream %+v: want nack %d then ack %d", up, id2, id1)
			}
			for _, o := range up {
				if o.Msg.Depth() != 0 {
					t.Fatalf("outcome message still has %d frames", o.Msg.Depth())
				}
			}
		})
	}
}

func TestMaxInflight(t *testing.T) {
	for _, tc := range []struct{ name, cfg string }{
		{"slim", "max_inflight: 2\n" + cfgSlim},
		{"full", "max_inflight: 2\n" + cfgFallback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			id1, id2 := f.send(), f.send()
			id3 := f.send()
			if f.Queued() != 1 {
				t.Fatalf("queued %d: the third input must wait at the gate", f.Queued())
			}
			f.quiet() // no nack for the limit
			f.requireMetric(1, "throttled")
			f.requireMetric(1, "throttle_episodes_total")
			f.requireMetric(2, "active_requests")
			f.requireMetric(2, "max_inflight")
			// Answer every copy of the first input (sent first on each port).
			var rest []*pdata.Message
			for _, p := range ports3 {
				if s := f.TakeSent(p); len(s) > 0 {
					f.Ack(s[0])
					rest = append(rest, s[1:]...)
				}
			}
			f.RequireAcked(id1)
			if f.Queued() != 0 {
				t.Fatalf("queued %d after a slot freed", f.Queued())
			}
			f.requireMetric(1, "throttled") // at the limit again with the third
			f.requireMetric(2, "throttle_episodes_total")
			for _, c := range rest {
				f.Ack(c)
			}
			f.RequireAcked(id2)
			f.requireMetric(0, "throttled")
			for _, p := range ports3 {
				for _, c := range f.TakeSent(p) {
					f.Ack(c)
				}
			}
			f.RequireAcked(id3)
			f.requireMetric(0, "active_requests")
		})
	}
	t.Run("zero is accepted and ignored with await_ack none", func(t *testing.T) {
		f := newFixture(t, "await_ack: none\nmax_inflight: 0\n"+cfgSlim)
		ids := make([]uint64, 200)
		for i := range ids {
			ids[i] = f.send()
		}
		f.RequireAcked(ids...)
		if f.Queued() != 0 || f.Pending() != 0 {
			t.Fatalf("queued %d, pending %d", f.Queued(), f.Pending())
		}
		f.requireMetric(0, "throttle_episodes_total")
	})
}

func TestTimeoutWakeup(t *testing.T) {
	f := newFixture(t, `
await_ack: all
destinations: [{port: primary, timeout: 5s}, {port: backup, timeout: 3s}]`, nodetest.WithOutputs("primary", "backup"))
	if f.Wakeups() != 0 {
		t.Fatal("armed before any request")
	}
	id1 := f.send()
	at, ok := f.NextWakeup()
	if !ok || f.Wakeups() != 1 || !at.Equal(nodetest.Start.Add(3*time.Second)) {
		t.Fatalf("wakeup %v %v (%d live): want one, at the earliest deadline (backup, 3s)", at, ok, f.Wakeups())
	}
	f.Advance(time.Second)
	id2 := f.send()
	if at, _ := f.NextWakeup(); f.Wakeups() != 1 || !at.Equal(nodetest.Start.Add(3*time.Second)) {
		t.Fatalf("wakeup %v: one slot, still at the earliest", at)
	}
	b := f.RequireSent("backup", 2)
	f.Ack(b[0]) // the earliest deadline goes: re-aimed at the next one
	if at, _ := f.NextWakeup(); !at.Equal(nodetest.Start.Add(4 * time.Second)) {
		t.Fatalf("wakeup at %v, want start+4s (request 2's backup)", at)
	}
	f.Ack(b[1])
	if at, _ := f.NextWakeup(); !at.Equal(nodetest.Start.Add(5 * time.Second)) {
		t.Fatalf("wakeup at %v, want start+5s (request 1's primary)", at)
	}
	p := f.RequireSent("primary", 2)
	f.Advance(4 * time.Second) // to start+5s: request 1's primary times out
	if n := f.nackOf(id1); n.Cause != pdata.CauseTimeout {
		t.Fatalf("nack %v", n)
	}
	f.Ack(p[1])
	f.RequireAcked(id2)
	if f.Wakeups() != 0 {
		t.Fatalf("%d wakeups left with nothing pending", f.Wakeups())
	}
	f.Ack(p[0])
	f.requireMetric(1, "late_answers_total", "destination", "primary")
}

func TestBacklog(t *testing.T) {
	t.Run("full output: copies wait and keep order", func(t *testing.T) {
		f := newFixture(t, cfgSlim, nodetest.WithPortCapacity(1))
		id1, id2 := f.send(), f.send()
		f.requireMetric(1, "queued", "destination", "analytics")
		if f.Pending() != 2+3 {
			t.Fatalf("pending %d: 2 requests and 3 waiting copies", f.Pending())
		}
		p1 := f.one("primary") // room again on primary only
		f.Ack(p1)              // the ack also retries the backlog
		f.RequireAcked(id1)
		p2 := f.one("primary")
		f.Ack(p2)
		f.RequireAcked(id2)
		f.one("backup") // taken: room on backup; the retry wakeup sends the next
		f.Advance(time.Millisecond)
		f.one("backup")
		f.TakeSent("analytics")
		f.Advance(2 * time.Millisecond)
		f.one("analytics")
		f.requireMetric(0, "queued", "destination", "analytics")
		f.requireMetric(2, "sent_total", "destination", "analytics")
		if f.Pending() != 0 || f.Wakeups() != 0 {
			t.Fatalf("pending %d wakeups %d", f.Pending(), f.Wakeups())
		}
	})
	t.Run("dead destination with a timeout does not stall the others", func(t *testing.T) {
		f := newFixture(t, `
max_inflight: 100
destinations: [{port: primary}, {port: backup}, {port: analytics, timeout: 1s}]`, nodetest.WithPortCapacity(1))
		var ids []uint64
		for range 20 {
			ids = append(ids, f.send())
			f.Ack(f.one("primary"))
			f.Ack(f.one("backup"))
			f.Advance(100 * time.Millisecond)
		}
		f.Advance(time.Second)
		f.RequireAcked(ids...) // all 20 went through the healthy outputs
		f.requireMetric(1, "sent_total", "destination", "analytics")
		f.requireMetric(20, "timed_out_total", "destination", "analytics")
		if f.Pending() != 0 || f.Queued() != 0 {
			t.Fatalf("pending %d queued %d", f.Pending(), f.Queued())
		}
	})
}

func TestSendToClosedOutputFails(t *testing.T) {
	t.Run("sequential next after shutdown", func(t *testing.T) {
		// After Shutdown the node still holds the request, so its outputs
		// stay open: the next destination is still sent.
		f := newFixture(t, cfgSeqAll)
		id := f.send()
		p := f.one("primary")
		f.Shutdown(nodetest.Start.Add(time.Minute))
		f.Ack(p)
		f.Ack(f.one("backup"))
		f.Ack(f.one("analytics"))
		f.RequireAcked(id)
		if f.Pending() != 0 || !f.OutputsClosed() {
			t.Fatalf("pending %d, outputs closed %v: want the outputs closed once nothing is held", f.Pending(), f.OutputsClosed())
		}
	})
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, cfgFallback)
	// Input 1: primary nacks, the backup stands in and acks.
	id1 := f.send()
	f.Nack(f.one("primary"), transient("503"))
	f.Ack(f.one("backup"))
	f.Ack(f.one("analytics"))
	f.RequireAcked(id1)
	// Input 2: primary times out and answers late, the backup nacks for
	// good, analytics nacks.
	id2 := f.send()
	p := f.one("primary")
	f.Advance(5 * time.Second)
	f.Ack(p)
	f.Nack(f.one("backup"), pdata.Nack{Reason: "bad", Permanent: true, Cause: pdata.CauseCapacity})
	f.Nack(f.one("analytics"), transient("x"))
	f.nackOf(id2)
	// Input 3: primary acks, its fallback is skipped.
	id3 := f.send()
	f.Ack(f.one("primary"))
	f.Ack(f.one("analytics"))
	f.RequireAcked(id3)

	for _, m := range []struct {
		name, dest string
		want       float64
	}{
		{"sent_total", "primary", 3}, {"acked_total", "primary", 1}, {"nacked_total", "primary", 1},
		{"timed_out_total", "primary", 1}, {"late_answers_total", "primary", 1},
		{"sent_total", "backup", 2}, {"acked_total", "backup", 1}, {"nacked_total", "backup", 1},
		{"timed_out_total", "backup", 0}, {"late_answers_total", "backup", 0},
		{"sent_total", "analytics", 3}, {"acked_total", "analytics", 2}, {"nacked_total", "analytics", 1},
		{"queued", "analytics", 0},
	} {
		f.requireMetric(m.want, m.name, "destination", m.dest)
	}
	f.requireMetric(1, "skipped_total", "destination", "backup", "reason", "origin_acked")
	f.requireMetric(0, "skipped_total", "destination", "backup", "reason", "shutdown")
	f.requireMetric(2, "upstream_acks_total")
	f.requireMetric(1, "upstream_nacks_total", "cause", "capacity")
	f.requireMetric(0, "upstream_nacks_total", "cause", "timeout")
	f.requireMetric(0, "active_requests")
	f.requireMetric(0, "trailing_requests")
	f.requireMetric(10000, "max_inflight")
	f.requireMetric(10000, "max_trailing")
	f.requireMetric(0, "abandoned_total", "destination", "analytics", "reason", "trailing_limit")
	f.requireMetric(0, "throttled")
	f.requireMetric(0, "throttle_episodes_total")
}
