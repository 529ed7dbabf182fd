package fanout

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/nodetest"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

var ports = []string{"primary", "backup", "analytics"}

// checkInvariants verifies the full path's bookkeeping between two calls:
// open counts match destination states, deadline lists are sorted, doubly
// linked and hold exactly the linked copies, the backlog count matches the
// queues, the owed count matches the open requests, and the trail holds
// exactly the answered requests, within max_trailing (none after
// Shutdown), oldest first.
func checkInvariants(p *processor) error {
	linked, owed, answered := 0, 0, 0
	var err error
	p.full.each(func(slot uint32) {
		r := p.full.at(slot)
		if r.phase == phaseOpen {
			owed++
		} else {
			answered++
			if !r.onTrail && err == nil {
				err = fmt.Errorf("request %d answered (%s) but not on the trail", slot, r.phase)
			}
		}
		open := 0
		for d, ds := range r.dests {
			if ds.state == destQueued || ds.state == destSent {
				open++
			}
			if ds.linked {
				linked++
				if ds.state != destQueued && ds.state != destSent {
					err = fmt.Errorf("request %d dest %d linked in state %s", slot, d, ds.state)
				}
			}
		}
		if open != r.open && err == nil {
			err = fmt.Errorf("request %d: open %d, %d copies queued or sent", slot, r.open, open)
		}
		if r.phase == phaseOpen && r.orig == nil && err == nil {
			err = fmt.Errorf("request %d open without its original", slot)
		}
	})
	if err != nil {
		return err
	}
	if owed != p.fullOwed {
		return fmt.Errorf("fullOwed %d, %d open requests", p.fullOwed, owed)
	}
	if err := checkTrail(p, answered); err != nil {
		return err
	}
	if linked != p.dl.count {
		return fmt.Errorf("deadline count %d, %d copies linked", p.dl.count, linked)
	}
	walked := 0
	for d, l := range p.dl.lists {
		prev := int32(-1)
		var last time.Time
		for cur := l.head; cur >= 0; {
			ds := p.full.at(uint32(cur)).dests[d]
			if !ds.linked || ds.prev != prev {
				return fmt.Errorf("dest %d list broken at request %d", d, cur)
			}
			if prev >= 0 && ds.deadline.Before(last) {
				return fmt.Errorf("dest %d list unsorted at request %d", d, cur)
			}
			last, prev = ds.deadline, cur
			cur = ds.next
			walked++
		}
		if l.tail != prev {
			return fmt.Errorf("dest %d tail %d, last walked %d", d, l.tail, prev)
		}
	}
	if walked != p.dl.count {
		return fmt.Errorf("walked %d deadlines, count %d", walked, p.dl.count)
	}
	q := 0
	for d := range p.backlog {
		q += p.backlog[d].len()
	}
	if q != p.queued {
		return fmt.Errorf("queued %d, backlogs hold %d", p.queued, q)
	}
	return nil
}

// checkTrail walks the trail: doubly linked, answered requests only, as
// many as there are answered requests, within the bound.
func checkTrail(p *processor, answered int) error {
	limit := p.pl.maxTrailing
	if p.life != lifeRunning {
		limit = 0
	}
	if p.trail.count != answered || p.trail.count > limit {
		return fmt.Errorf("trail count %d, %d answered requests, bound %d (%s)", p.trail.count, answered, limit, p.life)
	}
	n, prev := 0, int32(-1)
	for cur := p.trail.head; cur >= 0; cur = p.full.at(uint32(cur)).trailNext {
		r := p.full.at(uint32(cur))
		if !r.onTrail || r.trailPrev != prev || r.phase == phaseOpen || r.open == 0 {
			return fmt.Errorf("trail broken at request %d: on %v prev %d (want %d) phase %s open %d",
				cur, r.onTrail, r.trailPrev, prev, r.phase, r.open)
		}
		prev = cur
		n++
	}
	if n != p.trail.count || p.trail.tail != prev {
		return fmt.Errorf("trail walked %d, count %d, tail %d, last %d", n, p.trail.count, p.trail.tail, prev)
	}
	return nil
}

