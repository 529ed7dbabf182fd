package engine_test

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ackflow/ackflow/engine"
	"github.com/ackflow/ackflow/engine/wakeup"
	"github.com/ackflow/ackflow/pdata"
	"github.com/ackflow/ackflow/pdata/pdatatest"
)

// recorder is a processor that logs what its inbox delivers and runs a
// test-provided reaction to each event.
type recorder struct {
	mu     sync.Mutex
	events []string
	slots  int
	onData func(m *pdata.Message, fx engine.Effects)
	onCtl  func(c engine.Control, fx engine.Effects)
}

func (r *recorder) WakeupSlots() int { return r.slots }

func (r *recorder) log(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) OnPData(m *pdata.Message, fx engine.Effects) error {
	r.log("pdata")
	if r.onData != nil {
		r.onData(m, fx)
		return nil
	}
	fx.NotifyAck(m)
	return nil
}

func (r *recorder) OnControl(c engine.Control, fx engine.Effects) error {
	switch c.Kind {
	case engine.KindPosted:
		r.log("posted:" + c.Value.(string))
	case engine.KindWakeup:
		r.log("wakeup")
	default:
		r.log(c.Kind.String())
	}
	if r.onCtl != nil {
		r.onCtl(c, fx)
	}
	return nil
}

const singleYAML = `
version: otel_dataflow/v1
policies:
  channel_capacity: { pdata: 16 }
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          rec: { type: exporter:test }
        connections:
          - { from: src, to: rec }
`

func runRecorder(t *testing.T, r *recorder) *testbed {
	tb := newTestbed(t, singleYAML, map[string]engine.Processor{"rec": r}, engine.Options{})
	tb.eng.Start()
	return tb
}

// burstBehindTheFirst runs r in a pipeline where its first message waits
// until a second one is queued behind it, then calls burst, which gives
// the node control to handle, and both messages are acked. It returns the
// events r saw and the position of the last pdata event after the first
// one (-1 when there is none).
func burstBehindTheFirst(t *testing.T, r *recorder, burst func(fx engine.Effects)) (ev []string, second int) {
	first := true
	proceed := make(chan struct{})
	r.onData = func(m *pdata.Message, fx engine.Effects) {
		if first {
			first = false
			<-proceed // until the second message waits in the channel
			burst(fx)
		}
		fx.NotifyAck(m)
	}
	tb := runRecorder(t, r)
	src := tb.source("src")
	src.feed <- pdatatest.Msg(pdatatest.Logs(1))
	src.feed <- pdatatest.Msg(pdatatest.Logs(1))
	synctest.Wait()
	close(proceed)
	synctest.Wait()
	ev = r.Events()
	second = -1
	for i, e := range ev[1:] {
		if e == "pdata" {
			second = i + 1
		}
	}
	tb.shutdown()
	return ev, second
}

func TestInboxFairnessLetsPDataThroughAfter32Controls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev, second := burstBehindTheFirst(t, &recorder{}, func(fx engine.Effects) {
			for range 40 {
				fx.Post("c")
			}
		})
		if second < 0 || second > 33 {
			t.Fatalf("second pdata delivered at position %d of %v, want after at most 32 controls", second, ev)
		}
		if len(ev) != 42 {
			t.Fatalf("%d events, want 42 (2 pdata + 40 posted): nothing lost", len(ev))
		}
	})
}

func TestDueWakeupsCountTowardTheFairnessCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev, second := burstBehindTheFirst(t, &recorder{slots: 40}, func(fx engine.Effects) {
			for i := range 40 {
				fx.SetWakeup(wakeup.Slot(i), fx.Now()) // all due at once
			}
		})
		if second < 0 || second > 33 || len(ev) != 42 {
			t.Fatalf("second pdata at position %d of %d events %v: want it after at most 32 wakeups, nothing lost", second, len(ev), ev)
		}
	})
}

func TestInboxDeliversDueWakeupsAfterBufferedControl(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{slots: 2}
		var revs []wakeup.Revision
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			rev, _, err := fx.SetWakeup(1, fx.Now()) // due at once
			if err != nil {
				t.Errorf("SetWakeup: %v", err)
			}
			revs = append(revs, rev)
			fx.Post("buffered")
			fx.NotifyAck(m)
		}
		tb := runRecorder(t, r)
		tb.source("src").feed <- pdatatest.Msg(pdatatest.Logs(1))
		synctest.Wait()
		want := []string{"pdata", "posted:buffered", "wakeup"}
		if got := r.Events(); !equal(got, want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		tb.shutdown()
	})
}

