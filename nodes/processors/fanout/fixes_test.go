package fanout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/pdata"
)

// The four fixes over the reference engine (issue 5).

// Fix 1: sequential + primary, a non-primary destination fails with no
// fallback: the sequence moves on instead of stalling the request forever.
func TestFix1SequentialMovesOnAfterNonPrimaryFailure(t *testing.T) {
	cfg := `
mode: sequential
destinations:
  - { port: analytics, timeout: 1s }
  - { port: primary, primary: true }
  - { port: backup }`
	for _, tc := range []struct {
		name string
		fail func(f *fixture, c *pdata.Message)
	}{
		{"nack", func(f *fixture, c *pdata.Message) { f.Nack(c, transient("analytics down")) }},
		{"timeout", func(f *fixture, _ *pdata.Message) { f.Advance(time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, cfg)
			id := f.send()
			a := f.one("analytics")
			f.none("primary", "backup")
			tc.fail(f, a)
			f.quiet() // a non-primary failure does not decide the outcome
			f.Ack(f.one("primary"))
			f.RequireAcked(id)
			f.Ack(f.one("backup"))
			if f.Pending() != 0 {
				t.Fatalf("pending %d", f.Pending())
			}
		})
	}
}

// Fix 2: sequential + primary, after the primary chain resolved and
// upstream was answered, the remaining destinations are still sent in
// order. The answered input no longer counts toward max_inflight (it is on
// the trail, bounded by max_trailing), so the next input goes in at once.
func TestFix2SequentialContinuesAfterUpstreamAnswered(t *testing.T) {
	f := newFixture(t, "max_inflight: 1\n"+cfgSeqPrimary)
	id1 := f.send()
	f.Ack(f.one("primary"))
	f.RequireAcked(id1)
	b := f.one("backup")
	id2 := f.send()
	if f.Queued() != 0 || f.Pending() != 1 {
		t.Fatalf("queued %d, pending %d: the answered input must free its max_inflight slot", f.Queued(), f.Pending())
	}
	f.requireMetric(1, "active_requests")
	f.requireMetric(1, "trailing_requests")
	p2 := f.one("primary")
	f.Nack(b, transient("backup down")) // a failure after the answer moves on too
	a := f.one("analytics")
	f.none("primary")
	f.Ack(a)
	f.quiet() // exactly one outcome for input 1
	f.requireMetric(0, "trailing_requests")
	f.Ack(p2)
	f.RequireAcked(id2)
}

// Fix 3: a fallback is never sent as an ordinary next destination, whatever
// the config order.
func TestFix3FallbackNeverSentAsNextDestination(t *testing.T) {
	const dests = `
destinations:
  - { port: backup, fallback_for: primary }
  - { port: primary, primary: true }
  - { port: analytics }`
	t.Run("sequential", func(t *testing.T) {
		f := newFixture(t, "mode: sequential\nawait_ack: all\n"+dests)
		id := f.send()
		f.none("backup", "analytics")
		f.Ack(f.one("primary"))
		f.none("backup")
		f.Ack(f.one("analytics"))
		f.RequireAcked(id)
		f.none("backup")
		f.requireMetric(0, "sent_total", "destination", "backup")
		f.requireMetric(1, "skipped_total", "destination", "backup", "reason", "origin_acked")
	})
	t.Run("sequential, origin fails", func(t *testing.T) {
		f := newFixture(t, "mode: sequential\nawait_ack: all\n"+dests)
		id := f.send()
		f.Nack(f.one("primary"), transient("x"))
		f.none("analytics") // the chain is not done: its fallback comes first
		f.Ack(f.one("backup"))
		f.Ack(f.one("analytics"))
		f.RequireAcked(id)
	})
	t.Run("parallel", func(t *testing.T) {
		f := newFixture(t, "await_ack: all\n"+dests)
		id := f.send()
		f.none("backup")
		f.Ack(f.one("primary"))
		f.Ack(f.one("analytics"))
		f.RequireAcked(id)
		f.none("backup")
	})
}

// Fix 4: the permanent flag and the cause of the deciding failure reach
// upstream on every path (the reference drops them on its full path).
func TestFix4NackKeepsPermanentAndCause(t *testing.T) {
	down := pdata.Nack{Reason: "schema rejected", Permanent: true, Cause: pdata.CauseCapacity}
	tests := []struct {
		name string
		cfg  string
		// run plays downstream until the input's outcome is decided.
		run  func(f *fixture)
		want pdata.Nack // Reason: substring
	}{
		{"slim primary", cfgSlim,
			func(f *fixture) { f.Nack(f.one("primary"), down) },
			pdata.Nack{Reason: `"primary": schema rejected`, Permanent: true, Cause: pdata.CauseCapacity}},
		{"full primary, fallback decides", cfgFallback,
			func(f *fixture) {
				f.Nack(f.one("primary"), transient("first"))
				f.Nack(f.one("backup"), down)
			},
			pdata.Nack{Reason: `"backup" (fallback for "primary"): schema rejected`, Permanent: true, Cause: pdata.CauseCapacity}},
		{"full primary, timeout", cfgFallback,
			func(f *fixture) {
				f.Advance(5 * time.Second)
				f.Advance(10 * time.Second)
			},
			pdata.Nack{Reason: "no outcome within 10s", Cause: pdata.CauseTimeout}},
		{"parallel all", cfgAll,
			func(f *fixture) { f.Nack(f.one("analytics"), down) },
			pdata.Nack{Reason: `"analytics": schema rejected`, Permanent: true, Cause: pdata.CauseCapacity}},
		{"sequential primary", cfgSeqPrimary,
			func(f *fixture) { f.Nack(f.one("primary"), down) },
			pdata.Nack{Reason: `"primary": schema rejected`, Permanent: true, Cause: pdata.CauseCapacity}},
		{"sequential all", cfgSeqAll,
			func(f *fixture) {
				f.Ack(f.one("primary"))
				f.Nack(f.one("backup"), down)
			},
			pdata.Nack{Reason: `"backup": schema rejected`, Permanent: true, Cause: pdata.CauseCapacity}},
		{"transient stays transient", cfgAll,
			func(f *fixture) { f.Nack(f.one("primary"), pdata.Nack{Reason: "busy", Cause: pdata.CauseRouteFull}) },
			pdata.Nack{Reason: `"primary": busy`, Cause: pdata.CauseRouteFull}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.cfg)
			id := f.send()
			tt.run(f)
			got := f.nackOf(id)
			if got.Permanent != tt.want.Permanent || got.Cause != tt.want.Cause || !strings.Contains(got.Reason, tt.want.Reason) {
				t.Fatalf("upstream nack %v, want %v", got, tt.want)
			}
			if !strings.HasPrefix(got.Reason, "fanout: destination ") {
				t.Fatalf("reason %q does not name the destination", got.Reason)
			}
			f.requireMetric(1, "upstream_nacks_total", "cause", tt.want.Cause.String())
		})
	}
}