// TestRandomWalk drives every configuration shape with random inputs,
// acks, nacks, clock steps and full outputs, checking the invariants after
// each step, and at the end that every input got exactly one outcome.
func TestRandomWalk(t *testing.T) {
	cfgs := []string{
		"destinations: [{port: primary}, {port: backup}, {port: analytics}]",
		"max_inflight: 5\ndestinations: [{port: primary, timeout: 2s}, {port: backup, fallback_for: primary, timeout: 3s}, {port: analytics, timeout: 1s}]",
		"await_ack: all\nmax_inflight: 7\ndestinations: [{port: primary, timeout: 2s}, {port: backup, timeout: 1s}, {port: analytics}]",
		"mode: sequential\ndestinations: [{port: analytics, timeout: 1s}, {port: primary, primary: true, timeout: 2s}, {port: backup, fallback_for: primary}]",
		"mode: sequential\nawait_ack: all\ndestinations: [{port: backup, fallback_for: analytics, timeout: 1s}, {port: primary, primary: true}, {port: analytics, timeout: 2s}]",
		"await_ack: all\ndestinations: [{port: primary}, {port: backup, fallback_for: primary}, {port: analytics, fallback_for: backup, timeout: 500ms}]",
		"max_trailing: 2\ndestinations: [{port: primary, timeout: 2s}, {port: backup}, {port: analytics, fallback_for: backup}]",
		"mode: sequential\nmax_trailing: 0\ndestinations: [{port: primary}, {port: backup, timeout: 1s}, {port: analytics}]",
	}
	for ci, cfg := range cfgs {
		for seed := range uint64(20) {
			t.Run(fmt.Sprintf("cfg%d/seed%d", ci, seed), func(t *testing.T) {
				randomWalk(t, cfg, seed, seed%2 == 1)
			})
		}
	}
}