func TestWakeupsFireAtTheirDeadlineThroughTheInbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{slots: 3}
		start := time.Now()
		var fired []time.Duration
		var rev2 wakeup.Revision
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			now := fx.Now()
			fx.SetWakeup(1, now.Add(3*time.Second))
			fx.SetWakeup(2, now.Add(time.Second))
			rev2, _, _ = fx.SetWakeup(2, now.Add(2*time.Second)) // replace: moves it later
			fx.SetWakeup(3, now.Add(time.Second))
			if !fx.CancelWakeup(3) || fx.CancelWakeup(3) {
				t.Error("cancel should remove once, then miss")
			}
			if _, _, err := fx.SetWakeup(4, now); err != nil {
				t.Errorf("fourth slot with capacity 3 after a cancel: %v", err)
			}
			if _, _, err := fx.SetWakeup(5, now); !errors.Is(err, wakeup.ErrCapacity) {
				t.Errorf("fifth live slot: err %v, want ErrCapacity", err)
			}
			fx.NotifyAck(m)
		}
		r.onCtl = func(c engine.Control, fx engine.Effects) {
			if c.Kind == engine.KindWakeup {
				fired = append(fired, time.Since(start))
				if c.Wakeup.Slot == 2 && c.Wakeup.Revision != rev2 {
					t.Errorf("slot 2 fired with revision %d, want the replacement's %d", c.Wakeup.Revision, rev2)
				}
			}
		}
		tb := runRecorder(t, r)
		tb.source("src").feed <- pdatatest.Msg(pdatatest.Logs(1))
		time.Sleep(10 * time.Second) // fake time inside the bubble
		synctest.Wait()
		want := []time.Duration{0, 2 * time.Second, 3 * time.Second}
		if len(fired) != 3 || fired[0] != want[0] || fired[1] != want[1] || fired[2] != want[2] {
			t.Fatalf("wakeups fired at %v, want %v", fired, want)
		}
		tb.shutdown()
	})
}

func TestWakeupUnsupportedWithoutDeclaredSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		var err error
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			_, _, err = fx.SetWakeup(1, fx.Now())
			fx.NotifyAck(m)
		}
		tb := runRecorder(t, r)
		tb.source("src").feed <- pdatatest.Msg(pdatatest.Logs(1))
		synctest.Wait()
		if !errors.Is(err, wakeup.ErrUnsupported) {
			t.Fatalf("err = %v, want ErrUnsupported", err)
		}
		tb.shutdown()
	})
}

func TestRequeueLaterResumesAtItsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		start := time.Now()
		var resumedAfter time.Duration
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			if err := fx.RequeueLater(fx.Now().Add(1500*time.Millisecond), m); err != nil {
				t.Errorf("RequeueLater: %v", err)
			}
		}
		r.onCtl = func(c engine.Control, fx engine.Effects) {
			if c.Kind == engine.KindResume {
				resumedAfter = time.Since(start)
				fx.NotifyAck(c.Msg)
			}
		}
		tb := runRecorder(t, r)
		tb.source("src").feed <- pdatatest.Msg(pdatatest.Logs(1))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if resumedAfter != 1500*time.Millisecond {
			t.Fatalf("resumed after %v, want 1.5s", resumedAfter)
		}
		if acked, _, _ := tb.source("src").counts(); acked != 1 {
			t.Fatal("resumed message was not acked")
		}
		tb.shutdown()
	})
}

func TestRequeueLaterRejectionReturnsTheData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		var rejected int
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			if err := fx.RequeueLater(fx.Now().Add(time.Hour), m); err != nil {
				rejected++
				fx.NotifyNack(m, pdata.Nack{Reason: err.Error(), Cause: pdata.CauseCapacity})
			}
		}
		r.onCtl = func(c engine.Control, fx engine.Effects) {
			if c.Kind == engine.KindResume {
				fx.NotifyAck(c.Msg)
			}
		}
		tb := runRecorder(t, r) // resume capacity = pdata capacity = 16
		for range 20 {
			tb.source("src").feed <- pdatatest.Msg(pdatatest.Logs(1))
		}
		synctest.Wait()
		if rejected != 4 {
			t.Fatalf("%d requeues rejected, want 4 beyond the capacity of 16", rejected)
		}
		// At shutdown the 16 pending resumes become due at once.
		start := time.Now()
		tb.shutdown()
		if time.Since(start) != 0 {
			t.Fatalf("shutdown waited %v for resumes due in an hour, want them due at once", time.Since(start))
		}
		if acked, nacked, _ := tb.source("src").counts(); acked != 16 || nacked != 4 {
			t.Fatalf("acked=%d nacked=%d, want 16 resumed at shutdown and 4 rejected", acked, nacked)
		}
	})
}

func TestWakeupsDroppedWhenOutputsClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{slots: 2}
		var duringShutdown error
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			fx.SetWakeup(1, fx.Now().Add(time.Hour))
			fx.NotifyAck(m)
		}
		r.onCtl = func(c engine.Control, fx engine.Effects) {
			if c.Kind == engine.KindShutdown {
				_, _, duringShutdown = fx.SetWakeup(2, fx.Now().Add(time.Hour))
			}
		}
		tb := runRecorder(t, r)
		tb.source("src").feed <- pdatatest.Msg(pdatatest.Logs(1))
		synctest.Wait()
		tb.shutdown()
		if duringShutdown != nil {
			t.Fatalf("SetWakeup while handling Shutdown: %v, want it accepted (the node may still hold work)", duringShutdown)
		}
		cleared := -1.0
		for _, s := range tb.registry.Snapshot() {
			if s.Name == "ackflow_wakeup_cleared_at_shutdown_total" {
				cleared = s.Value
			}
		}
		if cleared != 2 {
			t.Fatalf("cleared_at_shutdown = %v, want both pending wakeups dropped when the outputs closed", cleared)
		}
		for _, e := range r.Events() {
			if e == "wakeup" {
				t.Fatal("a wakeup fired after the node's outputs closed")
			}
		}
	})
}

// holder keeps every message until its wakeup, and counts as pending: like
// a fan-out waiting for a primary's timeout to send to the fallback.
type holder struct {
	mu   sync.Mutex
	held []*pdata.Message
}

func (h *holder) WakeupSlots() int { return 1 }

func (h *holder) Pending() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

func (h *holder) OnPData(m *pdata.Message, fx engine.Effects) error {
	h.mu.Lock()
	h.held = append(h.held, m)
	h.mu.Unlock()
	_, _, err := fx.SetWakeup(1, fx.Now().Add(time.Second))
	return err
}

func (h *holder) OnControl(c engine.Control, fx engine.Effects) error {
	if c.Kind != engine.KindWakeup && !(c.Kind == engine.KindShutdown && c.Forced) {
		return nil
	}
	h.mu.Lock()
	held := h.held
	h.held = nil
	h.mu.Unlock()
	for _, m := range held {
		if err := fx.Send(m); err != nil {
			fx.NotifyNack(m, pdata.Nack{Reason: err.Error(), Cause: pdata.CauseNodeShutdown})
		}
	}
	return nil
}

func TestNodeHoldingWorkAfterShutdownStillGetsWakeupsAndSends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := newSink()
		tb := newTestbed(t, `
version: otel_dataflow/v1
groups:
  g:
    pipelines:
      p:
        nodes:
          src: { type: receiver:test_source }
          h: { type: processor:test }
          out: { type: exporter:test }
        connections:
          - { from: src, to: h }
          - { from: h, to: out }
`, map[string]engine.Processor{"h": &holder{}, "out": out}, engine.Options{})
		tb.eng.Start()
		feed(t, tb.source("src"), 3, 1)
		synctest.Wait()
		start := time.Now()
		tb.shutdown() // Shutdown reaches h at once; its wakeup is a second away
		if waited := time.Since(start); waited != time.Second {
			t.Fatalf("drain took %v, want the holder's 1s wakeup", waited)
		}
		if acked, nacked, _ := tb.source("src").counts(); acked != 3 || nacked != 0 || out.received() != 3 {
			t.Fatalf("acked=%d nacked=%d delivered=%d: data sent after Shutdown must still be delivered", acked, nacked, out.received())
		}
	})
}

func TestPeriodicTimerTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			fx.StartTimer(time.Second)
			fx.NotifyAck(m)
		}
		tb := runRecorder(t, r)
		tb.source("src").feed <- pdatatest.Msg(pdatatest.Logs(1))
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		ticks := 0
		for _, e := range r.Events() {
			if e == "timer_tick" {
				ticks++
			}
		}
		if ticks != 3 {
			t.Fatalf("%d ticks in 3.5s of a 1s timer, want 3", ticks)
		}
		tb.shutdown()
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// idleRecorder is a recorder that is an engine.Idler.
type idleRecorder struct{ *recorder }

func (r idleRecorder) OnIdle(engine.Effects) error {
	r.log("idle")
	return nil
}

func TestIdlerGetsOnIdleWhenABurstEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		proceed := make(chan struct{})
		first := true
		r.onData = func(m *pdata.Message, fx engine.Effects) {
			if first {
				first = false
				<-proceed // until the next two messages wait in the channel
			}
			fx.NotifyAck(m)
		}
		tb := newTestbed(t, singleYAML, map[string]engine.Processor{"rec": idleRecorder{r}}, engine.Options{})
		tb.eng.Start()
		src := tb.source("src")
		src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		synctest.Wait()
		src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		synctest.Wait()
		close(proceed)
		synctest.Wait()
		src.feed <- pdatatest.Msg(pdatatest.Logs(1))
		synctest.Wait()
		want := []string{"pdata", "pdata", "pdata", "idle", "pdata", "idle"}
		if ev := r.Events(); !equal(ev, want) {
			t.Fatalf("events %v, want %v: one idle per burst, after its last message", ev, want)
		}
		tb.shutdown()
	})
}