// randomWalk runs 300 random steps; with shutdown, the node gets Shutdown
// halfway and the walk goes on without new inputs.
func randomWalk(t *testing.T, cfg string, seed uint64, shutdown bool) {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := nodetest.New(t, NewFactory(), cfg, nodetest.WithOutputs(ports...), nodetest.WithPortCapacity(1+rng.IntN(4)))
	p := h.Node.(*processor)
	outcomes := map[uint64]int{}
	var sent []uint64
	var held []*pdata.Message // copies taken from the outputs, not answered yet
	record := func() {
		for _, o := range h.TakeUpstream() {
			outcomes[o.ID]++
			if outcomes[o.ID] > 1 {
				t.Fatalf("input %d answered twice", o.ID)
			}
		}
	}
	step := func(final bool) {
		switch k := rng.IntN(10); {
		case k < 3 && !final:
			sent = append(sent, h.SendPData(pdatatest.Msg(pdatatest.Logs(1))))
		case k < 5:
			for _, port := range ports {
				held = append(held, h.TakeSent(port)...)
			}
		case k < 8 && len(held) > 0:
			i := rng.IntN(len(held))
			m := held[i]
			held = append(held[:i], held[i+1:]...)
			if rng.IntN(4) == 0 {
				h.Nack(m, pdata.Nack{Reason: "random", Permanent: rng.IntN(2) == 0})
			} else {
				h.Ack(m)
			}
		default:
			h.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
		}
		record()
		if err := checkInvariants(p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if shutdown && i == 150 {
			h.Shutdown(h.Clock.Now().Add(time.Hour))
			record()
			if err := checkInvariants(p); err != nil {
				t.Fatal(err)
			}
		}
		step(shutdown && i >= 150)
	}
	// Let everything resolve: answer what is out there, let time pass.
	for i := 0; h.Pending() > 0 || h.Queued() > 0 || len(held) > 0 || p.full.live > 0; i++ {
		if i > 10000 {
			t.Fatalf("does not converge: pending %d, queued %d, held %d", h.Pending(), h.Queued(), len(held))
		}
		step(true)
	}
	for _, id := range sent {
		if outcomes[id] != 1 {
			t.Fatalf("input %d answered %d times", id, outcomes[id])
		}
	}
	if p.owed() != 0 || p.dl.count != 0 || p.full.live != 0 || p.trail.count != 0 {
		t.Fatalf("owed %d, deadlines %d, tracked %d, trail %d", p.owed(), p.dl.count, p.full.live, p.trail.count)
	}
	if shutdown && !h.OutputsClosed() {
		t.Fatal("nothing owed after Shutdown, but the outputs are still open")
	}
}

// A wakeup delivery whose revision is not the current arming is ignored.
func TestStaleWakeupIgnored(t *testing.T) {
	h := nodetest.New(t, NewFactory(), "destinations: [{port: primary, timeout: 5s}]", nodetest.WithOutputs(ports...))
	p := h.Node.(*processor)
	id := h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	cur := p.dl.wake
	at, rev, armed := cur.When()
	if !armed {
		t.Fatal("timeout wakeup not armed")
	}
	h.FireWakeup(slotTimeout, at, rev+1) // not ours
	h.FireWakeup(slotTimeout, at, rev-1)
	h.FireWakeup(slotRetry, at, rev) // slot not armed
	if p.dl.wake != cur {
		t.Fatalf("stale wakeup changed the arming: %+v -> %+v", cur, p.dl.wake)
	}
	if got := h.TakeUpstream(); len(got) != 0 {
		t.Fatalf("upstream %v", got)
	}
	h.Advance(5 * time.Second)
	if got := h.RequireNacked(id); got[0].Nack.Cause != pdata.CauseTimeout {
		t.Fatalf("nack %v", got[0].Nack)
	}
}

// Outcomes carrying call data the node never issued are ignored.
func TestForeignCallData(t *testing.T) {
	h := nodetest.New(t, NewFactory(), "destinations: [{port: primary, timeout: 5s}]", nodetest.WithOutputs(ports...))
	for _, cd := range []pdata.CallData{{0, 0, 9}, {1 << 40, 0, 0}, {7, 3, 0}} {
		h.Control(engine.Control{Kind: engine.KindAck, CallData: cd})
	}
	if got := h.TakeUpstream(); len(got) != 0 {
		t.Fatalf("upstream %v", got)
	}
}

func TestSlabGenerations(t *testing.T) {
	var s slab[int]
	a, ga := s.alloc()
	s.release(a)
	b, gb := s.alloc()
	if a != b || ga == gb {
		t.Fatalf("index %d gen %d reused as %d gen %d", a, ga, b, gb)
	}
	if _, ok := s.lookup(a, ga); ok {
		t.Fatal("old generation still found")
	}
	if _, ok := s.lookup(b, gb); !ok || s.live != 1 {
		t.Fatal("live entry not found")
	}
	if _, ok := s.lookup(99, 0); ok {
		t.Fatal("out of range found")
	}
}

func TestStateNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{destQueued.String(), "queued"}, {destTimedOut.String(), "timed_out"}, {destState(99).String(), "dest(99)"},
		{phaseNacked.String(), "nacked"}, {reqPhase(9).String(), "phase(9)"},
		{pathSlim.String(), "slim_primary"}, {path(9).String(), "path(9)"},
		{skipShutdown.String(), "shutdown"}, {skipReason(9).String(), "skip(?)"},
		{skipTrailingLimit.String(), "trailing_limit"}, {dropTrailingLimit.String(), "trailing_limit"},
		{dropShutdown.String(), "shutdown"}, {dropReason(9).String(), "drop(?)"},
		{lifeClosing.String(), "closing"}, {life(9).String(), "life(9)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestSendFailureCauses(t *testing.T) {
	p := newCore(newPlan(Config{Mode: ModeParallel, AwaitAck: AwaitAll, Destinations: []Destination{{Port: "primary"}}}),
		newMetrics(nil, nil, &plan{}), nil)
	for _, tt := range []struct {
		err  error
		want pdata.Cause
	}{
		{engine.ErrClosed, pdata.CauseRouteClosed},
		{fmt.Errorf("%w %q", engine.ErrUnknownPort, "x"), pdata.CauseRouteClosed},
		{engine.ErrAborted, pdata.CauseNodeShutdown},
		{engine.ErrFull, pdata.CauseRouteFull},
		{fmt.Errorf("other"), pdata.CauseUnspecified},
	} {
		n := p.sendFailure(0, tt.err)
		if n.Cause != tt.want || n.Permanent || n.Reason != `fanout: destination "primary": send: `+tt.err.Error() {
			t.Errorf("%v: got %v", tt.err, n)
		}
	}
}

// A best-effort destination the sequential primary waits for, without a
// timeout, is accepted but warned about at build time.
func TestStallsPrimaryWarning(t *testing.T) {
	tests := []struct {
		name, cfg string
		want      []string // ports warned about
	}{
		{"before the primary, no timeout", "mode: sequential\ndestinations: [{port: analytics}, {port: primary, primary: true}]", []string{"analytics"}},
		{"its fallback too", "mode: sequential\ndestinations: [{port: analytics, timeout: 1s}, {port: backup, fallback_for: analytics}, {port: primary, primary: true}]", []string{"backup"}},
		{"with a timeout", "mode: sequential\ndestinations: [{port: analytics, timeout: 1s}, {port: primary, primary: true}]", nil},
		{"after the primary", "mode: sequential\ndestinations: [{port: primary, primary: true}, {port: analytics}]", nil},
		{"await all waits for every one anyway", "mode: sequential\nawait_ack: all\ndestinations: [{port: analytics}, {port: primary}]", nil},
		{"parallel", "destinations: [{port: analytics}, {port: primary, primary: true}]", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := nodetest.NodeConfig(Type, tt.cfg, ports)
			if err != nil {
				t.Fatal(err)
			}
			var buf strings.Builder
			nc := engine.NodeContext{Node: n, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
			if _, err := NewFactory().NewProcessor(nc); err != nil {
				t.Fatal(err)
			}
			var got []string
			for line := range strings.Lines(buf.String()) {
				if _, after, ok := strings.Cut(line, "destination="); ok {
					got = append(got, strings.Fields(after)[0])
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("warned about %v, want %v\n%s", got, tt.want, buf.String())
			}
		})
	}
}

// The status names each destination with its counts and its health:
// failing after a nack or a timeout, ok again after an ack.
func TestStatusReportsDestinationHealth(t *testing.T) {
	h := nodetest.New(t, NewFactory(), "destinations: [{port: primary, timeout: 5s}, {port: backup}]", nodetest.WithOutputs(ports...))
	p := h.Node.(*processor)
	dest := func(i int) map[string]any {
		t.Helper()
		return p.Status()["destinations"].([]any)[i].(map[string]any)
	}
	if d := dest(0); d["port"] != "primary" || d["health"] != "ok" {
		t.Fatalf("before traffic: %v", d)
	}
	h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	h.Nack(h.RequireSent("primary", 1)[0], pdata.Nack{Reason: "down"})
	h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	h.RequireSent("primary", 1)
	h.Advance(5 * time.Second) // timed out
	if d := dest(0); d["health"] != "failing: 2 failures since its last ack" || d["nacked"] != uint64(1) || d["timed_out"] != uint64(1) {
		t.Fatalf("after a nack and a timeout: %v", d)
	}
	h.SendPData(pdatatest.Msg(pdatatest.Logs(1)))
	h.Ack(h.RequireSent("primary", 1)[0])
	if d := dest(0); d["health"] != "ok" || d["acked"] != uint64(1) {
		t.Fatalf("after an ack: %v", d)
	}
}
